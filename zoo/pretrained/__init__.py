"""Checkpoints shipped with zoo: trained weights of its own models, by name.

`create_model("lenet5", weights="mnist")` builds LeNet-5 and loads the checkpoint named
"mnist" of `lenet5` from this folder; `zoo weights` lists them all. Each checkpoint is
one `.npz` file of the model's weights (in `model.weights` order, float16 where that
leaves the test metric unchanged) and one entry of `manifest.json`:

- `model`, `name` (what `weights=` takes) and `dataset`;
- `arguments`: the factory arguments that define the weights (input shape, classes,
  code size, hidden units, activations, ...). A call that passes one of them with another
  value is refused, naming it; one it leaves out takes the checkpoint's value, so
  `create_model("rbm", weights="mnist")` builds the 500-unit RBM the checkpoint holds.
  Other arguments (`name`, `seed`, training options such as `noise_level`) are free;
- `input`: how images reach the model (the `zoo.data.DatasetInfo` of its training data,
  and whether pixels were binarised); `dataset_info` returns it, for `zoo.export.export`;
- `command`: the recipe command that trained it, and `source`, the run-folder file
  converted (`benchmarks/pretrained.py` rebuilds every checkpoint from these);
- `metric`: its name, value on the whole test split, value before the float16 rounding,
  and value on the first 500 images of the original test files (`subset_images`; what
  tests/test_pretrained.py checks);
- `file`, `sha256`, `size` (bytes) and `dtype`. The sha256 is checked on every load:
  a file that does not match is refused, naming it.

Example:

    import zoo
    from zoo import pretrained

    model = zoo.create_model("lenet5", weights="mnist")
    entry = pretrained.checkpoint("lenet5", "mnist")
    pretrained.evaluate(model, entry)  # entry["metric"]["value"], on all 10,000
    raw, labels = pretrained.subset_images("mnist")  # the first 500, from the files
    pretrained.measure(model, "test_accuracy", pretrained.prepare(entry, raw), labels)

Reading the manifest (`checkpoints`, `checkpoint`, `names`, `table`) needs neither
TensorFlow nor Keras, so `zoo weights` starts fast.
"""

import functools
import hashlib
import json
import pathlib

FOLDER = pathlib.Path(__file__).resolve().parent
MANIFEST = FOLDER / "manifest.json"
SUBSET = 500  # test images of each checkpoint's `subset` value (the tests use these)
# How far a re-measured metric may be from the manifest's, by metric: the weights are
# fixed, so the only differences are float rounding across machines (a prediction at a
# tie can flip): `abs` in the metric's units, `rel` relative to the recorded value.
TOLERANCES = {
    "test_accuracy": {"abs": 0.004},  # 2 of 500 test images
    "test_reconstruction_mse": {"rel": 0.01},
}


@functools.cache
def manifest():
    """The parsed `manifest.json`: `{"format": 1, "checkpoints": [...]}`."""
    return json.loads(MANIFEST.read_text())


def checkpoints(model=None):
    """The manifest's entries (dicts), all or those of one registered `model`."""
    return [c for c in manifest()["checkpoints"] if model is None or c["model"] == model]


def names(model):
    """The checkpoint names `weights=` takes for `model` (a list, maybe empty)."""
    return [c["name"] for c in checkpoints(model)]


def checkpoint(model, name):
    """The manifest entry of `model`'s checkpoint `name`; `ValueError` listing the
    checkpoints of `model` (or saying it has none) for any other name."""
    for entry in checkpoints(model):
        if entry["name"] == name:
            return entry
    raise ValueError(
        "weights must be None, the path of a weights file saved by this model, or "
        f"{wanted(model)}. Received: weights={name!r}"
    )


def wanted(model):
    """`"the name of a checkpoint shipped for lenet5: 'mnist'"`, or that there is none."""
    shipped = names(model)
    if not shipped:
        return f"the name of a shipped checkpoint (none for {model}; `zoo weights` lists them)"
    return f"the name of a checkpoint shipped for {model}: {', '.join(map(repr, shipped))}"


def path(entry):
    """The weights file of a manifest entry."""
    return FOLDER / entry["file"]


def sha256(file):
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(entry, file=None):
    """Checks `file` (default: the entry's shipped file) against the entry's sha256;
    returns its path. `ValueError` naming the file when it differs."""
    file = pathlib.Path(file) if file is not None else path(entry)
    actual = sha256(file)
    if actual != entry["sha256"]:
        raise ValueError(
            f"the weights file {file} of checkpoint {entry['name']!r} of {entry['model']} does "
            f"not match the manifest: sha256 {actual}, expected {entry['sha256']} (a damaged "
            "or replaced file; reinstall zoo, or rebuild it with benchmarks/pretrained.py)"
        )
    return file


def load(model, entry, file=None, *, head=True):
    """Loads the entry's weights (verified first) into `model`, in `model.weights`
    order; returns `model`. `ValueError` naming the file when the number or the shape of
    the arrays does not match the model's weights.

    With `head=False` the model is the checkpoint's network without its classifier
    (`include_top=False`), whose weights come last: it gets all the others.
    """
    import numpy as np

    file = verify(entry, file)
    variables = model.weights
    with np.load(file, allow_pickle=False) as arrays:
        stored = [str(n) for n in arrays["names"]]
        values = [arrays[f"w{i:03d}"] for i in range(len(stored))]
    if not head and len(values) > len(variables):
        stored, values = stored[: len(variables)], values[: len(variables)]
    if len(values) != len(variables):
        raise ValueError(
            f"the weights file {file.name} holds {len(values)} arrays; the model {model.name} "
            f"has {len(variables)} weights. Check the model's arguments against "
            f"{entry['arguments']}"
        )
    for variable, value, stored_name in zip(variables, values, stored, strict=True):
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"the weights file {file.name} has {stored_name} of shape {value.shape}; the "
                f"model's {variable.path} has shape {tuple(variable.shape)}. Check the model's "
                f"arguments against {entry['arguments']}"
            )
        variable.assign(value.astype(variable.dtype))
    return model


def save(model, file, dtype="float16"):
    """Writes `model.weights` to a compressed `.npz`, floating arrays as `dtype`."""
    import keras
    import numpy as np

    arrays = {}
    for i, variable in enumerate(model.weights):
        value = keras.ops.convert_to_numpy(variable.value)
        arrays[f"w{i:03d}"] = value.astype(dtype) if value.dtype.kind == "f" else value
    np.savez_compressed(file, names=np.array([v.path for v in model.weights]), **arrays)
    return pathlib.Path(file)


def dataset_info(model, name):
    """The `zoo.data.DatasetInfo` of the checkpoint's training data: raw images of its
    dataset become model inputs by `info.preprocessing()`; `zoo.export.export(model,
    ..., info=info)` bakes that into the SavedModel."""
    return _info(checkpoint(model, name))


def _info(entry):
    from zoo.data import DatasetInfo

    fields = {k: v for k, v in entry["input"].items() if k != "binarize"}
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    return DatasetInfo(**fields)


def evaluation_data(entry, limit=None):
    """The checkpoint's test images as the model takes them, and their labels (numpy):
    the first `limit` images (all if None) of its dataset's test split (`zoo.data.load`,
    offline from `ZOO_DATA_DIR`), through `prepare`."""
    from zoo import data

    raw = data.load(
        entry["dataset"], "test", normalize=None, batch_size=1000, shuffle=False, limit=limit
    )
    x, y = data.as_numpy(raw)
    return prepare(entry, x), y


def subset_images(dataset, n=SUBSET, data_dir=None):
    """The first `n` test images (raw, float32 0-255, `(n, 28, 28, 1)`) and labels of
    MNIST or Fashion-MNIST, read from the original files (`t10k-*-ubyte.gz` in
    `data_dir`, default `$ZOO_DATA_DIR/<dataset>`): the manifest's `subset` values are
    measured on these. Reading a few hundred images needs no tfds preparation of the
    whole dataset (~15 s each in a fresh tfds folder), so tests can afford it.
    `FileNotFoundError` when the files are not there."""
    import gzip

    import numpy as np

    from zoo import data

    folder = data.data_dir_for(dataset, data_dir)
    files = [folder / f"t10k-{kind}-ubyte.gz" for kind in ("images-idx3", "labels-idx1")]
    if folder is None or not all(f.is_file() for f in files):
        raise FileNotFoundError(f"the original {dataset} test files are not in {folder}")
    with gzip.open(files[0]) as f:  # IDX: a 16-byte header, then uint8 pixels
        images = np.frombuffer(f.read(16 + n * 28 * 28)[16:], np.uint8)
    with gzip.open(files[1]) as f:  # an 8-byte header, then uint8 labels
        labels = np.frombuffer(f.read(8 + n)[8:], np.uint8)
    return images.reshape(len(labels), 28, 28, 1).astype("float32"), labels.astype("int64")


def prepare(entry, raw_images):
    """Raw images of the checkpoint's dataset (pixel values 0-255) as its model takes
    them: scaled as in training, and binarised at 0.5 if the training data was."""
    import numpy as np

    x = np.asarray(_info(entry).preprocessing()(np.asarray(raw_images, "float32")), "float32")
    return (x > 0.5).astype("float32") if entry["input"].get("binarize") else x


def measure(model, metric, x, y, batch_size=500):
    """`metric` ("test_accuracy" or "test_reconstruction_mse") of `model` on `(x, y)`.

    Accuracy: the share of images whose most probable class is the label. Reconstruction
    MSE: the mean squared difference between the images and their reconstructions
    (an autoencoder's output; an RBM stack's up-down pass, `reconstruct`).
    """
    import numpy as np

    if metric == "test_accuracy":
        probabilities = model.predict(x, batch_size=batch_size, verbose=0)
        return float(np.mean(np.argmax(probabilities, axis=-1) == y))
    if metric == "test_reconstruction_mse":
        if hasattr(model, "reconstruct"):
            parts = [np.asarray(model.reconstruct(x[i : i + batch_size])) for i in
                     range(0, len(x), batch_size)]  # fmt: skip
            reconstruction = np.concatenate(parts)
        else:
            reconstruction = model.predict(x, batch_size=batch_size, verbose=0)
        return float(np.mean(np.square(reconstruction.reshape(x.shape) - x)))
    raise ValueError(
        f"metric must be one of {', '.join(map(repr, TOLERANCES))}. Received: metric={metric!r}"
    )


def evaluate(model, entry, limit=None):
    """The entry's metric of `model` on its dataset's test split (`evaluation_data`):
    all of it by default, as the manifest's `value`. tfds stores the split in its own
    order, so its first `limit` images are not `subset_images`'s."""
    x, y = evaluation_data(entry, limit)
    return measure(model, entry["metric"]["name"], x, y)


def within_tolerance(metric, value, expected):
    """Whether a re-measured `value` of `metric` matches `expected` (see `TOLERANCES`)."""
    tolerance = TOLERANCES[metric]
    if "abs" in tolerance:
        return abs(value - expected) <= tolerance["abs"]
    return abs(value - expected) <= tolerance["rel"] * abs(expected)


def table():
    """The manifest as rows of strings (a header first), for `zoo weights`."""
    rows = [("model", "weights=", "dataset", "metric (test)", "dtype", "size", "recipe")]
    for c in checkpoints():
        metric = c["metric"]
        shown = f"{metric['name'].removeprefix('test_')} {metric['value']:.4g}"
        recipe = c["command"].split()[2] if c["command"].startswith("python -m") else "-"
        size = f"{c['size'] / 1e6:.2f} MB"
        rows.append((c["model"], c["name"], c["dataset"], shown, c["dtype"], size, recipe))
    return rows
