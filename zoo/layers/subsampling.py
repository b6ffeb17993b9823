"""LeNet-5's trainable subsampling layer."""

import keras
from keras import ops

from zoo._checks import check_activation, check_ints


@keras.saving.register_keras_serializable(package="zoo")
class Subsampling2D(keras.layers.Layer):
    """Trainable subsampling: `activation(coefficient * average_pool(x) + bias)` per map.

    LeNet-5's S2 and S4 layers (LeCun et al. 1998, section II.B): each unit averages a
    non-overlapping `pool_size` window of one feature map, multiplies the average by a
    trainable coefficient and adds a trainable bias, both shared by the whole map, then
    applies the squashing function. Two parameters per map.

    Args:
        pool_size: int or pair, the window and stride. Defaults to 2.
        activation: Activation applied last. Defaults to None (identity).
        coefficient_initializer: Defaults to "ones".
        bias_initializer: Defaults to "zeros".

    Example:

    >>> layer = Subsampling2D(2, activation="tanh")
    >>> layer(keras.ops.ones((1, 28, 28, 6))).shape
    (1, 14, 14, 6)
    """

    def __init__(
        self,
        pool_size=2,
        activation=None,
        coefficient_initializer="ones",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        pool = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
        try:
            self.pool_size = check_ints("pool_size", pool, min_len=2, max_len=2)
        except (TypeError, ValueError):
            raise ValueError(
                "pool_size must be a positive int or a pair of them. "
                f"Received: pool_size={pool_size!r}"
            ) from None
        if not isinstance(activation, dict):  # a dict is a serialized one, from a config
            activation = check_activation("activation", activation, allow_none=True)
        self.activation = keras.activations.get(activation)
        self.coefficient_initializer = keras.initializers.get(coefficient_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.coefficient = self.add_weight(
            shape=(channels,), initializer=self.coefficient_initializer, name="coefficient"
        )
        self.bias = self.add_weight(
            shape=(channels,), initializer=self.bias_initializer, name="bias"
        )

    def call(self, inputs):
        pooled = ops.average_pool(inputs, self.pool_size, strides=self.pool_size, padding="valid")
        return self.activation(pooled * self.coefficient + self.bias)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        ph, pw = self.pool_size
        return (
            batch,
            None if height is None else height // ph,
            None if width is None else width // pw,
            channels,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "activation": keras.activations.serialize(self.activation),
            "coefficient_initializer": keras.initializers.serialize(self.coefficient_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
