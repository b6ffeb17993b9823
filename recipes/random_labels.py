"""Deep networks easily fit random labels (Zhang et al. 2017), on a subset of MNIST.

The same network (default: Zhang et al.'s MLP 1x512; SGD at 0.1 with momentum 0.9, as
their Inception, without their decay; no regularisation) is trained until it classifies
the training examples right (`--target-accuracy`, 99% of the training subset at the end
of an epoch; the paper trains to 100%), or for `--epochs`, on the training subset with:

    true_labels      the data as they are
    random_labels    every training label replaced by a uniformly random class
    shuffled_pixels  one fixed random permutation of the pixels, the same for every image
    random_pixels    a different random permutation for each image
    gaussian         images of Gaussian noise with the training images' mean and variance

and on label corruption fractions between 0 and 1 (each training label replaced by a
random class with that probability). The network memorises all of them: training
accuracy reaches 100% while validation and test accuracy (on true labels) fall towards
chance as the corruption grows. `random_labels.png` is the paper's Figure 1: (a) the
training loss against thousands of steps for each variant, (b) the steps to reach the
target training accuracy against the corruption fraction, (c) the test error (and the training
error) against it. `learning_curves.png` draws every run's curves; each run's own
`history.csv` and `best.keras` go to `<run folder>/<run>/`. The true-label model is
exported.

    python -m recipes.random_labels                      # 5,000 MNIST images
    python -m recipes.random_labels --train-examples 1000 --corruption 0 0.5 1
    python -m recipes.random_labels --variants true_labels random_labels --epochs 50
"""

import sys

import numpy as np

from zoo import data, plots, training
from zoo.callbacks import EvaluateOn, StopAtTarget

from ._common import (
    add_data_args,
    add_training_args,
    command,
    compile_classifier,
    finish_study,
    fit_in,
    float_type,
    make_parser,
    mlp_classifier,
    parse,
    positive_int,
    training_config,
    write_run_histories,
)

VARIANTS = ("true_labels", "random_labels", "shuffled_pixels", "random_pixels", "gaussian")
CORRUPTIONS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
SMOKE_EXAMPLES = 256  # training examples under --smoke (and validation and test ones)


def build_parser():
    parser = make_parser("random_labels", __doc__)
    add_data_args(parser, dataset="mnist")
    study = parser.add_argument_group("study")
    study.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS,
        default=list(VARIANTS),
        help="what the network is trained on (Figure 1a)",
    )
    study.add_argument(
        "--corruption",
        nargs="*",
        type=float_type(0, 1),
        default=list(CORRUPTIONS),
        help="label corruption fractions (Figure 1b and 1c; 0 and 1 reuse the "
        "true_labels and random_labels runs when those are trained)",
    )
    study.add_argument(
        "--train-examples", type=positive_int, default=5000, help="training subset size"
    )
    study.add_argument(
        "--test-examples",
        type=positive_int,
        default=2000,
        help="validation and test examples (true labels)",
    )
    study.add_argument(
        "--hidden", type=positive_int, nargs="+", default=[512], help="hidden layers of the MLP"
    )
    study.add_argument(
        "--target-accuracy",
        type=float_type(0, 1, low_open=True),
        default=0.99,
        help="stop a run once its accuracy on the training subset at the end of an epoch "
        "reaches this (the paper: 100%%)",
    )
    add_training_args(
        parser,
        epochs=100,
        batch_size=128,
        learning_rate=0.1,
        optimizer="sgd",
        lr_schedule="none",
        patience=20,
        export_name_help="random_labels, then _<dataset> unless mnist",
    )
    return parser


# --- data ------------------------------------------------------------------------------


def load(options, config):
    """`(train, validation, test, info)`: numpy `(x, y)` pairs of images in [0, 1]."""
    keep = 100 - options.validation_percent
    smoke = SMOKE_EXAMPLES if config.smoke else None
    common = {
        "normalize": "minmax",
        "manual_dir": options.data_dir,
        "shuffle": False,
        "with_info": True,
    }
    train, info = data.load(
        options.dataset, f"train[:{keep}%]", limit=smoke or options.train_examples, **common
    )
    held_out = [
        data.load(options.dataset, split, limit=smoke or options.test_examples, **common)[0]
        for split in (f"train[{keep}%:]", "test")
    ]
    return (*(data.as_numpy(ds) for ds in (train, *held_out)), info)


def randomized(variant, splits, info, corruption, rng):
    """The three splits as `variant` (or a label corruption fraction) makes them: the
    training labels or the images of every split replaced as the paper does; validation
    and test labels stay true."""
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    images = [x_train, x_val, x_test]
    if variant == "random_labels":
        corruption = 1.0
    if corruption:
        corrupt = rng.random(len(y_train)) < corruption
        y_train = np.where(corrupt, rng.integers(0, info.num_classes, len(y_train)), y_train)
    if variant == "shuffled_pixels":
        order = rng.permutation(x_train[0].size)
        images = [x.reshape(len(x), -1)[:, order].reshape(x.shape) for x in images]
    elif variant == "random_pixels":
        images = [_permute_each(x, rng) for x in images]
    elif variant == "gaussian":
        mean, std = float(x_train.mean()), float(x_train.std())
        images = [rng.normal(mean, std, x.shape).astype("float32") for x in images]
    return (images[0], y_train), (images[1], y_val), (images[2], y_test)


def _permute_each(x, rng):
    """Each image's pixels in a random order of its own."""
    flat = x.reshape(len(x), -1)
    orders = np.argsort(rng.random(flat.shape), axis=1)
    return np.take_along_axis(flat, orders, axis=1).reshape(x.shape)


# --- runs ------------------------------------------------------------------------------


def train_one(options, config, label, splits, info, run_dir):
    """One network on one version of the data, until it fits the training set. Returns
    `(model, history, row)`."""
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    training.set_seed(config.seed)  # the same initial weights for every run
    model = mlp_classifier(info, options.hidden, name="mlp")
    # --smoke: two batches, which run faster than they trace
    compile_classifier(model, config, run_eagerly=config.smoke)
    # The target is judged on the whole training set with the epoch's final weights, not
    # on Keras' running mean over the epoch's batches.
    measure = EvaluateOn(x_train, y_train, prefix="train_")
    stop = StopAtTarget("train_accuracy", options.target_accuracy)
    # Early stopping and the checkpoint watch the training loss: fitting the training
    # set is the point, and the validation loss of random labels only rises.
    fit = fit_in(
        run_dir / label,
        model,
        config,
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        monitor="loss",
        first=[measure],
        extra=[stop],
    )
    training.check_converged(config, run_dir / label, model)
    steps_per_epoch = -(-len(x_train) // config.batch_size)
    train_accuracy = model.evaluate(x_train, y_train, verbose=0)[1]
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    row = {
        "epochs": len(fit.history["loss"]),
        "steps_per_epoch": steps_per_epoch,
        "reached_epoch": stop.reached_epoch,
        "reached_steps": stop.reached_epoch and stop.reached_epoch * steps_per_epoch,
        "train_accuracy": train_accuracy,
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
    }
    return model, fit.history, row


def run(options, config, run_dir):
    """Every variant and corruption fraction, Figure 1, the export. Returns the metrics."""
    *splits, info = load(options, config)
    rng = np.random.default_rng(config.seed)
    plan = {variant: (variant, 0.0) for variant in options.variants}
    for fraction in options.corruption:
        plan.setdefault(_corruption_run(fraction, plan), ("true_labels", fraction))
    models, histories, rows = {}, {}, {}
    for label, (variant, fraction) in plan.items():
        version = randomized(variant, splits, info, fraction, rng)
        models[label], histories[label], rows[label] = train_one(
            options, config, label, version, info, run_dir
        )
    curve = {
        fraction: rows[_corruption_run(fraction, plan)]
        for fraction in sorted(set(options.corruption))
    }
    figure_one(options, histories, rows, curve, run_dir / "random_labels.png")
    write_run_histories(run_dir, histories, title="every run")
    metrics = {
        "runs": rows,
        "corruption": {f"{fraction:g}": row for fraction, row in curve.items()},
        "train_examples": len(splits[0][0]),
        "test_examples": len(splits[2][0]),
    }
    first = "true_labels" if "true_labels" in models else next(iter(models))
    metrics.update(exported=first, epochs=rows[first]["epochs"])
    finish_study(options, config, run_dir, first, models[first], info, metrics, "random_labels")
    return metrics


def _corruption_run(fraction, plan):
    """The run of a corruption fraction: true_labels for 0 and random_labels for 1 when
    they are planned, `corrupt_<fraction>` otherwise."""
    same = {0.0: "true_labels", 1.0: "random_labels"}.get(fraction)
    return same if same in plan else f"corrupt_{fraction:g}"


def figure_one(options, histories, rows, curve, path):
    """Zhang et al.'s Figure 1: (a) loss curves, (b) time to fit, (c) errors, against the
    corruption fraction."""
    panels = [
        {
            "title": "(a) training loss",
            "xlabel": "thousand steps",
            "ylabel": "average loss",
            "series": {
                label: (
                    np.arange(1, len(histories[label]["loss"]) + 1)
                    * rows[label]["steps_per_epoch"]
                    / 1000,
                    histories[label]["loss"],
                )
                for label in options.variants
            },
        }
    ]
    if curve:
        fractions = list(curve)
        reached = [row["reached_steps"] for row in curve.values()]
        panels.append(
            {
                "title": f"(b) time to {options.target_accuracy:.0%} training accuracy",
                "xlabel": "label corruption",
                "ylabel": "thousand steps (missing: not reached)",
                "marker": "o",
                "series": {
                    "steps": (
                        fractions,
                        [np.nan if steps is None else steps / 1000 for steps in reached],
                    )
                },
            }
        )
        panels.append(
            {
                "title": "(c) error",
                "xlabel": "label corruption",
                "ylabel": "error",
                "marker": "o",
                "ylim": (-0.02, 1.0),
                "series": {
                    "test": (fractions, [1 - row["test_accuracy"] for row in curve.values()]),
                    "training": (
                        fractions,
                        [1 - row["train_accuracy"] for row in curve.values()],
                    ),
                },
            }
        )
    plots.plot_lines(panels, path, title=f"fitting random labels: MLP on {options.dataset}")


def main(argv=None):
    options = parse(build_parser(), argv)
    config = training_config(options)
    with training.run("random_labels", config, options.as_dict()) as run_dir:
        metrics = run(options, config, run_dir)
    for label, row in metrics["runs"].items():
        reached = f"epoch {row['reached_epoch']}" if row["reached_epoch"] else "not reached"
        print(
            f"{label:<16} training accuracy {row['train_accuracy']:.4f} ({reached}), "
            f"test accuracy {row['test_accuracy']:.4f}"
        )
    print(f"run folder: {run_dir}")
    return metrics


cli = command(main)

if __name__ == "__main__":
    sys.exit(cli())
