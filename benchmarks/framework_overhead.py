"""Framework overhead: LeNet-5 epochs through zoo's recipe framework vs plain Keras.

Both arms train the same model (`recipes._common.lenet5_model`) on the same `tf.data`
pipeline (`recipes._common.lenet5_data`: MNIST, 90% train / 10% validation), with the same
optimizer. The plain arm is `model.fit(train, validation_data=val)`; the zoo arm adds the
recipe framework: the callbacks preset (TerminateOnNaN, RunBackup, EarlyStopping,
ModelCheckpoint, CSVLogger, the LR schedule) writing into a run folder.

Wall-clock epoch times on this shared 2-core machine swing by +-20% (up to +-45%) from one
epoch to the next, more than the overhead being measured: a paired wall-clock design gave
pair ratios from 0.55 to 1.85, which cannot tell 0.95 from 1.0. So each epoch is also
timed in CPU seconds of this process (`time.process_time`: every thread's CPU time), which
another job's load changes far less than wall time; the arms alternate epoch by epoch in
AB / BA pairs, each epoch one `fit(..., initial_epoch=i, epochs=i + 1)` call (so the zoo
arm also pays its callbacks' train-begin and train-end work every epoch), and the result
is the ratio of total times, plain / zoo (zoo's throughput relative to plain Keras), with a
95% bootstrap confidence interval over the pairs, for CPU time and for wall time. The
first pair (tracing, cache fill) is left out. Target: zoo / plain throughput >= 0.95,
i.e. the interval's lower end >= 0.95.

    python benchmarks/framework_overhead.py --pairs 20

To find which callback costs what, `--drop` leaves callbacks out of the zoo arm by class
name (an ablation), e.g.

    python benchmarks/framework_overhead.py --pairs 8 --drop RunBackup \
        --record framework_overhead_without_backup
"""

import argparse
import statistics
import sys
import tempfile
import time

from _common import bootstrap_ratio, record, use_local_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=20, help="timed epoch pairs")
    parser.add_argument(
        "--drop",
        nargs="+",
        default=[],
        metavar="CLASS",
        help="leave these callbacks (class names, e.g. RunBackup) out of the zoo arm",
    )
    parser.add_argument("--record", default="framework_overhead", help="record name")
    args = parser.parse_args(argv)
    use_local_data()
    from recipes import _common, lenet5
    from zoo import training

    # --resume lets the zoo arm's CSVLogger append across the per-epoch fit calls.
    scratch = tempfile.mkdtemp(prefix="zoo-overhead-")
    argv = ["--dataset", "mnist", "--epochs", str(args.pairs + 1), "--patience", "100"]
    options = _common.parse(lenet5.build_parser(), [*argv, "--resume", "--output-dir", scratch])
    config = _common.training_config(options)
    train, val, _, info = _common.lenet5_data(options, config)
    training.set_seed(0)
    models = {arm: _common.lenet5_model(options, config, info) for arm in ("plain", "zoo")}
    preset = training.make_callbacks(scratch, config)
    unknown = set(args.drop) - {type(callback).__name__ for callback in preset}
    if unknown:
        parser.error(
            f"--drop takes the preset's callbacks "
            f"({', '.join(type(callback).__name__ for callback in preset)}). "
            f"Received: {' '.join(sorted(unknown))}"
        )
    zoo_callbacks = [callback for callback in preset if type(callback).__name__ not in args.drop]
    callbacks = {"plain": [], "zoo": zoo_callbacks}

    def epoch(arm, i):
        wall, cpu = time.perf_counter(), time.process_time()
        models[arm].fit(
            train,
            validation_data=val,
            initial_epoch=i,
            epochs=i + 1,
            callbacks=callbacks[arm],
            verbose=0,
        )
        return time.perf_counter() - wall, time.process_time() - cpu

    times = {"plain": [], "zoo": []}
    for i in range(args.pairs + 1):
        for arm in ("plain", "zoo") if i % 2 == 0 else ("zoo", "plain"):
            times[arm].append(epoch(arm, i))
        print(i, {arm: [round(x, 2) for x in t[-1]] for arm, t in times.items()}, flush=True)
    wall = {arm: [w for w, _ in ts[1:]] for arm, ts in times.items()}
    cpu = {arm: [c for _, c in ts[1:]] for arm, ts in times.items()}
    wall_ratios = [p / z for p, z in zip(wall["plain"], wall["zoo"], strict=True)]
    cpu_ratios = [p / z for p, z in zip(cpu["plain"], cpu["zoo"], strict=True)]
    return record(
        args.record,
        {
            "command": "python benchmarks/framework_overhead.py " + " ".join(sys.argv[1:]),
            "zoo_callbacks": [type(callback).__name__ for callback in zoo_callbacks],
            "examples_per_epoch": int(info.num_examples),
            "timed_pairs": args.pairs,
            "epoch_wall_seconds": {arm: [round(t, 3) for t in ts] for arm, ts in wall.items()},
            "epoch_cpu_seconds": {arm: [round(t, 3) for t in ts] for arm, ts in cpu.items()},
            "throughput_examples_per_s": {
                arm: round(info.num_examples / statistics.median(ts), 1) for arm, ts in wall.items()
            },
            "cpu_ratio_zoo_over_plain": bootstrap_ratio(cpu["plain"], cpu["zoo"]),
            "wall_ratio_zoo_over_plain": bootstrap_ratio(wall["plain"], wall["zoo"]),
            "cpu_pair_ratio_range": [round(min(cpu_ratios), 3), round(max(cpu_ratios), 3)],
            "wall_pair_ratio_range": [round(min(wall_ratios), 3), round(max(wall_ratios), 3)],
        },
    )


if __name__ == "__main__":
    main()
