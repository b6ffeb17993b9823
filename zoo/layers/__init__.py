"""Reusable, serializable building blocks."""

from zoo.layers.activations import scaled_tanh
from zoo.layers.augmentation import TrainingOnly, image_augmentation
from zoo.layers.contractive import ContractiveDense
from zoo.layers.inference import InferenceMode
from zoo.layers.initializers import FanInUniform
from zoo.layers.noise import MaskingNoise, SaltAndPepperNoise
from zoo.layers.partial_conv import LENET5_C3_TABLE, PartialConv2D
from zoo.layers.rbf import EuclideanRBF
from zoo.layers.rbm import RBM
from zoo.layers.sparsity import KLSparsity, KSparse, KSparseSchedule, ksparse_alpha
from zoo.layers.subsampling import Subsampling2D
from zoo.layers.tied import TiedDense, tie_scope

__all__ = [
    "LENET5_C3_TABLE",
    "ContractiveDense",
    "EuclideanRBF",
    "FanInUniform",
    "InferenceMode",
    "KLSparsity",
    "KSparse",
    "KSparseSchedule",
    "MaskingNoise",
    "PartialConv2D",
    "RBM",
    "SaltAndPepperNoise",
    "Subsampling2D",
    "TiedDense",
    "TrainingOnly",
    "image_augmentation",
    "ksparse_alpha",
    "scaled_tanh",
    "tie_scope",
]
