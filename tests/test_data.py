"""The data layer: digits (embedded), tfds offline from local files, image folders."""

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


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """One tfds data_dir for the module: each offline preparation takes ~10-15 s, so MNIST
    is prepared once (by the first test that loads it) and shared."""
    return tmp_path_factory.mktemp("tfds")


def test_mnist_prepares_offline_from_zoo_data_dir(mnist_files, tfds_dir, monkeypatch):
    monkeypatch.setattr(data, "_online", lambda: pytest.fail("must not need the network"))
    test, info = data.load("mnist", "test", data_dir=tfds_dir, with_info=True, batch_size=1000)
    x, y = data.as_numpy(test)
    assert x.shape == (10000, 28, 28, 1) and info.num_classes == 10
    # the well-known class counts of the MNIST test set (tfds shuffles the order)
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert info.class_names == tuple(str(i) for i in range(10))


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


def test_mnist_and_fashion_mnist_prepared_offline_stay_apart(tfds_dir, mnist_files, data_root):
    # Both ship files with the same names; tfds once extracted them to the same place.
    if not (data_root / "fashion_mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the original Fashion-MNIST files are not in {data_root / 'fashion_mnist'}")
    kwargs = {"normalize": None, "shuffle": False, "limit": 500, "data_dir": str(tfds_dir)}
    digits_images = data.as_numpy(data.load("mnist", "test", **kwargs))[0]
    fashion_images = data.as_numpy(data.load("fashion_mnist", "test", **kwargs))[0]
    # Fashion-MNIST's clothes cover far more of the image than MNIST's strokes.
    assert fashion_images.mean() > 1.5 * digits_images.mean()
