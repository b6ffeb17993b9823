"""Autoencoder benchmarks on full MNIST, each through its recipe, beside the papers' figures.

    python benchmarks/ae_mnist.py pca          # ae/deep vs PCA at k = 32: test MSE of both
    python benchmarks/ae_mnist.py ksparse      # k-sparse codes + logistic regression
    python benchmarks/ae_mnist.py denoising    # denoising codes + logistic regression
    python benchmarks/ae_mnist.py contractive  # contractive codes + logistic regression
    python benchmarks/ae_mnist.py anomaly      # conv AE on MNIST, Fashion-MNIST as outliers

Extra arguments go to the recipe (e.g. `--epochs 5`). Linear probes fit scikit-learn's
LogisticRegression on the codes of all 54,000 training images (the other 6,000 are the
validation set) and report the MNIST test error; then the encoder and a softmax head are
fine-tuned on the labels for 10 epochs (the papers' protocol) and that test error is
reported too. The probe is also scored on the validation images (`probe_val_error_percent`):
settings are chosen on that figure, never on the test error.

    python benchmarks/ae_mnist.py contractive --contraction 0.0001 \
        --record ae_mnist_contractive_lambda0.0001     # one candidate of a sweep

The record (benchmarks/results/<--record>.json, default ae_mnist_<which>, replaced like
every benchmark's) holds the recipe's per-epoch history.
"""

import argparse
import importlib
import sys
import tempfile
import time

from _common import record, use_local_data

PROBE = ["--probe-examples", "0", "--finetune-epochs", "10", "--no-export"]
PROBE_KEYS = (
    "probe_val_error_percent",
    "probe_error_percent",
    "finetune_test_error_percent",
    "test_reconstruction_mse",
)
BENCHMARKS = {
    "pca": {
        "recipe": "ae_vs_pca",
        "argv": ["--code-size", "32", "--hidden", "512", "256", "--epochs", "30", "--no-export"],
        "keep": ("ae_test_mse", "pca_test_mse", "pca_explained_variance"),
        "target": "autoencoder test MSE below PCA's at k = 32",
    },
    "ksparse": {
        "recipe": "autoencoder",
        "argv": [
            "--variant",
            "ksparse",
            "--code-size",
            "1000",
            "--k",
            "25",
            "--k-start",
            "100",
            "--alpha",
            "3",
            "--loss",
            "mse",
            "--epochs",
            "100",
            "--patience",
            "100",
            *PROBE,
        ],
        "keep": PROBE_KEYS,
        "target": "test error <= 1.6% (Makhzani & Frey 2013, k = 25: 1.35%)",
    },
    "denoising": {
        "recipe": "autoencoder",
        "argv": [
            "--variant",
            "denoising",
            "--code-size",
            "1000",
            "--code-activation",
            "sigmoid",
            "--noise",
            "masking",
            "--noise-level",
            "0.25",
            "--epochs",
            "30",
            *PROBE,
        ],
        "keep": PROBE_KEYS,
        "target": "reported beside Vincent et al. 2010 (SdA-3, fine-tuned: 1.28%)",
    },
    "contractive": {
        "recipe": "autoencoder",
        "argv": [
            "--variant",
            "contractive",
            "--code-size",
            "1000",
            "--contraction",
            "0.001",
            "--epochs",
            "30",
            *PROBE,
        ],
        "keep": PROBE_KEYS,
        "target": "reported beside Rifai et al. 2011 (CAE-initialised MLP, fine-tuned: 1.14%)",
    },
    "anomaly": {
        "recipe": "anomaly",
        "argv": ["--epochs", "10", "--no-export"],
        "keep": (
            "anomaly_roc_auc",
            "anomaly_average_precision",
            "anomaly_precision",
            "anomaly_recall",
            "anomaly_false_positive_rate",
            "test_reconstruction_mse",
        ),
        "target": "ROC AUC >= 0.95, Fashion-MNIST test (outliers) vs MNIST test",
    },
}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("which", choices=sorted(BENCHMARKS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", help="record name (default: ae_mnist_<which>)")
    args, extra = parser.parse_known_args(argv)
    use_local_data()
    from zoo import training

    spec = BENCHMARKS[args.which]
    recipe = importlib.import_module(f"recipes.{spec['recipe']}")
    recipe_argv = ["--dataset", "mnist", "--seed", str(args.seed), *spec["argv"], *extra]
    with tempfile.TemporaryDirectory(prefix="ae_mnist-") as scratch:
        start = time.perf_counter()
        metrics = recipe.main([*recipe_argv, "--output-dir", f"{scratch}/run"])
        wall = time.perf_counter() - start
        history = training.read_history(f"{scratch}/run/{training.HISTORY_FILE}")
    return record(
        args.record or f"ae_mnist_{args.which}",
        {
            "command": "python benchmarks/ae_mnist.py " + " ".join(sys.argv[1:]),
            "recipe": f"python -m recipes.{spec['recipe']} " + " ".join(recipe_argv),
            "target": spec["target"],
            **{key: metrics.get(key) for key in spec["keep"]},
            "epochs_run": metrics["epochs"],
            "wall_time_s": round(wall, 1),
            "history": history,
        },
    )


if __name__ == "__main__":
    main()
