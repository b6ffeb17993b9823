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
import numbers
import os
import pathlib
import re
import socket
import tempfile
import threading
import warnings

import keras
import numpy as np
import tensorflow as tf

from zoo._checks import MAX_IMAGE_SIDE, check_choice, check_float, check_int, check_ints

DEFAULT_DATASET = "digits"
DATA_DIR_ENV = "ZOO_DATA_DIR"
NORMALIZATIONS = ("minmax", "zscore", None)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
SUBSETS = ("training", "validation")
# Pillow's decompression-bomb limit: 89,478,485 pixels, a 256 MiB RGB image once decoded.
MAX_PIXELS = 89_478_485

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
    `(resize(raw) - offset) / scale`, with shape `input_shape`. An image folder's files
    have any size and 1, 3 or 4 channels; the pipeline reads them as RGB, centre-cropped
    to the input's aspect ratio when `crop_to_aspect_ratio`, resized to `raw_shape`, and an
    export takes them as stored and does the same in its graph (`serving_shape`,
    `serving_preprocessing`).
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
    image_folder: bool = False
    crop_to_aspect_ratio: bool = False

    def serving_shape(self):
        """The shape of one image as an export takes it: as the dataset stores it, i.e.
        `raw_shape`, or any `(height, width, channels)` for an image folder."""
        return (None, None, None) if self.image_folder else tuple(self.raw_shape)

    def serving_preprocessing(self):
        """A function from a batch of images as stored (float32) to model inputs: for an
        image folder the reading steps of the pipeline (to RGB, centre crop, resize to
        `raw_shape`) and then `preprocessing()`; otherwise `preprocessing()` alone."""
        preprocessing = self.preprocessing()
        if not self.image_folder:
            return preprocessing
        resize = keras.layers.Resizing(
            *self.raw_shape[:2], crop_to_aspect_ratio=self.crop_to_aspect_ratio, name="read"
        )

        def from_stored(images):
            return preprocessing(resize(_to_rgb(images)))

        return from_stored

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


def _to_rgb(images):
    """A batch of images with 1 (grayscale), 2 (grayscale + alpha), 3 or 4 (RGBA) channels
    as RGB, as `tf.io.decode_image(..., channels=3)` reads such files: grey replicated,
    alpha dropped. No control flow, so it converts to TensorFlow Lite."""
    channels = tf.shape(images)[-1]
    index = tf.where(channels < 3, tf.zeros(3, tf.int32), tf.range(3, dtype=tf.int32))
    return tf.gather(images, index, axis=-1)


def check_dataset(name, *, arg="name"):
    """Returns `name` if `load` knows it ("digits" or a tensorflow-datasets dataset);
    otherwise `ValueError` naming the argument `arg`, the closest names and the
    documented ones."""
    if name == DEFAULT_DATASET or name in ORIGINAL_FILES:
        return name
    import tensorflow_datasets as tfds

    known = tfds.list_builders()
    if isinstance(name, str) and name in known:
        return name
    raise _unknown_dataset(name, arg, known)


def _unknown_dataset(name, arg, known):
    """The `ValueError` for a dataset name neither zoo nor tensorflow-datasets knows."""
    close = difflib.get_close_matches(str(name), [DEFAULT_DATASET, *known], n=5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ValueError(
        f"Unknown dataset. Received: {arg}={name!r}.{hint} Datasets: "
        f"{', '.join([DEFAULT_DATASET, *ORIGINAL_FILES])} or another tensorflow-datasets "
        "image dataset (tfds.list_builders() lists them)."
    )


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
        ValueError: an unknown dataset (the message lists the datasets zoo documents and
            how to list tensorflow-datasets' others), a tfds dataset that is not one of
            labelled images, or a bad argument.
        TypeError: an argument of the wrong type.
        FileNotFoundError: the dataset is neither prepared, nor in a local folder, nor
            downloadable; the message says which files to put where.
    """
    check_choice("normalize", normalize, NORMALIZATIONS)
    check_int("batch_size", batch_size, low=1)
    if limit is not None:
        check_int("limit", limit, low=1)
    size = _image_size(image_size)
    if not isinstance(name, str):
        check_dataset(name)  # raises, listing the datasets
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
    max_pixels=MAX_PIXELS,
    with_info=False,
):
    """Loads your own images, one subfolder per class, as Keras' `image_dataset_from_directory`.

    The folder is scanned once, here. Files that are not JPEG, PNG or BMP, or that do not
    decode (truncated, empty, a `.gif` placeholder), are left out with one warning that
    counts them. An image larger than `max_pixels` is refused with `ValueError` naming it:
    it is the user's file, not a transient fault, and decoding it could take gigabytes.

    A file that breaks after the scan (deleted, truncated, overwritten, or replaced by an
    image above `max_pixels`) is skipped when the pipeline reaches it, with one warning
    naming it, and the epoch goes on with the other images; a file is reported once, not
    every epoch. `DatasetInfo.num_examples` counts the images found by the scan.

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
        max_pixels: Largest image accepted, in pixels (width x height), read from the
            file's header before anything is decoded. Defaults to 89478485 (`MAX_PIXELS`,
            Pillow's decompression-bomb limit: 256 MiB once decoded as RGB).
        with_info: Also return the `DatasetInfo`.

    Returns:
        The dataset of `(images, labels)` batches, or `(dataset, info)` if `with_info`.

    Raises:
        ValueError: a bad argument, a folder without images, or an image above
            `max_pixels` (the message names the file).
        TypeError: an argument of the wrong type.
    """
    check_choice("normalize", normalize, NORMALIZATIONS)
    check_int("batch_size", batch_size, low=1)
    max_pixels = check_int("max_pixels", max_pixels, low=1)
    size = _image_size(image_size)
    if size is None:
        raise ValueError("image_size must be given for an image folder. Received: image_size=None")
    _check_validation_split(validation_split, subset, seed)
    root = pathlib.Path(path)
    if not root.is_dir():
        raise ValueError(f"path must be a folder with one subfolder per class. Received: {path}")
    if class_names is None:
        class_names = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not class_names:
        raise ValueError(f"path has no class subfolders. Received: path={path}")
    files, labels = _scan_images(root, class_names, max_pixels)
    if validation_split is not None:
        files, labels = _hold_out(files, labels, validation_split, subset, seed)
    decoded = _FolderReader(files, size, crop_to_aspect_ratio, max_pixels).dataset(labels)
    images = decoded.filter(lambda x, y, ok: ok).map(lambda image, label, flag: image)
    offset, scale = _normalization(normalize, images)
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
        image_folder=True,
        crop_to_aspect_ratio=bool(crop_to_aspect_ratio),
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


BINARIZATIONS = ("threshold", "stochastic")


def binarize(x, how="threshold", *, seed=0):
    """Binary images from intensities in [0, 1], as the RBM literature's binarised MNIST.

    `"threshold"` sets the pixels above 0.5; `"stochastic"` draws each pixel once, on with
    its intensity as probability (Salakhutdinov & Murray 2008), from a generator seeded
    by `seed`: the same images and seed always give the same draw.

    Returns float32 zeros and ones of `x`'s shape.
    """
    how = check_choice("how", how, BINARIZATIONS)
    seed = check_int("seed", seed, low=0)
    x = np.asarray(x, dtype="float32")
    if x.size and not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
        raise ValueError(
            "x must hold intensities in [0, 1] to binarize. "
            f"Received: values in [{x.min():g}, {x.max():g}]"
        )
    if how == "threshold":
        return (x > 0.5).astype("float32")
    return (np.random.default_rng(seed).random(x.shape, dtype="float32") < x).astype("float32")


# --- pipelines ------------------------------------------------------------------------


def _pipeline(ds, info, batch_size, shuffle, seed, cache):
    """cache raw -> shuffle -> batch -> [leave out the skipped] -> resize/normalise -> prefetch.

    Elements are `(image, label)`, or `(image, label, ok)` for an image folder, whose
    files that broke after the scan are left out of their batch (which is then smaller),
    so that the number of batches stays known to Keras.
    """
    if cache:
        ds = ds.cache(cache if isinstance(cache, str) else "")
    if shuffle:
        ds = ds.shuffle(max(info.num_examples, 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if len(ds.element_spec) == 3:
        ds = ds.map(lambda x, y, ok: (tf.boolean_mask(x, ok), tf.boolean_mask(y, ok)))
    preprocessing = info.preprocessing()
    ds = ds.map(
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
        raise _unknown_dataset(name, "name", tfds.list_builders()) from None
    keys = builder.info.supervised_keys
    if not isinstance(keys, tuple) or not isinstance(
        builder.info.features[keys[0]], tfds.features.Image
    ):
        raise ValueError(
            f"{name} is not a dataset of labelled images (its supervised keys are "
            f"{keys!r}). Received: name={name!r}. Datasets: "
            f"{', '.join([DEFAULT_DATASET, *ORIGINAL_FILES])} or another tensorflow-datasets "
            "image dataset (tfds.list_builders() lists them)."
        )
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


def _scan_images(root, class_names, max_pixels):
    """Paths and labels of the decodable images; one warning counting what was left out.

    An image above `max_pixels` raises `ValueError` naming it, before it is decoded."""
    files, labels, skipped = [], [], []
    for label, class_name in enumerate(class_names):
        folder = root / class_name
        if not folder.is_dir():
            raise ValueError(f"class_names names a missing subfolder. Received: {class_name!r}")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.suffix.lower() in IMAGE_EXTENSIONS and _decodes(path, max_pixels):
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


def _decodes(path, max_pixels):
    """Whether the image at `path` decodes; `ValueError` naming it if it is too large."""
    try:
        contents = path.read_bytes()
    except OSError:
        return False
    dimensions = _image_dimensions(contents)
    if dimensions is None:
        return False
    width, height = dimensions
    if width * height > max_pixels:
        raise ValueError(
            f"{path} is a {width}x{height} image ({width * height:,} pixels), above the "
            f"limit of {max_pixels:,} pixels; resize it, leave it out, or raise max_pixels. "
            f"Received: max_pixels={max_pixels}"
        )
    try:
        tf.io.decode_image(contents, channels=3, expand_animations=False)
        return True
    except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError, tf.errors.DataLossError):
        return False


_HEADER_BYTES = 26  # enough for the PNG, GIF and BMP headers' sizes
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _dimensions(contents):
    """`(width, height)` (int64) from the header of a JPEG, PNG, BMP or GIF file's bytes,
    a string tensor, without decoding the pixels; `(-1, -1)` for any other header.

    Graph ops, so that a pipeline checks sizes in parallel with decoding; a JPEG whose
    header is broken raises `InvalidArgumentError`.
    """
    length = tf.strings.length(contents)
    head = tf.io.decode_raw(tf.strings.substr(contents, 0, _HEADER_BYTES), tf.uint8)
    head = tf.pad(tf.cast(head, "int64"), [[0, _HEADER_BYTES - tf.shape(head)[0]]])

    def number(start, size, byteorder):
        digits = head[start : start + size]
        if byteorder == "big":
            digits = digits[::-1]
        return tf.reduce_sum(digits * 256 ** tf.range(size, dtype="int64"))

    def signed32(value):
        return tf.where(value >= 2**31, value - 2**32, value)

    unknown = tf.constant([-1, -1], "int64")

    def png():
        return tf.stack([number(16, 4, "big"), number(20, 4, "big")])

    def gif():
        return tf.stack([number(6, 2, "little"), number(8, 2, "little")])

    def bmp():
        if_core = tf.stack([number(18, 2, "little"), number(20, 2, "little")])  # OS/2 header
        width = signed32(number(18, 4, "little"))
        height = tf.abs(signed32(number(22, 4, "little")))  # < 0: rows stored top-down
        sides = tf.where(width >= 0, tf.stack([width, height]), unknown)
        return tf.where(tf.equal(number(14, 4, "little"), 12), if_core, sides)

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(contents), "int64")
        return tf.stack([shape[1], shape[0]])

    def has(start, magic):  # no magic holds a zero byte, so the padding never matches
        expected = tf.constant(list(magic), "int64")
        return tf.reduce_all(tf.equal(head[start : start + len(magic)], expected))

    is_png = has(0, _PNG_MAGIC) & has(12, b"IHDR") & (length >= 24)
    is_gif = (has(0, b"GIF87a") | has(0, b"GIF89a")) & (length >= 10)
    is_bmp = has(0, b"BM") & (length >= 26)
    is_jpeg = has(0, b"\xff\xd8")
    # Reading fixed bytes costs nothing: every format's answer is computed and one chosen;
    # only JPEG's (which walks the segments and may raise) runs on JPEGs alone.
    other = tf.where(is_png, png(), tf.where(is_gif, gif(), tf.where(is_bmp, bmp(), unknown)))
    return tf.cond(is_jpeg, jpeg, lambda: other)


def _image_dimensions(contents):
    """`_dimensions` in Python, for one file at a time (the scan, the warnings), where
    graph ops would cost more than the decoding: `(width, height)`, or None."""
    if contents[:8] == _PNG_MAGIC and contents[12:16] == b"IHDR" and len(contents) >= 24:
        return _uint(contents, 16, 4, "big"), _uint(contents, 20, 4, "big")
    if contents[:6] in (b"GIF87a", b"GIF89a") and len(contents) >= 10:
        return _uint(contents, 6, 2, "little"), _uint(contents, 8, 2, "little")
    if contents[:2] == b"BM" and len(contents) >= 26:
        if _uint(contents, 14, 4, "little") == 12:  # OS/2 header: 16-bit sides
            return _uint(contents, 18, 2, "little"), _uint(contents, 20, 2, "little")
        width = int.from_bytes(contents[18:22], "little", signed=True)
        height = int.from_bytes(contents[22:26], "little", signed=True)  # < 0: top-down
        return (width, abs(height)) if width >= 0 else None
    if contents[:2] == b"\xff\xd8":
        return _jpeg_dimensions(contents)
    return None


def _jpeg_dimensions(contents):
    """`(width, height)` from a JPEG's start-of-frame segment, walking the segments
    before it (as `tf.image.extract_jpeg_shape` does); None if there is none."""
    i = 2
    while i + 4 <= len(contents):
        if contents[i] != 0xFF:
            return None
        marker = contents[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        if marker in _JPEG_START_OF_FRAME:
            if i + 9 > len(contents):
                return None
            return _uint(contents, i + 7, 2, "big"), _uint(contents, i + 5, 2, "big")
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header
            return None
        i += 2 + _uint(contents, i + 2, 2, "big")
    return None


# SOF0-SOF15, less DHT (0xC4), JPG (0xC8) and DAC (0xCC), which share the range.
_JPEG_START_OF_FRAME = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _uint(contents, start, size, byteorder):
    return int.from_bytes(contents[start : start + size], byteorder)


class _FolderReader:
    """Decodes an image folder's files in a `tf.data` pipeline, flagging broken ones.

    Decoding runs in graph ops, in parallel; an element whose file cannot be read or
    decoded any more (it changed after the scan) is dropped by `ignore_errors`, and the
    gap it leaves in the running index of the files is refilled with a blank image flagged
    not ok (so that the dataset keeps one element per file and a known cardinality) and
    reported, from Python, by one warning naming the file. `reported` keeps each reported
    path, so that later epochs do not repeat the warning.
    """

    def __init__(self, files, size, crop_to_aspect_ratio, max_pixels):
        self.files = list(files)
        self.size = tuple(size)
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.max_pixels = max_pixels
        self.reported = set()
        self._lock = threading.Lock()

    def dataset(self, labels):
        """`(image, label, ok)` for each file in order: a uint8 image of `size`, or, for a
        file that no longer decodes, a blank one and `ok` False."""
        n = len(self.files)
        indexed = tf.data.Dataset.from_tensor_slices(
            (self.files, labels, tf.range(n, dtype="int64"))
        )
        decoded = indexed.map(
            lambda path, label, i: (self._decode(path), label, i),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).ignore_errors()
        blank = (tf.zeros((*self.size, 3), "uint8"), tf.constant(0, "int64"), tf.constant(False))
        end = tf.data.Dataset.from_tensors((blank[0], blank[1], tf.constant(n, "int64")))

        def find_gaps(expected, element):  # files expected..i-1 did not decode
            image, label, i = element
            missing = tf.cond(
                i > expected,
                lambda: tf.py_function(self._report, [expected, i], "int64"),
                lambda: tf.constant(0, "int64"),
            )
            return i + 1, (image, label, i, missing)

        def refill(image, label, i, missing):
            blanks = tf.data.Dataset.from_tensors(blank).repeat(missing)
            present = tf.data.Dataset.from_tensors((image, label, tf.constant(True)))
            return blanks.concatenate(present.take(tf.cast(i < n, "int64")))

        refilled = decoded.concatenate(end).scan(tf.constant(0, "int64"), find_gaps)
        refilled = refilled.flat_map(refill)
        return refilled.apply(tf.data.experimental.assert_cardinality(n))

    def _decode(self, path):
        contents = tf.io.read_file(path)
        width, height = tf.unstack(_dimensions(contents))
        pixels = tf.minimum(width, 2**31) * tf.minimum(height, 2**31)  # no int64 overflow
        checks = [
            tf.debugging.assert_non_negative(width, message="not a JPEG, PNG, BMP or GIF"),
            tf.debugging.assert_less_equal(pixels, tf.constant(self.max_pixels, "int64")),
        ]
        with tf.control_dependencies(checks):
            image = tf.io.decode_image(contents, channels=3, expand_animations=False)
        if self.crop_to_aspect_ratio:
            image = _centre_crop(image, self.size[0] / self.size[1])
        return _resize_uint8(image, self.size)

    def _report(self, start, stop):
        """Warns once for each file of indices [start, stop), which did not decode;
        returns how many they are."""
        for i in range(int(start), int(stop)):
            path = self.files[i]
            with self._lock:
                if path in self.reported:
                    continue
                self.reported.add(path)
            warnings.warn(
                f"Skipped {path}, which changed after the folder was scanned: "
                f"{self._problem(path)}. The epoch goes on without it.",
                stacklevel=2,
            )
        return int(stop) - int(start)

    def _problem(self, path):
        """Why `path` did not decode, found again (eagerly) for the warning."""
        try:
            contents = pathlib.Path(path).read_bytes()
            dimensions = _image_dimensions(contents)
            if dimensions is None:
                return "it no longer has a JPEG, PNG or BMP header (overwritten or cut short)"
            width, height = dimensions
            if width * height > self.max_pixels:
                return f"it is now a {width}x{height} image, above max_pixels={self.max_pixels}"
            tf.io.decode_image(contents, channels=3, expand_animations=False)
        except OSError as error:
            return f"it cannot be read ({error.strerror or error})"
        except tf.errors.OpError as error:  # e.g. "{{function_node ...}} Invalid JPEG data"
            reason = re.sub(r"\{\{.*?\}\}\s*", "", error.message).split(" [Op:")[0]
            return f"it does not decode ({reason.strip()})"
        return "it could not be read or decoded"


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
        if subset is not None:
            raise ValueError(
                f"subset needs validation_split. Received: subset={subset!r}, validation_split=None"
            )
        return
    check_float("validation_split", fraction, low=0, high=1, low_open=True, high_open=True)
    check_choice("subset", subset, SUBSETS)
    if seed is None:
        raise ValueError(
            "seed must be given with validation_split, so that the training and validation "
            "subsets do not overlap. Received: seed=None"
        )


def _image_size(image_size):
    """`(height, width)` from None, one int or a pair, each side in [1, MAX_IMAGE_SIDE]."""
    if image_size is None:
        return None
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        side = check_int("image_size", image_size, low=1, high=MAX_IMAGE_SIDE)
        return (side, side)
    return check_ints("image_size", image_size, low=1, high=MAX_IMAGE_SIDE, min_len=2, max_len=2)
