"""Registered model factories, one module per family."""

from zoo.models import autoencoders, lenet, rbm  # noqa: F401
from zoo.models.autoencoders import Autoencoder, encoder_classifier, greedy_pretrain
from zoo.models.rbm import RBMStack, dbn_autoencoder, dbn_classifier, pretrain

__all__ = [
    "Autoencoder",
    "RBMStack",
    "dbn_autoencoder",
    "dbn_classifier",
    "encoder_classifier",
    "greedy_pretrain",
    "pretrain",
]
