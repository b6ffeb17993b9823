"""Every recipe runs with --smoke; the quickstart runs for real."""

import importlib

import numpy as np
import pytest

import zoo
from zoo import training
from zoo.cli import recipe_names
from zoo.export import read_metadata

RUN_FILES = (
    training.CONFIG_FILE,
    training.HISTORY_FILE,
    training.CURVES_FILE,
    training.METRICS_FILE,
)


@pytest.mark.parametrize("name", recipe_names())
def test_smoke(name, in_tmp, mnist_files):
    metrics = importlib.import_module(f"recipes.{name}").main(["--smoke"])
    runs = list((in_tmp / "runs").glob("*/*"))
    assert len(runs) == 1
    for file in RUN_FILES:
        assert (runs[0] / file).is_file(), file
    assert (in_tmp / metrics["export_path"] / "saved_model.pb").is_file()


def test_a_second_run_in_the_same_folder_is_refused(in_tmp):
    from recipes import lenet5

    argv = ["--smoke", "--dataset", "digits", "--output-dir", "run", "--no-export"]
    lenet5.main(argv)
    before = (in_tmp / "run" / training.METRICS_FILE).read_text()
    with pytest.raises(FileExistsError, match="--resume"):
        lenet5.main(argv)
    assert (in_tmp / "run" / training.METRICS_FILE).read_text() == before


def test_recipes_are_repeatable_with_a_seed(in_tmp):
    from recipes import lenet5

    argv = ["--smoke", "--dataset", "digits", "--no-export", "--seed", "7"]
    first = lenet5.main([*argv, "--output-dir", "a"])
    second = lenet5.main([*argv, "--output-dir", "b"])
    assert first["test_loss"] == pytest.approx(second["test_loss"], rel=1e-4)


def test_quickstart(in_tmp, capsys):
    from recipes import quickstart

    metrics = quickstart.main([])
    assert metrics["test_accuracy"] > 0.95
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
        [*argv, "--variant", "denoising", "--code-size", "16", "--finetune-epochs", "1"]
    )
    for figure in ("reconstructions.png", "latent.png", "filters.png", "code_histogram.png"):
        assert (in_tmp / "run" / figure).is_file(), figure
    assert 0.0 <= metrics["probe_accuracy"] <= 1.0
    assert 0.0 <= metrics["finetune_test_error_percent"] <= 100.0
    with pytest.raises(ValueError, match="does not apply to --variant dense.*filters"):
        autoencoder.main([*argv[:-1], "other", "--variant", "dense", "--filters", "8"])
    with pytest.raises(ValueError, match="--loss bce needs.*'linear'"):
        autoencoder.main([*argv[:-1], "third", "--variant", "ksparse", "--loss", "bce"])


@pytest.mark.parametrize("variant", [name.removeprefix("ae/") for name in zoo.list_models("ae/*")])
def test_every_autoencoder_variant_trains_and_exports_through_the_recipe(variant, in_tmp):
    from recipes import autoencoder

    options = {
        "conv": ["--filters", "8", "16"],
        "deep": ["--hidden", "32", "--greedy-epochs", "1"],
        "ksparse": ["--k", "10", "--k-start", "30"],
    }
    metrics = autoencoder.main(
        ["--smoke", "--dataset", "digits", "--variant", variant, "--code-size", "48"]
        + options.get(variant, [])
        + ["--probe-examples", "-1"]
    )
    assert np.isfinite(metrics["test_reconstruction_mse"])
    exported = read_metadata(in_tmp / metrics["export_path"])
    assert exported["name"] == f"ae_{variant}"
    assert set(exported["outputs"]) == {"reconstruction", "code", "reconstruction_error"}
