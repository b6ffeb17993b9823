"""Anomaly detection from reconstruction error: MNIST-trained autoencoder, Fashion-MNIST outliers.

An autoencoder reconstructs what looks like its training data and fails on the rest, so
the reconstruction error is an out-of-distribution score. This recipe trains an
autoencoder (default: `ae/conv`) on one dataset, fits the anomaly threshold as a quantile
of the training images' errors, and scores the test images of that dataset (inliers)
against the test images of another (outliers). It reports ROC AUC and average precision
(threshold-free) and the precision, recall and false-positive rate at the threshold, and
writes `error_histogram.png`. The export's `reconstruction_error` output is the score;
the threshold is in its metadata.

    python -m recipes.anomaly                                        # MNIST vs Fashion-MNIST
    python -m recipes.anomaly --dataset fashion_mnist --outliers mnist
    python -m recipes.anomaly --variant denoising --quantile 0.95
"""

import sys

from zoo import analysis, data, plots, training

from ._common import (
    RECONSTRUCTION_SANITY,
    add_autoencoder_args,
    add_data_args,
    add_training_args,
    autoencoder_sanity,
    command,
    dataset_type,
    fraction,
    make_parser,
    parse,
    run_autoencoder,
    smoke_limit,
    training_config,
)


def build_parser():
    parser = make_parser("anomaly", __doc__)
    add_data_args(parser, dataset="mnist")
    add_autoencoder_args(parser)
    group = parser.add_argument_group("anomaly")
    group.add_argument(
        "--outliers",
        type=dataset_type("--outliers"),
        default="fashion_mnist",
        help="out-of-distribution set",
    )
    group.add_argument("--outlier-data-dir", default=None, help="its original files")
    group.add_argument(
        "--quantile",
        type=fraction,
        default=0.99,
        help="threshold: this quantile of the training images' errors",
    )
    add_training_args(
        parser,
        epochs=10,
        batch_size=128,
        learning_rate=1e-3,
        export_name_help="anomaly_<dataset>",
        sanity=RECONSTRUCTION_SANITY,
    )
    parser.set_defaults(variant="conv", probe_examples=-1)
    return parser


def run(options, config, run_dir):
    """Train, threshold, score inliers against outliers, export; returns the metrics."""
    model, info, metrics, arrays = run_autoencoder(options, config, run_dir)

    # --- threshold on the training errors, then inliers against outliers ----------------
    x_train, _ = data.as_numpy(arrays["splits"][0])
    threshold = analysis.fit_threshold(
        analysis.reconstruction_errors(model, x_train), options.quantile
    )
    outliers = data.load(
        options.outliers,
        "test",
        normalize="minmax",
        image_size=info.input_shape[:2],
        manual_dir=options.outlier_data_dir,
        limit=smoke_limit(config),
        shuffle=False,
    )
    x_out, _ = data.as_numpy(outliers)
    if x_out.shape[1:] != arrays["x_test"].shape[1:]:
        raise ValueError(
            f"outliers must have the training images' shape {arrays['x_test'].shape[1:]}. "
            f"Received: outliers={options.outliers!r} with shape {x_out.shape[1:]}"
        )
    out_errors = analysis.reconstruction_errors(model, x_out)
    report = analysis.anomaly_report(arrays["errors"], out_errors, threshold)
    metrics.update({f"anomaly_{key}": value for key, value in report.items()})
    metrics.update(inliers=options.dataset, outliers=options.outliers, quantile=options.quantile)

    # --- figure, export, record ----------------------------------------------------------
    plots.plot_histogram(
        [arrays["errors"], out_errors],
        run_dir / "error_histogram.png",
        labels=[f"{options.dataset} test (inliers)", f"{options.outliers} test (outliers)"],
        threshold=threshold,
        xlabel="reconstruction MSE",
        title=f"ROC AUC {report['roc_auc']:.3f}",
    )
    metadata = {**options.export_metadata(), "threshold": threshold}
    name = f"anomaly_{options.dataset}"
    training.export_run(config, run_dir, model, info, metrics, name, metadata)
    training.finish_run(run_dir, metrics)
    return metrics


def main(argv=None):
    options = parse(build_parser(), argv)
    config = training_config(options)
    if options.sanity:
        return autoencoder_sanity(options, config)
    with training.run("anomaly", config, options.as_dict()) as run_dir:
        metrics = run(options, config, run_dir)
    report = {key.removeprefix("anomaly_"): value for key, value in metrics.items()}
    print(
        f"{options.dataset} vs {options.outliers}: ROC AUC {report['roc_auc']:.4f}, "
        f"precision {report['precision']:.3f} and recall {report['recall']:.3f} at the "
        f"{options.quantile} quantile threshold  run folder: {run_dir}"
    )
    return metrics


cli = command(main)

if __name__ == "__main__":
    sys.exit(cli())
