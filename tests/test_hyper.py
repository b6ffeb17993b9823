"""keras-tuner search spaces: defaults equal the factories', and a search runs."""

import keras_tuner
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
    # HyperModels compile (with the drawn learning rate), factories do not.
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert model.loss == "binary_crossentropy" and not default.compiled


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


# Drawn values (besides code_size 64 and learning rate 3e-3), and the factory arguments
# they must become.
DRAWN = {
    "dense": ({}, {}),
    "tied": ({}, {}),
    "deep": ({"depth": 1, "width": 128}, {"hidden": (128,)}),
    "conv": ({"base_filters": 16}, {"filters": (16, 32)}),
    "denoising": ({"noise_level": 0.4}, {"noise_level": 0.4}),
    "sparse_l1": ({"l1": 1e-5}, {"l1": 1e-5}),
    "sparse_kl": ({"kl_target": 0.1}, {"target": 0.1}),
    "ksparse": ({"k": 10}, {"k": 10}),
    "contractive": ({"contraction": 0.01}, {"contraction": 0.01}),
}


@pytest.mark.parametrize("variant", [n.removeprefix("ae/") for n in zoo.list_models("ae/*")])
def test_drawn_values_reach_the_model(variant):
    drawn, factory_kwargs = DRAWN[variant]
    hp = keras_tuner.HyperParameters()
    for name, value in {"code_size": 64, "learning_rate": 3e-3, **drawn}.items():
        hp.Fixed(name, value)
    model = AutoencoderHyperModel(variant, input_shape=(8, 8, 1)).build(hp)
    expected = zoo.create_model(
        f"ae/{variant}", input_shape=(8, 8, 1), code_size=64, **factory_kwargs
    )
    assert model.get_config() == expected.get_config()
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3)


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
    assert trials[0].hyperparameters.values != trials[1].hyperparameters.values
    assert trials[0].score < trials[1].score  # best first, by validation loss
    # A trial's score is the best validation loss its model reached; the tuner keeps that
    # model, whose loss on the validation split (Keras': the last 20%) is that score.
    for trial in trials:
        assert trial.score == trial.metrics.get_best_value("val_loss")
    validation = images[-int(0.2 * len(images)) :]
    best = tuner.get_best_models(1)[0]
    assert best.evaluate(validation, validation, verbose=0) == pytest.approx(
        trials[0].score, rel=1e-3
    )


def test_bad_structure_is_refused():
    with pytest.raises(ValueError, match="variant.*Received"):
        AutoencoderHyperModel("vae")
    with pytest.raises(ValueError, match="loss.*Received"):
        AutoencoderHyperModel("dense", loss="hinge")
