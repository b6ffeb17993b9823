"""The vanishing gradient, seen: a deep MLP's gradient norm per layer, sigmoid against ReLU.

A sigmoid's derivative is at most 1/4, so each sigmoid layer with small weights shrinks
the gradient flowing back through it, and the first layers of a deep network hardly
learn (Glorot & Bengio 2010). This recipe trains the same deep MLP (default: 10 hidden
layers of 100 units) in several configurations and records, with
`zoo.callbacks.GradientNorms`, the norm of the loss gradient of each layer's kernel
before training and after each epoch, on a fixed sample of training images:

    sigmoid_normal     sigmoid, Keras' random_normal (stddev 0.05): vanishes
    sigmoid_glorot     sigmoid, Glorot uniform initialisation
    sigmoid_glorot_bn  ... and batch normalisation before each activation
    relu_normal        ReLU, random_normal
    relu_he            ReLU, He normal initialisation
    relu_he_bn         ... and batch normalisation

`gradient_norms.png` draws the norms (layers x epochs, one panel per configuration, one
log colour scale); `learning_curves.png` draws every configuration's learning curves side
by side; `gradient_norms.json` holds the numbers. Each configuration's own `history.csv`
and `best.keras` go to `<run folder>/<configuration>/`; the best configuration (validation
accuracy) is exported.

    python -m recipes.gradients                             # MNIST, six configurations
    python -m recipes.gradients --configs sigmoid_normal relu_he --epochs 3
    python -m recipes.gradients --depth 20 --optimizer adam --learning-rate 1e-3
"""

import sys

import numpy as np

from zoo import data, plots, training
from zoo.callbacks import GradientNorms

from ._common import (
    add_data_args,
    add_training_args,
    command,
    compile_classifier,
    finish_study,
    fit_in,
    int_type,
    make_parser,
    mlp_classifier,
    non_negative_int,
    parse,
    positive_int,
    single_device_only,
    smoke_limit,
    training_config,
    write_run_histories,
)

# name -> (activation, kernel initializer, batch normalisation)
CONFIGS = {
    "sigmoid_normal": ("sigmoid", "random_normal", False),
    "sigmoid_glorot": ("sigmoid", "glorot_uniform", False),
    "sigmoid_glorot_bn": ("sigmoid", "glorot_uniform", True),
    "relu_normal": ("relu", "random_normal", False),
    "relu_he": ("relu", "he_normal", False),
    "relu_he_bn": ("relu", "he_normal", True),
}


def build_parser():
    parser = make_parser("gradients", __doc__)
    add_data_args(parser, dataset="mnist")
    study = parser.add_argument_group("study")
    study.add_argument(
        "--configs",
        nargs="+",
        choices=tuple(CONFIGS),
        default=list(CONFIGS),
        help="configurations to train, in this order",
    )
    study.add_argument("--depth", type=int_type(1, 100), default=10, help="hidden layers")
    study.add_argument("--units", type=positive_int, default=100, help="units per hidden layer")
    study.add_argument(
        "--examples",
        type=non_negative_int,
        default=0,
        help="examples per split (0: all; --smoke: 256)",
    )
    study.add_argument(
        "--gradient-examples",
        type=positive_int,
        default=512,
        help="fixed training examples the gradient norms are measured on",
    )
    study.add_argument(
        "--gradient-batch-size",
        type=positive_int,
        default=128,
        help="the norms are averaged over batches of this size",
    )
    add_training_args(
        parser,
        epochs=5,
        batch_size=128,
        learning_rate=0.01,
        optimizer="sgd",
        lr_schedule="none",
        export_name_help="gradients, then _<dataset> unless mnist",
    )
    return parser


def load(options, config):
    """Pipelines of images in [0, 1] and the fixed sample of the gradient norms."""
    train, val, test, info = data.load_splits(
        options.dataset,
        options.validation_percent,
        batch_size=config.batch_size,
        normalize="minmax",
        manual_dir=options.data_dir,
        seed=config.seed,
        limit=smoke_limit(config) or options.examples or None,
    )
    batches = -(-options.gradient_examples // config.batch_size)  # rounded up
    x, y = data.as_numpy(train.take(batches))
    sample = (x[: options.gradient_examples], y[: options.gradient_examples])
    return (train, val, test, info), sample


def train_config(options, config, name, splits, sample, run_dir):
    """One configuration, trained with the gradient monitor. Returns `(model, history,
    monitor)`."""
    train, val, _, info = splits
    activation, initializer, batch_norm = CONFIGS[name]
    training.set_seed(config.seed)  # every configuration from the same seed
    model = mlp_classifier(
        info,
        [options.units] * options.depth,
        activation=activation,
        kernel_initializer=initializer,
        batch_norm=batch_norm,
        name="mlp",
    )
    # --smoke: two batches, which run faster than they trace
    compile_classifier(model, config, run_eagerly=config.smoke)
    monitor = GradientNorms(*sample, batch_size=options.gradient_batch_size)
    fit = fit_in(run_dir / name, model, config, train, validation_data=val, extra=[monitor])
    return model, fit.history, monitor


def run(options, config, run_dir):
    """Every configuration, the figures, the export. Returns the metrics."""
    splits, sample = load(options, config)
    test, info = splits[2], splits[3]
    models, histories, monitors, rows = {}, {}, {}, {}
    for name in dict.fromkeys(options.configs):
        models[name], histories[name], monitors[name] = train_config(
            options, config, name, splits, sample, run_dir
        )
        norms = monitors[name].as_array()
        test_loss, test_accuracy = models[name].evaluate(test, verbose=0)
        rows[name] = {
            "epochs": len(histories[name]["loss"]),
            "val_accuracy": histories[name]["val_accuracy"][-1],
            "test_accuracy": test_accuracy,
            "test_loss": test_loss,
            # how much weaker the first layer's gradient is than the last hidden one's
            "first_to_last_hidden_at_start": float(norms[0, 0] / norms[0, -2]),
            "first_to_last_hidden_at_end": float(norms[-1, 0] / norms[-1, -2]),
        }
    training.write_json(
        run_dir / "gradient_norms.json",
        {
            name: {"layers": m.layer_names, "epochs": m.epochs, "norms": m.norms}
            for name, m in monitors.items()
        },
    )
    layers = len(next(iter(monitors.values())).layer_names)
    plots.plot_heatmaps(
        {name: m.as_array().T for name, m in monitors.items()},
        run_dir / "gradient_norms.png",
        xlabel="epoch",
        ylabel="layer (input side at the bottom)",
        colorbar="gradient norm",
        row_labels=[*range(1, layers), "out"],
        title=f"||dL/dW|| per layer and epoch (0: before training), {options.depth}x"
        f"{options.units} MLP on {options.dataset}",
    )
    write_run_histories(run_dir, histories, title="learning curves")
    best = max(rows, key=lambda name: np.nan_to_num(rows[name]["val_accuracy"], nan=-1.0))
    metrics = {
        "configs": rows,
        "best_config": best,
        "test_accuracy": rows[best]["test_accuracy"],
        "epochs": rows[best]["epochs"],
    }
    finish_study(options, config, run_dir, best, models[best], info, metrics, "gradients")
    return metrics


def main(argv=None):
    options = parse(build_parser(), argv)
    config = training_config(options)
    single_device_only(
        config,
        "zoo.callbacks.GradientNorms takes the loss gradient outside a replica context, which "
        "tf.distribute does not allow",
    )
    with training.run("gradients", config, options.as_dict()) as run_dir:
        metrics = run(options, config, run_dir)
    for name, row in metrics["configs"].items():
        start, end = row["first_to_last_hidden_at_start"], row["first_to_last_hidden_at_end"]
        print(
            f"{name:<18} gradient norm, first / last hidden layer: {start:.1e} before "
            f"training, {end:.1e} after; test accuracy {row['test_accuracy']:.4f}"
        )
    print(f"best: {metrics['best_config']}  run folder: {run_dir}")
    return metrics


cli = command(main)

if __name__ == "__main__":
    sys.exit(cli())
