"""What every recipe shares: options, seeding, run folders, callbacks, schedules, records.

A recipe reads:

    parser = argparse.ArgumentParser(description=__doc__)
    add_training_args(parser, epochs=30, batch_size=128, learning_rate=1e-3)
    args = parser.parse_args(argv)
    run_dir = start_run("lenet5", args)           # seeds, makes the folder, writes config.json
    model.compile(optimizer=make_optimizer(args), ...)
    model.fit(..., callbacks=make_callbacks(run_dir, args))
    finish_run(run_dir, metrics)                   # metrics.json + learning_curves.png

Every run writes into its own folder (default `runs/<recipe>/<timestamp>/`): `config.json`,
`history.csv`, `learning_curves.png`, `metrics.json`, `best.keras`. A folder that already
holds a run is never reused unless `--resume` is given, which continues an interrupted run
from its `backup/` (Keras' `BackupAndRestore`).
"""

import argparse
import csv
import datetime
import json
import pathlib

import keras

LR_SCHEDULES = ("none", "step", "exponential", "cosine", "plateau")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
RUNS_DIR = "runs"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
CURVES_FILE = "learning_curves.png"
CHECKPOINT_FILE = "best.keras"


def add_training_args(
    parser,
    *,
    epochs,
    batch_size,
    learning_rate,
    optimizer="adam",
    lr_schedule="cosine",
    patience=10,
    export_dir="saved_models",
):
    """Adds the options every training recipe has, with the recipe's own defaults."""
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=_positive_int, default=epochs, help="maximum epochs")
    group.add_argument("--batch-size", type=_positive_int, default=batch_size)
    group.add_argument("--learning-rate", type=_positive_float, default=learning_rate)
    group.add_argument("--optimizer", choices=OPTIMIZERS, default=optimizer)
    group.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default=lr_schedule,
        help="learning-rate decay over epochs",
    )
    group.add_argument(
        "--lr-step", type=_positive_int, default=10, help="epochs between decays (step)"
    )
    group.add_argument(
        "--lr-gamma",
        type=_positive_float,
        default=0.5,
        help="decay factor: per step (step), per epoch (exponential), on plateau (plateau)",
    )
    group.add_argument(
        "--patience", type=_positive_int, default=patience, help="early-stopping patience"
    )
    group.add_argument("--seed", type=int, default=0, help="seed of every random number")
    group.add_argument("--smoke", action="store_true", help="a few batches, one epoch: seconds")
    group.add_argument(
        "--output-dir", default=None, help=f"run folder (default {RUNS_DIR}/<recipe>/<time>)"
    )
    group.add_argument(
        "--resume", action="store_true", help="continue the interrupted run in --output-dir"
    )
    group.add_argument("--tensorboard", action="store_true", help="also log for TensorBoard")
    group.add_argument("--export-dir", default=export_dir, help="SavedModel serving root")
    group.add_argument("--no-export", action="store_true", help="skip the SavedModel export")
    return parser


def set_seed(seed):
    """Seeds Python, NumPy and the backend (`keras.utils.set_random_seed`)."""
    keras.utils.set_random_seed(seed)


def start_run(recipe, args):
    """Seeds, creates the run folder and writes the resolved config into it.

    Returns:
        The run folder as a `pathlib.Path`.
    """
    set_seed(args.seed)
    run_dir = make_run_dir(recipe, args.output_dir, resume=getattr(args, "resume", False))
    write_json(run_dir / CONFIG_FILE, {"recipe": recipe, **vars(args)})
    return run_dir


def make_run_dir(recipe, output_dir=None, *, resume=False, base=RUNS_DIR):
    """A fresh folder for a run; never one that already holds a run, unless `resume`."""
    if output_dir is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        candidate = pathlib.Path(base) / recipe / stamp
        n = 1
        while candidate.exists():
            n += 1
            candidate = pathlib.Path(base) / recipe / f"{stamp}-{n}"
        output_dir = candidate
    run_dir = pathlib.Path(output_dir)
    if run_dir.is_dir() and any(run_dir.iterdir()) and not resume:
        raise FileExistsError(
            f"output_dir {run_dir} already holds a run; choose another folder, or pass "
            "--resume to continue it."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def make_optimizer(args):
    """The optimizer named by `args.optimizer` at `args.learning_rate`."""
    kwargs = {"learning_rate": args.learning_rate}
    if args.optimizer == "sgd":
        kwargs["momentum"] = 0.9
    return keras.optimizers.get({"class_name": args.optimizer, "config": kwargs})


def lr_schedule_callback(
    schedule, learning_rate, epochs, *, step=10, gamma=0.5, patience=3, monitor="val_loss"
):
    """The callback that decays the learning rate by epoch, or None for "none".

    "step", "exponential" and "cosine" evaluate the matching `keras.optimizers.schedules`
    at each epoch; "plateau" is `keras.callbacks.ReduceLROnPlateau`.
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}. Received: {schedule!r}")
    schedules = keras.optimizers.schedules
    if schedule == "none":
        return None
    if schedule == "plateau":
        return keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=gamma, patience=patience, min_lr=learning_rate * 1e-3
        )
    if schedule == "step":
        by_epoch = schedules.ExponentialDecay(learning_rate, step, gamma, staircase=True)
    elif schedule == "exponential":
        by_epoch = schedules.ExponentialDecay(learning_rate, 1, gamma)
    else:
        by_epoch = schedules.CosineDecay(learning_rate, max(epochs, 1), alpha=1e-2)
    return keras.callbacks.LearningRateScheduler(lambda epoch: float(by_epoch(epoch)))


def make_callbacks(run_dir, args, *, monitor="val_loss", extra=(), start_from_epoch=0, first=()):
    """The callbacks preset of every recipe, after `first` and before `extra`.

    `first` holds callbacks that add entries to the epoch's logs (monitors such as
    `zoo.callbacks.RBMMonitor`), so that early stopping and `history.csv` see them.

    EarlyStopping (restores the best weights; ignores the epochs before
    `start_from_epoch`, e.g. while a schedule still changes the model), the chosen
    learning-rate decay,
    BackupAndRestore (resumable runs), ModelCheckpoint (best model as `best.keras`),
    CSVLogger (`history.csv`), TerminateOnNaN, and TensorBoard if `args.tensorboard`.
    """
    run_dir = pathlib.Path(run_dir)
    callbacks = [
        *first,
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.EarlyStopping(
            monitor=monitor,
            patience=args.patience,
            restore_best_weights=True,
            start_from_epoch=start_from_epoch,
        ),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / CHECKPOINT_FILE), monitor=monitor, save_best_only=True
        ),
    ]
    decay = lr_schedule_callback(
        args.lr_schedule,
        args.learning_rate,
        args.epochs,
        step=args.lr_step,
        gamma=args.lr_gamma,
        patience=max(1, args.patience // 3),
        monitor=monitor,
    )
    if decay is not None:
        callbacks.append(decay)
    # After the schedule, so that the learning rate it logs is in history.csv.
    callbacks.append(keras.callbacks.CSVLogger(str(run_dir / HISTORY_FILE), append=args.resume))
    if args.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    return [*callbacks, *extra]


def export_run(args, model, info, metrics, name):
    """Exports `model` for serving unless `args.no_export`; records `export_path` in
    `metrics`. `args.export_name`, when set, replaces `name`. Returns the path or None."""
    from zoo.export import export

    if args.no_export:
        return None
    path = export(
        model,
        getattr(args, "export_name", None) or name,
        base_dir=args.export_dir,
        info=info,
        metrics=metrics,
    )
    metrics["export_path"] = str(path)
    return path


def finish_run(run_dir, metrics):
    """Writes `metrics.json` and, from `history.csv`, the learning-curve figure."""
    from zoo.plots import plot_history

    run_dir = pathlib.Path(run_dir)
    write_json(run_dir / METRICS_FILE, metrics)
    history = read_history(run_dir / HISTORY_FILE)
    if history:
        plot_history(history, run_dir / CURVES_FILE, title=f"{run_dir.parent.name}/{run_dir.name}")


def read_history(path):
    """`history.csv` as a dict of metric name -> list of floats (empty if no file)."""
    path = pathlib.Path(path)
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}


def write_json(path, obj):
    pathlib.Path(path).write_text(json.dumps(obj, indent=2, default=str) + "\n")


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive int. Received: {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0. Received: {text}")
    return value
