"""Transfer learning: modes, inference-mode batch norm, two-phase fine-tuning, weights,
feature extraction, the strategy guide, augmentation and TTA, TFLite."""

import re

import keras
import numpy as np
import pytest
from keras.layers import BatchNormalization
from test_recipes import check_smoke_run

import zoo
from zoo import analysis
from zoo.layers import InferenceMode, TrainingOnly, image_augmentation
from zoo.models.transfer import BASES, TransferClassifier, fine_tune, recommend, transfer_model

SIZE = 75  # the smallest input every base accepts (Inception-ResNet-v2's minimum)
WEIGHTS_FILE = "mobilenet_2_5_224_tf_no_top.h5"


def small(base="mobilenet", **kwargs):
    kwargs.setdefault("input_shape", (SIZE, SIZE, 3))
    kwargs.setdefault("weights", None)
    if base == "mobilenet":
        kwargs.setdefault("alpha", 0.25)
    return transfer_model(base, **kwargs)


def images(rng, n=4, size=SIZE):
    return rng.uniform(0, 255, size=(n, size, size, 3)).astype("float32")


def base_layer_names(model):
    return [layer.name for layer in model.base.layers]


def with_weights(model):
    return [layer.name for layer in model.base.layers if layer.weights]


def calibration_images(size):
    return images(np.random.default_rng(1), 4, size)


def calibrated(model, x):
    """Sets each batch-norm layer's statistics to those of the batch `x`; returns `model`.

    A randomly initialised base with the default statistics (mean 0, variance 1) shrinks
    its activations layer after layer, so that the gradients reaching its weights vanish
    (~1e-16) and nothing visibly trains. One training-mode pass with momentum 0 stores the
    statistics of `x`, as ImageNet training stores those of its images: the base's signals
    and gradients then keep their scale, with no weights file.
    """
    mode, boundary = model.mode, model.trainable_from
    model.set_mode("total")  # Keras runs frozen batch-norm layers in inference mode
    norms = [layer for layer in model.base.layers if isinstance(layer, BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model.base(model.get_layer(f"{model.name}_preprocess")(x), training=True)
    for layer, momentum in zip(norms, momenta, strict=True):
        layer.momentum = momentum
    return model.set_mode(mode, boundary)


@pytest.fixture
def weights_file(data_root):
    """MobileNet alpha 0.25 ImageNet weights, for the tests of weight loading. (Training
    tests use `calibrated` random bases instead, and run without the file.)"""
    path = data_root / "weights" / WEIGHTS_FILE
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    return path


# --- modes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inception():
    """Inception-ResNet-v2 at its smallest input, random weights, from its registered factory."""
    keras.utils.set_random_seed(0)
    model = zoo.create_model(
        "transfer/inception_resnet_v2", input_shape=(SIZE, SIZE, 3), classes=3, weights=None
    )
    return calibrated(model, calibration_images(SIZE))


def test_minimum_trains_only_the_head():
    model = small(mode="minimum")
    assert model.trainable_base_layers == []
    assert {w.path.split("/")[0] for w in model.trainable_weights} == {
        "transfer_mobilenet_predictions"
    }


def test_total_trains_every_base_layer():
    model = small(mode="total")
    assert model.trainable_base_layers == with_weights(model)


@pytest.mark.parametrize(
    "base, first, frozen",
    [
        ("mobilenet", "conv_dw_12", "conv_pw_11"),
        ("mobilenet_v2", "block_13_expand", "block_12_project"),
    ],
)
def test_partial_trains_from_the_last_stride_2_block(base, first, frozen):
    model = small(base, mode="partial")
    trainable = model.trainable_base_layers
    assert trainable[0] == first
    assert frozen not in trainable
    names = with_weights(model)
    assert trainable == names[names.index(first) :]


def test_inception_resnet_v2_partial_trains_from_its_last_reduction_block(inception):
    inception.set_mode("partial")
    trainable = set(inception.trainable_base_layers)
    names = base_layer_names(inception)
    after = names[names.index("block17_20_ac") + 1 :]
    # Reduction-B's branches, the block8 units and conv_7b train; block17 units do not.
    assert trainable == {n for n in after if inception.base.get_layer(n).weights}
    assert {"block8_10_conv", "conv_7b"} <= trainable
    assert not any(n.startswith("block17_") for n in trainable)
    inception.set_mode("minimum")
    assert inception.trainable_base_layers == []


# The last frozen base layer of partial mode, written out here independently of BASES.
PARTIAL_FROZEN_THROUGH = {
    "mobilenet": "conv_pw_11_relu",  # conv_dw_12 (the last stride-2 block) on train
    "mobilenet_v2": "block_12_add",  # block_13 on train
    "inception_resnet_v2": "block17_20_ac",  # Reduction-B (mixed_7a) on train
}
BN_STATISTICS = ("moving_mean", "moving_variance")


def train_one_step_and_check(model, base, mode, x, y):
    """One SGD step in `mode`: exactly the base weights that `mode` unfreezes must move.

    Frozen base weights and every batch-norm statistic (inference mode in every mode) must
    keep their exact values; the head must train in every mode.
    """
    model.set_mode("minimum" if mode == "total" else "total")  # switched to, not built in
    model.set_mode(mode)
    names = base_layer_names(model)
    partial = names.index(PARTIAL_FROZEN_THROUGH[base]) + 1
    first = {"total": 0, "partial": partial, "minimum": len(names)}[mode]
    # Eagerly: tracing a training step per mode costs more than the step itself.
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss="sparse_categorical_crossentropy",
        run_eagerly=True,
    )
    head = model.get_layer(f"{model.name}_predictions").kernel
    before = [
        (i >= first and variable.name not in BN_STATISTICS, variable, variable.numpy().copy())
        for i, layer in enumerate(model.base.layers)
        for variable in layer.weights
    ]
    head_before = head.numpy().copy()
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    stayed = [v.path for trains, v, old in before if trains and np.array_equal(v, old)]
    moved = [v.path for trains, v, old in before if not trains and not np.array_equal(v, old)]
    assert not stayed, f"{mode}: {len(stayed)} unfrozen base weights did not train: {stayed[:4]}"
    assert not moved, f"{mode}: {len(moved)} frozen base weights or statistics moved: {moved[:4]}"
    assert not np.array_equal(head.numpy(), head_before), f"{mode}: the head did not train"


@pytest.fixture(scope="module")
def mobilenets():
    """The two MobileNets at 32x32, random weights calibrated on 4 images, built once."""
    keras.utils.set_random_seed(0)
    x = calibration_images(32)
    models = {
        base: calibrated(small(base, alpha=alpha, input_shape=(32, 32, 3)), x)
        for base, alpha in (("mobilenet", 0.25), ("mobilenet_v2", 0.35))
    }
    return {base: (model, model.get_weights(), x) for base, model in models.items()}


@pytest.mark.parametrize("mode", ["total", "partial", "minimum"])
@pytest.mark.parametrize("base", ["mobilenet", "mobilenet_v2"])
def test_a_training_step_moves_exactly_the_unfrozen_base_weights(mobilenets, base, mode):
    """No ImageNet weights file needed: random weights, calibrated batch norm."""
    model, weights, x = mobilenets[base]
    model.set_weights(weights)  # as built, whichever test trained it before
    train_one_step_and_check(model, base, mode, x, np.array([0, 1, 0, 1]))


def test_inception_resnet_v2_partial_step_moves_only_reduction_b_and_later(inception):
    # Partial only: the modes are the same code for every base, and an eager step through
    # Inception-ResNet-v2 costs seconds.
    x, y = calibration_images(SIZE)[:2], np.array([0, 2])
    train_one_step_and_check(inception, "inception_resnet_v2", "partial", x, y)
    inception.set_mode("minimum")


def test_trainable_from_a_layer_name_or_a_fraction():
    model = small(mode="partial", trainable_from="conv_pw_13")
    assert model.trainable_base_layers == ["conv_pw_13", "conv_pw_13_bn"]
    assert small(mode="partial", trainable_from=0.0).trainable_base_layers == with_weights(model)
    assert small(mode="partial", trainable_from=1.0).trainable_base_layers == []
    half = small(mode="partial", trainable_from=0.5).trainable_base_layers
    names = base_layer_names(model)
    assert half[0] in names[len(names) // 2 :] and "conv1" not in half


def test_a_plain_training_false_call_would_move_them(rng):
    """Why InferenceMode exists: Keras 3 overrides a recorded `training=False`."""
    base = keras.applications.MobileNet(
        input_shape=(32, 32, 3), alpha=0.25, include_top=False, weights=None
    )
    inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(base(inputs, training=False))
    plain = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(pooled))
    wrapped_out = keras.layers.GlobalAveragePooling2D()(InferenceMode(base)(inputs))
    wrapped = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(wrapped_out))
    bn = base.get_layer("conv1_bn")
    x, y = images(rng, 4, 32), np.array([0, 1, 0, 1])
    for model, moves in ((wrapped, False), (plain, True)):
        before = bn.moving_mean.numpy().copy()
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=True)
        model.fit(x, y, epochs=1, verbose=0)
        assert (not np.array_equal(bn.moving_mean.numpy(), before)) == moves


def test_keras_round_trip_keeps_mode_boundary_and_augmentation(tmp_path):
    x = calibration_images(SIZE)
    model = small(
        mode="partial",
        trainable_from="conv_pw_12",
        augmentation=image_augmentation(seed=1),
        pooling="max",
    )
    # Calibrated, the output depends on the base's weights and statistics and the pooling
    # (uncalibrated, every image gets the head's bias alone, whatever the reload lost).
    expected = np.asarray(calibrated(model, x)(x))
    assert np.ptp(expected, axis=0).max() > 0.05
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.mode == "partial" and reloaded.trainable_from == "conv_pw_12"
    assert reloaded.trainable_base_layers == model.trainable_base_layers
    assert reloaded.augmentation is not None
    np.testing.assert_allclose(np.asarray(reloaded(x)), expected, atol=1e-6)


def test_two_phase_fine_tuning():
    x, y = calibration_images(32), np.array([0, 1] * 2)
    model = calibrated(small(mode="total", input_shape=(32, 32, 3)), x)
    frozen = model.base.get_layer("conv1").kernel.numpy().copy()
    top = model.base.get_layer("conv_pw_13").kernel.numpy().copy()
    seen = []

    class Watch(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append((model.mode, float(self.model.optimizer.learning_rate), top_now()))

    def top_now():
        return model.base.get_layer("conv_pw_13").kernel.numpy().copy()

    history = fine_tune(
        model, (x, y), head_epochs=2, epochs=1, mode="partial", learning_rate=0.01,
        callbacks=[Watch()], verbose=0,
    )  # fmt: skip
    assert history["phase"] == [1, 1, 2]
    assert len(history["loss"]) == 3
    (mode1, rate1, top1), (mode2, rate2, top2) = seen
    assert (mode1, mode2) == ("minimum", "partial")
    assert rate1 == pytest.approx(0.01) and rate2 == pytest.approx(0.001)
    np.testing.assert_array_equal(top2, top)  # phase 1 left the base alone
    assert not np.array_equal(top_now(), top)  # phase 2 trained the top block
    np.testing.assert_array_equal(model.base.get_layer("conv1").kernel.numpy(), frozen)


def test_fine_tune_rejects_bad_arguments(rng):
    model = small()
    with pytest.raises(ValueError, match="mode must be one of 'partial', 'total'.*minimum"):
        fine_tune(model, (images(rng), np.zeros(4)), mode="minimum")
    with pytest.raises(ValueError, match="head_epochs.*Received: head_epochs=0"):
        fine_tune(model, (images(rng), np.zeros(4)), head_epochs=0)
    with pytest.raises(ValueError, match="TransferClassifier.*Sequential"):
        fine_tune(keras.Sequential([keras.layers.Dense(2)]), None)


# --- weights -------------------------------------------------------------------------


def test_imagenet_weights_come_from_zoo_data_dir_at_any_input_size(weights_file, rng):
    by_name = small(weights="imagenet", input_shape=(96, 96, 3))
    by_path = small(weights=str(weights_file), input_shape=(96, 96, 3))
    random = small(weights=None, input_shape=(96, 96, 3))
    kernel = by_name.base.get_layer("conv_pw_13").kernel.numpy()
    np.testing.assert_array_equal(kernel, by_path.base.get_layer("conv_pw_13").kernel.numpy())
    assert not np.allclose(kernel, random.base.get_layer("conv_pw_13").kernel.numpy())
    # Trained BN statistics, not the defaults (0 and 1).
    assert np.abs(by_name.base.get_layer("conv1_bn").moving_mean.numpy()).max() > 0.01


def test_offline_imagenet_weights_give_an_error_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    original = keras.applications.MobileNetV2

    def offline(*args, weights="imagenet", **kwargs):
        if weights == "imagenet":
            raise Exception("URL fetch failure on https://storage.googleapis.com/: None")
        return original(*args, weights=weights, **kwargs)

    monkeypatch.setattr(keras.applications, "MobileNetV2", offline)
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    with pytest.raises(FileNotFoundError, match=f"{name}.*ZOO_DATA_DIR/weights/"):
        small("mobilenet_v2", alpha=0.35, input_shape=(96, 96, 3), weights="imagenet")


def test_a_weights_file_of_another_base_is_refused(weights_file):
    with pytest.raises(ValueError, match="does not match base 'mobilenet' with alpha=0.5.*"):
        small(alpha=0.5, weights=str(weights_file))
    with pytest.raises(ValueError, match="does not match base 'mobilenet_v2'.*Received: weights"):
        small("mobilenet_v2", weights=str(weights_file))


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"base": "resnet"}, "base must be one of.*Received: base='resnet'"),
        ({"mode": "half"}, "mode must be one of.*Received: mode='half'"),
        ({"input_shape": (31, 31, 3)}, "in \\[32, 4096\\].*\\(31, 31, 3\\)"),
        (
            {"base": "inception_resnet_v2", "input_shape": (74, 74, 3)},
            "input_shape must be .* in \\[75, 4096\\].*Received: input_shape=\\(74, 74, 3\\)",
        ),
        ({"input_shape": (64, 64, 1)}, "input_shape must be .*channels one of \\(3,\\)"),
        ({"input_shape": (4097, 64, 3)}, "in \\[32, 4096\\].*\\(4097, 64, 3\\)"),
        ({"classes": 1}, "classes must be an int >= 2 and <= 65536. Received: classes=1"),
        ({"alpha": 5.0}, "alpha must be a finite number >= 0.03125 and <= 4.0"),
        ({"alpha": float("nan")}, "Received: alpha=nan"),
        ({"head_units": (0,)}, "head_units must be .*Received: head_units=\\(0,\\)"),
        ({"classifier_activation": "relux"}, "classifier_activation must be .*'relux'"),
        ({"name": "a/b"}, "name must be .*Received: name='a/b'"),
        ({"base": "inception_resnet_v2", "alpha": 0.5}, "no width multiplier.*alpha=0.5"),
        ({"alpha": 0.3, "weights": "imagenet"}, "ImageNet weights.*Received: alpha=0.3"),
        ({"weights": "nowhere.h5"}, "weights must be None, 'imagenet' or the path"),
        ({"dropout": 1.0}, "dropout must be.*Received: dropout=1.0"),
        ({"pooling": "sum"}, "pooling must be.*Received: pooling='sum'"),
        ({"mode": "total", "trainable_from": 0.5}, "trainable_from applies to mode='partial'"),
        ({"mode": "partial", "trainable_from": "conv99"}, "trainable_from='conv99'"),
        ({"mode": "partial", "trainable_from": 1.5}, "trainable_from=1.5"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, match):
    kwargs = dict(kwargs)
    base = kwargs.pop("base", "mobilenet")
    if base == "inception_resnet_v2":
        kwargs.setdefault("input_shape", (SIZE, SIZE, 3))
        kwargs.setdefault("weights", None)
        with pytest.raises(ValueError, match=match):
            transfer_model(base, **kwargs)
        return
    with pytest.raises(ValueError, match=match):
        small(base, **kwargs)


# Each factory's base: a layer only it has, its feature width, its no-top parameter count.
FACTORY_BASES = {
    "mobilenet": ("conv_pw_13", 256, "MobileNet"),  # alpha 0.25: 1024 / 4 features
    "mobilenet_v2": ("block_16_project", 1280, "MobileNetV2"),  # 1280 for alpha <= 1
    "inception_resnet_v2": ("conv_7b", 1536, 54_336_736),  # Keras' published count
}


@pytest.mark.parametrize("base", sorted(BASES))
def test_registered_factories_build_each_base(base, inception):
    assert zoo.list_models("transfer/*") == [f"transfer/{name}" for name in sorted(BASES)]
    layer, width, reference = FACTORY_BASES[base]
    if base == "inception_resnet_v2":
        model = inception  # built by its factory (the fixture), 75x75, classes=3
    else:
        alpha = {"mobilenet": 0.25, "mobilenet_v2": 0.35}[base]
        kwargs = {"input_shape": (32, 32, 3), "alpha": alpha}
        model = zoo.create_model(f"transfer/{base}", classes=3, weights=None, **kwargs)
        reference = getattr(keras.applications, reference)(
            include_top=False, weights=None, **kwargs
        ).count_params()
    assert isinstance(model, TransferClassifier) and model.mode == "minimum"
    assert model.base.get_layer(layer).weights  # the right architecture...
    assert model.base.count_params() == reference  # ...at the requested width
    assert model.feature_extractor()(np.zeros((1, *model.input_shape[1:]))).shape == (1, width)
    assert model.output_shape == (None, 3)
    assert model.frozen_through == PARTIAL_FROZEN_THROUGH[base]


# --- features, retrieval, strategy guide ---------------------------------------------


def test_feature_extractor_gives_the_pooled_activations_of_a_named_layer():
    x = calibration_images(SIZE)
    model = calibrated(small(), x)  # activations of order 1, not ~0

    def maps(layer):  # (4, h, w, channels), straight from the base
        inner = keras.Model(model.base.inputs, model.base.get_layer(layer).output)
        return np.asarray(inner(x / 127.5 - 1.0))

    early, top = maps("conv_pw_6_relu"), maps("conv_pw_13_relu")
    assert min(early.shape[1:3]) > 1 and min(top.shape[1:3]) > 1  # pooling matters
    assert early.mean(axis=(1, 2)).std() > 0.05  # features that differ between images

    def check(features, expected):
        np.testing.assert_allclose(np.asarray(features), expected, rtol=1e-3, atol=1e-4)

    check(model.feature_extractor("conv_pw_6_relu")(x), early.mean(axis=(1, 2)))
    check(model.feature_extractor("conv_pw_6_relu", pooling="max")(x), early.max(axis=(1, 2)))
    check(model.feature_extractor("conv_pw_6_relu", pooling=None)(x), early.reshape(4, -1))
    check(model.feature_extractor()(x), top.mean(axis=(1, 2)))  # default: the base's output
    with pytest.raises(ValueError, match="layer must name a layer.*Received: layer='fc7'"):
        model.feature_extractor("fc7")


def test_shallow_classifiers_and_retrieval_on_separable_features(rng):
    labels = np.repeat([0, 1, 2], 20)
    features = rng.normal(size=(60, 8)) + 5.0 * np.eye(3, 8)[labels]
    for kind in ("svm", "logistic", "knn"):
        classifier = analysis.shallow_classifier(kind, pca_components=3).fit(features, labels)
        assert classifier.score(features, labels) > 0.95, kind
        assert "pca" in classifier.named_steps
    indices, distances = analysis.nearest_images(features, features[:6], k=3)
    assert indices.shape == distances.shape == (6, 3)
    np.testing.assert_array_equal(indices[:, 0], np.arange(6))  # each image finds itself
    assert analysis.retrieval_precision(indices, labels, labels[:6]) > 0.9
    with pytest.raises(ValueError, match="kind must be one of.*'tree'"):
        analysis.shallow_classifier("tree")
    with pytest.raises(ValueError, match="Received: k=61"):
        analysis.nearest_images(features, features, k=61)


@pytest.mark.parametrize(
    "n, similar, strategy, mode",
    [
        (120, True, "features + linear model", "features"),
        (5000, True, "fine-tune", "partial"),
        (50, False, "features from earlier layers", "features"),
        (5000, False, "train the whole network from the pretrained start", "total"),
    ],
)
def test_recommend_follows_the_four_cases(n, similar, strategy, mode):
    advice = recommend(n, similar, base="mobilenet")
    assert (advice.strategy, advice.mode) == (strategy, mode)
    assert advice.reason and strategy in str(advice)
    if strategy == "features from earlier layers":
        assert advice.layer == BASES["mobilenet"].early_layer
        assert "may not converge" in advice.reason


def test_recommend_rejects_bad_input():
    with pytest.raises(ValueError, match="n_per_class=0"):
        recommend(0, True)
    with pytest.raises(TypeError, match="similar_to_source='yes'"):
        recommend(10, "yes")


# --- augmentation and TTA ------------------------------------------------------------


def test_augmentation_is_active_only_in_training(rng):
    augment = image_augmentation(seed=0)
    x = images(rng, 2, 32)
    np.testing.assert_array_equal(np.asarray(augment(x, training=False)), x)
    assert not np.allclose(np.asarray(augment(x)), x)  # Keras' default: training=True
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, TrainingOnly(augment)(inputs))
    np.testing.assert_array_equal(np.asarray(model(x)), x)
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    assert not np.allclose(np.asarray(model(x, training=True)), x)


_FRACTION = "a finite number >= 0 and < 1"


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"rotation": 1}, ValueError, f"rotation must be {_FRACTION}. Received: rotation=1"),
        ({"zoom": True}, TypeError, f"zoom must be {_FRACTION}. Received: zoom=True of type bool"),
        (
            {"contrast": "0.1"},
            TypeError,
            f"contrast must be {_FRACTION}. Received: contrast='0.1' of type str",
        ),
        ({"zoom": -0.1}, ValueError, f"zoom must be {_FRACTION}. Received: zoom=-0.1"),
        (
            {"flip": "sideways"},
            ValueError,
            "flip must be one of None, 'horizontal', 'vertical', 'horizontal_and_vertical'."
            " Received: flip='sideways'",
        ),
        (
            {"seed": -1},
            ValueError,
            "seed must be None or an int >= 0 and <= 4294967295. Received: seed=-1",
        ),
    ],
)
def test_augmentation_arguments_are_checked_naming_them(kwargs, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        image_augmentation(**kwargs)


def test_augmentation_builds_keras_random_layers_with_the_ranges_and_seed_given():
    augment = image_augmentation("vertical", 0.2, 0.3, 0.4, (0, 1), seed=5, name="aug")
    configs = {layer.name: layer.get_config() for layer in augment.layers}
    assert list(configs) == ["aug_flip", "aug_rotation", "aug_zoom", "aug_contrast"]
    assert {config["seed"] for config in configs.values()} == {5}
    assert configs["aug_flip"]["mode"] == "vertical"
    assert configs["aug_rotation"]["factor"] == (-0.2, 0.2)
    assert configs["aug_zoom"]["height_factor"] == 0.3
    assert configs["aug_contrast"]["factor"] == (0, 0.4)
    assert configs["aug_contrast"]["value_range"] == (0, 1)
    assert image_augmentation().layers[-1].get_config()["value_range"] == (0, 255)


@pytest.mark.parametrize("flip", ["vertical", "horizontal_and_vertical", None])
def test_augmentation_flips_as_asked_seeded_and_named(flip, rng):
    augment = image_augmentation(flip=flip, rotation=0, zoom=0.0, contrast=0, seed=3)
    assert augment.name == "augmentation"
    assert [layer.name for layer in augment.layers] == (["augmentation_flip"] if flip else [])
    if flip:
        assert augment.layers[0].mode == flip and augment.layers[0].seed == 3


class AlternateFlip:
    """A deterministic augmentation: every second call flips the images left to right."""

    def __init__(self):
        self.calls = 0

    def __call__(self, images, training=False):
        assert training  # predict_tta must ask for the augmented images
        self.calls += 1
        return images[:, :, ::-1] if self.calls % 2 == 0 else images


def test_predict_tta_averages_m_augmented_predictions(rng):
    x = calibration_images(32)[:3]
    model = calibrated(small(input_shape=(32, 32, 3), augmentation=image_augmentation(seed=0)), x)
    plain, flipped = np.asarray(model(x)), np.asarray(model(x[:, :, ::-1]))
    assert np.abs(plain - flipped).max() > 1e-3  # else the check below could not fail
    identity = keras.Sequential([keras.layers.Identity()])
    np.testing.assert_allclose(analysis.predict_tta(model, x, identity, m=3), plain, atol=1e-6)
    # m=4 in batches of 2 (and 1): per image, two plain and two flipped predictions.
    averaged = analysis.predict_tta(model, x, AlternateFlip(), m=4, batch_size=2)
    # (batches of 2 and 1 round differently from the batch of 3 by up to ~6e-6; a wrong
    # average is off by ~1e-2, the plain-flipped difference asserted above)
    np.testing.assert_allclose(averaged, (plain + flipped) / 2, atol=2e-5)
    # The model's own augmentation by default: random, so not the plain prediction.
    assert not np.allclose(analysis.predict_tta(model, x, m=4), plain, atol=1e-4)
    with pytest.raises(ValueError, match="augmentation must be given"):
        analysis.predict_tta(identity, x)  # a model without an augmentation of its own
    with pytest.raises(ValueError, match="Received: m=0"):
        analysis.predict_tta(model, x, m=0)


# --- the recipe ----------------------------------------------------------------------


def _write_images(folder, n, rng):
    import tensorflow as tf

    folder.mkdir(parents=True)
    for i in range(n):
        image = rng.integers(0, 255, size=(40, 40, 3), dtype="uint8")
        tf.io.write_file(str(folder / f"{i}.png"), tf.io.encode_png(image))


def test_recipe_refuses_a_folder_with_one_class_or_no_images(in_tmp, rng):
    from recipes import transfer

    _write_images(in_tmp / "one" / "cats", 5, rng)
    argv = ["--smoke", "--weights", "none", "--no-export"]
    with pytest.raises(ValueError, match="at least 2 class folders.*one with 1 \\(cats\\)"):
        transfer.main(["--data", str(in_tmp / "one"), *argv, "--output-dir", "a"])
    for name in ("a", "b"):
        (in_tmp / "empty" / name).mkdir(parents=True)
    with pytest.raises(ValueError, match="no readable images.*empty"):
        transfer.main(["--data", str(in_tmp / "empty"), *argv, "--output-dir", "b"])


def test_recipe_prints_the_table_and_exports_tflite(in_tmp, rng, capsys):
    from recipes import transfer

    for name in ("ants", "bees"):
        _write_images(in_tmp / "photos" / name, 12, rng)
    # A random base calibrated on such images (--smoke: 96x96), so that outputs, TTA and
    # the TFLite parity depend on the image (with --weights none every image gets the same).
    weights = in_tmp / "base.weights.h5"
    calibrated(small(input_shape=(96, 96, 3)), images(rng, 8, 96)).base.save_weights(weights)
    argv = ["--data", str(in_tmp / "photos"), "--smoke", "--weights", str(weights)]
    argv += ["--mode", "minimum", "--no-svm", "--tflite", "--tta", "2", "--validation-split", "0.5"]
    metrics = transfer.main(argv)
    check_smoke_run(in_tmp, "transfer", argv, metrics)  # as every recipe's (test_recipes.py)
    table = capsys.readouterr().out.splitlines()
    row = metrics["rows"]["minimum"]
    assert row["epochs"] == 1  # --smoke: one epoch
    for line in (
        "| | Minimum |",
        "| Epochs | 1 |",
        f"| Training acc | {row['training_accuracy']:.4f} |",
        f"| Evaluation acc | {row['evaluation_accuracy']:.4f} |",
        f"| Evaluation acc, TTA | {row['tta_accuracy']:.4f} |",
    ):
        assert line in table  # the table shows the recorded numbers
    export = in_tmp / metrics["export_path"]
    assert (export / "saved_model.pb").is_file()
    tflite = metrics["tflite"]
    for kind in ("float", "dynamic", "float16"):
        assert tflite[kind]["bytes"] == (export / f"model_{kind}.tflite").stat().st_size, kind
    assert tflite["float"]["class_agreement"] == 1.0 and tflite["float"]["max_abs_diff"] < 1e-4
    assert tflite["float16"]["class_agreement"] == 1.0 and tflite["float16"]["max_abs_diff"] < 0.02
    assert tflite["size_ratio"] < 0.6 and tflite["float16_size_ratio"] < 0.6


def test_a_custom_base_needs_an_explicit_partial_boundary():
    from zoo.models import TransferClassifier

    base = keras.applications.MobileNet(
        input_shape=(32, 32, 3), alpha=0.25, include_top=False, weights=None
    )
    model = TransferClassifier(base, 3, mode="minimum")
    with pytest.raises(ValueError, match="needs trainable_from.*frozen_through=None"):
        model.set_mode("partial")
    assert model.set_mode("partial", "conv_pw_13").trainable_base_layers[0] == "conv_pw_13"
