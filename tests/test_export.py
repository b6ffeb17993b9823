"""SavedModel export: serving layout, raw inputs, metadata, no silent overwrite."""

import dataclasses
import datetime
import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import zoo
from zoo import data
from zoo.export import (
    _check_name,
    export,
    export_tflite,
    load_export,
    load_tflite,
    read_metadata,
    verify_export,
    verify_tflite,
)


@pytest.fixture(scope="module")
def digits_model():
    test, info = data.load(
        "digits", "test", image_size=28, normalize="zscore", with_info=True, shuffle=False
    )
    raw, _ = data.as_numpy(data.load("digits", "test", normalize=None, shuffle=False))
    x, _ = data.as_numpy(test)  # the same images as the model trains on them
    model = zoo.create_model("lenet5", input_shape=info.input_shape)
    # Untrained, its probabilities still differ by ~1e-4 between images, and by ~1e-4 to
    # ~1e-3 when the normalisation is left out or changed: far above the tolerances below.
    return model, info, raw, x


def test_export_takes_raw_float_and_uint8_images(digits_model, tmp_path):
    model, info, raw, x = digits_model
    path = export(model, "lenet5_digits", base_dir=tmp_path, info=info, metrics={"acc": 0.5})
    assert path == tmp_path / "lenet5_digits" / "1"
    assert (path / "saved_model.pb").is_file()
    check = verify_export(path, model, raw, info)
    assert check["match"] and check["class_agreement"] == 1.0
    as_float = load_export(path)(raw)
    as_uint8 = load_export(path, "serve_uint8")(raw.astype("uint8"))
    np.testing.assert_allclose(as_uint8["probabilities"], as_float["probabilities"], atol=1e-6)
    # Raw 8x8 images in, the prediction for the resized, standardised training input out.
    np.testing.assert_allclose(as_float["probabilities"], np.asarray(model(x)), atol=1e-6)
    np.testing.assert_array_equal(as_float["class_id"], np.asarray(model(x)).argmax(-1))
    assert as_float["class_id"].dtype == np.int32  # as the metadata says


def _signatures(shape):
    return {
        "serving_default": {"images": "float32", "shape": [None, *shape]},
        "serve_uint8": {"images": "uint8", "shape": [None, *shape]},
    }


def test_metadata_describes_the_export(digits_model, tmp_path):
    model, info, _, _ = digits_model
    path = export(model, "m", base_dir=tmp_path, info=info, metrics={"test_accuracy": 0.9})
    meta = read_metadata(path)
    created = datetime.datetime.fromisoformat(meta.pop("created"))
    now = datetime.datetime.now(datetime.timezone.utc)
    assert created.utcoffset() == datetime.timedelta(0) and created.microsecond == 0
    assert datetime.timedelta(0) <= now - created < datetime.timedelta(minutes=5)
    assert meta == {
        "name": "m",
        "version": 1,
        "model": "lenet5",
        "signatures": _signatures((8, 8, 1)),
        "input": "raw images, pixel values 0-255; resizing and normalisation are in the graph",
        "outputs": {"probabilities": "float32 (batch, 10)", "class_id": "int32 (batch,)"},
        "class_names": list(info.class_names),
        "preprocessing": json.loads(json.dumps(info.to_json())),
        "metrics": {"test_accuracy": 0.9},
        "versions": {
            "zoo": zoo.__version__,
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
        },
    }
    named = dataclasses.replace(info, class_names=tuple("abcdefghij"))
    assert read_metadata(export(model, "named", base_dir=tmp_path, info=named))[
        "class_names"
    ] == list("abcdefghij")
    # Without dataset information the model's own inputs are served, classes numbered.
    bare = read_metadata(export(model, "bare", 7, base_dir=tmp_path))
    assert (bare["name"], bare["version"]) == ("bare", 7)
    assert bare["signatures"] == _signatures((28, 28, 1))
    assert bare["input"] == "the model's own inputs, unchanged"
    assert bare["class_names"] == [str(i) for i in range(10)]
    assert (bare["preprocessing"], bare["metrics"]) == (None, {})


def test_tflite_export_bakes_in_the_preprocessing_like_the_saved_model(digits_model, tmp_path):
    model, info, raw, x = digits_model
    path = export_tflite(model, tmp_path / "lenet5.tflite", info=info)
    assert verify_tflite(path, model, raw[:20], info)["match"]  # raw 8x8 images in
    served = load_tflite(path)(raw[:20])["probabilities"]
    np.testing.assert_allclose(served, np.asarray(model(x[:20])), atol=1e-5)


def test_tflite_float_dynamic_range_and_float16_exports(tmp_path):
    """The conversions, from an export folder; tests/test_transfer.py's recipe test checks
    a MobileNet's (the transfer recipe's --tflite) against the same tolerances."""
    x, y = data.as_numpy(data.load("digits", "train", limit=512, shuffle=False))
    model = zoo.create_model("lenet5_modern", input_shape=(8, 8, 1))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=3, verbose=0)  # confident on some images, not all
    x = x[:64]
    expected = np.asarray(model(x))
    assert expected.max(-1).std() > 0.05  # outputs that depend on the image
    folder = export(model, "small", base_dir=tmp_path / "exports")
    float_path = export_tflite(folder, tmp_path / "model.tflite")
    quantized = export_tflite(folder, tmp_path / "int8" / "model.tflite", quantize="dynamic")
    report = verify_tflite(float_path, model, x)
    assert report["match"] and report["class_agreement"] == 1.0
    outputs = load_tflite(quantized)(x)
    doubles = load_tflite(quantized)(x.astype("float64"))  # converted to the input's float32
    assert list(load_tflite(quantized).interpreter.get_signature_list()) == ["serving_default"]
    assert not verify_tflite(quantized, model, x)["match"]  # int8: beyond the default 1e-4
    np.testing.assert_array_equal(doubles["probabilities"], outputs["probabilities"])
    assert set(outputs) == {"probabilities", "class_id"}
    np.testing.assert_array_equal(outputs["class_id"], outputs["probabilities"].argmax(-1))
    # int8 weights, activations quantised on the fly: near the float model, not equal
    int8_error = np.abs(outputs["probabilities"] - expected).max(-1)
    assert int8_error.mean() < 0.05 and (outputs["class_id"] == expected.argmax(-1)).mean() > 0.9
    float_bytes = float_path.stat().st_size
    assert quantized.stat().st_size < 0.6 * float_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exports", "int8", "model.tflite"]
    assert [p.name for p in (tmp_path / "int8").iterdir()] == ["model.tflite"]  # no staging
    stamp = float_path.stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_tflite(model, float_path)
    assert float_path.stat().st_mtime_ns == stamp
    # overwritten on request, here by the float16 conversion
    half = export_tflite(folder, float_path, quantize="float16", overwrite=True)
    assert half == float_path and half.stat().st_mtime_ns != stamp
    assert 0.4 < half.stat().st_size / float_bytes < 0.6  # float16 weights
    # float16 weights, float32 arithmetic: closer to the float model than int8, not exact
    half_error = np.abs(load_tflite(half)(x)["probabilities"] - expected).max(-1)
    assert 1e-7 < half_error.max() < 0.01 and half_error.mean() < int8_error.mean()
    messages = [
        ("int4", "model.tflite", "quantize must be one of (None, 'dynamic', 'float16'). "
         "Received: quantize='int4'"),
        (None, "model.bin", f"path must end in .tflite. Received: path='{tmp_path / 'model.bin'}'"),
    ]  # fmt: skip
    for quantize, name, message in messages:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            export_tflite(model, tmp_path / name, quantize=quantize)
    message = f"model must be a Keras model or an export folder. Received: {tmp_path}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        export_tflite(tmp_path, tmp_path / "from_folder.tflite")


def test_tfsmlayer_reads_the_export(digits_model, tmp_path):
    model, info, raw, x = digits_model
    path = export(model, "m", base_dir=tmp_path, info=info)
    layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
    out = layer(raw[:4])
    assert set(out) == {"probabilities", "class_id"}
    expected = np.asarray(model(x[:4]))
    np.testing.assert_allclose(np.asarray(out["probabilities"]), expected, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(out["class_id"]), expected.argmax(-1))


def test_versions_increment_and_never_overwrite(digits_model, tmp_path):
    model = digits_model[0]
    first = export(model, "m", base_dir=tmp_path)
    second = export(model, "m", base_dir=tmp_path)
    assert (first.name, second.name) == ("1", "2")
    stamp = (first / "saved_model.pb").stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export(model, "m", version=1, base_dir=tmp_path)
    assert (first / "saved_model.pb").stat().st_mtime_ns == stamp
    replaced = export(model, "m", version=1, base_dir=tmp_path, overwrite=True)
    assert replaced == first and (first / "saved_model.pb").is_file()
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["1", "2"]  # no leftovers


@pytest.mark.parametrize("name", ["../evil", "a/b", "a\\b", "..", "", ".hidden", "x..y"])
def test_bad_names_are_rejected(digits_model, tmp_path, name):
    message = (
        "name must be letters, digits, '_', '-' or '.', starting with a letter or digit, "
        f"at most 200 characters, with no path separator and no '..'. Received: name={name!r}"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        export(digits_model[0], name, base_dir=tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("version", [0, -1, "2", 1.5])
def test_bad_versions_are_rejected(digits_model, tmp_path, version):
    with pytest.raises(ValueError, match="version"):
        export(digits_model[0], "m", version=version, base_dir=tmp_path)


@given(st.text(min_size=1, max_size=12), st.sampled_from(["/", "\\", ".."]), st.text(max_size=5))
def test_no_name_with_a_separator_or_dotdot_is_accepted(head, bad, tail):
    with pytest.raises(ValueError, match="name"):
        _check_name(head + bad + tail)


class _Scorer(keras.Model):
    """A model with its own serving outputs, of two dtypes."""

    def __init__(self):
        inputs = keras.Input((3,))
        super().__init__(inputs, keras.layers.Dense(2)(inputs), name="scorer")

    def serving_outputs(self, x):
        scores = self(x)
        return {"scores": scores, "best": keras.ops.cast(keras.ops.argmax(scores, -1), "int32")}


def test_serving_outputs_are_exported_and_described_with_their_dtypes(tmp_path):
    model = _Scorer()
    path = export(model, "scorer", base_dir=tmp_path)
    meta = read_metadata(path)
    assert meta["outputs"] == {"scores": "float32 (batch, 2)", "best": "int32 (batch,)"}
    assert (meta["class_names"], meta["model"]) == (None, "scorer")  # no classes to name
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    served = load_export(path)(x)
    np.testing.assert_allclose(served["scores"], model(x), atol=1e-6)
    np.testing.assert_array_equal(served["best"], np.asarray(model(x)).argmax(-1))


def test_an_unknown_endpoint_is_refused_with_the_ones_there(digits_model, tmp_path):
    path = export(digits_model[0], "m", base_dir=tmp_path)
    message = (
        "endpoint must be one of ['serve_uint8', 'serving_default']. Received: endpoint='serve'"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_export(path, "serve")


def test_loaded_signatures_take_any_numeric_array_and_keep_the_model_alive(digits_model, tmp_path):
    model, info, raw, _ = digits_model
    path = export(model, "m", base_dir=tmp_path, info=info)
    predict = load_export(path)
    as_uint8 = load_export(path, "serve_uint8")
    expected = predict(raw[:5].astype("float32"))["probabilities"]
    # Each signature converts what it is given to its own dtype.
    np.testing.assert_allclose(predict(raw[:5].astype("uint8"))["probabilities"], expected)
    np.testing.assert_allclose(as_uint8(raw[:5].tolist())["probabilities"], expected, atol=1e-6)
    for function, dtype in ((predict, "float32"), (as_uint8, "uint8")):
        spec = function.signature.structured_input_signature[1]["images"]
        assert (spec.dtype, spec.shape.as_list()) == (dtype, [None, 8, 8, 1])
    assert sorted(predict.saved_model.signatures) == ["serve_uint8", "serving_default"]


def test_verify_export_notices_a_model_that_is_not_the_one_exported(digits_model, tmp_path):
    model, info, raw, _ = digits_model
    path = export(model, "m", base_dir=tmp_path, info=info)
    assert verify_export(path, model, raw.astype("uint8"), info)["match"]
    other = keras.models.clone_model(model)
    other.set_weights([w * 3.0 for w in model.get_weights()])
    check = verify_export(path, other, raw, info)
    assert 1e-5 < check["max_abs_diff"] < 1.0  # a probability moved, by less than 1
    assert not check["match"]
    within = verify_export(path, other, raw, info, atol=check["max_abs_diff"])
    assert within["match"]  # atol is the largest difference allowed


def test_names_longer_than_the_limit_are_refused_before_the_file_system_is(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match=r"at most 200 characters.*\(300 characters\)"):
        export(model, "a" * 300, base_dir=tmp_path)
    assert export(model, "a" * 200, base_dir=tmp_path).name == "1"


def test_a_symlinked_model_folder_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "m").symlink_to(elsewhere)
    with pytest.raises(ValueError, match="must not be a symbolic link.*elsewhere"):
        export(model, "m", base_dir=tmp_path / "root")
    assert not any(elsewhere.iterdir())


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_model_with_non_finite_weights_is_not_exported(tmp_path, bad):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    kernel = model.layers[0].kernel
    kernel.assign(np.where(np.eye(2, dtype=bool), bad, 1.0).astype("float32"))
    with pytest.raises(ValueError, match=r"non-finite weights \(2 of 4 in .*kernel\).*diverged"):
        export(model, "m", base_dir=tmp_path)
    assert not (tmp_path / "m").exists()


def test_a_claimed_version_is_skipped_and_never_served(tmp_path):
    """A version being written elsewhere (its claim exists) is neither reused nor listed."""
    from zoo.serving.layout import versions

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    (tmp_path / "m" / ".claim-1").mkdir(parents=True)
    assert versions(tmp_path / "m") == []
    assert export(model, "m", base_dir=tmp_path).name == "2"
    with pytest.raises(FileExistsError, match="being written by another export"):
        export(model, "m", version=1, base_dir=tmp_path)
    assert versions(tmp_path / "m") == [2]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [".claim-1", "2"]


_EXPORT_ONE = """
import sys, keras
from zoo.export import export
keras.utils.set_random_seed(int(sys.argv[2]))
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
print(export(model, "m", base_dir=sys.argv[1], metrics={"writer": int(sys.argv[2])}))
"""


@pytest.mark.timeout(240)
def test_concurrent_exports_get_distinct_complete_versions(tmp_path):
    """Processes exporting to one name at once: as many distinct, loadable versions."""
    import subprocess
    import sys

    from zoo.export import load_export, read_metadata
    from zoo.serving.layout import versions

    writers = 2
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _EXPORT_ONE, str(tmp_path), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(writers)
    ]
    try:
        results = [p.communicate(timeout=200) for p in processes]
    finally:
        for p in processes:
            p.kill()
    assert [p.returncode for p in processes] == [0] * writers, [err for _, err in results]
    assert versions(tmp_path / "m") == list(range(1, writers + 1))
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        str(v) for v in range(1, writers + 1)
    ]  # no claim or staging folder left
    writer_of = {
        read_metadata(tmp_path / "m" / str(v))["metrics"]["writer"] for v in range(1, writers + 1)
    }
    assert writer_of == set(range(writers))  # each process has its own version
    for v in range(1, writers + 1):
        out = load_export(tmp_path / "m" / str(v))(np.ones((1, 3), "float32"))
        assert out["probabilities"].shape == (1, 2)


def test_an_image_folder_model_is_served_images_as_stored(tmp_path):
    """A transfer model trained on a folder of 28x28 grayscale PNGs: its export takes those
    files' pixels as they are (1 channel, 28x28) and converts and resizes them in the graph
    as the training pipeline did."""
    import tensorflow as tf

    import zoo
    from zoo import data

    rng = np.random.default_rng(0)
    stored = {}
    for label in ("ants", "bees"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(3):
            image = rng.integers(0, 256, size=(28, 28, 1), dtype="uint8")
            path = tmp_path / "photos" / label / f"{i}.png"
            tf.io.write_file(str(path), tf.io.encode_png(image))
            stored[path.name, label] = image
    train, info = data.from_directory(
        tmp_path / "photos", image_size=32, shuffle=False, with_info=True
    )
    model = zoo.create_model(
        "transfer/mobilenet", input_shape=info.input_shape, classes=2, alpha=0.25, weights=None
    )
    path = export(model, "gray", base_dir=tmp_path / "saved_models", info=info)
    metadata = read_metadata(path)
    assert metadata["signatures"]["serving_default"]["shape"] == [None, None, None, None]
    assert metadata["signatures"]["serve_resized"]["shape"] == [None, 32, 32, 3]  # TFLite's
    assert "1 (grayscale)" in metadata["input"] and "resized to 32x32" in metadata["input"]
    images = np.stack(list(stored.values()))  # (6, 28, 28, 1), as the files hold them
    served = load_export(path)(images.astype("float32"))
    served_uint8 = load_export(path, "serve_uint8")(images)
    np.testing.assert_allclose(served_uint8["probabilities"], served["probabilities"], atol=1e-6)
    # The same as the model on the pipeline's images (which it read as RGB, resized, and
    # stored as uint8: within rounding).
    pipeline_images, _ = data.as_numpy(train)
    expected = np.asarray(model(info.preprocessing()(pipeline_images)))
    assert served["probabilities"].shape == (6, 2)
    np.testing.assert_allclose(served["probabilities"], expected, atol=2e-3)  # files in order
    # RGB and RGBA files of another size are taken too.
    rgba = rng.integers(0, 256, size=(2, 40, 50, 4)).astype("float32")
    assert load_export(path)(rgba)["probabilities"].shape == (2, 2)
