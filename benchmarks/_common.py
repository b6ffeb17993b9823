"""Shared by the benchmark scripts: where the data is, and how results are recorded."""

import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
# The scripts import the checkout's recipes package (installed, it is zoo.recipes).
if str(REPO) not in sys.path:
    sys.path.insert(1, str(REPO))
SHARED_DATA = REPO.parent / "shared" / "data"
RESULTS_DIR = REPO / "benchmarks" / "results"


def use_local_data():
    """Points zoo at ../shared/data (this workplace's offline files) unless already set."""
    if "ZOO_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
        os.environ["ZOO_DATA_DIR"] = str(SHARED_DATA)


def machine():
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"{os.cpu_count()} cores, {cpu}, {'GPU: ' + str(len(gpus)) if gpus else 'no GPU'}"


def record(name, result):
    """Adds date, machine, versions and git commit, writes results/<name>.json, returns it."""
    import keras
    import tensorflow as tf

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    result = {
        "benchmark": name,
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
        "commit": commit,
        **result,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


def bootstrap_ratio(numerator, denominator, samples=20000, seed=0):
    """sum(numerator) / sum(denominator) of paired timings and its 95% percentile-bootstrap
    interval, resampling the pairs."""
    import numpy as np

    numerator, denominator = np.asarray(numerator), np.asarray(denominator)
    picks = np.random.default_rng(seed).integers(0, len(numerator), (samples, len(numerator)))
    ratios = numerator[picks].sum(axis=1) / denominator[picks].sum(axis=1)
    low, high = np.percentile(ratios, [2.5, 97.5])
    ratio = numerator.sum() / denominator.sum()
    return {"ratio": round(float(ratio), 4), "ci95": [round(float(low), 4), round(float(high), 4)]}


def run_folder(name):
    """A new run folder for a benchmark's recipe run: runs/benchmarks/<name>-<HHMMSS>."""
    import time

    return pathlib.Path("runs", "benchmarks", f"{name}-{time.strftime('%H%M%S')}")


def histories(run_dir):
    """Every per-epoch log (`*.csv`) in a run folder and its subfolders, by its path in the
    folder without the suffix: "history", "pretrain_rbm1", "standard/history", ..."""
    from zoo import training

    run_dir = pathlib.Path(run_dir)
    return {
        path.relative_to(run_dir).with_suffix("").as_posix(): training.read_history(path)
        for path in sorted(run_dir.rglob("*.csv"))
    }


def add_to_record(name, key, measure):
    """Adds `measure(record)` (a dict) under `key` to the existing record
    results/<name>.json, with the command and date that made it. The record is read
    first, so a wrong name fails before the measurement runs, and `measure` can use it.
    Returns the record."""
    import time

    path = RESULTS_DIR / f"{name}.json"
    result = json.loads(path.read_text())
    command = " ".join(["python", f"benchmarks/{pathlib.Path(sys.argv[0]).name}", *sys.argv[1:]])
    result[key] = {"command": command, "date": time.strftime("%Y-%m-%d"), **measure(result)}
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result[key].items() if k != "grid"}, indent=2))
    return result
