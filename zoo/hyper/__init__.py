"""keras-tuner search spaces, one HyperModel per family.

Each HyperModel has an `objective` (a `keras_tuner.Objective` with its direction) and a
`task` saying what `search` trains on: "classification" (`x, y`), "reconstruction"
(`x, x`) or "unsupervised" (`x`). `get_hypermodel(family, **kwargs)` makes one by name:

    hypermodel = get_hypermodel("lenet5_modern", input_shape=(8, 8, 1))
    tuner = keras_tuner.RandomSearch(hypermodel, objective=hypermodel.objective, max_trials=5)
"""

from zoo._checks import check_choice
from zoo.hyper.autoencoders import AutoencoderHyperModel
from zoo.hyper.lenet import LeNetHyperModel
from zoo.hyper.rbm import DBNHyperModel, RBMHyperModel
from zoo.hyper.transfer import TransferHyperModel

FAMILIES = ("lenet5", "lenet5_modern", "autoencoder", "rbm", "dbn", "transfer")
_CLASSES = {
    "autoencoder": AutoencoderHyperModel,
    "rbm": RBMHyperModel,
    "dbn": DBNHyperModel,
    "transfer": TransferHyperModel,
}


def get_hypermodel(family, **kwargs):
    """The HyperModel of `family`, one of `FAMILIES`.

    Args:
        family: "lenet5", "lenet5_modern" (both `LeNetHyperModel`), "autoencoder", "rbm",
            "dbn" or "transfer".
        **kwargs: The HyperModel's constructor arguments.

    Returns:
        A `keras_tuner.HyperModel` with `objective` and `task` attributes.
    """
    check_choice("family", family, FAMILIES)
    if family in ("lenet5", "lenet5_modern"):
        return LeNetHyperModel(family, **kwargs)
    return _CLASSES[family](**kwargs)


__all__ = [
    "FAMILIES",
    "AutoencoderHyperModel",
    "DBNHyperModel",
    "LeNetHyperModel",
    "RBMHyperModel",
    "TransferHyperModel",
    "get_hypermodel",
]
