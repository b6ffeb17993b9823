"""RBM and DBN benchmarks on MNIST, beside scikit-learn and the papers' figures.

    python benchmarks/rbm_mnist.py sklearn    # zoo RBM vs sklearn BernoulliRBM: speed, test PLL
    python benchmarks/rbm_mnist.py cd1        # 500-hidden RBM by CD-1, AIS test log-probability
    python benchmarks/rbm_mnist.py pcd        # the same by persistent CD
    python benchmarks/rbm_mnist.py dbn        # DBN 784-500-500-2000, pretrained + fine-tuned

`cd1`, `pcd` and `dbn` run the recipes (extra arguments go to them, e.g. `--epochs 5`),
and `cd1` / `pcd` then check the recipe's AIS estimate with a second, independent one
(another seed, `--ais-check-betas` temperatures) on the saved model;
`sklearn` trains both implementations here, in one process, on the same data.
Binarised MNIST thresholds the pixels at 0.5 (`--binarize stochastic` draws them instead,
as Salakhutdinov & Murray's); the DBN uses grey levels in [0, 1].

    python benchmarks/rbm_mnist.py cd1 --k 25 --record rbm_mnist_cd25     # CD-25
    python benchmarks/rbm_mnist.py dbn --dropout 0 --no-early-stopping \
        --record rbm_mnist_dbn_as_hinton2006

The record (benchmarks/results/<--record>.json, default rbm_mnist_<benchmark>) holds the
recipe's metrics, its validation figures (settings are chosen on those, never on the test
figures) and the per-epoch history of every model it trained.
"""

import argparse
import importlib
import pathlib
import sys
import time

import numpy as np
from _common import add_to_record, histories, record, run_folder, use_local_data

AIS = ["--dataset", "mnist", "--binarize", "--units", "500", "--ais-runs", "100"]
AIS += ["--ais-betas", "10000", "--probe-examples", "-1", "--no-export"]
RECIPES = {
    "cd1": {
        "recipe": "rbm",
        "argv": [*AIS, "--epochs", "50", "--patience", "50", "--lr-schedule", "cosine"],
        "paper": "Salakhutdinov & Murray 2008, 500 hidden units, CD-1: -125.53 nats",
    },
    "pcd": {
        "recipe": "rbm",
        "argv": [
            *AIS,
            "--persistent-chains",
            "100",
            "--learning-rate",
            "0.05",
            "--final-momentum",
            "0.5",
            "--epochs",
            "50",
            "--patience",
            "50",
            "--lr-schedule",
            "cosine",
        ],
        "paper": "Salakhutdinov & Murray 2008, 500 hidden units, CD-25: -86.34 nats",
    },
    "dbn": {
        "recipe": "dbn",
        "argv": [
            "--dataset",
            "mnist",
            "--mean-field-visible",
            "--pretrain-epochs",
            "20",
            "--optimizer",
            "sgd",
            "--learning-rate",
            "0.1",
            "--dropout",
            "0.2",
            "--epochs",
            "60",
            "--patience",
            "15",
            "--probe-examples",
            "0",
            "--no-export",
        ],
        "paper": "784-500-500-2000 fine-tuned by backprop: 1.18-1.2% (Hinton & Salakhutdinov "
        "2006; Srivastava et al. 2014, table 2); target <= 1.25%",
    },
}


def run_recipe(name, extra, ais_check_betas, record_name=None):
    spec = RECIPES[name]
    module = importlib.import_module(f"recipes.{spec['recipe']}")
    output_dir = run_folder(f"rbm_mnist_{name}")
    argv = [*spec["argv"], "--output-dir", str(output_dir), *extra]
    start = time.perf_counter()
    metrics = module.main(argv)
    result = {
        "command": "python benchmarks/rbm_mnist.py " + " ".join(sys.argv[1:]),
        "recipe_argv": argv,
        "paper": spec["paper"],
        "wall_seconds": round(time.perf_counter() - start, 1),
        "metrics": metrics,
        "history": histories(output_dir),
    }
    if "ais_mean_log_prob" in metrics and ais_check_betas:
        result["ais_check"] = ais_check(module, argv, output_dir, ais_check_betas)
    return record(record_name or f"rbm_mnist_{name}", result)


def ais_check(recipe, argv, run_dir, betas):
    """A second, independent AIS estimate (another seed, more temperatures) of the saved
    RBM, on the recipe's own data (`argv` parsed by `recipe`): when the two disagree, the
    first one's spread was too small to trust."""
    import keras

    import zoo.models.rbm  # noqa: F401 (registers RBMStack for loading)
    from recipes._common import parse, rbm_data, training_config
    from zoo.likelihood import ais_log_likelihood

    stack = keras.saving.load_model(run_dir / recipe.MODEL_FILE)
    options = parse(recipe.build_parser(), argv)
    ((x_train, _), _, (x_test, _)), _ = rbm_data(options, training_config(options))
    flat = [x.reshape(len(x), -1) for x in (x_train[:10000], x_test)]
    start = time.perf_counter()
    result = ais_log_likelihood(
        stack.rbms[0], flat[1], runs=100, betas=betas, base_data=flat[0], seed=1
    )
    return {**result, "seed": 1, "seconds": round(time.perf_counter() - start, 1)}


def binarized_mnist():
    from zoo import data

    train, _, test, _ = data.load_splits(
        "mnist", 10, batch_size=1000, normalize="minmax", shuffle=False
    )
    (x_train, _), (x_test, _) = data.as_numpy(train), data.as_numpy(test)
    flat = [(x.reshape(len(x), -1) > 0.5).astype("float32") for x in (x_train, x_test)]
    return flat[0], flat[1]


def against_sklearn(args):
    """Both implementations, same data, hidden units, batch size, learning rate, epochs
    and algorithm: scikit-learn's `BernoulliRBM` is persistent CD-1 with one chain per
    example of a batch and plain SGD, so zoo runs `RBM(units, persistent_chains=batch)`
    under `SGD(learning_rate)`. zoo's CD-1 is measured too. Throughput and test PLL."""
    from sklearn.neural_network import BernoulliRBM

    from zoo.layers import RBM

    x_train, x_test = binarized_mnist()
    examples = args.epochs * len(x_train)
    results = []
    for units in args.units:
        for batch_size in args.batch_sizes:
            row = {"units": units, "batch_size": batch_size}
            start = time.perf_counter()
            sk = BernoulliRBM(
                n_components=units,
                learning_rate=args.learning_rate,
                batch_size=batch_size,
                n_iter=args.epochs,
                random_state=args.seed,
            ).fit(x_train)
            row["sklearn_seconds"] = time.perf_counter() - start
            twin = RBM(units)
            twin.build((None, x_train.shape[1]))
            twin.kernel.assign(sk.components_.T)
            twin.visible_bias.assign(sk.intercept_visible_)
            twin.hidden_bias.assign(sk.intercept_hidden_)
            row["sklearn_test_pll"] = _pll(twin, x_test, args.pll_repeats)
            row["sklearn_own_score_samples"] = float(sk.score_samples(x_test).mean())
            for algorithm, chains in (("pcd", batch_size), ("cd1", 0)):
                rbm, seconds = _fit_zoo(x_train, units, batch_size, chains, args)
                row[f"zoo_{algorithm}_seconds"] = seconds
                row[f"zoo_{algorithm}_test_pll"] = _pll(rbm, x_test, args.pll_repeats)
                row[f"zoo_{algorithm}_throughput_ratio"] = row["sklearn_seconds"] / seconds
                row[f"zoo_{algorithm}_examples_per_second"] = examples / seconds
            row["sklearn_examples_per_second"] = examples / row["sklearn_seconds"]
            print(row, flush=True)
            results.append(row)
    return record(
        args.record or "rbm_mnist_sklearn",
        {
            "command": "python benchmarks/rbm_mnist.py sklearn " + " ".join(sys.argv[2:]),
            "train_examples": len(x_train),
            "test_examples": len(x_test),
            "epochs": args.epochs,
            "learning_rate": args.learning_rate,
            "steps_per_execution": args.steps_per_execution,
            "pll_repeats": args.pll_repeats,
            "target": "throughput ratio >= 2.0 with equal or better test PLL",
            "results": results,
        },
    )


def _fit_zoo(x_train, units, batch_size, chains, args):
    import keras

    from zoo.layers import RBM

    keras.utils.set_random_seed(args.seed)
    rbm = RBM(units, persistent_chains=chains, seed=args.seed)
    model = keras.Sequential([keras.Input((x_train.shape[1],)), rbm])
    model.compile(
        keras.optimizers.SGD(args.learning_rate), steps_per_execution=args.steps_per_execution
    )
    start = time.perf_counter()
    model.fit(x_train, epochs=args.epochs, batch_size=batch_size, verbose=0)
    return rbm, time.perf_counter() - start


def _pll(rbm, x, repeats):
    """The same pseudo-likelihood estimator for every model: mean over `repeats` seeds of
    the flipped units (each seed flips the same units for every model)."""
    from zoo.likelihood import pseudo_log_likelihood

    return float(np.mean([pseudo_log_likelihood(rbm, x, seed=seed) for seed in range(repeats)]))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "benchmark",
        choices=["sklearn", *RECIPES],
        help="sklearn also takes --units, --batch-sizes, --learning-rate, --sklearn-epochs, "
        "--steps-per-execution, --pll-repeats and --seed; the others pass every option but "
        "--ais-check-betas and --record to their recipe",
    )
    parser.add_argument("--record", help="record name (default: rbm_mnist_<benchmark>)")
    # The recipes' benchmarks pass every other option to the recipe, so the comparison's
    # options (--units, --learning-rate, --seed, ...) exist only for `sklearn`.
    if sys.argv[1:2] == ["sklearn"]:
        parser.add_argument("--units", type=int, nargs="+", default=[256, 500])
        parser.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 100])
        parser.add_argument("--learning-rate", type=float, default=0.05)
        parser.add_argument("--sklearn-epochs", dest="epochs", type=int, default=5)
        parser.add_argument("--steps-per-execution", type=int, default=50)
        parser.add_argument("--pll-repeats", type=int, default=5)
        parser.add_argument("--seed", type=int, default=0)
        use_local_data()
        return against_sklearn(parser.parse_args())
    parser.add_argument(
        "--ais-check-betas",
        type=int,
        default=50000,
        help="cd1/pcd: a second AIS estimate with this many temperatures (0: none)",
    )
    parser.add_argument(
        "--check-only",
        metavar="RUN_DIR",
        help="cd1/pcd: only the second AIS estimate, of the model an earlier run of this "
        "benchmark saved in RUN_DIR; added to its record (--record)",
    )
    args, extra = parser.parse_known_args()
    use_local_data()
    if args.check_only:
        module = importlib.import_module(f"recipes.{RECIPES[args.benchmark]['recipe']}")
        return add_to_record(
            args.record or f"rbm_mnist_{args.benchmark}",
            "ais_check",
            lambda result: ais_check(
                module, result["recipe_argv"], pathlib.Path(args.check_only), args.ais_check_betas
            ),
        )
    return run_recipe(args.benchmark, extra, args.ais_check_betas, args.record)


if __name__ == "__main__":
    main()
