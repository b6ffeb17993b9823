"""Seed 001's table on the ants/bees photos: MobileNet alpha 0.25 (ImageNet, 224x224)
trained total / partial / minimum, features + SVM beside them, TFLite parity of the best.

Runs `recipes.transfer --mode all --tflite --tta 8` on `$ZOO_DATA_DIR/hymenoptera_data`
(245 train / 153 val images; the `.gif` placeholder is skipped) and records its metrics
and each mode's per-epoch history.

Targets (issue 5): best validation accuracy >= 0.92; total mode >= 0.85 (the seed's
total run collapsed to 0.38); dynamic-range TFLite <= 35% of the float model's size with
>= 99% class agreement on val.

    python benchmarks/transfer_hymenoptera.py                    # the recipe's defaults
    python benchmarks/transfer_hymenoptera.py --name two_phase -- --two-phase
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

from _common import histories, record, use_local_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default="default", help="suffix of the results file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("recipe_args", nargs="*", help="more recipe options, after --")
    args = parser.parse_args(argv)
    use_local_data()
    from recipes import transfer

    data_dir = pathlib.Path(os.environ["ZOO_DATA_DIR"]) / "hymenoptera_data"
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="zoo-transfer-"))
    recipe_argv = [
        "--data", str(data_dir), "--base", "mobilenet", "--alpha", "0.25",
        "--image-size", "224", "--mode", "all", "--tflite", "--tta", "8",
        "--seed", str(args.seed), "--output-dir", str(scratch / "run"),
        "--export-dir", str(scratch / "saved_models"), *args.recipe_args,
    ]  # fmt: skip
    start = time.perf_counter()
    metrics = transfer.main(recipe_argv)
    wall = time.perf_counter() - start
    rows = metrics["rows"]
    tflite = metrics["tflite"]
    record(
        f"transfer_hymenoptera_{args.name}",
        {
            "command": "python benchmarks/transfer_hymenoptera.py "
            + " ".join(argv or sys.argv[1:]),
            "recipe_argv": recipe_argv,
            "rows": rows,
            "table": transfer.format_table(rows),
            "best_mode": metrics["best_mode"],
            "best_evaluation_accuracy": metrics["best_evaluation_accuracy"],
            "best_tta_accuracy": max(r.get("tta_accuracy", 0.0) for r in rows.values()),
            "tflite": tflite,
            "wall_seconds": wall,
            "history": histories(scratch / "run"),  # each mode's, by "<mode>/history"
        },
    )


if __name__ == "__main__":
    main()
