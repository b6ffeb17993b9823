"""The autoencoder family's search space for keras-tuner."""

import inspect

import keras
import keras_tuner

import zoo
from zoo._checks import check_choice, check_shape
from zoo.registry import get_model_factory

LOSSES = ("binary_crossentropy", "mse")


class AutoencoderHyperModel(keras_tuner.HyperModel):
    """Searches the code size, learning rate and the variant's own regulariser strength.

    The structure (variant, input shape, loss) is fixed in `__init__`; `build(hp)` draws
    the rest, with defaults equal to the factories' own:

    - every variant: `code_size` in {16, 32, 64, 128} and the variant's default code size
      (its default), `learning_rate` log-uniform in [1e-4, 1e-2] (default 1e-3);
    - `deep`: `depth` 1-3 hidden layers (default 2), the first `width` in {128, 256, 512}
      (default 256), halving with depth;
    - `conv`: `base_filters` in {16, 32} (default 32), doubling per block, two blocks;
    - `denoising`: `noise_level` in [0.1, 0.5] (default 0.25);
    - `sparse_l1`: `l1` log-uniform in [1e-6, 1e-3] (default 1e-4);
    - `sparse_kl`: `kl_target` in [0.01, 0.2] (default 0.05);
    - `ksparse`: `k` in [5, 60] (default 25), `code_size` in {64, 128, 256, 1000};
    - `contractive`: `contraction` log-uniform in [1e-4, 1e-1] (default 0.001).

    Args:
        variant: The `ae/<variant>` to search. Defaults to "dense".
        input_shape: Shape of one example. Defaults to (28, 28, 1).
        loss: "binary_crossentropy" (default; inputs in [0, 1]) or "mse".

    Example:

        tuner = keras_tuner.RandomSearch(
            AutoencoderHyperModel("denoising"), objective="val_loss", max_trials=10
        )
        tuner.search(x, x, validation_split=0.1, epochs=5)
    """

    def __init__(self, variant="dense", input_shape=(28, 28, 1), loss="binary_crossentropy"):
        names = [name.removeprefix("ae/") for name in zoo.list_models("ae/*")]
        check_choice("variant", variant, names)
        check_choice("loss", loss, LOSSES)
        input_shape = check_shape("input_shape", input_shape)
        super().__init__(name=f"ae_{variant}_search", tunable=True)
        self.variant = variant
        self.input_shape = input_shape
        self.loss = loss

    def build(self, hp):
        kwargs = {"input_shape": self.input_shape}
        if self.variant == "ksparse":
            kwargs["code_size"] = hp.Choice("code_size", [64, 128, 256, 1000], default=1000)
            kwargs["k"] = hp.Int("k", 5, 60, default=25)
        else:
            default = self._factory_default("code_size")
            sizes = sorted({16, 32, 64, 128, default})
            kwargs["code_size"] = hp.Choice("code_size", sizes, default=default)
        kwargs.update(self._variant_space(hp))
        model = zoo.create_model(f"ae/{self.variant}", **kwargs)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=self.loss)
        return model

    def _factory_default(self, arg):
        factory = get_model_factory(f"ae/{self.variant}")
        return inspect.signature(factory).parameters[arg].default

    def _variant_space(self, hp):
        if self.variant == "deep":
            depth = hp.Int("depth", 1, 3, default=2)
            width = hp.Choice("width", [128, 256, 512], default=256)
            return {"hidden": tuple(width // 2**i for i in range(depth))}
        if self.variant == "conv":
            base = hp.Choice("base_filters", [16, 32], default=32)
            return {"filters": (base, 2 * base)}
        if self.variant == "denoising":
            return {"noise_level": hp.Float("noise_level", 0.1, 0.5, default=0.25)}
        if self.variant == "sparse_l1":
            return {"l1": hp.Float("l1", 1e-6, 1e-3, sampling="log", default=1e-4)}
        if self.variant == "sparse_kl":
            return {"target": hp.Float("kl_target", 0.01, 0.2, default=0.05)}
        if self.variant == "contractive":
            return {
                "contraction": hp.Float("contraction", 1e-4, 1e-1, sampling="log", default=1e-3)
            }
        return {}
