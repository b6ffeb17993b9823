"""Sparse codes: the KL sparsity regulariser and the k-sparse layer with its k schedule.

The L1 penalty on the code needs nothing new: `keras.regularizers.L1(l1)` as the code
layer's `activity_regularizer`.
"""

import keras
from keras import ops

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
        if not 0.0 < target < 1.0:
            raise ValueError(f"target must be in (0, 1). Received: target={target}")
        if weight < 0:
            raise ValueError(f"weight must be >= 0. Received: weight={weight}")
        self.target = float(target)
        self.weight = float(weight)

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
        alpha: Inference keeps `min(units, round(alpha * k))` units. Defaults to 1.0.

    Example:

        code = KSparse(25)(keras.layers.Dense(1000)(x))
    """

    def __init__(self, k, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an int >= 1. Received: k={k!r}")
        if alpha < 1.0:
            raise ValueError(f"alpha must be >= 1. Received: alpha={alpha}")
        self.k = k
        self.alpha = float(alpha)

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
        return min(self.units, round(self.alpha * self.k))

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
        ramp_epochs: Epochs over which k falls to each layer's target; >= 1.
    """

    def __init__(self, start_k, ramp_epochs):
        super().__init__()
        if isinstance(start_k, bool) or not isinstance(start_k, int) or start_k < 1:
            raise ValueError(f"start_k must be an int >= 1. Received: start_k={start_k!r}")
        if ramp_epochs < 1:
            raise ValueError(f"ramp_epochs must be >= 1. Received: ramp_epochs={ramp_epochs}")
        self.start_k = start_k
        self.ramp_epochs = ramp_epochs

    def on_epoch_begin(self, epoch, logs=None):
        progress = min(1.0, epoch / self.ramp_epochs)
        for layer in _sublayers(self.model, KSparse):
            start = min(max(self.start_k, layer.k), layer.units)
            layer.training_k.assign(round(start + (layer.k - start) * progress))


def _sublayers(model, cls):
    """Every layer of type `cls` in `model`, looking inside nested models."""
    for layer in model.layers:
        if isinstance(layer, cls):
            yield layer
        if hasattr(layer, "layers"):
            yield from _sublayers(layer, cls)
