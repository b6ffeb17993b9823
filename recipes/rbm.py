"""Train a restricted Boltzmann machine by contrastive divergence, and look at what it learned.

A Bernoulli-Bernoulli RBM (images in [0, 1], optionally binarised) or a Gaussian-Bernoulli
one (standardised inside the model), trained by CD-k or persistent CD with SGD and the
practical guide's momentum (0.5, then 0.9) and weight decay. Every epoch it logs the
guide's monitors: reconstruction error, pseudo-log-likelihood (Bernoulli visibles) and
the free-energy gap between training and validation data. It writes into the run folder:

- `filters.png`: the weights of the first 64 hidden units, as images;
- `samples.png`: Gibbs chains started at test images, after 1, 10, 100 and 1000 steps;
- `reconstructions.png`: test images and their mean-field reconstructions;
- `learning_curves.png` and `history.csv`: the monitors per epoch;
- `rbm.keras`: the trained model (`keras.saving.load_model` reads it);
- `metrics.json`: test reconstruction error, pseudo-log-likelihood, free-energy gap, the
  linear-probe accuracy of the hidden probabilities and, with `--ais-runs`, the AIS
  estimate of the test log-probability in nats (Salakhutdinov & Murray 2008);

and exports the model (hidden probabilities, reconstruction and free energy per image)
to `saved_models/<export name>/<version>/`.

    python -m recipes.rbm                                     # digits, seconds
    python -m recipes.rbm --dataset mnist --binarize --units 500 --ais-runs 100
    python -m recipes.rbm --dataset mnist --binarize --units 500 --persistent-chains 100 \\
        --learning-rate 0.01 --final-momentum 0.5
    python -m recipes.rbm --visible gaussian --learning-rate 0.01
"""

import argparse

import keras
import numpy as np

import zoo
from zoo import analysis, data, plots, training
from zoo.callbacks import MomentumSchedule
from zoo.likelihood import (
    ais_log_likelihood,
    free_energy_gap,
    pseudo_log_likelihood,
    reconstruction_error,
)
from zoo.models.rbm import pretrain

SMOKE_EXAMPLES = 256
MODEL_FILE = "rbm.keras"
SAMPLE_STEPS = (1, 10, 100, 1000)


def build_parser(description=__doc__):
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_args(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--visible", choices=("bernoulli", "gaussian"), default="bernoulli")
    model.add_argument("--units", type=int, default=256, help="hidden units")
    add_cd_args(parser)
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument(
        "--ais-runs", type=int, default=0, help="AIS runs for the test log-probability (0: off)"
    )
    evaluation.add_argument("--ais-betas", type=int, default=10000, help="AIS temperatures")
    evaluation.add_argument(
        "--probe-examples",
        type=int,
        default=10000,
        help="training examples for the linear probe (0: all; -1: no probe)",
    )
    evaluation.add_argument("--export-name", default=None, help="default: the model name")
    training.add_training_args(
        parser, epochs=20, batch_size=100, learning_rate=0.1, optimizer="sgd", lr_schedule="none"
    )
    return parser


def add_data_args(parser):
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", default="digits", help="digits, mnist, fashion_mnist, ...")
    group.add_argument("--data-dir", default=None, help="folder with the original files")
    group.add_argument("--validation-percent", type=int, default=10, help="held out of train")
    group.add_argument(
        "--binarize", action="store_true", help="threshold pixels at 0.5 (binarised MNIST)"
    )


def add_cd_args(parser):
    """Contrastive-divergence options shared with the DBN recipe."""
    group = parser.add_argument_group("contrastive divergence")
    group.add_argument("--k", type=int, default=1, help="Gibbs steps per update (CD-k)")
    group.add_argument(
        "--persistent-chains", type=int, default=0, help="persistent CD with this many chains"
    )
    group.add_argument(
        "--mean-field-visible",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="CD-k reconstructs visible probabilities instead of samples (Hinton's code)",
    )
    group.add_argument(
        "--weight-decay", type=float, default=2e-4, help="L2 weight cost on W (the guide's)"
    )
    group.add_argument("--momentum", type=float, default=0.5, help="initial SGD momentum")
    group.add_argument("--final-momentum", type=float, default=0.9, help="momentum later on")
    group.add_argument("--momentum-switch", type=int, default=5, help="epoch of the final momentum")


# --- data ------------------------------------------------------------------------------


def load_data(args):
    """Train, validation and test images in [0, 1] (binarised with `--binarize`) and
    labels as numpy arrays, with the dataset info."""
    splits = data.load_splits(
        args.dataset,
        args.validation_percent,
        batch_size=256,
        normalize="minmax",
        manual_dir=args.data_dir,
        seed=args.seed,
        limit=SMOKE_EXAMPLES if args.smoke else None,
    )
    *pipelines, info = splits
    arrays = [data.as_numpy(ds) for ds in pipelines]
    if args.binarize:
        arrays = [((x > 0.5).astype("float32"), y) for x, y in arrays]
    return arrays, info


# --- train -----------------------------------------------------------------------------


def optimizer_and_schedule(args):
    """SGD at the initial momentum plus the momentum schedule, or another optimizer."""
    if args.optimizer != "sgd":
        return training.make_optimizer(args), []
    optimizer = keras.optimizers.SGD(args.learning_rate, momentum=args.momentum)
    if args.momentum > 0 and args.final_momentum != args.momentum:
        return optimizer, [MomentumSchedule(args.final_momentum, args.momentum_switch)]
    return optimizer, []


def layer_callbacks(args, history_file):
    """Early stopping on the validation reconstruction error, LR decay, the CSV log."""
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.EarlyStopping(
            monitor="val_reconstruction_error",
            mode="min",
            patience=args.patience,
            restore_best_weights=True,
            # the error jumps when the momentum rises; judge from then on
            start_from_epoch=args.momentum_switch if args.optimizer == "sgd" else 0,
        ),
    ]
    decay = training.lr_schedule_callback(
        args.lr_schedule,
        args.learning_rate,
        args.epochs,
        step=args.lr_step,
        gamma=args.lr_gamma,
        monitor="val_reconstruction_error",
    )
    if decay is not None:
        callbacks.append(decay)
    return [*callbacks, keras.callbacks.CSVLogger(str(history_file))]


def train(args, stack, run_dir, x_train, x_val, epochs):
    """Greedy training of every RBM of `stack` with the recipe's optimizer and callbacks;
    RBM i logs to `history.csv` (one RBM) or `pretrain_rbm<i>.csv`."""

    def optimizer():
        return optimizer_and_schedule(args)[0]

    def callbacks(i):
        name = training.HISTORY_FILE if len(stack.rbms) == 1 else f"pretrain_rbm{i}.csv"
        return [*optimizer_and_schedule(args)[1], *layer_callbacks(args, run_dir / name)]

    return pretrain(
        stack,
        x_train,
        epochs=1 if args.smoke else epochs,
        batch_size=args.batch_size,
        optimizer=optimizer,
        validation_data=x_val,
        callbacks=callbacks,
        verbose=2 if args.smoke else "auto",
    )


# --- evaluate, figures, export ---------------------------------------------------------


def evaluate(args, stack, splits):
    (x_train, y_train), _, (x_test, y_test) = splits
    rbm = stack.rbms[0]
    visible_train = np.asarray(stack.visible_data(x_train[:10000]))
    visible_test = np.asarray(stack.visible_data(x_test))
    metrics = {
        "test_reconstruction_error": reconstruction_error(rbm, visible_test),
        "free_energy_gap": free_energy_gap(rbm, visible_train, visible_test[: len(visible_train)]),
    }
    if rbm.visible == "bernoulli":
        metrics["test_pseudo_log_likelihood"] = pseudo_log_likelihood(rbm, visible_test)
    if args.ais_runs > 0 and rbm.visible == "bernoulli":
        ais = ais_log_likelihood(
            rbm,
            visible_test,
            runs=args.ais_runs,
            betas=args.ais_betas,
            base_data=visible_train,
            seed=args.seed,
        )
        metrics.update({f"ais_{key}": value for key, value in ais.items()})
    if args.probe_examples >= 0:
        n = args.probe_examples or len(x_train)
        probe = analysis.linear_probe(stack, x_train[:n], y_train[:n], x_test, y_test)
        metrics.update(probe_accuracy=probe["accuracy"], probe_error_percent=probe["error_percent"])
    return metrics


def write_figures(stack, info, x_test, run_dir, n=10):
    rbm = stack.rbms[0]
    kernel = keras.ops.convert_to_numpy(rbm.kernel)
    plots.plot_filters(kernel, info.input_shape, run_dir / "filters.png", title="RBM filters")
    x = x_test[:n]
    rows = {"start": x}
    for steps in SAMPLE_STEPS:
        rows[f"{steps} steps"] = np.asarray(stack.sample(x, steps=steps))
    plots.plot_image_rows(rows, run_dir / "samples.png", n=len(x), title="Gibbs chains")
    plots.plot_image_rows(
        {"input": x, "reconstructed": np.asarray(stack.reconstruct(x))},
        run_dir / "reconstructions.png",
        n=len(x),
    )


def build_model(args, info):
    name = "rbm" if args.visible == "bernoulli" else "gaussian_rbm"
    return zoo.create_model(
        name,
        input_shape=info.input_shape,
        units=args.units,
        k=args.k,
        persistent_chains=args.persistent_chains,
        mean_field_visible=args.mean_field_visible,
        kernel_regularizer=weight_decay(args),
        seed=args.seed,
    )


def weight_decay(args):
    """The guide's weight cost c (gradient c W) as Keras' L2 penalty (c / 2) ||W||^2."""
    return keras.regularizers.L2(args.weight_decay / 2) if args.weight_decay > 0 else None


def main(argv=None):
    args = build_parser().parse_args(argv)
    run_dir = training.start_run("rbm", args)
    splits, info = load_data(args)
    (x_train, _), (x_val, _), (x_test, _) = splits
    stack = build_model(args, info)
    train(args, stack, run_dir, x_train, x_val, args.epochs)
    metrics = evaluate(args, stack, splits)
    metrics["epochs"] = len(training.read_history(run_dir / training.HISTORY_FILE).get("epoch", []))
    write_figures(stack, info, x_test, run_dir)
    stack.save(run_dir / MODEL_FILE)
    training.export_run(args, stack, info, metrics, stack.name)
    training.finish_run(run_dir, metrics)
    summary = f"test reconstruction error {metrics['test_reconstruction_error']:.4f}"
    if "test_pseudo_log_likelihood" in metrics:
        summary += f", pseudo-log-likelihood {metrics['test_pseudo_log_likelihood']:.2f}"
    if "ais_mean_log_prob" in metrics:
        summary += f", AIS log-probability {metrics['ais_mean_log_prob']:.2f} nats"
    if "probe_accuracy" in metrics:
        summary += f", linear probe accuracy {100 * metrics['probe_accuracy']:.2f}%"
    print(f"{summary}  run folder: {run_dir}")
    return metrics


if __name__ == "__main__":
    main()
