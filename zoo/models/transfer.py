"""Transfer learning on keras.applications bases: total, partial and minimum training.

Seed 001's cacao-pod study trains Inception-ResNet-v2 three ways, which are the `mode`s here:

- "total": every layer trains, starting from the pretrained checkpoint;
- "partial": most hidden layers stay frozen; the last convolutional reduction block(s) and
  the head train (`trainable_from` moves the boundary);
- "minimum": the whole base is frozen; only the head (dropout + dense) trains.

In every mode the base runs with `training=False`, so its batch-normalisation layers stay
in inference mode and keep their ImageNet statistics, as the Keras fine-tuning guide
requires (https://keras.io/guides/transfer_learning/); `zoo.layers.InferenceMode` makes
that hold in Keras 3, where a plain `base(x, training=False)` does not. The base's own
preprocessing is a layer of the model: models, `.keras` files and exports all take raw
images (0-255).

Example:

    model = zoo.create_model("transfer/mobilenet", alpha=0.25, classes=2, mode="minimum")
    history = fine_tune(model, train, validation, head_epochs=10, epochs=10)
    recommend(n_per_class=120, similar_to_source=True).strategy   # 'features + linear model'
"""

import dataclasses
import os
import pathlib

import keras
from keras import layers

from zoo._checks import (
    MAX_UNITS,
    check_activation,
    check_bool,
    check_choice,
    check_float,
    check_image_shape,
    check_int,
    check_ints,
    check_name,
)
from zoo.data import DATA_DIR_ENV
from zoo.layers import InferenceMode, TrainingOnly
from zoo.registry import register_model

MODES = ("total", "partial", "minimum")
POOLINGS = ("avg", "max")
# The MobileNets' width multiplier: at 1/32 MobileNet's narrowest layer (32 filters) keeps
# one filter; at 4 its widest has 4,096 (Keras publishes weights up to 1.4).
MIN_ALPHA, MAX_ALPHA = 1 / 32, 4.0
WEIGHTS_SUBDIR = "weights"  # under $ZOO_DATA_DIR
# Per class, from where seed 001 calls a dataset large (10,000 per class, not 100).
LARGE_DATASET_PER_CLASS = 1000
# Seed 001: "fine-tuning may not converge with fewer than 100 examples per class".
FINE_TUNE_MIN_PER_CLASS = 100


def _mobilenet_file(alpha, rows):
    alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}[alpha]
    rows = rows if rows in (128, 160, 192, 224) else 224
    return f"mobilenet_{alpha_text}_{rows}_tf_no_top.h5"


def _mobilenet_v2_file(alpha, rows):
    rows = rows if rows in (96, 128, 160, 192, 224) else 224
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"


def _inception_resnet_v2_file(alpha, rows):
    return "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5"


@dataclasses.dataclass(frozen=True)
class BaseSpec:
    """What zoo needs to know about a keras.applications base.

    Attributes:
        application: The `keras.applications` function.
        min_size: Smallest input height and width the base accepts.
        default_size: The input size of its ImageNet training.
        frozen_through: Partial mode: the last frozen layer; every later layer trains.
        early_layer: A mid-network layer whose features are more generic (seed 001's
            "small and different" case).
        weights_file: `(alpha, rows) -> file name` of Keras' ImageNet no-top weights.
        alphas: Width multipliers with ImageNet weights; None when the base has no alpha.
    """

    application: str
    min_size: int
    default_size: int
    frozen_through: str
    early_layer: str
    weights_file: object
    alphas: tuple | None = None


BASES = {
    # Partial mode trains from the last stride-2 block (conv_dw_12).
    "mobilenet": BaseSpec(
        "MobileNet", 32, 224, "conv_pw_11_relu", "conv_pw_6_relu", _mobilenet_file,
        (0.25, 0.5, 0.75, 1.0),
    ),
    # Partial mode trains from the last stride-2 block (block_13).
    "mobilenet_v2": BaseSpec(
        "MobileNetV2", 32, 224, "block_12_add", "block_6_expand_relu", _mobilenet_v2_file,
        (0.35, 0.5, 0.75, 1.0, 1.3, 1.4),
    ),
    # Partial mode trains from the last reduction block (Reduction-B, mixed_7a).
    "inception_resnet_v2": BaseSpec(
        "InceptionResNetV2", 75, 299, "block17_20_ac", "mixed_6a", _inception_resnet_v2_file,
    ),
}  # fmt: skip
# All three scale pixels to [-1, 1] (`preprocess_input` in "tf" mode).
_PREPROCESSING = {"scale": 1.0 / 127.5, "offset": -1.0}


@keras.saving.register_keras_serializable(package="zoo")
class TransferClassifier(keras.Model):
    """raw images -> [augmentation] -> base preprocessing -> base -> pooling -> head.

    A functional model whose config holds the base, so `.keras` files and exports keep the
    whole network; `set_mode` freezes and unfreezes it for the three kinds of training.

    Args:
        base: A `keras.applications` model without its top.
        classes: Number of classes, 2 to `zoo._checks.MAX_UNITS` (65,536).
        mode: "total", "partial" or "minimum" (see the module docstring).
        trainable_from: Partial mode only: the name of the first base layer that trains, or
            a fraction of the base's depth (0.0 trains every layer, 1.0 none). None uses
            the layer after `frozen_through`.
        frozen_through: The base's default partial boundary (the last frozen layer).
        pooling: "avg" or "max" global pooling of the base's feature maps.
        dropout: Dropout rate before the output layer, in [0, 1).
        head_units: Sizes of optional ReLU hidden layers between pooling and dropout, each
            1 to 65,536.
        classifier_activation: Activation of the output layer. Defaults to "softmax".
        augmentation: Optional layer applied to the raw images during `fit` only
            (`zoo.layers.image_augmentation()`; wrapped in `zoo.layers.TrainingOnly`).
        preprocessing: `{"scale", "offset"}` of the base's input rescaling.
        name: Model name; layers are named `f"{name}_..."`.
    """

    def __init__(
        self,
        base,
        classes,
        *,
        mode="minimum",
        trainable_from=None,
        frozen_through=None,
        pooling="avg",
        dropout=0.2,
        head_units=(),
        classifier_activation="softmax",
        augmentation=None,
        preprocessing=None,
        name="transfer",
        **kwargs,
    ):
        _check_head(classes, mode, pooling, dropout, head_units, classifier_activation)
        _check_augmentation(augmentation)
        check_name("name", name)
        head_units = tuple(head_units)
        preprocessing = dict(preprocessing or _PREPROCESSING)
        inputs = keras.Input(shape=base.input_shape[1:], name=f"{name}_input")
        x = inputs
        if augmentation is not None:
            x = TrainingOnly(augmentation, name=f"{name}_augmentation")(x)
        x = layers.Rescaling(**preprocessing, name=f"{name}_preprocess")(x)
        # Batch normalisation in inference mode in every mode (see InferenceMode).
        x = InferenceMode(base, name=f"{name}_base_inference")(x)
        pool = layers.GlobalAveragePooling2D if pooling == "avg" else layers.GlobalMaxPooling2D
        x = pool(name=f"{name}_pool")(x)
        for i, units in enumerate(head_units, start=1):
            x = layers.Dense(units, activation="relu", name=f"{name}_hidden{i}")(x)
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
        outputs = layers.Dense(
            classes, activation=classifier_activation, name=f"{name}_predictions"
        )(x)
        super().__init__(inputs, outputs, name=name, **kwargs)
        self.base = base
        self.augmentation = augmentation
        self._head = {
            "classes": classes,
            "pooling": pooling,
            "dropout": dropout,
            "head_units": head_units,
            "classifier_activation": classifier_activation,
            "preprocessing": preprocessing,
        }
        self.frozen_through = frozen_through
        self.set_mode(mode, trainable_from)

    def set_mode(self, mode, trainable_from=None):
        """Freezes and unfreezes the base for `mode`; recompile the model afterwards.

        Args:
            mode: "total", "partial" or "minimum".
            trainable_from: Partial mode only: a base layer name or a fraction of depth.

        Returns:
            The model, for chaining.
        """
        _check_trainable_from(mode, trainable_from)
        first = self._first_trainable(mode, trainable_from)
        self.base.trainable = True
        for i, layer in enumerate(self.base.layers):
            layer.trainable = i >= first
        self.base.trainable = mode != "minimum"
        self.mode = mode
        self.trainable_from = trainable_from
        return self

    @property
    def trainable_base_layers(self):
        """Names of the base layers with weights that train in the current mode."""
        return [layer.name for layer in self.base.layers if layer.trainable_weights]

    def feature_extractor(self, layer=None, pooling="avg"):
        """A model from raw images to the pooled activations of a base layer.

        Args:
            layer: Name of a base layer (`model.base.summary()` lists them); None for the
                base's output. Earlier layers give more generic features (seed 001).
            pooling: "avg", "max" or None (the feature maps, flattened).

        Returns:
            A `keras.Model` sharing this model's preprocessing and base weights.
        """
        if pooling not in (*POOLINGS, None):
            raise ValueError(f"pooling must be one of {(*POOLINGS, None)}. Received: {pooling!r}")
        names = [item.name for item in self.base.layers]
        if layer is not None and layer not in names:
            raise ValueError(
                f"layer must name a layer of the base {self.base.name!r} (e.g. "
                f"{names[len(names) // 2]!r}, {names[-1]!r}). Received: layer={layer!r}"
            )
        target = self.base.get_layer(layer) if layer else self.base.layers[-1]
        inner = keras.Model(self.base.inputs, target.output, name=f"{self.name}_to_{target.name}")
        inputs = keras.Input(shape=self.input_shape[1:], name=f"{self.name}_features_input")
        x = inner(self.get_layer(f"{self.name}_preprocess")(inputs), training=False)
        if len(x.shape) == 4 and pooling == "avg":
            x = layers.GlobalAveragePooling2D()(x)
        elif len(x.shape) == 4 and pooling == "max":
            x = layers.GlobalMaxPooling2D()(x)
        else:
            x = layers.Flatten()(x)
        return keras.Model(inputs, x, name=f"{self.name}_features")

    def _first_trainable(self, mode, trainable_from):
        names = [layer.name for layer in self.base.layers]
        if mode == "total":
            return 0
        if mode == "minimum":
            return len(names)
        if trainable_from is None:
            if self.frozen_through not in names:
                raise ValueError(
                    "mode='partial' needs trainable_from for a base without a default "
                    "boundary. Received: trainable_from=None, "
                    f"frozen_through={self.frozen_through!r}"
                )
            return names.index(self.frozen_through) + 1
        if isinstance(trainable_from, str):
            if trainable_from not in names:
                raise ValueError(
                    f"trainable_from must name a layer of the base {self.base.name!r} or be "
                    "a fraction of its depth in [0, 1]. "
                    f"Received: trainable_from={trainable_from!r}"
                )
            return names.index(trainable_from)
        return int(round(trainable_from * len(names)))  # a fraction, checked by set_mode

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        augmentation = self.augmentation
        return {
            "name": self.name,
            "base": serialize(self.base),
            **self._head,
            "head_units": list(self._head["head_units"]),
            "mode": self.mode,
            "trainable_from": self.trainable_from,
            "frozen_through": self.frozen_through,
            "augmentation": serialize(augmentation) if augmentation is not None else None,
        }

    @classmethod
    def from_config(cls, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        base = deserialize(config.pop("base"))
        augmentation = config.pop("augmentation")
        augmentation = deserialize(augmentation) if augmentation is not None else None
        classes = config.pop("classes")
        return cls(base, classes, augmentation=augmentation, **config)


def transfer_model(
    base="mobilenet",
    *,
    input_shape=None,
    alpha=None,
    classes=2,
    mode="minimum",
    trainable_from=None,
    weights="imagenet",
    pooling="avg",
    dropout=0.2,
    head_units=(),
    classifier_activation="softmax",
    augmentation=None,
    name=None,
):
    """A classifier on a pretrained keras.applications base (see `BASES`).

    Args:
        base: "mobilenet", "mobilenet_v2" or "inception_resnet_v2".
        input_shape: `(height, width, 3)`, height and width from the base's minimum size
            (32 for the MobileNets, 75 for Inception-ResNet-v2) to
            `zoo._checks.MAX_IMAGE_SIDE` (4,096). Defaults to the base's ImageNet size.
        alpha: Width multiplier of the MobileNets (None for Keras' default 1.0), from
            `MIN_ALPHA` (1/32) to `MAX_ALPHA` (4); one Keras has weights for with
            "imagenet". Must be None for Inception-ResNet-v2.
        classes: Number of classes, 2 to `zoo._checks.MAX_UNITS` (65,536). Defaults to 2.
        mode: "total", "partial" or "minimum". Defaults to "minimum".
        trainable_from: Partial mode only: the first base layer that trains (a name), or
            a fraction of the base's depth in [0, 1]. Defaults to the base's last
            reduction block.
        weights: "imagenet" (default), None (random), or the path of the base's Keras
            weights file (`.h5`, without top). "imagenet" first looks for Keras' file name
            in `$ZOO_DATA_DIR/weights/`, then in Keras' cache (`~/.keras/models/`), then
            downloads it.
        pooling: "avg" (default) or "max".
        dropout: Dropout rate of the head, in [0, 1). Defaults to 0.2.
        head_units: Optional hidden ReLU layer sizes of the head, each 1 to 65,536.
            Defaults to none.
        classifier_activation: Defaults to "softmax"; None returns logits.
        augmentation: Optional augmentation layer (a Keras layer, e.g.
            `zoo.layers.image_augmentation()`) applied to raw images in training.
        name: Model name (a non-empty string without "/"); defaults to
            `f"transfer_{base}"`.

    Returns:
        An uncompiled `TransferClassifier`.

    Raises:
        ValueError: a bad argument, or a weights file that does not fit the base.
        FileNotFoundError: "imagenet" weights that are neither local nor downloadable; the
            message names the file and where to put it.
    """
    check_choice("base", base, tuple(BASES))
    spec = BASES[base]
    input_shape = _check_input_shape(spec, input_shape)
    alpha = _check_alpha(base, spec, alpha, weights)
    _check_head(classes, mode, pooling, dropout, head_units, classifier_activation)
    _check_trainable_from(mode, trainable_from)  # a layer name is checked once the base is
    _check_augmentation(augmentation)
    name = check_name("name", name, allow_none=True) or f"transfer_{base}"
    application = getattr(keras.applications, spec.application)
    kwargs = {"include_top": False, "input_shape": input_shape, "name": f"{name}_base"}
    if alpha is not None:
        kwargs["alpha"] = alpha
    local = _local_weights(base, spec, weights, alpha, input_shape)
    if weights == "imagenet" and local is None:
        backbone = _download(base, spec, application, kwargs, alpha, input_shape)
    else:
        backbone = application(weights=None, **kwargs)
        if local is not None:
            _load_base_weights(backbone, base, alpha, local, weights)
    return TransferClassifier(
        backbone,
        classes,
        mode=mode,
        trainable_from=trainable_from,
        frozen_through=spec.frozen_through,
        pooling=pooling,
        dropout=dropout,
        head_units=head_units,
        classifier_activation=classifier_activation,
        augmentation=augmentation,
        name=name,
    )


@register_model(name="transfer/mobilenet")
def transfer_mobilenet(input_shape=(224, 224, 3), alpha=1.0, classes=2, mode="minimum",
                       trainable_from=None, weights="imagenet", pooling="avg", dropout=0.2,
                       head_units=(), classifier_activation="softmax", augmentation=None,
                       name=None):  # fmt: skip
    """MobileNet v1 (Howard et al. 2017) base, ImageNet weights, new head; total/partial/minimum.

    Args:
        input_shape: `(height, width, 3)`, height and width 32 to 4,096. Defaults to
            (224, 224, 3).
        alpha: Width multiplier, 1/32 to 4 (ImageNet weights for 0.25, 0.5, 0.75 and
            1.0). Defaults to 1.0.
        classes: Number of classes, 2 to 65,536. Defaults to 2.
        mode: "total", "partial" or "minimum". Defaults to "minimum".
        trainable_from: Partial mode only: the first base layer that trains, or a fraction
            of the base's depth in [0, 1]. Defaults to None (from conv_dw_12).
        weights: "imagenet", None (random) or the path of Keras' weights file. Defaults
            to "imagenet".
        pooling: "avg" or "max". Defaults to "avg".
        dropout: Dropout rate of the head, in [0, 1). Defaults to 0.2.
        head_units: Hidden ReLU layer sizes of the head, each 1 to 65,536. Defaults to ().
        classifier_activation: Defaults to "softmax"; None returns logits.
        augmentation: Optional Keras layer applied to raw images in training.
        name: Model name; None names it "transfer_mobilenet".

    See `transfer_model` for the details.
    """
    return transfer_model(
        "mobilenet", input_shape=input_shape, alpha=alpha, classes=classes, mode=mode,
        trainable_from=trainable_from, weights=weights, pooling=pooling, dropout=dropout,
        head_units=head_units, classifier_activation=classifier_activation,
        augmentation=augmentation, name=name,
    )  # fmt: skip


@register_model(name="transfer/mobilenet_v2")
def transfer_mobilenet_v2(input_shape=(224, 224, 3), alpha=1.0, classes=2, mode="minimum",
                          trainable_from=None, weights="imagenet", pooling="avg", dropout=0.2,
                          head_units=(), classifier_activation="softmax", augmentation=None,
                          name=None):  # fmt: skip
    """MobileNetV2 (Sandler et al. 2018) base, ImageNet weights, new head; total/partial/minimum.

    Args:
        alpha: Width multiplier, 1/32 to 4 (ImageNet weights for 0.35, 0.5, 0.75, 1.0,
            1.3 and 1.4). Defaults to 1.0.
        trainable_from: Partial mode only: the first base layer that trains, or a fraction
            of the base's depth in [0, 1]. Defaults to None (from block_13).
        name: Model name; None names it "transfer_mobilenet_v2".

    The other arguments are those of `transfer/mobilenet`; see `transfer_model`.
    """
    return transfer_model(
        "mobilenet_v2", input_shape=input_shape, alpha=alpha, classes=classes, mode=mode,
        trainable_from=trainable_from, weights=weights, pooling=pooling, dropout=dropout,
        head_units=head_units, classifier_activation=classifier_activation,
        augmentation=augmentation, name=name,
    )  # fmt: skip


@register_model(name="transfer/inception_resnet_v2")
def transfer_inception_resnet_v2(input_shape=(299, 299, 3), classes=2, mode="minimum",
                                 trainable_from=None, weights="imagenet", pooling="avg",
                                 dropout=0.2, head_units=(), classifier_activation="softmax",
                                 augmentation=None, name=None):  # fmt: skip
    """Inception-ResNet-v2 (Szegedy et al. 2017) base, as in seed 001's cacao-pod study.

    Args:
        input_shape: `(height, width, 3)`, height and width 75 to 4,096. Defaults to
            (299, 299, 3).
        trainable_from: Partial mode only: the first base layer that trains, or a fraction
            of the base's depth in [0, 1]. Defaults to None (from Reduction-B, mixed_7a).
        name: Model name; None names it "transfer_inception_resnet_v2".

    The other arguments are those of `transfer/mobilenet` (no `alpha`: the base has no
    width multiplier); see `transfer_model`.
    """
    return transfer_model(
        "inception_resnet_v2", input_shape=input_shape, classes=classes, mode=mode,
        trainable_from=trainable_from, weights=weights, pooling=pooling, dropout=dropout,
        head_units=head_units, classifier_activation=classifier_activation,
        augmentation=augmentation, name=name,
    )  # fmt: skip


def fine_tune(
    model,
    train,
    validation=None,
    *,
    head_epochs=10,
    epochs=10,
    mode="partial",
    trainable_from=None,
    optimizer="adam",
    learning_rate=1e-3,
    fine_tune_learning_rate=None,
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    callbacks=(),
    verbose="auto",
):
    """Two-phase fine-tuning: train the head on the frozen base, then unfreeze and go on.

    Phase 1 trains in "minimum" mode; phase 2 switches to `mode` ("partial" or "total"),
    recompiles with a lower learning rate, and continues the epoch count, so that the
    large gradients of a random head never reach the pretrained weights (the Keras
    fine-tuning guide).

    Args:
        model: A `TransferClassifier`.
        train: Training data: a `tf.data.Dataset` of `(images, labels)` batches, or an
            `(images, labels)` tuple of arrays.
        validation: Optional validation data, as `fit`'s `validation_data`.
        head_epochs: Epochs of phase 1 (>= 1). Defaults to 10.
        epochs: Epochs of phase 2 (>= 1). Defaults to 10.
        mode: Phase 2 mode, "partial" (default) or "total".
        trainable_from: Partial boundary override (see `TransferClassifier.set_mode`).
        optimizer: An optimizer name ("adam", "sgd", ...) or a function from a learning
            rate to a new optimizer. Defaults to "adam".
        learning_rate: Phase 1 learning rate. Defaults to 1e-3.
        fine_tune_learning_rate: Phase 2 learning rate; defaults to `learning_rate / 10`.
        loss: Defaults to "sparse_categorical_crossentropy".
        metrics: Defaults to ("accuracy",).
        callbacks: Keras callbacks for both phases.
        verbose: As for `fit`.

    Returns:
        A dict of the two phases' history lists joined (`"loss"`, `"val_accuracy"`, ...)
        with `"phase"`: 1 or 2 for each epoch.
    """
    if not isinstance(model, TransferClassifier):
        raise ValueError(
            f"model must be a zoo TransferClassifier. Received: model={type(model).__name__}"
        )
    check_choice("mode", mode, ("partial", "total"))
    check_int("head_epochs", head_epochs, low=1)
    check_int("epochs", epochs, low=1)
    if fine_tune_learning_rate is None:
        fine_tune_learning_rate = learning_rate / 10
    x, y = train if isinstance(train, tuple) else (train, None)
    phases = (("minimum", None, learning_rate), (mode, trainable_from, fine_tune_learning_rate))
    history, done = {"phase": []}, 0
    for phase, (phase_mode, boundary, rate) in enumerate(phases, start=1):
        model.set_mode(phase_mode, boundary)
        model.compile(optimizer=_optimizer(optimizer, rate), loss=loss, metrics=list(metrics))
        result = model.fit(
            x,
            y,
            validation_data=validation,
            initial_epoch=done,
            epochs=done + (head_epochs if phase == 1 else epochs),
            callbacks=list(callbacks),
            verbose=verbose,
        )
        for key, values in result.history.items():
            history.setdefault(key, []).extend(values)
        history["phase"].extend([phase] * len(result.epoch))
        done += len(result.epoch)
    return history


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """What `recommend` advises.

    Attributes:
        strategy: "features + linear model", "fine-tune", "features from earlier layers"
            or "train the whole network from the pretrained start".
        mode: The `TransferClassifier` mode to train with, or "features" for a frozen
            feature extractor with a scikit-learn classifier.
        layer: For feature strategies, the base layer to take features from ("output" or
            the base's `early_layer`, or "early" when no base was named); else None.
        reason: Why, after seed 001.
    """

    strategy: str
    mode: str
    layer: str | None
    reason: str

    def __str__(self):
        layer = f", features from {self.layer}" if self.layer else ""
        return f"{self.strategy} (mode={self.mode}{layer}): {self.reason}"


def recommend(n_per_class, similar_to_source, *, base=None, large_from=LARGE_DATASET_PER_CLASS):
    """Seed 001's four cases: how to transfer, given the data size and its likeness to ImageNet.

    Args:
        n_per_class: Training examples per class (a positive int).
        similar_to_source: Whether the images look like the base's training images
            (ImageNet photographs) or not (medical scans, handwriting, spectrograms...).
        base: Optional base name; names the early layer of the "different" cases.
        large_from: Examples per class from which a dataset counts as large. Defaults to
            1000 (seed 001's examples: 100 per class is small, 10,000 large).

    Returns:
        A `Recommendation`.
    """
    check_int("n_per_class", n_per_class, low=1)
    check_bool("similar_to_source", similar_to_source)
    check_choice("base", base, (*BASES, None))
    check_int("large_from", large_from, low=1)
    early = BASES[base].early_layer if base else "early"
    large = n_per_class >= large_from
    if similar_to_source and not large:
        reason = (
            "fine-tuning a large network on few examples overfits, and the top features "
            "already describe similar images: train a linear classifier (SVM, logistic "
            "regression) on the features of the frozen base"
        )
        return Recommendation("features + linear model", "features", "output", reason)
    if similar_to_source:
        reason = (
            "with many examples fine-tuning is unlikely to overfit; train the head first, "
            "then the upper blocks with a lower learning rate (fine_tune)"
        )
        return Recommendation("fine-tune", "partial", None, reason)
    if not large:
        reason = (
            "the top layers encode features specific to the source data; the earlier "
            "layers' generic features (edges, textures) transfer better to different images"
        )
        if n_per_class < FINE_TUNE_MIN_PER_CLASS:
            reason += f"; fine-tuning may not converge below {FINE_TUNE_MIN_PER_CLASS} per class"
        return Recommendation("features from earlier layers", "features", early, reason)
    reason = (
        "enough data to train every layer; starting from the pretrained weights still "
        "helps over a random start"
    )
    return Recommendation(
        "train the whole network from the pretrained start", "total", None, reason
    )


# --- argument checks and weights ------------------------------------------------------


def _check_input_shape(spec, input_shape):
    if input_shape is None:
        return (spec.default_size, spec.default_size, 3)
    return check_image_shape("input_shape", input_shape, channels=(3,), min_side=spec.min_size)


def _check_alpha(base, spec, alpha, weights):
    if spec.alphas is None:
        if alpha is not None:
            raise ValueError(f"base {base!r} has no width multiplier. Received: alpha={alpha!r}")
        return None
    alpha = 1.0 if alpha is None else check_float("alpha", alpha, low=MIN_ALPHA, high=MAX_ALPHA)
    if weights == "imagenet" and alpha not in spec.alphas:
        raise ValueError(
            f"ImageNet weights of {base!r} exist for alpha in {spec.alphas}. "
            f"Received: alpha={alpha!r}"
        )
    return alpha


def _check_head(classes, mode, pooling, dropout, head_units, classifier_activation):
    check_int("classes", classes, low=2, high=MAX_UNITS)
    check_choice("mode", mode, MODES)
    check_choice("pooling", pooling, POOLINGS)
    check_float("dropout", dropout, low=0, high=1, high_open=True)
    check_ints("head_units", head_units, low=1, high=MAX_UNITS)
    check_activation("classifier_activation", classifier_activation, allow_none=True)


def _check_trainable_from(mode, trainable_from):
    """Checks `mode` and, but for whether a name names a base layer, `trainable_from`."""
    check_choice("mode", mode, MODES)
    if trainable_from is None:
        return
    if mode != "partial":
        raise ValueError(
            "trainable_from applies to mode='partial' only. "
            f"Received: mode={mode!r}, trainable_from={trainable_from!r}"
        )
    if isinstance(trainable_from, str):
        return
    try:
        check_float("trainable_from", trainable_from, low=0, high=1)
    except (TypeError, ValueError):
        raise ValueError(
            "trainable_from must be a layer name or a fraction of depth in [0, 1]. "
            f"Received: trainable_from={trainable_from!r}"
        ) from None


def _check_augmentation(augmentation):
    if augmentation is not None and not isinstance(augmentation, keras.layers.Layer):
        raise TypeError(
            "augmentation must be None or a Keras layer (e.g. zoo.layers.image_augmentation())."
            f" Received: augmentation={augmentation!r} of type {type(augmentation).__name__}"
        )


def _local_weights(base, spec, weights, alpha, input_shape):
    """The weights file to load: a given path, or Keras' ImageNet file under $ZOO_DATA_DIR."""
    if weights is None:
        return None
    if weights == "imagenet":
        root = os.environ.get(DATA_DIR_ENV)
        if not root:
            return None
        # No-top weights do not depend on the input size: Keras' file for this size, else
        # the one for the default size.
        for rows in (input_shape[0], spec.default_size):
            path = pathlib.Path(root) / WEIGHTS_SUBDIR / spec.weights_file(alpha, rows)
            if path.is_file():
                return path
        return None
    if isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights):
        return pathlib.Path(weights)
    raise ValueError(
        f"weights must be None, 'imagenet' or the path of {base!r}'s Keras weights file "
        f"(.h5, no top). Received: weights={weights!r}"
    )


def _load_base_weights(backbone, base, alpha, path, weights):
    try:
        backbone.load_weights(str(path))
    except (ValueError, KeyError, OSError) as error:
        width = f" with alpha={alpha}" if alpha is not None else ""
        raise ValueError(
            f"weights file does not match base {base!r}{width}: {error}. Received: "
            f"weights={weights!r} ({path})"
        ) from error


def _download(base, spec, application, kwargs, alpha, input_shape):
    """Keras' own 'imagenet' loading (its cache, else a download), with an offline hint."""
    try:
        return application(weights="imagenet", **kwargs)
    except ValueError:
        raise
    except Exception as error:  # keras.utils.get_file raises a bare Exception offline
        file_name = spec.weights_file(alpha, input_shape[0])
        raise FileNotFoundError(
            f"Could not load the ImageNet weights of base {base!r}: {error}. Offline, put "
            f"Keras' file {file_name} in ${DATA_DIR_ENV}/{WEIGHTS_SUBDIR}/ (or in "
            f"~/.keras/models/), or pass weights=<path of that file>. Received: "
            "weights='imagenet'"
        ) from error


def _optimizer(optimizer, learning_rate):
    if callable(optimizer):
        return optimizer(learning_rate)
    return keras.optimizers.get(
        {"class_name": optimizer, "config": {"learning_rate": learning_rate}}
    )
