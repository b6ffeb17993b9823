"""What the recipes share: the command line (parser, option groups, errors) and the steps
that more than one recipe runs (LeNet-5 training, autoencoder training and evaluation,
greedy RBM training). No recipe imports another; each imports what it shares from here.

A recipe reads:

    parser = make_parser("lenet5", __doc__)
    add_data_args(parser, dataset="mnist")
    add_training_args(parser, epochs=30, batch_size=128, learning_rate=1e-3)
    parser.set_defaults(...)  # last: an option added later keeps its own default

    def main(argv=None):
        options = parse(parser, argv)          # read-only options
        config = training_config(options)      # zoo.training.TrainConfig
        ...

    cli = command(main)                        # one-line errors, exit status 2
    if __name__ == "__main__":
        sys.exit(cli())
"""

import argparse
import dataclasses
import os
import pathlib
import shlex
import sys
import warnings

from zoo import _checks, data, distribute, training

DEBUG_ENV = "ZOO_DEBUG"
# Errors a user causes and can fix (bad options, missing or unreadable files): one line.
USER_ERRORS = (ValueError, TypeError, OSError)
SMOKE_EXAMPLES = 256  # examples per split under --smoke
# The optimizer's options of `zoo.training.TrainConfig` (momentum, Nesterov, decoupled
# weight decay, gradient clipping), as command-line options.
OPTIMIZER_OPTIONS = ("momentum", "nesterov", "weight_decay", "clipnorm", "clipvalue")
# The RBM recipes' own --momentum (the first of the momentum schedule) and --weight-decay
# (an L2 weight cost on W, in the loss) keep their meaning there.
CD_OPTIMIZER_OPTIONS = ("nesterov", "clipnorm", "clipvalue")


# --- the command line ------------------------------------------------------------------


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring as written, and every option's default in `--help`."""


class Options(argparse.Namespace):
    """Parsed options, read-only once parsed: a recipe derives what it needs (such as a
    `TrainConfig` with `dataclasses.replace`) instead of patching them."""

    def _freeze(self):
        object.__setattr__(self, "_frozen", True)
        return self

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(f"options are read-only once parsed. Received: {name}={value!r}")
        super().__setattr__(name, value)

    def as_dict(self):
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def command_line(self):
        return getattr(self, "_command", None)

    def replace(self, **changes):
        """A read-only copy with `changes`, for a step that must not see some options
        (`--sanity` builds its model with `options.replace(dropout=0.0)`)."""
        copy = Options(**{**self.as_dict(), **changes})
        object.__setattr__(copy, "_command", self.command_line())
        return copy._freeze()

    def export_metadata(self):
        """What an export records about the run: the dataset and the command line."""
        return {"dataset": getattr(self, "dataset", None), "command": self.command_line()}


def make_parser(name, description):
    """A recipe's parser: `zoo run NAME` as its program name, defaults shown in `--help`,
    and `--debug`."""
    parser = argparse.ArgumentParser(
        prog=f"zoo run {name}", description=description, formatter_class=HelpFormatter
    )
    parser.add_argument(
        "--debug", action="store_true", help=f"show tracebacks (or set {DEBUG_ENV}=1)"
    )
    return parser


def parse(parser, argv=None):
    """`parser.parse_args(argv)` as read-only `Options`; `options.command_line()` is the
    command that gave them (recorded in exports)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    options = parser.parse_args(argv, namespace=Options())
    object.__setattr__(options, "_command", " ".join([parser.prog, shlex.join(argv)]).strip())
    return options._freeze()


def debugging(argv=()):
    """Whether tracebacks were asked for: `--debug` among `argv`, or `ZOO_DEBUG` set."""
    return "--debug" in argv or os.environ.get(DEBUG_ENV, "").lower() not in ("", "0", "false")


def command(main):
    """The command-line entry of a recipe's `main(argv)`: returns its exit status.

    Option errors are argparse's (status 2). `--resume` of a run that has finished says so
    and changes nothing (status 0). A `ValueError`, `TypeError` or `OSError` from
    the run (an unknown dataset, a missing file, a folder that holds a run) is printed as
    one line, `zoo run NAME: error: ...`, with status 2, unless `--debug` or `ZOO_DEBUG=1`
    asks for the traceback.
    """
    module = sys.modules[main.__module__]
    name = getattr(module.__spec__, "name", None) or main.__module__  # "__main__" under -m
    prog = f"zoo run {name.rsplit('.', 1)[-1]}"

    def cli(argv=None):
        argv = sys.argv[1:] if argv is None else list(argv)
        try:
            main(argv)
        except training.RunFinished as finished:  # --resume of a finished run: done already
            print(f"{prog}: {finished}", file=sys.stderr)
            return 0
        except USER_ERRORS as error:
            if debugging(argv):
                raise
            message = " ".join(str(error).split()) or type(error).__name__
            print(f"{prog}: error: {message} (--debug shows the traceback)", file=sys.stderr)
            return 2
        return 0

    return cli


def _typed(convert, check, wanted, **bounds):
    """An argparse `type` that converts the text and checks the value with `zoo._checks`."""

    def parse_value(text):
        try:
            return check("value", convert(text), **bounds)
        except (ValueError, TypeError):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None

    parse_value.__name__ = wanted
    return parse_value


def int_type(low=None, high=None):
    """Option type: an int in `[low, high]`, e.g. `--epochs`."""
    return _typed(int, _checks.check_int, _checks.describe_int(low, high), low=low, high=high)


def float_type(low=None, high=None, *, low_open=False, high_open=False):
    """Option type: a finite number within the bounds, e.g. `--learning-rate`."""
    bounds = {"low": low, "high": high, "low_open": low_open, "high_open": high_open}
    wanted = _checks.describe_float(**bounds)
    return _typed(float, _checks.check_float, wanted, **bounds)


positive_int = int_type(low=1)
non_negative_int = int_type(low=0)
positive_float = float_type(low=0, low_open=True)
non_negative_float = float_type(low=0)
fraction = float_type(low=0, high=1, high_open=True)  # rates such as dropout: [0, 1)


def dataset_type(option="--dataset"):
    """Option type: a dataset `zoo.data.load` knows; the error lists them."""

    def dataset(text):
        try:
            return data.check_dataset(text, arg=option)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return dataset


# --- option groups ---------------------------------------------------------------------


def add_data_args(parser, *, dataset="mnist", validation_percent=10):
    """`--dataset`, `--data-dir` and `--validation-percent`."""
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset",
        type=dataset_type(),
        default=dataset,
        help="digits (bundled), mnist, fashion_mnist, or another tfds image dataset",
    )
    group.add_argument(
        "--data-dir",
        default=None,
        help=f"folder with the dataset's original files (else ${data.DATA_DIR_ENV}/<dataset>)",
    )
    group.add_argument(
        "--validation-percent",
        type=int_type(1, 99),
        default=validation_percent,
        help="percent of the training split held out for validation",
    )
    return group


def add_training_args(
    parser,
    *,
    epochs,
    batch_size,
    learning_rate,
    optimizer="adam",
    lr_schedule="cosine",
    patience=10,
    export_dir="saved_models",
    export_name_help="the model's name, then _<dataset> unless mnist",
    sanity=None,
    optimizer_options=OPTIMIZER_OPTIONS,
):
    """The options every training recipe has, with the recipe's own defaults; the
    recipe turns them into a `zoo.training.TrainConfig` with `training_config`.
    `export_name_help` describes the default export name in `--help`. `sanity`, the
    recipe's `Sanity`, adds `--sanity`, `--sanity-examples` and `--sanity-epochs` (a
    recipe that passes it runs the check when asked). `optimizer_options` are the
    optimizer's options the recipe takes (`add_optimizer_args`): all of them, except
    in a recipe whose own options already use one of the names."""
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=positive_int, default=epochs, help="maximum epochs")
    group.add_argument("--batch-size", type=positive_int, default=batch_size, help="batch size")
    group.add_argument(
        "--learning-rate", type=positive_float, default=learning_rate, help="learning rate"
    )
    group.add_argument(
        "--optimizer", choices=training.OPTIMIZERS, default=optimizer, help="optimizer"
    )
    add_optimizer_args(group, optimizer_options)
    group.add_argument(
        "--lr-schedule",
        choices=training.LR_SCHEDULES,
        default=lr_schedule,
        help="learning-rate decay over epochs",
    )
    group.add_argument(
        "--lr-step", type=positive_int, default=10, help="epochs between decays (step)"
    )
    group.add_argument(
        "--lr-gamma",
        type=float_type(0, 1, low_open=True),
        default=0.5,
        help="decay factor: per step (step), per epoch (exponential), on plateau (plateau)",
    )
    group.add_argument(
        "--patience",
        type=positive_int,
        default=patience,
        help="early-stopping patience in epochs (the best epoch's weights are restored at the "
        "end, stopped early or not)",
    )
    group.add_argument(
        "--no-early-stopping",
        dest="patience",
        action="store_const",
        const=None,
        default=argparse.SUPPRESS,
        help="train every epoch and keep the last epoch's weights",
    )
    group.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of every random number"
    )
    group.add_argument("--smoke", action="store_true", help="a few batches, one epoch: seconds")
    group.add_argument(
        "--verbose",
        type=int_type(0, 2),
        default=None,
        help="Keras' fit verbosity: 1 progress bar, 2 one line per epoch (default: 1 on a "
        "terminal, 2 when the output is piped or logged)",
    )
    group.add_argument(
        "--output-dir",
        default=None,
        help=f"run folder (default {training.RUNS_DIR}/<recipe>/<time>)",
    )
    group.add_argument(
        "--resume", action="store_true", help="continue the interrupted run in --output-dir"
    )
    group.add_argument(
        "--strategy",
        choices=distribute.STRATEGIES,
        default="default",
        help="tf.distribute: one device; mirrored over this machine's GPUs (or "
        "ZOO_LOGICAL_CPUS=N CPU devices); multiworker across the TF_CONFIG cluster "
        "(zoo launch). --batch-size is the global batch",
    )
    group.add_argument("--tensorboard", action="store_true", help="also log for TensorBoard")
    group.add_argument("--export-dir", default=export_dir, help="SavedModel serving root")
    group.add_argument("--no-export", action="store_true", help="skip the SavedModel export")
    group.add_argument(
        "--export-name", default=None, help=f"export name (default: {export_name_help})"
    )
    if sanity is not None:
        add_sanity_args(group, sanity)
    return group


def add_optimizer_args(group, names=OPTIMIZER_OPTIONS):
    """`--momentum`, `--nesterov`, `--weight-decay`, `--clipnorm`, `--clipvalue` (those
    of `names`), with `TrainConfig`'s defaults."""
    defaults = training.TrainConfig()
    options = {
        "momentum": {
            "type": fraction,
            "default": defaults.momentum,
            "help": "SGD momentum (--optimizer sgd)",
        },
        "nesterov": {"action": "store_true", "help": "Nesterov momentum (--optimizer sgd)"},
        "weight_decay": {
            "type": non_negative_float,
            "default": defaults.weight_decay,
            "help": "decoupled weight decay (AdamW/SGDW): each step w -= learning rate * "
            "weight decay * w, apart from the gradient (default: the optimizer's own, none "
            "except adamw's 0.004)",
        },
        "clipnorm": {
            "type": positive_float,
            "default": defaults.clipnorm,
            "help": "clip each weight's gradient to this L2 norm (default: no clipping)",
        },
        "clipvalue": {
            "type": positive_float,
            "default": defaults.clipvalue,
            "help": "clip gradient elements to [-v, v], not with --clipnorm (default: none)",
        },
    }
    for name in names:
        group.add_argument(f"--{name.replace('_', '-')}", **options[name])


def add_probe_arg(group, *, allow_off=True):
    """`--probe-examples`: training examples for the linear probe of the features."""
    group.add_argument(
        "--probe-examples",
        type=int_type(low=-1 if allow_off else 0),
        default=10000,
        help="training examples for the linear probe of the features (0: all"
        + ("; -1: no probe)" if allow_off else ")"),
    )


# Why the recipes built on contrastive divergence train on one device only.
CD_SINGLE_DEVICE = (
    "contrastive divergence runs Gibbs sampling (and persistent chains) in a custom train "
    "step that is not replica-aware, and its graph fails under tf.distribute"
)


def single_device_only(config, reason):
    """Refuses a `--strategy` other than "default" with `reason`, in one line."""
    if config.strategy != "default":
        raise ValueError(
            f"--strategy {config.strategy} is not supported here: {reason}. Use --strategy default"
        )


def training_config(options, **changes):
    """The `zoo.training.TrainConfig` of parsed options (fields the options lack keep the
    config's defaults), with `changes` on top."""
    values = {
        field: getattr(options, field)
        for field in training.TrainConfig.field_names()
        if hasattr(options, field)
    }
    if hasattr(options, "no_export"):
        values["export"] = not options.no_export
    return training.TrainConfig(**{**values, **changes})


def write_run_histories(run_dir, histories, title=None, metrics=("accuracy", "loss")):
    """The run folder's `history.csv` and `learning_curves.png` for a recipe that trains
    several models: every model's columns side by side, prefixed by its label and padded
    to the longest (a model's own `history.csv` is in its subfolder), and one figure with
    every model's curves.

    Args:
        run_dir: The run folder.
        histories: dict of label -> history dict (`History.history`).
        title: The figure's title.
        metrics: The metrics the figure draws, one panel each.
    """
    from zoo.plots import plot_runs

    longest = max(len(h["loss"]) for h in histories.values())
    columns = {"epoch": list(range(longest))}
    for label, history in histories.items():
        for key, values in history.items():
            if key != "phase":
                columns[f"{label}_{key}"] = [*values, *[float("nan")] * (longest - len(values))]
    lines = [",".join(columns)]
    lines += [",".join(str(values[i]) for values in columns.values()) for i in range(longest)]
    (pathlib.Path(run_dir) / training.HISTORY_FILE).write_text("\n".join(lines) + "\n")
    plot_runs(histories, pathlib.Path(run_dir) / training.CURVES_FILE, metrics, title=title)


def fit_in(folder, model, config, x, y=None, *, validation_data=None, monitor="val_loss",
           first=(), extra=()):  # fmt: skip
    """Fits one of a recipe's several models with the callbacks preset writing into
    `folder` (its `history.csv`, `best.keras`, backup), after `first` and before `extra`
    (as `zoo.training.make_callbacks`): numpy `x`, `y` in batches of the config's size,
    or a pipeline `x` (which reshuffles itself). Returns the `History`."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    batching = {"shuffle": False} if y is None else {"batch_size": config.batch_size}
    return model.fit(
        x,
        y,
        validation_data=validation_data,
        epochs=config.fit_epochs,
        callbacks=training.make_callbacks(
            folder, config, monitor=monitor, first=first, extra=extra
        ),
        verbose=config.fit_verbose,
        **batching,
    )


def finish_study(options, config, run_dir, label, model, info, metrics, recipe):
    """The end of a recipe that trains several models: exports `model`, the run `label`
    (its history in `<run folder>/<label>/`), as `recipe` (then `_<dataset>` unless
    mnist), and writes `metrics.json`."""
    name = export_name(recipe, options.dataset)
    training.export_run(
        config, run_dir / label, model, info, metrics, name, options.export_metadata()
    )
    training.write_json(run_dir / training.METRICS_FILE, metrics)


def mlp_classifier(info, hidden, *, activation="relu", kernel_initializer="he_normal",
                   batch_norm=False, name="mlp"):  # fmt: skip
    """A multilayer perceptron for a dataset's images (uncompiled): flatten, then each
    hidden layer as dense (no bias under batch norm), optional batch normalisation, the
    activation; a softmax head. Layers are named `<name>_dense<i>`, `<name>_bn<i>`,
    `<name>_act<i>`, `<name>_logits`, `<name>_predictions`."""
    import keras

    inputs = keras.Input(info.input_shape, name=f"{name}_input")
    x = keras.layers.Flatten(name=f"{name}_flatten")(inputs)
    for i, units in enumerate(hidden, start=1):
        x = keras.layers.Dense(
            units,
            use_bias=not batch_norm,
            kernel_initializer=kernel_initializer,
            name=f"{name}_dense{i}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.Activation(activation, name=f"{name}_act{i}")(x)
    x = keras.layers.Dense(info.num_classes, name=f"{name}_logits")(x)
    outputs = keras.layers.Activation("softmax", name=f"{name}_predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def compile_classifier(model, config, **kwargs):
    """Compiles `model` with the configured optimizer, sparse cross-entropy and accuracy
    (and `kwargs`, such as `run_eagerly`); returns it."""
    model.compile(
        optimizer=training.make_optimizer(config),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        **kwargs,
    )
    return model


DEFAULT_IMAGE_FOLDER = "hymenoptera_data"  # under $ZOO_DATA_DIR: the transfer recipes' data


def image_folder_root(folder):
    """`--data` as a folder, or `$ZOO_DATA_DIR/hymenoptera_data` when it is not given."""
    if folder is not None:
        return pathlib.Path(folder)
    root = os.environ.get(data.DATA_DIR_ENV)
    if root and (pathlib.Path(root) / DEFAULT_IMAGE_FOLDER).is_dir():
        return pathlib.Path(root) / DEFAULT_IMAGE_FOLDER
    raise ValueError(
        f"--data must name an image folder (or set ${data.DATA_DIR_ENV} to a folder holding "
        f"{DEFAULT_IMAGE_FOLDER}/). Received: --data=None"
    )


CANONICAL_DATASET = "mnist"  # the dataset an export name may leave out


def export_name(model, dataset):
    """A recipe's default export name: the model's name, then `_<dataset>` unless the
    dataset is MNIST (`lenet5`, `lenet5_digits`, `ae_conv_fashion_mnist`), so that runs
    on other datasets never become versions of the MNIST model. `--export-name` replaces
    it."""
    return model if dataset == CANONICAL_DATASET else f"{model}_{dataset}"


def smoke_limit(config):
    """Examples per split: a few batches under --smoke, all otherwise."""
    return SMOKE_EXAMPLES if config.smoke else None


# --- the overfit sanity check (--sanity) -----------------------------------------------

SANITY_BATCH_SIZE = 32  # at most: a few steps an epoch on a subset of 128


@dataclasses.dataclass(frozen=True)
class Sanity:
    """How `--sanity` checks a recipe's model: it trains on the first `examples` training
    examples, without regularisation, for at most `epochs`, and passes when the watched
    value falls to `tolerance` times its initial value (or times a baseline, `of`).

    Args:
        examples: The default of `--sanity-examples`.
        epochs: The default of `--sanity-epochs`.
        tolerance: The target as a fraction of the initial value or the baseline.
        watched: What is watched, for `--help`.
        of: What the tolerance is a fraction of, for `--help`. Defaults to "its initial
            value".
    """

    examples: int
    epochs: int
    tolerance: float
    watched: str
    of: str = "its initial value"


# From the untrained model's ln(classes) (2.30 for 10 classes) to a tenth of it: most of
# the subset classified right, with confidence. LeNet-5 gets there in 5-35 epochs.
CLASSIFIER_SANITY = Sanity(128, 100, 0.1, "the training cross-entropy")
# A model that ignores its input at best outputs the subset's mean image; half of that
# squared error (R^2 >= 0.5 on the subset) needs a working code. Watched as MSE, which can
# approach 0 where binary cross-entropy on grey levels cannot, and relative to the mean
# image rather than to where a sigmoid or linear output starts. 10-90 epochs.
RECONSTRUCTION_SANITY = Sanity(
    128, 300, 0.5, "the training reconstruction MSE", "the MSE of the subset's mean image"
)


def add_sanity_args(group, sanity):
    """`--sanity`, `--sanity-examples`, `--sanity-epochs` with the recipe's `Sanity`."""
    percent = f"{round(100 * sanity.tolerance)}%%"  # help strings are %-formatted
    group.add_argument(
        "--sanity",
        action="store_true",
        help="instead of training: check that the model can overfit a tiny subset of the "
        f"training split without regularisation ({sanity.watched} must fall to {percent} "
        f"of {sanity.of}); prints PASS, or fails with exit status 2 and the likely causes; "
        "writes no run folder and no export",
    )
    group.add_argument(
        "--sanity-examples",
        type=positive_int,
        default=sanity.examples,
        help="training examples --sanity overfits",
    )
    group.add_argument(
        "--sanity-epochs", type=positive_int, default=sanity.epochs, help="epochs --sanity allows"
    )


def training_subset(options, *, normalize, image_size=None):
    """`(x, y, info)`: the first `--sanity-examples` examples of the split the recipe
    trains on (the training split less its validation part), as numpy arrays."""
    keep = 100 - options.validation_percent
    subset, info = data.load(
        options.dataset,
        f"train[:{keep}%]",
        normalize=normalize,
        image_size=image_size,
        manual_dir=options.data_dir,
        limit=options.sanity_examples,
        shuffle=False,
        with_info=True,
    )
    x, y = data.as_numpy(subset)
    return x, y, info


def sanity_check(options, config, model, x, y=None, *, sanity, batch_size=None, **kwargs):
    """`zoo.training.overfit_check` of the compiled `model` with the `--sanity` options:
    `--sanity-epochs`, the family's tolerance, batches of at most `SANITY_BATCH_SIZE` (or
    `batch_size`), the learning rate and optimizer of the run; `kwargs` go to it."""
    return training.overfit_check(
        model,
        x,
        y,
        epochs=options.sanity_epochs,
        tolerance=sanity.tolerance,
        batch_size=batch_size or min(config.batch_size, SANITY_BATCH_SIZE),
        verbose=options.verbose or 0,
        **kwargs,
    )


def report_sanity(result, *, rate_option="--learning-rate", causes=()):
    """Prints `sanity check PASS: ...` and returns the result as a dict, or raises
    `ValueError` (one line, exit status 2) with the numbers and the likely causes, the
    recipe's own `causes` among them."""
    if not result.passed:
        message = result.failure_message(
            rate_option=rate_option, epochs_option="--sanity-epochs", extra=causes
        )
        raise ValueError(f"sanity check {message}")
    print(f"sanity check {result.summary()}")
    return result.as_dict()


# --- LeNet-5 runs (the lenet5 recipe and the quickstart) -------------------------------


def add_lenet5_args(parser):
    """LeNet-5's model, input and augmentation options."""
    import zoo
    from zoo.models.lenet import ACTIVATIONS, HEADS, NORMS

    group = parser.add_argument_group("model")
    group.add_argument(
        "--model", choices=zoo.list_models("lenet5*"), default="lenet5", help="which LeNet-5"
    )
    group.add_argument(
        "--image-size", type=int_type(1, 32), default=28, help="resize images to this"
    )
    group.add_argument(
        "--normalize",
        choices=("minmax", "zscore"),
        default="zscore",
        help="input scaling (zscore: zero mean, unit variance, as in the paper)",
    )
    group.add_argument("--head", choices=HEADS, default="softmax", help="lenet5's output layer")
    group.add_argument("--batch-norm", action="store_true", help="lenet5_modern only: --norm batch")
    group.add_argument(
        "--norm",
        choices=NORMS,
        default="none",
        help="lenet5_modern only: normalisation after each conv and dense layer",
    )
    group.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default="relu",
        help="lenet5_modern only: activation of the hidden layers",
    )
    group.add_argument(
        "--kernel-initializer",
        default="he_normal",
        help="lenet5_modern only: a Keras initializer name (he_normal, glorot_uniform, ...)",
    )
    group.add_argument("--dropout", type=fraction, default=0.0, help="lenet5_modern only")
    group.add_argument("--augment", action="store_true", help="random shift/rotation/zoom")
    group.add_argument(
        "--shift", type=float_type(0, 1), default=0.1, help="augmentation: max shift (fraction)"
    )
    group.add_argument(
        "--rotation", type=float_type(0, 180), default=10.0, help="augmentation: degrees"
    )
    group.add_argument("--zoom", type=float_type(0, 1), default=0.1, help="augmentation: max zoom")
    return group


# lenet5_modern's options and their defaults (the factory's arguments of the same names)
LENET5_MODERN_OPTIONS = {
    "batch_norm": False,
    "norm": "none",
    "activation": "relu",
    "kernel_initializer": "he_normal",
    "dropout": 0.0,
}


def lenet5_data(options, config):
    """Train, validation and test pipelines (training ones augmented) and the info."""
    import keras

    train, val, test, info = data.load_splits(
        options.dataset,
        options.validation_percent,
        batch_size=config.batch_size,
        normalize=options.normalize,
        image_size=options.image_size,
        manual_dir=options.data_dir,
        seed=config.seed,
        limit=smoke_limit(config),
    )
    if options.augment:  # random shifts, rotations and zooms on the normalised background
        fill = {"fill_mode": "constant", "fill_value": -info.offset / info.scale}
        augment = keras.Sequential(
            [
                keras.layers.RandomTranslation(
                    options.shift, options.shift, seed=config.seed, **fill
                ),
                keras.layers.RandomRotation(options.rotation / 360.0, seed=config.seed, **fill),
                keras.layers.RandomZoom(options.zoom, options.zoom, seed=config.seed, **fill),
            ],
            name="augmentation",
        )
        train = train.map(lambda x, y: (augment(x, training=True), y))
    return train, val, test, info


def lenet5_model(options, config, info):
    """The LeNet-5 the options ask for, compiled for sparse labels."""
    import zoo

    kwargs = {"input_shape": info.input_shape, "classes": info.num_classes}
    if options.model == "lenet5":
        given = {
            option: getattr(options, option)
            for option, default in LENET5_MODERN_OPTIONS.items()
            if getattr(options, option) != default
        }
        if given:
            received = " ".join(f"--{k.replace('_', '-')}={v}" for k, v in given.items())
            raise ValueError(
                "--batch-norm and the other model options of lenet5_modern (--norm, "
                "--activation, --kernel-initializer, --dropout) apply to --model "
                f"lenet5_modern only. Received: --model lenet5 {received}"
            )
        kwargs["head"] = options.head
    else:
        if options.head != "softmax":
            raise ValueError(
                f"--head applies to --model lenet5 only. Received: --model {options.model} "
                f"--head {options.head}"
            )
        kwargs.update({option: getattr(options, option) for option in LENET5_MODERN_OPTIONS})
    try:
        model = zoo.create_model(options.model, **kwargs)
    except ValueError as error:  # name the option, as the user wrote it
        if str(error).startswith("kernel_initializer "):
            raise ValueError(f"--kernel-initializer: {error}") from None
        raise
    return compile_classifier(model, config)


def train_lenet5(recipe, options, config):
    """The whole LeNet-5 run. Returns `(model, info, metrics, run_dir, export_path)`."""
    with training.run(recipe, config, options.as_dict()) as run_dir:
        train, val, test, info = lenet5_data(options, config)
        model = lenet5_model(options, config, info)
        model.fit(
            train,
            validation_data=val,
            epochs=config.fit_epochs,
            shuffle=False,  # the pipeline reshuffles every epoch
            callbacks=training.make_callbacks(run_dir, config),
            verbose=config.fit_verbose,
        )
        training.check_converged(config, run_dir, model)
        test_loss, test_accuracy = model.evaluate(test, verbose=0)
        metrics = {
            "test_loss": test_loss,
            "test_accuracy": test_accuracy,
            "test_error_percent": 100.0 * (1.0 - test_accuracy),
            "epochs": training.epochs_run(run_dir),
        }
        export_path = training.export_run(
            config,
            run_dir,
            model,
            info,
            metrics,
            export_name(options.model, options.dataset),
            options.export_metadata(),
        )
        training.finish_run(run_dir, metrics)
    return model, info, metrics, run_dir, export_path


def lenet5_sanity(options, config):
    """`--sanity` of a LeNet-5 recipe: the model without dropout (batch normalisation
    stays) on the subset, without augmentation. Returns the result as a dict."""
    training.set_seed(config.seed)
    x, y, info = training_subset(
        options, normalize=options.normalize, image_size=options.image_size
    )
    # lenet5 refuses --dropout: keep the option, so that --sanity stops as a run would
    model = lenet5_model(
        options if options.model == "lenet5" else options.replace(dropout=0.0), config, info
    )
    return report_sanity(sanity_check(options, config, model, x, y, sanity=CLASSIFIER_SANITY))


# --- autoencoder runs (autoencoder, anomaly, ae_vs_pca) -------------------------------

AE_LOSSES = {"mse": "mse", "bce": "binary_crossentropy"}
# option -> factory argument; options left at None keep the variant's own default
AE_MODEL_OPTIONS = {
    "code_size": "code_size",
    "hidden": "hidden",
    "filters": "filters",
    "activation": "activation",
    "code_activation": "code_activation",
    "output_activation": "output_activation",
    "noise": "noise",
    "noise_level": "noise_level",
    "dropout": "dropout",
    "l1": "l1",
    "kl_target": "target",
    "kl_weight": "sparsity_weight",
    "k": "k",
    "alpha": "alpha",
    "contraction": "contraction",
    "tied": "tied",
}


def add_autoencoder_args(parser):
    """The `ae/*` variant and its options (unset ones keep the variant's default), the
    loss, greedy pretraining and the linear probe."""
    import zoo
    from zoo.models.autoencoders import NOISES

    variants = [name.removeprefix("ae/") for name in zoo.list_models("ae/*")]
    model = parser.add_argument_group("model (unset options keep the variant's default)")
    model.add_argument("--variant", choices=variants, default="dense", help="ae/<variant>")
    model.add_argument("--code-size", type=positive_int, help="code units")
    model.add_argument(
        "--hidden", type=positive_int, nargs="*", help="dense hidden layers (dense, deep, tied)"
    )
    model.add_argument("--filters", type=positive_int, nargs="+", help="conv blocks (conv)")
    model.add_argument("--activation", help="hidden-layer activation")
    model.add_argument("--code-activation", help="code-layer activation")
    model.add_argument("--output-activation", help="reconstruction activation")
    model.add_argument("--noise", choices=NOISES, help="input corruption (denoising)")
    model.add_argument(
        "--noise-level", type=non_negative_float, help="probability, or Gaussian stddev"
    )
    model.add_argument("--dropout", type=fraction, help="dropout before the code")
    model.add_argument("--l1", type=non_negative_float, help="L1 weight on the code (sparse_l1)")
    model.add_argument(
        "--kl-target",
        type=float_type(0, 1, low_open=True, high_open=True),
        help="target activation rho (sparse_kl)",
    )
    model.add_argument(
        "--kl-weight", type=non_negative_float, help="KL penalty weight beta (sparse_kl)"
    )
    model.add_argument("--k", type=positive_int, help="units kept in training (ksparse)")
    model.add_argument(
        "--alpha", type=float_type(1), help="inference keeps alpha*k units (ksparse)"
    )
    model.add_argument("--k-start", type=positive_int, help="start from this k, lower it to --k")
    model.add_argument(
        "--contraction", type=non_negative_float, help="Jacobian penalty (contractive)"
    )
    model.add_argument(
        "--tied", action=argparse.BooleanOptionalAction, help="tie decoder to encoder weights"
    )
    model.add_argument(
        "--loss",
        choices=sorted(AE_LOSSES),
        default=None,
        help="reconstruction loss (default: bce for a sigmoid reconstruction, mse otherwise)",
    )
    model.add_argument(
        "--greedy-epochs",
        type=non_negative_int,
        default=0,
        help="greedy layer-wise pretraining epochs per layer",
    )
    add_probe_arg(parser.add_argument_group("evaluation"))
    return model


def as_pairs(dataset):
    """An `(x, y)` pipeline as `(x, x)`: the autoencoder's target is its input."""
    return dataset.map(lambda x, _: (x, x))


def autoencoder_model(options, config, info):
    """The `ae/<variant>` the options ask for (uncompiled)."""
    import zoo

    kwargs = {
        arg: getattr(options, option)
        for option, arg in AE_MODEL_OPTIONS.items()
        if getattr(options, option) is not None
    }
    if "hidden" in kwargs:
        kwargs["hidden"] = tuple(kwargs["hidden"])
    if "filters" in kwargs:
        kwargs["filters"] = tuple(kwargs["filters"])
    try:
        return zoo.create_model(
            f"ae/{options.variant}", input_shape=info.input_shape, seed=config.seed, **kwargs
        )
    except (TypeError, ValueError) as error:  # name the option, as the user wrote it
        for option, arg in AE_MODEL_OPTIONS.items():
            if str(error).startswith(f"{arg} "):
                flag = f"--{option.replace('_', '-')}"
                raise ValueError(f"{flag}: {error} (--variant {options.variant})") from None
        raise


def _output_activation(model):
    """The name of the autoencoder's reconstruction activation ("sigmoid", "linear", ...)."""
    last = [layer for layer in model.decoder.layers if hasattr(layer, "activation")][-1]
    return last.activation.__name__


def check_input_scaling(model, options, normalize):
    """Z-scored inputs (`--normalize zscore`) leave [0, 1]: the reconstruction must be able
    to leave it too, and the corruption must not write min-max black and white. Min-max
    inputs suit every variant."""
    if normalize != "zscore":
        return
    activation = _output_activation(model)
    if activation == "sigmoid":
        raise ValueError(
            "--normalize zscore gives inputs outside [0, 1], which a sigmoid reconstruction "
            "cannot reach: add --output-activation linear. Received: --normalize zscore "
            f"with --variant {options.variant}'s output activation {activation!r}"
        )
    from zoo.layers import MaskingNoise, SaltAndPepperNoise

    impulse = {MaskingNoise: "masking", SaltAndPepperNoise: "salt_and_pepper"}
    noise = impulse.get(type(model.corruption))
    if noise is not None:
        raise ValueError(
            f"--noise {noise} writes 0 (and 1), black and white only for min-max inputs: "
            f"use --noise gaussian or --normalize minmax. Received: --normalize zscore with "
            f"--variant {options.variant}'s --noise {noise}"
        )


def reconstruction_loss(model, options):
    """`--loss`, or the loss that suits the model's output: bce for sigmoid, mse otherwise."""
    activation = _output_activation(model)
    if options.loss is None:
        return AE_LOSSES["bce" if activation == "sigmoid" else "mse"]
    if options.loss == "bce" and activation != "sigmoid":
        raise ValueError(
            "--loss bce needs outputs in [0, 1] (a sigmoid reconstruction); this model's is "
            f"{activation!r}. Received: --loss {options.loss}"
        )
    return AE_LOSSES[options.loss]


def train_autoencoder(options, config, model, run_dir, train_ds, val_ds):
    """Greedy pretraining (when asked) then end-to-end training with the preset callbacks."""
    from zoo.layers import KSparseSchedule, ksparse_alpha
    from zoo.models import greedy_pretrain

    loss = reconstruction_loss(model, options)
    if options.greedy_epochs:
        x_train, _ = data.as_numpy(train_ds)
        greedy_pretrain(
            model,
            x_train,
            epochs=options.greedy_epochs,
            batch_size=config.batch_size,
            optimizer=lambda: training.make_optimizer(config),
            loss=loss,
        )
    model.compile(optimizer=training.make_optimizer(config), loss=loss)
    extra, ramp = [], 0
    if options.k_start:  # Makhzani & Frey: lower k over the first half of training
        ramp = max(1, config.epochs // 2)
        extra.append(KSparseSchedule(options.k_start, ramp_epochs=ramp))
    # Validation (early stopping, best.keras) measures what k-sparse training optimises,
    # the reconstruction from k units; alpha * k (the features' encoding) applies after.
    with ksparse_alpha(model, 1.0) as ksparse_layers:
        model.fit(
            as_pairs(train_ds),
            validation_data=as_pairs(val_ds),
            epochs=config.fit_epochs,
            shuffle=False,  # the pipeline reshuffles every epoch
            callbacks=training.make_callbacks(run_dir, config, extra=extra, start_from_epoch=ramp),
            verbose=config.fit_verbose,
        )
    if ksparse_layers:  # best.keras was saved with alpha = 1: the kept model, own alpha
        model.save(run_dir / training.CHECKPOINT_FILE)
    training.check_converged(config, run_dir, model)


def evaluate_autoencoder(options, model, train_ds, val_ds, test_ds):
    """Reconstruction error, code sparsity and linear-probe accuracy (on the test split,
    and on `val_ds` for choosing settings); arrays for figures."""
    from zoo import analysis

    x_test, y_test = data.as_numpy(test_ds)
    errors = analysis.reconstruction_errors(model, x_test)
    codes = analysis.encode(model.encoder, x_test)
    metrics = {
        "test_reconstruction_mse": float(errors.mean()),
        "test_loss": float(model.evaluate(as_pairs(test_ds), verbose=0)),
        "code_size": int(codes.shape[1]),
        "code_zero_fraction": analysis.sparsity(codes),
    }
    if options.probe_examples >= 0:
        splits = (data.as_numpy(train_ds), data.as_numpy(val_ds), (x_test, y_test))
        metrics.update(probe_metrics(model.encoder, splits, options.probe_examples))
    return metrics, {"x_test": x_test, "y_test": y_test, "codes": codes, "errors": errors}


def probe_metrics(encoder, splits, examples=0):
    """The linear probe of `encoder`'s codes: a logistic regression fitted on the first
    `examples` training images (0: all of them), scored on the test images and, for
    choosing settings without reading the test set, on the validation images.
    `splits`: `((x_train, y_train), (x_val, y_val), (x_test, y_test))` arrays."""
    from zoo import analysis

    (x_train, y_train), validation, (x_test, y_test) = splits
    if examples:
        x_train, y_train = x_train[:examples], y_train[:examples]
    probe = analysis.linear_probe(
        encoder, x_train, y_train, x_test, y_test, validation_data=validation
    )
    return {
        "probe_accuracy": probe["accuracy"],
        "probe_error_percent": probe["error_percent"],
        "probe_train_examples": len(x_train),
        "probe_val_error_percent": probe["validation_error_percent"],
    }


def autoencoder_figures(model, info, arrays, run_dir, n=10):
    """Reconstructions, the latent space, first-layer filters (dense) and the codes."""
    import keras
    import numpy as np

    from zoo import plots

    x = arrays["x_test"][:n]
    rows = {"input": x}
    if model.corruption is not None:
        rows["corrupted"] = np.asarray(model.corruption(x, training=True))
    rows["reconstructed"] = model.predict(x, verbose=0)
    plots.plot_image_rows(rows, run_dir / "reconstructions.png", n=min(n, len(x)))
    plots.plot_latent(arrays["codes"], arrays["y_test"], run_dir / "latent.png", info.class_names)
    first = f"{model.name}_enc1"
    if any(layer.name == first for layer in model.encoder.layers):  # dense variants
        kernel = keras.ops.convert_to_numpy(model.encoder.get_layer(first).kernel)
        plots.plot_filters(kernel, info.input_shape, run_dir / "filters.png")
    plots.plot_histogram(arrays["codes"], run_dir / "code_histogram.png", xlabel="code activation")


def run_autoencoder(options, config, run_dir, normalize="minmax"):
    """Data, model, training, evaluation and figures, in the run folder. Returns `(model,
    info, metrics, arrays)`; `arrays` holds the test images, labels, codes and errors, and
    the `(train, validation, test)` pipelines under "splits". `normalize`: the input
    scaling, "minmax" ([0, 1]) or "zscore" (needs a reconstruction that leaves [0, 1])."""
    train_ds, val_ds, test_ds, info = data.load_splits(
        options.dataset,
        options.validation_percent,
        batch_size=config.batch_size,
        normalize=normalize,
        manual_dir=options.data_dir,
        seed=config.seed,
        limit=smoke_limit(config),
    )
    model = autoencoder_model(options, config, info)
    check_input_scaling(model, options, normalize)
    train_autoencoder(options, config, model, run_dir, train_ds, val_ds)
    metrics, arrays = evaluate_autoencoder(options, model, train_ds, val_ds, test_ds)
    metrics["epochs"] = training.epochs_run(run_dir)
    autoencoder_figures(model, info, arrays, run_dir)
    arrays["splits"] = (train_ds, val_ds, test_ds)
    return model, info, metrics, arrays


# Under --sanity: the options that regularise an autoencoder, turned off where the user set
# them or the variant's default sets them. --l1 stays: ae/sparse_l1 needs a positive
# penalty (the MSE watched leaves it out); k-sparse codes are the variant's structure.
AE_UNREGULARISED = {"dropout": 0.0, "noise_level": 0.0, "kl_weight": 0.0, "contraction": 0.0}
AE_REGULARISED_BY_DEFAULT = {
    "denoising": "noise_level",
    "sparse_kl": "kl_weight",
    "contractive": "contraction",
}


def autoencoder_sanity(options, config, normalize="minmax"):
    """`--sanity` of an autoencoder recipe: the variant without dropout, corruption, KL
    or contraction penalty, no greedy pretraining or k schedule, trained on the subset
    (scaled as `normalize` says, as in `run_autoencoder`) with its reconstruction loss;
    the MSE must fall to half the mean image's. Returns the result as a dict."""
    import numpy as np

    training.set_seed(config.seed)
    x, _, info = training_subset(options, normalize=normalize)
    changes = {k: v for k, v in AE_UNREGULARISED.items() if getattr(options, k) is not None}
    if options.noise is not None:
        changes["noise_level"] = 0.0
    if options.variant in AE_REGULARISED_BY_DEFAULT:
        changes[AE_REGULARISED_BY_DEFAULT[options.variant]] = 0.0
    with warnings.catch_warnings():  # "an overcomplete code can learn the identity": yes
        warnings.simplefilter("ignore")
        model = autoencoder_model(options.replace(**changes), config, info)
    check_input_scaling(model, options, normalize)
    model.compile(
        optimizer=training.make_optimizer(config),
        loss=reconstruction_loss(model, options),
        metrics=["mse"],
    )
    mean_image_mse = float(np.var(x, axis=0).mean())
    result = sanity_check(
        options,
        config,
        model,
        x,
        x,
        sanity=RECONSTRUCTION_SANITY,
        monitor="mse",
        baseline=mean_image_mse,
    )
    return report_sanity(result)


# --- RBM runs (rbm, dbn) ---------------------------------------------------------------


def add_rbm_data_args(parser, *, dataset="digits"):
    """The data options of the RBM recipes: `add_data_args` plus `--binarize`."""
    group = add_data_args(parser, dataset=dataset)
    group.add_argument(
        "--binarize",
        nargs="?",
        const="threshold",
        choices=data.BINARIZATIONS,
        help="binary pixels: 'threshold' at 0.5 (the flag alone), or 'stochastic': each pixel "
        "drawn once with its intensity as probability, seeded by --seed (Salakhutdinov & "
        "Murray's binarised MNIST)",
    )
    return group


def binarized(options, x, split=0):
    """`x` binarised as `--binarize` asks (unchanged without it); `split` numbers the
    split, so that each split's stochastic draw is its own."""
    if not options.binarize:
        return x
    return data.binarize(x, options.binarize, seed=options.seed + split)


def add_cd_args(parser):
    """Contrastive-divergence options of the RBM and DBN recipes."""
    from zoo._checks import MAX_GIBBS_STEPS

    group = parser.add_argument_group("contrastive divergence")
    group.add_argument(
        "--k", type=int_type(1, MAX_GIBBS_STEPS), default=1, help="Gibbs steps per update (CD-k)"
    )
    group.add_argument(
        "--persistent-chains",
        type=non_negative_int,
        default=0,
        help="persistent CD with this many chains (0: CD-k)",
    )
    group.add_argument(
        "--mean-field-visible",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="CD-k reconstructs visible probabilities instead of samples (Hinton's code)",
    )
    group.add_argument(
        "--weight-decay",
        dest="weight_cost",
        type=non_negative_float,
        default=2e-4,
        help="L2 weight cost on W (the guide's; a penalty in the loss, not the optimizer's "
        "decoupled decay)",
    )
    group.add_argument(
        "--momentum",
        dest="cd_momentum",
        type=fraction,
        default=0.5,
        help="initial SGD momentum",
    )
    group.add_argument(
        "--final-momentum", type=fraction, default=0.9, help="SGD momentum from --momentum-switch"
    )
    group.add_argument(
        "--momentum-switch",
        type=non_negative_int,
        default=5,
        help="first epoch of the final momentum",
    )
    return group


def rbm_data(options, config):
    """Train, validation and test images in [0, 1] (binarised as `--binarize` asks) and
    labels, as numpy arrays, with the dataset info."""
    *pipelines, info = data.load_splits(
        options.dataset,
        options.validation_percent,
        batch_size=256,
        normalize="minmax",
        manual_dir=options.data_dir,
        seed=config.seed,
        limit=smoke_limit(config),
    )
    arrays = [data.as_numpy(ds) for ds in pipelines]
    arrays = [(binarized(options, x, split), y) for split, (x, y) in enumerate(arrays)]
    return arrays, info


def weight_decay(options):
    """The guide's weight cost c (`--weight-decay`, gradient c W) as Keras' L2 penalty
    (c / 2) ||W||^2."""
    import keras

    return keras.regularizers.L2(options.weight_cost / 2) if options.weight_cost > 0 else None


def _rbm_optimizer_and_schedule(options, config):
    """SGD at the initial momentum plus the momentum schedule, or another optimizer."""
    from zoo.callbacks import MomentumSchedule

    if config.optimizer != "sgd":
        return training.make_optimizer(config), []
    momentum = options.cd_momentum
    optimizer = training.make_optimizer(dataclasses.replace(config, momentum=momentum))
    if momentum > 0 and options.final_momentum != momentum:
        return optimizer, [MomentumSchedule(options.final_momentum, options.momentum_switch)]
    return optimizer, []


def _rbm_callbacks(options, config, history_file, backup_dir):
    """Early stopping on the validation reconstruction error, LR decay, the crash-safe
    backup in `backup_dir` and the CSV log."""
    import keras

    from zoo.callbacks import RunBackup

    early_stopping = training.early_stopping_callback(
        config,
        "val_reconstruction_error",
        mode="min",
        # the error jumps when the momentum rises; judge from then on
        start_from_epoch=options.momentum_switch if config.optimizer == "sgd" else 0,
    )
    decay = training.lr_schedule_callback(
        config.lr_schedule,
        config.learning_rate,
        config.epochs,
        step=config.lr_step,
        gamma=config.lr_gamma,
        monitor="val_reconstruction_error",
    )
    tracked = [c for c in (early_stopping, decay) if c is not None]
    backup = RunBackup(backup_dir, history_file=history_file, tracked=tracked)
    logger = keras.callbacks.CSVLogger(str(history_file), append=config.resume)
    return [keras.callbacks.TerminateOnNaN(), *tracked, backup, logger]


def train_rbms(options, config, stack, run_dir, x_train, x_val, rate_option="--learning-rate"):
    """Greedy training of every RBM of `stack` for `config.epochs` with the configured
    optimizer, the momentum schedule and the callbacks; RBM i logs to `history.csv`
    (one RBM) or `pretrain_rbm<i>.csv`. `rate_option` is the option of the learning rate
    that a divergence error names."""
    from zoo.models.rbm import pretrain

    def optimizer():
        return _rbm_optimizer_and_schedule(options, config)[0]

    def callbacks(i):
        name = training.HISTORY_FILE if len(stack.rbms) == 1 else f"pretrain_rbm{i}.csv"
        schedule = _rbm_optimizer_and_schedule(options, config)[1]
        backup = run_dir / training.BACKUP_DIR / f"rbm{i}"
        return [*schedule, *_rbm_callbacks(options, config, run_dir / name, backup)]

    histories = pretrain(
        stack,
        x_train,
        epochs=config.fit_epochs,
        batch_size=config.batch_size,
        optimizer=optimizer,
        validation_data=x_val,
        callbacks=callbacks,
        verbose=config.fit_verbose,
    )
    training.check_converged(config, run_dir, stack, rate_option=rate_option)
    return histories


# The mean-field reconstruction error (the guide's monitor) from the untrained RBM's, whose
# visible biases already give the subset's mean image, to half of it: the hidden units
# carry what sets the examples apart. The contrastive-divergence loss is no measure of
# fit (a difference of free energies, near 0 throughout); the free-energy gap needs
# held-out data and measures overfitting, not fitting. 40-60 epochs on 128 digits.
RBM_SANITY = Sanity(128, 200, 0.5, "the mean-field reconstruction error")


def rbm_sanity_check(options, config, stack, x):
    """The overfit check of a one-RBM `stack` (built without weight decay): CD with the
    configured optimizer and momentum schedule on the subset `x`, watching the subset's
    mean-field reconstruction error. Returns the `OverfitResult`."""
    import numpy as np

    from zoo.likelihood import reconstruction_error

    flat = x.reshape(len(x), -1)
    if stack.normalization is not None:  # Gaussian visibles: standardised on the subset
        stack.normalization.adapt(flat)
    visible = np.asarray(stack.visible_data(flat))
    rbm = stack.rbms[0]
    rbm.init_visible_bias(visible)
    optimizer, schedule = _rbm_optimizer_and_schedule(options, config)
    stack.compile(optimizer=optimizer)
    return sanity_check(
        options,
        config,
        stack,
        x,
        sanity=RBM_SANITY,
        monitor="reconstruction_error",
        measure=lambda _: reconstruction_error(rbm, visible),
        callbacks=schedule,
    )


def pretrain_subset(options, config, stack, x, epochs, rate_option="--learning-rate"):
    """Greedy CD training of every RBM of `stack` on the subset `x` (for `--sanity`):
    `epochs` each, batches of at most `SANITY_BATCH_SIZE`, the configured optimizer and
    momentum schedule, no monitors. Raises `ValueError` naming `rate_option` if it
    diverged."""
    from zoo.export import check_finite_weights
    from zoo.models.rbm import pretrain

    pretrain(
        stack,
        x,
        epochs=epochs,
        batch_size=min(config.batch_size, SANITY_BATCH_SIZE),
        optimizer=lambda: _rbm_optimizer_and_schedule(options, config)[0],
        callbacks=lambda i: _rbm_optimizer_and_schedule(options, config)[1],
        monitor_examples=0,
    )
    try:
        check_finite_weights(stack)
    except ValueError:
        raise ValueError(
            f"sanity check FAIL: pretraining on {len(x)} examples diverged (non-finite "
            f"weights). Lower the learning rate ({rate_option} {config.learning_rate:g})."
        ) from None
