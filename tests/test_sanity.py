"""The overfit sanity check: `zoo.training.overfit_check` and every recipe's `--sanity`.

A healthy model overfits a tiny subset; a broken setup (a learning rate far too low,
labels that do not match the inputs, a frozen model, a diverging rate) fails, naming the
likely causes, and a recipe under `--sanity` writes nothing.
"""

import importlib

import keras
import numpy as np
import pytest

from zoo import data, training

DIGITS = ["--dataset", "digits"]


@pytest.fixture(scope="module")
def digits():
    x, y = data.as_numpy(data.load("digits", "train", limit=128, shuffle=False))
    return x.reshape(len(x), -1), y


def _classifier(learning_rate=1e-2):
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy")
    return model


# --- the Python API --------------------------------------------------------------------


def test_a_healthy_model_overfits_and_the_result_holds_the_numbers(digits):
    x, y = digits
    result = training.overfit_check(_classifier(), x, y, epochs=60)
    assert result.passed and result.monitor == "loss" and result.examples == 128
    assert result.initial_loss == pytest.approx(np.log(10), rel=0.2)  # untrained: ~ln 10
    assert result.target == pytest.approx(0.1 * result.initial_loss)
    assert result.final_loss <= result.target < result.history[0]
    # training stops at the first epoch that reaches the target
    assert result.reached_epoch == result.epochs_run == len(result.history) < 60
    assert result.summary().startswith(f"PASS: loss {result.initial_loss:.4g} -> ")
    assert f"reached at epoch {result.reached_epoch} of 60" in result.summary()
    assert result.raise_for_failure() is result
    assert result.as_dict()["history"] == list(result.history)


def test_labels_that_do_not_match_cannot_be_overfit_in_the_epochs_allowed(digits, rng):
    x, y = digits
    result = training.overfit_check(_classifier(), x, rng.permutation(y), epochs=15)
    assert not result.passed and result.reached_epoch is None and result.epochs_run == 15
    assert result.final_loss < result.initial_loss  # it learns, but not enough
    causes = result.likely_causes()
    assert causes[0].startswith("the loss fell by ") and "shuffled or misaligned" in causes[0]
    with pytest.raises(ValueError, match=r"^FAIL: loss .* not reached in 15 epochs: .*Likely"):
        result.raise_for_failure()


def test_a_rate_far_too_low_or_a_frozen_model_leaves_the_loss_where_it_was(digits):
    x, y = digits
    slow = training.overfit_check(_classifier(1e-9), x, y, epochs=3)
    assert not slow.passed and slow.final_loss == pytest.approx(slow.initial_loss, rel=1e-3)
    message = slow.failure_message(rate_option="--learning-rate")
    assert "(1) the loss hardly moved: a learning rate far too low (--learning-rate 1e-09)" in (
        message
    )
    assert "\n" not in message and "a loss that does not suit the output" in message
    frozen = _classifier()
    frozen.trainable = False
    frozen.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        result = training.overfit_check(frozen, x, y, epochs=2)
    assert not result.passed and result.trainable_weights == 0
    assert result.likely_causes()[0] == "the model has no trainable weights (frozen)"


def test_a_diverging_rate_fails_at_the_first_non_finite_epoch(digits):
    x, y = digits
    model = _classifier()
    model.compile(keras.optimizers.SGD(1e12), "sparse_categorical_crossentropy")
    result = training.overfit_check(model, x * 1e3, y, epochs=20)
    assert not result.passed and not np.isfinite(result.final_loss)
    assert result.epochs_run == result.non_finite_epoch < 20  # stopped there
    assert "non-finite at epoch" in result.summary()
    assert (
        "became non-finite: a learning rate too high (learning_rate 1e+12)"
        in (result.likely_causes()[0])
    )


def test_a_metric_a_baseline_or_a_measure_can_be_watched(digits):
    x, _ = digits  # in [0, 1]
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32), keras.layers.Dense(64, activation="sigmoid")]
    )
    model.compile(keras.optimizers.Adam(1e-2), "binary_crossentropy", metrics=["mse"])
    baseline = float(np.var(x, axis=0).mean())  # the mean image's squared error
    result = training.overfit_check(
        model, x, x, epochs=100, tolerance=0.5, monitor="mse", baseline=baseline
    )
    assert result.passed and result.target == pytest.approx(0.5 * baseline)
    assert result.baseline == baseline and f"of the baseline {baseline:.4g}" in result.summary()
    calls = []

    def measure(m):
        calls.append(1)
        return float(np.mean((m.predict(x, verbose=0) - x) ** 2))

    measured = training.overfit_check(model, x, x, epochs=2, measure=measure, monitor="mse")
    assert len(calls) == 1 + measured.epochs_run and measured.measured
    assert "does not suit the output" not in " ".join(measured.likely_causes())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tolerance": 1.0}, ValueError, r"tolerance must be a finite number > 0 and < 1\. "),
        ({"epochs": 0}, ValueError, r"epochs must be an int >= 1\. Received: epochs=0"),
        ({"monitor": "accuracy"}, ValueError, r"compiled metric \(loss\).*monitor='accuracy'"),
        ({"baseline": -1.0}, ValueError, r"baseline must be a finite number > 0\. "),
        ({"measure": 3}, TypeError, r"measure must be callable or None\. Received: measure=3"),
    ],
)
def test_bad_arguments_name_the_argument_and_the_value(digits, kwargs, error, match):
    x, y = digits
    with pytest.raises(error, match=match):
        training.overfit_check(_classifier(), x, y, **kwargs)


def test_an_uncompiled_model_is_refused(digits):
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)], name="bare")
    with pytest.raises(ValueError, match="must be compiled.*Received: the uncompiled model 'bare'"):
        training.overfit_check(model, *digits)


# --- the recipes' --sanity -------------------------------------------------------------


HEALTHY = {  # recipe options: a healthy model of each family, on digits
    "lenet5": DIGITS,
    "autoencoder": [*DIGITS, "--variant", "denoising"],  # the sanity check turns noise off
    "rbm": [],
    "dbn": ["--hidden", "64", "32"],
    # the default image folder ($ZOO_DATA_DIR/hymenoptera_data) and ImageNet weights
    "transfer": [],
}


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_a_healthy_recipe_passes_and_writes_nothing(name, in_tmp, capsys, request):
    if name == "transfer":
        request.getfixturevalue("data_root")  # skips without the offline files
    recipe = importlib.import_module(f"recipes.{name}")
    result = recipe.main(["--sanity", *HEALTHY[name]])
    assert result["passed"] and result["final_loss"] <= result["target"]
    assert (
        result["reached_epoch"]
        <= result["epochs"]
        == recipe.build_parser().get_default("sanity_epochs")
    )
    summary = training.OverfitResult(**{**result, "history": tuple(result["history"])}).summary()
    assert capsys.readouterr().out.strip().splitlines() == [f"sanity check {summary}"]
    assert not (in_tmp / "runs").exists() and not (in_tmp / "saved_models").exists()


def test_a_broken_setup_fails_with_status_2_and_the_likely_causes(in_tmp, capsys):
    from recipes import lenet5

    argv = ["--sanity", *DIGITS, "--learning-rate", "1e-9", "--sanity-epochs", "3"]
    assert lenet5.cli(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and not captured.out
    assert err[0].startswith(
        "zoo run lenet5: error: sanity check FAIL: loss 2.303 -> 2.303 on 128 examples "
        "(target <= 0.2303, 10% of the initial) not reached in 3 epochs: the model cannot "
        "overfit 128 examples. Likely causes: (1) the loss hardly moved: a learning rate far "
        "too low (--learning-rate 1e-09)"
    )
    assert not (in_tmp / "runs").exists() and not (in_tmp / "saved_models").exists()


def test_a_dbn_without_pretraining_names_it_among_the_causes(in_tmp, capsys):
    from recipes import dbn

    argv = ["--sanity", "--no-pretrain", "--hidden", "64", "32", "--sanity-epochs", "2"]
    assert dbn.cli(argv) == 2
    err = capsys.readouterr().err
    assert "(2) no pretraining (--no-pretrain): a deep sigmoid network" in err


@pytest.mark.parametrize(
    "name",
    ["lenet5", "quickstart", "autoencoder", "ae_vs_pca", "anomaly", "rbm", "dbn", "transfer"],
)
def test_every_training_recipe_has_the_sanity_options(name):
    parser = importlib.import_module(f"recipes.{name}").build_parser()
    defaults = {key: parser.get_default(key) for key in ("sanity", "sanity_examples")}
    assert defaults == {"sanity": False, "sanity_examples": 32 if name == "transfer" else 128}
    assert "--sanity-epochs" in parser.format_help()


def test_options_replace_gives_a_read_only_copy():
    from recipes import _common, lenet5

    options = _common.parse(lenet5.build_parser(), ["--dropout", "0.3"])
    copy = options.replace(dropout=0.0)
    assert (options.dropout, copy.dropout) == (0.3, 0.0)
    assert copy.command_line() == options.command_line()
    with pytest.raises(AttributeError, match="read-only"):
        copy.dropout = 0.5
