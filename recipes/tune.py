"""Search a family's hyperparameters with keras-tuner; leaderboard, figure, retrain, export.

Runs a keras-tuner search (random, Bayesian optimisation or Hyperband) over the family's
HyperModel (`zoo.hyper`) with the callbacks preset (early stopping, learning-rate decay,
TerminateOnNaN), then retrains the best configurations on the whole training split,
ranks them on the validation split, evaluates the best on the test split and exports it.
It writes into the run folder:

- `leaderboard.csv` and `leaderboard.md`: every trial's hyperparameters, objective,
  epochs, seconds, status (a failed trial keeps its message);
- `search.png`: the objective per trial, and the best so far, against time;
- `search/`: keras-tuner's own folder (a rerun of the same command with the same
  `--output-dir` continues the search; finished trials are neither lost nor repeated);
- `metrics.json`: the best configuration, its validation and test figures, the export.

Two stages, as the course recommends (first overfit a small subset, then refine):
`--subset N` searches on N training examples, `--refine-top K` retrains the K best
configurations on the whole training split and ranks them again.

`--workers N` runs keras-tuner's chief/worker mode on this machine: a chief (the oracle,
on a free loopback port) and N workers, each running trials; the same works across
machines with the environment variables keras-tuner reads (README, "Tuning").

    python -m recipes.tune --family lenet5 --tuner hyperband --dataset mnist --epochs 10
    python -m recipes.tune --family autoencoder --variant denoising --max-trials 20
    python -m recipes.tune --family lenet5_modern --subset 2000 --refine-top 3 --workers 2
"""

import dataclasses
import functools
import math
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np

from zoo import data, training

from ._common import (
    DEFAULT_IMAGE_FOLDER,
    add_data_args,
    add_training_args,
    command,
    export_name,
    float_type,
    image_folder_root,
    make_parser,
    non_negative_int,
    parse,
    positive_int,
    single_device_only,
    smoke_limit,
    training_config,
)

FAMILIES = ("lenet5", "lenet5_modern", "autoencoder", "rbm", "dbn", "transfer")
ROLE_ENV = "ZOO_TUNE_ROLE"  # set by the launcher for its chief and workers
SEARCH_DIR = "search"


def build_parser():
    from zoo.hyper.search import TUNERS

    parser = make_parser("tune", __doc__)
    add_data_args(parser, dataset="digits")
    search = parser.add_argument_group("search")
    search.add_argument("--family", choices=FAMILIES, default="lenet5", help="what to tune")
    search.add_argument(
        "--variant", default="dense", help="the autoencoder variant (--family autoencoder)"
    )
    search.add_argument(
        "--data",
        default=None,
        help=f"image folder (--family transfer; default $ZOO_DATA_DIR/{DEFAULT_IMAGE_FOLDER})",
    )
    search.add_argument("--tuner", choices=tuple(TUNERS), default="random", help="search")
    search.add_argument(
        "--max-trials",
        type=positive_int,
        default=10,
        help="trials (random, bayesian); an upper bound for hyperband",
    )
    search.add_argument(
        "--budget-minutes",
        type=float_type(0, low_open=True),
        default=None,
        help="stop starting trials after this many minutes",
    )
    search.add_argument(
        "--subset",
        type=positive_int,
        default=None,
        help="search on this many training examples (stage one)",
    )
    search.add_argument(
        "--refine-top",
        type=positive_int,
        default=1,
        help="retrain the K best configurations on the whole training split, rank again",
    )
    search.add_argument(
        "--workers",
        type=non_negative_int,
        default=0,
        help="keras-tuner chief/worker mode on loopback with this many workers (0: one process)",
    )
    search.add_argument(
        "--worker-timeout-minutes",
        type=float_type(0, low_open=True),
        default=60.0,
        help="--workers: give up on the search after this long",
    )
    add_training_args(
        parser,
        epochs=5,
        batch_size=64,
        learning_rate=1e-3,
        patience=3,
        export_name_help="<family>_tuned, then _<dataset> unless mnist",
    )
    return parser


# --- data ------------------------------------------------------------------------------


@dataclasses.dataclass
class Arrays:
    train: tuple
    val: tuple
    test: tuple
    info: data.DatasetInfo


def load_arrays(options, config):
    """Train, validation and test arrays for the family, and the dataset info: z-scored
    for LeNet-5 (as the paper), in [0, 1] for the autoencoders, RBMs and DBN (their
    Bernoulli units need it), raw 0-255 images for transfer."""
    if options.family == "transfer":
        return _image_folder_arrays(options, config)
    normalize = "zscore" if options.family.startswith("lenet5") else "minmax"
    *splits, info = data.load_splits(
        options.dataset,
        options.validation_percent,
        batch_size=256,
        normalize=normalize,
        manual_dir=options.data_dir,
        seed=config.seed,
        limit=smoke_limit(config),
    )
    train, val, test = (data.as_numpy(split) for split in splits)
    return Arrays(train, val, test, info)


def _image_folder_arrays(options, config):
    root = image_folder_root(options.data)
    train_dir = root / "train" if (root / "train").is_dir() else root
    common = {"image_size": 96 if config.smoke else 224, "seed": config.seed, "batch_size": 64}
    split = {"validation_split": 0.2, **common}
    train, info = data.from_directory(train_dir, subset="training", with_info=True, **split)
    val = data.from_directory(train_dir, subset="validation", shuffle=False, **split)
    test_dir = next((root / n for n in ("val", "validation") if (root / n).is_dir()), None)
    test = data.from_directory(test_dir, shuffle=False, **common) if test_dir else val
    arrays = [data.as_numpy(ds) for ds in (train, val, test)]
    if config.smoke:
        arrays = [(x[:16], y[:16]) for x, y in arrays]
    return Arrays(*arrays, info)


def fit_data(task, split):
    """`(args, validation_data)` that a model of the task trains on."""
    x, y = split
    if task == "classification":
        return (x, y), (x, y)
    if task == "reconstruction":
        return (x, x), (x, x)
    return (x,), (x,)


# --- the search ------------------------------------------------------------------------


def make_hypermodel(options, info):
    from zoo.hyper import get_hypermodel

    kwargs = {"input_shape": info.input_shape}
    if options.family in ("lenet5", "lenet5_modern", "dbn", "transfer"):
        kwargs["classes"] = info.num_classes
    if options.family == "autoencoder":
        kwargs["variant"] = options.variant
    if options.family == "transfer":  # MobileNet at the transfer recipe's default width
        kwargs.update(weights="imagenet", alpha=0.25)
    return get_hypermodel(options.family, **kwargs)


@functools.cache
def space(hypermodel):
    """The names of the hyperparameters `hypermodel` searches (one build, remembered)."""
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    return frozenset(p.name for p in hp.space)


def describe(options, hypermodel):
    """What makes a search folder this search (checked when it is resumed)."""
    return {
        "family": options.family,
        "variant": options.variant if options.family == "autoencoder" else None,
        "dataset": options.dataset if options.family != "transfer" else str(options.data),
        "tuner": options.tuner,
        "objective": [hypermodel.objective.name, hypermodel.objective.direction],
        "space": sorted(space(hypermodel)),
        "subset": options.subset,
    }


def make_tuner(options, config, hypermodel, folder):
    from zoo.hyper.search import tuner_class

    kwargs = {
        "objective": hypermodel.objective,
        "seed": config.seed,
        "directory": str(folder),
        "project_name": SEARCH_DIR,
        "overwrite": False,
        "max_consecutive_failed_trials": 3,
        "budget_seconds": None if options.budget_minutes is None else 60 * options.budget_minutes,
    }
    if options.tuner == "hyperband":
        kwargs.update(max_epochs=config.fit_epochs, hyperband_iterations=1)
    else:
        kwargs["max_trials"] = options.max_trials
    tuner = tuner_class(options.tuner)(hypermodel, **kwargs)
    if options.tuner == "hyperband":
        tuner.oracle.max_trials = options.max_trials
    return tuner


def search_callbacks(config, hypermodel):
    """TerminateOnNaN, early stopping on the objective (in its direction) and, unless the
    HyperModel searches a schedule itself, learning-rate decay on a plateau of the
    objective, relative to the trial's own (tuned) learning rate, for every trial."""
    import keras

    monitor, mode = hypermodel.objective.name, hypermodel.objective.direction
    callbacks = [keras.callbacks.TerminateOnNaN()]
    early_stopping = training.early_stopping_callback(config, monitor, mode=mode)
    if early_stopping is not None:
        callbacks.append(early_stopping)
    if "lr_schedule" in space(hypermodel):
        return callbacks
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor=monitor,
        mode=mode,
        factor=config.lr_gamma,
        patience=3 if config.patience is None else max(1, config.patience // 2),
    )
    return [*callbacks, plateau]


def run_search(options, config, arrays, hypermodel, folder):
    """The search itself, in this process (or as chief or worker, per `ZOO_TUNE_ROLE`)."""
    task = hypermodel.task
    train = arrays.train
    if options.subset is not None:
        if options.subset > len(train[0]):
            raise ValueError(
                f"--subset must be at most the training examples ({len(train[0])}). "
                f"Received: --subset {options.subset}"
            )
        train = (train[0][: options.subset], train[1][: options.subset])
    args, _ = fit_data(task, train)
    _, validation = fit_data(task, arrays.val)
    tuner = make_tuner(options, config, hypermodel, folder)
    try:
        tuner.search(
            *args,
            validation_data=validation,
            epochs=config.fit_epochs,
            callbacks=search_callbacks(config, hypermodel),
            verbose=0,
        )
    except RuntimeError as error:
        # keras-tuner stops after max_consecutive_failed_trials; the leaderboard shows
        # every failure and `finish` refuses a search with no completed trial.
        if "consecutive failures" not in str(error):
            raise
    return tuner


def launch_workers(options, argv, folder):
    """keras-tuner's chief/worker mode on loopback: a chief serving the oracle and
    `options.workers` workers running trials. Returns when every worker is done; a worker
    that fails ends the search with `RuntimeError` (the chief would wait forever), as does
    a chief that fails. The chief ends (status 0) once every worker has been told that the
    search is over, which may be before the workers have exited."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    module = sys.modules[__name__].__spec__.name
    base = {
        **os.environ,
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": str(port),
    }
    if module == "recipes.tune":  # from a checkout: the children import it from there too
        checkout = str(pathlib.Path(__file__).resolve().parents[1])
        base["PYTHONPATH"] = os.pathsep.join(filter(None, [checkout, base.get("PYTHONPATH")]))
    logs = pathlib.Path(folder) / "workers"
    logs.mkdir(parents=True, exist_ok=True)

    def start(tuner_id, role):
        env = {**base, "KERASTUNER_TUNER_ID": tuner_id, ROLE_ENV: role}
        log = (logs / f"{tuner_id}.log").open("w")
        return subprocess.Popen(
            [sys.executable, "-m", module, *argv],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    chief = start("chief", "chief")
    workers = {f"tuner{i}": start(f"tuner{i}", "worker") for i in range(options.workers)}
    deadline = time.monotonic() + 60 * options.worker_timeout_minutes
    try:
        while True:
            codes = {name: p.poll() for name, p in workers.items()}
            failed = {name: c for name, c in codes.items() if c not in (None, 0)}
            if failed:
                name, code = next(iter(failed.items()))
                raise RuntimeError(
                    f"worker {name} exited with status {code}; the search is stopped. Its "
                    f"log: {logs / (name + '.log')}"
                )
            if chief.poll() not in (None, 0):
                raise RuntimeError(
                    f"the chief exited with status {chief.returncode} before the workers "
                    f"finished. Its log: {logs / 'chief.log'}"
                )
            if all(c == 0 for c in codes.values()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the search did not finish within --worker-timeout-minutes "
                    f"{options.worker_timeout_minutes}"
                )
            time.sleep(0.5)
    finally:
        for process in [*workers.values(), chief]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*workers.values(), chief]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# --- after the search ------------------------------------------------------------------


def plot_search(rows, path, objective, direction):
    """The objective of each completed trial and the best so far, against time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = sorted(
        (r for r in rows if r["objective"] is not None and r["seconds"] is not None),
        key=lambda r: r["trial"],
    )
    fig, ax = plt.subplots(figsize=(6, 4))
    if done:
        times = np.cumsum([r["seconds"] for r in done]) / 60
        values = np.array([r["objective"] for r in done])
        best = (
            np.maximum.accumulate(values) if direction == "max" else np.minimum.accumulate(values)
        )
        ax.plot(times, values, "o", label="trial")
        ax.step(times, best, where="post", label="best so far")
        ax.legend()
    ax.set_xlabel("search time (minutes)")
    ax.set_ylabel(objective)
    ax.set_title(f"{len(done)} completed of {len(rows)} trials")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def retrain(options, config, arrays, hypermodel, hyperparameters, run_dir, log=None):
    """Builds and trains one configuration on the whole training split (its epochs
    logged to `log`, a CSV file, when given); returns the trained model and its best
    validation objective."""
    import keras
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hp.values.update(hyperparameters)  # build() takes these, and the defaults for the rest
    model = hypermodel.build(hp)
    args, validation = fit_data(hypermodel.task, arrays.train)
    history = hypermodel.fit(
        hp,
        model,
        *args,
        validation_data=validation,
        epochs=config.fit_epochs,
        callbacks=[
            *search_callbacks(config, hypermodel),
            *([keras.callbacks.CSVLogger(str(log))] if log is not None else []),
        ],
        verbose=config.fit_verbose,
    )
    model = getattr(history, "model", None) or model  # a DBN trains its classifier
    values = history.history.get(hypermodel.objective.name, [])
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(
            f"retraining the configuration {hyperparameters} diverged ({hypermodel.objective.name}"
            f" = {values}); nothing is exported."
        )
    best = max(values) if hypermodel.objective.direction == "max" else min(values)
    return model, best


def test_metrics(task, model, arrays):
    x, y = arrays.test
    if task == "classification":
        probabilities = np.asarray(model.predict(x, verbose=0))
        return {"test_accuracy": float(np.mean(probabilities.argmax(-1) == y))}
    if task == "reconstruction":
        return {"test_reconstruction_mse": float(np.mean(model.reconstruction_error(x)))}
    from zoo.likelihood import reconstruction_error

    visible = np.asarray(model.visible_data(x))
    return {"test_reconstruction_error": reconstruction_error(model.rbms[0], visible)}


def finish(options, config, arrays, hypermodel, run_dir):
    """Leaderboard and figure from the search folder, then retraining, test and export."""
    from zoo.hyper.search import completed, leaderboard, write_leaderboard

    objective = hypermodel.objective
    tuner = make_tuner(options, config, hypermodel, run_dir)  # reloads the search
    rows = leaderboard(tuner)
    table = write_leaderboard(rows, run_dir, objective.name)
    plot_search(rows, run_dir / "search.png", objective.name, objective.direction)
    done = completed(rows)
    ranked = []
    logs = run_dir / "retrained"  # one CSV log per retrained configuration
    logs.mkdir(exist_ok=True)
    for row in done[: options.refine_top]:
        log = logs / f"trial_{row['trial']}.csv"
        hyperparameters = row["hyperparameters"]
        model, value = retrain(options, config, arrays, hypermodel, hyperparameters, run_dir, log)
        ranked.append((value, row, model))
    reverse = objective.direction == "max"
    value, best_row, model = sorted(ranked, key=lambda t: t[0], reverse=reverse)[0]
    # The run folder's history and learning curves are the best configuration's retraining.
    shutil.copyfile(logs / f"trial_{best_row['trial']}.csv", run_dir / training.HISTORY_FILE)
    metrics = {
        "family": options.family,
        "tuner": options.tuner,
        "objective": objective.name,
        "direction": objective.direction,
        "trials": len(rows),
        "completed_trials": len(done),
        "failed_trials": len(rows) - len(done),
        "best_trial": best_row["trial"],
        "best_hyperparameters": best_row["hyperparameters"],
        "search_objective": best_row["objective"],
        f"retrained_{objective.name}": value,
        "refined": [
            {"trial": row["trial"], "search": row["objective"], "retrained": v}
            for v, row, _ in ranked
        ],
        **test_metrics(hypermodel.task, model, arrays),
    }
    training.check_converged(config, run_dir, model)
    name = export_name(f"{options.family}_tuned", options.dataset)
    training.export_run(
        config, run_dir, model, arrays.info, metrics, name, options.export_metadata()
    )
    training.finish_run(run_dir, metrics)
    return metrics, table


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    options = parse(build_parser(), argv)
    config = training_config(options)
    single_device_only(
        config,
        "a search spreads its trials over processes itself (--workers), and keras-tuner's "
        "trials fail inside a tf.distribute scope (its scope stack is popped empty)",
    )
    role = os.environ.get(ROLE_ENV)
    if options.workers and role is None and options.output_dir is None:
        raise ValueError("--workers needs --output-dir, the folder the processes share")
    resuming = (
        options.output_dir is not None
        and (pathlib.Path(options.output_dir) / "search.json").is_file()
    )
    if role is not None or resuming:
        config = dataclasses.replace(config, resume=True)
    if role is not None:  # a chief or worker of --workers: the search only
        return _search_only(options, config)
    # a finished search goes on when the command asks for more trials
    with training.run("tune", config, options.as_dict(), extend=True) as run_dir:
        arrays = load_arrays(options, config)
        hypermodel = make_hypermodel(options, arrays.info)
        _check_search(run_dir, options, hypermodel)
        if options.workers:
            launch_workers(options, argv, run_dir)
        else:
            run_search(options, config, arrays, hypermodel, run_dir)
        metrics, table = finish(options, config, arrays, hypermodel, run_dir)
    print(table)
    value = metrics[f"retrained_{metrics['objective']}"]
    print(
        f"best trial {metrics['best_trial']}: {metrics['objective']} {value:.4f} (retrained)"
        f"  run folder: {run_dir}"
    )
    return metrics


def _check_search(run_dir, options, hypermodel):
    from zoo.hyper.search import check_same_search

    check_same_search(run_dir, describe(options, hypermodel))


def _search_only(options, config):
    run_dir = pathlib.Path(options.output_dir)
    arrays = load_arrays(options, config)
    hypermodel = make_hypermodel(options, arrays.info)
    run_search(options, config, arrays, hypermodel, run_dir)
    return {}


cli = command(main)

if __name__ == "__main__":
    sys.exit(cli())
