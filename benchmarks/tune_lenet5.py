"""keras-tuner searches over LeNet-5 (modern): do they beat the default configuration?

Arms, all through `recipes.tune` (same data split, same epoch budget per configuration):

- `default`: the HyperModel's default hyperparameters (the factory's and the recipe's
  defaults), trained for `--epochs` epochs;
- `hyperband`, `random`, `bayesian`: a search of `--budget-minutes` minutes each (no new
  trial starts after that), then the best configuration retrained for `--epochs` epochs
  on the whole training split, tested and compared with the default on the validation
  and test splits.

    python benchmarks/tune_lenet5.py --dataset mnist --epochs 6 --budget-minutes 15 \\
        --tuners hyperband
    python benchmarks/tune_lenet5.py --dataset digits --epochs 10 --budget-minutes 3 \\
        --tuners random bayesian hyperband --name digits
"""

import argparse
import pathlib
import sys
import tempfile
import time

from _common import record, use_local_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--family", default="lenet5_modern")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--budget-minutes", type=float, default=15.0)
    parser.add_argument("--max-trials", type=int, default=100)
    parser.add_argument("--tuners", nargs="+", default=["hyperband"])
    parser.add_argument("--subset", type=int, default=None, help="two stages: search on N")
    parser.add_argument("--refine-top", type=int, default=1, help="two stages: retrain K")
    parser.add_argument("--no-default", action="store_true", help="skip the default arm")
    parser.add_argument("--name", default=None, help="suffix of the results file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    use_local_data()
    from recipes import _common, tune

    scratch = pathlib.Path(tempfile.mkdtemp(prefix="zoo-tune-"))
    common = [
        "--family", args.family, "--dataset", args.dataset, "--epochs", str(args.epochs),
        "--seed", str(args.seed), "--verbose", "0", "--no-export",
    ]  # fmt: skip

    # The default configuration, trained as the searches' best are retrained.
    options = _common.parse(tune.build_parser(), [*common, "--output-dir", str(scratch / "d")])
    config = _common.training_config(options)
    arrays = tune.load_arrays(options, config)
    hypermodel = tune.make_hypermodel(options, arrays.info)
    results = {}
    if not args.no_default:
        start = time.perf_counter()
        model, val_accuracy = tune.retrain(options, config, arrays, hypermodel, {}, scratch)
        test = tune.test_metrics("classification", model, arrays)
        results["default"] = {
            "val_error_percent": round(100 * (1 - val_accuracy), 3),
            "test_error_percent": round(100 * (1 - test["test_accuracy"]), 3),
            "seconds": round(time.perf_counter() - start, 1),
        }
        print("default", results["default"], flush=True)
    stages = ["--refine-top", str(args.refine_top)]
    if args.subset:
        stages += ["--subset", str(args.subset)]
    for kind in args.tuners:
        start = time.perf_counter()
        metrics = tune.main(
            [*common, "--tuner", kind, "--budget-minutes", str(args.budget_minutes),
             "--max-trials", str(args.max_trials), "--output-dir", str(scratch / kind), *stages]
        )  # fmt: skip
        results[kind] = {
            "val_error_percent": round(100 * (1 - metrics["retrained_val_accuracy"]), 3),
            "test_error_percent": round(100 * (1 - metrics["test_accuracy"]), 3),
            "search_val_accuracy": metrics["search_objective"],
            "trials": metrics["trials"],
            "completed_trials": metrics["completed_trials"],
            "best_hyperparameters": metrics["best_hyperparameters"],
            "seconds": round(time.perf_counter() - start, 1),
            "leaderboard": (scratch / kind / "leaderboard.md").read_text(),
        }
        print(kind, {k: v for k, v in results[kind].items() if k != "leaderboard"}, flush=True)
    name = f"tune_{args.family}_{args.name or args.dataset}"
    return record(
        name,
        {
            "command": "python benchmarks/tune_lenet5.py " + " ".join(argv or sys.argv[1:]),
            "epochs": args.epochs,
            "subset": args.subset,
            "refine_top": args.refine_top,
            "budget_minutes_per_search": args.budget_minutes,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
