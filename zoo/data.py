"""Datasets as `tf.data` pipelines, with the information a model needs.

Three sources, one output: batches of `(images, labels)` with images float32
`(batch, height, width, channels)` normalised as asked, and a `DatasetInfo`.

- `load("mnist" | "fashion_mnist" | "cifar10" | any tfds image dataset, split)`: through
  tensorflow-datasets, online or offline from the original files in a local folder.
- `load("digits", split)`: scikit-learn's bundled 8x8 handwritten digits; needs nothing.
- `from_directory(path)`: your own images, one subfolder per class.

Raw pixels are kept as uint8 in the cache; resizing and normalisation run per batch with
the Keras layers that `DatasetInfo.preprocessing()` returns, the same layers that
`zoo.export.export` bakes into a SavedModel so that it takes raw images.

Example:

    train, info = zoo.data.load("mnist", "train[:90%]", with_info=True)
    model = zoo.create_model("lenet5", input_shape=info.input_shape,
                             classes=info.num_classes)
"""

import dataclasses
import difflib
import os
import pathlib
import re
import socket
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

DEFAULT_DATASET = "digits"
DATA_DIR_ENV = "ZOO_DATA_DIR"
NORMALIZATIONS = ("minmax", "zscore", None)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

# The files tfds downloads for the datasets zoo documents; any of them can be put in a
# local folder instead (tfds matches them by file name).
ORIGINAL_FILES = {
    "mnist": (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ),
    "fashion_mnist": (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ),
    "cifar10": ("cifar-10-binary.tar.gz",),
}
_NETWORK_PROBE = ("storage.googleapis.com", 443)  # tfds' first download mirror
_DIGITS_TEST_FRACTION = 0.2
_DIGITS_SPLIT_SEED = 0  # fixed, so that train and test never overlap across calls


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model and an export need to know about a dataset.

    Images are stored raw (`raw_shape`, values 0-255) and reach the model as
    `(resize(raw) - offset) / scale`, with shape `input_shape`.
    """

    name: str
    split: str
    input_shape: tuple
    raw_shape: tuple
    num_classes: int
    class_names: tuple
    num_examples: int
    normalize: str | None = "minmax"
    offset: float = 0.0
    scale: float = 255.0

    def preprocessing(self):
        """The Keras layers that turn raw images into model inputs (resize, then rescale)."""
        steps = []
        if tuple(self.raw_shape[:2]) != tuple(self.input_shape[:2]):
            steps.append(keras.layers.Resizing(*self.input_shape[:2], name="resize"))
        steps.append(
            keras.layers.Rescaling(1.0 / self.scale, offset=-self.offset / self.scale, name="scale")
        )
        return keras.Sequential(steps, name="preprocessing")

    def to_json(self):
        """A JSON-serialisable dict of the fields."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}


def data_dir_for(name, data_dir=None):
    """The local folder holding `name`'s original files: `data_dir`, else `$ZOO_DATA_DIR/name`.

    Returns None when neither is set.
    """
    if data_dir is not None:
        return pathlib.Path(data_dir)
    root = os.environ.get(DATA_DIR_ENV)
    return pathlib.Path(root) / name if root else None


def load(
    name=DEFAULT_DATASET,
    split="train",
    *,
    batch_size=128,
    shuffle=None,
    normalize="minmax",
    image_size=None,
    manual_dir=None,
    data_dir=None,
    limit=None,
    seed=None,
    cache=True,
    with_info=False,
):
    """Loads an image-classification dataset as a batched, prefetched `tf.data.Dataset`.

    Args:
        name: "digits" (scikit-learn's 8x8 digits, no download), or a tensorflow-datasets
            image dataset such as "mnist", "fashion_mnist", "cifar10".
        split: A split in tfds syntax: "train", "test", "train[:90%]", "train[54000:]".
            "digits" has a fixed stratified 80/20 "train"/"test" split.
        batch_size: Examples per batch. Defaults to 128.
        shuffle: Whether to reshuffle every epoch; None (default) shuffles "train*" splits.
        normalize: "minmax" (divide by 255, values in [0, 1]), "zscore" (subtract the mean
            and divide by the standard deviation of the training split's pixels) or None
            (raw 0-255 floats).
        image_size: Optional `(height, width)` (or one int) to resize to, bilinearly.
        manual_dir: Folder holding the dataset's original files (for "mnist": the four
            `*-idx?-ubyte.gz` files). Defaults to `$ZOO_DATA_DIR/<name>/` when that is set.
            When the files are there, tfds prepares the dataset without network.
        data_dir: Where tfds keeps prepared datasets; tfds' default (~/tensorflow_datasets)
            if None.
        limit: Keep only the first `limit` examples of the split (quick runs).
        seed: Shuffling seed.
        cache: Cache the raw examples in memory after the first epoch. Defaults to True.
        with_info: Also return the `DatasetInfo`.

    Returns:
        The dataset of `(images, labels)` batches, or `(dataset, info)` if `with_info`.

    Raises:
        ValueError: unknown dataset or bad argument.
        FileNotFoundError: the dataset is neither prepared, nor in a local folder, nor
            downloadable; the message says which files to put where.
    """
    _check_choice("normalize", normalize, NORMALIZATIONS)
    _check_positive_int("batch_size", batch_size)
    if limit is not None:
        _check_positive_int("limit", limit)
    size = _image_size(image_size)
    if name == "digits":
        images, labels = _digits_split(split)
        class_names = tuple(str(i) for i in range(10))
        train_images = _digits_split("train")[0] if normalize == "zscore" else None
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        num_examples = len(images)
        raw_shape = images.shape[1:]
    else:
        builder = _tfds_builder(name, manual_dir, data_dir)
        image_key, label_key = builder.info.supervised_keys
        raw_shape = tuple(builder.info.features[image_key].shape)
        if None in raw_shape[:2] and size is None:
            raise ValueError(
                f"{name} has images of varying size; pass image_size. Received: image_size=None"
            )
        class_names = tuple(builder.info.features[label_key].names)
        ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
        if None in raw_shape[:2]:  # varying sizes: resize each image so that it batches
            ds = ds.map(lambda x, y: (_resize_uint8(x, size), y))
            raw_shape = (*size, raw_shape[2])
        num_examples = int(ds.cardinality())
        train_images = None
        if normalize == "zscore":
            train_images = _TfdsTrainImages(builder)
    if limit is not None:
        ds = ds.take(limit)
        num_examples = min(num_examples, limit)
    offset, scale = _normalization(normalize, train_images)
    info = DatasetInfo(
        name=name,
        split=split,
        input_shape=(*(size or raw_shape[:2]), raw_shape[2]),
        raw_shape=tuple(raw_shape),
        num_classes=len(class_names),
        class_names=class_names,
        num_examples=num_examples,
        normalize=normalize,
        offset=offset,
        scale=scale,
    )
    if shuffle is None:
        shuffle = split.startswith("train")
    ds = _pipeline(ds, info, batch_size, shuffle, seed, cache)
    return (ds, info) if with_info else ds


def from_directory(
    path,
    *,
    image_size=(224, 224),
    batch_size=32,
    shuffle=True,
    normalize=None,
    class_names=None,
    validation_split=None,
    subset=None,
    seed=None,
    cache=True,
    crop_to_aspect_ratio=False,
    with_info=False,
):
    """Loads your own images, one subfolder per class, as Keras' `image_dataset_from_directory`.

    Files that are not JPEG, PNG or BMP, or that do not decode (truncated, empty, a `.gif`
    placeholder), are left out with one warning that counts them, so they can never stop
    an epoch half-way.

    Args:
        path: Folder with one subfolder of images per class.
        image_size: `(height, width)` (or one int) every image is resized to.
            Defaults to (224, 224).
        batch_size: Defaults to 32.
        shuffle: Whether to reshuffle every epoch. Defaults to True.
        normalize: None (default: raw 0-255 floats, as Keras gives them and as
            `keras.applications` preprocessing expects), "minmax" or "zscore".
        class_names: Subfolders to use, in label order; default all, sorted.
        validation_split: Optional fraction in (0, 1) to hold out (needs `subset`).
        subset: "training" or "validation" with `validation_split`.
        seed: Seed of the validation split and of shuffling.
        cache: Cache decoded images in memory after the first epoch. Defaults to True.
        crop_to_aspect_ratio: Crop the largest centred region of `image_size`'s aspect
            ratio before resizing, instead of squashing the whole image (as Keras').
            Defaults to False.
        with_info: Also return the `DatasetInfo`.

    Returns:
        The dataset of `(images, labels)` batches, or `(dataset, info)` if `with_info`.
    """
    _check_choice("normalize", normalize, NORMALIZATIONS)
    _check_positive_int("batch_size", batch_size)
    size = _image_size(image_size)
    if size is None:
        raise ValueError("image_size must be given for an image folder. Received: None")
    _check_validation_split(validation_split, subset, seed)
    root = pathlib.Path(path)
    if not root.is_dir():
        raise ValueError(f"path must be a folder with one subfolder per class. Received: {path}")
    if class_names is None:
        class_names = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not class_names:
        raise ValueError(f"path has no class subfolders. Received: path={path}")
    files, labels = _scan_images(root, class_names)
    if validation_split is not None:
        files, labels = _hold_out(files, labels, validation_split, subset, seed)
    decoded = tf.data.Dataset.from_tensor_slices((files, labels)).map(
        lambda f, y: (_read_image(f, size, crop_to_aspect_ratio), y),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    offset, scale = _normalization(normalize, decoded.map(lambda x, y: x))
    info = DatasetInfo(
        name=root.name,
        split=subset or "all",
        input_shape=(*size, 3),
        raw_shape=(*size, 3),
        num_classes=len(class_names),
        class_names=tuple(class_names),
        num_examples=len(files),
        normalize=normalize,
        offset=offset,
        scale=scale,
    )
    ds = _pipeline(decoded, info, batch_size, shuffle, seed, cache)
    return (ds, info) if with_info else ds


def load_splits(name=DEFAULT_DATASET, validation_percent=10, **kwargs):
    """Train, validation and test pipelines and the training split's `DatasetInfo`.

    The validation set is the last `validation_percent` % of the "train" split, so the
    test split stays untouched for the final figure.

    Args:
        name: The dataset, as for `load`.
        validation_percent: Int in (0, 100). Defaults to 10.
        **kwargs: Other `load` arguments (`batch_size`, `normalize`, `limit`, ...).

    Returns:
        `(train, validation, test, info)`.
    """
    if (
        isinstance(validation_percent, bool)
        or not isinstance(validation_percent, int)
        or not 0 < validation_percent < 100
    ):
        raise ValueError(
            "validation_percent must be an int in (0, 100). "
            f"Received: validation_percent={validation_percent!r}"
        )
    keep = 100 - validation_percent
    kwargs.pop("with_info", None)
    train, info = load(name, f"train[:{keep}%]", with_info=True, **kwargs)
    validation = load(name, f"train[{keep}%:]", **kwargs)
    test = load(name, "test", **kwargs)
    return train, validation, test, info


def as_numpy(dataset):
    """Concatenates a batched `(x, y)` dataset into two numpy arrays."""
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in dataset), strict=True)
    return np.concatenate(xs), np.concatenate(ys)


# --- pipelines ------------------------------------------------------------------------


def _pipeline(ds, info, batch_size, shuffle, seed, cache):
    """cache raw -> shuffle -> batch -> resize/normalise -> prefetch."""
    if cache:
        ds = ds.cache(cache if isinstance(cache, str) else "")
    if shuffle:
        ds = ds.shuffle(max(info.num_examples, 1), seed=seed, reshuffle_each_iteration=True)
    preprocessing = info.preprocessing()
    ds = ds.batch(batch_size).map(
        lambda x, y: (preprocessing(tf.cast(x, "float32")), y),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(tf.data.AUTOTUNE)


class _TfdsTrainImages:
    """The training images of a prepared tfds dataset; z-score moments computed once."""

    _moments = {}  # (name, data_dir) -> (mean, std), shared by train/val/test loads

    def __init__(self, builder):
        self.builder = builder

    def moments(self):
        key = (self.builder.name, str(self.builder.data_dir))
        if key not in self._moments:
            images = self.builder.as_dataset(split="train", as_supervised=True)
            self._moments[key] = _moments(images.map(lambda x, y: x))
        return self._moments[key]


def _normalization(normalize, raw_images):
    """`(offset, scale)` so that `(raw - offset) / scale` is the asked normalisation."""
    if normalize is None:
        return 0.0, 1.0
    if normalize == "minmax":
        return 0.0, 255.0
    if isinstance(raw_images, np.ndarray):
        return float(raw_images.mean()), float(raw_images.std()) or 1.0
    if isinstance(raw_images, _TfdsTrainImages):
        return raw_images.moments()
    return _moments(raw_images)


def _moments(raw_images):
    """Mean and standard deviation of every pixel of a dataset of images, in one pass."""
    total = total_sq = count = 0.0
    for batch in raw_images.batch(4096):
        x = tf.cast(batch, "float64")
        total += float(tf.reduce_sum(x))
        total_sq += float(tf.reduce_sum(x * x))
        count += float(tf.size(x))
    mean = total / count
    return mean, float(np.sqrt(max(total_sq / count - mean * mean, 0.0))) or 1.0


# --- digits ---------------------------------------------------------------------------


def _digits_split(split):
    """scikit-learn's digits as uint8 (n, 8, 8, 1) images in 0-255 and int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    match = re.fullmatch(r"(train|test)(?:\[(-?\d*)(%?):(-?\d*)(%?)\])?", split)
    if match is None:
        raise ValueError(
            'split must be "train" or "test", optionally sliced like "train[:90%]" or '
            f'"train[100:]". Received: split={split!r}'
        )
    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype("uint8")[..., None]
    parts = train_test_split(
        images,
        digits.target.astype("int64"),
        test_size=_DIGITS_TEST_FRACTION,
        stratify=digits.target,
        random_state=_DIGITS_SPLIT_SEED,
    )
    x, y = (parts[0], parts[2]) if match[1] == "train" else (parts[1], parts[3])
    start, start_pct, stop, stop_pct = match.group(2, 3, 4, 5)

    def bound(text, pct):
        if not text:
            return None
        return round(int(text) * len(x) / 100) if pct else int(text)

    window = slice(bound(start, start_pct), bound(stop, stop_pct))
    return x[window], y[window]


# --- tfds -----------------------------------------------------------------------------


def _tfds_builder(name, manual_dir, data_dir):
    """A prepared tfds builder, prepared offline from local files when they are there."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        known = ["digits", *tfds.list_builders()]
        close = difflib.get_close_matches(str(name), known, n=5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown dataset. Received: name={name!r}.{hint} Use 'digits' or a "
            "tensorflow-datasets image dataset."
        ) from None
    if not isinstance(builder.info.supervised_keys, tuple):
        raise ValueError(f"{name} has no (image, label) supervised keys. Received: name={name!r}")
    if builder.is_prepared():
        return builder
    local = data_dir_for(name, manual_dir)
    expected = ORIGINAL_FILES.get(name, ())
    missing = [f for f in expected if local is None or not (local / f).is_file()]
    if local is not None and local.is_dir() and not missing:
        config = tfds.download.DownloadConfig(manual_dir=str(local))
        # tfds extracts manual files to <downloads>/extracted/GZIP.<file name>, so datasets
        # whose files share names (MNIST, Fashion-MNIST) would read each other's; a scratch
        # download folder per preparation keeps them apart.
        with tempfile.TemporaryDirectory(prefix=f"zoo-{name}-") as scratch:
            builder.download_and_prepare(download_dir=scratch, download_config=config)
        return builder
    if _online():
        builder.download_and_prepare()
        return builder
    where = local or f"${DATA_DIR_ENV}/{name}/ (set {DATA_DIR_ENV}) or manual_dir="
    files = ", ".join(missing) if missing else "the files tfds downloads for it"
    raise FileNotFoundError(
        f"Dataset {name!r} is not prepared and cannot be downloaded (no network). Put its "
        f"original files ({files}) in {where}, or pass manual_dir=<folder with them>."
    )


def _online(timeout=3.0):
    try:
        socket.create_connection(_NETWORK_PROBE, timeout=timeout).close()
        return True
    except OSError:
        return False


# --- image folders --------------------------------------------------------------------


def _scan_images(root, class_names):
    """Paths and labels of the decodable images; one warning counting what was left out."""
    files, labels, skipped = [], [], []
    for label, class_name in enumerate(class_names):
        folder = root / class_name
        if not folder.is_dir():
            raise ValueError(f"class_names names a missing subfolder. Received: {class_name!r}")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.suffix.lower() in IMAGE_EXTENSIONS and _decodes(path):
                files.append(str(path))
                labels.append(label)
            else:
                skipped.append(path)
    if skipped:
        examples = ", ".join(str(p.relative_to(root)) for p in skipped[:3])
        warnings.warn(
            f"Skipped {len(skipped)} of {len(files) + len(skipped)} files under {root} that "
            f"are not decodable JPEG/PNG/BMP images (e.g. {examples}).",
            stacklevel=3,
        )
    if not files:
        raise ValueError(f"path holds no readable images. Received: path={root}")
    return files, np.asarray(labels, dtype="int64")


def _decodes(path):
    try:
        tf.io.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False)
        return True
    except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError, tf.errors.DataLossError):
        return False


def _read_image(path, size, crop_to_aspect_ratio=False):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    if crop_to_aspect_ratio:
        image = _centre_crop(image, size[0] / size[1])
    return _resize_uint8(image, size)


def _centre_crop(image, aspect):
    """The largest centred crop of `image` with height / width = `aspect`."""
    height = tf.cast(tf.shape(image)[0], "float32")
    width = tf.cast(tf.shape(image)[1], "float32")
    crop_h = tf.cast(tf.minimum(height, width * aspect), "int32")
    crop_w = tf.cast(tf.minimum(width, height / aspect), "int32")
    top = (tf.shape(image)[0] - crop_h) // 2
    left = (tf.shape(image)[1] - crop_w) // 2
    return image[top : top + crop_h, left : left + crop_w]


def _resize_uint8(image, size):
    image = tf.image.resize(image, size)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), "uint8")


def _hold_out(files, labels, fraction, subset, seed):
    order = np.random.default_rng(seed).permutation(len(files))
    n_val = int(round(fraction * len(files)))
    keep = order[:n_val] if subset == "validation" else order[n_val:]
    return [files[i] for i in keep], labels[keep]


def _check_validation_split(fraction, subset, seed):
    if fraction is None:
        return
    if not 0 < fraction < 1:
        raise ValueError(f"validation_split must be in (0, 1). Received: {fraction}")
    _check_choice("subset", subset, ("training", "validation"))
    if seed is None:
        raise ValueError(
            "seed must be given with validation_split, so that the training and validation "
            "subsets do not overlap. Received: seed=None"
        )


# --- argument checks ------------------------------------------------------------------


def _check_choice(arg, value, choices):
    if value not in choices:
        raise ValueError(f"{arg} must be one of {choices}. Received: {arg}={value!r}")


def _check_positive_int(arg, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{arg} must be a positive int. Received: {arg}={value!r}")


def _image_size(image_size):
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and s >= 1 for s in size):
        raise ValueError(
            f"image_size must be an int or (height, width) of positive ints. "
            f"Received: image_size={image_size}"
        )
    return size
