"""Framework overhead: LeNet-5 epochs through zoo's recipe framework vs plain Keras.

Both arms train the same model (`recipes._common.lenet5_model`) on the same `tf.data`
pipeline (`recipes._common.lenet5_data`: MNIST, 90% train / 10% validation), with the same
optimizer. The plain arm is `model.fit(train, validation_data=val)`; the zoo arm adds the
recipe framework: the callbacks preset (TerminateOnNaN, BackupAndRestore, EarlyStopping,
ModelCheckpoint, CSVLogger, the LR schedule) writing into a run folder.

Epoch times on this shared 2-core machine swing by +-20% from one epoch to the next, more
than the overhead being measured, so the arms run epoch by epoch in pairs (AB, then BA),
each epoch one `fit(..., initial_epoch=i, epochs=i + 1)` call timed from outside (so the
zoo arm also pays its callbacks' train-begin and train-end work every epoch). The ratio of
each pair cancels the machine's drift; the median pair ratio is the result. The first
pair (tracing, cache fill) is left out. Target: zoo / plain throughput >= 0.95.

    python benchmarks/framework_overhead.py
"""

import argparse
import statistics
import sys
import tempfile
import time

from _common import record, use_local_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=12, help="timed epoch pairs")
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
    callbacks = {"plain": [], "zoo": training.make_callbacks(scratch, config)}

    def epoch(arm, i):
        start = time.perf_counter()
        models[arm].fit(
            train,
            validation_data=val,
            initial_epoch=i,
            epochs=i + 1,
            callbacks=callbacks[arm],
            verbose=0,
        )
        return time.perf_counter() - start

    times = {"plain": [], "zoo": []}
    for i in range(args.pairs + 1):
        for arm in ("plain", "zoo") if i % 2 == 0 else ("zoo", "plain"):
            times[arm].append(epoch(arm, i))
        print(i, {arm: round(t[-1], 2) for arm, t in times.items()}, flush=True)
    plain, zoo = times["plain"][1:], times["zoo"][1:]
    ratios = [p / z for p, z in zip(plain, zoo, strict=True)]
    return record(
        "framework_overhead",
        {
            "command": "python benchmarks/framework_overhead.py " + " ".join(sys.argv[1:]),
            "examples_per_epoch": int(info.num_examples),
            "epoch_seconds": {arm: [round(t, 3) for t in ts] for arm, ts in times.items()},
            "throughput_examples_per_s": {
                "plain": round(info.num_examples / statistics.median(plain), 1),
                "zoo": round(info.num_examples / statistics.median(zoo), 1),
            },
            "pair_ratios_zoo_over_plain": [round(r, 3) for r in ratios],
            "ratio_zoo_over_plain_median": round(statistics.median(ratios), 3),
            "ratio_zoo_over_plain_total_time": round(sum(plain) / sum(zoo), 3),
        },
    )


if __name__ == "__main__":
    main()
