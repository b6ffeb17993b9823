"""The course's cautionary experiments on MNIST, through their recipes, beside the papers.

    python benchmarks/course_lab.py adversarial      # FGSM against LeNet-5, then with
                                                     # adversarial training
    python benchmarks/course_lab.py random_labels    # Zhang et al. 2017, Figure 1
    python benchmarks/course_lab.py gradients        # the vanishing gradient

Each runs its recipe with the settings below (more recipe options after the experiment's
name replace them), records the numbers and every model's per-epoch history in
results/<experiment>_mnist.json, and keeps the run folder (with the figures) in
runs/benchmarks/<experiment>_mnist-<time>/. The sizes are cut to a few minutes on a
2-core CPU; what the papers did is beside each.

Papers:
    adversarial: Goodfellow, Shlens & Szegedy 2015, MNIST, FGSM at epsilon 0.25: a
        maxout network errs on 89.4% of the adversarial test examples (average
        confidence 97.6%); trained adversarially (alpha 0.5), 17.9%.
    random_labels: Zhang et al. 2017, Figure 1 (CIFAR-10, Inception, AlexNet, MLPs):
        every network reaches 100% training accuracy on true labels, random labels,
        shuffled pixels, random pixels and Gaussian noise; random labels take a few
        times longer; test error rises to chance (90%) as the label corruption goes
        from 0 to 1.
"""

import argparse
import sys
import time

from _common import histories, record, run_folder, use_local_data

EXPERIMENTS = {
    # LeNet-5 modern, 10 epochs on full MNIST; adversarial training at the attack's 0.25
    "adversarial": [
        "--dataset", "mnist", "--epochs", "10", "--adversarial-training", "--epsilon", "0.25",
        "--attack-examples", "10000", "--no-export",
    ],
    # MLP 1x512, SGD 0.1 momentum 0.9, no decay; 5,000 MNIST training images instead
    # of CIFAR-10's 50,000, at most 100 epochs
    "random_labels": [
        "--dataset", "mnist", "--train-examples", "5000", "--test-examples", "2000",
        "--epochs", "100", "--no-export",
    ],
    # 10 hidden layers of 100 units, SGD 0.01 momentum 0.9, 5 epochs on full MNIST
    "gradients": ["--dataset", "mnist", "--epochs", "5", "--no-export"],
}  # fmt: skip


def summary(experiment, metrics):
    """The numbers RESULTS.md quotes."""
    if experiment == "adversarial":
        keys = [key for key in metrics if key.endswith("_percent") or "_at_" in key]
        return {
            **{key: metrics[key] for key in keys},
            "curves": metrics["curves"],
            "attack_examples": metrics["attack_examples"],
        }
    if experiment == "random_labels":
        return {
            "runs": metrics["runs"],
            "corruption": metrics["corruption"],
            "train_examples": metrics["train_examples"],
            "test_examples": metrics["test_examples"],
        }
    return {"configs": metrics["configs"], "best_config": metrics["best_config"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS))
    parser.add_argument("--seed", type=int, default=0)
    args, recipe_args = parser.parse_known_args(argv)
    use_local_data()
    import importlib

    recipe = importlib.import_module(f"recipes.{args.experiment}")
    run_dir = run_folder(f"{args.experiment}_mnist")
    argv = [*EXPERIMENTS[args.experiment], "--seed", str(args.seed), *recipe_args]
    start = time.perf_counter()
    metrics = recipe.main([*argv, "--output-dir", str(run_dir)])
    wall = time.perf_counter() - start
    return record(
        f"{args.experiment}_mnist",
        {
            "command": "python benchmarks/course_lab.py " + " ".join(sys.argv[1:]),
            "recipe_args": argv,
            "run_dir": str(run_dir),
            **summary(args.experiment, metrics),
            "wall_time_s": round(wall, 1),
            "history": histories(run_dir),  # each model's, by "<model>/history"
        },
    )


if __name__ == "__main__":
    main()
