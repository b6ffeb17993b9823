"""The README's Python snippets run, at small sizes, so that none uses an undefined name
or an API that no longer exists.

Each ```python block runs in a fresh namespace holding only the names its surrounding
prose stands for (`x_train`: images, `train`: a `tf.data` pipeline, ...), on tiny data.
Sizes are shrunk by the substitutions in `SMALLER` (epochs, units, trials; MNIST becomes
the bundled digits), so the snippets' code runs as written and the test takes seconds.
"""

import functools
import pathlib
import re

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)

# (pattern, replacement): the README's sizes, made small
SMALLER = [
    (r"\b(head_epochs|epochs)=\d+", r"\1=1"),
    (r"\bunits=\d+", "units=16"),
    (r"\bcode_size=\d+", "code_size=32"),
    (r"\bhidden=\([\d, ]+\)", "hidden=(16, 8)"),
    (r"\bmax_trials=\d+", "max_trials=1"),
    (r"KSparseSchedule\(\d+", "KSparseSchedule(30"),
    (r"\bm=8\b", "m=2"),
    (r"\bpca_components=\d+", "pca_components=4"),
    # MNIST's offline preparation is tests/test_data.py's; here the same calls on digits
    (r'data\.load\("mnist"', 'data.load("digits"'),
]


def _smaller(code):
    for pattern, replacement in SMALLER:
        code = re.sub(pattern, replacement, code)
    return code


@pytest.fixture(scope="module")
def context():
    """The names the README's prose gives its snippets, as small arrays and pipelines."""
    import tensorflow as tf

    from zoo import data

    digits, info = data.load("digits", "train", image_size=28, limit=64, with_info=True)
    x, y = data.as_numpy(digits)
    raw, _ = data.as_numpy(data.load("digits", "test", normalize=None, limit=8))
    rng = np.random.default_rng(0)
    photos = rng.integers(0, 256, size=(8, 224, 224, 3)).astype("float32")
    labels = np.arange(8) % 2
    photo_ds = tf.data.Dataset.from_tensor_slices((photos, labels)).batch(4)
    return {
        "x_train": x[:48],
        "x_test": x[48:],
        "y_train": y[:48],
        "binary_images": (x[:48] > 0.5).astype("float32"),
        "binary_test_images": (x[48:] > 0.5).astype("float32"),
        "images": x,
        "train": photo_ds,
        "val": photo_ds,
        "photo_images": photos,
        "index_features": rng.normal(size=(20, 8)),
        "query_features": rng.normal(size=(3, 8)),
        "raw_images": raw,
        "digits_info": info,
    }


def _namespace(context, block):
    """The block's fresh namespace: the context names, with `images` as photos for the
    transfer snippet and `model` / `info` for the export snippet."""
    namespace = dict(context)
    if "transfer/" in block:
        namespace["images"] = context["photo_images"]
        namespace["x_train"], namespace["y_train"] = context["photo_images"], np.arange(8) % 2
    if "export(model" in block:
        import zoo

        namespace["model"] = zoo.create_model("lenet5", input_shape=(28, 28, 1))
        namespace["info"] = context["digits_info"]
    return namespace


def test_the_readme_has_python_snippets():
    assert len(BLOCKS) >= 6
    assert all(_smaller(block) for block in BLOCKS)
    assert "epochs=1" in _smaller("fit(x, epochs=20)") and "hidden=(16, 8)" in _smaller(
        "hidden=(500, 500, 2000)"
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_snippet_runs(index, context, in_tmp, data_root, monkeypatch):
    import zoo.likelihood

    block = BLOCKS[index]
    if "photos/train" in block:  # the image-folder line reads a folder of the user's
        import tensorflow as tf

        for name in ("ants", "bees"):
            (in_tmp / "photos" / "train" / name).mkdir(parents=True)
            for i in range(2):
                image = np.full((16, 16, 3), 40 * i, "uint8")
                tf.io.write_file(
                    str(in_tmp / "photos" / "train" / name / f"{i}.png"), tf.io.encode_png(image)
                )
    if 'data.load("mnist"' in block and not (data_root / "mnist").is_dir():
        pytest.skip("the README's MNIST snippet needs the MNIST files in ZOO_DATA_DIR")
    # AIS at its documented 100 runs x 10,000 temperatures takes minutes: a few here.
    monkeypatch.setattr(
        zoo.likelihood,
        "ais_log_likelihood",
        functools.partial(zoo.likelihood.ais_log_likelihood, runs=4, betas=50),
    )
    exec(
        compile(_smaller(block), f"README.md python block {index}", "exec"),
        _namespace(context, block),
    )
