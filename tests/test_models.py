"""Every registered model: builds, runs, round-trips through .keras and SavedModel."""

import fnmatch
import inspect

import numpy as np
import pytest

import zoo
from zoo.export import export, load_export, serving_outputs
from zoo.registry import get_model_factory

MODELS = zoo.list_models()
# Transfer models default to ImageNet weights at full size: built here untrained and small
# (Inception-ResNet-v2's minimum input); tests/test_transfer.py loads real weights.
BUILD_ARGUMENTS = {"transfer/*": {"weights": None, "input_shape": (75, 75, 3)}}


def build_arguments(name):
    return next((kw for key, kw in BUILD_ARGUMENTS.items() if fnmatch.fnmatch(name, key)), {})


@pytest.fixture(scope="module", params=MODELS)
def built(request):
    model = zoo.create_model(request.param, **build_arguments(request.param))
    x = np.random.default_rng(0).uniform(size=(4, *model.input_shape[1:])).astype("float32")
    return model, x


def test_forward_pass_shape_and_finite_output(built):
    model, x = built
    y = np.asarray(model(x))
    assert y.shape == (4, *model.output_shape[1:])
    assert np.isfinite(y).all()


def test_keras_round_trip_gives_identical_outputs(built, tmp_path):
    model, x = built
    path = tmp_path / "model.keras"
    model.save(path)
    import keras

    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(model(x)))


def test_savedmodel_export_gives_identical_outputs(built, tmp_path):
    model, x = built
    path = export(model, model.name, base_dir=tmp_path)
    served = load_export(path)(x)
    expected = serving_outputs(model, x)
    assert set(served) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(served[key], np.asarray(value), atol=1e-5, err_msg=key)
    if "class_id" in served:
        np.testing.assert_array_equal(served["class_id"], np.asarray(model(x)).argmax(-1))


BAD_ARGUMENTS = [
    ({"input_shape": (0, 28, 1)}, "input_shape"),
    ({"input_shape": "28x28"}, "input_shape"),
    ({"classes": 1}, "classes"),
    ({"weights": "no/such/file.weights.h5"}, "weights"),
]


def _accepts(name, kwargs):
    return set(kwargs) <= set(inspect.signature(get_model_factory(name)).parameters)


@pytest.mark.parametrize(
    "name, kwargs, match",
    [(name, *case) for name in MODELS for case in BAD_ARGUMENTS if _accepts(name, case[0])],
)
def test_bad_arguments_name_the_argument(name, kwargs, match):
    with pytest.raises(ValueError, match=f"{match}.*Received"):
        zoo.create_model(name, **kwargs)
