"""The recipe framework: options, run folders, callbacks, schedules, records."""

import dataclasses
import json
import math
import re

import keras
import numpy as np
import pytest

from zoo import training
from zoo.callbacks import BestModelCheckpoint, RunBackup


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
        ({"optimizer": "sgd", "momentum": 1.0}, ValueError, "momentum must be a finite number"),
        ({"momentum": 0.5}, ValueError, "momentum does not apply to optimizer='adam'"),
        ({"nesterov": True}, ValueError, "nesterov does not apply to optimizer='adam'"),
        ({"optimizer": "sgd", "nesterov": 1}, TypeError, "nesterov must be True or False"),
        (
            {"optimizer": "sgd", "nesterov": True, "momentum": 0.0},
            ValueError,
            "nesterov needs momentum > 0",
        ),
        ({"weight_decay": -1e-4}, ValueError, "Received: weight_decay=-0.0001"),
        ({"clipnorm": 0}, ValueError, "clipnorm must be a finite number > 0. Received: clipnorm=0"),
        ({"clipvalue": math.inf}, ValueError, "Received: clipvalue=inf"),
        ({"clipnorm": 1, "clipvalue": 1}, ValueError, "clipnorm and clipvalue cannot both"),
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


def _steps(config, gradient, steps=1):
    """The weights (all 1 at first) after `steps` updates by `config`'s optimizer."""
    weights = keras.Variable(np.ones(4, "float32"))
    optimizer = training.make_optimizer(config)
    for _ in range(steps):
        optimizer.apply_gradients([(np.full(4, gradient, "float32"), weights)])
    return keras.ops.convert_to_numpy(weights)


def test_momentum_nesterov_clipping_and_decoupled_weight_decay_act_on_the_update():
    sgd = {"optimizer": "sgd", "learning_rate": 0.1}
    # By hand: v <- 0.9 v - 0.1 g; w <- w + v (Nesterov: w <- w + 0.9 v - 0.1 g), g = 1.
    assert _steps(_args(**sgd), 1.0, 2) == pytest.approx([0.71] * 4)  # default 0.9
    assert _steps(_args(**sgd, momentum=0.0), 1.0, 2) == pytest.approx([0.8] * 4)
    assert _steps(_args(**sgd, nesterov=True), 1.0) == pytest.approx([0.81] * 4)
    # A gradient of norm 20 clipped to norm 1 (each element 0.5), or each element to 0.1.
    plain = {**sgd, "momentum": 0.0, "learning_rate": 0.5}
    assert _steps(_args(**plain, clipnorm=1.0), 10.0) == pytest.approx([0.75] * 4)
    assert _steps(_args(**plain, clipvalue=0.1), 10.0) == pytest.approx([0.95] * 4)
    assert _steps(_args(**plain), 10.0) == pytest.approx([-4.0] * 4)
    # Decoupled: w <- w - lr * wd * w even where Adam's step is 0 (a zero gradient); an
    # L2 penalty would reach Adam as a gradient and move w by about lr instead.
    adam = {"optimizer": "adam", "learning_rate": 0.5}
    assert _steps(_args(**adam, weight_decay=0.1), 0.0) == pytest.approx([0.95] * 4)
    assert _steps(_args(**adam), 0.0) == pytest.approx([1.0] * 4)
    assert training.make_optimizer(_args(optimizer="adamw")).weight_decay == 0.004  # its own


def test_recipe_options_reach_the_config_and_the_rbm_recipes_keep_their_own():
    from recipes import _common, lenet5, rbm

    argv = ["--optimizer", "sgd", "--momentum", "0.5", "--nesterov", "--weight-decay", "1e-4"]
    options = _common.parse(lenet5.build_parser(), [*argv, "--clipvalue", "2"])
    optimizer = training.make_optimizer(_common.training_config(options))
    assert (optimizer.momentum, optimizer.nesterov) == (0.5, True)
    assert (optimizer.weight_decay, optimizer.clipvalue) == (1e-4, 2.0)
    both = _common.parse(lenet5.build_parser(), ["--clipnorm", "1", "--clipvalue", "1"])
    with pytest.raises(ValueError, match="clipnorm and clipvalue"):
        _common.training_config(both)
    # rbm: --momentum starts the CD momentum schedule, --weight-decay is an L2 weight cost
    options = _common.parse(rbm.build_parser(), ["--momentum", "0.3", "--weight-decay", "0.01"])
    config = _common.training_config(options)
    assert (options.cd_momentum, options.weight_cost) == (0.3, 0.01)
    assert (config.momentum, config.weight_decay) == (0.9, None)
    assert _common.weight_decay(options).l2 == pytest.approx(0.005)


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
        RunBackup,
        BestModelCheckpoint,
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
    checkpoint = by_kind[BestModelCheckpoint]
    assert checkpoint.filepath == str(tmp_path / training.CHECKPOINT_FILE)
    assert checkpoint.monitor == "val_loss" and checkpoint.save_best_only
    assert checkpoint.start_from_epoch == 3  # as early stopping's
    assert by_kind[keras.callbacks.CSVLogger].filename == str(tmp_path / training.HISTORY_FILE)
    backup = by_kind[RunBackup]
    assert backup.backup_dir == str(tmp_path / "backup")
    assert set(backup.tracked) == {
        early,
        checkpoint,
        by_kind[keras.callbacks.LearningRateScheduler],
    }
    # The schedule runs before the backup (which saves the logs) and the logger, so that
    # history.csv records the learning rate; the backup before the logger, whose file it
    # rewrites on resume.
    logger = kinds.index(keras.callbacks.CSVLogger)
    assert kinds.index(keras.callbacks.LearningRateScheduler) < kinds.index(RunBackup) < logger
    assert keras.callbacks.TensorBoard not in map(type, training.make_callbacks(tmp_path, _args()))


@pytest.mark.parametrize("patience", [100, None])
def test_early_stopping_restores_the_best_epoch_even_unstopped_and_off_keeps_the_last(
    tmp_path, patience
):
    # The best validation epoch is the first and the last is the worst.
    config = _args(epochs=4, patience=patience, lr_schedule="none")
    callbacks = training.make_callbacks(tmp_path, config)
    kinds = {type(c) for c in callbacks}
    assert (keras.callbacks.EarlyStopping in kinds) is (patience is not None)
    val_loss, loss_of = _fit_against_negated_targets(config, callbacks)
    assert len(val_loss) == 4 and val_loss[0] < val_loss[-1]  # ran every epoch
    kept = min(val_loss) if patience else val_loss[-1]
    assert loss_of(None) == pytest.approx(kept, rel=1e-5)
    # The run folder's model file is the model the run keeps, with early stopping or not.
    saved = keras.saving.load_model(tmp_path / training.CHECKPOINT_FILE)
    assert loss_of(saved) == pytest.approx(kept, rel=1e-5)


def _fit_against_negated_targets(config, callbacks):
    """Fits a linear model whose validation targets are its training targets negated:
    fitting one worsens the other, so the validation loss rises every epoch. Returns the
    validation losses and a function giving a model's validation loss (None: the fitted
    model's)."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(training.make_optimizer(config), "mse")
    x = keras.random.normal((32, 2), seed=0)
    y = keras.ops.sum(x, axis=1, keepdims=True)
    fit = model.fit(
        x, y, validation_data=(x, -y), epochs=config.epochs, verbose=0, callbacks=callbacks,
        shuffle=False,
    )  # fmt: skip
    return fit.history["val_loss"], lambda other: (model if other is None else other).evaluate(
        x, -y, verbose=0
    )


def test_the_best_model_file_is_the_model_early_stopping_restores(tmp_path):
    # The validation loss is lowest at the first epoch; both callbacks judge only the
    # epochs from start_from_epoch on, so both keep epoch 2 of 0-3.
    config = _args(epochs=4, patience=100, lr_schedule="none")
    callbacks = training.make_callbacks(tmp_path, config, start_from_epoch=2)
    val_loss, loss_of = _fit_against_negated_targets(config, callbacks)
    assert val_loss == sorted(val_loss)
    best = keras.saving.load_model(tmp_path / training.CHECKPOINT_FILE)
    assert loss_of(best) == pytest.approx(val_loss[2], rel=1e-5)
    assert loss_of(None) == pytest.approx(val_loss[2], rel=1e-5)


def test_no_early_stopping_option_sets_patience_to_none():
    from recipes import lenet5
    from recipes._common import parse, training_config

    parser = lenet5.build_parser()
    assert training_config(parse(parser, ["--no-early-stopping"])).patience is None
    assert training_config(parse(parser, ["--patience", "4"])).patience == 4
    assert training_config(parse(parser, [])).patience == 10


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
    assert not (tmp_path / "backup").exists()  # a finished run's backup is removed
