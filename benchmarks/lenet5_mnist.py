"""LeNet-5 (classic) on full MNIST: test error and wall time, through the lenet5 recipe.

Target: test error <= 0.95% (LeCun et al. 1998: 0.95% without distortions, 0.8% with).

    python benchmarks/lenet5_mnist.py                 # no augmentation
    python benchmarks/lenet5_mnist.py --augment       # random distortions
    python benchmarks/lenet5_mnist.py --epochs 20 --record lenet5_mnist_rbf_20 --head rbf

Other options go to the recipe (`python -m recipes.lenet5 --help`). The record
(benchmarks/results/<--record>.json, replaced like every benchmark's) holds the
recipe's per-epoch history (training and validation), and its best validation epoch, so that
runs are compared on validation data; the test error is read once, at the end.
"""

import argparse
import sys
import tempfile
import time

from _common import record, use_local_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--augment", action="store_true")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", help="record name (default: lenet5_mnist[_augment])")
    args, recipe_args = parser.parse_known_args(argv)
    name = args.record or ("lenet5_mnist_augment" if args.augment else "lenet5_mnist")
    use_local_data()
    from recipes import lenet5
    from zoo import training

    argv = [
        "--dataset",
        "mnist",
        "--epochs",
        str(args.epochs),
        "--seed",
        str(args.seed),
        "--patience",
        str(args.epochs),
        "--no-export",
        *(["--augment"] if args.augment else []),
        *recipe_args,
    ]
    with tempfile.TemporaryDirectory(prefix="lenet5_mnist-") as scratch:
        start = time.perf_counter()
        metrics = lenet5.main([*argv, "--output-dir", f"{scratch}/run"])
        wall = time.perf_counter() - start
        history = training.read_history(f"{scratch}/run/{training.HISTORY_FILE}")
    val_loss = history.get("val_loss", [])
    best = min(range(len(val_loss)), key=val_loss.__getitem__) if val_loss else None
    return record(
        name,
        {
            "command": "python benchmarks/lenet5_mnist.py " + " ".join(sys.argv[1:]),
            "recipe_args": argv,
            "test_error_percent": round(metrics["test_error_percent"], 3),
            "epochs_run": metrics["epochs"],
            "best_val_epoch": best,  # 0-based, lowest val_loss
            "best_val_error_percent": (
                round(100 * (1 - history["val_accuracy"][best]), 3) if best is not None else None
            ),
            "wall_time_s": round(wall, 1),
            "history": history,
        },
    )


if __name__ == "__main__":
    main()
