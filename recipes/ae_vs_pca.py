"""Autoencoder against PCA with the same code size k: reconstruction error and a figure.

A linear autoencoder trained on squared error can at best find PCA's subspace; a deep
non-linear one should reconstruct better at the same k. This recipe trains an autoencoder
(default: `ae/deep`, 256-128 hidden units, a 32-unit linear code, squared-error loss), fits
scikit-learn's PCA with k = the code size on the same training images, and compares the
test reconstruction MSE of both. `ae_vs_pca.png` shows test digits, the autoencoder's
reconstructions and PCA's side by side.

    python -m recipes.ae_vs_pca                          # MNIST, k = 32
    python -m recipes.ae_vs_pca --code-size 8 --dataset fashion_mnist
    python -m recipes.ae_vs_pca --variant dense --code-size 16 --dataset digits
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
    export_name,
    make_parser,
    parse,
    run_autoencoder,
    training_config,
)


def build_parser():
    parser = make_parser("ae_vs_pca", __doc__)
    add_data_args(parser, dataset="mnist")
    add_autoencoder_args(parser)
    add_training_args(
        parser,
        epochs=20,
        batch_size=128,
        learning_rate=1e-3,
        export_name_help="ae_vs_pca, then _<dataset> unless mnist",
        sanity=RECONSTRUCTION_SANITY,
    )
    parser.set_defaults(variant="deep", code_size=32, loss="mse", probe_examples=-1)
    return parser


def run(options, config, run_dir):
    """Train the autoencoder, fit PCA at the same k, compare, export; returns the metrics."""
    model, info, metrics, arrays = run_autoencoder(options, config, run_dir)

    # --- PCA with the same k, fitted on the same training images -----------------------
    x_train, _ = data.as_numpy(arrays["splits"][0])
    k = metrics["code_size"]
    pca = analysis.pca_baseline(x_train, arrays["x_test"], k, seed=config.seed)
    metrics.update(
        ae_test_mse=metrics["test_reconstruction_mse"],
        pca_test_mse=pca["mse"],
        pca_explained_variance=pca["explained_variance"],
        ae_to_pca_mse_ratio=metrics["test_reconstruction_mse"] / pca["mse"],
    )

    # --- figure, export, record ----------------------------------------------------------
    n = min(10, len(arrays["x_test"]))
    plots.plot_image_rows(
        {
            "input": arrays["x_test"][:n],
            f"AE k={k}": model.predict(arrays["x_test"][:n], verbose=0),
            f"PCA k={k}": pca["reconstruction"][:n],
        },
        run_dir / "ae_vs_pca.png",
        n=n,
        title=f"test MSE: autoencoder {metrics['ae_test_mse']:.4f}, PCA {pca['mse']:.4f}",
    )
    metadata = options.export_metadata()
    name = export_name("ae_vs_pca", options.dataset)
    training.export_run(config, run_dir, model, info, metrics, name, metadata)
    training.finish_run(run_dir, metrics)
    return metrics


def main(argv=None):
    options = parse(build_parser(), argv)
    config = training_config(options)
    if options.sanity:
        return autoencoder_sanity(options, config)
    with training.run("ae_vs_pca", config, options.as_dict()) as run_dir:
        metrics = run(options, config, run_dir)
    k = metrics["code_size"]
    print(
        f"k={k}: autoencoder test MSE {metrics['ae_test_mse']:.5f}, "
        f"PCA {metrics['pca_test_mse']:.5f} "
        f"(PCA explains {100 * metrics['pca_explained_variance']:.1f}% of the variance)  "
        f"run folder: {run_dir}"
    )
    return metrics


cli = command(main)

if __name__ == "__main__":
    sys.exit(cli())
