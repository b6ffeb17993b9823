"""The `weights` argument every factory takes: None or a weights file saved by the model."""

import os


def check_weights(weights):
    """Raises `ValueError` unless `weights` is None or the path of an existing file."""
    if weights is not None and not (
        isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights)
    ):
        raise ValueError(
            "weights must be None or the path of a weights file saved by this model. "
            f"Received: weights={weights}"
        )


def load_weights(model, weights):
    """Loads `weights` into `model` when given (checked first); returns the model."""
    check_weights(weights)
    if weights is not None:
        model.load_weights(weights)
    return model
