"""Model registry: a dict of factories, a decorator to fill it, and lookups.

Example:

    @register_model
    def lenet5(input_shape=(28, 28, 1), classes=10, ...):
        ...

    zoo.list_models("lenet*")        # ['lenet5', 'lenet5_modern']
    model = zoo.create_model("lenet5", classes=10)
"""

import difflib
import fnmatch
import importlib

_MODELS = {}

# The models zoo ships and the module that registers each. Listing them needs no import
# (so `zoo list` starts without TensorFlow); building one imports only its family.
# tests/test_registry.py checks this table against what the modules register.
BUILTIN_MODELS = {
    **{
        f"ae/{variant}": "zoo.models.autoencoders"
        for variant in (
            "contractive",
            "conv",
            "deep",
            "denoising",
            "dense",
            "ksparse",
            "sparse_kl",
            "sparse_l1",
            "tied",
        )
    },
    "dbn": "zoo.models.rbm",
    "gaussian_rbm": "zoo.models.rbm",
    "rbm": "zoo.models.rbm",
    "lenet5": "zoo.models.lenet",
    "lenet5_modern": "zoo.models.lenet",
    "transfer/inception_resnet_v2": "zoo.models.transfer",
    "transfer/mobilenet": "zoo.models.transfer",
    "transfer/mobilenet_v2": "zoo.models.transfer",
}


def register_model(fn=None, *, name=None):
    """Registers a model factory under `name` (default: the function's name).

    Usable bare (`@register_model`) or with a name (`@register_model(name="ae/dense")`).
    Registering a second factory under a taken name raises `ValueError`.
    """

    def decorator(factory):
        key = name or factory.__name__
        builtin = BUILTIN_MODELS.get(key)
        taken = builtin is not None and builtin != getattr(factory, "__module__", None)
        if taken or (key in _MODELS and _MODELS[key] is not factory):
            raise ValueError(f"A model named {key!r} is already registered.")
        _MODELS[key] = factory
        return factory

    return decorator(fn) if fn is not None else decorator


def list_models(pattern="*"):
    """Returns the sorted names of the registered models matching a glob `pattern`."""
    names = {*_MODELS, *BUILTIN_MODELS}
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def get_model_factory(name):
    """Returns the registered factory called `name`; `ValueError` with the closest names if none."""
    if name not in _MODELS and isinstance(name, str) and name in BUILTIN_MODELS:
        importlib.import_module(BUILTIN_MODELS[name])  # registers the family's factories
    if name not in _MODELS:
        close = difflib.get_close_matches(str(name), list_models(), n=5, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown model name. Received: name={name!r}.{hint} "
            f"Registered models: {', '.join(list_models())}."
        )
    return _MODELS[name]


def create_model(model, /, **kwargs):
    """Builds the registered model `model` with the factory's keyword arguments.

    `model` is positional-only, so every factory argument passes through, `name=`
    (the Keras model's name) included: `create_model("lenet5", name="digits")`.

    Returns:
        An uncompiled `keras.Model`.
    """
    return get_model_factory(model)(**kwargs)


def describe_model(name):
    """Returns the first line of the factory's docstring."""
    doc = get_model_factory(name).__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
