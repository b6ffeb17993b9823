"""RBM training throughput against this machine's matmul limit, not against scikit-learn.

One CD-k update of an RBM with V visible and H hidden units on a batch of b examples does
at least 2k + 3 matrix products of 2·b·V·H flops each: the data's up pass (its hidden
probabilities and free energy share it), k - 1 up and k down passes of the Gibbs chain,
the model sample's up pass (its free energy), and the two outer products of the gradient
(data and model statistics). Everything else (sigmoids, Bernoulli draws, the optimizer's
update) is elementwise work on b·(V + H) + V·H values.

The roofline of a step is the time of exactly those matrix products, measured here in
TensorFlow (a `tf.function`, as `fit` runs them) and in numpy (OpenBLAS), two ways:

- independent: the products as separate operations, none waiting for another (TensorFlow
  may run two at once on two cores), all in their plain (untransposed) layout;
- chained: the products in the order CD-k must run them, each Gibbs pass waiting for the
  one before, with the transposes CD-k needs (h W^T, v^T h): the least time a step
  built from TensorFlow's products can take.

zoo's step is `model.fit` of `zoo.layers.RBM` (CD-k, SGD) over random binary data, each
epoch as long as MNIST's training split (54,000 examples) by default. The measurements are
interleaved: after each epoch (one round) every roofline is timed, so that a round's step
and rooflines see the same state of this noisy machine, and the first round (tracing) is
dropped. The fraction of a roofline is the sum over rounds of its time / the sum of the
step's, with a 95% bootstrap interval over the rounds. Target: >= 0.8 of TensorFlow's
roofline at batch >= 100, read as the interval's lower end.

Where the rest of a step goes is measured the same way, by a hand-written CD-k step in a
plain `tf.function` built up part by part: the chained products, + biases and sigmoids,
+ Bernoulli draws, + the SGD update (`tf_step_sigmoid`, `tf_step_draws`,
`tf_step_update`; `ms_per_step` of each). The full hand-written step's time over zoo's is
what Keras and zoo's free-energy loss add; the chained products' time over the full
hand-written step's is what the elementwise work any unfused implementation must do costs.

    python benchmarks/rbm_roofline.py                       # V=784, H=500, b = 10, 100, 1000
    python benchmarks/rbm_roofline.py --k 1 10 --units 500
"""

import argparse
import statistics
import sys
import time

import numpy as np
from _common import bootstrap_ratio, record

VISIBLE = 784


def matmul_shapes(batch, visible, units, k):
    """The (m, n, p) products of one CD-k step: (m x n) @ (n x p), 2k + 3 of them."""
    up, down, outer = (batch, visible, units), (batch, units, visible), (visible, batch, units)
    return [up] + [down, up] * (k - 1) + [down, up] + [outer, outer]


def flops(shapes):
    return sum(2 * m * n * p for m, n, p in shapes)


def _best_of(function, repeats, inner):
    """The fastest of `repeats` timings of `inner` calls, per call (seconds)."""
    function()  # warm-up (tracing, thread pools)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            function()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def tf_products(shapes):
    """A call that runs the products independently in TensorFlow."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    operands = [
        (tf.constant(rng.random((m, n), "float32")), tf.constant(rng.random((n, p), "float32")))
        for m, n, p in shapes
    ]

    @tf.function
    def products():  # each product feeds the result, so none is pruned
        return tf.add_n([tf.matmul(a, b)[0, 0] for a, b in operands])

    return lambda: products().numpy()


def tf_chained_products(batch, visible, units, k):
    """A call that runs the products of one CD-k step in the order and layout the step
    needs them, in TensorFlow."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    data = tf.constant(rng.random((batch, visible), "float32"))
    kernel = tf.constant(rng.random((visible, units), "float32"))

    @tf.function
    def products():
        positive = tf.matmul(data, kernel)  # the data's up pass
        hidden = positive
        for _ in range(k):  # k down and up passes of the chain, each waiting for the last
            negative = tf.matmul(hidden, kernel, transpose_b=True)
            hidden = tf.matmul(negative, kernel)
        statistics = tf.matmul(data, positive, transpose_a=True) - tf.matmul(
            negative, hidden, transpose_a=True
        )
        return statistics[0, 0]

    return lambda: products().numpy()


# The parts of a hand-written CD-k step, each arm adding one to the one before: where a
# step's time goes beyond its products, measured by taking parts away (an ablation, not
# a profiler's trace, which costs more than these kernels do on this CPU).
STEP_PARTS = ("sigmoid", "draws", "update")


def tf_cd_step(batch, visible, units, k, parts, seed=0):
    """A call that runs one hand-written CD-k step of a Bernoulli RBM in a plain
    `tf.function`: the chained products, then, as `parts` says, the biases and sigmoids
    ("sigmoid"), the Bernoulli draws of the chain's hidden and visible states ("draws":
    Philox uniforms compared with the probabilities) and the SGD update of the kernel and
    both biases ("update"). With every part, this is the least any TensorFlow CD-k built
    from separate kernels has to do; zoo's step also computes the free energies and their
    gradients, and Keras' metrics."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    data = tf.constant((rng.random((batch, visible)) < 0.3).astype("float32"))
    kernel = tf.Variable(rng.normal(0, 0.01, (visible, units)).astype("float32"))
    visible_bias = tf.Variable(tf.zeros(visible))
    hidden_bias = tf.Variable(tf.zeros(units))
    generator = tf.random.Generator.from_seed(seed)
    sigmoid = "sigmoid" in parts
    draws = "draws" in parts

    def probabilities(logits, bias):
        return tf.sigmoid(logits + bias) if sigmoid else logits

    def sample(probability):
        return tf.cast(generator.uniform(tf.shape(probability)) < probability, tf.float32)

    @tf.function
    def step():
        positive = probabilities(tf.matmul(data, kernel), hidden_bias)
        hidden = sample(positive) if draws else positive
        for _ in range(k):
            visible_state = probabilities(tf.matmul(hidden, kernel, transpose_b=True), visible_bias)
            if draws:
                visible_state = sample(visible_state)
            negative = probabilities(tf.matmul(visible_state, kernel), hidden_bias)
            hidden = sample(negative) if draws else negative
        gradient = (
            tf.matmul(data, positive, transpose_a=True)
            - tf.matmul(visible_state, negative, transpose_a=True)
        ) / batch
        if "update" in parts:
            kernel.assign_add(0.01 * gradient)
            visible_bias.assign_add(0.01 * tf.reduce_mean(data - visible_state, axis=0))
            hidden_bias.assign_add(0.01 * tf.reduce_mean(positive - negative, axis=0))
        return gradient[0, 0]

    return lambda: step().numpy()


def numpy_products(shapes):
    """A call that runs the products in numpy (OpenBLAS)."""
    rng = np.random.default_rng(0)
    operands = [(rng.random((m, n), "float32"), rng.random((n, p), "float32"))
                for m, n, p in shapes]  # fmt: skip

    def products():
        for a, b in operands:
            a @ b

    return products


def interleaved(batch, units, k, args, rooflines, inner):
    """zoo's CD-k step and the rooflines, timed in turn: one `model.fit` of `zoo.layers.RBM`
    over random binary data, `args.rounds + 1` epochs; after each epoch (timed per step)
    every roofline is timed (best of `args.repeats` timings of `inner` calls), so each
    round's step and rooflines see the same state of the machine. The first round
    (tracing) is dropped. Returns per-round seconds: {"zoo": [...], roofline name: [...]}."""
    import keras

    from zoo.layers import RBM

    keras.utils.set_random_seed(args.seed)
    x = (np.random.default_rng(args.seed).random((args.examples, VISIBLE)) < 0.3).astype("float32")
    model = keras.Sequential([keras.Input((VISIBLE,)), RBM(units, k=k, seed=args.seed)])
    model.compile(
        keras.optimizers.SGD(0.01),
        steps_per_execution=args.steps_per_execution,
        jit_compile=args.jit_compile,
    )
    times = {"zoo": [], **{name: [] for name in rooflines}}
    steps = args.examples // batch

    class Rounds(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times["zoo"].append((time.perf_counter() - self.start) / steps)
            for name, products in rooflines.items():
                times[name].append(_best_of(products, args.repeats, inner))

    model.fit(
        x, batch_size=batch, epochs=args.rounds + 1, shuffle=False, verbose=0, callbacks=[Rounds()]
    )
    return {name: values[1:] for name, values in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--k", type=int, nargs="+", default=[1])
    parser.add_argument(
        "--examples", type=int, default=54000, help="per epoch (default: MNIST's training split)"
    )
    parser.add_argument(
        "--rounds", type=int, default=10, help="timed epochs, each followed by the rooflines"
    )
    parser.add_argument("--steps-per-execution", type=int, default=50)
    parser.add_argument(
        "--repeats", type=int, default=3, help="timings per roofline and round (the best is kept)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--record", help="record name (default: rbm_roofline, or rbm_roofline_xla with XLA)"
    )
    parser.add_argument(
        "--jit-compile",
        action="store_true",
        help="compile zoo's step with XLA (fuses the elementwise work)",
    )
    args = parser.parse_args(argv)

    rows = []
    for k in args.k:
        for batch in args.batch_sizes:
            shapes = matmul_shapes(batch, VISIBLE, args.units, k)
            work = flops(shapes)
            inner = max(1, int(2e9 / work))  # about 2 GFLOP of products per timing
            rooflines = {
                "tf": tf_products(shapes),
                "tf_chained": tf_chained_products(batch, VISIBLE, args.units, k),
                "numpy": numpy_products(shapes),
                **{
                    f"tf_step_{part}": tf_cd_step(
                        batch, VISIBLE, args.units, k, STEP_PARTS[: i + 1], args.seed
                    )
                    for i, part in enumerate(STEP_PARTS)
                },
            }
            times = interleaved(batch, args.units, k, args, rooflines, inner)
            step = statistics.median(times["zoo"])
            row = {
                "k": k,
                "batch_size": batch,
                "matmuls_per_step": len(shapes),
                "mflop_per_step": round(work / 1e6, 2),
                "zoo_gflops": round(work / step / 1e9, 1),
                "zoo_examples_per_second": round(batch / step),
            }
            products = [name for name in rooflines if not name.startswith("tf_step_")]
            for name in products:
                row[f"{name}_matmul_gflops"] = round(work / statistics.median(times[name]) / 1e9, 1)
            for name in products:
                # sum(roofline) / sum(zoo) over the rounds, with its bootstrap interval
                row[f"fraction_of_{name}_roofline"] = bootstrap_ratio(times[name], times["zoo"])
            row["ms_per_step"] = {
                name: round(1e3 * statistics.median(values), 3) for name, values in times.items()
            }
            full = f"tf_step_{STEP_PARTS[-1]}"
            # the hand-written step against its own products, and zoo's against it
            row["hand_written_fraction_of_tf_chained"] = bootstrap_ratio(
                times["tf_chained"], times[full]
            )
            row["zoo_fraction_of_hand_written"] = bootstrap_ratio(times[full], times["zoo"])
            row["seconds_per_round"] = {
                name: [round(t, 6) for t in values] for name, values in times.items()
            }
            print({key: value for key, value in row.items() if key != "seconds_per_round"})
            rows.append(row)
    return record(
        args.record or ("rbm_roofline_xla" if args.jit_compile else "rbm_roofline"),
        {
            "command": "python benchmarks/rbm_roofline.py " + " ".join(sys.argv[1:]),
            "visible": VISIBLE,
            "units": args.units,
            "examples_per_epoch": args.examples,
            "rounds": args.rounds,
            "steps_per_execution": args.steps_per_execution,
            "jit_compile": args.jit_compile,
            "target": ">= 0.8 of TensorFlow's matmul roofline at batch >= 100",
            "results": rows,
        },
    )


if __name__ == "__main__":
    main()
