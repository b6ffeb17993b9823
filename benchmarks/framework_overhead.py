"""Framework overhead: LeNet-5 epochs through zoo's recipe framework vs plain Keras.

Both arms train the same model (`recipes.lenet5.build_model`) on the same `tf.data`
pipeline (`recipes.lenet5.load_data`: MNIST, 90% train / 10% validation), with the same
optimizer. The plain arm is `model.fit(train, validation_data=val)`; the zoo arm adds the
recipe framework: the callbacks preset (TerminateOnNaN, BackupAndRestore, EarlyStopping,
ModelCheckpoint, CSVLogger, the LR schedule) writing into a run folder. Arms alternate
(ABBA) so that drift in the machine's speed cancels; the first epoch of each fit (tracing)
is left out. Target: zoo / plain throughput >= 0.95.

    python benchmarks/framework_overhead.py
"""

import argparse
import statistics
import sys
import tempfile
import time

import keras
from _common import record, use_local_data


class EpochTimer(keras.callbacks.Callback):
    """Seconds from one epoch's start to the next's, so later callbacks' work is counted."""

    def __init__(self):
        super().__init__()
        self.times, self._start = [], None

    def on_epoch_begin(self, epoch, logs=None):
        now = time.perf_counter()
        if self._start is not None:
            self.times.append(now - self._start)
        self._start = now

    def on_train_end(self, logs=None):
        self.times.append(time.perf_counter() - self._start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4, help="per fit, the first is warm-up")
    parser.add_argument("--rounds", type=int, default=2, help="ABBA rounds")
    args = parser.parse_args(argv)
    use_local_data()
    from recipes import lenet5
    from zoo import training

    recipe_args = lenet5.build_parser().parse_args(
        ["--dataset", "mnist", "--epochs", str(args.epochs), "--patience", "100"]
    )
    train, val, _, info = lenet5.load_data(recipe_args)
    n_train = int(info.num_examples)

    def run(arm):
        training.set_seed(0)
        model = lenet5.build_model(recipe_args, info)
        timer = EpochTimer()
        callbacks = [timer]
        if arm == "zoo":
            run_dir = tempfile.mkdtemp(prefix="zoo-overhead-")
            callbacks += training.make_callbacks(run_dir, recipe_args)
        model.fit(train, validation_data=val, epochs=args.epochs, callbacks=callbacks, verbose=0)
        return timer.times[1:]

    times = {"plain": [], "zoo": []}
    for _ in range(args.rounds):
        for arm in ("plain", "zoo", "zoo", "plain"):
            times[arm] += run(arm)
            print(arm, [round(t, 2) for t in times[arm]], flush=True)
    throughput = {arm: n_train / statistics.median(t) for arm, t in times.items()}
    return record(
        "framework_overhead",
        {
            "command": "python benchmarks/framework_overhead.py " + " ".join(sys.argv[1:]),
            "examples_per_epoch": n_train,
            "epoch_seconds": {arm: [round(t, 3) for t in ts] for arm, ts in times.items()},
            "throughput_examples_per_s": {k: round(v, 1) for k, v in throughput.items()},
            "ratio_zoo_over_plain": round(throughput["zoo"] / throughput["plain"], 3),
        },
    )


if __name__ == "__main__":
    main()
