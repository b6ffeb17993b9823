"""Registered model factories, one module per family."""

from zoo.models import autoencoders, lenet, rbm, transfer  # noqa: F401
from zoo.models.autoencoders import Autoencoder, encoder_classifier, greedy_pretrain
from zoo.models.rbm import RBMStack, dbn_autoencoder, dbn_classifier, pretrain
from zoo.models.transfer import TransferClassifier, fine_tune, recommend, transfer_model

__all__ = [
    "Autoencoder",
    "RBMStack",
    "TransferClassifier",
    "dbn_autoencoder",
    "dbn_classifier",
    "encoder_classifier",
    "fine_tune",
    "greedy_pretrain",
    "pretrain",
    "recommend",
    "transfer_model",
]
