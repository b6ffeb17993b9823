"""Adversarial examples: FGSM against a trained LeNet-5, and adversarial training.

Goodfellow, Shlens & Szegedy (2015): moving every pixel by epsilon in the direction of
the sign of the loss gradient (the fast gradient sign method, `zoo.adversarial.fgsm`)
makes a network that classifies clean digits almost perfectly misclassify most of them,
with confidence. This recipe trains LeNet-5 on images scaled to [0, 1] (epsilon is a
fraction of the pixel range), attacks the test set at each `--epsilons` (white-box: the
gradient is the attacked model's own) and draws:

    accuracy_vs_epsilon.png  test accuracy against epsilon
    examples.png             original / perturbation / adversarial images with the
                             predicted class and its probability (at --epsilon)

With `--adversarial-training` it also trains the same network on the paper's mix of
clean and FGSM examples (`alpha J(x) + (1 - alpha) J(x_adv)`, x_adv at --epsilon against
the network as it trains, `zoo.adversarial.FGSMTraining`) and draws its curve beside the
standard one. Each network's `history.csv` and `best.keras` go to `<run folder>/standard/`
and `<run folder>/adversarial/`; the last one trained is exported.

    python -m recipes.adversarial                                # LeNet-5 modern, MNIST
    python -m recipes.adversarial --adversarial-training --epsilon 0.25
    python -m recipes.adversarial --model lenet5 --dataset digits --epsilons 0 0.1 0.2
"""

import sys

import numpy as np

from zoo import adversarial, data, plots, training

from ._common import (
    add_data_args,
    add_lenet5_args,
    add_training_args,
    command,
    compile_classifier,
    finish_study,
    fit_in,
    float_type,
    lenet5_data,
    lenet5_model,
    make_parser,
    non_negative_float,
    parse,
    positive_int,
    training_config,
    write_run_histories,
)

EPSILONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
PIXEL_RANGE = 255.0  # images are stored 0-255; epsilon is a fraction of this range


def build_parser():
    parser = make_parser("adversarial", __doc__)
    add_data_args(parser, dataset="mnist")
    add_lenet5_args(parser)
    attack = parser.add_argument_group("attack")
    attack.add_argument(
        "--epsilons",
        type=non_negative_float,
        nargs="+",
        default=list(EPSILONS),
        help="FGSM steps to evaluate, as fractions of the pixel range",
    )
    attack.add_argument(
        "--epsilon",
        type=non_negative_float,
        default=0.25,
        help="the step of the example figure and of adversarial training",
    )
    attack.add_argument(
        "--attack-examples",
        type=positive_int,
        default=10000,
        help="test examples attacked (the first ones)",
    )
    attack.add_argument(
        "--adversarial-training",
        action="store_true",
        help="also train on clean and FGSM examples, and compare",
    )
    attack.add_argument(
        "--alpha",
        type=float_type(0, 1),
        default=0.5,
        help="adversarial training: weight of the clean loss",
    )
    attack.add_argument(
        "--figure-examples", type=positive_int, default=8, help="test images in examples.png"
    )
    add_training_args(
        parser,
        epochs=10,
        batch_size=128,
        learning_rate=1e-3,
        export_name_help="adversarial, then _<dataset> unless mnist",
    )
    parser.set_defaults(model="lenet5_modern", normalize="minmax")
    return parser


def input_range(info):
    """`(scale, (low, high))`: input units per pixel-range fraction, and the inputs of
    pixel values 0 and 255, as the pipeline normalises them."""
    low = (0.0 - info.offset) / info.scale
    high = (PIXEL_RANGE - info.offset) / info.scale
    return high - low, (low, high)


def train(options, config, label, splits, info, run_dir, robust=False):
    """LeNet-5 as the options describe it, trained plainly or adversarially. Returns
    `(model, history)`."""
    train_ds, val_ds, _ = splits
    training.set_seed(config.seed)  # the same initial weights for both
    model = lenet5_model(options, config, info)
    fitted = model
    if robust:
        scale, clip = input_range(info)
        fitted = adversarial.FGSMTraining(
            model, epsilon=options.epsilon * scale, alpha=options.alpha, clip=clip
        )
        compile_classifier(fitted, config)
    fit = fit_in(run_dir / label, fitted, config, train_ds, validation_data=val_ds)
    training.check_converged(config, run_dir / label, model)
    return model, fit.history


def attack(options, model, info, x, y):
    """Accuracy against each epsilon (pixel-range fractions), as rows."""
    scale, clip = input_range(info)
    rows = adversarial.accuracy_under_attack(
        model, x, y, [e * scale for e in options.epsilons], clip=clip
    )
    for row, epsilon in zip(rows, options.epsilons, strict=True):
        row["epsilon"] = epsilon  # in pixel-range fractions, as asked
    return rows


def example_figure(options, model, info, x, y, path):
    """The slide: originals, the perturbations' signs and the adversarial images, each
    with the predicted class and its probability."""
    scale, clip = input_range(info)
    n = min(options.figure_examples, len(x))
    x, y = x[:n], y[:n]
    direction = np.asarray(adversarial.gradient_sign(model, x, y))
    x_adv = adversarial.fgsm(model, x, y, options.epsilon * scale, clip=clip)
    captions = {}
    adversarial_label = f"eps={options.epsilon:g}"
    for label, images in (("original", x), (adversarial_label, x_adv)):
        probabilities = model.predict(images, verbose=0)
        captions[label] = [f"{info.class_names[p.argmax()]} ({p.max():.0%})" for p in probabilities]
    shown = {  # each in [0, 1] for display
        "original": (x - clip[0]) / (clip[1] - clip[0]),
        "sign(grad)": (direction + 1) / 2,
        adversarial_label: (x_adv - clip[0]) / (clip[1] - clip[0]),
    }
    truth = ", ".join(info.class_names[int(label)] for label in y)
    plots.plot_image_rows(shown, path, n=n, captions=captions, title=f"true classes: {truth}")


def run(options, config, run_dir):
    """Training, the attacks, the figures and the export. Returns the metrics."""
    train_ds, val_ds, test_ds, info = lenet5_data(options, config)
    x_test, y_test = data.as_numpy(test_ds)
    x_test, y_test = x_test[: options.attack_examples], y_test[: options.attack_examples]
    labels = ["standard", *(["adversarial"] if options.adversarial_training else [])]
    models, histories, curves = {}, {}, {}
    for label in labels:
        robust = label == "adversarial"
        splits = (train_ds, val_ds, test_ds)
        models[label], histories[label] = train(
            options, config, label, splits, info, run_dir, robust=robust
        )
        curves[label] = attack(options, models[label], info, x_test, y_test)
    plots.plot_lines(
        [
            {
                "title": "FGSM on the test set",
                "xlabel": "epsilon (fraction of the pixel range)",
                "ylabel": "test accuracy",
                "marker": "o",
                "ylim": (0, 1.02),
                "series": {
                    f"{label} training": (
                        [row["epsilon"] for row in rows],
                        [row["accuracy"] for row in rows],
                    )
                    for label, rows in curves.items()
                },
            }
        ],
        run_dir / "accuracy_vs_epsilon.png",
        title=f"{options.model} on {options.dataset}",
    )
    example_figure(options, models["standard"], info, x_test, y_test, run_dir / "examples.png")
    write_run_histories(run_dir, histories, title="standard / adversarial training")
    last = labels[-1]
    metrics = {"curves": curves, "attack_examples": len(x_test), "epsilon": options.epsilon}
    for label, rows in curves.items():
        for key, epsilon in (
            ("clean_error_percent", 0.0),
            ("error_percent_at_epsilon", options.epsilon),
        ):
            row = _row_at(rows, epsilon)
            metrics[f"{label}_{key}"] = row and row["error_percent"]
    metrics.update(exported=last, epochs=len(histories[last]["loss"]))
    finish_study(options, config, run_dir, last, models[last], info, metrics, "adversarial")
    return metrics


def _row_at(rows, epsilon):
    """The row of `epsilon`, or None when it was not evaluated."""
    return next((row for row in rows if np.isclose(row["epsilon"], epsilon)), None)


def main(argv=None):
    options = parse(build_parser(), argv)
    config = training_config(options)
    with training.run("adversarial", config, options.as_dict()) as run_dir:
        metrics = run(options, config, run_dir)
    for label, rows in metrics["curves"].items():
        errors = ", ".join(f"{row['epsilon']:g}: {row['error_percent']:.1f}%" for row in rows)
        print(f"{label} training, test error by epsilon: {errors}")
    print(f"run folder: {run_dir}")
    return metrics


cli = command(main)

if __name__ == "__main__":
    sys.exit(cli())
