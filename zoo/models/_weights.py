"""The `weights` argument of zoo's factories: None, a weights file, or a shipped checkpoint.

A factory checks a path with `check_weights` and loads it with `load_weights`. The
`shipped_weights(model)` decorator adds the names of the checkpoints in `zoo.pretrained`
(`create_model("lenet5", weights="mnist")`): it resolves the name before the factory
runs, compares the call's arguments with the checkpoint's, builds the model without
weights and loads the checkpoint, verified by its sha256.
"""

import functools
import inspect
import os

from zoo import pretrained

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


def shipped_weights(model):
    """Decorates the factory of the registered `model` so that `weights` also takes the
    name of one of its shipped checkpoints (`zoo.pretrained`; a name wins over a file of
    the same name, as "imagenet" does in `keras.applications`).

    With a checkpoint name, each argument the checkpoint records (its `arguments`) that
    the call leaves out takes the checkpoint's value; one the call passes with another
    value is refused with `ValueError`, naming every such argument and both values. One
    exception: a classifier's checkpoint loads into the model without its classifier
    (`include_top=False`), all but the head's weights. Any other string that is not a
    file is refused listing the checkpoints of `model`.
    """

    def decorate(factory):
        signature = inspect.signature(factory)
        options = next(
            (p.name for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD), None
        )

        @functools.wraps(factory)
        def build(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:  # the factory says what is wrong
                return factory(*args, **kwargs)
            weights = bound.arguments.get("weights")
            if not isinstance(weights, str) or (
                weights not in pretrained.names(model) and os.path.isfile(weights)
            ):
                return factory(*args, **kwargs)
            entry = pretrained.checkpoint(model, weights)  # or ValueError listing them
            given = dict(bound.arguments)
            given.update(given.pop(options, {}) if options else {})
            # A classifier's checkpoint also loads without its head (a feature extractor).
            headless = entry["arguments"].get("include_top") is True and (
                given.get("include_top") is False
            )
            if headless:
                del given["include_top"]
            _check_arguments(model, entry, given)
            for arg, value in entry["arguments"].items():
                if arg in given or (headless and arg == "include_top"):
                    continue
                if arg in signature.parameters:
                    bound.arguments[arg] = _tuples(value)
                else:
                    bound.arguments.setdefault(options, {})[arg] = _tuples(value)
            bound.arguments["weights"] = None
            return pretrained.load(factory(*bound.args, **bound.kwargs), entry, head=not headless)

        return build

    return decorate


def _check_arguments(model, entry, given):
    """Refuses a call whose arguments differ from those the checkpoint was built with."""
    differ = [
        (arg, value, given[arg])
        for arg, value in entry["arguments"].items()
        if arg in given and _tuples(given[arg]) != _tuples(value)
    ]
    if differ:
        built = ", ".join(f"{arg}={_tuples(value)!r}" for arg, value, _ in differ)
        received = ", ".join(f"{arg}={value!r}" for arg, _, value in differ)
        raise ValueError(
            f"weights={entry['name']!r} is the {model} checkpoint built with {built}; leave "
            f"{'these arguments' if len(differ) > 1 else 'it'} out or pass the same values. "
            f"Received: {received}"
        )


def _tuples(value):
    """`value` with lists (as JSON stores tuples) turned into tuples, recursively."""
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    return value
