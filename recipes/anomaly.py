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

from recipes import autoencoder
from zoo import analysis, data, plots, training


def build_parser():
    parser = autoencoder.build_parser(
        description=__doc__,
        variant="conv",
        epochs=10,
        probe_examples=-1,
        export_name=None,
    )
    group = parser.add_argument_group("anomaly")
    group.add_argument("--outliers", default="fashion_mnist", help="out-of-distribution set")
    group.add_argument("--outlier-data-dir", default=None, help="its original files")
    group.add_argument(
        "--quantile", type=float, default=0.99, help="threshold: this quantile of train errors"
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    model, info, metrics, arrays, run_dir = autoencoder.run(args, "anomaly")

    # --- threshold on the training errors, then inliers against outliers ----------------
    x_train, _ = data.as_numpy(arrays["splits"][0])
    threshold = analysis.fit_threshold(
        analysis.reconstruction_errors(model, x_train), args.quantile
    )
    outliers = data.load(
        args.outliers,
        "test",
        normalize="minmax",
        image_size=info.input_shape[:2],
        manual_dir=args.outlier_data_dir,
        limit=autoencoder.SMOKE_EXAMPLES if args.smoke else None,
        shuffle=False,
    )
    x_out, _ = data.as_numpy(outliers)
    if x_out.shape[1:] != arrays["x_test"].shape[1:]:
        raise ValueError(
            f"outliers must have the training images' shape {arrays['x_test'].shape[1:]}. "
            f"Received: outliers={args.outliers!r} with shape {x_out.shape[1:]}"
        )
    out_errors = analysis.reconstruction_errors(model, x_out)
    report = analysis.anomaly_report(arrays["errors"], out_errors, threshold)
    metrics.update({f"anomaly_{key}": value for key, value in report.items()})
    metrics.update(inliers=args.dataset, outliers=args.outliers, quantile=args.quantile)

    # --- figure, export, record ----------------------------------------------------------
    plots.plot_histogram(
        [arrays["errors"], out_errors],
        run_dir / "error_histogram.png",
        labels=[f"{args.dataset} test (inliers)", f"{args.outliers} test (outliers)"],
        threshold=threshold,
        xlabel="reconstruction MSE",
        title=f"ROC AUC {report['roc_auc']:.3f}",
    )
    args.export_name = args.export_name or f"anomaly_{args.dataset}"
    autoencoder.export_model(args, model, info, metrics)
    training.finish_run(run_dir, metrics)
    print(
        f"{args.dataset} vs {args.outliers}: ROC AUC {report['roc_auc']:.4f}, "
        f"precision {report['precision']:.3f} and recall {report['recall']:.3f} at the "
        f"{args.quantile} quantile threshold  run folder: {run_dir}"
    )
    return metrics


if __name__ == "__main__":
    main()
