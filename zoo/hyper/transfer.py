"""The transfer-learning family's search space for keras-tuner."""

import inspect

import keras_tuner

from zoo import training
from zoo._checks import MAX_UNITS, check_choice, check_int
from zoo.hyper._common import ZooHyperModel, first_input
from zoo.layers import image_augmentation
from zoo.models.transfer import (
    BASES,
    MODES,
    _check_alpha,  # the factory's own checks, so that a bad argument fails before a build
    _check_input_shape,
    _local_weights,
    transfer_model,
)

TRAINABLE_FROM = (0.5, 0.75, 0.9)
HEAD_UNITS = (0, 64, 128, 256)
AUGMENTATION_STRENGTHS = (0.0, 0.5, 1.0, 2.0)
# Strength 1 is `image_augmentation`'s defaults, the transfer recipe's augmentation.
_AUGMENTATION = {
    arg: inspect.signature(image_augmentation).parameters[arg].default
    for arg in ("rotation", "zoom", "contrast")
}


class TransferHyperModel(ZooHyperModel):
    """Searches what trains, the head and the augmentation of a transfer classifier.

    The structure (base, input shape, classes, weights, alpha) is fixed in `__init__`;
    `build(hp)` draws the rest, with defaults equal to the factory's arguments and the
    transfer recipe's training (Adam; 1e-3 for the head alone, 1e-4 when the base trains
    too; augmentation on; batches of 32, 30 epochs):

    - `mode` "minimum" (default), "partial" or "total";
    - `trainable_from` in {0.5, 0.75, 0.9} (default 0.75), the fraction of the base's
      depth from which it trains, in partial mode only;
    - `learning_rate` log-uniform in [1e-5, 1e-2]: in minimum mode (default 1e-3);
      `fine_tune_learning_rate`, the same range, in partial and total mode (default 1e-4);
    - `head_units` in {0, 64, 128, 256} (default 0: no hidden layer in the head);
    - `dropout` in [0, 0.5] (default 0.2);
    - `augmentation` strength in {0, 0.5, 1, 2} (default 1): rotation, zoom and contrast
      of `zoo.layers.image_augmentation` are its defaults (0.1) times the strength, with
      horizontal flips; 0 is no augmentation;
    - `batch_size` in {16, 32, 64} (default 32, drawn in `fit`); with `tune_epochs`,
      `epochs` from 1 to 60 (default 30).

    The model is compiled with sparse categorical cross-entropy and accuracy; the
    objective is the best validation accuracy (`task` "classification": raw 0-255 images
    and integer labels).

    Args:
        base: "mobilenet" (default), "mobilenet_v2" or "inception_resnet_v2".
        input_shape: `(height, width, 3)`. Defaults to (224, 224, 3).
        classes: Number of classes, 2 to 65,536. Defaults to 2.
        weights: "imagenet" (default), None (random) or the path of the base's Keras
            weights file (see `zoo.models.transfer_model`).
        alpha: Width multiplier of the MobileNets; None (default) for Keras' 1.0.
        tune_epochs: Search the number of epochs too. Defaults to False.

    Example:

        hypermodel = TransferHyperModel(alpha=0.25, input_shape=(96, 96, 3))
        tuner = keras_tuner.RandomSearch(
            hypermodel, objective=hypermodel.objective, max_trials=10
        )
        tuner.search(x, y, validation_data=(x_val, y_val), epochs=10)
    """

    task = "classification"
    batch_sizes = (16, 32, 64)
    default_batch_size = 32
    default_epochs = 30

    def __init__(
        self,
        base="mobilenet",
        input_shape=(224, 224, 3),
        classes=2,
        weights="imagenet",
        alpha=None,
        tune_epochs=False,
    ):
        check_choice("base", base, tuple(BASES))
        spec = BASES[base]
        input_shape = _check_input_shape(spec, input_shape)
        classes = check_int("classes", classes, low=2, high=MAX_UNITS)
        resolved_alpha = _check_alpha(base, spec, alpha, weights)  # None: Keras' default
        _local_weights(base, spec, weights, resolved_alpha, input_shape)  # a bad path
        super().__init__(name=f"transfer_{base}_search", tune_epochs=tune_epochs)
        self.base = base
        self.input_shape = input_shape
        self.classes = classes
        self.weights = weights
        self.alpha = None if alpha is None else resolved_alpha
        self.objective = keras_tuner.Objective("val_accuracy", "max")

    def build(self, hp):
        mode = hp.Choice("mode", MODES, default="minimum")
        with hp.conditional_scope("mode", ["partial"]):
            trainable_from = hp.Choice("trainable_from", TRAINABLE_FROM, default=0.75)
        with hp.conditional_scope("mode", ["minimum"]):
            head_rate = hp.Float("learning_rate", 1e-5, 1e-2, sampling="log", default=1e-3)
        with hp.conditional_scope("mode", ["partial", "total"]):
            fine_tune_rate = hp.Float(
                "fine_tune_learning_rate", 1e-5, 1e-2, sampling="log", default=1e-4
            )
        head = hp.Choice("head_units", HEAD_UNITS, default=0)
        strength = hp.Choice("augmentation", AUGMENTATION_STRENGTHS, default=1.0)
        augmentation = None
        if strength:
            augmentation = image_augmentation(
                **{arg: value * strength for arg, value in _AUGMENTATION.items()}
            )
        model = transfer_model(
            self.base,
            input_shape=self.input_shape,
            alpha=self.alpha,
            classes=self.classes,
            mode=mode,
            trainable_from=trainable_from if mode == "partial" else None,
            weights=self.weights,
            dropout=hp.Float("dropout", 0.0, 0.5, default=0.2),
            head_units=(head,) if head else (),
            augmentation=augmentation,
        )
        rate = head_rate if mode == "minimum" else fine_tune_rate
        model.compile(
            optimizer=training.make_optimizer(training.TrainConfig(learning_rate=rate)),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp, model, *args, **kwargs):
        """`model.fit(*args, **kwargs)` with the drawn batch size (and epochs)."""
        return model.fit(*args, **self.fit_kwargs(hp, first_input(args, kwargs), kwargs))
