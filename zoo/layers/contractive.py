"""The contractive autoencoder's encoder layer (Rifai et al. 2011)."""

import keras
from keras import ops

from zoo._checks import check_activation, check_float


@keras.saving.register_keras_serializable(package="zoo")
class ContractiveDense(keras.layers.Dense):
    """A sigmoid `Dense` layer that adds `contraction * ||dh/dx||_F^2` to the loss in training.

    Rifai et al. 2011, "Contractive auto-encoders: explicit invariance during feature
    extraction", eq. (5). For `h = sigmoid(x W + b)` the Jacobian's squared Frobenius norm
    is exact and cheap: `sum_j (h_j (1 - h_j))^2 sum_i W_ij^2`. The penalty, averaged over
    the batch, joins `model.losses`, so a model holding this layer trains with plain
    `model.fit` and any optimizer. The layer must read the autoencoder's input directly
    (flattened), as in the paper.

    Args:
        units: Code size, >= 1.
        contraction: The penalty's weight lambda, a finite number >= 0. Defaults to 0.1.
        **kwargs: Other `keras.layers.Dense` arguments except `activation`, which is sigmoid.
    """

    def __init__(self, units, contraction=0.1, **kwargs):
        activation = check_activation("activation", kwargs.pop("activation", "sigmoid"))
        if keras.activations.get(activation) is not keras.activations.sigmoid:
            raise ValueError(
                "ContractiveDense's closed-form Jacobian needs activation='sigmoid'. "
                f"Received: activation={activation!r}"
            )
        contraction = check_float("contraction", contraction, low=0)
        super().__init__(units, activation="sigmoid", **kwargs)
        self.contraction = contraction

    def call(self, inputs, training=False):
        code = super().call(inputs)
        if training and self.contraction > 0:
            self.add_loss(self.contraction * self.jacobian_penalty(code))
        return code

    def jacobian_penalty(self, code):
        """Batch mean of `||dh/dx||_F^2`, given the layer's output `code` for that batch."""
        column_norms = ops.sum(ops.square(self.kernel), axis=0)
        slope = code * (1.0 - code)
        return ops.mean(ops.sum(ops.square(slope) * column_norms, axis=-1))

    def get_config(self):
        config = super().get_config()
        config.pop("activation", None)
        return {**config, "contraction": self.contraction}
