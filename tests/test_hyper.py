"""keras-tuner search spaces: defaults equal the factories', and a search runs."""

import keras_tuner
import numpy as np
import pytest

import zoo
from zoo import data
from zoo.hyper import AutoencoderHyperModel


@pytest.mark.parametrize("variant", [n.removeprefix("ae/") for n in zoo.list_models("ae/*")])
def test_default_hyperparameters_build_the_factory_default(variant):
    hp = keras_tuner.HyperParameters()
    model = AutoencoderHyperModel(variant).build(hp)
    default = zoo.create_model(f"ae/{variant}")
    assert model.count_params() == default.count_params()
    assert hp.get("learning_rate") == 1e-3
    assert model.optimizer is not None  # HyperModels compile, factories do not


def test_search_space_per_variant():
    expected = {
        "dense": {"code_size", "learning_rate"},
        "deep": {"code_size", "learning_rate", "depth", "width"},
        "denoising": {"code_size", "learning_rate", "noise_level"},
        "ksparse": {"code_size", "learning_rate", "k"},
        "contractive": {"code_size", "learning_rate", "contraction"},
    }
    for variant, names in expected.items():
        hp = keras_tuner.HyperParameters()
        AutoencoderHyperModel(variant).build(hp)
        assert set(hp.values) == names, variant


def test_a_small_random_search_scores_every_trial(tmp_path):
    images, _ = data.as_numpy(data.load("digits", "train"))
    tuner = keras_tuner.RandomSearch(
        AutoencoderHyperModel("dense", input_shape=(8, 8, 1)),
        objective="val_loss",
        max_trials=2,
        seed=0,
        directory=tmp_path,
        project_name="ae",
    )
    tuner.search(images, images, validation_split=0.2, epochs=2, verbose=0)
    trials = tuner.oracle.get_best_trials(2)
    assert len(trials) == 2
    assert all(np.isfinite(trial.score) for trial in trials)


def test_bad_structure_is_refused():
    with pytest.raises(ValueError, match="variant.*Received"):
        AutoencoderHyperModel("vae")
    with pytest.raises(ValueError, match="loss.*Received"):
        AutoencoderHyperModel("dense", loss="hinge")
