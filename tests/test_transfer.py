"""Transfer learning: modes, inference-mode batch norm, two-phase fine-tuning, weights,
feature extraction, the strategy guide, augmentation and TTA, TFLite."""

import keras
import numpy as np
import pytest

import zoo
from zoo import analysis
from zoo.export import export_tflite, load_tflite, verify_tflite
from zoo.layers import InferenceMode, TrainingOnly, image_augmentation
from zoo.models.transfer import BASES, fine_tune, recommend, transfer_model

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


@pytest.fixture
def weights_file(data_root):
    """MobileNet alpha 0.25 ImageNet weights. Training tests need trained weights: through a
    randomly initialised base with BN in inference mode, gradients vanish (~1e-16)."""
    path = data_root / "weights" / WEIGHTS_FILE
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    return path


# --- modes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inception():
    return small("inception_resnet_v2")


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


@pytest.mark.parametrize("base", sorted(BASES))
def test_every_base_trains_in_every_mode_and_only_its_trainable_weights_move(base, inception, rng):
    model = inception if base == "inception_resnet_v2" else small(base)
    x, y = images(rng, 2), np.array([0, 0])  # one class, so that the head's bias must move
    for mode in ("minimum", "partial", "total"):
        model.set_mode(mode)
        # Eagerly: tracing Inception-ResNet-v2's training step three times costs ~30 s.
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss="sparse_categorical_crossentropy",
            run_eagerly=True,
        )
        trainable = {id(v) for v in model.trainable_weights}
        frozen = [(v, v.numpy().copy()) for v in model.weights if id(v) not in trainable]
        head = model.get_layer(f"{model.name}_predictions").bias  # random bases: ~0 features
        before = head.numpy().copy()
        loss = model.fit(x, y, epochs=1, verbose=0).history["loss"][0]
        assert np.isfinite(loss), mode
        assert not np.array_equal(head.numpy(), before), mode
        for variable, value in frozen:  # frozen layers and BN statistics
            np.testing.assert_array_equal(
                variable.numpy(), value, err_msg=f"{mode} {variable.path}"
            )
        n_base = len(model.trainable_base_layers)
        assert (n_base == 0) == (mode == "minimum"), mode
    model.set_mode("minimum")


def test_trainable_from_a_layer_name_or_a_fraction():
    model = small(mode="partial", trainable_from="conv_pw_13")
    assert model.trainable_base_layers == ["conv_pw_13", "conv_pw_13_bn"]
    assert small(mode="partial", trainable_from=0.0).trainable_base_layers == with_weights(model)
    assert small(mode="partial", trainable_from=1.0).trainable_base_layers == []
    half = small(mode="partial", trainable_from=0.5).trainable_base_layers
    names = base_layer_names(model)
    assert half[0] in names[len(names) // 2 :] and "conv1" not in half


def test_batch_norm_statistics_stay_fixed_in_a_total_mode_step(rng, weights_file):
    """The fine-tuning guide's rule: BN layers stay in inference mode even when unfrozen."""
    model = small(mode="total", weights=str(weights_file))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    bns = [
        layer for layer in model.base.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    stats = [[v.numpy().copy() for v in bn.non_trainable_weights] for bn in bns]
    top_bn = model.base.get_layer("conv_pw_13_bn")
    gamma = top_bn.gamma.numpy().copy()
    kernel = model.base.get_layer("conv_pw_13").kernel.numpy().copy()
    model.fit(images(rng, 8), np.array([0, 1] * 4), epochs=1, batch_size=4, verbose=0)
    for bn, before in zip(bns, stats, strict=True):
        for variable, value in zip(bn.non_trainable_weights, before, strict=True):
            np.testing.assert_array_equal(variable.numpy(), value, err_msg=variable.path)
    # ...while the weights, BN's scale included, do train.
    assert not np.array_equal(model.base.get_layer("conv_pw_13").kernel.numpy(), kernel)
    assert not np.array_equal(top_bn.gamma.numpy(), gamma)


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
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, verbose=0)
        assert (not np.array_equal(bn.moving_mean.numpy(), before)) == moves


def test_keras_round_trip_keeps_mode_boundary_and_augmentation(tmp_path, rng):
    model = small(
        mode="partial", trainable_from="conv_pw_12", augmentation=image_augmentation(seed=1)
    )
    x = images(rng)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.mode == "partial" and reloaded.trainable_from == "conv_pw_12"
    assert reloaded.trainable_base_layers == model.trainable_base_layers
    assert reloaded.augmentation is not None
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)


def test_two_phase_fine_tuning(rng, weights_file):
    model = small(mode="total", weights=str(weights_file))
    x, y = images(rng, 8), np.array([0, 1] * 4)
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
    with pytest.raises(ValueError, match="mode must be 'partial' or 'total'.*minimum"):
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
        ({"input_shape": (31, 31, 3)}, ">= 32 for base 'mobilenet'.*\\(31, 31, 3\\)"),
        (
            {"base": "inception_resnet_v2", "input_shape": (74, 74, 3)},
            ">= 75 for base 'inception_resnet_v2'",
        ),
        ({"input_shape": (64, 64, 1)}, "input_shape must be \\(height, width, 3\\)"),
        ({"classes": 1}, "classes must be an int >= 2. Received: classes=1"),
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


def test_registered_factories_build_each_base():
    assert zoo.list_models("transfer/*") == [f"transfer/{name}" for name in sorted(BASES)]


# --- features, retrieval, strategy guide ---------------------------------------------


def test_feature_extractor_gives_the_pooled_activations_of_a_named_layer(rng):
    model = small()
    x = images(rng)
    early = model.feature_extractor("conv_pw_6_relu")
    inner = keras.Model(model.base.inputs, model.base.get_layer("conv_pw_6_relu").output)
    expected = np.asarray(inner(x / 127.5 - 1.0)).mean(axis=(1, 2))
    np.testing.assert_allclose(np.asarray(early(x)), expected, atol=1e-5)
    assert model.feature_extractor()(x).shape == (4, 256)
    assert model.feature_extractor("conv_pw_6_relu", pooling=None)(x).shape[1] > 128
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
    with pytest.raises(ValueError, match="similar_to_source='yes'"):
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
    with pytest.raises(ValueError, match="rotation.*Received: rotation=2"):
        image_augmentation(rotation=2)
    with pytest.raises(ValueError, match="flip.*Received: flip='sideways'"):
        image_augmentation(flip="sideways")


def test_predict_tta_averages_m_augmented_predictions(rng, weights_file):
    model = small(augmentation=image_augmentation(seed=0), weights=str(weights_file))
    x = images(rng, 3)
    identity = keras.Sequential([keras.layers.Identity()])
    np.testing.assert_allclose(
        analysis.predict_tta(model, x, identity, m=3), np.asarray(model(x)), atol=1e-6
    )
    averaged = analysis.predict_tta(model, x, m=4, batch_size=2)
    assert averaged.shape == (3, 2)
    np.testing.assert_allclose(averaged.sum(axis=1), 1.0, atol=1e-5)
    assert not np.allclose(averaged, np.asarray(model(x)))
    with pytest.raises(ValueError, match="augmentation must be given"):
        analysis.predict_tta(small(), x)
    with pytest.raises(ValueError, match="Received: m=0"):
        analysis.predict_tta(model, x, m=0)


# --- TFLite --------------------------------------------------------------------------


def test_tflite_float_and_dynamic_range_exports(tmp_path, rng):
    model = small(mode="partial", input_shape=(32, 32, 3))
    x = images(rng, 5, 32)
    float_path = export_tflite(model, tmp_path / "model.tflite")
    quantized = export_tflite(model, tmp_path / "model_int8.tflite", quantize="dynamic")
    report = verify_tflite(float_path, model, x)
    assert report["match"] and report["class_agreement"] == 1.0
    outputs = load_tflite(quantized)(x)
    assert set(outputs) == {"probabilities", "class_id"}
    np.testing.assert_allclose(outputs["probabilities"], np.asarray(model(x)), atol=0.1)
    assert quantized.stat().st_size < 0.6 * float_path.stat().st_size
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_tflite(model, float_path)
    with pytest.raises(ValueError, match="quantize must be.*'int4'"):
        export_tflite(model, tmp_path / "other.tflite", quantize="int4")
    with pytest.raises(ValueError, match="path must end in .tflite"):
        export_tflite(model, tmp_path / "model.bin")
    with pytest.raises(ValueError, match="a Keras model or an export folder"):
        export_tflite(tmp_path, tmp_path / "from_folder.tflite")


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
    metrics = transfer.main(
        ["--data", str(in_tmp / "photos"), "--smoke", "--weights", "none", "--mode", "minimum",
         "--no-svm", "--tflite", "--tta", "2", "--validation-split", "0.5"]
    )  # fmt: skip
    table = capsys.readouterr().out
    for label in ("| | Minimum |", "Epochs", "Training acc", "Evaluation acc", "TTA"):
        assert label in table
    assert metrics["best_mode"] == "minimum"
    assert metrics["tflite"]["float"]["class_agreement"] == 1.0
    assert metrics["tflite"]["size_ratio"] < 0.6
    assert metrics["tflite"]["float16"]["class_agreement"] == 1.0
    assert metrics["tflite"]["float16_size_ratio"] < 0.6
    export = in_tmp / metrics["export_path"]
    assert (export / "saved_model.pb").is_file() and (export / "model_dynamic.tflite").is_file()


def test_a_custom_base_needs_an_explicit_partial_boundary():
    from zoo.models import TransferClassifier

    base = keras.applications.MobileNet(
        input_shape=(32, 32, 3), alpha=0.25, include_top=False, weights=None
    )
    model = TransferClassifier(base, 3, mode="minimum")
    with pytest.raises(ValueError, match="needs trainable_from.*frozen_through=None"):
        model.set_mode("partial")
    assert model.set_mode("partial", "conv_pw_13").trainable_base_layers[0] == "conv_pw_13"
