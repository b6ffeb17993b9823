"""LeNet-5 (LeCun et al. 1998) and a modern variant.

Reference:
    Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning applied to
    document recognition", Proc. IEEE 86(11), 1998.
"""

import functools
import math

import keras
from keras import layers

from zoo._checks import (
    MAX_CHANNELS,
    MAX_UNITS,
    check_activation,
    check_bool,
    check_choice,
    check_float,
    check_image_shape,
    check_initializer,
    check_int,
    check_ints,
    check_name,
    not_applicable,
)
from zoo.layers import (
    LENET5_C3_TABLE,
    EuclideanRBF,
    FanInUniform,
    PartialConv2D,
    Subsampling2D,
    scaled_tanh,
)
from zoo.models._weights import check_weights, load_weights, shipped_weights
from zoo.registry import register_model

LENET_INPUT_SIZE = 32  # the paper's 32x32 input field
HEADS = ("softmax", "rbf")
NORMS = ("none", "batch", "layer", "group", "instance")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid")
MAX_NORM_GROUPS = 4  # "group": gcd(channels, 4) groups, so that they divide the channels
NORM_SUFFIXES = {"batch": "bn", "layer": "ln", "group": "gn", "instance": "in"}  # layer names


def _validate(variant, input_shape, classes, include_top, weights, classifier_activation, name):
    """Checks the arguments both LeNets take; returns the input shape as a tuple.

    Without the classifier (`include_top=False`) the head's arguments have no use, so
    any value but their default is refused.
    """
    check_name("name", name)
    input_shape = check_image_shape("input_shape", input_shape, max_side=LENET_INPUT_SIZE)
    check_bool("include_top", include_top)
    check_int("classes", classes, low=2, high=MAX_UNITS)
    check_activation("classifier_activation", classifier_activation, allow_none=True)
    check_weights(weights)
    if not include_top:
        _check_no_head(variant, "classes", classes, 10)
        _check_no_head(variant, "classifier_activation", classifier_activation, "softmax")
    return input_shape


def _check_no_head(variant, arg, value, default):
    """Refuses a head argument other than its default on a model without the head."""
    if value != default:
        raise not_applicable(
            arg, value, variant=f"{variant} with include_top=False",
            applies_to="the classifier (include_top=True)",
        )  # fmt: skip


def _padded_input(input_shape, name):
    """The model input, zero-padded (centred) to the 32x32 field LeNet-5 was designed for."""
    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    pad_h = LENET_INPUT_SIZE - input_shape[0]
    pad_w = LENET_INPUT_SIZE - input_shape[1]
    if pad_h == pad_w == 0:
        return inputs, inputs
    padding = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
    return inputs, layers.ZeroPadding2D(padding, name=f"{name}_pad")(inputs)


def _finish(inputs, features, classes, head, classifier_activation, include_top, weights, name):
    """Adds the classifier head, builds the model and loads `weights` if given."""
    outputs = features
    if include_top:
        if head == "rbf":
            distances = EuclideanRBF(classes, name=f"{name}_rbf")(features)
            logits = layers.Rescaling(-1.0, name=f"{name}_neg_distance")(distances)
        else:
            logits = layers.Dense(classes, name=f"{name}_logits")(features)
        outputs = layers.Activation(classifier_activation, name=f"{name}_predictions")(logits)
    return load_weights(keras.Model(inputs, outputs, name=name), weights)


@register_model
@shipped_weights("lenet5")
def lenet5(
    input_shape=(28, 28, 1),
    classes=10,
    include_top=True,
    weights=None,
    head="softmax",
    classifier_activation="softmax",
    name="lenet5",
):
    """LeNet-5 as in LeCun et al. 1998: tanh, trainable subsampling, partial C3 table.

    C1 6@5x5 -> S2 trainable 2x2 subsampling -> C3 16@5x5 over the paper's partial
    connection table (Table I) -> S4 -> C5 120@5x5 -> F6 84 -> classifier. Every hidden
    unit uses the scaled tanh `1.7159 tanh(2x/3)` and weights start uniform in
    +-2.4/fan_in, as in the paper. Inputs smaller than 32x32 are zero-padded inside the
    model.

    Args:
        input_shape: `(height, width, channels)`, at most 32x32, at most 4,096 channels.
            Defaults to (28, 28, 1).
        classes: Number of classes, 2 to 65,536. Defaults to 10.
        include_top: Whether to add the classifier; if False the output is F6 (84 units)
            and `classes`, `head` and `classifier_activation` must keep their defaults.
        weights: None, the path of a weights file of this architecture, or the name of a
            checkpoint shipped with zoo (`zoo weights` lists them: "mnist", ...).
        head: "softmax" (a dense layer) or "rbf" (the paper's Euclidean RBF units with
            fixed +-1 prototypes, probabilities from `softmax(-distance)`).
        classifier_activation: Activation of the output; None returns logits.
        name: Model name, also the prefix of every layer name.

    Returns:
        An uncompiled `keras.Model`.

    Example:

    >>> model = lenet5()
    >>> model.output_shape
    (None, 10)
    """
    input_shape = _validate(
        "lenet5", input_shape, classes, include_top, weights, classifier_activation, name
    )
    check_choice("head", head, HEADS)
    if not include_top:
        _check_no_head("lenet5", "head", head, "softmax")
    inputs, x = _padded_input(input_shape, name)

    def conv(filters, layer_name, **kwargs):
        conv_cls = PartialConv2D if "connection_table" in kwargs else layers.Conv2D
        return conv_cls(
            filters,
            5,
            activation=scaled_tanh,
            kernel_initializer=FanInUniform(),
            name=f"{name}_{layer_name}",
            **kwargs,
        )

    x = conv(6, "c1")(x)
    x = Subsampling2D(2, activation=scaled_tanh, name=f"{name}_s2")(x)
    x = conv(16, "c3", connection_table=LENET5_C3_TABLE)(x)
    x = Subsampling2D(2, activation=scaled_tanh, name=f"{name}_s4")(x)
    x = conv(120, "c5")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(
        84, activation=scaled_tanh, kernel_initializer=FanInUniform(), name=f"{name}_f6"
    )(x)
    return _finish(inputs, x, classes, head, classifier_activation, include_top, weights, name)


@register_model
@shipped_weights("lenet5_modern")
def lenet5_modern(
    input_shape=(28, 28, 1),
    classes=10,
    include_top=True,
    weights=None,
    filters=(6, 16),
    units=(120, 84),
    norm="none",
    batch_norm=False,
    activation="relu",
    kernel_initializer="he_normal",
    dropout=0.0,
    classifier_activation="softmax",
    name="lenet5_modern",
):
    """LeNet-5 with today's defaults: ReLU, max pooling, optional batch norm and dropout.

    Same topology as `lenet5` (two 5x5 conv + pool stages, then 120 and 84 units), with
    full connections between maps, He initialisation and a softmax head. Normalisation,
    activation and initialisation are arguments, to compare what a course teaches:
    normalisation after each conv and dense layer, before its activation (batch: Ioffe &
    Szegedy 2015; layer: Ba et al. 2016; group: Wu & He 2018; instance: Ulyanov et al.
    2016), sigmoid or tanh against ReLU, Glorot against He initialisation.

    Args:
        input_shape: `(height, width, channels)`, at most 32x32, at most 4,096 channels.
            Defaults to (28, 28, 1).
        classes: Number of classes, 2 to 65,536. Defaults to 10.
        include_top: Whether to add the classifier; if False the output is the last
            hidden layer and `classes` and `classifier_activation` must keep their
            defaults.
        weights: None, the path of a weights file of this architecture, or the name of a
            checkpoint shipped with zoo (`zoo weights` lists them: "mnist", ...).
        filters: Maps of the two conv layers, each 1 to 4,096. Defaults to (6, 16).
        units: Units of the hidden dense layers (one or more), each 1 to 65,536.
            Defaults to (120, 84).
        norm: Normalisation after each conv and dense layer, one of `NORMS`: "none",
            "batch", "layer" (over a layer's channels), "group" (`GroupNormalization` in
            gcd(channels, 4) groups) or "instance" (each map of a conv layer over its
            positions; a dense layer, which has no positions, gets layer norm). Layers
            followed by a normalisation have no bias (its offset takes the bias's
            place). Defaults to "none".
        batch_norm: The older spelling of `norm="batch"`: True is the same as
            `norm="batch"`, and refused with another `norm`. Defaults to False.
        activation: Activation of the hidden layers, one of `ACTIVATIONS`: "relu",
            "leaky_relu", "elu", "tanh" or "sigmoid". Defaults to "relu".
        kernel_initializer: Initializer of the conv and hidden dense kernels: a Keras
            initializer or its name ("he_normal" for ReLU, "glorot_uniform" for tanh and
            sigmoid, ...). Defaults to "he_normal".
        dropout: Dropout rate after each hidden dense layer, in [0, 1). Defaults to 0.
        classifier_activation: Activation of the output; None returns logits.
        name: Model name, also the prefix of every layer name.

    Returns:
        An uncompiled `keras.Model`.
    """
    input_shape = _validate(
        "lenet5_modern", input_shape, classes, include_top, weights, classifier_activation, name
    )
    filters = check_ints("filters", filters, low=1, high=MAX_CHANNELS, min_len=2, max_len=2)
    units = check_ints("units", units, low=1, high=MAX_UNITS, min_len=1)
    norm = _check_norm(norm, check_bool("batch_norm", batch_norm))
    activation = check_choice("activation", activation, ACTIVATIONS)
    kernel_initializer = check_initializer("kernel_initializer", kernel_initializer)
    dropout = check_float("dropout", dropout, low=0, high=1, high_open=True)
    inputs, x = _padded_input(input_shape, name)

    def block(layer, x, layer_name):
        x = layer(
            use_bias=norm == "none",
            kernel_initializer=kernel_initializer,
            name=f"{name}_{layer_name}",
        )(x)
        x = _normalization(norm, x, f"{name}_{layer_name}_{NORM_SUFFIXES.get(norm)}")
        return layers.Activation(activation, name=f"{name}_{layer_name}_{activation}")(x)

    for i, f in enumerate(filters, start=1):
        x = block(functools.partial(layers.Conv2D, f, 5), x, f"conv{i}")
        x = layers.MaxPooling2D(2, name=f"{name}_pool{i}")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    for i, u in enumerate(units, start=1):
        x = block(functools.partial(layers.Dense, u), x, f"fc{i}")
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_fc{i}_dropout")(x)
    return _finish(inputs, x, classes, "softmax", classifier_activation, include_top, weights, name)


def _check_norm(norm, batch_norm):
    """`norm` checked against `NORMS`, with `batch_norm=True` as `norm="batch"`."""
    norm = check_choice("norm", norm, NORMS)
    if batch_norm and norm not in ("none", "batch"):
        raise ValueError(
            "batch_norm=True is norm='batch'; pass norm alone. Received: batch_norm=True, "
            f"norm={norm!r}"
        )
    return "batch" if batch_norm else norm


def _normalization(norm, x, layer_name):
    """`x` through the normalisation `norm` names (none: `x` itself)."""
    channels = x.shape[-1]
    if norm == "none":
        return x
    if norm == "batch":
        return layers.BatchNormalization(name=layer_name)(x)
    if norm == "layer" or (norm == "instance" and len(x.shape) == 2):
        return layers.LayerNormalization(name=layer_name)(x)
    groups = -1 if norm == "instance" else math.gcd(channels, MAX_NORM_GROUPS)
    return layers.GroupNormalization(groups=groups, name=layer_name)(x)
