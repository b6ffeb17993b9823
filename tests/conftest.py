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
# Under pytest-xdist each worker (and the processes its tests start) runs TensorFlow's ops
# on one thread: `-n 2` on two cores then uses both without the workers' thread pools
# contending (~7% less time for the suite's training tests, measured on 2 cores).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

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
def mnist_files(data_root, _mnist_prepared):
    folder = data_root / "mnist"
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the original MNIST files are not in {folder}")
    return folder


@pytest.fixture(scope="session")
def _mnist_prepared():
    """MNIST and Fashion-MNIST (the anomaly recipe's default) prepared once in tfds' data
    folder for all xdist workers, from $ZOO_DATA_DIR's .gz files and never from the
    network. One lock per dataset, taken in a different order by each worker: the two
    workers prepare one dataset each at once (10-30 s each), then read the other's,
    instead of both preparing both in one folder (which tfds refuses).
    tests/test_data.py checks what they hold."""
    import fcntl
    import hashlib
    import tempfile

    root = pathlib.Path(os.environ.get("ZOO_DATA_DIR", "-"))
    names = [
        n for n in ("mnist", "fashion_mnist") if (root / n / "t10k-images-idx3-ubyte.gz").is_file()
    ]
    if not names:
        return  # mnist_files skips
    from zoo import data

    def offline():
        raise AssertionError("preparing MNIST or Fashion-MNIST must not need the network")

    data_dir = os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")
    key = hashlib.sha1(os.path.expanduser(data_dir).encode()).hexdigest()[:12]
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
    turn = worker % len(names)
    online, data._online = data._online, offline
    try:
        for name in names[turn:] + names[:turn]:
            lock = pathlib.Path(tempfile.gettempdir()) / f"zoo-tests-{name}-{key}.lock"
            with lock.open("w") as held:
                fcntl.flock(held, fcntl.LOCK_EX)
                data.load(name, "test", limit=1)
    finally:
        data._online = online


@pytest.fixture
def rng():
    return np.random.default_rng(0)
