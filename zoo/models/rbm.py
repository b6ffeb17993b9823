"""RBMs and deep belief networks: registered models, greedy pretraining, conversions.

Models (each an uncompiled `RBMStack`: input -> flatten -> [standardise] -> RBM 1 -> ...
-> RBM L, whose output is the top layer's P(h = 1 | v)):

- `rbm`: one Bernoulli-Bernoulli RBM (data in [0, 1]); `fit` trains it by CD-k or
  persistent CD;
- `gaussian_rbm`: one Gaussian-Bernoulli RBM for real-valued data, standardised inside
  the model;
- `dbn`: a deep belief network, 784-500-500-2000 by default (Hinton, Osindero & Teh
  2006), trained greedily by `pretrain` and turned into a classifier by `dbn_classifier`
  or into a deep autoencoder by `dbn_autoencoder`.

    model = zoo.create_model("dbn", input_shape=(28, 28, 1))
    pretrain(model, x_train, epochs=10)            # one RBM after the other, by CD-1
    classifier = dbn_classifier(model, classes=10) # sigmoid MLP initialised from the RBMs
    classifier.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])

Measuring a trained RBM (exact and AIS log-likelihoods, pseudo-log-likelihood,
reconstruction error, free-energy gap) is `zoo.likelihood`'s; the callbacks `pretrain`
uses (`RBMMonitor`, `MomentumSchedule`) are in `zoo.callbacks`.

References:
    G. Hinton, S. Osindero, Y. Teh, "A fast learning algorithm for deep belief nets",
    Neural Computation 18, 2006.
    G. Hinton, R. Salakhutdinov, "Reducing the dimensionality of data with neural
    networks", Science 313, 2006.
    G. Hinton, "A practical guide to training restricted Boltzmann machines", UTML TR
    2010-003, University of Toronto, 2010.
"""

import keras
import numpy as np
from keras import layers, ops

from zoo._checks import (
    MAX_GIBBS_STEPS,
    MAX_SEED,
    MAX_UNITS,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_ints,
    check_name,
    check_seed,
    check_shape,
)
from zoo.callbacks import MomentumSchedule, RBMMonitor
from zoo.layers import RBM
from zoo.models._weights import check_weights, load_weights, shipped_weights
from zoo.models.autoencoders import Autoencoder
from zoo.registry import register_model

VISIBLE_DATA_MODES = ("check", "binarize", "clip")
VISIBLE_UNITS = ("bernoulli", "gaussian")
MIN_RELATIVE_VARIANCE = 0.01  # standardisation: variance floor, relative to the mean one


# --- the models --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="zoo")
class RBMStack(keras.Model):
    """RBMs stacked on flattened input: `input -> flatten -> [standardise] -> RBM 1 -> ...`.

    The output is the top RBM's P(h = 1 | v), so the stack is a feature extractor like any
    Keras model. One RBM is trained by `compile(optimizer)` and `fit(x)` (its layer adds
    the CD loss); a deeper stack is trained by `pretrain`, one RBM at a time.

    Args:
        rbms: A list of `zoo.layers.RBM`, bottom first. Only the first may have Gaussian
            visibles (the others see hidden probabilities in [0, 1]).
        input_shape: Shape of one example.
        standardize: Put a `keras.layers.Normalization` (adapted by `pretrain`) in front
            of the first RBM, for Gaussian visibles. Defaults to False.
        name: Model name and layer-name prefix.
    """

    def __init__(self, rbms, input_shape, standardize=False, name="rbm", **kwargs):
        rbms = list(rbms)
        if not rbms or not all(isinstance(rbm, RBM) for rbm in rbms):
            raise ValueError(
                f"rbms must be a non-empty list of zoo.layers.RBM. Received: rbms={rbms!r}"
            )
        for i, rbm in enumerate(rbms[1:], start=2):
            if rbm.visible != "bernoulli":
                raise ValueError(
                    "Only the first RBM of a stack may have Gaussian visibles; the others "
                    f"see hidden probabilities. Received: visible={rbm.visible!r} for RBM {i}"
                )
        width = int(np.prod(input_shape))
        for i, rbm in enumerate(rbms, start=1):
            if rbm.built and int(rbm.kernel.shape[0]) != width:
                raise ValueError(
                    f"The RBMs' sizes do not chain: RBM {i} ({rbm.name}) has "
                    f"{int(rbm.kernel.shape[0])} visible units but its input has {width}. "
                    f"Received: input_shape={tuple(input_shape)}, "
                    f"units={[r.units for r in rbms]}"
                )
            width = rbm.units
        inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
        x = layers.Flatten(name=f"{name}_flatten")(inputs)
        normalization = None
        if standardize:
            normalization = layers.Normalization(name=f"{name}_standardize")
            x = normalization(x)
        for rbm in rbms:
            x = rbm(x)
        super().__init__(inputs, x, name=name, **kwargs)
        self.rbms = rbms
        self.normalization = normalization
        self.standardize = bool(standardize)

    @property
    def visible_shape(self):
        return tuple(self.input_shape[1:])

    def visible_data(self, x):
        """The first RBM's visible data for images `x`: flattened and standardised."""
        x = ops.reshape(ops.convert_to_tensor(x, "float32"), (ops.shape(x)[0], -1))
        return self.normalization(x) if self.normalization is not None else x

    def up(self, x, depth=None):
        """Mean-field up pass: P(h | v) of the first `depth` RBMs (default all)."""
        h = self.visible_data(x)
        for rbm in self.rbms[:depth]:
            h = rbm.hidden_probabilities(h)
        return h

    def down(self, h):
        """Mean-field down pass from the top hidden layer to images (in input units)."""
        for rbm in reversed(self.rbms):
            h = rbm.visible_mean(h)
        if self.normalization is not None:
            h = h * ops.sqrt(ops.maximum(self.normalization.variance, 1e-12))
            h = h + self.normalization.mean
        return ops.reshape(h, (ops.shape(h)[0], *self.visible_shape))

    def reconstruct(self, x):
        """Images reconstructed by an up pass and a down pass through every RBM."""
        return self.down(self.up(x))

    def sample(self, x, steps=1000):
        """Samples by Gibbs sampling in the top RBM, then a mean-field down pass.

        For one RBM this is a Gibbs chain of `steps` steps started at the data `x`; for a
        DBN the chain runs in the top RBM (the associative memory) from the up pass of
        `x`, as Hinton, Osindero & Teh generate images. Returns visible means (images).
        """
        top = self.rbms[-1]
        v = self.up(x, depth=len(self.rbms) - 1)
        h = top.hidden_probabilities(top.gibbs(v, steps))
        return self.down(h)

    def serving_outputs(self, inputs):
        """The outputs of an exported stack (see `zoo.export.export`)."""
        return {
            "features": self.up(inputs),
            "reconstruction": self.reconstruct(inputs),
            "free_energy": self.rbms[0].free_energy(self.visible_data(inputs)),
        }

    def fit(self, x=None, *args, **kwargs):
        if isinstance(x, np.ndarray):
            check_visible_data(self, x)
        return super().fit(x, *args, **kwargs)

    def get_config(self):
        return {
            "name": self.name,
            "rbms": [keras.saving.serialize_keras_object(rbm) for rbm in self.rbms],
            "input_shape": self.visible_shape,
            "standardize": self.standardize,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        rbms = [keras.saving.deserialize_keras_object(rbm) for rbm in config.pop("rbms")]
        return cls(rbms, **config)


def check_visible_data(stack, x, mode="check", arg="x"):
    """Checks (or fixes) data for the first RBM of `stack`; returns it as float32.

    Bernoulli visibles take values in [0, 1] (binary, or probabilities such as grey
    levels). `mode="check"` raises `ValueError` for anything else; `"binarize"` thresholds
    at 0.5 (after checking the range) and `"clip"` clips into [0, 1]. Any visibles: the
    data must be finite.
    """
    check_choice("mode", mode, VISIBLE_DATA_MODES)
    x = np.asarray(x, dtype="float32")
    if not np.isfinite(x).all():
        raise ValueError(f"{arg} must be finite. Received: {arg} with NaN or inf values")
    rbm = stack.rbms[0] if isinstance(stack, RBMStack) else stack
    if rbm.visible != "bernoulli" or (isinstance(stack, RBMStack) and stack.standardize):
        return x
    if mode == "clip":
        return np.clip(x, 0.0, 1.0)
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise ValueError(
            f"{arg} must be in [0, 1] for Bernoulli visible units (scale it, or pass "
            f"binarize/clip). Received: {arg} with values in [{x.min():g}, {x.max():g}]"
        )
    return (x > 0.5).astype("float32") if mode == "binarize" else x


def _stack(
    name,
    input_shape,
    hidden,
    *,
    visible,
    k,
    persistent_chains,
    mean_field_visible,
    learn_sigma,
    standardize,
    kernel_regularizer,
    weights,
    seed,
):
    # The RBM layers check the other arguments, under the same names.
    name = check_name("name", name)
    input_shape = check_shape("input_shape", input_shape)
    hidden = check_ints("hidden", hidden, low=1, high=MAX_UNITS, min_len=1)
    k = check_int("k", k, low=1, high=MAX_GIBBS_STEPS)
    standardize = check_bool("standardize", standardize)
    seed = check_seed("seed", seed)
    check_weights(weights)
    rbms = [
        RBM(
            units,
            visible=visible if i == 1 else "bernoulli",
            k=k,
            persistent_chains=persistent_chains,
            mean_field_visible=mean_field_visible,
            learn_sigma=learn_sigma if i == 1 else False,
            kernel_regularizer=kernel_regularizer,
            seed=None if seed is None else (seed + i) % (MAX_SEED + 1),
            name=f"{name}_rbm{i}",
        )
        for i, units in enumerate(hidden, start=1)
    ]
    return load_weights(RBMStack(rbms, input_shape, standardize=standardize, name=name), weights)


@register_model(name="rbm")
@shipped_weights("rbm")
def bernoulli_rbm(
    input_shape=(28, 28, 1),
    units=256,
    k=1,
    persistent_chains=0,
    mean_field_visible=False,
    kernel_regularizer=None,
    weights=None,
    seed=None,
    name="rbm",
):
    """Bernoulli-Bernoulli RBM for data in [0, 1], trained by CD-k or persistent CD.

    Compile it with an optimizer only and `fit(x)`: the RBM layer adds the CD loss.

    Args:
        input_shape: Shape of one example. Defaults to (28, 28, 1).
        units: Hidden units, 1 to `zoo._checks.MAX_UNITS` (65,536). Defaults to 256.
        k: Gibbs steps per update (CD-k), 1 to `zoo._checks.MAX_GIBBS_STEPS` (10,000).
            Defaults to 1.
        persistent_chains: 0 for CD-k (default), n > 0 for persistent CD with n chains,
            at most `zoo._checks.MAX_CHAINS` (10,000).
        mean_field_visible: CD-k reconstructs visible means instead of samples (as
            Hinton's MNIST code); not with persistent chains. Defaults to False.
        kernel_regularizer: Weight decay, e.g. `keras.regularizers.L2(1e-4)` (or "l2").
        weights: None, the path of a weights file saved by this model, or the name of a
            checkpoint shipped with zoo (`zoo weights` lists them).
        seed: Seed of the initial weights and the Gibbs sampler, 0 to 2**32 - 1 (RBM i
            of a stack gets `seed + i`).
        name: Model name and layer-name prefix (a non-empty string without "/").

    Returns:
        An uncompiled `RBMStack` with one RBM, output P(h = 1 | v).
    """
    units = check_int("units", units, low=1, high=MAX_UNITS)
    return _stack(
        name, input_shape, (units,), visible="bernoulli", k=k,
        persistent_chains=persistent_chains, mean_field_visible=mean_field_visible,
        learn_sigma=False, standardize=False,
        kernel_regularizer=kernel_regularizer, weights=weights, seed=seed,
    )  # fmt: skip


@register_model(name="gaussian_rbm")
@shipped_weights("gaussian_rbm")
def gaussian_rbm(
    input_shape=(28, 28, 1),
    units=256,
    k=1,
    persistent_chains=0,
    mean_field_visible=False,
    learn_sigma=False,
    standardize=True,
    kernel_regularizer=None,
    weights=None,
    seed=None,
    name="gaussian_rbm",
):
    """Gaussian-Bernoulli RBM for real-valued data, standardised inside the model.

    Unit-variance visibles as in the practical guide (or learned variances), so the data
    is standardised by a `Normalization` layer that `pretrain` adapts; train it with a
    smaller learning rate than a Bernoulli RBM (the guide: about 0.001 to 0.01).

    Args:
        units: Hidden units, 1 to `zoo._checks.MAX_UNITS` (65,536). Defaults to 256.
        k: Gibbs steps per update (CD-k), 1 to `zoo._checks.MAX_GIBBS_STEPS` (10,000).
            Defaults to 1.
        learn_sigma: Learn each visible unit's standard deviation. Defaults to False.
        standardize: Standardise the input inside the model. Defaults to True.
        **others: as for `rbm`.
    """
    units = check_int("units", units, low=1, high=MAX_UNITS)
    return _stack(
        name, input_shape, (units,), visible="gaussian", k=k,
        persistent_chains=persistent_chains, mean_field_visible=mean_field_visible,
        learn_sigma=learn_sigma, standardize=standardize,
        kernel_regularizer=kernel_regularizer, weights=weights, seed=seed,
    )  # fmt: skip


@register_model(name="dbn")
@shipped_weights("dbn")
def deep_belief_network(
    input_shape=(28, 28, 1),
    hidden=(500, 500, 2000),
    visible="bernoulli",
    k=1,
    persistent_chains=0,
    mean_field_visible=False,
    standardize=None,
    kernel_regularizer=None,
    weights=None,
    seed=None,
    name="dbn",
):
    """Deep belief network: stacked RBMs, pretrained greedily, then a classifier.

    Hinton, Osindero & Teh 2006 (784-500-500-2000 on MNIST). Train with `pretrain`, then
    fine-tune `dbn_classifier(model)` by backprop, or `dbn_autoencoder(model)`.

    Args:
        hidden: Hidden units of each RBM, bottom first, each 1 to `zoo._checks.MAX_UNITS`
            (65,536). Defaults to (500, 500, 2000).
        visible: "bernoulli" (default) or "gaussian" for the first RBM's visibles.
        k: Gibbs steps per update (CD-k), 1 to `zoo._checks.MAX_GIBBS_STEPS` (10,000).
            Defaults to 1.
        standardize: Standardise the input inside the model (True or False); None, the
            default, means True for Gaussian visibles and False for Bernoulli ones.
        **others: as for `rbm` except `units`.
    """
    check_choice("visible", visible, VISIBLE_UNITS)
    return _stack(
        name, input_shape, hidden, visible=visible, k=k, persistent_chains=persistent_chains,
        mean_field_visible=mean_field_visible,
        learn_sigma=False,
        standardize=visible == "gaussian" if standardize is None else standardize,
        kernel_regularizer=kernel_regularizer, weights=weights, seed=seed,
    )  # fmt: skip


# --- training ----------------------------------------------------------------------------


def pretrain(
    stack,
    x,
    *,
    epochs=10,
    batch_size=100,
    optimizer=None,
    learning_rate=None,
    momentum_switch_epoch=5,
    validation_data=None,
    monitor_examples=2000,
    callbacks=None,
    data_mode="check",
    steps_per_execution=10,
    verbose=0,
):
    """Greedy layer-wise training of an `RBMStack`, in place (Hinton, Osindero & Teh 2006).

    RBM i is trained by its own CD loss on the hidden probabilities of RBM i-1 for the
    training data (the data itself for RBM 1, standardised first when the stack
    standardises: its `Normalization` is adapted to `x` here, each variance floored at 1%
    of the mean variance so that features constant in training stay bounded).

    Args:
        stack: An `RBMStack` (`rbm`, `gaussian_rbm`, `dbn`).
        x: numpy array of training examples.
        epochs: Epochs per RBM (an int, or a list with one int per RBM). Defaults to 10.
        batch_size: Defaults to 100.
        optimizer: None for the practical guide's SGD with momentum 0.5 then 0.9; an
            optimizer name; or a callable returning a fresh optimizer (each RBM gets its
            own).
        learning_rate: With the default optimizer. Defaults to 0.1, or 0.01 for an RBM
            with Gaussian visibles.
        momentum_switch_epoch: With the default optimizer, the epoch from which the
            momentum is 0.9. Defaults to 5.
        validation_data: Optional held-out examples for the monitors.
        monitor_examples: Rows of the training (and validation) data the `RBMMonitor` of
            each RBM measures every epoch; 0 turns the monitors off. Defaults to 2000.
        callbacks: Extra Keras callbacks for every RBM's `fit`: a list, or a callable
            taking the RBM's 1-based index and returning a list (e.g. one CSV log each).
        data_mode: "check" (default), "binarize" or "clip"; see `check_visible_data`.
        steps_per_execution: Batches per call of the compiled train function.
        verbose: `fit` verbosity. Defaults to 0.

    Returns:
        A list with the `History` of each RBM, bottom first.
    """
    if not isinstance(stack, RBMStack):
        raise ValueError(f"stack must be a zoo RBMStack. Received: stack={type(stack).__name__}")
    n = len(stack.rbms)
    if isinstance(epochs, (list, tuple)):
        if len(epochs) != n:
            raise ValueError(
                f"epochs must be an int or one int per RBM ({n}). Received: epochs={epochs!r}"
            )
        per_layer = list(check_ints("epochs", epochs, low=1))
    else:
        per_layer = [check_int("epochs", epochs, low=1)] * n
    batch_size = check_int("batch_size", batch_size, low=1)
    monitor_examples = check_int("monitor_examples", monitor_examples, low=0)
    x = check_visible_data(stack, x, data_mode).reshape(len(x), -1)
    val = None
    if validation_data is not None:
        val = check_visible_data(stack, validation_data, data_mode, arg="validation_data")
        val = val.reshape(len(val), -1)
    if stack.normalization is not None:
        _adapt_standardization(stack.normalization, x)
    features = np.asarray(stack.visible_data(x))
    val_features = None if val is None else np.asarray(stack.visible_data(val))
    histories = []
    for i, (rbm, layer_epochs) in enumerate(zip(stack.rbms, per_layer, strict=True), start=1):
        if i == 1:
            rbm.init_visible_bias(features)
        single = keras.Sequential(
            [keras.Input(shape=(features.shape[1],)), rbm], name=f"{stack.name}_pretrain{i}"
        )
        extra = []
        if optimizer is None:
            rate = learning_rate or (0.01 if rbm.visible == "gaussian" else 0.1)
            layer_optimizer = keras.optimizers.SGD(rate, momentum=0.5)
            extra.append(MomentumSchedule(0.9, switch_epoch=momentum_switch_epoch))
        else:
            layer_optimizer = optimizer() if callable(optimizer) else optimizer
        single.compile(optimizer=layer_optimizer, steps_per_execution=steps_per_execution)
        monitors = []
        if monitor_examples:
            monitors.append(
                RBMMonitor(
                    rbm,
                    features[:monitor_examples],
                    None if val_features is None else val_features[:monitor_examples],
                )
            )
        histories.append(
            single.fit(
                features,
                epochs=layer_epochs,
                batch_size=batch_size,
                callbacks=[*monitors, *extra, *_layer_callbacks(callbacks, i)],
                verbose=verbose,
            )
        )
        if i < n:
            features = _hidden_probabilities(rbm, features)
            if val_features is not None:
                val_features = _hidden_probabilities(rbm, val_features)
    return histories


def _adapt_standardization(normalization, x):
    """Adapts to `x`, with variances floored at 1% of their mean: a feature (nearly)
    constant in training, such as a border pixel, would otherwise turn any other value
    into millions of standard deviations."""
    normalization.adapt(x)
    variance = ops.convert_to_numpy(normalization.adapt_variance)
    floor = MIN_RELATIVE_VARIANCE * max(float(variance.mean()), 1e-12)
    normalization.adapt_variance.assign(np.maximum(variance, floor))
    normalization.finalize_state()


def _layer_callbacks(callbacks, i):
    if callbacks is None:
        return []
    return list(callbacks(i) if callable(callbacks) else callbacks)


def _hidden_probabilities(rbm, features, chunk=4096):
    """P(h | v) for a numpy array, in chunks of rows."""
    return np.concatenate(
        [
            ops.convert_to_numpy(rbm.hidden_probabilities(features[i : i + chunk]))
            for i in range(0, len(features), chunk)
        ]
    )


# --- what a trained stack turns into -----------------------------------------------------


def dbn_classifier(stack, classes=10, dropout=0.0, classifier_activation="softmax", name=None):
    """A classifier initialised from a (pretrained) stack, for fine-tuning by backprop.

    Each RBM becomes a sigmoid `Dense` layer `{name}_dense{i}` with the RBM's weights and
    hidden biases (its P(h | v)), followed by a softmax head `{name}_predictions`. The
    weights are copies: fine-tuning leaves the RBMs as they were.

    Args:
        stack: An `RBMStack`.
        classes: Number of classes, >= 2. Defaults to 10.
        dropout: Dropout rate after each hidden layer, in [0, 1). Defaults to 0.
        classifier_activation: Defaults to "softmax".
        name: Defaults to `<stack name>_classifier`.

    Returns:
        An uncompiled `keras.Model` taking the stack's inputs.
    """
    classes = check_int("classes", classes, low=2)
    dropout = check_float("dropout", dropout, low=0.0, high=1.0, high_open=True)
    name = name or f"{stack.name}_classifier"
    inputs = keras.Input(shape=stack.visible_shape, name=f"{name}_input")
    x = _copy_front(stack, inputs, name)
    for i, rbm in enumerate(stack.rbms, start=1):
        x = _from_rbm(rbm, f"{name}_dense{i}", x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_dropout{i}")(x)
    outputs = layers.Dense(classes, activation=classifier_activation, name=f"{name}_predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def dbn_autoencoder(stack, name=None):
    """A deep autoencoder unrolled from a (pretrained) stack (Hinton & Salakhutdinov 2006).

    The encoder is the up pass (sigmoid `Dense` layers `{name}_enc{i}` from the RBMs'
    weights and hidden biases); the decoder is the down pass (`{name}_dec{i}` from the
    transposed weights and visible biases, sigmoid for Bernoulli visibles, linear for
    Gaussian ones). Weights are copies and untied, as in the paper, so fine-tuning with a
    reconstruction loss leaves the stack unchanged. The code is the top RBM's hidden
    probabilities (the paper's top RBM has linear hidden units instead).

    Returns:
        An uncompiled `zoo.models.Autoencoder` on the stack's visible data (standardised
        for a standardising stack: reconstruct `stack.visible_data(x)`).
    """
    name = name or f"{stack.name}_autoencoder"
    width = int(stack.rbms[0].kernel.shape[0])
    inputs = keras.Input(shape=(width,), name=f"{name}_encoder_input")
    h = inputs
    for i, rbm in enumerate(stack.rbms, start=1):
        h = _from_rbm(rbm, f"{name}_enc{i}", h)
    encoder = keras.Model(inputs, h, name=f"{name}_encoder")
    code = keras.Input(shape=(stack.rbms[-1].units,), name=f"{name}_decoder_input")
    v = code
    for i, rbm in reversed(list(enumerate(stack.rbms, start=1))):
        activation = "sigmoid" if rbm.visible == "bernoulli" else "linear"
        dense = layers.Dense(int(rbm.kernel.shape[0]), activation=activation, name=f"{name}_dec{i}")
        v = dense(v)
        dense.set_weights(
            [
                ops.convert_to_numpy(ops.transpose(rbm.kernel)),
                ops.convert_to_numpy(rbm.visible_bias),
            ]
        )
    decoder = keras.Model(code, v, name=f"{name}_decoder")
    return Autoencoder(encoder, decoder, name=name)


def _copy_front(stack, x, name):
    """Flatten and (a copy of) the stack's standardisation."""
    x = layers.Flatten(name=f"{name}_flatten")(x)
    if stack.normalization is not None:
        norm = stack.normalization
        mean = ops.convert_to_numpy(norm.mean).reshape(-1)
        variance = ops.convert_to_numpy(norm.variance).reshape(-1)
        x = layers.Normalization(mean=mean, variance=variance, name=f"{name}_standardize")(x)
    return x


def _from_rbm(rbm, layer_name, x):
    """A sigmoid Dense layer computing the RBM's P(h | v), applied to `x`."""
    dense = layers.Dense(rbm.units, activation="sigmoid", name=layer_name)
    y = dense(x)
    kernel = ops.convert_to_numpy(rbm.kernel)
    if rbm.sigma is not None:  # P(h | v) = sigmoid(c + (v / sigma^2) W)
        kernel = kernel / np.square(ops.convert_to_numpy(rbm.sigma))[:, None]
    dense.set_weights([kernel, ops.convert_to_numpy(rbm.hidden_bias)])
    return y
