"""The `weights` argument every factory takes: None or a weights file saved by the model."""

import os

WANTED = "None or the path of a weights file saved by this model"


def check_weights(weights):
    """Refuses anything but None or the path of an existing file.

    `TypeError` for a value that is not a path (a str or `os.PathLike`), `ValueError` for
    a path with no file; both name the argument and echo the value.
    """
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(
            f"weights must be {WANTED}. Received: weights={weights!r} of type "
            f"{type(weights).__name__}"
        )
    if not os.path.isfile(weights):
        raise ValueError(f"weights must be {WANTED}. Received: weights={weights!r}")
    return weights


def load_weights(model, weights):
    """Loads `weights` into `model` when given (checked first); returns the model."""
    check_weights(weights)
    if weights is not None:
        model.load_weights(weights)
    return model
