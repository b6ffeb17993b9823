"""The autoencoder family's search space for keras-tuner."""

import contextlib
import inspect

import keras
import keras_tuner

import zoo
from zoo._checks import check_choice, check_shape
from zoo.hyper._common import ZooHyperModel, first_input
from zoo.registry import get_model_factory

LOSSES = ("binary_crossentropy", "mse")
KSPARSE_CODE_SIZES = (64, 128, 256, 1000)
CODE_SIZES = (16, 32, 64, 128)  # and the variant's default code size


class AutoencoderHyperModel(ZooHyperModel):
    """Searches the code size, learning rate and the variant's own regulariser strength.

    The structure (variant, input shape, loss) is fixed in `__init__`; `build(hp)` draws
    the rest, with defaults equal to the factories' own and the autoencoder recipe's
    training (Adam at 1e-3, batches of 128, 20 epochs):

    - every variant: `code_size` in {16, 32, 64, 128} and the variant's default code size
      (its default), `learning_rate` log-uniform in [1e-4, 1e-2] (default 1e-3);
    - `deep`: `depth` 1-3 hidden layers (default 2), the first `width` in {128, 256, 512}
      (default 256), halving with depth;
    - `conv`: `base_filters` in {16, 32} (default 32), doubling per block, two blocks;
    - `denoising`: `noise_level` in [0.1, 0.5] (default 0.25);
    - `sparse_l1`: `l1` log-uniform in [1e-6, 1e-3] (default 1e-4);
    - `sparse_kl`: `kl_target` in [0.01, 0.2] (default 0.05);
    - `ksparse`: `k` in [5, 60] (default 25), `code_size` in {64, 128, 256, 1000};
    - `contractive`: `contraction` log-uniform in [1e-4, 1e-1] (default 0.001);
    - in `fit`: `batch_size` in {32, 64, 128, 256} (default 128); with `tune_epochs`,
      `epochs` from 1 to 40 (default 20).

    With `variants`, the variant is searched too (hp `variant`, default `variant`); each
    variant's code size and own hyperparameters are then named `<variant>/<name>`
    (`"deep/code_size"`, `"deep/depth"`) and active only when it is drawn.

    The objective is the best validation loss (`objective`); the data is the images as
    inputs and targets (`task` "reconstruction").

    Args:
        variant: The `ae/<variant>` to search (with `variants`, the default one).
            Defaults to "dense".
        input_shape: Shape of one example. Defaults to (28, 28, 1).
        loss: "binary_crossentropy" (default; inputs in [0, 1]) or "mse".
        variants: None (default: the variant is fixed), or a tuple of variants to choose
            from, `variant` among them.
        tune_epochs: Search the number of epochs too. Defaults to False.

    Example:

        hypermodel = AutoencoderHyperModel("denoising")
        tuner = keras_tuner.RandomSearch(
            hypermodel, objective=hypermodel.objective, max_trials=10
        )
        tuner.search(x, x, validation_split=0.1, epochs=5)
    """

    task = "reconstruction"
    default_batch_size = 128
    default_epochs = 20

    def __init__(
        self,
        variant="dense",
        input_shape=(28, 28, 1),
        loss="binary_crossentropy",
        variants=None,
        tune_epochs=False,
    ):
        names = [name.removeprefix("ae/") for name in zoo.list_models("ae/*")]
        check_choice("variant", variant, names)
        check_choice("loss", loss, LOSSES)
        input_shape = check_shape("input_shape", input_shape)
        if variants is not None:
            variants = _check_variants(variants, variant, names)
        name = "ae_search" if variants else f"ae_{variant}_search"
        super().__init__(name=name, tune_epochs=tune_epochs)
        self.variant = variant
        self.variants = variants
        self.input_shape = input_shape
        self.loss = loss
        self.objective = keras_tuner.Objective("val_loss", "min")

    def build(self, hp):
        variant = self.variant
        if self.variants:
            variant = hp.Choice("variant", self.variants, default=self.variant)
        kwargs = {"input_shape": self.input_shape}
        # Every variant's scope is opened in every build, so that keras-tuner finds the
        # whole space (it builds again with each inactive scope's variant).
        for each in self.variants or (variant,):
            with self._only_for(hp, each):
                if each == variant:
                    values, default = _code_sizes(variant)
                    kwargs["code_size"] = hp.Choice("code_size", values, default=default)
                    kwargs.update(_variant_space(variant, hp))
        model = zoo.create_model(f"ae/{variant}", **kwargs)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=self.loss)
        return model

    def fit(self, hp, model, *args, **kwargs):
        """`model.fit(*args, **kwargs)` with the drawn batch size (and epochs)."""
        return model.fit(*args, **self.fit_kwargs(hp, first_input(args, kwargs), kwargs))

    @contextlib.contextmanager
    def _only_for(self, hp, variant):
        """When the variant is searched: `variant`'s hyperparameters, active only when it
        is drawn and named `<variant>/<name>`."""
        if not self.variants:
            yield
            return
        with hp.conditional_scope("variant", [variant]), hp.name_scope(variant):
            yield


def _code_sizes(variant):
    """`(values, default)` of hp `code_size` for `variant`."""
    if variant == "ksparse":
        return KSPARSE_CODE_SIZES, 1000
    factory = get_model_factory(f"ae/{variant}")
    default = inspect.signature(factory).parameters["code_size"].default
    return tuple(sorted({*CODE_SIZES, default})), default


def _check_variants(variants, variant, names):
    listed = ", ".join(repr(name) for name in names)
    wanted = f"a non-empty tuple of distinct variants ({listed}) including variant={variant!r}"
    if not isinstance(variants, (tuple, list)):
        raise TypeError(
            f"variants must be {wanted}. Received: variants={variants!r} of type "
            f"{type(variants).__name__}"
        )
    variants = tuple(variants)
    if (
        not all(isinstance(v, str) and v in names for v in variants)
        or len(set(variants)) != len(variants)
        or variant not in variants
    ):
        raise ValueError(f"variants must be {wanted}. Received: variants={variants!r}")
    return variants


def _variant_space(variant, hp):
    """The factory arguments of `variant`'s own hyperparameters."""
    if variant == "ksparse":
        return {"k": hp.Int("k", 5, 60, default=25)}
    if variant == "deep":
        depth = hp.Int("depth", 1, 3, default=2)
        width = hp.Choice("width", [128, 256, 512], default=256)
        return {"hidden": tuple(width // 2**i for i in range(depth))}
    if variant == "conv":
        base = hp.Choice("base_filters", [16, 32], default=32)
        return {"filters": (base, 2 * base)}
    if variant == "denoising":
        return {"noise_level": hp.Float("noise_level", 0.1, 0.5, default=0.25)}
    if variant == "sparse_l1":
        return {"l1": hp.Float("l1", 1e-6, 1e-3, sampling="log", default=1e-4)}
    if variant == "sparse_kl":
        return {"target": hp.Float("kl_target", 0.01, 0.2, default=0.05)}
    if variant == "contractive":
        return {"contraction": hp.Float("contraction", 1e-4, 1e-1, sampling="log", default=1e-3)}
    return {}
