"""LeNet-5 (classic) on full MNIST: test error and wall time, through the lenet5 recipe.

Target: test error <= 0.95% (LeCun et al. 1998: 0.95% without distortions, 0.8% with).

    python benchmarks/lenet5_mnist.py                 # no augmentation
    python benchmarks/lenet5_mnist.py --augment       # random distortions
"""

import argparse
import sys
import time

from _common import record, use_local_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--augment", action="store_true")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args, recipe_args = parser.parse_known_args(argv)
    use_local_data()
    from recipes import lenet5

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
    start = time.perf_counter()
    metrics = lenet5.main(argv)
    wall = time.perf_counter() - start
    name = "lenet5_mnist_augment" if args.augment else "lenet5_mnist"
    return record(
        name,
        {
            "command": "python benchmarks/lenet5_mnist.py " + " ".join(sys.argv[1:]),
            "recipe_args": argv,
            "test_error_percent": round(metrics["test_error_percent"], 3),
            "epochs_run": metrics["epochs"],
            "wall_time_s": round(wall, 1),
        },
    )


if __name__ == "__main__":
    main()
