"""LeNet-5's Euclidean radial basis function output layer."""

import keras
from keras import ops

from zoo._checks import MAX_UNITS, check_bool, check_int, check_seed


@keras.saving.register_keras_serializable(package="zoo")
class EuclideanRBF(keras.layers.Layer):
    """Squared Euclidean distance of the input to one prototype per class.

    LeCun et al. 1998, section II.B, eq. (7): `y_i = sum_j (x_j - w_ij)^2`. The paper sets
    the prototypes to +-1 bitmaps by hand and keeps them fixed; here they are a seeded
    random +-1 code per class, non-trainable unless `trainable_prototypes=True`. The
    output is a distance (small is good): `softmax(-y)` turns it into class
    probabilities, and cross-entropy on those is the paper's MAP criterion, eq. (9).

    Args:
        units: Number of classes, from 1 to `zoo._checks.MAX_UNITS` (65,536).
        trainable_prototypes: Whether the prototypes learn. Defaults to False.
        seed: Seed of the random +-1 prototypes, in [0, 2**32 - 1]. Defaults to 0.
    """

    def __init__(self, units, trainable_prototypes=False, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.units = check_int("units", units, low=1, high=MAX_UNITS)
        self.trainable_prototypes = check_bool("trainable_prototypes", trainable_prototypes)
        self.seed = check_seed("seed", seed)

    def build(self, input_shape):
        def plus_minus_one(shape, dtype=None):
            bits = keras.random.randint(shape, 0, 2, seed=self.seed)
            return ops.cast(2 * bits - 1, dtype or "float32")

        self.prototypes = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer=plus_minus_one,
            trainable=self.trainable_prototypes,
            name="prototypes",
        )

    def call(self, inputs):
        # ||x - w||^2 = ||x||^2 - 2 x.w + ||w||^2, one matmul for all classes.
        x_sq = ops.sum(ops.square(inputs), axis=-1, keepdims=True)
        w_sq = ops.sum(ops.square(self.prototypes), axis=0)
        return x_sq - 2.0 * ops.matmul(inputs, self.prototypes) + w_sq

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "trainable_prototypes": self.trainable_prototypes,
            "seed": self.seed,
        }
