"""Export to TensorFlow SavedModel in the TensorFlow Serving layout.

`export(model, "lenet5")` writes `saved_models/lenet5/<version>/` with two signatures:

- `serving_default`: float32 raw images (pixel values 0-255, the shape of the dataset's
  stored images), the one TensorFlow Serving's REST API calls by default;
- `serve_uint8`: the same for uint8 images;

both returning, for a classifier, `{"probabilities": (batch, classes) float32, "class_id":
(batch,) int32}`; a model with a `serving_outputs(x)` method (a `zoo.models.Autoencoder`:
reconstruction, code and per-example reconstruction error) returns that dict instead.
Resizing and normalisation (from a `zoo.data.DatasetInfo`) are baked into the graph, so
clients send raw images. `metadata.json` beside `saved_model.pb` describes inputs, outputs, class
names, metrics and versions.

Example:

    path = export(model, "lenet5", info=info, metrics={"test_accuracy": 0.99})
    predict = load_export(path)
    predict(images_uint8)["class_id"]
"""

import datetime
import json
import os
import pathlib
import re
import shutil
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

METADATA_FILE = "metadata.json"
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_NAME_LENGTH = 200  # below the file systems' 255 bytes, leaving room for staging names
RESIZED_SIGNATURE = "serve_resized"  # image folders: the images as the pipeline read them
_CLAIM_PREFIX = ".claim-"  # a hidden folder per version being written: claimed, not served
_STAGING_PREFIX = ".staging-"


def export(
    model,
    name,
    version=None,
    base_dir="saved_models",
    *,
    info=None,
    metrics=None,
    overwrite=False,
    metadata=None,
):
    """Writes `model` as a SavedModel to `<base_dir>/<name>/<version>/` for serving.

    Args:
        model: A Keras classifier whose output is class probabilities, or a model with a
            `serving_outputs(x)` method returning a dict of tensors (autoencoders).
        name: Model name in the serving layout: letters, digits, `_`, `-`, `.`; no path
            separators and no `..`.
        version: Positive int; None (default) takes one more than the highest existing.
        base_dir: The serving root. Defaults to "saved_models".
        info: Optional `zoo.data.DatasetInfo`: its resizing and normalisation are baked in
            front of the model and its class names go into the metadata. Without it the
            signatures take the model's own inputs unchanged.
        metrics: Optional dict of final metrics to record in the metadata.
        overwrite: Replace an existing version. Defaults to False.
        metadata: Optional dict of more facts to record in the metadata (the recipes
            record the dataset and the command line).

    Returns:
        The `pathlib.Path` of the version folder.

    Raises:
        ValueError: bad name or version; a model folder that is a symbolic link; a model
            whose weights are not all finite (a diverged model is never exported).
        FileExistsError: the version exists and `overwrite` is False.

    Versions are claimed atomically, so that several processes exporting to one name at
    once each get their own version: a version number is taken by creating the hidden
    folder `.claim-<version>` (an exclusive `mkdir`), the SavedModel is written into a
    hidden staging folder beside it and moved into place with one `rename`. A model
    server polling the folder therefore never sees a version that is still being
    written, and nothing is overwritten unless `overwrite=True`.
    """
    _check_name(name)
    if version is not None and (
        not isinstance(version, int) or isinstance(version, bool) or version < 1
    ):
        raise ValueError(f"version must be a positive int or None. Received: version={version!r}")
    check_finite_weights(model)
    root = pathlib.Path(base_dir) / name
    if root.is_symlink():
        raise ValueError(
            f"the model folder must not be a symbolic link (exports are written inside it). "
            f"Received: {root} -> {os.readlink(root)}"
        )
    root.mkdir(parents=True, exist_ok=True)
    version, claim = _claim_version(root, version, overwrite)
    target = root / str(version)

    raw_shape = info.serving_shape() if info else tuple(model.input_shape[1:])
    preprocessing = info.serving_preprocessing() if info else None

    def serve(images):
        x = keras.ops.cast(images, "float32")
        if preprocessing is not None:
            x = preprocessing(x)
        return serving_outputs(model, x)

    archive = keras.export.ExportArchive()
    archive.track(model)
    serve_float = archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec((None, *raw_shape), tf.float32, name="images")],
    )
    # The uint8 signature calls the float one, so the model is traced (and stored) once.
    archive.add_endpoint(
        "serve_uint8",
        lambda images: serve_float(tf.cast(images, tf.float32)),
        input_signature=[tf.TensorSpec((None, *raw_shape), tf.uint8, name="images")],
    )
    if info is not None and info.image_folder:
        # Images already read as the pipeline reads them (RGB, resized): a fixed input
        # size, which is what TensorFlow Lite takes (`export_tflite` converts this one).
        read = info.preprocessing()
        archive.add_endpoint(
            RESIZED_SIGNATURE,
            lambda images: serving_outputs(model, read(tf.cast(images, tf.float32))),
            input_signature=[tf.TensorSpec((None, *info.raw_shape), tf.float32, name="images")],
        )

    # Write next to the target, then move into place: a failed export leaves no half version.
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{version}-", dir=root))
    try:
        archive.write_out(str(staging / "model"), verbose=False)
        record = _metadata(model, name, version, raw_shape, info, metrics)
        record.update(metadata or {})
        (staging / "model" / METADATA_FILE).write_text(json.dumps(record, indent=2, default=str))
        if target.exists():  # overwrite=True: the old version leaves by one rename too
            target.rename(staging / "replaced")
        (staging / "model").rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if claim is not None:
            claim.rmdir()
    return target


def _claim_version(root, version, overwrite):
    """Claims a version under `root` for this process: `(version, claim folder)`.

    The claim is the exclusive creation of `.claim-<version>`; a version is free when
    neither it nor its claim exists. With `version` None the next free number above every
    existing or claimed one is taken (racing processes each get their own).
    """
    while True:
        taken = set()
        for p in root.iterdir():
            number = p.name.removeprefix(_CLAIM_PREFIX)
            if number.isdigit():
                taken.add(int(number))
        wanted = version if version is not None else max(taken, default=0) + 1
        target, claim = root / str(wanted), root / f"{_CLAIM_PREFIX}{wanted}"
        if target.exists() and not overwrite:
            raise FileExistsError(
                f"{target} already exists; pass overwrite=True to replace it, or another version."
            )
        try:
            claim.mkdir()
        except FileExistsError:
            if version is not None:
                raise FileExistsError(
                    f"{target} is being written by another export (claimed by {claim})."
                ) from None
            continue  # another process took this number first: try the next
        if target.exists() and not overwrite:  # completed between the listing and the claim
            claim.rmdir()
            continue
        return wanted, claim


def check_finite_weights(model):
    """Raises `ValueError` naming the first weight of `model` that is not finite."""
    for weight in model.weights:
        value = keras.ops.convert_to_numpy(weight)
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            bad = int(np.size(value) - np.isfinite(value).sum())
            raise ValueError(
                f"model {model.name!r} has non-finite weights ({bad} of {np.size(value)} in "
                f"{weight.path}): training diverged; it is not exported. Lower the learning "
                "rate, or add gradient clipping."
            )


def serving_outputs(model, x):
    """The dict an export of `model` returns for the preprocessed batch `x`."""
    if hasattr(model, "serving_outputs"):
        return model.serving_outputs(x)
    probabilities = model(x, training=False)
    # tf.argmax, not keras.ops.argmax: the latter adds an op TFLite lacks (BitwiseAnd).
    return {
        "probabilities": probabilities,
        "class_id": tf.argmax(probabilities, axis=-1, output_type=tf.int32),
    }


def load_export(path, endpoint="serving_default"):
    """Loads an export's signature as a function from a numpy batch to a dict of numpy arrays.

    Keras 3's `load_model` cannot read SavedModels; this uses `tf.saved_model.load`. To use
    an export as a layer inside a Keras model, use `keras.layers.TFSMLayer(path,
    call_endpoint="serving_default")`.

    The function converts its input to the signature's dtype, and carries the concrete
    function as `predict.signature` and the loaded SavedModel as `predict.saved_model`.
    """
    loaded = tf.saved_model.load(str(path))
    if endpoint not in loaded.signatures:
        raise ValueError(
            f"endpoint must be one of {sorted(loaded.signatures)}. Received: endpoint={endpoint!r}"
        )
    signature = loaded.signatures[endpoint]
    dtype = signature.structured_input_signature[1]["images"].dtype

    def predict(images):
        outputs = signature(images=tf.constant(np.asarray(images), dtype=dtype))
        return {key: value.numpy() for key, value in outputs.items()}

    predict.signature = signature
    predict.saved_model = loaded  # keeps the variables alive
    return predict


def read_metadata(path):
    """The `metadata.json` of an export folder, as a dict."""
    return json.loads((pathlib.Path(path) / METADATA_FILE).read_text())


def _check_name(name):
    if (
        not isinstance(name, str)
        or not _NAME_PATTERN.fullmatch(name)
        or ".." in name
        or len(name) > MAX_NAME_LENGTH
    ):
        shown = name if not isinstance(name, str) or len(name) <= 80 else f"{name[:60]}..."
        raise ValueError(
            "name must be letters, digits, '_', '-' or '.', starting with a letter or digit, "
            f"at most {MAX_NAME_LENGTH} characters, with no path separator and no '..'. "
            f"Received: name={shown!r}" + (f" ({len(name)} characters)" if shown != name else "")
        )


def _metadata(model, name, version, raw_shape, info, metrics):
    import zoo

    if hasattr(model, "serving_outputs"):
        example = serving_outputs(model, keras.ops.zeros((1, *model.input_shape[1:])))
        outputs = {
            key: _describe(value.dtype, ("batch", *value.shape[1:]))
            for key, value in example.items()
        }
        class_names = list(info.class_names) if info else None
    else:
        classes = int(model.output_shape[-1])
        outputs = {"probabilities": f"float32 (batch, {classes})", "class_id": "int32 (batch,)"}
        class_names = list(info.class_names) if info else [str(i) for i in range(classes)]
    signatures = {
        "serving_default": {"images": "float32", "shape": [None, *raw_shape]},
        "serve_uint8": {"images": "uint8", "shape": [None, *raw_shape]},
    }
    if info is not None and info.image_folder:
        signatures[RESIZED_SIGNATURE] = {"images": "float32", "shape": [None, *info.raw_shape]}
    return {
        "name": name,
        "version": version,
        "model": model.name,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "signatures": signatures,
        "input": _input_description(info),
        "outputs": outputs,
        "class_names": class_names,
        "preprocessing": info.to_json() if info else None,
        "metrics": metrics or {},
        "versions": {
            "zoo": zoo.__version__,
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
        },
    }


def _input_description(info):
    if info is None:
        return "the model's own inputs, unchanged"
    if not info.image_folder:
        return "raw images, pixel values 0-255; resizing and normalisation are in the graph"
    crop = "centre-cropped to the aspect ratio, " if info.crop_to_aspect_ratio else ""
    height, width = info.raw_shape[:2]
    return (
        "images as stored, pixel values 0-255, any height and width, 1 (grayscale), 3 (RGB) "
        f"or 4 (RGBA) channels, one size per request; converted to RGB, {crop}resized to "
        f"{height}x{width} and normalised in the graph, as in training"
    )


def _describe(dtype, shape):
    """'float32 (batch, 16)', or 'float32 (batch,)' for one dimension (as Python writes it)."""
    dims = ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "")
    return f"{keras.backend.standardize_dtype(dtype)} ({dims})"


def verify_export(path, model, raw_images, info=None, atol=1e-5):
    """Compares an export's outputs on raw images with the Keras model's.

    Args:
        path: The export's version folder.
        model: The Keras model that was exported.
        raw_images: A numpy batch of raw images (the export's input).
        info: The `DatasetInfo` given to `export` (its preprocessing feeds the Keras model).
        atol: Largest allowed absolute difference of probabilities.

    Returns:
        dict with `max_abs_diff` (over every float output), `match` (bool) and, for a
        classifier, `class_agreement` (fraction of equal class ids).
    """
    raw = np.asarray(raw_images, dtype="float32")
    return _compare(_expected(model, raw, info), load_export(path)(raw), atol)


# --- TensorFlow Lite ------------------------------------------------------------------

TFLITE_QUANTIZATIONS = (None, "dynamic", "float16")


def export_tflite(model, path, *, quantize=None, info=None, overwrite=False):
    """Writes `model` as a TensorFlow Lite flatbuffer for phones and microcontrollers.

    The flatbuffer takes float32 raw images (batch, *raw shape) like the SavedModel's
    `serving_default` and returns the same outputs (for a classifier: `probabilities` and
    `class_id`). For an image folder's model, whose SavedModel takes images of any size,
    it takes them as the training pipeline read them: RGB, resized to `info.raw_shape`
    (the SavedModel's `serve_resized` signature), a fixed size as phones expect.

    Args:
        model: The Keras model, as for `export`; or the folder of an existing export
            (from `export`), whose `serving_default` signature is converted as it is.
        path: The `.tflite` file to write.
        quantize: None (default: float32 weights), "dynamic" (dynamic-range
            quantisation: int8 weights, activations quantised on the fly by the int8
            kernels; about 3x smaller) or "float16" (float16 weights, float32 compute;
            half the size, nearly exact).
        info: Optional `zoo.data.DatasetInfo` whose preprocessing is baked in (for a
            Keras model; an export has its own).
        overwrite: Replace an existing file. Defaults to False.

    Returns:
        The `pathlib.Path` written.
    """
    if quantize not in TFLITE_QUANTIZATIONS:
        raise ValueError(
            f"quantize must be one of {TFLITE_QUANTIZATIONS}. Received: quantize={quantize!r}"
        )
    path = pathlib.Path(path)
    if path.suffix != ".tflite":
        raise ValueError(f"path must end in .tflite. Received: path={str(path)!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it.")
    # Through a SavedModel: converting a concrete function directly keeps the weights as
    # uninitialised resource variables (the flatbuffer then predicts NaN).
    with tempfile.TemporaryDirectory() as scratch:
        if isinstance(model, (str, os.PathLike)):
            source = pathlib.Path(model)
            if not (source / "saved_model.pb").is_file():
                raise ValueError(
                    f"model must be a Keras model or an export folder. Received: {model}"
                )
        else:
            source = export(model, "model", 1, base_dir=scratch, info=info)
        # An image folder's export takes any size; TensorFlow Lite gets its fixed-size
        # signature (images read as RGB and resized, as the training pipeline read them).
        signatures = (
            read_metadata(source).get("signatures", {})
            if (source / METADATA_FILE).is_file()
            else {}
        )
        key = RESIZED_SIGNATURE if RESIZED_SIGNATURE in signatures else "serving_default"
        converter = tf.lite.TFLiteConverter.from_saved_model(str(source), signature_keys=[key])
        if quantize is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        flatbuffer = converter.convert()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    staging.write_bytes(flatbuffer)
    staging.replace(path)
    return path


def load_tflite(path):
    """Loads a `.tflite` file as a function from a numpy batch to a dict of numpy arrays.

    Uses LiteRT (`ai_edge_litert`) when installed, else TensorFlow's `tf.lite.Interpreter`,
    which the function carries as `predict.interpreter`.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():  # TF's deprecation notice, pointing at LiteRT
        warnings.simplefilter("ignore", UserWarning)
        interpreter = Interpreter(model_path=str(path))
    (key,) = interpreter.get_signature_list()
    runner = interpreter.get_signature_runner(key)
    (input_name,) = interpreter.get_signature_list()[key]["inputs"]

    def predict(images):
        return runner(**{input_name: np.asarray(images, dtype="float32")})

    predict.interpreter = interpreter
    return predict


def verify_tflite(path, model, raw_images, info=None, atol=1e-4):
    """Compares a `.tflite` model's outputs on raw images with the Keras model's.

    Returns:
        dict as `verify_export`: `max_abs_diff`, `match` (within `atol`; expect False for a
        quantised model) and, for a classifier, `class_agreement`.
    """
    raw = np.asarray(raw_images, dtype="float32")
    return _compare(_expected(model, raw, info), load_tflite(path)(raw), atol)


def _expected(model, raw, info):
    inputs = info.serving_preprocessing()(raw) if info else raw
    return {k: np.asarray(v) for k, v in serving_outputs(model, inputs).items()}


def _compare(expected, served, atol):
    diff = max(
        float(np.max(np.abs(served[key] - value)))
        for key, value in expected.items()
        if value.dtype.kind == "f"
    )
    report = {"max_abs_diff": diff, "match": diff <= atol}
    if "class_id" in expected:
        report["class_agreement"] = float(np.mean(served["class_id"] == expected["class_id"]))
    return report
