"""A wrapper that always runs its layer in inference mode."""

import keras


@keras.saving.register_keras_serializable(package="zoo")
class InferenceMode(keras.layers.Wrapper):
    """Calls the wrapped layer or model with `training=False`, even while the model trains.

    The Keras fine-tuning guide keeps a pretrained base's batch normalisation in inference
    mode by calling the base with `training=False`. In Keras 3 a functional model replaces
    that recorded value with the outer call's `training` (keras-team/keras#20285), so an
    unfrozen base would update its moving statistics after all. This wrapper has no
    `training` argument for Keras to override. Its weights still train when trainable.

    Args:
        layer: The layer or model to wrap (a `keras.applications` base).

    Example:

        x = InferenceMode(base)(x)   # BN uses, and keeps, its ImageNet statistics
    """

    def call(self, inputs):
        return self.layer(inputs, training=False)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)
