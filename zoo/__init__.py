"""zoo: a Keras 3 model zoo for representation learning and transfer learning.

Importing zoo is cheap: TensorFlow and Keras load when a model, layer or pipeline is first
used (`zoo.create_model(...)`, `zoo.models`, `from zoo import data`, ...).
"""

import importlib

from zoo.registry import create_model, list_models, register_model

__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "list_models", "register_model"]

_SUBMODULES = (
    "analysis",
    "callbacks",
    "data",
    "distribute",
    "export",
    "hyper",
    "layers",
    "likelihood",
    "models",
    "plots",
    "training",
)


def __getattr__(name):
    """`zoo.models`, `zoo.data`, ... imported on first use (PEP 562)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"zoo.{name}")
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES])
