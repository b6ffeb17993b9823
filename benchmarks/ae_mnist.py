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
every benchmark's) holds the recipe's per-epoch history and the run folder
(runs/benchmarks/<record>-<time>/, with the trained model as best.keras).

The k-sparse codes depend on two settings that need no retraining: the encoding's alpha
(the layer keeps alpha * k units at inference) and the probe's regularisation C. A sweep
over both, on the model a run saved, chooses them on the validation images and reads the
test images once, for the chosen pair; it is added to that run's record:

    python benchmarks/ae_mnist.py ksparse --probe-sweep runs/benchmarks/ae_mnist_ksparse-153000 \
        --alphas 1 2 3 4 5 --probe-c 1
"""

import argparse
import importlib
import json
import pathlib
import sys
import time

from _common import add_to_record, record, run_folder, use_local_data

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
    parser.add_argument(
        "--probe-sweep",
        metavar="RUN_DIR",
        help="ksparse: no training; probe the model an earlier run saved in RUN_DIR for "
        "every --alphas and --probe-c, and add the sweep to its record (--record)",
    )
    parser.add_argument("--alphas", type=float, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--probe-c", type=float, nargs="+", default=[1.0])
    args, extra = parser.parse_known_args(argv)
    use_local_data()
    name = args.record or f"ae_mnist_{args.which}"
    if args.probe_sweep:
        if args.which != "ksparse" or extra:
            parser.error(
                f"--probe-sweep takes only ksparse and the sweep's options. Received: "
                f"{args.which} {' '.join(extra)}"
            )
        return add_to_record(
            name,
            "probe_sweep",
            lambda _: probe_sweep(
                pathlib.Path(args.probe_sweep), args.alphas, args.probe_c, args.seed
            ),
        )
    from zoo import training

    spec = BENCHMARKS[args.which]
    recipe = importlib.import_module(f"recipes.{spec['recipe']}")
    recipe_argv = ["--dataset", "mnist", "--seed", str(args.seed), *spec["argv"], *extra]
    run_dir = run_folder(name)
    start = time.perf_counter()
    metrics = recipe.main([*recipe_argv, "--output-dir", str(run_dir)])
    wall = time.perf_counter() - start
    return record(
        name,
        {
            "command": "python benchmarks/ae_mnist.py " + " ".join(sys.argv[1:]),
            "recipe": f"python -m recipes.{spec['recipe']} " + " ".join(recipe_argv),
            "run_dir": str(run_dir),
            "target": spec["target"],
            **{key: metrics.get(key) for key in spec["keep"]},
            "epochs_run": metrics["epochs"],
            "wall_time_s": round(wall, 1),
            "history": training.read_history(run_dir / training.HISTORY_FILE),
        },
    )


def probe_sweep(run_dir, alphas, cs, seed=0):
    """Linear probes of the k-sparse autoencoder saved in `run_dir`, one per (alpha, C):
    each fitted on the codes of the 54,000 training images and scored on the 6,000
    validation images (the run's own split and input scaling, from its config.json). The
    pair with the lowest validation error (the first of equals, in the order given) is
    then scored once on the test images."""
    import keras

    import zoo.models  # noqa: F401 (registers the autoencoders for loading)
    from zoo import analysis, data, training
    from zoo.layers import ksparse_alpha

    start = time.perf_counter()
    model = keras.saving.load_model(run_dir / training.CHECKPOINT_FILE)
    run = json.loads((run_dir / training.CONFIG_FILE).read_text())  # its data and split
    train_ds, val_ds, test_ds, _ = data.load_splits(
        run["dataset"],
        run["validation_percent"],
        batch_size=256,
        normalize=run.get("normalize", "minmax"),  # runs before --normalize: minmax
        seed=run["seed"],
    )
    (x_train, y_train), (x_val, y_val) = data.as_numpy(train_ds), data.as_numpy(val_ds)
    grid, best = [], None
    for alpha in alphas:
        with ksparse_alpha(model, alpha) as layers:
            if not layers:
                raise ValueError(f"run_dir must hold a k-sparse autoencoder. Received: {run_dir}")
            train_codes, val_codes = (analysis.encode(model.encoder, x) for x in (x_train, x_val))
        active = float((train_codes != 0).sum(axis=1).mean())
        for c in cs:
            fit_start = time.perf_counter()
            classifier = analysis.shallow_classifier("logistic", C=c, max_iter=1000, seed=seed)
            classifier.fit(train_codes, y_train)
            error = 100.0 * (1.0 - classifier.score(val_codes, y_val))
            row = {
                "alpha": alpha,
                "C": c,
                "active_units": round(active, 2),
                "val_error_percent": round(error, 3),
                "fit_seconds": round(time.perf_counter() - fit_start, 1),
            }
            print(json.dumps(row), flush=True)
            grid.append(row)
            if best is None or error < best[0]:
                best = (error, row, classifier)
    _, chosen, classifier = best
    x_test, y_test = data.as_numpy(test_ds)
    with ksparse_alpha(model, chosen["alpha"]):
        test_codes = analysis.encode(model.encoder, x_test)
    return {
        "seconds": round(time.perf_counter() - start, 1),
        "grid": grid,
        "chosen": chosen,
        "test_error_percent": round(100.0 * (1.0 - classifier.score(test_codes, y_test)), 3),
    }


if __name__ == "__main__":
    main()
