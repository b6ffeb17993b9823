"""The recipes under `--strategy`: two `MultiWorkerMirroredStrategy` worker processes on
loopback (`zoo launch`, keras#20585's workaround) train LeNet-5 as one process does, the
chief alone writing the run and the export; the recipes that cannot run distributed
refuse in one line. (`MirroredStrategy` over two logical CPUs: tests/test_distribute.py.)"""

import json
import os
import subprocess
import sys

import pytest

from zoo import training

pytestmark = pytest.mark.timeout(400)

LENET5 = ["--dataset", "digits", "--epochs", "3", "--batch-size", "32", "--patience", "100",
          "--seed", "0", "--verbose", "0"]  # fmt: skip


def _env(**extra):
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def test_lenet5_on_two_workers_through_zoo_launch(tmp_path):
    """Two `MultiWorkerMirroredStrategy` workers train the recipe's LeNet-5: both end with
    the same model (the same test error, printed by each) as accurate as one
    process's, and only the chief leaves a run folder and an export."""
    run_dir, exports = tmp_path / "run", tmp_path / "exports"
    launched = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "launch", "--workers", "2", "--timeout", "300", "--",
         sys.executable, "-m", "recipes.lenet5", *LENET5, "--strategy", "multiworker",
         "--output-dir", str(run_dir), "--export-dir", str(exports)],
        capture_output=True, text=True, env=_env(), timeout=360,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    errors = sorted(
        line.split("test error ")[1].split("%")[0]
        for line in launched.stdout.splitlines()
        if "test error" in line
    )
    assert len(errors) == 2 and errors[0] == errors[1], launched.stdout[-2000:]
    distributed = json.loads((run_dir / training.METRICS_FILE).read_text())
    config = json.loads((run_dir / training.CONFIG_FILE).read_text())
    assert config["worker"] == "worker-0" and config["replicas"] == 2
    assert [p.name for p in exports.iterdir()] == ["lenet5_digits"]
    assert len(list((exports / "lenet5_digits").iterdir())) == 1  # one export, the chief's
    assert "worker-1" in launched.stdout and not any(
        p.name.startswith("zoo-lenet5-worker-1") for p in _tmp().iterdir()
    )  # the other worker's scratch folder is gone

    assert distributed["epochs"] == 3 and distributed["test_accuracy"] > 0.5  # chance: 0.1
    from recipes import lenet5

    single = lenet5.main([*LENET5, "--no-export", "--output-dir", str(tmp_path / "single")])
    assert abs(distributed["test_accuracy"] - single["test_accuracy"]) < 0.06, single


def _tmp():
    import pathlib
    import tempfile

    return pathlib.Path(tempfile.gettempdir())


@pytest.mark.parametrize("recipe", ["rbm", "dbn"])
def test_contrastive_divergence_recipes_refuse_a_strategy_in_one_line(tmp_path, capsys, recipe):
    import importlib

    module = importlib.import_module(f"recipes.{recipe}")
    status = module.cli(["--dataset", "digits", "--smoke", "--strategy", "mirrored",
                         "--output-dir", str(tmp_path)])  # fmt: skip
    error = capsys.readouterr().err.strip()
    assert status == 2 and "--strategy mirrored is not supported" in error
    assert "contrastive divergence" in error and len(error.splitlines()) == 1
    assert not any(tmp_path.iterdir())  # refused before anything was written


@pytest.mark.parametrize("strategy", ["mirrored", "multiworker"])
def test_tune_refuses_a_strategy_it_spreads_trials_itself(tmp_path, capsys, strategy):
    from recipes import tune

    status = tune.cli(["--smoke", "--strategy", strategy, "--output-dir", str(tmp_path)])
    error = capsys.readouterr().err.strip()
    assert status == 2 and "--workers" in error and len(error.splitlines()) == 1


def test_gradients_refuses_a_strategy_in_one_line(tmp_path, capsys):
    from recipes import gradients

    status = gradients.cli(["--smoke", "--strategy", "mirrored", "--output-dir", str(tmp_path)])
    error = capsys.readouterr().err.strip()
    assert status == 2 and "GradientNorms" in error and len(error.splitlines()) == 1
