"""Registered model factories, one module per family."""

from zoo.models import autoencoders, lenet, rbm  # noqa: F401
from zoo.models.autoencoders import Autoencoder, encoder_classifier, greedy_pretrain

__all__ = ["Autoencoder", "encoder_classifier", "greedy_pretrain"]
