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

zoo's step is `model.fit` of `zoo.layers.RBM` (CD-k, SGD) over random binary data, timed
on the epochs after the first (tracing), each epoch as long as MNIST's training split
(54,000 examples) by default. The fraction of a roofline is roofline time / step time.
Target: >= 0.8 of TensorFlow's roofline at batch >= 100.

    python benchmarks/rbm_roofline.py                       # V=784, H=500, b = 10, 100, 1000
    python benchmarks/rbm_roofline.py --k 1 10 --units 500
"""

import argparse
import statistics
import sys
import time

import numpy as np
from _common import record

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


def tf_roofline(shapes, repeats, inner):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    operands = [
        (tf.constant(rng.random((m, n), "float32")), tf.constant(rng.random((n, p), "float32")))
        for m, n, p in shapes
    ]

    @tf.function
    def products():  # each product feeds the result, so none is pruned
        return tf.add_n([tf.matmul(a, b)[0, 0] for a, b in operands])

    return _best_of(lambda: products().numpy(), repeats, inner)


def tf_chained_roofline(batch, visible, units, k, repeats, inner):
    """The products of one CD-k step in the order and layout the step needs them."""
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

    return _best_of(lambda: products().numpy(), repeats, inner)


def numpy_roofline(shapes, repeats, inner):
    rng = np.random.default_rng(0)
    operands = [(rng.random((m, n), "float32"), rng.random((n, p), "float32"))
                for m, n, p in shapes]  # fmt: skip

    def products():
        for a, b in operands:
            a @ b

    return _best_of(products, repeats, inner)


def zoo_step(batch, units, k, examples, epochs, steps_per_execution, jit_compile, seed=0):
    """Seconds per CD-k step of `model.fit` on an RBM layer: the median epoch after the
    first, divided by its steps."""
    import keras

    from zoo.layers import RBM

    keras.utils.set_random_seed(seed)
    x = (np.random.default_rng(seed).random((examples, VISIBLE)) < 0.3).astype("float32")
    rbm = RBM(units, k=k, seed=seed)
    model = keras.Sequential([keras.Input((VISIBLE,)), rbm])
    model.compile(
        keras.optimizers.SGD(0.01),
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(x, batch_size=batch, epochs=epochs, shuffle=False, verbose=0, callbacks=[Timer()])
    steps = examples // batch
    return statistics.median(times[1:]) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--k", type=int, nargs="+", default=[1])
    parser.add_argument(
        "--examples", type=int, default=54000, help="per epoch (default: MNIST's training split)"
    )
    parser.add_argument("--epochs", type=int, default=4, help="the first is not timed")
    parser.add_argument("--steps-per-execution", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
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
            tf_seconds = tf_roofline(shapes, args.repeats, inner)
            chained = tf_chained_roofline(batch, VISIBLE, args.units, k, args.repeats, inner)
            np_seconds = numpy_roofline(shapes, args.repeats, inner)
            step = zoo_step(
                batch,
                args.units,
                k,
                args.examples,
                args.epochs,
                args.steps_per_execution,
                args.jit_compile,
            )
            row = {
                "k": k,
                "batch_size": batch,
                "matmuls_per_step": len(shapes),
                "mflop_per_step": round(work / 1e6, 2),
                "tf_matmul_gflops": round(work / tf_seconds / 1e9, 1),
                "tf_chained_matmul_gflops": round(work / chained / 1e9, 1),
                "numpy_matmul_gflops": round(work / np_seconds / 1e9, 1),
                "zoo_gflops": round(work / step / 1e9, 1),
                "zoo_examples_per_second": round(batch / step),
                "fraction_of_tf_roofline": round(tf_seconds / step, 3),
                "fraction_of_tf_chained_roofline": round(chained / step, 3),
                "fraction_of_numpy_roofline": round(np_seconds / step, 3),
            }
            print(row, flush=True)
            rows.append(row)
    return record(
        "rbm_roofline_xla" if args.jit_compile else "rbm_roofline",
        {
            "command": "python benchmarks/rbm_roofline.py " + " ".join(sys.argv[1:]),
            "visible": VISIBLE,
            "units": args.units,
            "examples_per_epoch": args.examples,
            "steps_per_execution": args.steps_per_execution,
            "jit_compile": args.jit_compile,
            "target": ">= 0.8 of TensorFlow's matmul roofline at batch >= 100",
            "results": rows,
        },
    )


if __name__ == "__main__":
    main()
