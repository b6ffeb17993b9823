"""keras-tuner search spaces: defaults equal the factories', and a search runs."""

import json
import math
import re

import keras
import keras_tuner
import numpy as np
import pytest

import zoo
from zoo import data
from zoo.hyper import (
    FAMILIES,
    AutoencoderHyperModel,
    DBNHyperModel,
    LeNetHyperModel,
    RBMHyperModel,
    TransferHyperModel,
    get_hypermodel,
)
from zoo.layers import image_augmentation

SMALL_IMAGES = (32, 32, 3)  # transfer: the smallest MobileNet input, random weights
RECIPE_WEIGHT_DECAY = keras.regularizers.L2(1e-4)  # the RBM recipes' --weight-decay 2e-4


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


def test_the_autoencoder_family_declares_objective_and_task():
    hypermodel = AutoencoderHyperModel("dense")
    assert hypermodel.objective == keras_tuner.Objective("val_loss", "min")
    assert hypermodel.task == "reconstruction"


def test_variants_make_the_variant_a_choice_with_conditional_spaces():
    hypermodel = AutoencoderHyperModel("deep", input_shape=(8, 8, 1), variants=("dense", "deep"))
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert hp.values == {
        "variant": "deep", "deep/code_size": 32, "deep/depth": 2, "deep/width": 256,
        "learning_rate": 1e-3,
    }  # fmt: skip
    assert model.get_config() == zoo.create_model("ae/deep", input_shape=(8, 8, 1)).get_config()
    # Another variant drawn: the deep one's hyperparameters are inactive, not used.
    hp.values = {"variant": "dense", "dense/code_size": 16, "learning_rate": 1e-3}
    model = hypermodel.build(hp)
    assert not hp.is_active("deep/depth") and hp.is_active("dense/code_size")
    expected = zoo.create_model("ae/dense", input_shape=(8, 8, 1), code_size=16)
    assert model.get_config() == expected.get_config()


def test_bad_variants_are_refused():
    with pytest.raises(ValueError, match=r"variants must be .*Received: variants=\('vae',\)"):
        AutoencoderHyperModel("dense", variants=("vae",))
    with pytest.raises(ValueError, match="including variant='conv'.*Received: variants="):
        AutoencoderHyperModel("conv", variants=("dense", "deep"))
    with pytest.raises(TypeError, match="variants must be .*Received: variants='dense'"):
        AutoencoderHyperModel("dense", variants="dense")


# --- every family --------------------------------------------------------------------


def _config(model):
    """A model's config, with Keras' numbered input-layer names made equal."""
    text = json.dumps(model.get_config(), sort_keys=True, default=str)
    return re.sub(r'"input_layer(_\d+)?"', '"input_layer"', text)


# family -> (the HyperModel, the registered factory's model it must build by default,
# hyperparameters whose defaults are the recipe's training settings)
DEFAULT_BUILDS = {
    "lenet5": (
        lambda: LeNetHyperModel("lenet5"),
        lambda: zoo.create_model("lenet5"),
        {"learning_rate": 1e-3, "optimizer": "adam", "lr_schedule": "cosine"},
    ),
    "lenet5_modern": (
        lambda: LeNetHyperModel("lenet5_modern"),
        lambda: zoo.create_model("lenet5_modern"),
        {"learning_rate": 1e-3, "optimizer": "adam", "lr_schedule": "cosine"},
    ),
    "rbm": (
        lambda: RBMHyperModel(),
        lambda: zoo.create_model("rbm", kernel_regularizer=RECIPE_WEIGHT_DECAY),
        {"learning_rate": 0.1, "momentum": 0.5, "final_momentum": 0.9, "batch_size": 100},
    ),
    "gaussian_rbm": (
        lambda: RBMHyperModel("gaussian"),
        lambda: zoo.create_model("gaussian_rbm", kernel_regularizer=RECIPE_WEIGHT_DECAY),
        {"learning_rate": 0.01, "momentum": 0.5, "batch_size": 100},
    ),
    "dbn": (
        lambda: DBNHyperModel(),
        lambda: zoo.create_model(
            "dbn", mean_field_visible=True, kernel_regularizer=RECIPE_WEIGHT_DECAY
        ),
        {"pretrain_epochs": 20, "learning_rate": 0.1, "dropout": 0.2},
    ),
    "transfer": (
        lambda: TransferHyperModel(input_shape=SMALL_IMAGES, weights=None, alpha=0.25),
        lambda: zoo.create_model(
            "transfer/mobilenet",
            input_shape=SMALL_IMAGES,
            alpha=0.25,
            weights=None,
            augmentation=image_augmentation(),
        ),  # fmt: skip
        {"learning_rate": 1e-3, "dropout": 0.2, "mode": "minimum", "augmentation": 1.0},
    ),
}


@pytest.mark.parametrize("family", sorted(DEFAULT_BUILDS))
def test_defaults_build_the_family_default(family):
    make_hypermodel, make_default, training = DEFAULT_BUILDS[family]
    hp = keras_tuner.HyperParameters()
    model = make_hypermodel().build(hp)
    default = make_default()
    assert _config(model) == _config(default)
    assert model.count_params() == default.count_params()
    assert {name: hp.get(name) for name in training} == training
    if "learning_rate" in training and family != "dbn":  # a DBN compiles its classifier
        rate = float(model.optimizer.learning_rate)
        assert rate == pytest.approx(training["learning_rate"])


def test_the_registry_names_every_family():
    assert FAMILIES == ("lenet5", "lenet5_modern", "autoencoder", "rbm", "dbn", "transfer")
    kinds = {
        "lenet5": (LeNetHyperModel, "classification", ("val_accuracy", "max")),
        "lenet5_modern": (LeNetHyperModel, "classification", ("val_accuracy", "max")),
        "autoencoder": (AutoencoderHyperModel, "reconstruction", ("val_loss", "min")),
        "rbm": (RBMHyperModel, "unsupervised", ("val_reconstruction_error", "min")),
        "dbn": (DBNHyperModel, "classification", ("val_accuracy", "max")),
        "transfer": (TransferHyperModel, "classification", ("val_accuracy", "max")),
    }
    for family in FAMILIES:
        kwargs = {"weights": None} if family == "transfer" else {}
        hypermodel = get_hypermodel(family, **kwargs)
        cls, task, objective = kinds[family]
        assert type(hypermodel) is cls and hypermodel.task == task, family
        assert hypermodel.objective == keras_tuner.Objective(*objective), family
    assert get_hypermodel("lenet5_modern").model == "lenet5_modern"
    with pytest.raises(ValueError, match="family must be one of 'lenet5', .*'transfer'.*vae"):
        get_hypermodel("vae")


CONDITIONAL_SPACES = {
    "autoencoder": (
        lambda: AutoencoderHyperModel(
            "dense", input_shape=(8, 8, 1), variants=("dense", "ksparse")
        ),
        {"variant", "learning_rate", "dense/code_size", "ksparse/code_size", "ksparse/k"},
    ),
    "dbn": (
        lambda: DBNHyperModel(input_shape=(8, 8, 1)),
        {"depth", "units_1", "units_2", "units_3", "pretrain_epochs", "learning_rate", "dropout"},
    ),
    "transfer": (
        lambda: TransferHyperModel(input_shape=SMALL_IMAGES, weights=None, alpha=0.25),
        {
            "mode",
            "trainable_from",
            "learning_rate",
            "fine_tune_learning_rate",
            "head_units",
            "dropout",
            "augmentation",
        },
    ),  # fmt: skip
}


@pytest.mark.parametrize("family", sorted(CONDITIONAL_SPACES))
def test_a_tuner_finds_every_conditional_hyperparameter(family, tmp_path):
    make_hypermodel, names = CONDITIONAL_SPACES[family]
    hypermodel = make_hypermodel()
    tuner = keras_tuner.RandomSearch(
        hypermodel, objective=hypermodel.objective, max_trials=1, directory=tmp_path
    )
    assert {hp.name for hp in tuner.oracle.hyperparameters.space} == names


def _fixed(values):
    hp = keras_tuner.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


def test_drawn_lenet_values_reach_the_model():
    hp = _fixed(
        {"c1_filters": 16, "c3_filters": 32, "batch_norm": True, "dropout": 0.3,
         "optimizer": "sgd", "learning_rate": 0.01}
    )  # fmt: skip
    model = LeNetHyperModel("lenet5_modern", input_shape=(8, 8, 1), classes=3).build(hp)
    expected = zoo.create_model(
        "lenet5_modern", input_shape=(8, 8, 1), classes=3, filters=(16, 32), batch_norm=True,
        dropout=0.3,
    )  # fmt: skip
    assert _config(model) == _config(expected)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    assert model.optimizer.momentum == 0.9  # the recipes' SGD
    model = LeNetHyperModel("lenet5").build(_fixed({"head": "rbf"}))
    assert model.get_layer("lenet5_rbf") is not None


def test_drawn_rbm_values_reach_the_model():
    hp = _fixed(
        {"units": 64, "k": 3, "persistent": True, "batch_size": 32, "weight_decay": 2e-3,
         "learning_rate": 0.05, "momentum": 0.7}
    )  # fmt: skip
    model = RBMHyperModel(input_shape=(8, 8, 1)).build(hp)
    rbm = model.rbms[0]
    assert (rbm.units, rbm.k, rbm.persistent_chains) == (64, 3, 32)
    assert rbm.kernel_regularizer.get_config() == {"l2": pytest.approx(1e-3)}
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    assert model.optimizer.momentum == pytest.approx(0.7)
    hp = _fixed({"weight_decay": 0.0, "persistent": False})
    rbm = RBMHyperModel(input_shape=(8, 8, 1)).build(hp).rbms[0]
    assert rbm.kernel_regularizer is None and rbm.persistent_chains == 0


def test_drawn_dbn_values_reach_the_model():
    hp = _fixed({"depth": 2, "units_1": 250, "units_2": 1000})
    model = DBNHyperModel(input_shape=(8, 8, 1)).build(hp)
    assert [rbm.units for rbm in model.rbms] == [250, 1000]
    assert not hp.is_active("units_3")


def test_drawn_transfer_values_reach_the_model():
    hp = _fixed(
        {"mode": "partial", "trainable_from": 0.5, "fine_tune_learning_rate": 3e-4,
         "head_units": 64, "dropout": 0.3, "augmentation": 2.0}
    )  # fmt: skip
    model = TransferHyperModel(input_shape=SMALL_IMAGES, weights=None, alpha=0.25).build(hp)
    assert (model.mode, model.trainable_from) == ("partial", 0.5)
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-4)
    assert model.get_layer("transfer_mobilenet_hidden1").units == 64
    assert model.get_layer("transfer_mobilenet_dropout").rate == pytest.approx(0.3)
    assert model.augmentation.get_layer("augmentation_rotation").factor == (-0.2, 0.2)
    hp = _fixed({"mode": "total", "augmentation": 0.0})
    model = TransferHyperModel(input_shape=SMALL_IMAGES, weights=None, alpha=0.25).build(hp)
    assert model.trainable_from is None and model.augmentation is None
    assert not hp.is_active("trainable_from") and not hp.is_active("learning_rate")
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)  # fine-tuning's


@pytest.fixture(scope="module")
def digits():
    images, labels = data.as_numpy(data.load("digits", "train"))
    return images[:300], labels[:300]


def _search(hypermodel, fixed, args, tmp_path, **kwargs):
    """One random trial with `fixed` hyperparameters; returns the tuner."""
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective=hypermodel.objective,
        max_trials=1,
        seed=0,
        hyperparameters=_fixed(fixed),
        directory=tmp_path,
        project_name=hypermodel.name,
    )
    tuner.search(*args, epochs=kwargs.pop("epochs", 1), verbose=0, **kwargs)
    return tuner


def _best_score(tuner):
    (trial,) = tuner.oracle.get_best_trials(1)
    assert trial.score is not None and math.isfinite(trial.score)
    return trial


@pytest.mark.parametrize("model", ["lenet5", "lenet5_modern"])
def test_a_lenet_trial_is_scored(model, digits, tmp_path):
    x, y = digits
    hypermodel = LeNetHyperModel(model, input_shape=(8, 8, 1))
    tuner = _search(
        hypermodel, {}, (x[:200], y[:200]), tmp_path, validation_data=(x[200:], y[200:])
    )
    trial = _best_score(tuner)
    assert trial.score == trial.metrics.get_best_value("val_accuracy")
    assert "batch_size" in trial.hyperparameters.values


def test_an_rbm_trial_is_scored_by_pseudo_likelihood(digits, tmp_path):
    x, _ = digits
    hypermodel = RBMHyperModel(input_shape=(8, 8, 1), objective="pseudo_log_likelihood")
    assert hypermodel.objective == keras_tuner.Objective("val_pseudo_log_likelihood", "max")
    tuner = _search(
        hypermodel, {"units": 64}, (x[:200],), tmp_path, validation_data=(x[200:],), epochs=2
    )
    trial = _best_score(tuner)
    assert trial.score < 0  # a log-likelihood of binary-ish data
    assert trial.metrics.get_best_value("val_reconstruction_error") > 0
    best = tuner.get_best_models(1)[0]  # an RBM reloads: the trained model is the built one
    assert best.rbms[0].units == 64


def test_a_gaussian_rbm_trial_is_scored_by_reconstruction(digits, tmp_path):
    x, _ = digits
    hypermodel = RBMHyperModel("gaussian", input_shape=(8, 8, 1))
    tuner = _search(hypermodel, {"units": 64}, (x,), tmp_path, validation_split=0.25)
    trial = _best_score(tuner)
    assert trial.score > 0


def test_a_dbn_trial_pretrains_and_fine_tunes(digits, tmp_path):
    x, y = digits
    hypermodel = DBNHyperModel(input_shape=(8, 8, 1))
    fixed = {"depth": 1, "units_1": 250, "pretrain_epochs": 1}
    tuner = _search(
        hypermodel, fixed, (x[:200], y[:200]), tmp_path, validation_data=(x[200:], y[200:])
    )
    _best_score(tuner)
    # What a trial does: pretraining changes the stack, the classifier is what trains.
    hp = _fixed(fixed)
    stack = hypermodel.build(hp)
    initial = keras.ops.convert_to_numpy(stack.rbms[0].kernel)
    history = hypermodel.fit(hp, stack, x, y, validation_split=0.25, epochs=1, verbose=0)
    assert not np.allclose(keras.ops.convert_to_numpy(stack.rbms[0].kernel), initial)
    assert history.model.name == "dbn_classifier" and "val_accuracy" in history.history


def test_a_transfer_trial_is_scored(rng, tmp_path):
    x = rng.uniform(0, 255, (16, *SMALL_IMAGES)).astype("float32")
    y = np.arange(16) % 2
    hypermodel = TransferHyperModel(input_shape=SMALL_IMAGES, weights=None, alpha=0.25)
    tuner = _search(
        hypermodel, {"mode": "minimum", "batch_size": 16}, (x, y), tmp_path, validation_data=(x, y)
    )
    _best_score(tuner)


def test_epochs_are_searched_only_when_asked(digits):
    x, y = digits
    hypermodel = LeNetHyperModel("lenet5_modern", input_shape=(8, 8, 1), tune_epochs=True)
    hp = _fixed({"epochs": 2, "lr_schedule": "step"})
    model = hypermodel.build(hp)
    history = hypermodel.fit(hp, model, x[:64], y[:64], verbose=0)
    assert len(history.epoch) == 2 and hp.get("batch_size") == 128
    with pytest.raises(
        ValueError, match="epochs is searched by LeNetHyperModel.*Received: epochs=3"
    ):
        hypermodel.fit(hp, model, x[:64], y[:64], epochs=3)
    hp = keras_tuner.HyperParameters()
    hypermodel = LeNetHyperModel("lenet5_modern", input_shape=(8, 8, 1))
    history = hypermodel.fit(hp, hypermodel.build(hp), x[:64], y[:64], epochs=1, verbose=0)
    assert "epochs" not in hp and len(history.epoch) == 1
    with pytest.raises(ValueError, match="batch_size is searched.*Received: batch_size=8"):
        hypermodel.fit(hp, model, x[:64], y[:64], batch_size=8)


def test_an_rbm_fit_needs_validation_data(digits):
    hypermodel = RBMHyperModel(input_shape=(8, 8, 1))
    hp = keras_tuner.HyperParameters()
    with pytest.raises(ValueError, match="validation_data.*Received: validation_data=None"):
        hypermodel.fit(hp, hypermodel.build(hp), digits[0])


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: LeNetHyperModel("lenet6"), ValueError, "model must be one of .*'lenet6'"),
        (lambda: LeNetHyperModel(input_shape=(64, 64, 1)), ValueError, "input_shape.*64, 64"),
        (lambda: LeNetHyperModel(classes=1), ValueError, "classes must be .*classes=1"),
        (lambda: LeNetHyperModel(tune_epochs=1), TypeError, "tune_epochs.*tune_epochs=1"),
        (lambda: RBMHyperModel("binary"), ValueError, "visible must be .*'binary'"),
        (lambda: RBMHyperModel(objective="pll"), ValueError, "objective must be .*'pll'"),
        (
            lambda: RBMHyperModel("gaussian", objective="pseudo_log_likelihood"),
            ValueError,
            "Bernoulli.*visible='gaussian'",
        ),
        (lambda: RBMHyperModel(input_shape=(0, 8)), ValueError, "input_shape.*\\(0, 8\\)"),
        (lambda: DBNHyperModel(classes=1.5), TypeError, "classes must be .*classes=1.5"),
        (lambda: TransferHyperModel("resnet"), ValueError, "base must be one of .*'resnet'"),
        (
            lambda: TransferHyperModel("inception_resnet_v2", alpha=0.5),
            ValueError,
            "alpha=0.5",
        ),
        (lambda: TransferHyperModel(weights="nope.h5"), ValueError, "weights=.*nope.h5"),
        (lambda: TransferHyperModel(input_shape=(16, 16, 3)), ValueError, "input_shape"),
        (lambda: AutoencoderHyperModel(tune_epochs="yes"), TypeError, "tune_epochs='yes'"),
    ],
)
def test_bad_arguments_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()
