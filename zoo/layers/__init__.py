"""Reusable, serializable building blocks."""

from zoo.layers.activations import scaled_tanh
from zoo.layers.initializers import FanInUniform
from zoo.layers.partial_conv import LENET5_C3_TABLE, PartialConv2D
from zoo.layers.rbf import EuclideanRBF
from zoo.layers.subsampling import Subsampling2D

__all__ = [
    "LENET5_C3_TABLE",
    "EuclideanRBF",
    "FanInUniform",
    "PartialConv2D",
    "Subsampling2D",
    "scaled_tanh",
]
