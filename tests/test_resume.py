"""Crash safety: a run killed at any moment resumes with nothing lost or repeated.

In process, a fit interrupted after some epochs and resumed with fresh callbacks and a
fresh model (as a new process would) must end exactly where the uninterrupted fit ends:
same history rows, same best value and best epoch, same weights and learning rate. Then
the recipes themselves, killed with SIGKILL mid-run and resumed with the same command
plus `--resume`, against uninterrupted runs.
"""

import csv
import dataclasses
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from zoo import training

pytestmark = pytest.mark.timeout(300)


class Crash(Exception):
    pass


def _crash_at(epoch):
    import keras

    def on_epoch_begin(current, logs=None):
        if current == epoch:
            raise Crash(f"killed at the start of epoch {epoch}")

    return keras.callbacks.LambdaCallback(on_epoch_begin=on_epoch_begin)


def _fit(run_dir, config, extra=()):
    """A small regression net whose validation loss is lowest early (the validation
    targets disagree with the training ones), so the best epoch precedes the crash."""
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = x @ rng.normal(size=(6, 1)).astype("float32")
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, "tanh"), keras.layers.Dense(1)]
    )
    model.compile(training.make_optimizer(config), "mse")
    callbacks = training.make_callbacks(run_dir, config, extra=extra)
    try:
        model.fit(x, y, validation_data=(x, -y), epochs=config.epochs, batch_size=16,
                  shuffle=False, verbose=0, callbacks=callbacks)  # fmt: skip
    except Crash:
        return None, None
    return model, callbacks


def _history(run_dir):
    with open(run_dir / training.HISTORY_FILE, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("schedule", ["plateau", "cosine"])
def test_a_resumed_fit_ends_exactly_where_an_uninterrupted_one_does(tmp_path, schedule):
    config = training.TrainConfig(epochs=8, patience=20, learning_rate=0.05,
                                  lr_schedule=schedule, lr_gamma=0.5, export=False)  # fmt: skip
    whole, whole_callbacks = _fit(tmp_path / "whole", config)
    assert _fit(tmp_path / "cut", config, extra=[_crash_at(5)]) == (None, None)
    assert len(_history(tmp_path / "cut")) == 5
    resumed = dataclasses.replace(config, resume=True, output_dir=str(tmp_path / "cut"))
    model, callbacks = _fit(tmp_path / "cut", resumed)

    expected, got = _history(tmp_path / "whole"), _history(tmp_path / "cut")
    assert [row["epoch"] for row in got] == [str(i) for i in range(8)]
    for want, have in zip(expected, got, strict=True):
        assert want.keys() == have.keys()
        np.testing.assert_allclose([float(v) for v in have.values()],
                                   [float(v) for v in want.values()], rtol=1e-5)  # fmt: skip
    early, checkpoint = (
        next(c for c in cbs if isinstance(c, kind))
        for cbs, kind in ((callbacks, _es()), (callbacks, _mc()))
    )
    whole_early = next(c for c in whole_callbacks if isinstance(c, _es()))
    whole_checkpoint = next(c for c in whole_callbacks if isinstance(c, _mc()))
    assert early.best_epoch == whole_early.best_epoch < 5  # the best came before the crash
    np.testing.assert_allclose(early.best, whole_early.best, rtol=1e-6)
    np.testing.assert_allclose(checkpoint.best, whole_checkpoint.best, rtol=1e-6)
    for a, b in zip(model.get_weights(), whole.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # the best epoch's weights
    np.testing.assert_allclose(
        float(model.optimizer.learning_rate), float(whole.optimizer.learning_rate), rtol=1e-6
    )


def _es():
    import keras

    return keras.callbacks.EarlyStopping


def _mc():
    import keras

    return keras.callbacks.ModelCheckpoint


def test_a_finished_fit_is_not_trained_again_on_resume(tmp_path):
    config = training.TrainConfig(epochs=3, patience=20, lr_schedule="none", export=False)
    model, _ = _fit(tmp_path, config)
    weights = model.get_weights()
    again, _ = _fit(tmp_path, dataclasses.replace(config, resume=True, output_dir=str(tmp_path)))
    assert len(_history(tmp_path)) == 3
    for a, b in zip(again.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_finished_fit_asked_for_more_epochs_goes_on_from_its_last_epoch(tmp_path):
    config = training.TrainConfig(epochs=2, patience=20, lr_schedule="none", export=False)
    _fit(tmp_path, config)
    first = _history(tmp_path)
    longer = dataclasses.replace(config, epochs=4, resume=True, output_dir=str(tmp_path))
    _fit(tmp_path, longer)
    history = _history(tmp_path)
    assert [row["epoch"] for row in history] == ["0", "1", "2", "3"]
    assert history[:2] == first  # the finished epochs as they were, two new ones trained
    assert float(history[3]["loss"]) < float(history[1]["loss"])


@pytest.mark.parametrize("damage", ["truncate", "garbage_state"])
def test_an_unreadable_backup_is_one_error_naming_it(tmp_path, damage):
    config = training.TrainConfig(epochs=4, patience=20, lr_schedule="none", export=False)
    _fit(tmp_path, config, extra=[_crash_at(2)])
    backup = tmp_path / training.BACKUP_DIR
    if damage == "truncate":
        path = backup / "latest.weights.h5"
        path.write_bytes(path.read_bytes()[:100])
    else:
        (backup / "state.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read") as error:
        _fit(tmp_path, dataclasses.replace(config, resume=True, output_dir=str(tmp_path)))
    message = str(error.value)
    assert str(backup) in message and "afresh" in message and "\n" not in message


def test_resuming_a_finished_run_says_so_and_changes_nothing(tmp_path, capsys):
    from recipes import lenet5

    (tmp_path / training.METRICS_FILE).write_text("{}")
    (tmp_path / training.CONFIG_FILE).write_text("{}")
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    status = lenet5.cli(["--dataset", "digits", "--output-dir", str(tmp_path), "--resume"])
    assert status == 0 and "has finished" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


# --- the recipes, killed with SIGKILL ----------------------------------------------------

RECIPES = {
    "lenet5": ["--dataset", "digits", "--epochs", "6", "--batch-size", "32"],
    "rbm": ["--dataset", "digits", "--units", "32", "--epochs", "6", "--batch-size", "16",
            "--optimizer", "adam", "--learning-rate", "0.01", "--probe-examples", "-1"],
}  # fmt: skip


def _recipe(name, output_dir, *extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", f"recipes.{name}", *RECIPES[name], "--patience", "100",
         "--seed", "0", "--no-export", "--verbose", "0", "--output-dir", str(output_dir),
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip


def _finish(process, timeout=240):
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, out.decode()[-2000:]


def _backup_epoch(run_dir):
    import json

    states = sorted((run_dir / training.BACKUP_DIR).rglob("state.json"))
    try:
        return max(json.loads(p.read_text())["epoch"] for p in states) if states else 0
    except (OSError, ValueError):
        return 0


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_a_recipe_killed_mid_run_resumes_to_every_epoch_and_the_best_model(tmp_path, recipe):
    """SIGKILL after at least two epochs, then the same command with `--resume`: the
    six epochs an uninterrupted run trains (patience 100), each once; the fit ends at
    the best of all of them (the in-process test above compares a resumed fit with an
    uninterrupted one value for value)."""
    cut = _recipe(recipe, tmp_path)
    try:
        deadline = time.monotonic() + 200
        while _backup_epoch(tmp_path) < 2:  # killed during its third epoch or later
            assert cut.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        cut.send_signal(signal.SIGKILL)
        cut.wait()
    finally:
        cut.kill()
        cut.communicate()
    assert not (tmp_path / training.METRICS_FILE).exists()
    _finish(_recipe(recipe, tmp_path, "--resume"))

    history = _history(tmp_path)
    assert [row["epoch"] for row in history] == [str(i) for i in range(6)]
    assert (tmp_path / training.METRICS_FILE).exists()
    assert not (tmp_path / training.BACKUP_DIR).exists()  # finished: the backup is gone
    if recipe == "lenet5":  # best.keras holds the best epoch of all six
        import keras

        from recipes import lenet5
        from recipes._common import lenet5_data, parse, training_config

        options = parse(lenet5.build_parser(), RECIPES[recipe])
        _, val, _, _ = lenet5_data(options, training_config(options))
        best = keras.models.load_model(tmp_path / training.CHECKPOINT_FILE)
        val_loss = best.evaluate(val, verbose=0)[0]
        assert val_loss == pytest.approx(min(float(r["val_loss"]) for r in history), rel=1e-4)
