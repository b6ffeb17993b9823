"""Every recipe runs with --smoke; the quickstart runs for real."""

import importlib
import json

import numpy as np
import pytest

import zoo
from zoo import analysis, data, training
from zoo.cli import recipe_names
from zoo.export import load_export, read_metadata

RUN_FILES = (
    training.CONFIG_FILE,
    training.HISTORY_FILE,
    training.CURVES_FILE,
    training.METRICS_FILE,
)


# Options that keep a smoke run short without skipping any of its steps: the DBN's default
# 2000 top units made the linear probe of --smoke take ~50 s of its ~65 s (the default
# architecture trains in test_dbn_recipe_... below at a smaller size anyway).
# The study recipes train several networks: one of each keeps their steps (random_labels'
# corruption 1 is its random-labels run); adversarial's smoke run trains both.
SMOKE_OPTIONS = {
    "dbn": ["--hidden", "64", "32"],
    "gradients": ["--configs", "relu_he", "--depth", "2"],
    "random_labels": ["--variants", "random_labels", "--corruption", "1"],
    "adversarial": ["--adversarial-training", "--epsilons", "0", "0.25"],
}
# Not here: quickstart (test_quickstart below runs it for real and checks its export), tune
# (tests/test_tune.py runs whole searches with export, and each family with --smoke) and
# transfer, whose --smoke run is tests/test_transfer.py's recipe test (the same checks, on
# a small image folder); its default folder and ImageNet weights train in
# tests/test_sanity.py (~25 s saved: a MobileNet recipe run is the suite's costliest smoke).
SMOKED = [n for n in recipe_names() if n not in ("quickstart", "tune", "transfer")]


def check_smoke_run(folder, name, argv, metrics):
    """What every --smoke run leaves in `folder`: one run folder with the run files, and the
    export inside it (never under the served root), recording the command."""
    runs = list((folder / "runs").glob("*/*"))
    assert len(runs) == 1
    for file in RUN_FILES:
        assert (runs[0] / file).is_file(), file
    assert not (folder / "saved_models").exists()
    export = folder / metrics["export_path"]
    assert (export / "saved_model.pb").is_file() and runs[0] in export.parents
    recorded = read_metadata(export)
    assert recorded["command"] == " ".join([f"zoo run {name}", *argv])
    assert recorded["smoke"] is True and recorded["dataset"]


@pytest.mark.parametrize("name", SMOKED)
def test_smoke(name, in_tmp, mnist_files):
    argv = ["--smoke", *SMOKE_OPTIONS.get(name, [])]
    metrics = importlib.import_module(f"recipes.{name}").main(argv)
    check_smoke_run(in_tmp, name, argv, metrics)


DIGITS = ["--dataset", "digits"]
DIVERGING = {  # recipe options under which training reaches NaN or inf in its first epoch
    "lenet5": ([*DIGITS, "--model", "lenet5_modern", "--learning-rate", "1e10"], "--learning-rate"),
    "autoencoder": (
        [*DIGITS, "--variant", "ksparse", "--learning-rate", "1e10"],
        "--learning-rate",
    ),
    "rbm": ([*DIGITS, "--learning-rate", "1e30"], "--learning-rate"),
    "dbn": (
        [*DIGITS, "--hidden", "16", "8", "--pretrain-learning-rate", "1e30"],
        "--pretrain-learning-rate",
    ),
    # the default image folder ($ZOO_DATA_DIR/hymenoptera_data) and ImageNet weights (a random
    # base on a small random folder stays finite: its features are too small to overflow)
    "transfer": (["--mode", "minimum", "--no-svm", "--learning-rate", "1e38"], "--learning-rate"),
}


@pytest.mark.parametrize("name", sorted(DIVERGING))
def test_a_diverged_run_exits_non_zero_exports_nothing_and_records_why(
    name, in_tmp, capsys, data_root
):
    options, rate_option = DIVERGING[name]
    recipe = importlib.import_module(f"recipes.{name}")
    argv = ["--smoke", "--optimizer", "sgd", "--output-dir", "run"]
    assert recipe.cli([*argv, *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"zoo run {name}: error: training diverged at epoch 1 (" in err[0]
    assert f"nothing is exported. Lower the learning rate ({rate_option} 1e+" in err[0]
    assert not (in_tmp / "saved_models").exists() and not (in_tmp / "run" / "saved_models").exists()
    failure = json.loads((in_tmp / "run" / training.FAILURE_FILE).read_text())
    assert failure["error"] == "ValueError" and "diverged" in failure["message"]


def test_a_run_that_fails_before_its_first_epoch_leaves_no_folder(in_tmp, capsys):
    from recipes import lenet5

    argv = ["--smoke", "--dataset", "digits", "--model", "lenet5", "--dropout", "0.3"]
    assert lenet5.cli([*argv, "--output-dir", "run"]) == 2
    assert lenet5.cli(argv) == 2
    assert not (in_tmp / "run").exists() and not list((in_tmp / "runs").glob("*/*"))
    # the same folder is free for the corrected command
    lenet5.main([*argv[:-2], "--no-export", "--output-dir", "run"])
    assert (in_tmp / "run" / training.METRICS_FILE).is_file()


def test_recipes_are_repeatable_with_a_seed_and_refuse_a_used_folder(in_tmp):
    from recipes import lenet5

    argv = ["--smoke", "--dataset", "digits", "--no-export", "--seed", "7"]
    first = lenet5.main([*argv, "--output-dir", "a"])
    second = lenet5.main([*argv, "--output-dir", "b"])
    assert first["test_loss"] == pytest.approx(second["test_loss"], rel=1e-4)
    # a second run in the same folder is refused, and the first run's files stay as they were
    before = (in_tmp / "a" / training.METRICS_FILE).read_text()
    with pytest.raises(FileExistsError, match="--resume"):
        lenet5.main([*argv, "--output-dir", "a"])
    assert (in_tmp / "a" / training.METRICS_FILE).read_text() == before


def test_quickstart(in_tmp, capsys):
    from recipes import quickstart

    # 5 of its 60 epochs (~96% of its 98.9%): the run, table, export and check as a user
    # gets them, in a quarter of the time
    metrics = quickstart.main(["--epochs", "5"])
    assert metrics["test_accuracy"] > 0.9 and metrics["epochs"] == 5
    assert metrics["export_check"]["match"]
    assert metrics["export_check"]["class_agreement"] == 1.0
    export = in_tmp / metrics["export_path"]
    assert export.parent == in_tmp / "saved_models" / "lenet5_digits"
    assert read_metadata(export)["metrics"]["test_accuracy"] == metrics["test_accuracy"]
    out = capsys.readouterr().out
    assert "test accuracy" in out and str(metrics["export_path"]) in out


def test_autoencoder_recipe_writes_its_figures_and_refuses_foreign_options(in_tmp):
    from recipes import autoencoder

    argv = ["--smoke", "--dataset", "digits", "--no-export", "--output-dir", "run"]
    metrics = autoencoder.main(
        [*argv, "--variant", "denoising", "--code-size", "16", "--finetune-epochs", "2"]
        + ["--batch-size", "16", "--learning-rate", "0.01"]  # 16 steps an epoch, not 2
    )
    for figure in ("reconstructions.png", "latent.png", "filters.png", "code_histogram.png"):
        assert (in_tmp / "run" / figure).is_file(), figure
    # 256 digits: the probe (~80%) and the fine-tuned encoder (~50%) beat chance (10%);
    # an untrained softmax head on the encoder errs on ~88%.
    assert metrics["probe_accuracy"] > 0.5
    assert metrics["finetune_test_error_percent"] < 70.0
    with pytest.raises(ValueError, match="--filters: filters does not apply to ae/dense"):
        autoencoder.main([*argv[:-1], "other", "--variant", "dense", "--filters", "8"])
    with pytest.raises(ValueError, match="--loss bce needs.*'linear'"):
        autoencoder.main([*argv[:-1], "third", "--variant", "ksparse", "--loss", "bce"])


def test_autoencoder_recipe_trains_and_exports_on_zscored_inputs_when_asked(in_tmp):
    from recipes import autoencoder

    argv = ["--smoke", "--dataset", "digits", "--normalize", "zscore", "--code-size", "48"]
    metrics = autoencoder.main(
        [*argv, "--variant", "ksparse", "--k", "10", "--batch-size", "16"]
        + ["--probe-examples", "-1"]
    )
    export = in_tmp / metrics["export_path"]
    scaling = read_metadata(export)["preprocessing"]
    raw, _ = data.as_numpy(data.load("digits", "train", normalize=None))
    assert scaling["offset"] == pytest.approx(raw.mean(), rel=1e-4)
    assert scaling["scale"] == pytest.approx(raw.std(), rel=1e-4)
    # The export scales raw images as training did: the same error as the recipe's.
    test_raw, _ = data.as_numpy(data.load("digits", "test", limit=256, normalize=None))
    served = load_export(export)(test_raw)["reconstruction_error"]
    assert served.mean() == pytest.approx(metrics["test_reconstruction_mse"], rel=1e-4)
    # A sigmoid cannot reconstruct z-scores; masking writes min-max black. Both refused,
    # in a run and in --sanity, before any training.
    with pytest.raises(ValueError, match="--normalize zscore .* sigmoid reconstruction"):
        autoencoder.main([*argv, "--variant", "dense", "--output-dir", "dense"])
    with pytest.raises(ValueError, match="--normalize zscore .* sigmoid reconstruction"):
        autoencoder.main([*argv, "--variant", "dense", "--sanity"])
    with pytest.raises(ValueError, match="--noise masking writes 0.*Received: --normalize"):
        autoencoder.main(
            [*argv, "--variant", "denoising", "--output-activation", "linear"]
            + ["--output-dir", "masking"]
        )
    assert not (in_tmp / "dense").exists() and not (in_tmp / "masking").exists()


AE_OPTIONS = {  # recipe options, and the same as factory arguments
    "conv": (["--filters", "8", "16"], {"filters": (8, 16)}),
    "deep": (["--hidden", "32", "--greedy-epochs", "1"], {"hidden": (32,)}),
    "ksparse": (["--k", "10", "--k-start", "30"], {"k": 10}),
}


@pytest.mark.parametrize("variant", [name.removeprefix("ae/") for name in zoo.list_models("ae/*")])
def test_every_autoencoder_variant_trains_and_exports_through_the_recipe(variant, in_tmp):
    from recipes import autoencoder

    options, factory_kwargs = AE_OPTIONS.get(variant, ([], {}))
    metrics = autoencoder.main(
        ["--smoke", "--dataset", "digits", "--variant", variant, "--code-size", "48"]
        + ["--batch-size", "16"]  # 16 steps in the one smoke epoch, not 2: visibly trains
        + options
        + ["--probe-examples", "-1"]
    )
    # Trained: well below the error of the same network untrained (~0.17-0.20 -> ~0.12-0.16).
    x, _ = data.as_numpy(data.load("digits", "test", limit=256))
    untrained = zoo.create_model(
        f"ae/{variant}", input_shape=(8, 8, 1), code_size=48, **factory_kwargs
    )
    untrained_mse = float(analysis.reconstruction_errors(untrained, x).mean())
    assert metrics["test_reconstruction_mse"] < 0.95 * untrained_mse
    # Exported: the trained model, taking raw images, reproduces the recipe's test error.
    export = in_tmp / metrics["export_path"]
    exported = read_metadata(export)
    assert exported["name"] == f"ae_{variant}_digits"  # the dataset is not MNIST
    assert set(exported["outputs"]) == {"reconstruction", "code", "reconstruction_error"}
    raw, _ = data.as_numpy(data.load("digits", "test", limit=256, normalize=None))
    served = load_export(export)(raw)["reconstruction_error"]
    assert served.mean() == pytest.approx(metrics["test_reconstruction_mse"], rel=1e-4)


def test_ksparse_training_validates_the_k_unit_reconstruction_and_keeps_its_alpha(tmp_path):
    import keras

    from recipes import autoencoder
    from recipes._common import autoencoder_model, parse, train_autoencoder, training_config
    from zoo.layers import KSparse, ksparse_alpha

    train, val, _, info = data.load_splits("digits", 20, batch_size=32, normalize="minmax", seed=0)
    options = parse(
        autoencoder.build_parser(),
        ["--dataset", "digits", "--variant", "ksparse", "--code-size", "48", "--k", "5"]
        + ["--alpha", "4", "--epochs", "3", "--output-dir", str(tmp_path)],
    )
    config = training_config(options)
    model = autoencoder_model(options, config, info)
    train_autoencoder(options, config, model, tmp_path, train, val)
    x_val, _ = data.as_numpy(val)
    with ksparse_alpha(model, 1.0):
        at_k = model.evaluate(x_val, x_val, verbose=0)
    at_alpha_k = model.evaluate(x_val, x_val, verbose=0)
    # Early stopping judged (and restored) the reconstruction from k = 5 units, the one
    # training optimises, not the features' encoding from alpha * k = 20.
    val_loss = training.read_history(tmp_path / training.HISTORY_FILE)["val_loss"]
    assert at_k == pytest.approx(min(val_loss), rel=1e-4)
    assert at_alpha_k != pytest.approx(at_k, rel=1e-2)
    # The run's model file is the kept model with its own alpha.
    saved = keras.saving.load_model(tmp_path / training.CHECKPOINT_FILE)
    assert [layer.alpha for layer in saved.encoder.layers if isinstance(layer, KSparse)] == [4.0]
    assert saved.evaluate(x_val, x_val, verbose=0) == pytest.approx(at_alpha_k, rel=1e-4)


def test_rbm_recipe_learns_digits_and_writes_its_figures(in_tmp):
    from recipes import rbm

    metrics = rbm.main(
        ["--units", "64", "--epochs", "15", "--ais-runs", "20", "--ais-betas", "500"]
    )
    run = next((in_tmp / "runs" / "rbm").glob("*"))
    for figure in ("filters.png", "samples.png", "reconstructions.png", "learning_curves.png"):
        assert (run / figure).is_file(), figure
    history = training.read_history(run / training.HISTORY_FILE)
    assert history["reconstruction_error"][-1] < 0.7 * history["reconstruction_error"][0]
    assert history["momentum"][0] == 0.5 and history["momentum"][-1] == 0.9
    assert metrics["probe_accuracy"] > 0.9
    # 64 binary-ish pixels: an RBM that learned something is far above uniform (-44 nats)
    assert -40 < metrics["ais_mean_log_prob"] < 0
    # The validation figures settings are chosen on, beside the test ones (same log Z).
    assert abs(metrics["ais_val_mean_log_prob"] - metrics["ais_mean_log_prob"]) < 3
    assert metrics["ais_val_mean_log_prob"] != metrics["ais_mean_log_prob"]
    assert metrics["val_pseudo_log_likelihood"] < 0
    assert metrics["probe_val_error_percent"] < 10
    served = load_export(in_tmp / metrics["export_path"])(np.zeros((2, 8, 8, 1), "float32"))
    assert served["features"].shape == (2, 64) and served["free_energy"].shape == (2,)


def test_gaussian_rbm_recipe_stays_finite_on_pixels_constant_in_training(in_tmp):
    from recipes import rbm

    metrics = rbm.main(
        ["--visible", "gaussian", "--learning-rate", "0.01", "--epochs", "3", "--no-export"]
    )
    assert np.isfinite(metrics["test_reconstruction_error"])
    assert metrics["test_reconstruction_error"] < 1.0  # standardised units
    assert metrics["probe_accuracy"] > 0.85


def test_dbn_recipe_pretrains_fine_tunes_and_exports_the_classifier(in_tmp):
    from recipes import dbn

    # 10 + 10 epochs: 94% test and 96% probe accuracy here (20 + 20: 97%, in twice the time)
    argv = ["--hidden", "128", "64", "--pretrain-epochs", "10", "--epochs", "10"]
    argv += ["--batch-size", "32"]
    metrics = dbn.main(argv)
    run = next((in_tmp / "runs" / "dbn").glob("*"))
    for name in ("pretrain_rbm1.csv", "pretrain_rbm2.csv", "pretraining.png", "samples.png"):
        assert (run / name).is_file(), name
    assert metrics["test_accuracy"] > 0.9
    assert metrics["probe_accuracy"] > 0.85
    assert metrics["val_error_percent"] < 10 and metrics["probe_val_error_percent"] < 15
    export = in_tmp / metrics["export_path"]
    assert read_metadata(export)["outputs"]["probabilities"]


# --- the course's cautionary experiments -----------------------------------------------


def test_gradients_recipe_records_a_vanishing_gradient_per_layer_and_epoch(in_tmp):
    from recipes import gradients

    argv = ["--smoke", "--dataset", "digits", "--depth", "6", "--no-export", "--output-dir", "r"]
    metrics = gradients.main([*argv, "--configs", "sigmoid_normal", "relu_he"])
    recorded = json.loads((in_tmp / "r" / "gradient_norms.json").read_text())
    for name in ("sigmoid_normal", "relu_he"):
        assert recorded[name]["epochs"] == [0, 1]
        assert [len(row) for row in recorded[name]["norms"]] == [7, 7]  # 6 hidden + output
    # ~0.125 per sigmoid layer with random_normal(0.05); He keeps ReLU layers level
    assert metrics["configs"]["sigmoid_normal"]["first_to_last_hidden_at_start"] < 1e-3
    assert 1e-2 < metrics["configs"]["relu_he"]["first_to_last_hidden_at_start"] < 1e2
    assert (in_tmp / "r" / "gradient_norms.png").is_file()


def test_random_labels_recipe_fits_random_labels_far_better_than_chance(in_tmp):
    from recipes import random_labels

    metrics = random_labels.main(
        ["--dataset", "digits", "--train-examples", "100", "--test-examples", "200"]
        + ["--variants", "random_labels", "--corruption", "--optimizer", "adam"]
        + ["--learning-rate", "1e-2", "--batch-size", "20", "--epochs", "10"]
        + ["--no-export", "--output-dir", "r"]
    )
    run = metrics["runs"]["random_labels"]
    assert run["train_accuracy"] > 0.6  # memorised (~85% in 10 epochs); chance is 10%
    assert run["test_accuracy"] < 0.25  # and nothing learned about digits
    assert (in_tmp / "r" / "random_labels.png").is_file()


def test_adversarial_recipe_fgsm_lowers_the_accuracy_of_a_trained_lenet(in_tmp):
    from recipes import adversarial

    metrics = adversarial.main(
        ["--dataset", "digits", "--image-size", "8", "--epochs", "3", "--batch-size", "32"]
        + ["--learning-rate", "3e-3", "--epsilons", "0", "0.1", "--epsilon", "0.1"]
        + ["--attack-examples", "200", "--no-export", "--output-dir", "r"]
    )
    assert metrics["standard_clean_error_percent"] < 15
    assert metrics["standard_error_percent_at_epsilon"] > 40  # by 0.1 of the pixel range
    for figure in ("accuracy_vs_epsilon.png", "examples.png", "learning_curves.png"):
        assert (in_tmp / "r" / figure).is_file(), figure
