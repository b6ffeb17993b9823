"""The workaround for Keras 3 `fit` under `tf.distribute.MultiWorkerMirroredStrategy`.

Upstream: https://github.com/keras-team/keras/issues/20585 (open) and
https://github.com/tensorflow/tensorflow/issues/72388. With more than one worker, Keras
3's TensorFlow trainer asks TensorFlow's public `Strategy.reduce` for two things
`MultiWorkerMirroredStrategy` refuses:

1. At the start of `fit` and `evaluate` (Keras >= 3.5, `_maybe_symbolic_build`) it
   reduces the first data batch, a tuple `(x, y)` of `PerReplica` values, as one value:
   `ValueError: Attempt to convert a value (PerReplica:{...}) with an unsupported type
   (<class 'tensorflow.python.distribute.values.PerReplica'>) to a Tensor.`
2. After every step (Keras >= 3.0, `reduce_per_replica`) it averages each scalar metric
   with `strategy.reduce("MEAN", value, axis=0)`: `ValueError: Invalid reduction
   dimension 0 for input with 0 dimensions.`

Nothing of Keras is patched. `MultiWorkerMirroredStrategy` here is TensorFlow's with its
public `reduce` extended to exactly those two inputs, which TensorFlow rejects: a nested
structure holding distributed values is reduced leaf by leaf, and a scalar is averaged
over replicas only (it has no axis 0; `MirroredStrategy` gives Keras the same average).
Every input TensorFlow accepts is reduced as before, so the class is harmless where Keras
has the fix, and there is no global state to apply twice.

`strategy()` uses it for the Keras versions in `AFFECTED` (3.0 to 3.16: 3.15 measured
here; keras-team/keras main of 2026-08-21, 3.16.0.dev, read unfixed); any other version
gets TensorFlow's class unchanged. `tests/test_distribute.py` fails when Keras' trainer
no longer makes these calls (check the issue and narrow `AFFECTED`), and
`tests/test_distributed_recipes.py` when a 2-process `fit` fails (a new version that
still needs this: widen it).
"""

import keras
import tensorflow as tf

AFFECTED = ((3, 0), (3, 16))  # first and last (major, minor) Keras version that needs it


def needed(version=None):
    """Whether Keras `version` (default: the installed one) needs the workaround."""
    major_minor = tuple(int(part) for part in (version or keras.__version__).split(".")[:2])
    return AFFECTED[0] <= major_minor <= AFFECTED[1]


class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """TensorFlow's `MultiWorkerMirroredStrategy` whose `reduce` takes what Keras 3 gives.

    Args:
        cluster_resolver: As TensorFlow's; None reads `TF_CONFIG`.
        communication_options: As TensorFlow's.
    """

    def reduce(self, reduce_op, value, axis):
        leaves = tf.nest.flatten(value)
        if tf.nest.is_nested(value) and any(
            isinstance(leaf, tf.distribute.DistributedValues) for leaf in leaves
        ):
            return tf.nest.map_structure(lambda leaf: self.reduce(reduce_op, leaf, axis), value)
        first = self.experimental_local_results(value)[0]
        if axis is not None and hasattr(first, "shape") and tf.TensorShape(first.shape).rank == 0:
            axis = None  # a scalar per replica: the reduction over replicas is all there is
        return super().reduce(reduce_op, value, axis)


def strategy(**kwargs):
    """A `MultiWorkerMirroredStrategy` that Keras' `fit` can use (keyword arguments as
    TensorFlow's): the class above where `needed()`, TensorFlow's otherwise."""
    cls = MultiWorkerMirroredStrategy if needed() else tf.distribute.MultiWorkerMirroredStrategy
    return cls(**kwargs)
