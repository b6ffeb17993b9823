"""Weight initialisers that Keras does not ship."""

import keras

from zoo._checks import check_float, check_seed


@keras.saving.register_keras_serializable(package="zoo")
class FanInUniform(keras.initializers.Initializer):
    """Uniform in `[-limit / fan_in, limit / fan_in]`, LeCun et al. 1998's initialisation.

    The paper (Appendix C) draws every weight uniformly between -2.4/F and 2.4/F, where F
    is the number of inputs of the unit. Unlike `keras.initializers.LecunUniform`, the
    bound falls as 1/F, not 1/sqrt(F).

    Args:
        limit: Numerator of the bound, a finite number > 0. Defaults to 2.4.
        seed: Optional int seed for reproducible weights, in [0, 2**32 - 1].
    """

    def __init__(self, limit=2.4, seed=None):
        self.limit = check_float("limit", limit, low=0, low_open=True)
        self.seed = check_seed("seed", seed)
        self._inner_seed = seed if seed is not None else keras.random.SeedGenerator()

    def __call__(self, shape, dtype=None):
        # Dense kernels are (fan_in, units); conv kernels (*spatial, in_channels, filters).
        fan_in = 1
        for dim in shape[:-1]:
            fan_in *= dim
        bound = self.limit / max(fan_in, 1)
        return keras.random.uniform(shape, -bound, bound, dtype=dtype, seed=self._inner_seed)

    def get_config(self):
        return {"limit": self.limit, "seed": self.seed}
