"""Quickstart: LeNet-5 on the bundled 8x8 digits, trained, exported and checked, offline.

The main job of the README. With no options and no network it trains the classic
LeNet-5 (LeCun et al. 1998) on scikit-learn's 1,797 handwritten digits (resized to
28x28, with mild random distortions), evaluates it on the held-out 20%, exports it to
`saved_models/lenet5_digits/<version>/` for TensorFlow Serving, reloads the export, checks
that its predictions match the Keras model's on the raw test images, and prints where
everything went. About a minute on two CPU cores.

    python -m recipes.quickstart
    python -m recipes.quickstart --model lenet5_modern --epochs 20
"""

import sys

from zoo import data
from zoo.export import verify_export

from ._common import (
    CLASSIFIER_SANITY,
    add_data_args,
    add_lenet5_args,
    add_training_args,
    command,
    lenet5_sanity,
    make_parser,
    parse,
    smoke_limit,
    train_lenet5,
    training_config,
)


def build_parser():
    parser = make_parser("quickstart", __doc__)
    add_data_args(parser, dataset="digits")
    add_lenet5_args(parser)
    add_training_args(
        parser,
        epochs=60,
        batch_size=32,
        learning_rate=3e-3,
        patience=20,
        sanity=CLASSIFIER_SANITY,
    )
    parser.set_defaults(
        augment=True, shift=0.05, rotation=5.0, zoom=0.05, export_name="lenet5_digits"
    )
    return parser


def main(argv=None):
    options = parse(build_parser(), argv)
    config = training_config(options)
    if options.sanity:
        return lenet5_sanity(options, config)
    model, info, metrics, run_dir, export_path = train_lenet5("quickstart", options, config)
    rows = [
        ("model", f"{model.name} ({model.count_params():,} parameters)"),
        (
            "data",
            f"{info.name}: {info.raw_shape[0]}x{info.raw_shape[1]} -> "
            f"{info.input_shape[0]}x{info.input_shape[1]}, {info.num_classes} classes",
        ),
        ("epochs", str(metrics["epochs"])),
        ("test accuracy", f"{100 * metrics['test_accuracy']:.2f} %"),
        ("run folder", f"{run_dir}  (config, history.csv, learning_curves.png, metrics)"),
    ]
    if export_path is not None:
        raw_test = data.load(
            options.dataset,
            "test",
            normalize=None,
            shuffle=False,
            manual_dir=options.data_dir,
            limit=smoke_limit(config),
        )
        raw_images, _ = data.as_numpy(raw_test)
        check = verify_export(export_path, model, raw_images, info)
        if not check["match"]:
            raise RuntimeError(
                f"The export at {export_path} does not reproduce the Keras model: largest "
                f"probability difference {check['max_abs_diff']:.2e}."
            )
        rows += [
            ("SavedModel", f"{export_path}  (signatures serving_default, serve_uint8)"),
            (
                "export check",
                f"reloaded; max |p_export - p_keras| = {check['max_abs_diff']:.1e}, "
                f"class agreement {100 * check['class_agreement']:.1f} %",
            ),
        ]
        metrics["export_check"] = check
    width = max(len(k) for k, _ in rows)
    print("\nzoo quickstart")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    return metrics


cli = command(main)

if __name__ == "__main__":
    sys.exit(cli())
