"""The autoencoder family: dense, deep, convolutional, denoising, sparse, contractive, tied.

Every factory returns an uncompiled `Autoencoder`: a `keras.Model` holding an `.encoder`
(x -> code h) and a `.decoder` (h -> x_hat), both usable on their own, and an optional
`.corruption` layer applied to the input in training only (denoising). Compile it with a
reconstruction loss and fit it on `(x, x)`:

    model = zoo.create_model("ae/denoising", input_shape=(28, 28, 1), noise_level=0.3)
    model.compile("adam", "binary_crossentropy")
    model.fit(images, images, epochs=10)
    codes = model.encoder.predict(images)

References:
    P. Vincent et al., "Stacked denoising autoencoders", JMLR 11, 2010.
    A. Makhzani, B. Frey, "k-Sparse autoencoders", arXiv:1312.5663, 2013.
    S. Rifai et al., "Contractive auto-encoders", ICML 2011.
    G. Hinton, R. Salakhutdinov, "Reducing the dimensionality of data with neural
    networks", Science 313, 2006 (deep autoencoders, layer-wise pretraining).
"""

import inspect
import math
import warnings

import keras
from keras import layers, ops

from zoo._checks import (
    MAX_CHANNELS,
    MAX_UNITS,
    check_activation,
    check_bool,
    check_choice,
    check_float,
    check_image_shape,
    check_int,
    check_ints,
    check_name,
    check_regularizer,
    check_seed,
    check_shape,
    not_applicable,
)
from zoo.layers import (
    ContractiveDense,
    KLSparsity,
    KSparse,
    MaskingNoise,
    SaltAndPepperNoise,
    TiedDense,
    tie_scope,
)
from zoo.models._weights import check_weights, load_weights, shipped_weights
from zoo.registry import get_model_factory, register_model

NOISES = ("gaussian", "masking", "salt_and_pepper")

# The keyword options of the dense and the convolutional builder.
_DENSE_OPTIONS = frozenset(
    {"hidden", "activation", "code_activation", "output_activation", "tied", "noise",
     "noise_level", "dropout", "code_regularizer", "k", "alpha", "contraction", "seed"}
)  # fmt: skip
_CONV_OPTIONS = frozenset(
    {"kernel_size", "activation", "code_activation", "output_activation", "noise",
     "noise_level", "seed"}
)  # fmt: skip
# What each variant takes through its **kwargs; any other keyword is refused, naming the
# variants it applies to. A variant does not take an option that would override its own
# structure: the sparse codes' penalties live in their code layer (a contractive code
# layer would drop them), k-sparse codes are linear, contractive ones one sigmoid layer.
_OPTIONS = {
    "ae/dense": _DENSE_OPTIONS,
    "ae/deep": _DENSE_OPTIONS - {"contraction"},
    "ae/conv": _CONV_OPTIONS,
    "ae/denoising": _DENSE_OPTIONS,
    "ae/sparse_l1": _DENSE_OPTIONS - {"code_regularizer", "contraction"},
    "ae/sparse_kl": _DENSE_OPTIONS - {"code_regularizer", "contraction", "code_activation"},
    "ae/ksparse": _DENSE_OPTIONS - {"code_activation", "contraction"},
    "ae/contractive": _DENSE_OPTIONS - {"hidden", "code_activation", "code_regularizer"},
    "ae/tied": _DENSE_OPTIONS - {"tied"},
}


@keras.saving.register_keras_serializable(package="zoo")
class Autoencoder(keras.Model):
    """`decoder(encoder(corruption(x)))`, with the corruption active only in training.

    A functional model (so `input_shape`, `summary()` and export work as usual) whose
    config holds its encoder, decoder and corruption layer; loading re-ties tied weights.

    Args:
        encoder: A `keras.Model` from inputs to codes.
        decoder: A `keras.Model` from codes to reconstructions of the inputs.
        corruption: Optional layer that corrupts the input when `training` is true
            (`keras.layers.GaussianNoise`, `zoo.layers.MaskingNoise`, ...). The loss still
            compares the reconstruction with the clean input.
    """

    def __init__(self, encoder, decoder, corruption=None, name="autoencoder", **kwargs):
        inputs = keras.Input(shape=encoder.input_shape[1:], name=f"{name}_input")
        x = corruption(inputs) if corruption is not None else inputs
        super().__init__(inputs, decoder(encoder(x)), name=name, **kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.corruption = corruption

    def reconstruction_error(self, inputs):
        """Mean squared error of each example's reconstruction, shape `(batch,)`."""
        return _per_example_mse(self(inputs, training=False), inputs)

    def serving_outputs(self, inputs):
        """The outputs of an exported autoencoder (see `zoo.export.export`)."""
        code = self.encoder(inputs, training=False)
        reconstruction = self.decoder(code, training=False)
        return {
            "reconstruction": reconstruction,
            "code": code,
            "reconstruction_error": _per_example_mse(reconstruction, inputs),
        }

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            "name": self.name,
            "encoder": serialize(self.encoder),
            "decoder": serialize(self.decoder),
            "corruption": serialize(self.corruption) if self.corruption is not None else None,
        }

    @classmethod
    def from_config(cls, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        encoder = deserialize(config.pop("encoder"))
        with tie_scope(encoder):  # the decoder's tied layers find their encoder kernels
            decoder = deserialize(config.pop("decoder"))
        corruption = config.pop("corruption")
        corruption = deserialize(corruption) if corruption is not None else None
        return cls(encoder, decoder, corruption, **config)


def _per_example_mse(reconstruction, inputs):
    squared = ops.square(reconstruction - inputs)
    return ops.mean(ops.reshape(squared, (ops.shape(inputs)[0], -1)), axis=-1)


# --- the private builders ---------------------------------------------------------------


def _dense_autoencoder(
    name,
    input_shape,
    *,
    code_size,
    hidden=(),
    activation="relu",
    code_activation="relu",
    output_activation="sigmoid",
    tied=False,
    noise=None,
    noise_level=0.0,
    dropout=0.0,
    code_regularizer=None,
    k=None,
    alpha=1.0,
    contraction=None,
    weights=None,
    seed=None,
):
    """Fully connected encoder `input -> hidden... -> code` and its mirror as decoder.

    Encoder layers are `{name}_enc1 .. {name}_enc{L}` (the last is the code layer); the
    decoder layer `{name}_dec{i}` reconstructs the input of `{name}_enc{i}`, so
    `({name}_enc{i}, {name}_dec{i})` is the shallow autoencoder of layer i that
    `greedy_pretrain` trains.
    """
    name = check_name("name", name)
    input_shape = check_shape("input_shape", input_shape)
    code_size = check_int("code_size", code_size, low=1, high=MAX_UNITS)
    hidden = check_ints("hidden", hidden, low=1, high=MAX_UNITS)
    activation, code_activation, output_activation = (
        check_activation(arg, value, allow_none=True)
        for arg, value in (
            ("activation", activation),
            ("code_activation", code_activation),
            ("output_activation", output_activation),
        )
    )
    tied = check_bool("tied", tied)
    dropout = check_float("dropout", dropout, low=0, high=1, high_open=True)
    code_regularizer = check_regularizer("code_regularizer", code_regularizer)
    if k is not None:
        k = check_int("k", k, low=1, high=code_size)
        alpha = check_float("alpha", alpha, low=1)
    if contraction is not None:
        contraction = check_float("contraction", contraction, low=0)
        if hidden:
            raise ValueError(
                "The contractive penalty is exact for one sigmoid layer on the input; "
                f"use hidden=(). Received: hidden={hidden!r}, contraction={contraction!r}"
            )
    seed = check_seed("seed", seed)
    check_weights(weights)
    corruption = _corruption(noise, noise_level, seed, name)
    size = math.prod(input_shape)
    noisy = corruption is not None and noise_level > 0
    if code_size >= size and not (noisy or dropout or code_regularizer or k or contraction or tied):
        warnings.warn(
            f"{name}: code_size={code_size} >= the input's {size} values and no regulariser "
            "(noise, dropout, sparsity, contraction or tied weights): the autoencoder can "
            "learn the identity.",
            stacklevel=3,
        )

    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    x = layers.Flatten(name=f"{name}_flatten")(inputs)
    encoding = []
    for i, units in enumerate(hidden, start=1):
        encoding.append(layers.Dense(units, activation=activation, name=f"{name}_enc{i}"))
        x = encoding[-1](x)
    if dropout:
        x = layers.Dropout(dropout, seed=seed, name=f"{name}_dropout")(x)
    code_name = f"{name}_enc{len(hidden) + 1}"
    if contraction is not None:
        encoding.append(ContractiveDense(code_size, contraction=contraction, name=code_name))
    else:
        encoding.append(
            layers.Dense(
                code_size,
                activation=code_activation,
                activity_regularizer=code_regularizer,
                name=code_name,
            )
        )
    code = encoding[-1](x)
    if k is not None:
        code = KSparse(k, alpha=alpha, name=f"{name}_ksparse")(code)
    encoder = keras.Model(inputs, code, name=f"{name}_encoder")

    code_input = keras.Input(shape=(code_size,), name=f"{name}_code")
    widths = (size, *hidden)
    y = code_input
    for i in range(len(encoding), 0, -1):
        act = output_activation if i == 1 else activation
        if tied:
            y = TiedDense(encoding[i - 1], activation=act, name=f"{name}_dec{i}")(y)
        else:
            y = layers.Dense(widths[i - 1], activation=act, name=f"{name}_dec{i}")(y)
    y = layers.Reshape(tuple(input_shape), name=f"{name}_reconstruction")(y)
    decoder = keras.Model(code_input, y, name=f"{name}_decoder")
    return _finish(encoder, decoder, corruption, weights, name)


def _conv_autoencoder(
    name,
    input_shape,
    *,
    code_size,
    filters=(32, 64),
    kernel_size=3,
    activation="relu",
    code_activation="linear",
    output_activation="sigmoid",
    noise=None,
    noise_level=0.0,
    weights=None,
    seed=None,
):
    """Conv + 2x2 max-pool blocks, a dense code, and transposed convolutions back up."""
    name = check_name("name", name)
    input_shape = check_image_shape("input_shape", input_shape)
    code_size = check_int("code_size", code_size, low=1, high=MAX_UNITS)
    filters = check_ints("filters", filters, low=1, high=MAX_CHANNELS, min_len=1)
    height, width, channels = input_shape
    kernel_size = check_int("kernel_size", kernel_size, low=1, high=min(height, width))
    factor = 2 ** len(filters)
    if height % factor or width % factor:
        raise ValueError(
            f"input_shape's height and width must be multiples of {factor} for "
            f"{len(filters)} pooling blocks; resize the images (e.g. data.load(..., "
            f"image_size=...)) or use fewer filters. Received: input_shape={input_shape!r}, "
            f"filters={filters!r}"
        )
    activation, code_activation, output_activation = (
        check_activation(arg, value, allow_none=True)
        for arg, value in (
            ("activation", activation),
            ("code_activation", code_activation),
            ("output_activation", output_activation),
        )
    )
    seed = check_seed("seed", seed)
    check_weights(weights)
    corruption = _corruption(noise, noise_level, seed, name)

    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    x = inputs
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(
            f, kernel_size, padding="same", activation=activation, name=f"{name}_enc_conv{i}"
        )(x)
        x = layers.MaxPooling2D(2, name=f"{name}_enc_pool{i}")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    code = layers.Dense(code_size, activation=code_activation, name=f"{name}_enc_code")(x)
    encoder = keras.Model(inputs, code, name=f"{name}_encoder")

    code_input = keras.Input(shape=(code_size,), name=f"{name}_code")
    small = (height // factor, width // factor, filters[-1])
    y = layers.Dense(math.prod(small), activation=activation, name=f"{name}_dec_dense")(code_input)
    y = layers.Reshape(small, name=f"{name}_dec_reshape")(y)
    for i in range(len(filters), 0, -1):
        y = layers.Conv2DTranspose(
            filters[i - 1],
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            name=f"{name}_dec_deconv{i}",
        )(y)
    y = layers.Conv2D(
        channels,
        kernel_size,
        padding="same",
        activation=output_activation,
        name=f"{name}_reconstruction",
    )(y)
    decoder = keras.Model(code_input, y, name=f"{name}_decoder")
    return _finish(encoder, decoder, corruption, weights, name)


def _finish(encoder, decoder, corruption, weights, name):
    return load_weights(Autoencoder(encoder, decoder, corruption, name=name), weights)


def _corruption(noise, level, seed, name):
    check_choice("noise", noise, (None, *NOISES))
    if noise is None:
        return None
    layer_name = f"{name}_{noise}_noise"
    if noise == "gaussian":  # the level is a standard deviation
        level = check_float("noise_level", level, low=0)
        return layers.GaussianNoise(level, seed=seed, name=layer_name)
    level = check_float("noise_level", level, low=0, high=1, high_open=True)  # a probability
    cls = MaskingNoise if noise == "masking" else SaltAndPepperNoise
    return cls(level, seed=seed, name=layer_name)


def _options(variant, options, **own):
    """Checks the keyword options a caller gave `variant` (`options`, its **kwargs) and
    how they combine with the variant's own arguments (`own`); returns `options`.

    An option the variant does not take is refused, never silently ignored: `ValueError`
    naming the variants it applies to, or `TypeError` for a name no variant takes.
    """
    for arg, value in options.items():
        if arg not in _OPTIONS[variant]:
            takers = [name for name in _OPTIONS if arg in _arguments(name)]
            if not takers:
                raise TypeError(f"{variant} got an unexpected keyword argument {arg!r}")
            raise not_applicable(arg, value, variant=variant, applies_to=", ".join(takers))
    given = {**own, **options}
    if given.get("contraction") is not None:
        for arg in ("code_activation", "code_regularizer"):
            if arg in options:  # the contractive code layer is sigmoid, with its own penalty
                raise not_applicable(
                    arg, options[arg], variant=f"{variant} with contraction",
                    applies_to="codes without contraction",
                )  # fmt: skip
    if "alpha" in options and given.get("k") is None:
        raise not_applicable(
            "alpha", options["alpha"], variant=f"{variant} without k", applies_to="k-sparse codes"
        )
    if "noise_level" in options and given.get("noise") is None:
        raise not_applicable(
            "noise_level", options["noise_level"], variant=f"{variant} without noise",
            applies_to=f"corrupted inputs (noise one of {', '.join(map(repr, NOISES))})",
        )  # fmt: skip
    return options


def _arguments(variant):
    """Every argument `variant` takes: its own and its keyword options."""
    own = inspect.signature(get_model_factory(variant)).parameters
    return _OPTIONS[variant] | {
        arg for arg, p in own.items() if p.kind is not inspect.Parameter.VAR_KEYWORD
    }


# --- the registered variants ------------------------------------------------------------


@register_model(name="ae/dense")
@shipped_weights("ae/dense")
def dense_autoencoder(
    input_shape=(28, 28, 1), code_size=32, weights=None, name="ae_dense", **kwargs
):
    """Dense autoencoder, undercomplete (code_size < inputs) or overcomplete.

    One hidden layer `h = relu(x W + b)`, `x_hat = sigmoid(h W' + b')`. An overcomplete
    one built with no regulariser warns that it can learn the identity.

    Args:
        input_shape: Shape of one example, at most 4,096**2 * 4 values in all (the bound
            of `zoo._checks.check_shape`). Defaults to (28, 28, 1).
        code_size: Units of the code layer, 1 to `zoo._checks.MAX_UNITS` (65,536).
            Defaults to 32.
        weights: None, the path of a weights file saved by this model, or the name of a
            checkpoint shipped with zoo (`zoo weights` lists them).
        name: Model name and layer-name prefix (a non-empty string without "/").
        **kwargs: `hidden` (units of hidden layers, each 1 to 65,536), `activation`,
            `code_activation` and `output_activation` (Keras activation names),
            `tied`, `noise` (None, "gaussian", "masking" or "salt_and_pepper"),
            `noise_level` (with `noise`), `dropout` (before the code, in [0, 1)),
            `code_regularizer` (a Keras regularizer or its name), `k` (1 to
            `code_size`: a k-sparse code), `alpha` (with `k`, >= 1), `contraction`
            (>= 0, with `hidden=()` and without `code_activation` or
            `code_regularizer`: a contractive code), `seed` (0 to 2**32 - 1); see the
            other ae variants. Any other keyword is refused.
    """
    options = _options("ae/dense", kwargs)
    return _dense_autoencoder(name, input_shape, code_size=code_size, weights=weights, **options)


@register_model(name="ae/deep")
@shipped_weights("ae/deep")
def deep_autoencoder(
    input_shape=(28, 28, 1),
    hidden=(256, 128),
    code_size=32,
    code_activation="linear",
    weights=None,
    name="ae_deep",
    **kwargs,
):
    """Deep dense autoencoder with any number of hidden layers; see `greedy_pretrain`.

    Hinton & Salakhutdinov 2006: layers mirrored around a linear code layer.

    Args:
        hidden: Units of the hidden layers between input and code, each 1 to 65,536.
            Defaults to (256, 128).
        code_activation: Defaults to "linear", as in the paper.
        **kwargs: as for `ae/dense` except `contraction` (exact for one layer only).
    """
    options = _options("ae/deep", kwargs)
    return _dense_autoencoder(
        name,
        input_shape,
        hidden=hidden,
        code_size=code_size,
        code_activation=code_activation,
        weights=weights,
        **options,
    )


@register_model(name="ae/conv")
@shipped_weights("ae/conv")
def conv_autoencoder(
    input_shape=(28, 28, 1),
    filters=(32, 64),
    code_size=32,
    weights=None,
    name="ae_conv",
    **kwargs,
):
    """Convolutional autoencoder: conv/max-pool encoder, dense code, transposed-conv decoder.

    Height and width must be multiples of `2 ** len(filters)`.

    Args:
        input_shape: `(height, width, channels)`, height and width multiples of
            `2 ** len(filters)` and at most 4,096, channels at most 4,096. Defaults to
            (28, 28, 1).
        filters: Filters of each conv + pool block, each 1 to 4,096. Defaults to (32, 64).
        code_size: Units of the dense code, 1 to 65,536. Defaults to 32.
        weights: None, the path of a weights file saved by this model, or the name of a
            checkpoint shipped with zoo (`zoo weights` lists them).
        name: Model name and layer-name prefix.
        **kwargs: `kernel_size` (1 to the smaller of height and width; 3 by default),
            `activation`, `code_activation`, `output_activation`, `noise`,
            `noise_level`, `seed`, as for the dense variants. Any other keyword is
            refused.
    """
    options = _options("ae/conv", kwargs)
    return _conv_autoencoder(
        name, input_shape, filters=filters, code_size=code_size, weights=weights, **options
    )


@register_model(name="ae/denoising")
@shipped_weights("ae/denoising")
def denoising_autoencoder(
    input_shape=(28, 28, 1),
    code_size=256,
    noise="masking",
    noise_level=0.25,
    weights=None,
    name="ae_denoising",
    **kwargs,
):
    """Denoising autoencoder (Vincent et al. 2010): corrupt in training, reconstruct clean.

    Args:
        noise: "masking" (zero each value with probability `noise_level`, the default),
            "salt_and_pepper", or "gaussian" (additive, stddev `noise_level`).
        noise_level: Probability in [0, 1), or a standard deviation >= 0. Defaults to 0.25.
        **kwargs: as for `ae/dense`.
    """
    check_choice("noise", noise, NOISES)
    options = _options("ae/denoising", kwargs, noise=noise)
    return _dense_autoencoder(
        name,
        input_shape,
        code_size=code_size,
        noise=noise,
        noise_level=noise_level,
        weights=weights,
        **options,
    )


@register_model(name="ae/sparse_l1")
@shipped_weights("ae/sparse_l1")
def sparse_l1_autoencoder(
    input_shape=(28, 28, 1), code_size=1000, l1=1e-4, weights=None, name="ae_sparse_l1", **kwargs
):
    """Overcomplete autoencoder with an L1 activity penalty on the code.

    The penalty is `l1 * sum_j |h_j|` per example.

    Args:
        l1: Weight of the penalty (per example), a finite number > 0. Defaults to 1e-4.
        **kwargs: as for `ae/dense` (`dropout` before the code, for instance) except
            `code_regularizer` and `contraction`, which would replace the L1 penalty.
    """
    l1 = check_float("l1", l1, low=0, low_open=True)
    options = _options("ae/sparse_l1", kwargs)
    return _dense_autoencoder(
        name,
        input_shape,
        code_size=code_size,
        code_regularizer=keras.regularizers.L1(l1),
        weights=weights,
        **options,
    )


@register_model(name="ae/sparse_kl")
@shipped_weights("ae/sparse_kl")
def sparse_kl_autoencoder(
    input_shape=(28, 28, 1),
    code_size=1000,
    target=0.05,
    sparsity_weight=0.003,
    weights=None,
    name="ae_sparse_kl",
    **kwargs,
):
    """Sigmoid code pulled towards a mean activation `target` by a KL-divergence penalty.

    Args:
        target: The target mean activation rho, in (0, 1). Defaults to 0.05.
        sparsity_weight: The penalty's weight beta, a finite number >= 0. Defaults to
            0.003: about the usual beta = 3 for a reconstruction loss averaged (not
            summed) over 784 pixels.
        **kwargs: as for `ae/dense` except `code_activation` (the code is sigmoid),
            `code_regularizer` and `contraction` (which would replace the KL penalty).
    """
    target = check_float("target", target, low=0, high=1, low_open=True, high_open=True)
    sparsity_weight = check_float("sparsity_weight", sparsity_weight, low=0)
    options = _options("ae/sparse_kl", kwargs)
    return _dense_autoencoder(
        name,
        input_shape,
        code_size=code_size,
        code_activation="sigmoid",
        code_regularizer=KLSparsity(target, sparsity_weight),
        weights=weights,
        **options,
    )


@register_model(name="ae/ksparse")
@shipped_weights("ae/ksparse")
def ksparse_autoencoder(
    input_shape=(28, 28, 1),
    code_size=1000,
    k=25,
    alpha=1.0,
    tied=True,
    output_activation="linear",
    weights=None,
    name="ae_ksparse",
    **kwargs,
):
    """k-sparse autoencoder (Makhzani & Frey 2013): linear code, only the k largest kept.

    As in the paper the weights are tied, the code is linear before the top-k selection
    and the reconstruction is linear (train it with squared error);
    `zoo.layers.KSparseSchedule` lowers k during training.

    Args:
        k: Units kept per example in training, 1 to `code_size`. Defaults to 25.
        alpha: Inference keeps `alpha * k` units (at most `code_size`); a finite number
            >= 1. Defaults to 1.0.
        tied: Tie the decoder to the encoder. Defaults to True.
        output_activation: Defaults to "linear", as in the paper.
        **kwargs: as for `ae/dense` except `code_activation` (the code is linear) and
            `contraction`.
    """
    k = check_int("k", k, low=1)  # and at most code_size, checked with it
    options = _options("ae/ksparse", kwargs, k=k)
    return _dense_autoencoder(
        name,
        input_shape,
        code_size=code_size,
        code_activation="linear",
        k=k,
        alpha=alpha,
        tied=tied,
        output_activation=output_activation,
        weights=weights,
        **options,
    )


@register_model(name="ae/contractive")
@shipped_weights("ae/contractive")
def contractive_autoencoder(
    input_shape=(28, 28, 1),
    code_size=1000,
    contraction=0.001,
    tied=True,
    weights=None,
    name="ae_contractive",
    **kwargs,
):
    """Contractive autoencoder (Rifai et al. 2011): loss plus a Jacobian-norm penalty.

    The penalty is `contraction * ||dh/dx||_F^2`.

    One sigmoid code layer on the input, whose Jacobian penalty is exact, and tied weights
    as in the paper.

    Args:
        contraction: The penalty's weight lambda, a finite number >= 0. Defaults to 0.001
            (for a reconstruction loss averaged over pixels; 0.01 over-contracts MNIST
            codes).
        tied: Tie the decoder to the encoder. Defaults to True.
        **kwargs: as for `ae/dense` except `hidden`, `code_activation` (the code is one
            sigmoid layer) and `code_regularizer`.
    """
    contraction = check_float("contraction", contraction, low=0)
    options = _options("ae/contractive", kwargs, contraction=contraction)
    return _dense_autoencoder(
        name,
        input_shape,
        code_size=code_size,
        contraction=contraction,
        tied=tied,
        weights=weights,
        **options,
    )


@register_model(name="ae/tied")
@shipped_weights("ae/tied")
def tied_autoencoder(input_shape=(28, 28, 1), code_size=32, weights=None, name="ae_tied", **kwargs):
    """Dense autoencoder whose decoder reuses the transposed encoder kernels.

    One set of weights (each decoder layer owns only a bias); the tie survives `.keras`
    save and load.

    Args:
        **kwargs: as for `ae/dense` (`hidden` for a deep tied autoencoder) except `tied`
            (always True here).
    """
    options = _options("ae/tied", kwargs)
    return _dense_autoencoder(
        name, input_shape, code_size=code_size, tied=True, weights=weights, **options
    )


# --- training helpers -------------------------------------------------------------------


def greedy_pretrain(
    model,
    x,
    *,
    epochs=5,
    batch_size=128,
    optimizer="adam",
    loss="mse",
    callbacks=None,
    verbose=0,
):
    """Greedy layer-wise pretraining of a dense autoencoder, in place.

    Layer i is trained as a shallow autoencoder `{name}_dec{i}(corrupt?({name}_enc{i}(h)))`
    on the codes `h` of the already trained layers below it (Hinton & Salakhutdinov 2006;
    Vincent et al. 2010 with the model's corruption on the first layer). The shallow
    models share their layers with `model`, so its weights are the pretrained ones
    afterwards; fine-tune end to end with `model.compile(...)` and `model.fit(x, x)`.

    Args:
        model: An `Autoencoder` from a dense factory (`ae/deep`, `ae/dense`, ...).
        x: numpy array of training inputs.
        epochs: Epochs per layer. Defaults to 5.
        batch_size: Defaults to 128.
        optimizer: An optimizer name or a callable returning a fresh optimizer; each layer
            gets its own. Defaults to "adam".
        loss: Reconstruction loss for every layer. Defaults to "mse".
        callbacks: Keras callbacks passed to each layer's `fit`.
        verbose: `fit` verbosity. Defaults to 0.

    Returns:
        A list with the `History` of each layer, bottom first.
    """
    pairs = _layer_pairs(model)
    check_int("epochs", epochs, low=1)
    check_int("batch_size", batch_size, low=1)
    histories = []
    features = x
    for i, (enc, dec) in enumerate(pairs, start=1):
        width = int(enc.kernel.shape[0])
        inputs = keras.Input(shape=(width,), name=f"{model.name}_pretrain{i}_input")
        h = inputs
        if i == 1 and model.corruption is not None:
            h = model.corruption(h)
        shallow = keras.Model(inputs, dec(enc(h)), name=f"{model.name}_pretrain{i}")
        shallow.compile(optimizer=optimizer() if callable(optimizer) else optimizer, loss=loss)
        flat = features.reshape(len(features), -1)
        histories.append(
            shallow.fit(
                flat,
                flat,
                epochs=epochs,
                batch_size=batch_size,
                callbacks=callbacks,
                verbose=verbose,
            )
        )
        features = keras.Model(inputs, enc(inputs)).predict(flat, batch_size=batch_size, verbose=0)
    return histories


def _layer_pairs(model):
    """The `(encoder layer, decoder layer)` pairs of a dense autoencoder, bottom first."""
    if not isinstance(model, Autoencoder):
        raise ValueError(f"model must be a zoo Autoencoder. Received: model={type(model).__name__}")
    names = {layer.name for layer in model.encoder.layers} | {
        layer.name for layer in model.decoder.layers
    }
    pairs = []
    i = 1
    while f"{model.name}_enc{i}" in names:
        enc = model.encoder.get_layer(f"{model.name}_enc{i}")
        dec_name = f"{model.name}_dec{i}"
        if dec_name not in names:
            break
        pairs.append((enc, model.decoder.get_layer(dec_name)))
        i += 1
    stacked = [layer for layer in model.encoder.layers if isinstance(layer, layers.Dense)]
    if not pairs or len(pairs) != len(stacked):
        raise ValueError(
            "greedy_pretrain needs a dense autoencoder whose layers are named "
            f"'<name>_enc<i>' / '<name>_dec<i>' (ae/deep, ae/dense, ...). "
            f"Received: model={model.name!r}"
        )
    return pairs


def encoder_classifier(
    autoencoder, classes=10, trainable=True, classifier_activation="softmax", name=None
):
    """A classifier whose features are the autoencoder's code: `softmax(dense(encoder(x)))`.

    The encoder's layers are shared, not copied: train with `trainable=False` for a
    linear probe on frozen codes, or `True` to fine-tune the pretrained encoder.

    Args:
        autoencoder: An `Autoencoder`.
        classes: Number of classes, 2 to 65,536. Defaults to 10.
        trainable: Whether the encoder trains with the head. Defaults to True.
        classifier_activation: Defaults to "softmax".
        name: Defaults to `<autoencoder name>_classifier`.

    Returns:
        An uncompiled `keras.Model` with the autoencoder's input shape.
    """
    if not isinstance(autoencoder, Autoencoder):
        raise TypeError(
            "autoencoder must be a zoo Autoencoder. "
            f"Received: autoencoder={type(autoencoder).__name__}"
        )
    classes = check_int("classes", classes, low=2, high=MAX_UNITS)
    trainable = check_bool("trainable", trainable)
    check_activation("classifier_activation", classifier_activation, allow_none=True)
    name = check_name("name", name or f"{autoencoder.name}_classifier")
    encoder = autoencoder.encoder
    encoder.trainable = trainable
    inputs = keras.Input(shape=encoder.input_shape[1:], name=f"{name}_input")
    code = encoder(inputs)
    outputs = layers.Dense(classes, activation=classifier_activation, name=f"{name}_predictions")(
        code
    )
    return keras.Model(inputs, outputs, name=name)
