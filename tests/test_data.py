"""The data layer: digits (embedded), tfds offline from local files, image folders."""

import re
import struct
import warnings

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from zoo import data


def test_digits_splits_are_disjoint_stratified_and_complete():
    train, info = data.load("digits", "train", shuffle=False, with_info=True)
    test = data.load("digits", "test")
    x_train, y_train = data.as_numpy(train)
    x_test, _ = data.as_numpy(test)
    assert info.num_examples == len(x_train) == 1437 and len(x_test) == 360
    assert info.input_shape == (8, 8, 1) and info.num_classes == 10
    per_class = np.bincount(load_digits().target)
    np.testing.assert_allclose(np.bincount(y_train) / per_class, 0.8, atol=0.01)  # stratified
    flat = {row.tobytes() for row in x_train}
    assert sum(row.tobytes() in flat for row in x_test) < 10  # (a few digits repeat)


def test_digits_minmax_resize_and_slices():
    part, info = data.load(
        "digits", "train[:90%]", image_size=28, shuffle=False, with_info=True, batch_size=500
    )
    rest = data.load("digits", "train[90%:]", image_size=28)
    x, _ = data.as_numpy(part)
    assert x.shape[1:] == (28, 28, 1) and info.raw_shape == (8, 8, 1)
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
    assert info.num_examples == len(x) and len(x) + len(data.as_numpy(rest)[0]) == 1437


def test_zscore_uses_training_statistics():
    x, _ = data.as_numpy(data.load("digits", "train", normalize="zscore"))
    assert abs(x.mean()) < 1e-3 and abs(x.std() - 1.0) < 1e-3
    test, info = data.load("digits", "test", normalize="zscore", with_info=True)
    train_info = data.load("digits", "train", normalize="zscore", with_info=True)[1]
    assert (info.offset, info.scale) == (train_info.offset, train_info.scale)


def test_shuffling_is_seeded_and_reshuffles_each_epoch():
    ds = data.load("digits", "train", batch_size=1437, seed=1)
    first, second = (next(iter(ds))[1].numpy() for _ in range(2))
    again = next(iter(data.load("digits", "train", batch_size=1437, seed=1)))[1].numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)


def test_binarize_thresholds_or_draws_each_pixel_once_with_its_intensity():
    x = np.tile(np.linspace(0, 1, 11, dtype="float32"), (4000, 1))
    np.testing.assert_array_equal(data.binarize(x)[0], (x[0] > 0.5).astype("float32"))
    drawn = data.binarize(x, "stochastic", seed=3)
    assert drawn.dtype == np.float32 and set(np.unique(drawn)) <= {0.0, 1.0}
    np.testing.assert_allclose(drawn.mean(axis=0), x[0], atol=0.03)  # 4,000 draws a column
    assert drawn[:, 0].max() == 0 and drawn[:, -1].min() == 1
    np.testing.assert_array_equal(drawn, data.binarize(x, "stochastic", seed=3))
    assert not np.array_equal(drawn, data.binarize(x, "stochastic", seed=4))


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        (
            (np.full(3, 1.5),),
            {},
            ValueError,
            r"\[0, 1\] to binarize. Received: values in \[1.5, 1.5\]",
        ),
        ((np.full(3, np.nan),), {}, ValueError, "Received: values in"),
        ((np.zeros(3), "bernoulli"), {}, ValueError, "how='bernoulli'"),
        ((np.zeros(3), "stochastic"), {"seed": -1}, ValueError, "seed=-1"),
    ],
)
def test_binarize_names_a_bad_argument(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        data.binarize(*args, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "mnistt"}, r"name='mnistt'.*Did you mean: mnist"),
        ({"split": "validation"}, "split='validation'"),
        ({"normalize": "unit"}, "normalize='unit'"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"image_size": (28,)}, "image_size"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(**{"name": "digits", **kwargs})


def test_mnist_and_fashion_mnist_prepare_offline_from_zoo_data_dir_and_stay_apart(
    mnist_files, data_root, monkeypatch
):
    """MNIST and Fashion-MNIST as the `mnist_files` fixture prepared them from
    $ZOO_DATA_DIR's .gz files into one tfds folder (once for the session, without the
    network; where they were prepared before, they are read): each preparation takes
    10-30 s, so the suite makes each once."""
    monkeypatch.setattr(data, "_online", lambda: pytest.fail("must not need the network"))
    test, info = data.load("mnist", "test", with_info=True, batch_size=1000)
    x, y = data.as_numpy(test)
    assert x.shape == (10000, 28, 28, 1) and info.num_classes == 10
    # the well-known class counts of the MNIST test set (tfds shuffles the order)
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert info.class_names == tuple(str(i) for i in range(10))

    # Both ship files with the same names; tfds once extracted them to the same place.
    if not (data_root / "fashion_mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the original Fashion-MNIST files are not in {data_root / 'fashion_mnist'}")
    kwargs = {"normalize": None, "shuffle": False, "limit": 500}
    digits_images = data.as_numpy(data.load("mnist", "test", **kwargs))[0]
    fashion_images = data.as_numpy(data.load("fashion_mnist", "test", **kwargs))[0]
    # Fashion-MNIST's clothes cover far more of the image than MNIST's strokes.
    assert fashion_images.mean() > 1.5 * digits_images.mean()


def test_missing_offline_files_give_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_online", lambda: False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as error:
        data.load("mnist", manual_dir=empty, data_dir=tmp_path / "tfds")
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz" in message and str(empty) in message


def _write_image_folder(root, rng):
    for class_name in ("cats", "dogs"):
        (root / class_name).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 255, size=(20, 30, 3), dtype=np.uint8)
            (root / class_name / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    jpeg = tf.io.encode_jpeg(rng.integers(0, 255, size=(20, 30, 3), dtype=np.uint8)).numpy()
    (root / "cats" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (root / "dogs" / "placeholder.gif").write_bytes(b"GIF89a" + bytes(20))
    (root / "dogs" / "notes.txt").write_text("not an image")


def test_from_directory_skips_bad_files_with_one_warning(tmp_path, rng):
    _write_image_folder(tmp_path, rng)
    with pytest.warns(UserWarning, match=r"Skipped 3 of 9 files") as record:
        ds, info = data.from_directory(tmp_path, image_size=16, batch_size=4, with_info=True)
    assert len(record) == 1
    assert info.class_names == ("cats", "dogs") and info.num_examples == 6
    for _ in range(2):  # whole epochs, no crash
        x, y = data.as_numpy(ds)
        assert x.shape == (6, 16, 16, 3) and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]
        assert 0 <= x.min() and x.max() <= 255 and x.max() > 1  # raw, like Keras


def test_from_directory_validation_split_is_disjoint(tmp_path, rng):
    _write_image_folder(tmp_path, rng)
    kwargs = {"image_size": 8, "validation_split": 0.5, "seed": 3, "shuffle": False}
    with pytest.warns(UserWarning):
        train = data.as_numpy(data.from_directory(tmp_path, subset="training", **kwargs))[0]
    with pytest.warns(UserWarning):
        val = data.as_numpy(data.from_directory(tmp_path, subset="validation", **kwargs))[0]
    assert len(train) == len(val) == 3
    assert not {a.tobytes() for a in train} & {b.tobytes() for b in val}


def test_from_directory_crops_to_the_aspect_ratio_instead_of_squashing(tmp_path):
    (tmp_path / "a").mkdir()
    wide = np.zeros((10, 30, 3), dtype=np.uint8)
    wide[:, 10:20] = 255  # a white centre square between black side bands
    (tmp_path / "a" / "wide.png").write_bytes(tf.io.encode_png(wide).numpy())
    kwargs = {"image_size": 10, "shuffle": False}
    cropped = data.as_numpy(data.from_directory(tmp_path, crop_to_aspect_ratio=True, **kwargs))
    squashed = data.as_numpy(data.from_directory(tmp_path, **kwargs))
    np.testing.assert_array_equal(cropped[0][0], 255.0)  # only the centre square is left
    assert squashed[0][0].min() == 0.0  # the bands were squeezed in


def test_from_directory_errors(tmp_path):
    with pytest.raises(ValueError, match="path must be a folder"):
        data.from_directory(tmp_path / "missing")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match="no readable images"):
        data.from_directory(tmp_path)
    with pytest.raises(ValueError, match="seed must be given"):
        data.from_directory(tmp_path, validation_split=0.2, subset="training")


def test_hymenoptera_skips_the_gif_placeholder(data_root):
    folder = data_root / "hymenoptera_data" / "train"
    if not folder.is_dir():
        pytest.skip(f"{folder} is not there")
    with pytest.warns(UserWarning, match=r"Skipped 1 of 245 .*imageNotFound.gif"):
        _, info = data.from_directory(folder, with_info=True)
    assert info.num_examples == 244 and info.class_names == ("ants", "bees")


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(0, 100), split=st.sampled_from(["train", "test"]))
def test_percent_slices_of_digits_partition_the_split(cut, split):
    whole = data._digits_split(split)[1]
    head = data._digits_split(f"{split}[:{cut}%]")[1]
    tail = data._digits_split(f"{split}[{cut}%:]")[1]
    np.testing.assert_array_equal(np.concatenate([head, tail]), whole)


# --- image folders under files that break, and oversized images -----------------------


def _png(height, width, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return tf.io.encode_png(pixels).numpy()


def _jpeg(height, width, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return tf.io.encode_jpeg(pixels).numpy()


def _small_folder(root):
    """Two classes of two 6x5 images (30 pixels each): one PNG and one JPEG each."""
    for label, class_name in enumerate(("cats", "dogs")):
        (root / class_name).mkdir(parents=True)
        (root / class_name / "a.png").write_bytes(_png(6, 5, seed=label))
        (root / class_name / "b.jpg").write_bytes(_jpeg(6, 5, seed=label))
    return root


def _epoch(ds):
    """One epoch as numpy, and the warnings it raised about skipped files."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x, y = data.as_numpy(ds)
    return x, y, [str(w.message) for w in caught if "Skipped" in str(w.message)]


@pytest.mark.parametrize("cache", [True, False])
def test_a_file_deleted_after_the_scan_is_skipped_with_one_warning_naming_it(tmp_path, cache):
    root = _small_folder(tmp_path)
    ds = data.from_directory(root, image_size=4, batch_size=3, shuffle=False, cache=cache)
    gone = root / "cats" / "b.jpg"
    gone.unlink()
    x, y, skipped = _epoch(ds)  # the epoch completes with the three other images
    assert x.shape == (3, 4, 4, 3) and y.tolist() == [0, 1, 1]
    assert int(ds.cardinality()) == 2  # batches stay countable (Keras warns otherwise)
    assert len(skipped) == 1 and str(gone) in skipped[0] and "cannot be read" in skipped[0]
    x, y, skipped = _epoch(ds)  # read again (cache=False) or not: no second warning
    assert len(x) == 3 and skipped == []


@pytest.mark.parametrize(
    "name, corrupt, reason",
    [
        ("b.jpg", lambda path: path.write_bytes(_jpeg(6, 5)[:40]), "no longer has a JPEG"),
        ("b.jpg", lambda path: path.write_bytes(path.read_bytes()[:-20]), "does not decode"),
        ("a.png", lambda path: path.write_bytes(path.read_bytes()[:-30]), "does not decode"),
        ("b.jpg", lambda path: path.write_bytes(b"not an image any more" * 4), "no longer has"),
        ("a.png", lambda path: path.write_bytes(_png(20, 10)), "now a 10x20 image, above"),
    ],
    ids=["truncated-jpeg-header", "truncated-jpeg", "truncated-png", "garbage", "too-large"],
)
def test_a_file_broken_between_epochs_is_skipped_once_and_the_others_kept(
    tmp_path, name, corrupt, reason
):
    root = _small_folder(tmp_path)
    kwargs = {"image_size": 4, "shuffle": False, "cache": False, "max_pixels": 100}
    ds = data.from_directory(root, **kwargs)
    before, labels, skipped = _epoch(ds)
    assert len(before) == 4 and skipped == []
    broken = root / "dogs" / name
    corrupt(broken)
    x, y, skipped = _epoch(ds)
    kept = [0, 1, 3] if name == "a.png" else [0, 1, 2]  # files in order: cats/a, cats/b, dogs/a
    np.testing.assert_array_equal(x, before[kept])  # the good images, unchanged
    np.testing.assert_array_equal(y, labels[kept])
    assert len(skipped) == 1 and str(broken) in skipped[0] and reason in skipped[0]
    assert _epoch(ds)[2] == []  # still broken, not reported again


def test_the_pipeline_gives_the_images_a_plain_decode_gives(tmp_path):
    root = _small_folder(tmp_path)
    x, y = data.as_numpy(data.from_directory(root, image_size=(6, 5), shuffle=False))
    for image, path in zip(x, sorted(root.glob("*/*")), strict=True):
        decoded = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False)
        np.testing.assert_array_equal(image, decoded.numpy())
    assert y.tolist() == [0, 0, 1, 1]


def _with_comment(jpeg):
    """The JPEG with a comment segment and two fill bytes before its other segments."""
    return jpeg[:2] + b"\xff\xfe\x00\x07hello" + b"\xff\xff" + jpeg[2:]


def _bmp(height, width, top_down=False):
    """An uncompressed 24-bit BMP (BITMAPINFOHEADER), written by hand."""
    row = width * 3 + (-width * 3) % 4
    size = 54 + row * height
    header = b"BM" + struct.pack("<IHHI", size, 0, 0, 54)
    info = struct.pack(
        "<IiiHHIIiiII", 40, width, -height if top_down else height, 1, 24, 0, row * height,
        2835, 2835, 0, 0,
    )  # fmt: skip
    return header + info + bytes(row * height)


@pytest.mark.parametrize(
    "contents, dimensions",
    [
        (_png(7, 3), (3, 7)),
        (_jpeg(7, 3), (3, 7)),
        (_with_comment(_jpeg(7, 3)), (3, 7)),
        (tf.io.encode_jpeg(np.zeros((7, 3, 3), np.uint8), progressive=True).numpy(), (3, 7)),
        (_bmp(7, 3), (3, 7)),
        (_bmp(7, 3, top_down=True), (3, 7)),
        (b"GIF89a" + struct.pack("<HH", 3, 7) + bytes(20), (3, 7)),
        (b"garbage, not an image", (-1, -1)),
        (b"", (-1, -1)),
        (_png(7, 3)[:20], (-1, -1)),  # cut inside the PNG header
    ],
    ids=[
        "png",
        "jpeg",
        "jpeg-comment",
        "jpeg-progressive",
        "bmp",
        "bmp-top-down",
        "gif",
        "garbage",
        "empty",
        "short-png",
    ],
)
def test_image_dimensions_come_from_the_header(contents, dimensions):
    assert tuple(data._dimensions(tf.constant(contents)).numpy()) == dimensions  # graph ops
    assert data._image_dimensions(contents) == (None if dimensions[0] < 0 else dimensions)
    if dimensions[0] > 0 and not contents.startswith(b"GIF"):
        decoded = tf.io.decode_image(contents, channels=3, expand_animations=False)
        assert tuple(decoded.shape[:2]) == dimensions[::-1]


@pytest.mark.parametrize("encode, name", [(_png, "big.png"), (_jpeg, "big.jpg")])
def test_an_image_above_max_pixels_is_refused_at_the_scan_naming_the_file(tmp_path, encode, name):
    root = _small_folder(tmp_path)
    big = root / "dogs" / name
    big.write_bytes(encode(10, 11))  # 110 pixels
    message = rf"^{re.escape(str(big))} is a 11x10 image \(110 pixels\), above the limit of "
    with pytest.raises(ValueError, match=message + r"100 pixels.*Received: max_pixels=100$"):
        data.from_directory(root, image_size=4, max_pixels=100)
    _, info = data.from_directory(root, image_size=4, max_pixels=110, with_info=True)
    assert info.num_examples == 5  # the limit itself is allowed
    assert data.MAX_PIXELS == 89_478_485  # the documented default


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"validation_split": float("nan"), "subset": "training", "seed": 0}, ValueError,
         r"^validation_split must be a finite number > 0 and < 1\. "
         r"Received: validation_split=nan$"),
        ({"validation_split": 1.0, "subset": "training", "seed": 0}, ValueError,
         "validation_split=1.0"),
        ({"validation_split": 0.5, "subset": "train", "seed": 0}, ValueError,
         r"^subset must be one of 'training', 'validation'\. Received: subset='train'$"),
        ({"subset": "training"}, ValueError, "^subset needs validation_split"),
        ({"max_pixels": 0}, ValueError,
         r"^max_pixels must be an int >= 1\. Received: max_pixels=0$"),
        ({"batch_size": True}, TypeError, "^batch_size must be an int >= 1"),
        ({"image_size": 4097}, ValueError, r"^image_size must be an int >= 1 and <= 4096\."),
        ({"image_size": (4, 0)}, ValueError, r"image_size=\(4, 0\)$"),
        ({"image_size": "4"}, TypeError, "image_size='4'"),
        ({"normalize": "unit"}, ValueError, r"normalize must be one of 'minmax', 'zscore', None"),
    ],
)  # fmt: skip
def test_bad_image_folder_arguments_name_the_value(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        data.from_directory(_small_folder(tmp_path), **{"image_size": 4, **kwargs})


@pytest.mark.parametrize("name", ["no_such_dataset_xyz", None, "imdb_reviews"])
def test_unknown_datasets_list_the_ones_zoo_knows(name, tmp_path):
    with pytest.raises(ValueError) as error:
        data.load(name, data_dir=tmp_path)
    message = str(error.value)
    assert f"name={name!r}" in message
    assert "digits, mnist, fashion_mnist, cifar10" in message
    assert "tfds.list_builders()" in message
    with pytest.raises(ValueError, match="digits, mnist, fashion_mnist, cifar10"):
        data.check_dataset("no_such_dataset_xyz")
