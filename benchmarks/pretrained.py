"""Builds the checkpoints shipped in zoo/pretrained/ and checks that they reproduce.

Every checkpoint comes from one recipe command (`CHECKPOINTS`, recorded in the manifest):

    python benchmarks/pretrained.py build                # train all, convert, write the
                                                         # files and zoo/pretrained/manifest.json
    python benchmarks/pretrained.py build lenet5-mnist   # only some (IDs: `list`)
    python benchmarks/pretrained.py convert ID ...       # convert existing run folders again
    python benchmarks/pretrained.py check                # retrain each in a scratch folder
                                                         # and compare with the manifest
    python benchmarks/pretrained.py verify               # the shipped files: sha256 and the
                                                         # test metric, against the manifest
    python benchmarks/pretrained.py list
    python benchmarks/pretrained.py markdown             # the manifest as docs/RESULTS.md's table

`build` runs each recipe command as written (in a subprocess, from the repository root,
run folder `runs/pretrained/<ID>`), takes the run's trained model (`best.keras`,
`rbm.keras` or the DBN's `pretrained.weights.h5`), copies its weights into the model
`zoo.create_model(model, **arguments)` builds, checks that both give the same test metric,
and measures the metric again with every weight rounded to float16. The file is float16
when that leaves the metric unchanged (accuracy within one test image, reconstruction
error within 0.1%), float32 otherwise; both values are recorded. `check` does the same
into a temporary folder and passes when the retrained metric is within `REBUILD_NOISE`
of the manifest's (seeded runs on another machine, or with other library versions, are
not bit-identical). Data: MNIST and Fashion-MNIST from `ZOO_DATA_DIR` (../shared/data).
"""

import argparse
import datetime
import json
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from _common import REPO, machine, record, use_local_data

RUNS = "runs/pretrained"
# float16 is kept when the metric moves by at most this much (abs for accuracy, rel for
# the reconstruction error) on the whole test split.
FLOAT16_UNCHANGED = {"test_accuracy": {"abs": 1e-4}, "test_reconstruction_mse": {"rel": 1e-3}}
# A retrained checkpoint matches the manifest within this much on the whole test split.
REBUILD_NOISE = {"test_accuracy": {"abs": 0.005}, "test_reconstruction_mse": {"rel": 0.10}}
AE_TRAINING = ["--dataset", "mnist", "--epochs", "10", "--probe-examples", "-1", "--no-export"]
DENSE_AE = {"input_shape": [28, 28, 1], "hidden": [], "activation": "relu"}
CONV_AE = {
    "input_shape": [28, 28, 1],
    "filters": [32, 64],
    "code_size": 32,
    "kernel_size": 3,
    "activation": "relu",
    "code_activation": "linear",
    "output_activation": "sigmoid",
}
LENET5_MODERN = {
    "input_shape": [28, 28, 1],
    "classes": 10,
    "include_top": True,
    "filters": [6, 16],
    "units": [120, 84],
    "norm": "none",
    "batch_norm": False,
    "activation": "relu",
}


def _checkpoint(
    model, name, recipe, argv, arguments, metric, *, source="best.keras", normalize="minmax",
    binarize=False,
):  # fmt: skip
    dataset = argv[argv.index("--dataset") + 1]
    return {
        "id": f"{model.replace('/', '_')}-{name}",
        "model": model,
        "name": name,
        "dataset": dataset,
        "recipe": recipe,
        "argv": argv,
        "arguments": arguments,
        "metric": metric,
        "source": source,
        "normalize": normalize,
        "binarize": binarize,
    }


ACCURACY, MSE = "test_accuracy", "test_reconstruction_mse"
CHECKPOINTS = [
    _checkpoint(
        "lenet5",
        "mnist",
        "lenet5",
        ["--dataset", "mnist", "--epochs", "10", "--no-export"],
        {"input_shape": [28, 28, 1], "classes": 10, "include_top": True, "head": "softmax"},
        ACCURACY,
        normalize="zscore",
    ),
    _checkpoint(
        "lenet5_modern",
        "mnist",
        "lenet5",
        ["--model", "lenet5_modern", "--dataset", "mnist", "--epochs", "10", "--no-export"],
        LENET5_MODERN,
        ACCURACY,
        normalize="zscore",
    ),
    _checkpoint(
        "lenet5_modern",
        "fashion_mnist",
        "lenet5",
        ["--model", "lenet5_modern", "--dataset", "fashion_mnist", "--epochs", "10"]
        + ["--no-export"],
        LENET5_MODERN,
        ACCURACY,
        normalize="zscore",
    ),
    _checkpoint(
        "ae/dense",
        "mnist",
        "autoencoder",
        ["--variant", "dense", *AE_TRAINING],
        {**DENSE_AE, "code_size": 32, "code_activation": "relu", "output_activation": "sigmoid"}
        | {"tied": False},
        MSE,
    ),
    _checkpoint(
        "ae/conv", "mnist", "autoencoder", ["--variant", "conv", *AE_TRAINING], CONV_AE, MSE
    ),
    _checkpoint(
        "ae/conv",
        "fashion_mnist",
        "autoencoder",
        ["--variant", "conv", *AE_TRAINING[2:], "--dataset", "fashion_mnist"],
        CONV_AE,
        MSE,
    ),
    _checkpoint(
        "ae/denoising",
        "mnist",
        "autoencoder",
        ["--variant", "denoising", *AE_TRAINING],
        {**DENSE_AE, "code_size": 256, "code_activation": "relu", "output_activation": "sigmoid"}
        | {"tied": False},
        MSE,
    ),
    _checkpoint(
        "ae/sparse_kl",
        "mnist",
        "autoencoder",
        ["--variant", "sparse_kl", *AE_TRAINING],
        {**DENSE_AE, "code_size": 1000, "output_activation": "sigmoid", "tied": False},
        MSE,
    ),
    _checkpoint(
        "ae/contractive",
        "mnist",
        "autoencoder",
        ["--variant", "contractive", *AE_TRAINING],
        {"input_shape": [28, 28, 1], "code_size": 1000, "output_activation": "sigmoid"}
        | {"tied": True},
        MSE,
    ),
    _checkpoint(
        "rbm",
        "mnist",
        "rbm",
        ["--dataset", "mnist", "--binarize", "--units", "500", "--epochs", "20"]
        + ["--probe-examples", "-1", "--no-export"],
        {"input_shape": [28, 28, 1], "units": 500},
        MSE,
        source="rbm.keras",
        binarize=True,
    ),
    _checkpoint(
        "dbn",
        "mnist",
        "dbn",
        ["--dataset", "mnist", "--pretrain-epochs", "10", "--epochs", "1"]
        + ["--probe-examples", "10000", "--no-export"],
        {"input_shape": [28, 28, 1], "hidden": [500, 500, 2000], "visible": "bernoulli"},
        MSE,
        source="pretrained.weights.h5",
    ),
]
BY_ID = {c["id"]: c for c in CHECKPOINTS}


def command(spec, run_dir):
    """The recipe command line of `spec`, writing its run folder to `run_dir`."""
    recipe = f"recipes.{spec['recipe']}"
    return ["python", "-m", recipe, *spec["argv"], "--seed", "0", "--output-dir", run_dir]


def train(spec, run_dir):
    """Runs the recipe command (fresh run folder); returns its wall time in seconds."""
    shutil.rmtree(REPO / run_dir, ignore_errors=True)
    argv = command(spec, str(run_dir))
    print("$", shlex.join(argv), flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv[1:]], cwd=REPO, check=True)
    return time.perf_counter() - start


def trained_model(spec, run_dir):
    """The run's trained model, as the recipe saved it."""
    import keras

    import zoo
    import zoo.models  # noqa: F401 - registers zoo's layers, for load_model

    source = REPO / run_dir / spec["source"]
    if source.name.endswith(".weights.h5"):  # the DBN's pretrained stack
        return zoo.create_model(spec["model"], **_arguments(spec), weights=str(source))
    return keras.saving.load_model(source)


def _arguments(spec):
    from zoo.models._weights import _tuples

    return {arg: _tuples(value) for arg, value in spec["arguments"].items()}


def input_record(spec):
    """How the images reach the model: the training data's `DatasetInfo` (as the recipe
    loads it: the first 90% of the training split) and whether pixels are binarised."""
    from zoo import data

    _, info = data.load(spec["dataset"], "train[:90%]", normalize=spec["normalize"], with_info=True)
    return {**info.to_json(), "binarize": spec["binarize"]}


def _close(metric, value, expected, tolerance):
    bound = tolerance[metric]
    if "abs" in bound:
        return abs(value - expected) <= bound["abs"]
    return abs(value - expected) <= bound["rel"] * abs(expected)


def convert(spec, run_dir, out_dir):
    """Converts the run's model into `<out_dir>/<id>.npz`; returns the manifest entry."""
    import zoo
    from zoo import pretrained

    entry = {k: spec[k] for k in ("model", "name", "dataset", "arguments")}
    entry["input"] = input_record(spec)
    x, y = pretrained.evaluation_data(entry)
    metric = spec["metric"]
    trained = trained_model(spec, run_dir)
    source_value = pretrained.measure(trained, metric, x, y)
    target = zoo.create_model(spec["model"], **_arguments(spec))
    target.set_weights(trained.get_weights())
    value32 = pretrained.measure(target, metric, x, y)
    if not _close(metric, value32, source_value, {metric: {"rel": 1e-5, "abs": 1e-6}}):
        raise RuntimeError(f"{spec['id']}: converted {value32} != trained {source_value}")
    out = pathlib.Path(out_dir)
    values = {}
    for dtype in ("float16", "float32"):
        file = pretrained.save(target, out / f"{spec['id']}.{dtype}.npz", dtype)
        fresh = zoo.create_model(spec["model"], **_arguments(spec))
        probe = {**entry, "sha256": pretrained.sha256(file), "file": file.name}
        values[dtype] = pretrained.measure(pretrained.load(fresh, probe, file), metric, x, y)
    dtype = (
        "float16" if _close(metric, values["float16"], value32, FLOAT16_UNCHANGED) else "float32"
    )
    final = out / f"{spec['id']}.npz"
    (out / f"{spec['id']}.{dtype}.npz").replace(final)
    for leftover in out.glob(f"{spec['id']}.float*.npz"):
        leftover.unlink()
    entry.update(file=final.name, sha256=pretrained.sha256(final), size=final.stat().st_size)
    entry["dtype"] = dtype
    shipped = pretrained.load(zoo.create_model(spec["model"], **_arguments(spec)), entry, final)
    raw, labels = pretrained.subset_images(spec["dataset"])
    entry["metric"] = {
        "name": metric,
        "value": values[dtype],
        "float32_value": value32,
        "float16_value": values["float16"],
        "examples": len(x),
        "subset": {
            "examples": len(raw),
            "value": pretrained.measure(shipped, metric, pretrained.prepare(entry, raw), labels),
        },
    }
    entry["command"] = shlex.join(command(spec, run_dir))
    entry["source"] = spec["source"]
    recipe_metrics = json.loads((REPO / run_dir / "metrics.json").read_text())
    entry["recipe_metrics"] = {
        k: v for k, v in recipe_metrics.items() if isinstance(v, (int, float)) and k != "epochs"
    } | {"epochs": recipe_metrics.get("epochs")}
    return entry


def versions():
    import keras
    import tensorflow as tf

    import zoo

    return {"zoo": zoo.__version__, "keras": keras.__version__, "tensorflow": tf.__version__}


def write_manifest(entries):
    """Replaces (or adds) `entries` in zoo/pretrained/manifest.json, in `CHECKPOINTS` order."""
    from zoo import pretrained

    old = pretrained.manifest()["checkpoints"] if pretrained.MANIFEST.exists() else []
    by_key = {(e["model"], e["name"]): e for e in old}
    by_key.update({(e["model"], e["name"]): e for e in entries})
    order = [(c["model"], c["name"]) for c in CHECKPOINTS]
    ordered = [by_key[key] for key in order if key in by_key]
    text = json.dumps({"format": 1, "checkpoints": ordered}, indent=2)
    # lists of numbers and strings on one line (JSON strings hold no raw newlines)
    text = re.sub(r"\[\n([^\[\]{}]*?)\n\s*\]", _one_line, text)
    pretrained.MANIFEST.write_text(text + "\n")
    pretrained.manifest.cache_clear()


def _one_line(match):
    return "[" + " ".join(line.strip() for line in match[1].split("\n")) + "]"


def build(ids, *, retrain=True):
    from zoo import pretrained

    entries = []
    for spec in (BY_ID[i] for i in ids):
        run_dir = f"{RUNS}/{spec['id']}"
        seconds = train(spec, run_dir) if retrain else None
        entry = convert(spec, run_dir, pretrained.FOLDER)
        entry["built"] = {
            "date": datetime.date.today().isoformat(),
            "machine": machine(),
            "versions": versions(),
            **({"train_seconds": round(seconds)} if seconds is not None else {}),
        }
        entries.append(entry)
        write_manifest([entry])
        print(f"{spec['id']}: {entry['metric']['name']} {entry['metric']['value']:.5g} "
              f"({entry['dtype']}, {entry['size']:,} bytes)", flush=True)  # fmt: skip
    total = sum(e["size"] for e in pretrained.checkpoints())
    print(f"shipped: {len(pretrained.checkpoints())} checkpoints, {total / 1e6:.2f} MB in all")
    return entries


def check(ids):
    """Retrains each into a scratch folder; compares the metric with the manifest's."""
    from zoo import pretrained

    rows = []
    with tempfile.TemporaryDirectory(prefix="zoo-pretrained-") as scratch:
        for spec in (BY_ID[i] for i in ids):
            shipped = pretrained.checkpoint(spec["model"], spec["name"])
            run_dir = f"{scratch}/{spec['id']}"
            seconds = train(spec, run_dir)
            rebuilt = convert(spec, run_dir, scratch)["metric"]
            expected = shipped["metric"]["value"]
            ok = _close(rebuilt["name"], rebuilt["value"], expected, REBUILD_NOISE)
            rows.append(
                {"id": spec["id"], "metric": rebuilt["name"], "rebuilt": rebuilt["value"],
                 "manifest": expected, "ok": ok, "train_seconds": round(seconds)}
            )  # fmt: skip
            print(f"{spec['id']}: {rebuilt['name']} rebuilt {rebuilt['value']:.5g}, manifest "
                  f"{expected:.5g}: {'OK' if ok else 'DIFFERS'}", flush=True)  # fmt: skip
    record("pretrained_check", {"tolerance": REBUILD_NOISE, "checkpoints": rows})
    return sum(not row["ok"] for row in rows)


def verify(ids):
    """The shipped files: sha256, and the metric on the whole test split."""
    import zoo
    from zoo import pretrained

    failures = 0
    for spec in (BY_ID[i] for i in ids):
        entry = pretrained.checkpoint(spec["model"], spec["name"])
        model = zoo.create_model(spec["model"], weights=spec["name"])
        value = pretrained.evaluate(model, entry)
        ok = pretrained.within_tolerance(entry["metric"]["name"], value, entry["metric"]["value"])
        failures += not ok
        print(f"{spec['id']}: {entry['metric']['name']} {value:.5g}, manifest "
              f"{entry['metric']['value']:.5g}: {'OK' if ok else 'DIFFERS'}")  # fmt: skip
    return failures


def markdown():
    """The manifest as a markdown table (docs/RESULTS.md, README)."""
    from zoo import pretrained

    print("| model | `weights=` | test metric (10,000 images) | first 500 | float32 | dtype | size "
          "| training |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | ---: | ---: |")
    for e in pretrained.checkpoints():
        m = e["metric"]
        name = m["name"].removeprefix("test_").replace("_", " ")
        seconds = e.get("built", {}).get("train_seconds")
        print(
            f'| `{e["model"]}` | `"{e["name"]}"` | {name} {m["value"]:.4g} | '
            f"{m['subset']['value']:.4g} | {m['float32_value']:.4g} | {e['dtype']} | "
            f"{e['size'] / 1e6:.2f} MB | {f'{seconds} s' if seconds else '-'} |"
        )
    total = sum(e["size"] for e in pretrained.checkpoints())
    print(f"\n{len(pretrained.checkpoints())} checkpoints, {total / 1e6:.2f} MB in all.")


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "action", choices=("build", "convert", "check", "verify", "list", "markdown")
    )
    parser.add_argument("ids", nargs="*", help=f"checkpoints (default: all): {', '.join(BY_ID)}")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    unknown = [i for i in args.ids if i not in BY_ID]
    if unknown:
        build_parser().error(f"unknown checkpoint {unknown[0]!r}. IDs: {', '.join(BY_ID)}")
    ids = args.ids or list(BY_ID)
    if args.action == "list":
        for i in ids:
            print(f"{i:28} {shlex.join(command(BY_ID[i], f'{RUNS}/{i}'))}")
        return 0
    sys.path.insert(0, str(REPO))
    if args.action == "markdown":
        markdown()
        return 0
    use_local_data()
    if args.action in ("build", "convert"):
        build(ids, retrain=args.action == "build")
        return 0
    return 1 if (check(ids) if args.action == "check" else verify(ids)) else 0


if __name__ == "__main__":
    sys.exit(main())
