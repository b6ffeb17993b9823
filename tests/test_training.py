"""The recipe framework: options, run folders, callbacks, schedules, records."""

import argparse
import json

import keras
import pytest

from zoo import training


def _args(*argv, **defaults):
    parser = argparse.ArgumentParser()
    training.add_training_args(
        parser, **{"epochs": 20, "batch_size": 8, "learning_rate": 0.1, **defaults}
    )
    return parser.parse_args(list(argv))


def test_default_run_folders_never_collide(in_tmp):
    first = training.make_run_dir("r")
    (first / "config.json").write_text("{}")
    second = training.make_run_dir("r")
    assert first != second
    assert first.parent.resolve() == second.parent.resolve() == (in_tmp / "runs" / "r").resolve()


def test_a_folder_holding_a_run_is_not_reused_unless_resuming(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(FileExistsError, match="--resume"):
        training.make_run_dir("r", tmp_path)
    assert training.make_run_dir("r", tmp_path, resume=True) == tmp_path
    assert (tmp_path / "metrics.json").read_text() == "{}"


def test_start_run_writes_the_resolved_config(tmp_path):
    args = _args("--output-dir", str(tmp_path / "run"), "--epochs", "3")
    run_dir = training.start_run("demo", args)
    config = json.loads((run_dir / training.CONFIG_FILE).read_text())
    assert config["recipe"] == "demo" and config["epochs"] == 3 and config["seed"] == 0


@pytest.mark.parametrize("bad", [["--epochs", "0"], ["--learning-rate", "-1"]])
def test_bad_options_are_refused(bad):
    with pytest.raises(SystemExit):
        _args(*bad)


def _lrs(callback, epochs):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    callback.set_model(model)
    rates = []
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch)
        rates.append(float(model.optimizer.learning_rate))
    return rates


def test_step_exponential_and_cosine_decay():
    step = _lrs(training.lr_schedule_callback("step", 0.1, 20, step=2, gamma=0.5), 5)
    assert step == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    expo = _lrs(training.lr_schedule_callback("exponential", 0.1, 20, gamma=0.5), 3)
    assert expo == pytest.approx([0.1, 0.05, 0.025])
    cosine = _lrs(training.lr_schedule_callback("cosine", 0.1, 10), 10)
    assert cosine[0] == pytest.approx(0.1) and cosine == sorted(cosine, reverse=True)
    assert cosine[-1] < 0.01


def test_plateau_none_and_unknown_schedules():
    plateau = training.lr_schedule_callback("plateau", 0.1, 10, gamma=0.3)
    assert isinstance(plateau, keras.callbacks.ReduceLROnPlateau) and plateau.factor == 0.3
    assert training.lr_schedule_callback("none", 0.1, 10) is None
    with pytest.raises(ValueError, match="'linear'"):
        training.lr_schedule_callback("linear", 0.1, 10)


def test_callbacks_preset(tmp_path):
    first, extra = keras.callbacks.Callback(), keras.callbacks.Callback()
    args = _args("--tensorboard", "--patience", "7")
    callbacks = training.make_callbacks(
        tmp_path, args, start_from_epoch=3, first=[first], extra=[extra]
    )
    kinds = [type(c) for c in callbacks]
    assert {
        keras.callbacks.EarlyStopping,
        keras.callbacks.BackupAndRestore,
        keras.callbacks.ModelCheckpoint,
        keras.callbacks.CSVLogger,
        keras.callbacks.TerminateOnNaN,
        keras.callbacks.LearningRateScheduler,
        keras.callbacks.TensorBoard,
    } <= set(kinds)
    by_kind = dict(zip(kinds, callbacks, strict=True))
    # Monitors first (their logs reach early stopping and history.csv), extras last.
    assert callbacks[0] is first and callbacks[-1] is extra
    early = by_kind[keras.callbacks.EarlyStopping]
    assert (early.monitor, early.patience, early.start_from_epoch) == ("val_loss", 7, 3)
    assert early.restore_best_weights
    checkpoint = by_kind[keras.callbacks.ModelCheckpoint]
    assert checkpoint.filepath == str(tmp_path / training.CHECKPOINT_FILE)
    assert checkpoint.monitor == "val_loss" and checkpoint.save_best_only
    assert by_kind[keras.callbacks.CSVLogger].filename == str(tmp_path / training.HISTORY_FILE)
    assert by_kind[keras.callbacks.BackupAndRestore].backup_dir == str(tmp_path / "backup")
    # The schedule runs before the logger, so that history.csv records the learning rate.
    logger = kinds.index(keras.callbacks.CSVLogger)
    assert kinds.index(keras.callbacks.LearningRateScheduler) < logger
    assert keras.callbacks.TensorBoard not in map(type, training.make_callbacks(tmp_path, _args()))


def test_fit_writes_history_curves_and_metrics(tmp_path):
    args = _args("--epochs", "3", "--patience", "5")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(training.make_optimizer(args), "mse")
    x = keras.random.normal((32, 2), seed=0)
    fit = model.fit(
        x,
        x[:, :1],
        validation_data=(x, x[:, :1]),
        epochs=3,
        verbose=0,
        callbacks=training.make_callbacks(tmp_path, args),
    )
    training.finish_run(tmp_path, {"loss": 1.0})
    history = training.read_history(tmp_path / training.HISTORY_FILE)
    assert history["epoch"] == [0, 1, 2]
    for key in ("loss", "val_loss", "learning_rate"):
        assert history[key] == pytest.approx(fit.history[key], rel=1e-6), key
    assert history["learning_rate"][0] == pytest.approx(0.1)  # --learning-rate, then cosine
    assert history["learning_rate"][2] < history["learning_rate"][0]
    assert (tmp_path / training.CURVES_FILE).stat().st_size > 1000
    # The checkpoint is the model of the best epoch (validation data = training data here).
    best = keras.saving.load_model(tmp_path / training.CHECKPOINT_FILE)
    best_loss = best.evaluate(x, x[:, :1], verbose=0)
    assert best_loss == pytest.approx(min(fit.history["val_loss"]), rel=1e-4)
    assert json.loads((tmp_path / training.METRICS_FILE).read_text()) == {"loss": 1.0}
    assert not (tmp_path / "backup").exists()  # BackupAndRestore cleans up after success
