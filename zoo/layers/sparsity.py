"""Sparse codes: the KL sparsity regulariser and the k-sparse layer with its k schedule.

The L1 penalty on the code needs nothing new: `keras.regularizers.L1(l1)` as the code
layer's `activity_regularizer`.
"""

import contextlib

import keras
from keras import ops

from zoo._checks import check_float, check_int

_EPSILON = 1e-7


@keras.saving.register_keras_serializable(package="zoo")
class KLSparsity(keras.regularizers.Regularizer):
    """Pulls each unit's mean activation over a batch towards a target rate `target`.

    The sparse autoencoder penalty of Ng's CS294A notes: `weight * sum_j KL(rho || rho_j)`
    where `rho_j` is unit j's mean activation over the batch and `KL` the divergence of
    two Bernoulli distributions. Use it as the `activity_regularizer` of a code layer with
    activations in (0, 1) (sigmoid).

    Keras divides every activity-regularisation loss by the batch size; the KL term is
    already a per-batch quantity, so `__call__` returns it multiplied by the batch size and
    the loss that reaches training is exactly `weight * sum_j KL(rho || rho_j)`.

    Args:
        target: The target mean activation rho, in (0, 1). Defaults to 0.05.
        weight: The penalty's weight beta, >= 0. Defaults to 1.0.
    """

    def __init__(self, target=0.05, weight=1.0):
        self.target = check_float("target", target, low=0, high=1, low_open=True, high_open=True)
        self.weight = check_float("weight", weight, low=0)

    def divergence(self, x):
        """`sum_j KL(target || mean activation of unit j)` over the batch `x`."""
        axes = tuple(range(len(x.shape) - 1))
        rate = ops.clip(ops.mean(x, axis=axes), _EPSILON, 1.0 - _EPSILON)
        rho = self.target
        kl = rho * ops.log(rho / rate) + (1.0 - rho) * ops.log((1.0 - rho) / (1.0 - rate))
        return ops.sum(kl)

    def __call__(self, x):
        batch_size = ops.cast(ops.shape(x)[0], x.dtype)
        return self.weight * self.divergence(x) * batch_size

    def get_config(self):
        return {"target": self.target, "weight": self.weight}


@keras.saving.register_keras_serializable(package="zoo")
class KSparse(keras.layers.Layer):
    """Keeps the k largest activations of each example and sets the others to zero.

    Makhzani & Frey 2013, "k-Sparse Autoencoders": in training the layer keeps the top
    `k` units (`supp_k`); at inference it keeps the top `alpha * k`, the paper's encoding
    for classification. Gradients flow only through the kept units. The number kept in
    training is a non-trainable variable, so `KSparseSchedule` can start from a larger k
    and lower it, as the paper does.

    Args:
        k: Units kept per example in training, >= 1 and at most the input's last dimension.
        alpha: Inference keeps `min(units, round(alpha * k))` units; a finite number >= 1.
            Defaults to 1.0.

    Example:

        code = KSparse(25)(keras.layers.Dense(1000)(x))
    """

    def __init__(self, k, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.k = check_int("k", k, low=1)
        self.alpha = check_float("alpha", alpha, low=1)

    def build(self, input_shape):
        self.units = int(input_shape[-1])
        if self.k > self.units:
            raise ValueError(
                f"k must be at most the number of units ({self.units}). Received: k={self.k}"
            )
        self.training_k = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.k),
            dtype="int32",
            trainable=False,
            name="training_k",
        )

    @property
    def inference_k(self):
        return round(min(self.alpha * self.k, self.units))  # alpha * k may overflow to inf

    def call(self, inputs, training=False):
        k = self.training_k if training else self.inference_k
        ranked = ops.top_k(inputs, self.units, sorted=True)[0]
        threshold = ops.expand_dims(ops.take(ranked, k - 1, axis=-1), -1)
        keep = ops.cast(inputs >= threshold, inputs.dtype)
        return inputs * ops.stop_gradient(keep)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "k": self.k, "alpha": self.alpha}


class KSparseSchedule(keras.callbacks.Callback):
    """Lowers the training k of every `KSparse` layer linearly from `start_k` to its `k`.

    Makhzani & Frey 2013, section 3.2: a large k at first keeps units from dying; the
    paper goes from k=100 down to the target over the first half of the epochs.

    Args:
        start_k: k at epoch 0 (values below a layer's own `k` are raised to it).
        ramp_epochs: Epochs over which k falls to each layer's target; an int >= 1.
    """

    def __init__(self, start_k, ramp_epochs):
        super().__init__()
        self.start_k = check_int("start_k", start_k, low=1)
        self.ramp_epochs = check_int("ramp_epochs", ramp_epochs, low=1)

    def on_epoch_begin(self, epoch, logs=None):
        progress = min(1.0, epoch / self.ramp_epochs)
        for layer in _sublayers(self.model, KSparse):
            start = min(max(self.start_k, layer.k), layer.units)
            layer.training_k.assign(round(start + (layer.k - start) * progress))


@contextlib.contextmanager
def ksparse_alpha(model, alpha):
    """Sets the inference `alpha` of every `KSparse` layer in `model` (nested models too)
    inside the `with` block, and gives each layer its own back on leaving it.

    k-sparse training optimises the reconstruction from `k` units, while the paper's
    encoding for features keeps `alpha * k`: validating with `alpha=1` makes the
    validation loss (and so early stopping and the best checkpoint) measure what training
    optimises. The compiled functions of `model` and its nested models are reset on entry
    and exit, because `alpha * k` is read when they are traced. Yields the layers changed
    (none when `model` has no `KSparse` layer).

    Example:

        with ksparse_alpha(autoencoder, 1.0):
            autoencoder.fit(x, x, validation_data=(x_val, x_val))
    """
    alpha = check_float("alpha", alpha, low=1)
    layers = list(_sublayers(model, KSparse))
    own = [layer.alpha for layer in layers]
    _set_alphas(model, layers, [alpha] * len(layers))
    try:
        yield layers
    finally:
        _set_alphas(model, layers, own)


def _set_alphas(model, layers, alphas):
    for layer, alpha in zip(layers, alphas, strict=True):
        layer.alpha = alpha
    for traced in (model, *(layer for layer in _sublayers(model, keras.Model))):
        traced.train_function = traced.test_function = traced.predict_function = None


def _sublayers(model, cls):
    """Every layer of type `cls` in `model`, looking inside nested models."""
    for layer in model.layers:
        if isinstance(layer, cls):
            yield layer
        if hasattr(layer, "layers"):
            yield from _sublayers(layer, cls)
