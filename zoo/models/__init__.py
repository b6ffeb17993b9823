"""Registered model factories, one module per family."""

from zoo.models import lenet  # noqa: F401
