"""Shared fixtures: seeds, local data, a scratch working folder, tiny images."""

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Tests use this workplace's offline files when they are there (CI has them).
if "ZOO_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["ZOO_DATA_DIR"] = str(SHARED_DATA)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(0)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Runs the test inside an empty folder, so runs/ and saved_models/ land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def data_root():
    """`$ZOO_DATA_DIR`, or skip when it is not there."""
    root = os.environ.get("ZOO_DATA_DIR")
    if not root or not pathlib.Path(root).is_dir():
        pytest.skip("ZOO_DATA_DIR is not set to a folder with the offline data")
    return pathlib.Path(root)


@pytest.fixture
def mnist_files(data_root):
    folder = data_root / "mnist"
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the original MNIST files are not in {folder}")
    return folder


@pytest.fixture
def rng():
    return np.random.default_rng(0)
