"""Training runs: an explicit configuration, seeding, run folders, callbacks, schedules,
records and the export at the end.

Recipes (and users) describe a run with a `TrainConfig` and hand it to the helpers:

    config = TrainConfig(epochs=30, batch_size=128, learning_rate=1e-3, seed=0)
    run_dir = start_run("lenet5", config)     # seeds, makes the folder, writes config.json
    model.compile(optimizer=make_optimizer(config), ...)
    model.fit(..., epochs=config.fit_epochs, verbose=config.fit_verbose,
              callbacks=make_callbacks(run_dir, config))
    export_run(config, model, info, metrics, "lenet5")
    finish_run(run_dir, metrics)               # metrics.json + learning_curves.png

A variant of a configuration is `dataclasses.replace(config, learning_rate=1e-4)`.

Before a long run, `overfit_check` trains a compiled model on a tiny subset (64-256
examples, no regularisation) and says whether its training loss falls below a fraction of
where it started; if it does not, something is broken (learning rate, labels,
preprocessing, a frozen model, a loss that does not suit the output):

    result = overfit_check(model, x[:128], y[:128], epochs=50, tolerance=0.1)
    print(result.summary())                    # PASS: loss 2.31 -> 0.19 ... at epoch 14
    result.raise_for_failure()                 # ValueError listing the likely causes

Every run writes into its own folder (default `runs/<recipe>/<timestamp>/`): `config.json`,
`history.csv`, `learning_curves.png`, `metrics.json`, `best.keras`. A folder that already
holds a run is never reused unless `resume=True`, which continues an interrupted run
from its `backup/` (Keras' `BackupAndRestore`).
"""

import contextlib
import csv
import dataclasses
import datetime
import hashlib
import json
import math
import os
import pathlib
import shutil
import sys
import tempfile

import keras

from zoo import _checks, distribute

LR_SCHEDULES = ("none", "step", "exponential", "cosine", "plateau")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
RUNS_DIR = "runs"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
CURVES_FILE = "learning_curves.png"
CHECKPOINT_FILE = "best.keras"
FAILURE_FILE = "failure.json"
BACKUP_DIR = "backup"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How a model is trained, recorded and exported; checked when built.

    Args:
        epochs: Maximum epochs (early stopping may stop sooner). Defaults to 10.
        batch_size: Examples per step. Defaults to 32.
        learning_rate: Initial learning rate. Defaults to 0.001.
        optimizer: One of `OPTIMIZERS`. Defaults to "adam".
        momentum: SGD's momentum, in [0, 1); "sgd" only. Defaults to 0.9.
        nesterov: SGD with Nesterov momentum (needs momentum > 0); "sgd" only.
            Defaults to False.
        weight_decay: Decoupled weight decay (Loshchilov & Hutter 2019, AdamW / SGDW),
            Keras optimizers' `weight_decay`: after each step every trainable weight `w`
            becomes `w - learning_rate * weight_decay * w`, apart from the gradient (not
            an L2 term in the loss, which Adam would rescale). None keeps the optimizer's
            own default: no decay, except AdamW's 0.004. Defaults to None.
        clipnorm: Clip each weight's gradient to this L2 norm (Keras' `clipnorm`), > 0;
            None: no clipping. Defaults to None.
        clipvalue: Clip every gradient element to [-clipvalue, clipvalue] (Keras'
            `clipvalue`), > 0; not with `clipnorm`. None: no clipping. Defaults to None.
        lr_schedule: Learning-rate decay over epochs, one of `LR_SCHEDULES`.
            Defaults to "cosine".
        lr_step: Epochs between decays of the "step" schedule. Defaults to 10.
        lr_gamma: Decay factor per step ("step"), per epoch ("exponential") or on a
            plateau ("plateau"), in (0, 1]. Defaults to 0.5.
        patience: Early-stopping patience in epochs; None: no early stopping (every
            epoch runs and the last epoch's weights are kept). Early stopping restores
            the weights of the epoch with the best monitored value when the run ends,
            whether it stopped the run or not (Keras' `restore_best_weights`).
            Defaults to 10.
        seed: Seed of Python's, NumPy's and the backend's random numbers. Defaults to 0.
        smoke: One epoch on a few batches, to check that a run works. Defaults to False.
        verbose: Keras' `fit` verbosity: 0 silent, 1 a progress bar, 2 one line per epoch;
            None chooses 1 on a terminal and 2 when the output is piped or logged.
            Defaults to None.
        output_dir: The run folder; None makes `runs/<recipe>/<time>/`. Defaults to None.
        resume: Continue the interrupted run in `output_dir`. Defaults to False.
        strategy: The `tf.distribute` strategy, one of `zoo.distribute.STRATEGIES`:
            "default" (one device), "mirrored" (this machine's GPUs or logical CPUs) or
            "multiworker" (the `TF_CONFIG` cluster). `batch_size` is the global batch;
            the learning rate is not scaled. Defaults to "default".
        tensorboard: Also log for TensorBoard. Defaults to False.
        export: Export the model for serving at the end. Defaults to True.
        export_dir: The SavedModel serving root. Defaults to "saved_models".
        export_name: The export's name; None lets the recipe name it. Defaults to None.
    """

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float | None = None
    clipnorm: float | None = None
    clipvalue: float | None = None
    lr_schedule: str = "cosine"
    lr_step: int = 10
    lr_gamma: float = 0.5
    patience: int | None = 10
    seed: int = 0
    smoke: bool = False
    verbose: int | None = None
    output_dir: str | None = None
    resume: bool = False
    strategy: str = "default"
    tensorboard: bool = False
    export: bool = True
    export_dir: str = "saved_models"
    export_name: str | None = None

    def __post_init__(self):
        _checks.check_int("epochs", self.epochs, low=1)
        _checks.check_int("batch_size", self.batch_size, low=1)
        _checks.check_float("learning_rate", self.learning_rate, low=0, low_open=True)
        _checks.check_choice("optimizer", self.optimizer, OPTIMIZERS)
        self._check_optimizer_options()
        _checks.check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _checks.check_int("lr_step", self.lr_step, low=1)
        _checks.check_float("lr_gamma", self.lr_gamma, low=0, high=1, low_open=True)
        if self.patience is not None:
            _checks.check_int("patience", self.patience, low=1)
        _checks.check_int("seed", self.seed, low=0)
        _checks.check_choice("strategy", self.strategy, distribute.STRATEGIES)
        for flag in ("smoke", "resume", "tensorboard", "export"):
            _checks.check_bool(flag, getattr(self, flag))
        if self.verbose is not None:
            _checks.check_int("verbose", self.verbose, low=0, high=2)
        for path in ("output_dir", "export_dir", "export_name"):
            value = getattr(self, path)
            if (value is None and path != "export_dir") or isinstance(value, (str, pathlib.Path)):
                continue
            raise TypeError(f"{path} must be a str or a pathlib.Path. Received: {path}={value!r}")
        if self.resume and self.output_dir is None:
            raise ValueError(
                "resume needs the output_dir of the run to continue. Received: resume=True, "
                "output_dir=None"
            )

    def _check_optimizer_options(self):
        """Momentum, Nesterov, weight decay and clipping: values, and where they apply."""
        _checks.check_float("momentum", self.momentum, low=0, high=1, high_open=True)
        _checks.check_bool("nesterov", self.nesterov)
        for arg in ("weight_decay", "clipnorm", "clipvalue"):
            value = getattr(self, arg)
            if value is not None:
                _checks.check_float(arg, value, low=0, low_open=arg != "weight_decay")
        if self.optimizer != "sgd":
            for arg, default in (("momentum", 0.9), ("nesterov", False)):
                _checks.check_not_applicable(
                    arg,
                    getattr(self, arg),
                    default=default,
                    variant=f"optimizer={self.optimizer!r}",
                    applies_to="optimizer='sgd'",
                )
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0. Received: nesterov=True, momentum=0.0")
        if self.clipnorm is not None and self.clipvalue is not None:
            raise ValueError(
                "clipnorm and clipvalue cannot both be set; choose one. Received: "
                f"clipnorm={self.clipnorm!r}, clipvalue={self.clipvalue!r}"
            )

    @classmethod
    def field_names(cls):
        return tuple(field.name for field in dataclasses.fields(cls))

    @property
    def fit_epochs(self):
        """Epochs to pass to `fit`: one under `smoke`, `epochs` otherwise."""
        return 1 if self.smoke else self.epochs

    @property
    def fit_verbose(self):
        """`verbose`, or 1 on a terminal and 2 (one line per epoch) when piped."""
        if self.verbose is not None:
            return self.verbose
        isatty = getattr(sys.stdout, "isatty", None)
        return 1 if isatty is not None and isatty() else 2


class RunFinished(ValueError):
    """`resume` asked of a run that has finished: nothing was changed."""


def set_seed(seed):
    """Seeds Python, NumPy and the backend (`keras.utils.set_random_seed`)."""
    keras.utils.set_random_seed(seed)


def start_run(recipe, config, options=None, strategy=None, *, extend=False):
    """Seeds, creates the run folder and writes `config.json` into it: the recipe's name,
    its `options` (a dict of everything it was given), the `TrainConfig` and, given the
    `tf.distribute` `strategy`, its replicas.

    Only the chief of a multi-worker cluster (`zoo.distribute.worker_role`) writes the
    run folder; any other worker runs in a scratch folder of its own, named by the
    recipe, the worker and `output_dir` (so that `resume` finds its backup), which `run`
    removes when the run succeeds.

    `resume` of a run that has finished (its `metrics.json` written) raises `RunFinished`,
    unless `extend` (a search that goes on with more trials).

    Returns:
        The run folder as a `pathlib.Path`.
    """
    _check_config(config)
    finished = config.resume and (pathlib.Path(config.output_dir) / METRICS_FILE).is_file()
    if finished and not extend:
        raise RunFinished(
            f"the run in {config.output_dir} has finished ({METRICS_FILE} is there); "
            "nothing to resume, nothing changed"
        )
    set_seed(config.seed)
    role = distribute.worker_role()
    output_dir = config.output_dir if role.is_chief else _scratch_dir(recipe, config, role)
    if not role.is_chief and not config.resume:
        shutil.rmtree(output_dir, ignore_errors=True)  # a worker's leftovers, not a run
    run_dir = make_run_dir(recipe, output_dir, resume=config.resume)
    record = {"recipe": recipe, **(options or {}), **dataclasses.asdict(config)}
    if strategy is not None:
        record["replicas"] = distribute.replicas(strategy)
    if role.num_workers > 1:
        record["worker"] = role.name
    write_json(run_dir / CONFIG_FILE, record)
    return run_dir


def _scratch_dir(recipe, config, role):
    key = hashlib.sha1(str(pathlib.Path(config.output_dir or "").resolve()).encode())
    name = f"zoo-{recipe}-{role.name}-{key.hexdigest()[:12]}"
    return pathlib.Path(tempfile.gettempdir()) / name


@contextlib.contextmanager
def run(recipe, config, options=None, *, extend=False):
    """`start_run` as a context: the block runs in the run folder, under the scope of the
    configured `tf.distribute` strategy (made first, as multi-worker training needs), and
    a failure inside it leaves no bare folder behind. A run that fails before its first
    epoch is logged (nothing in the folder but `config.json`) has its folder removed; a
    later failure is recorded in `failure.json` (the error and its message) beside what
    the run wrote.

    Example:

        with training.run("lenet5", config, {"dataset": "mnist"}) as run_dir:
            ...
    """
    strategy = distribute.make_strategy(config.strategy)  # before TensorFlow runs anything
    run_dir = start_run(recipe, config, options, strategy, extend=extend)
    created = set(os.listdir(run_dir)) == {CONFIG_FILE} and not config.resume
    try:
        with strategy.scope():
            yield run_dir
    except BaseException as error:
        if created and set(os.listdir(run_dir)) == {CONFIG_FILE}:
            shutil.rmtree(run_dir)  # nothing to keep: as if the run had not started
        else:
            write_json(
                run_dir / FAILURE_FILE,
                {
                    "error": type(error).__name__,
                    "message": str(error),
                    "time": datetime.datetime.now().isoformat(timespec="seconds"),
                },
            )
        raise
    if not distribute.worker_role().is_chief:
        shutil.rmtree(run_dir, ignore_errors=True)  # a worker's scratch: the chief keeps all


def check_converged(config, run_dir, model=None, *, rate_option="--learning-rate"):
    """Raises `ValueError` if the run diverged: a non-finite value in the last row of any
    of the run folder's CSV logs (`history.csv`, per-RBM logs) or, given `model`, in its
    weights. The message names the epoch where the values first stopped being finite and
    the option to change (`rate_option`, the command-line option of
    `config.learning_rate`); recipes call this before they evaluate or export."""
    for log in sorted(pathlib.Path(run_dir).glob("*.csv")):
        with log.open(newline="") as f:
            if next(csv.reader(f), [None])[0] != "epoch":  # not a Keras CSVLogger log
                continue
        history = read_history(log)
        if not history:
            continue
        rows = len(next(iter(history.values())))
        bad = [k for k, values in history.items() if not math.isfinite(values[-1])]
        if bad:
            first = min(
                i for i in range(rows) if not all(math.isfinite(v[i]) for v in history.values())
            )
            raise ValueError(
                f"training diverged at epoch {first + 1} ({log.name}: "
                f"{', '.join(f'{k}={history[k][first]}' for k in bad)}); nothing is exported. "
                f"Lower the learning rate ({rate_option} {config.learning_rate:g})."
            )
    if model is not None:
        from zoo.export import check_finite_weights

        check_finite_weights(model)


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


def make_optimizer(config):
    """The optimizer named by `config.optimizer` at `config.learning_rate`, with the
    config's momentum and Nesterov (SGD), decoupled weight decay and gradient clipping."""
    _check_config(config)
    kwargs = {"learning_rate": config.learning_rate}
    if config.optimizer == "sgd":
        kwargs.update(momentum=config.momentum, nesterov=config.nesterov)
    for arg in ("weight_decay", "clipnorm", "clipvalue"):
        if getattr(config, arg) is not None:
            kwargs[arg] = getattr(config, arg)
    return keras.optimizers.get({"class_name": config.optimizer, "config": kwargs})


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


def make_callbacks(run_dir, config, *, monitor="val_loss", extra=(), start_from_epoch=0, first=()):
    """The callbacks preset of every recipe, after `first` and before `extra`.

    `first` holds callbacks that add entries to the epoch's logs (monitors such as
    `zoo.callbacks.RBMMonitor`), so that early stopping and `history.csv` see them.

    EarlyStopping (restores the best weights; ignores the epochs before
    `start_from_epoch`, e.g. while a schedule still changes the model), the chosen
    learning-rate decay, `zoo.callbacks.BestModelCheckpoint` (the best model from
    `start_from_epoch` on as `best.keras`: the model early stopping restores; with early
    stopping off, `config.patience` None, every epoch's model, so the last, the one the
    run keeps),
    `zoo.callbacks.RunBackup` (crash-safe resumable runs: the best model, early stopping
    and the history carry across a restart), CSVLogger (`history.csv`), TerminateOnNaN,
    and TensorBoard if `config.tensorboard`.
    """
    from zoo.callbacks import BestModelCheckpoint, RunBackup

    _check_config(config)
    run_dir = pathlib.Path(run_dir)
    early_stopping = early_stopping_callback(config, monitor, start_from_epoch=start_from_epoch)
    if early_stopping is None:  # the run keeps its last epoch, and so does the checkpoint
        stopping = []
        checkpoint = keras.callbacks.ModelCheckpoint(str(run_dir / CHECKPOINT_FILE))
    else:
        stopping = [early_stopping]
        checkpoint = BestModelCheckpoint(
            str(run_dir / CHECKPOINT_FILE), monitor=monitor, start_from_epoch=start_from_epoch
        )
    callbacks = [*first, keras.callbacks.TerminateOnNaN(), *stopping, checkpoint]
    decay = lr_schedule_callback(
        config.lr_schedule,
        config.learning_rate,
        config.epochs,
        step=config.lr_step,
        gamma=config.lr_gamma,
        patience=3 if config.patience is None else max(1, config.patience // 3),
        monitor=monitor,
    )
    if decay is not None:
        callbacks.append(decay)
    # After the callbacks it saves the state of and the schedule (whose learning rate it
    # logs); before the CSVLogger, whose file it rewrites on resume.
    callbacks.append(
        RunBackup(
            run_dir / BACKUP_DIR,
            history_file=run_dir / HISTORY_FILE,
            tracked=[c for c in (early_stopping, checkpoint, decay) if c is not None],
        )
    )
    callbacks.append(keras.callbacks.CSVLogger(str(run_dir / HISTORY_FILE), append=config.resume))
    if config.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    return [*callbacks, *extra]


def early_stopping_callback(config, monitor="val_loss", *, mode="auto", start_from_epoch=0):
    """Keras' `EarlyStopping` with `config.patience`, restoring the best epoch's weights
    at the end of the run (stopped early or not); None when `config.patience` is None."""
    if config.patience is None:
        return None
    return keras.callbacks.EarlyStopping(
        monitor=monitor,
        mode=mode,
        patience=config.patience,
        restore_best_weights=True,
        start_from_epoch=start_from_epoch,
    )


def export_run(config, run_dir, model, info, metrics, name, metadata=None):
    """Exports `model` for serving unless `config.export` is False; records `export_path`
    in `metrics`. Returns the path or None.

    `config.export_name`, when set, replaces `name`. A run that diverged
    (`check_converged`) is refused with `ValueError`. A smoke run never writes to the
    serving root: its export goes to `<run folder>/saved_models/`. `metadata` (the
    dataset, the command line) is recorded in the export's `metadata.json`.
    """
    from zoo.export import export

    _check_config(config)
    if not config.export or not distribute.worker_role().is_chief:
        return None  # in a cluster, the chief exports
    check_converged(config, run_dir, model)
    base_dir = pathlib.Path(run_dir) / "saved_models" if config.smoke else config.export_dir
    path = export(
        model,
        config.export_name or name,
        base_dir=base_dir,
        info=info,
        metrics=metrics,
        metadata={"smoke": config.smoke, **(metadata or {})},
    )
    metrics["export_path"] = str(path)
    return path


def finish_run(run_dir, metrics):
    """Writes `metrics.json` and, from `history.csv`, the learning-curve figure."""
    from zoo.plots import plot_history

    run_dir = pathlib.Path(run_dir)
    write_json(run_dir / METRICS_FILE, metrics)
    for backup in sorted(run_dir.rglob(BACKUP_DIR)):  # a finished run is not resumed
        if backup.is_dir():
            shutil.rmtree(backup)
    history = read_history(run_dir / HISTORY_FILE)
    if history:
        title = f"{run_dir.parent.name}/{run_dir.name}"
        replicas = read_json(run_dir / CONFIG_FILE).get("replicas", 1)
        if replicas > 1:
            title += f" ({replicas} replicas)"
        plot_history(history, run_dir / CURVES_FILE, title=title)


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


def read_json(path):
    """A JSON file as a dict; `{}` when it is missing or does not parse."""
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return {}


def epochs_run(run_dir):
    """How many epochs the run's `history.csv` records."""
    return len(read_history(pathlib.Path(run_dir) / HISTORY_FILE).get("epoch", []))


# --- the overfit sanity check -----------------------------------------------------------

OVERFIT_EPOCHS = 50
OVERFIT_TOLERANCE = 0.1
OVERFIT_BATCH_SIZE = 32
STILL_FRACTION = 0.01  # a loss that changed by less than this fraction "hardly moved"


@dataclasses.dataclass(frozen=True)
class OverfitResult:
    """What `overfit_check` measured on the subset.

    Attributes:
        passed: Every value was finite and one reached `target`.
        monitor: The value watched: "loss", a compiled metric ("mse") or the name of a
            `measure` ("reconstruction_error").
        initial_loss: The watched value before training.
        final_loss: The watched value after the last epoch trained.
        target: The value to reach: `tolerance * baseline`, or `tolerance *
            initial_loss` without a baseline.
        tolerance: The target as a fraction of the baseline or the initial value.
        baseline: The value the tolerance is a fraction of, when not the initial value.
        measured: The value came from a `measure`, not from the loss or a metric.
        reached_epoch: The first epoch (1-based) at or below the target, or None.
        epochs: The epochs allowed.
        epochs_run: The epochs trained (training stops at the target, or at a
            non-finite value).
        examples: Examples in the subset.
        history: The watched value after each epoch trained.
        trainable_weights: Trainable weight tensors of the model (0: a frozen model).
        learning_rate: The optimizer's learning rate, when it has one number.
    """

    passed: bool
    monitor: str
    initial_loss: float
    final_loss: float
    target: float
    tolerance: float
    reached_epoch: int | None
    epochs: int
    epochs_run: int
    examples: int
    history: tuple
    trainable_weights: int
    learning_rate: float | None = None
    baseline: float | None = None
    measured: bool = False

    def as_dict(self):
        return {**dataclasses.asdict(self), "history": list(self.history)}

    @property
    def non_finite_epoch(self):
        """The first epoch (1-based) whose value was NaN or inf, or None."""
        if not math.isfinite(self.initial_loss):
            return 0
        bad = [i for i, value in enumerate(self.history, start=1) if not math.isfinite(value)]
        return bad[0] if bad else None

    def summary(self):
        """One line: PASS or FAIL, the values, the target and when it was reached."""
        of = "the initial" if self.baseline is None else f"the baseline {self.baseline:.4g}"
        line = (
            f"{'PASS' if self.passed else 'FAIL'}: {self.monitor} {self.initial_loss:.4g} -> "
            f"{self.final_loss:.4g} on {self.examples} examples (target <= {self.target:.4g}, "
            f"{self.tolerance:.0%} of {of}) "
        )
        if self.reached_epoch is not None:
            return line + f"reached at epoch {self.reached_epoch} of {self.epochs}"
        if self.non_finite_epoch == 0:
            return line + "non-finite before training"
        if self.non_finite_epoch is not None:
            return line + f"non-finite at epoch {self.non_finite_epoch} of {self.epochs}"
        return line + f"not reached in {self.epochs} epochs"

    def likely_causes(self, *, rate_option="learning_rate", epochs_option="epochs", extra=()):
        """What most likely keeps the model from overfitting, the likeliest first: what
        the values show (no trainable weights, non-finite, still, rising, falling too
        slowly), then `extra` (causes the caller knows of), then (unless the value came
        from a `measure`) a loss that does not suit the output.

        Args:
            rate_option: How the caller names the learning rate (a recipe's
                "--learning-rate"). Defaults to "learning_rate".
            epochs_option: How the caller names the epochs allowed. Defaults to "epochs".
            extra: More causes, as strings.
        """
        rate = f"{rate_option} {self.learning_rate:g}" if self.learning_rate else rate_option
        causes = []
        if self.trainable_weights == 0:
            causes.append("the model has no trainable weights (frozen)")
        change = (self.initial_loss - self.final_loss) / abs(self.initial_loss or 1.0)
        if self.non_finite_epoch is not None:
            causes.append(
                f"the {self.monitor} became non-finite: a learning rate too high ({rate}), "
                "or NaN or inf in the inputs or targets"
            )
        elif abs(change) < STILL_FRACTION:
            causes.append(
                f"the {self.monitor} hardly moved: a learning rate far too low ({rate}), "
                "frozen layers, or gradients that vanish (saturated units, a loss without a "
                "gradient)"
            )
        elif change < 0:
            causes.append(f"the {self.monitor} rose: a learning rate too high ({rate})")
        else:
            causes.append(
                f"the {self.monitor} fell by {change:.0%} only: targets that do not match "
                "the inputs (shuffled or misaligned labels), preprocessing that destroys the "
                f"signal, too few epochs ({epochs_option} {self.epochs}) or too low a "
                f"learning rate ({rate}), or a model too small or still regularised"
            )
        causes.extend(extra)
        if not self.measured:
            causes.append(
                "a loss that does not suit the output (probabilities with from_logits=True, "
                "sparse labels with categorical_crossentropy, a sigmoid output with targets "
                "outside [0, 1])"
            )
        return causes

    def failure_message(self, **options):
        """The failure as one line listing the likely causes; `options` as for
        `likely_causes`."""
        causes = "; ".join(
            f"({i}) {cause}" for i, cause in enumerate(self.likely_causes(**options), start=1)
        )
        return (
            f"{self.summary()}: the model cannot overfit {self.examples} examples. "
            f"Likely causes: {causes}."
        )

    def raise_for_failure(self, **options):
        """Raises `ValueError` with `failure_message` unless the check passed; returns
        the result."""
        if not self.passed:
            raise ValueError(self.failure_message(**options))
        return self


class _OverfitMonitor(keras.callbacks.Callback):
    """Records the watched value each epoch (measuring it with `measure`, when given)
    and stops training once it reaches the target or stops being finite."""

    def __init__(self, monitor, target, measure=None):
        super().__init__()
        self.monitor, self.target, self.measure = monitor, target, measure
        self.values = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self.measure is not None:
            logs[self.monitor] = float(self.measure(self.model))
        value = float(logs[self.monitor])
        self.values.append(value)
        if not math.isfinite(value) or value <= self.target:
            self.model.stop_training = True


def overfit_check(
    model,
    x,
    y=None,
    *,
    epochs=OVERFIT_EPOCHS,
    tolerance=OVERFIT_TOLERANCE,
    batch_size=OVERFIT_BATCH_SIZE,
    monitor="loss",
    measure=None,
    baseline=None,
    callbacks=(),
    verbose=0,
):
    """Trains a compiled model on a tiny subset and says whether it can overfit it.

    The check to run before any search or long run: a model and pipeline that work drive
    the training loss on 64-256 examples far below where it started within a few dozen
    epochs. One that cannot has a bug: a learning rate far off, labels that do not match
    the inputs, preprocessing that destroys the signal, a frozen model, or a loss that
    does not suit the output. Build the model without regularisation (dropout, noise,
    weight decay, sparsity penalties), which keeps it from overfitting.

    The value watched is `monitor`: the training loss, or a compiled metric (an
    autoencoder's "mse", which can approach 0 where binary cross-entropy on grey levels
    cannot), as Keras logs it each epoch. The check passes when every value is finite and
    one falls to `tolerance` times the initial value (the same quantity on the untrained
    model, `model.evaluate` on the subset), or times `baseline` when given, or below;
    training stops at that epoch. With `measure`, a callable `measure(model) -> float`
    gives the value instead, before training and after each epoch: for a model whose
    loss is not a quantity to drive down (an RBM's contrastive divergence, a difference
    of free energies), measure its reconstruction error.

    Args:
        model: A compiled Keras model.
        x: The subset's inputs (numpy arrays).
        y: Its targets; None for a model that trains on `x` alone (`fit(x)`); an
            autoencoder's are `x`.
        epochs: Epochs allowed, >= 1. Defaults to 50.
        tolerance: The target as a fraction of the initial value (or of `baseline`), in
            (0, 1). Defaults to 0.1.
        batch_size: Examples per step (at most the subset). Defaults to 32.
        monitor: The value watched: "loss", a compiled metric, or the name of what
            `measure` returns. Defaults to "loss".
        measure: Optional callable taking the model and returning the value to watch.
        baseline: Optional value the tolerance is a fraction of, instead of the initial
            value: for an autoencoder, the squared error of predicting the subset's mean
            image (`np.var(x, axis=0).mean()`), the best a model that ignores its input
            can do, so that the target does not depend on where the output starts.
        callbacks: Other callbacks for `fit` (a momentum schedule, say).
        verbose: `fit` verbosity. Defaults to 0.

    Returns:
        An `OverfitResult`: `passed`, `initial_loss`, `final_loss`, `reached_epoch`,
        `target`, `tolerance`, `epochs`, the value after each epoch; `summary()` is one
        line, `raise_for_failure()` raises `ValueError` listing the likely causes.

    Example:

        model.compile("adam", "sparse_categorical_crossentropy")
        result = overfit_check(model, x_train[:128], y_train[:128])
        print(result.summary())   # PASS: loss 2.32 -> 0.2 on 128 examples (target <= ...
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model. Received: model={type(model).__name__}")
    if not model.compiled:
        raise ValueError(
            "model must be compiled (with its optimizer and loss) before overfit_check. "
            f"Received: the uncompiled model {model.name!r}"
        )
    epochs = _checks.check_int("epochs", epochs, low=1)
    tolerance = _checks.check_float(
        "tolerance", tolerance, low=0, high=1, low_open=True, high_open=True
    )
    batch_size = _checks.check_int("batch_size", batch_size, low=1)
    _checks.check_int("verbose", verbose, low=0, high=2)
    if not isinstance(monitor, str) or not monitor:
        raise TypeError(f"monitor must be a non-empty str. Received: monitor={monitor!r}")
    if measure is not None and not callable(measure):
        raise TypeError(f"measure must be callable or None. Received: measure={measure!r}")
    examples = len(x)
    if examples < 1:
        raise ValueError(f"x must hold at least one example. Received: x with {examples}")
    batch_size = min(batch_size, examples)
    if measure is None:
        logged = model.evaluate(x, y, batch_size=batch_size, return_dict=True, verbose=0)
        if monitor not in logged:
            raise ValueError(
                f"monitor must be the loss or a compiled metric ({', '.join(logged)}), or "
                f"name what measure returns. Received: monitor={monitor!r}"
            )
        initial = float(logged[monitor])
    else:
        initial = float(measure(model))
    if baseline is not None:
        baseline = _checks.check_float("baseline", baseline, low=0, low_open=True)
    elif math.isfinite(initial) and initial <= 0:
        raise ValueError(
            f"overfit_check needs a positive initial {monitor} (its target is a fraction of "
            f"it); watch another value, pass measure or a baseline. Received: initial "
            f"{monitor}={initial}"
        )
    watcher = _OverfitMonitor(monitor, tolerance * (baseline or initial), measure)
    if math.isfinite(initial):
        model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=True,
            callbacks=[*callbacks, watcher],
            verbose=verbose,
        )
    values = tuple(watcher.values)
    reached = next((i for i, v in enumerate(values, start=1) if v <= watcher.target), None)
    return OverfitResult(
        passed=reached is not None and all(math.isfinite(v) for v in values),
        monitor=monitor,
        initial_loss=initial,
        final_loss=values[-1] if values else initial,
        target=watcher.target,
        tolerance=tolerance,
        reached_epoch=reached,
        epochs=epochs,
        epochs_run=len(values),
        examples=examples,
        history=values,
        trainable_weights=len(model.trainable_weights),
        learning_rate=_learning_rate(model),
        baseline=baseline,
        measured=measure is not None,
    )


def _learning_rate(model):
    """The optimizer's current learning rate as a float, or None."""
    try:
        return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return None


def _check_config(config):
    if not isinstance(config, TrainConfig):
        raise TypeError(
            "config must be a zoo.training.TrainConfig (recipes build it from their options). "
            f"Received: config of type {type(config).__name__}"
        )
