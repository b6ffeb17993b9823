"""zoo: a Keras 3 model zoo for representation learning and transfer learning."""

__version__ = "0.1.0"

from zoo import models  # noqa: E402,F401  (registers every factory)
from zoo.registry import create_model, list_models, register_model  # noqa: E402

__all__ = ["__version__", "create_model", "list_models", "register_model"]
