"""The LeNet-5 family's search space for keras-tuner."""

import keras_tuner

import zoo
from zoo import training
from zoo._checks import MAX_UNITS, check_choice, check_image_shape, check_int
from zoo.hyper._common import ZooHyperModel, first_input
from zoo.models.lenet import HEADS, LENET_INPUT_SIZE

MODELS = ("lenet5", "lenet5_modern")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
LR_SCHEDULES = ("none", "cosine", "step")
C1_FILTERS = (6, 16, 32)
C3_FILTERS = (16, 32, 64)


class LeNetHyperModel(ZooHyperModel):
    """Searches a LeNet-5's free arguments and its training.

    The structure (which LeNet, input shape, classes) is fixed in `__init__`; `build(hp)`
    draws the rest, with defaults equal to the factory's arguments and the lenet5
    recipe's training (Adam at 1e-3, cosine decay, batches of 128, 30 epochs):

    - `lenet5` (the faithful model has no activation, pooling or width arguments):
      `head` "softmax" (default) or "rbf";
    - `lenet5_modern` (ReLU and max pooling are fixed by the factory): `c1_filters` in
      {6, 16, 32} (default 6), `c3_filters` in {16, 32, 64} (default 16), `batch_norm`
      (default False), `dropout` in [0, 0.5] (default 0);
    - both: `optimizer` "adam" (default), "sgd" (momentum 0.9) or "rmsprop";
      `learning_rate` log-uniform in [1e-4, 1e-1] (default 1e-3); `lr_schedule` "none",
      "cosine" (default) or "step" (halving every 10 epochs), applied by `fit` with
      `zoo.training.lr_schedule_callback`; `batch_size` in {32, 64, 128, 256} (default
      128, drawn in `fit`); with `tune_epochs`, `epochs` from 1 to 60 (default 30).

    The model is compiled with sparse categorical cross-entropy and accuracy; the
    objective is the best validation accuracy (`objective`), the data labelled images
    (`task` "classification").

    Args:
        model: "lenet5" (default) or "lenet5_modern".
        input_shape: `(height, width, channels)`, at most 32x32. Defaults to (28, 28, 1).
        classes: Number of classes, 2 to 65,536. Defaults to 10.
        tune_epochs: Search the number of epochs too. Defaults to False.

    Example:

        hypermodel = LeNetHyperModel("lenet5_modern", input_shape=(8, 8, 1))
        tuner = keras_tuner.RandomSearch(
            hypermodel, objective=hypermodel.objective, max_trials=10
        )
        tuner.search(x, y, validation_data=(x_val, y_val), epochs=5)
    """

    task = "classification"
    default_batch_size = 128
    default_epochs = 30

    def __init__(self, model="lenet5", input_shape=(28, 28, 1), classes=10, tune_epochs=False):
        check_choice("model", model, MODELS)
        input_shape = check_image_shape("input_shape", input_shape, max_side=LENET_INPUT_SIZE)
        classes = check_int("classes", classes, low=2, high=MAX_UNITS)
        super().__init__(name=f"{model}_search", tune_epochs=tune_epochs)
        self.model = model
        self.input_shape = input_shape
        self.classes = classes
        self.objective = keras_tuner.Objective("val_accuracy", "max")

    def build(self, hp):
        kwargs = {"input_shape": self.input_shape, "classes": self.classes}
        if self.model == "lenet5":
            kwargs["head"] = hp.Choice("head", HEADS, default="softmax")
        else:
            c1 = hp.Choice("c1_filters", C1_FILTERS, default=6)
            c3 = hp.Choice("c3_filters", C3_FILTERS, default=16)
            kwargs["filters"] = (c1, c3)
            kwargs["batch_norm"] = hp.Boolean("batch_norm", default=False)
            kwargs["dropout"] = hp.Float("dropout", 0.0, 0.5, default=0.0)
        model = zoo.create_model(self.model, **kwargs)
        optimizer, learning_rate, _ = self._training(hp)
        config = training.TrainConfig(optimizer=optimizer, learning_rate=learning_rate)
        model.compile(
            optimizer=training.make_optimizer(config),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        """`model.fit(*args, **kwargs)` with the drawn batch size (and epochs), and the
        drawn learning-rate schedule after the caller's callbacks."""
        kwargs = self.fit_kwargs(hp, first_input(args, kwargs), kwargs)
        _, learning_rate, schedule = self._training(hp)
        decay = training.lr_schedule_callback(schedule, learning_rate, kwargs.get("epochs", 1))
        callbacks = [*(callbacks or []), *([decay] if decay is not None else [])]
        return model.fit(*args, callbacks=callbacks, **kwargs)

    def _training(self, hp):
        """`(optimizer, learning_rate, lr_schedule)`, the same hps in `build` and `fit`."""
        return (
            hp.Choice("optimizer", OPTIMIZERS, default="adam"),
            hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", default=1e-3),
            hp.Choice("lr_schedule", LR_SCHEDULES, default="cosine"),
        )
