"""What every zoo HyperModel shares: an objective, a task, and a batch size and a number of
epochs that `fit` can search.

keras-tuner passes `search(*args, **kwargs)` on to `HyperModel.fit(hp, model, *args,
**kwargs)`, so a search recipe calls every family the same way, with the data its `task`
names:

- "classification": `tuner.search(x, y, validation_data=(x_val, y_val), ...)`;
- "reconstruction": `tuner.search(x, x, validation_data=(x_val, x_val), ...)`;
- "unsupervised": `tuner.search(x, validation_data=(x_val,), ...)` (or `x_val` alone).
"""

import keras
import keras_tuner
import numpy as np

from zoo._checks import check_bool, check_choice, check_float

TASKS = ("classification", "reconstruction", "unsupervised")
# With `tune_epochs`, hp "epochs" runs from 1 to this many times the family's default.
EPOCHS_RANGE_FACTOR = 2


class ZooHyperModel(keras_tuner.HyperModel):
    """A keras-tuner `HyperModel` with zoo's `objective`, `task` and fit-time search.

    Subclasses set the class attributes `task` (one of `TASKS`), `batch_sizes` and
    `default_batch_size` (the recipe's), `default_epochs` (the recipe's), set
    `self.objective` in `__init__`, implement `build(hp)` and call `fit_kwargs` in `fit`.

    Args:
        name: The HyperModel's name.
        tune_epochs: Search the number of epochs too (hp "epochs", an int from 1 to twice
            the family's default, the default its default); the caller then passes no
            `epochs` to `search`. Not with Hyperband, which sets the epochs itself.
            Defaults to False.
    """

    task = "classification"
    batch_sizes = (32, 64, 128, 256)
    default_batch_size = 32
    default_epochs = 10

    def __init__(self, name, tune_epochs=False):
        check_choice("task", self.task, TASKS)
        self.tune_epochs = check_bool("tune_epochs", tune_epochs)
        super().__init__(name=name, tunable=True)
        self.objective = None

    def batch_size(self, hp):
        """hp "batch_size": one of `batch_sizes`, the family's default its default."""
        values = sorted({*self.batch_sizes, self.default_batch_size})
        return hp.Choice("batch_size", values, default=self.default_batch_size)

    def fit_kwargs(self, hp, x, kwargs):
        """`kwargs` for `model.fit` with the searched batch size and epochs.

        The batch size is searched when `x` holds arrays (a `tf.data.Dataset` or a
        generator comes batched); the epochs when the HyperModel was built with
        `tune_epochs=True`. A value the search draws may not also be passed by the caller.
        """
        kwargs = dict(kwargs)
        if _is_arrays(x):
            self._refuse_given("batch_size", kwargs)
            kwargs["batch_size"] = self.batch_size(hp)
        if self.tune_epochs:
            self._refuse_given("epochs", kwargs)
            kwargs["epochs"] = hp.Int(
                "epochs", 1, EPOCHS_RANGE_FACTOR * self.default_epochs, default=self.default_epochs
            )
        return kwargs

    def _refuse_given(self, arg, kwargs):
        if arg in kwargs:
            raise ValueError(
                f"{arg} is searched by {type(self).__name__} (hp {arg!r}); fix it with "
                f"hp.Fixed({arg!r}, value) in the tuner's hyperparameters instead of passing "
                f"it to search or fit. Received: {arg}={kwargs[arg]!r}"
            )


def first_input(args, kwargs):
    """The `x` of a `fit(*args, **kwargs)` call."""
    return args[0] if args else kwargs.get("x")


def _is_arrays(x):
    """Whether `fit` batches `x` itself (arrays, tensors, lists or dicts of them)."""
    if isinstance(x, (list, tuple, dict)):
        return all(_is_arrays(item) for item in (x.values() if isinstance(x, dict) else x))
    return isinstance(x, np.ndarray) or keras.ops.is_tensor(x)


def validation_array(validation_data, arg="validation_data"):
    """The inputs of `validation_data` given as `x_val`, `(x_val,)` or `(x_val, y_val)`."""
    if isinstance(validation_data, (tuple, list)) and validation_data:
        validation_data = validation_data[0]
    return as_array(validation_data, arg)


def as_array(x, arg="x"):
    """`x` as a float32 numpy array; a dataset or generator is refused, naming `arg`."""
    if not (isinstance(x, np.ndarray) or keras.ops.is_tensor(x)):
        raise TypeError(
            f"{arg} must be a numpy array (the RBM monitors and greedy pretraining need the "
            f"examples in memory). Received: {arg} of type {type(x).__name__}"
        )
    return np.asarray(x, dtype="float32")


def split_off_validation(x, validation_split, arg="validation_split"):
    """`(train, validation)` rows of `x`, the last `validation_split` held out as Keras
    does for `fit(validation_split=...)`."""
    validation_split = check_float(
        arg, validation_split, low=0, high=1, low_open=True, high_open=True
    )
    at = int(np.floor(len(x) * (1.0 - validation_split)))
    return x[:at], x[at:]
