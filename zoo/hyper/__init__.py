"""keras-tuner search spaces, one HyperModel per family."""

from zoo.hyper.autoencoders import AutoencoderHyperModel

__all__ = ["AutoencoderHyperModel"]
