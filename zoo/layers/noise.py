"""Input corruption for denoising autoencoders, active only in training.

Additive Gaussian noise is Keras' own `keras.layers.GaussianNoise`; this module adds the
two kinds of impulse noise of Vincent et al. 2010, section 4.2.
"""

import keras
from keras import ops

from zoo._checks import check_float, check_seed


class _ImpulseNoise(keras.layers.Layer):
    """Shared argument checking, seeding and config of the impulse-noise layers."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_float("rate", rate, low=0, high=1, high_open=True)
        self.seed = check_seed("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        return self._corrupt(inputs)

    def _hit(self, inputs):
        """A boolean tensor, True with probability `rate` for each input value."""
        draw = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator)
        return draw < self.rate

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="zoo")
class MaskingNoise(_ImpulseNoise):
    """Sets each input value to 0 with probability `rate`, in training only.

    Vincent et al. 2010's "masking noise". Unlike `keras.layers.Dropout` it does not
    rescale the values it keeps: the autoencoder must fill in what is missing.

    Args:
        rate: Probability in [0, 1) that a value is zeroed.
        seed: Optional int seed, in [0, 2**32 - 1].

    Example:

        noisy = MaskingNoise(0.25, seed=0)(images, training=True)
    """

    def _corrupt(self, inputs):
        return ops.where(self._hit(inputs), ops.zeros_like(inputs), inputs)


@keras.saving.register_keras_serializable(package="zoo")
class SaltAndPepperNoise(_ImpulseNoise):
    """Sets each input value, with probability `rate`, to `low` or `high` (a coin flip).

    Vincent et al. 2010's "salt-and-pepper noise", in training only.

    Args:
        rate: Probability in [0, 1) that a value is replaced.
        low: The "pepper" value, finite. Defaults to 0.0 (min-max scaled images).
        high: The "salt" value, finite and > `low`. Defaults to 1.0.
        seed: Optional int seed, in [0, 2**32 - 1].
    """

    def __init__(self, rate, low=0.0, high=1.0, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.low = check_float("low", low)
        self.high = check_float("high", high)
        if not self.low < self.high:
            raise ValueError(f"low must be < high. Received: low={low!r}, high={high!r}")

    def _corrupt(self, inputs):
        salt = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) < 0.5
        value = ops.where(salt, self.high, self.low)
        return ops.where(self._hit(inputs), ops.cast(value, inputs.dtype), inputs)

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}
