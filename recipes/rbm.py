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
  estimate of the test log-probability in nats (Salakhutdinov & Murray 2008); beside
  them the validation images' pseudo-log-likelihood, probe error and log-probability
  (under the same log Z), for choosing settings without reading the test set;

and exports the model (hidden probabilities, reconstruction and free energy per image)
to `saved_models/<export name>/<version>/`.

    python -m recipes.rbm                                     # digits, seconds
    python -m recipes.rbm --dataset mnist --binarize --units 500 --ais-runs 100
    python -m recipes.rbm --dataset mnist --binarize --units 500 --persistent-chains 100 \\
        --learning-rate 0.01 --final-momentum 0.5
    python -m recipes.rbm --visible gaussian --learning-rate 0.01
    python -m recipes.rbm --sanity           # does CD reconstruct 128 digits?
"""

import sys

import keras
import numpy as np

import zoo
from zoo import plots, training
from zoo._checks import MAX_UNITS
from zoo.likelihood import (
    ais_log_likelihood,
    free_energy_gap,
    mean_log_probability,
    pseudo_log_likelihood,
    reconstruction_error,
)

from ._common import (
    CD_OPTIMIZER_OPTIONS,
    CD_SINGLE_DEVICE,
    RBM_SANITY,
    add_cd_args,
    add_probe_arg,
    add_rbm_data_args,
    add_training_args,
    binarized,
    command,
    export_name,
    int_type,
    make_parser,
    parse,
    positive_int,
    probe_metrics,
    rbm_data,
    rbm_sanity_check,
    report_sanity,
    single_device_only,
    train_rbms,
    training_config,
    training_subset,
    weight_decay,
)

MODEL_FILE = "rbm.keras"
SAMPLE_STEPS = (1, 10, 100, 1000)


def build_parser():
    parser = make_parser("rbm", __doc__)
    add_rbm_data_args(parser, dataset="digits")
    model = parser.add_argument_group("model")
    model.add_argument(
        "--visible", choices=("bernoulli", "gaussian"), default="bernoulli", help="visible units"
    )
    model.add_argument("--units", type=int_type(1, MAX_UNITS), default=256, help="hidden units")
    add_cd_args(parser)
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument(
        "--ais-runs",
        type=int_type(low=0),
        default=0,
        help="AIS runs for the test log-probability (0: off)",
    )
    evaluation.add_argument(
        "--ais-betas", type=positive_int, default=10000, help="AIS temperatures"
    )
    add_probe_arg(evaluation)
    add_training_args(
        parser,
        epochs=20,
        batch_size=100,
        learning_rate=0.1,
        optimizer="sgd",
        lr_schedule="none",
        sanity=RBM_SANITY,
        optimizer_options=CD_OPTIMIZER_OPTIONS,
    )
    return parser


# --- evaluate, figures, export ---------------------------------------------------------


def evaluate(options, stack, splits):
    """Test figures, and the validation figures that settings are chosen on."""
    (x_train, _), (x_val, _), (x_test, _) = splits
    rbm = stack.rbms[0]
    visible_train = np.asarray(stack.visible_data(x_train[:10000]))
    visible_val = np.asarray(stack.visible_data(x_val))
    visible_test = np.asarray(stack.visible_data(x_test))
    metrics = {
        "test_reconstruction_error": reconstruction_error(rbm, visible_test),
        "free_energy_gap": free_energy_gap(rbm, visible_train, visible_test[: len(visible_train)]),
    }
    if rbm.visible == "bernoulli":
        metrics["test_pseudo_log_likelihood"] = pseudo_log_likelihood(rbm, visible_test)
        metrics["val_pseudo_log_likelihood"] = pseudo_log_likelihood(rbm, visible_val)
    if options.ais_runs > 0 and rbm.visible == "bernoulli":
        ais = ais_log_likelihood(
            rbm,
            visible_test,
            runs=options.ais_runs,
            betas=options.ais_betas,
            base_data=visible_train,
            seed=options.seed,
        )
        metrics.update({f"ais_{key}": value for key, value in ais.items()})
        metrics["ais_val_mean_log_prob"] = mean_log_probability(rbm, visible_val, ais["log_z"])
    if options.probe_examples >= 0:
        metrics.update(probe_metrics(stack, splits, options.probe_examples))
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


def build_model(options, info):
    name = "rbm" if options.visible == "bernoulli" else "gaussian_rbm"
    return zoo.create_model(
        name,
        input_shape=info.input_shape,
        units=options.units,
        k=options.k,
        persistent_chains=options.persistent_chains,
        mean_field_visible=options.mean_field_visible,
        kernel_regularizer=weight_decay(options),
        seed=options.seed,
    )


def sanity(options, config):
    """`--sanity`: the RBM without weight decay, trained by CD on the subset; its
    reconstruction error must halve. Returns the result as a dict."""
    training.set_seed(config.seed)
    x, _, info = training_subset(options, normalize="minmax")
    x = binarized(options, x)
    stack = build_model(options.replace(weight_cost=0.0), info)
    return report_sanity(rbm_sanity_check(options, config, stack, x))


def run(options, config, run_dir):
    """Train, measure, draw, save and export the RBM; returns the metrics."""
    splits, info = rbm_data(options, config)
    (x_train, _), (x_val, _), (x_test, _) = splits
    stack = build_model(options, info)
    train_rbms(options, config, stack, run_dir, x_train, x_val)
    metrics = evaluate(options, stack, splits)
    metrics["epochs"] = training.epochs_run(run_dir)
    write_figures(stack, info, x_test, run_dir)
    stack.save(run_dir / MODEL_FILE)
    name = export_name(stack.name, options.dataset)
    training.export_run(config, run_dir, stack, info, metrics, name, options.export_metadata())
    training.finish_run(run_dir, metrics)
    return metrics


def main(argv=None):
    options = parse(build_parser(), argv)
    config = training_config(options)
    single_device_only(config, CD_SINGLE_DEVICE)
    if options.sanity:
        return sanity(options, config)
    with training.run("rbm", config, options.as_dict()) as run_dir:
        metrics = run(options, config, run_dir)
    summary = f"test reconstruction error {metrics['test_reconstruction_error']:.4f}"
    if "test_pseudo_log_likelihood" in metrics:
        summary += f", pseudo-log-likelihood {metrics['test_pseudo_log_likelihood']:.2f}"
    if "ais_mean_log_prob" in metrics:
        summary += f", AIS log-probability {metrics['ais_mean_log_prob']:.2f} nats"
    if "probe_accuracy" in metrics:
        summary += f", linear probe accuracy {100 * metrics['probe_accuracy']:.2f}%"
    print(f"{summary}  run folder: {run_dir}")
    return metrics


cli = command(main)

if __name__ == "__main__":
    sys.exit(cli())
