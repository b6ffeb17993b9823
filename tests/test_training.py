"""The recipe framework: options, run folders, callbacks, schedules, records."""

import dataclasses
import json
import math
import re

import keras
import pytest

from zoo import training


def _args(**changes):
    return training.TrainConfig(**{"epochs": 20, "batch_size": 8, "learning_rate": 0.1, **changes})


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
    config = _args(output_dir=str(tmp_path / "run"), epochs=3)
    run_dir = training.start_run("demo", config, {"dataset": "digits"})
    record = json.loads((run_dir / training.CONFIG_FILE).read_text())
    assert record["recipe"] == "demo" and record["dataset"] == "digits"
    assert record["epochs"] == 3 and record["seed"] == 0 and record["batch_size"] == 8


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"epochs": 0}, ValueError, "epochs must be an int >= 1. Received: epochs=0"),
        ({"epochs": 2.5}, TypeError, "epochs must be an int"),
        ({"learning_rate": -1}, ValueError, "learning_rate must be a finite number > 0"),
        ({"learning_rate": math.nan}, ValueError, "Received: learning_rate=nan"),
        ({"optimizer": "adagrad"}, ValueError, "optimizer must be one of 'adam', 'sgd'"),
        ({"lr_schedule": "linear"}, ValueError, "lr_schedule must be one of"),
        ({"lr_gamma": 1.5}, ValueError, "lr_gamma must be a finite number > 0 and <= 1"),
        ({"smoke": 1}, TypeError, "smoke must be True or False"),
        ({"verbose": 3}, ValueError, "verbose must be an int >= 0 and <= 2"),
        ({"export_dir": None}, TypeError, "export_dir must be a str or a pathlib.Path"),
        ({"resume": True}, ValueError, "resume needs the output_dir"),
    ],
)
def test_a_config_refuses_bad_values_naming_them(changes, error, message):
    with pytest.raises(error, match=re.escape(message)):
        _args(**changes)


def test_variants_of_a_config_are_derived_with_replace_and_checked():
    config = _args()
    assert dataclasses.replace(config, learning_rate=1e-4).learning_rate == 1e-4
    assert config.learning_rate == 0.1  # frozen: the original is unchanged
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.learning_rate = 1.0
    with pytest.raises(ValueError, match="batch_size"):
        dataclasses.replace(config, batch_size=0)
    with pytest.raises(TypeError, match="TrainConfig"):
        training.make_optimizer({"optimizer": "adam", "learning_rate": 0.1})


def test_smoke_runs_one_epoch_and_verbosity_follows_the_terminal(monkeypatch):
    assert _args(epochs=7).fit_epochs == 7 and _args(epochs=7, smoke=True).fit_epochs == 1

    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.setattr("sys.stdout", Stream(False))
    assert _args().fit_verbose == 2  # piped or logged: one line per epoch
    assert _args(verbose=1).fit_verbose == 1  # asked for
    monkeypatch.setattr("sys.stdout", Stream(True))
    assert _args().fit_verbose == 1 and _args(verbose=0).fit_verbose == 0


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
    args = _args(tensorboard=True, patience=7)
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
    args = _args(epochs=3, patience=5)
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
