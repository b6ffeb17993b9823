"""Search spaces of the RBM family for keras-tuner: one RBM, and a deep belief network.

Both train on numpy arrays of examples in [0, 1] (Bernoulli visibles) or real values
(Gaussian visibles), and need validation data: an RBM's objective is measured on it by
`zoo.callbacks.RBMMonitor`, a DBN's classifier is scored on it.
"""

import keras
import keras_tuner
import numpy as np

import zoo
from zoo import training
from zoo._checks import MAX_UNITS, check_choice, check_int, check_shape
from zoo.callbacks import MomentumSchedule, RBMMonitor
from zoo.hyper._common import (
    ZooHyperModel,
    as_array,
    split_off_validation,
    validation_array,
)
from zoo.likelihood import pseudo_log_likelihood
from zoo.models.rbm import (
    VISIBLE_UNITS,
    _adapt_standardization,  # what pretrain does first; zoo.models.rbm has no public name
    check_visible_data,
    dbn_classifier,
    pretrain,
)

RBM_OBJECTIVES = {
    "reconstruction_error": keras_tuner.Objective("val_reconstruction_error", "min"),
    "pseudo_log_likelihood": keras_tuner.Objective("val_pseudo_log_likelihood", "max"),
}
MONITOR_EXAMPLES = 2000  # rows of the training and validation data the monitors measure
MOMENTUM_SWITCH_EPOCH = 5  # the practical guide's (and the RBM recipes'): 0.5, then 0.9
RBM_UNITS = (64, 128, 256, 512, 1024)
WEIGHT_DECAYS = (0.0, 2e-5, 2e-4, 2e-3)
DEFAULT_WEIGHT_DECAY = 2e-4  # the RBM recipes' --weight-decay
DBN_UNITS = (250, 500, 1000, 2000)
DBN_DEFAULT_HIDDEN = (500, 500, 2000)  # the factory's, Hinton, Osindero & Teh 2006
PRETRAIN_EPOCHS = (0, 5, 10, 20)


def weight_decay_regularizer(weight_decay):
    """The guide's weight cost c (gradient c W) as Keras' L2 penalty (c / 2) ||W||^2, as
    the RBM recipes apply it; None for 0."""
    return keras.regularizers.L2(weight_decay / 2) if weight_decay > 0 else None


class RBMHyperModel(ZooHyperModel):
    """Searches an RBM's size, CD variant and SGD training.

    The structure (visible units, input shape, objective) is fixed in `__init__`;
    `build(hp)` draws the rest, with defaults equal to the factory's arguments and the
    rbm recipe's training (SGD with momentum 0.5, then 0.9 from epoch 5, weight decay
    2e-4, batches of 100, 20 epochs):

    - `units` in {64, 128, 256, 512, 1024} (default 256);
    - `k`, the Gibbs steps of CD-k, 1 to 10 (default 1);
    - `persistent` (default False): persistent CD with one chain per example of a batch
      (`persistent_chains` = the batch size), else CD-k;
    - `learning_rate` log-uniform in [1e-4, 0.5] (default 0.1, or 0.01 for Gaussian
      visibles, as `zoo.models.pretrain`);
    - `momentum` in [0, 0.9] (default 0.5) and `final_momentum` in [0.5, 0.99] (default
      0.9), the momentum from epoch 5 on (`zoo.callbacks.MomentumSchedule`; none when
      `momentum` is 0);
    - `weight_decay` in {0, 2e-5, 2e-4, 2e-3} (default 2e-4), an L2 `kernel_regularizer`
      of `weight_decay / 2`;
    - `batch_size` in {32, 64, 100, 128, 256} (default 100); with `tune_epochs`, `epochs`
      from 1 to 40 (default 20).

    The model (an `RBMStack`) is compiled with `SGD(learning_rate, momentum)`; its RBM
    adds the CD loss. `fit(hp, model, x, validation_data=x_val)` adds an `RBMMonitor` so
    that `val_reconstruction_error` (and, for Bernoulli visibles,
    `val_pseudo_log_likelihood`) reach the logs every epoch (`task` "unsupervised": no
    targets). keras-tuner's `get_best_models()` works: the trained model is the RBM.

    Args:
        visible: "bernoulli" (default; data in [0, 1]) or "gaussian" (the factory
            `gaussian_rbm`, standardising inside the model).
        input_shape: Shape of one example. Defaults to (28, 28, 1).
        objective: "reconstruction_error" (default: the validation reconstruction error,
            minimised) or "pseudo_log_likelihood" (the validation pseudo-log-likelihood,
            maximised; Bernoulli visibles only).
        tune_epochs: Search the number of epochs too. Defaults to False.

    Example:

        hypermodel = RBMHyperModel(input_shape=(8, 8, 1))
        tuner = keras_tuner.RandomSearch(
            hypermodel, objective=hypermodel.objective, max_trials=10
        )
        tuner.search(x, validation_data=x_val, epochs=10)
    """

    task = "unsupervised"
    batch_sizes = (32, 64, 100, 128, 256)
    default_batch_size = 100
    default_epochs = 20

    def __init__(
        self,
        visible="bernoulli",
        input_shape=(28, 28, 1),
        objective="reconstruction_error",
        tune_epochs=False,
    ):
        check_choice("visible", visible, VISIBLE_UNITS)
        input_shape = check_shape("input_shape", input_shape)
        check_choice("objective", objective, tuple(RBM_OBJECTIVES))
        if objective == "pseudo_log_likelihood" and visible != "bernoulli":
            raise ValueError(
                "objective='pseudo_log_likelihood' needs Bernoulli visibles. "
                f"Received: objective={objective!r}, visible={visible!r}"
            )
        self.factory = "rbm" if visible == "bernoulli" else "gaussian_rbm"
        super().__init__(name=f"{self.factory}_search", tune_epochs=tune_epochs)
        self.visible = visible
        self.input_shape = input_shape
        self.objective = RBM_OBJECTIVES[objective]

    def build(self, hp):
        batch_size = self.batch_size(hp)  # drawn here: persistent CD keeps a batch of chains
        persistent = hp.Boolean("persistent", default=False)
        model = zoo.create_model(
            self.factory,
            input_shape=self.input_shape,
            units=hp.Choice("units", RBM_UNITS, default=256),
            k=hp.Int("k", 1, 10, default=1),
            persistent_chains=batch_size if persistent else 0,
            kernel_regularizer=weight_decay_regularizer(
                hp.Choice("weight_decay", WEIGHT_DECAYS, default=DEFAULT_WEIGHT_DECAY)
            ),
        )
        default_rate = 0.1 if self.visible == "bernoulli" else 0.01
        learning_rate = hp.Float("learning_rate", 1e-4, 0.5, sampling="log", default=default_rate)
        momentum, _ = self._momentum(hp)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=momentum))
        return model

    def fit(
        self, hp, model, x, validation_data=None, validation_split=0.0, callbacks=None, **kwargs
    ):
        """Trains the RBM on `x` by its CD loss with the monitors and the momentum schedule.

        Args:
            hp: The trial's hyperparameters.
            model: The `RBMStack` that `build(hp)` returned.
            x: numpy array of training examples.
            validation_data: Held-out examples (an array, or a tuple whose first item is
                one); or give `validation_split`.
            validation_split: Fraction of `x` (its last rows, as Keras) held out instead.
            callbacks: The caller's and keras-tuner's callbacks; they see the monitors'
                entries in the logs.
            **kwargs: Passed to `model.fit` (`epochs`, `verbose`, ...).

        Returns:
            The `History` of `model.fit`.
        """
        x = as_array(x)
        if validation_data is None and validation_split:
            x, val = split_off_validation(x, validation_split)
        elif validation_data is not None:
            val = validation_array(validation_data)
        else:
            raise ValueError(
                f"{type(self).__name__}.fit needs validation data for its objective "
                f"{self.objective.name!r}: pass validation_data (or validation_split). "
                "Received: validation_data=None"
            )
        kwargs = self.fit_kwargs(hp, x, kwargs)
        x_visible, val_visible = _prepare(model, x, val)
        rbm = model.rbms[0]
        monitors = [RBMMonitor(rbm, x_visible[:MONITOR_EXAMPLES], val_visible[:MONITOR_EXAMPLES])]
        if rbm.visible == "bernoulli":
            monitors.append(_ValidationPseudoLikelihood(rbm, val_visible[:MONITOR_EXAMPLES]))
        momentum, final = self._momentum(hp)
        if momentum > 0 and final != momentum:
            monitors.append(MomentumSchedule(final, switch_epoch=MOMENTUM_SWITCH_EPOCH))
        return model.fit(x, callbacks=[*monitors, *(callbacks or [])], **kwargs)

    def _momentum(self, hp):
        """`(momentum, final_momentum)`, the same hps in `build` and `fit`."""
        return (
            hp.Float("momentum", 0.0, 0.9, default=0.5),
            hp.Float("final_momentum", 0.5, 0.99, default=0.9),
        )


class DBNHyperModel(ZooHyperModel):
    """Searches a deep belief network's layer sizes, pretraining and fine-tuning.

    `build(hp)` returns the `RBMStack` (the factory `dbn` with the dbn recipe's CD
    settings: mean-field visible reconstructions, weight decay 2e-4); `fit` pretrains it
    greedily (`zoo.models.pretrain`: SGD 0.1, momentum 0.5 then 0.9, on the training
    inputs only) for hp `pretrain_epochs` per RBM, turns it into a classifier
    (`zoo.models.dbn_classifier`) and fine-tunes that as the dbn recipe does (SGD with
    momentum 0.9, cosine decay) with the callbacks keras-tuner passes, returning its
    `History` (whose `model` is the classifier). Searched, with the factory's and the
    recipe's defaults:

    - `depth` 1 to 3 RBMs (default 3) and their `units_1`, `units_2`, `units_3` in
      {250, 500, 1000, 2000} (defaults 500, 500, 2000), each active when the depth has it;
    - `pretrain_epochs` in {0, 5, 10, 20} (default 20; 0 fine-tunes from random weights);
    - `learning_rate` of fine-tuning, log-uniform in [1e-3, 0.5] (default 0.1);
    - `dropout` after each hidden layer of the classifier, in [0, 0.5] (default 0.2);
    - `batch_size` in {32, 64, 100, 128, 256} (default 100), for pretraining and
      fine-tuning; with `tune_epochs`, fine-tuning `epochs` from 1 to 120 (default 60).

    The objective is the classifier's best validation accuracy (`task`
    "classification"; the images must be in [0, 1]). keras-tuner's `get_best_models()`
    does not apply: it would load the classifier's weights into a new `RBMStack`. Take
    `tuner.get_best_hyperparameters()` and retrain: `model = hypermodel.build(hp)`,
    `history = hypermodel.fit(hp, model, x, y, ...)`, the classifier is `history.model`.

    Args:
        input_shape: Shape of one example. Defaults to (28, 28, 1).
        classes: Number of classes, 2 to 65,536. Defaults to 10.
        tune_epochs: Search the number of fine-tuning epochs too. Defaults to False.

    Example:

        hypermodel = DBNHyperModel(input_shape=(8, 8, 1))
        tuner = keras_tuner.RandomSearch(
            hypermodel, objective=hypermodel.objective, max_trials=10
        )
        tuner.search(x, y, validation_data=(x_val, y_val), epochs=10)
    """

    task = "classification"
    batch_sizes = (32, 64, 100, 128, 256)
    default_batch_size = 100
    default_epochs = 60

    def __init__(self, input_shape=(28, 28, 1), classes=10, tune_epochs=False):
        input_shape = check_shape("input_shape", input_shape)
        classes = check_int("classes", classes, low=2, high=MAX_UNITS)
        super().__init__(name="dbn_search", tune_epochs=tune_epochs)
        self.input_shape = input_shape
        self.classes = classes
        self.objective = keras_tuner.Objective("val_accuracy", "max")

    def build(self, hp):
        depth = hp.Int("depth", 1, len(DBN_DEFAULT_HIDDEN), default=len(DBN_DEFAULT_HIDDEN))
        hidden = [hp.Choice("units_1", DBN_UNITS, default=DBN_DEFAULT_HIDDEN[0])]
        for i, default in enumerate(DBN_DEFAULT_HIDDEN[1:], start=2):
            with hp.conditional_scope("depth", list(range(i, len(DBN_DEFAULT_HIDDEN) + 1))):
                units = hp.Choice(f"units_{i}", DBN_UNITS, default=default)
            if i <= depth:
                hidden.append(units)
        self._training(hp)  # the whole space is known from the first build
        return zoo.create_model(
            "dbn",
            input_shape=self.input_shape,
            hidden=tuple(hidden),
            mean_field_visible=True,
            kernel_regularizer=weight_decay_regularizer(DEFAULT_WEIGHT_DECAY),
        )

    def fit(
        self,
        hp,
        model,
        x,
        y=None,
        validation_data=None,
        validation_split=0.0,
        callbacks=None,
        **kwargs,
    ):
        """Pretrains `model` on `x`, then fine-tunes its classifier on `(x, y)`.

        Args:
            hp: The trial's hyperparameters.
            model: The `RBMStack` that `build(hp)` returned; pretrained in place.
            x: numpy array of training images in [0, 1].
            y: Their integer labels.
            validation_data: `(x_val, y_val)`; or give `validation_split`.
            validation_split: Fraction of the examples (the last rows, as Keras) held out
                from pretraining and fine-tuning.
            callbacks: Callbacks of the fine-tuning (keras-tuner's among them).
            **kwargs: Passed to the classifier's `fit` (`epochs`, `verbose`, ...).

        Returns:
            The `History` of the classifier's `fit`; `history.model` is the classifier.
        """
        x = as_array(x)
        if validation_data is None and validation_split:
            x, x_val = split_off_validation(x, validation_split)
            y, y_val = split_off_validation(np.asarray(y), validation_split)
            validation_data = (x_val, y_val)
        kwargs = self.fit_kwargs(hp, x, kwargs)
        pretrain_epochs, learning_rate, dropout = self._training(hp)
        if pretrain_epochs:
            batch_size = kwargs["batch_size"]
            pretrain(model, x, epochs=pretrain_epochs, batch_size=batch_size, monitor_examples=0)
        classifier = dbn_classifier(model, self.classes, dropout=dropout)
        config = training.TrainConfig(optimizer="sgd", learning_rate=learning_rate)
        classifier.compile(
            optimizer=training.make_optimizer(config),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        decay = training.lr_schedule_callback("cosine", learning_rate, kwargs.get("epochs", 1))
        return classifier.fit(
            x, y, validation_data=validation_data, callbacks=[*(callbacks or []), decay], **kwargs
        )

    def _training(self, hp):
        """`(pretrain_epochs, learning_rate, dropout)`, the same hps in `build` and `fit`."""
        return (
            hp.Choice("pretrain_epochs", PRETRAIN_EPOCHS, default=20),
            hp.Float("learning_rate", 1e-3, 0.5, sampling="log", default=0.1),
            hp.Float("dropout", 0.0, 0.5, default=0.2),
        )


def _prepare(stack, x, val):
    """What `zoo.models.pretrain` does before training a stack's first RBM: checks the
    data, adapts the standardisation (Gaussian visibles) and starts the visible biases at
    the data's log-odds; returns the visible data of `x` and `val` for the monitors."""
    x = check_visible_data(stack, x)
    val = check_visible_data(stack, val, arg="validation_data")
    flat = x.reshape(len(x), -1)
    if stack.normalization is not None:
        _adapt_standardization(stack.normalization, flat)
    visible = np.asarray(stack.visible_data(flat))
    stack.rbms[0].init_visible_bias(visible)
    return visible, np.asarray(stack.visible_data(val.reshape(len(val), -1)))


class _ValidationPseudoLikelihood(keras.callbacks.Callback):
    """Adds `val_pseudo_log_likelihood` (Bernoulli visibles) to each epoch's logs;
    `RBMMonitor` logs the training sample's only."""

    def __init__(self, rbm, validation, seed=0):
        super().__init__()
        self.rbm = rbm
        self.validation = np.asarray(validation, dtype="float32")
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_pseudo_log_likelihood"] = pseudo_log_likelihood(
                self.rbm, self.validation, seed=self.seed + epoch
            )
