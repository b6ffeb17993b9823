"""Scaling on paper: each model's measured step compute time and gradient bytes, and the
expected speed-up of data-parallel training on N workers from a ring all-reduce cost model.

    python benchmarks/scaling.py                    # all models; results/scaling.json
    python benchmarks/scaling.py --models lenet5 --steps 5
    python benchmarks/scaling.py --markdown         # also the tables of docs/SCALING.md
    python benchmarks/scaling.py --tables           # only the tables, from results/scaling.json

Compute time: the median over `--steps` training steps (after warm-up steps) of
`train_on_batch` at the recipe's default batch, on random inputs of the model's shape, in
this process (all the machine's cores). Gradient bytes: the trainable variables' sizes x
4 (float32): what every worker sends through the all-reduce each step.

Cost model, ring all-reduce of B bytes over N workers with link bandwidth W and a
per-message latency a: t = 2 (N-1)/N x B / W + 2 (N-1) x a. Weak scaling (each worker
keeps the batch, so a step on N workers handles N batches), no overlap of compute and
communication: speed-up(N) = N x t_compute / (t_compute + t_allreduce(N)).
"""

import argparse
import json
import os
import statistics
import time

from _common import RESULTS_DIR, record

WORKERS = (2, 4, 8, 16, 32, 64)
GBITS = (1, 10, 100)  # link bandwidths, Gbit/s
LATENCY_S = 50e-6  # per message step: TCP in one data-centre network (state it)
BYTES_PER_VALUE = 4  # float32 gradients

# name -> (zoo model, its arguments, batch (the recipe's default), what it is trained on)
MODELS = {
    "lenet5": ("lenet5", {"input_shape": (28, 28, 1), "classes": 10}, 128, "labels"),
    "ae_dense": ("ae/dense", {}, 128, "itself"),
    "rbm_784_500": ("rbm", {"units": 500}, 100, "cd"),
    "mobilenet_025_partial": (
        "transfer/mobilenet",
        {"alpha": 0.25, "mode": "partial", "weights": None},
        32,
        "labels",
    ),
    "mobilenet_025_total": (
        "transfer/mobilenet",
        {"alpha": 0.25, "mode": "total", "weights": None},
        32,
        "labels",
    ),
}


def allreduce_seconds(grad_bytes, workers, gbit_per_s, latency=LATENCY_S):
    """Ring all-reduce time of `grad_bytes` over `workers` at `gbit_per_s`."""
    if workers == 1:
        return 0.0
    bandwidth = gbit_per_s * 1e9 / 8  # bytes per second
    return 2 * (workers - 1) / workers * grad_bytes / bandwidth + 2 * (workers - 1) * latency


def speedup(step_seconds, grad_bytes, workers, gbit_per_s, latency=LATENCY_S):
    """Throughput on `workers` over one worker's: weak scaling, no overlap."""
    comm = allreduce_seconds(grad_bytes, workers, gbit_per_s, latency)
    return workers * step_seconds / (step_seconds + comm)


def limit(step_seconds, grad_bytes, gbit_per_s, latency=LATENCY_S):
    """What dominates communication at 64 workers, and the first N below 50% efficiency."""
    n = WORKERS[-1]
    bandwidth_term = 2 * (n - 1) / n * grad_bytes / (gbit_per_s * 1e9 / 8)
    latency_term = 2 * (n - 1) * latency
    half = next(
        (w for w in WORKERS if speedup(step_seconds, grad_bytes, w, gbit_per_s, latency) < w / 2),
        None,
    )
    return {
        "bound_at_64": "bandwidth" if bandwidth_term > latency_term else "latency",
        "bandwidth_term_ms": 1e3 * bandwidth_term,
        "latency_term_ms": 1e3 * latency_term,
        "first_n_below_half_efficiency": half,
    }


def measure(name, steps, warmup):
    """(median step seconds, all step seconds, trainable parameters) of model `name`."""
    import keras
    import numpy as np

    import zoo

    model_name, kwargs, batch, target = MODELS[name]
    keras.utils.set_random_seed(0)
    model = zoo.create_model(model_name, **kwargs)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(batch, *model.input_shape[1:])).astype("float32")
    if target == "cd":
        model.compile(optimizer=keras.optimizers.SGD(0.01))
        args = (x,)
    elif target == "itself":
        model.compile(optimizer="adam", loss="binary_crossentropy")
        args = (x, x)
    else:
        y = rng.integers(0, model.output_shape[-1], size=batch)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        args = (x, y)
    for _ in range(warmup):
        model.train_on_batch(*args)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(*args)
        times.append(time.perf_counter() - start)
    params = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    return statistics.median(times), times, params


def model_result(name, steps, warmup):
    step, times, params = measure(name, steps, warmup)
    grad_bytes = params * BYTES_PER_VALUE
    model_name, kwargs, batch, _ = MODELS[name]
    return {
        "model": model_name,
        "arguments": {k: v for k, v in kwargs.items() if k != "weights"},
        "batch": batch,
        "trainable_parameters": params,
        "gradient_bytes": grad_bytes,
        "step_seconds_median": step,
        "step_seconds_min": min(times),
        "step_seconds": times,
        "speedup": {
            f"{g}gbit": {str(n): speedup(step, grad_bytes, n, g) for n in WORKERS} for g in GBITS
        },
        "limit": {f"{g}gbit": limit(step, grad_bytes, g) for g in GBITS},
    }


def markdown(results):
    """The two tables of docs/SCALING.md."""
    lines = [
        "| model | batch | trainable parameters | gradient | step (median) |"
        " all-reduce at N=64, 1 / 10 / 100 Gbit/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        comm = " / ".join(
            f"{1e3 * allreduce_seconds(r['gradient_bytes'], 64, g):.1f}" for g in GBITS
        )
        lines.append(
            f"| {name} | {r['batch']} | {r['trainable_parameters']:,} | "
            f"{r['gradient_bytes'] / 1e6:.2f} MB | {1e3 * r['step_seconds_median']:.1f} ms | "
            f"{comm} ms |"
        )
    header = " | ".join(f"N={n}" for n in WORKERS)
    tail = "all-reduce at N=64 is mostly | efficiency < 50% from"
    lines += ["", f"| model | link | {header} | {tail} |"]
    lines.append("| --- | --- |" + " ---: |" * len(WORKERS) + " --- | ---: |")
    for name, r in results.items():
        for g in GBITS:
            row = r["speedup"][f"{g}gbit"]
            info = r["limit"][f"{g}gbit"]
            half = info["first_n_below_half_efficiency"]
            cells = " | ".join(f"{row[str(n)]:.1f}" for n in WORKERS)
            bound = f"{info['bound_at_64']} ({info['bandwidth_term_ms']:.1f} ms bandwidth)"
            lines.append(f"| {name} | {g} Gbit/s | {cells} | {bound} | {half or '-'} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--markdown", action="store_true", help="print the doc's tables")
    parser.add_argument(
        "--tables", action="store_true", help="print the tables of results/scaling.json; no run"
    )
    args = parser.parse_args(argv)
    if args.tables:
        recorded = json.loads((RESULTS_DIR / "scaling.json").read_text())
        print(markdown(recorded["models"]))
        return
    load_before = os.getloadavg()[0]  # other work on the machine slows the steps
    results = {name: model_result(name, args.steps, args.warmup) for name in args.models}
    suffix = "" if args.models == list(MODELS) else "_" + "_".join(args.models)
    record(
        f"scaling{suffix}",
        {
            "command": "python benchmarks/scaling.py"
            + (f" --models {' '.join(args.models)}" if suffix else ""),
            "steps": args.steps,
            "warmup": args.warmup,
            "latency_seconds": LATENCY_S,
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
            "cost_model": "ring all-reduce: 2(N-1)/N B/W + 2(N-1) latency; weak scaling; "
            "no compute/communication overlap",
            "models": results,
        },
    )
    if args.markdown:
        print(markdown(results))


if __name__ == "__main__":
    main()
