"""Image augmentation for small datasets (seed 001: flips, rotations, zooms, contrast)."""

import keras
from keras import layers

from zoo._checks import check_choice, check_float, check_name, check_seed

FLIPS = (None, "horizontal", "vertical", "horizontal_and_vertical")


def image_augmentation(
    flip="horizontal",
    rotation=0.1,
    zoom=0.1,
    contrast=0.1,
    value_range=(0, 255),
    seed=None,
    name="augmentation",
):
    """Keras' random image layers in one `Sequential`.

    Called on its own it augments (Keras' random layers default to `training=True`), as
    for a `tf.data` map or test-time augmentation (`zoo.analysis.predict_tta`). To put it
    in a model, wrap it in `TrainingOnly`, as `zoo.models.transfer_model(augmentation=...)`
    does: it then acts during `fit` only, never in `model(x)`, `predict` or exports.

    Args:
        flip: "horizontal", "vertical", "horizontal_and_vertical" or None. Defaults to
            "horizontal".
        rotation: Largest rotation as a fraction of a full turn (0.1 = +-36 degrees); 0 for
            none. Defaults to 0.1.
        zoom: Largest zoom in or out as a fraction of the size; 0 for none. Defaults to 0.1.
        contrast: Largest contrast change as a fraction; 0 for none. Defaults to 0.1.
        value_range: Range of the pixel values the layers see. Defaults to (0, 255): raw
            images, as zoo's transfer models take them.
        seed: Seed of the random transformations, in [0, 2**32 - 1].
        name: Name of the `Sequential`.

    Returns:
        A `keras.Sequential` (possibly empty).

    Example:

        augment = image_augmentation(rotation=0.05, seed=0)
        train = train.map(lambda x, y: (augment(x, training=True), y))
    """
    check_choice("flip", flip, FLIPS)
    for arg, value in (("rotation", rotation), ("zoom", zoom), ("contrast", contrast)):
        check_float(arg, value, low=0, high=1, high_open=True)
    seed = check_seed("seed", seed)
    name = check_name("name", name)
    steps = []
    if flip:
        steps.append(layers.RandomFlip(flip, seed=seed, name=f"{name}_flip"))
    if rotation:
        steps.append(layers.RandomRotation(rotation, seed=seed, name=f"{name}_rotation"))
    if zoom:
        steps.append(layers.RandomZoom(zoom, seed=seed, name=f"{name}_zoom"))
    if contrast:
        steps.append(
            layers.RandomContrast(
                contrast, value_range=value_range, seed=seed, name=f"{name}_contrast"
            )
        )
    return keras.Sequential(steps, name=name)


@keras.saving.register_keras_serializable(package="zoo")
class TrainingOnly(keras.layers.Wrapper):
    """Runs the wrapped layer in training only; the identity otherwise.

    Keras' random augmentation layers default to `training=True`, so inside a model they
    would also act on a plain `model(x)` call. This wrapper treats a missing `training`
    as inference, like `Dropout` does.

    Args:
        layer: The augmentation layer (e.g. `image_augmentation()`).
    """

    def call(self, inputs, training=None):
        if training:
            return self.layer(inputs, training=True)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape
