"""One argument contract for every registered model, checked by fuzzing its arguments.

`zoo.create_model(name, **kwargs)` either returns a model that runs one forward pass on a
small batch of its input shape with finite outputs, or raises `ValueError` (or `TypeError`
for a wrong type) whose message names the offending argument as the caller wrote it,
echoes the value received (its `repr`) and, where the valid values are a set, lists them.

Each model has a `Spec`: for each argument its factory documents, a strategy of valid
values and a list of bad ones (0, negatives, just past the documented bounds, NaN and
infinities, bools for numbers, strings, None, floats for ints, wrong shapes, unknown
choices). One call is a valid configuration of a few arguments (small sizes, so that a
forward pass is fast) plus at most one of:

- "bad": one argument with a bad value: it must be refused, naming it and its value;
- "foreign": an argument another model documents and this one does not take (`tied` for
  `ae/conv`, `contraction` for `ae/sparse_l1`): refused, never silently ignored;
- "conflict": arguments that do not go together (`trainable_from` outside partial mode,
  `head` with `include_top=False`): refused, naming one of them.

A valid configuration must build and run. Besides the drawn calls, every bad value,
every foreign argument and every conflict is tried once on the model's smallest valid
configuration (Hypothesis' explicit examples), so that each guard is met on every run. A
call that takes too long to answer (a hang) ends the test run with the stacks of every
thread (`faulthandler`).

`ZOO_CONTRACT_TALLY=<file>` turns the failures into a tally: each call is appended to the
file as a JSON line with its violation (or null), and no test fails. (The tally before
the factories were fixed is in the message of the commit that added this file.)
"""

import dataclasses
import faulthandler
import inspect
import json
import os
import re
import warnings
from collections.abc import Callable

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, example, find, given, settings
from hypothesis import strategies as st
from test_docstrings import _arg_texts

import zoo
from zoo._checks import (
    MAX_CHAINS,
    MAX_CHANNELS,
    MAX_GIBBS_STEPS,
    MAX_IMAGE_SIDE,
    MAX_SEED,
    MAX_UNITS,
)
from zoo.models.autoencoders import NOISES
from zoo.models.lenet import ACTIVATIONS as LENET_ACTIVATIONS
from zoo.models.lenet import HEADS, LENET_INPUT_SIZE, NORMS
from zoo.models.transfer import MAX_ALPHA, MIN_ALPHA, MODES, POOLINGS
from zoo.registry import get_model_factory

NAN, INF = float("nan"), float("inf")
HANG_SECONDS = 120  # one call (build and forward pass) of the small models takes < 5 s
TALLY = os.environ.get("ZOO_CONTRACT_TALLY")
REMOVE = object()  # in a conflict's patch: leave the argument out


@dataclasses.dataclass(frozen=True)
class Relative:
    """A bad value computed from the rest of the call (`k` one past `code_size`)."""

    value: Callable
    label: str

    def __repr__(self):
        return self.label


@dataclasses.dataclass(frozen=True)
class Arg:
    """One argument: a strategy of valid values, bad values, what a refusal must list."""

    valid: st.SearchStrategy
    bad: tuple = ()
    listed: tuple = ()  # substrings a refusal of a bad value must show (the valid set)


@dataclasses.dataclass(frozen=True)
class Spec:
    """A model's arguments and how to draw calls of it."""

    args: dict
    examples: int = 40
    include: float = 0.5  # chance that an argument (not in `always`) is passed
    always: tuple = ("input_shape",)
    fix: Callable = None  # makes a valid draw consistent (in place), returns it
    conflicts: tuple = ()  # (patch, the arguments a refusal may name)


# --- values ----------------------------------------------------------------------------


def bad_int(low, high=None):
    values = [low - 1, low - 1000, float(low + 1), True, str(low + 1), None, NAN]
    return tuple(values + ([high + 1] if high is not None else []))


def bad_float(low=None, high=None, *, low_open=False, high_open=False):
    values = [NAN, INF, -INF, "0.5", True, None]
    if low is not None:
        values += [low - 0.5] + ([low] if low_open else [])
    if high is not None:
        values += [high + 0.5] + ([high] if high_open else [])
    return tuple(values)


def bad_choice(choices):
    values = ["nope", "", 1, (choices[0],)]
    if None not in choices:
        values.append(None)
    first = next(c for c in choices if isinstance(c, str))
    return (*values, first.upper())


BAD_BOOL = (1, 0, "yes", None)
ACTIVATIONS = st.sampled_from(["relu", "tanh", "sigmoid", "linear", None])
CLASSIFIER_ACTIVATIONS = st.sampled_from(["softmax", "sigmoid", "linear", None])
BAD_ACTIVATION = ("relux", "", 3, ("relu",))
SOME_ACTIVATIONS = ("relu", "sigmoid", "softmax", "tanh")  # a refusal lists them
REGULARIZERS = st.sampled_from([None, "l1", "l2"]) | st.builds(
    keras.regularizers.L2, st.sampled_from([1e-4, 1e-2])
)
BAD_REGULARIZER = ("l7", "", 3, True)
SEEDS = st.sampled_from([None, 0, 7, MAX_SEED])
BAD_SEED = (-1, 1.5, "0", True, NAN, MAX_SEED + 1, 2**64)
NAMES = st.sampled_from(["m", "net_2"])
BAD_NAME = ("", "a/b", 3, ("m",), None)
BAD_WEIGHTS = ("no/such.weights.h5", "", "imagenet", 3, True, ["w.h5"])  # no "imagenet" here
HUGE_SHAPE = (2**40,)  # past check_shape's bound; a dense layer on it cannot be allocated


def arg(valid, bad=(), listed=()):
    return Arg(valid, tuple(bad), tuple(listed))


def choice(choices, listed=None):
    return arg(st.sampled_from(choices), bad_choice(choices), listed or map(repr, choices))


def sizes(low, high, min_size=0, max_size=2):
    return st.lists(st.integers(low, high), min_size=min_size, max_size=max_size).map(tuple)


def unit_tuple_bad(high, empty_ok=True):
    bad = [(0,), (-1,), 8, (8.0,), (True,), "8", None, (high + 1,)]
    return tuple(bad if empty_ok else [(), *bad])


ACTIVATION = arg(ACTIVATIONS, BAD_ACTIVATION, SOME_ACTIVATIONS)
CLASSIFIER_ACTIVATION = arg(CLASSIFIER_ACTIVATIONS, BAD_ACTIVATION, SOME_ACTIVATIONS)
BOOL = arg(st.booleans(), BAD_BOOL)
WEIGHTS = arg(st.none(), BAD_WEIGHTS)
NAME = arg(NAMES, BAD_NAME)
SEED = arg(SEEDS, BAD_SEED)
FLAT_SHAPE = arg(
    st.sampled_from([(8, 8, 1), (6,), (4, 4), [3, 3, 2]]),
    ((), (0,), (8, 0), (-2, 4), (8.0, 8), (True, 8), "8x8", None, 8, HUGE_SHAPE),
)


# --- the autoencoders ------------------------------------------------------------------

DENSE_OPTIONS = {
    "hidden": arg(sizes(1, 8), unit_tuple_bad(MAX_UNITS)),
    "activation": ACTIVATION,
    "code_activation": ACTIVATION,
    "output_activation": ACTIVATION,
    "tied": BOOL,
    "noise": choice((None, *NOISES)),
    "noise_level": arg(st.sampled_from([0, 0.0, 0.3, 0.9]), (-0.1, NAN, INF, "0.1", True, None)),
    "dropout": arg(st.sampled_from([0, 0.0, 0.25, 0.9]), bad_float(0, 1, high_open=True)),
    "code_regularizer": arg(REGULARIZERS, BAD_REGULARIZER, ("'l1'", "'l2'")),
    "k": arg(
        st.integers(1, 12),
        (0, -1, 2.0, True, "3", NAN, Relative(lambda kw: kw["code_size"] + 1, "code_size + 1")),
    ),
    "alpha": arg(
        st.sampled_from([1, 1.0, 1.5, 1e300]), (0.5, 0.0, -1.0, NAN, INF, "2", True, None)
    ),
    "contraction": arg(st.sampled_from([0, 0.0, 1e-3, 0.5]), (-1.0, NAN, INF, "0.1", True)),
    "seed": SEED,
}
AE_COMMON = {
    "input_shape": FLAT_SHAPE,
    "code_size": arg(st.integers(1, 12), bad_int(1, MAX_UNITS)),
    "weights": WEIGHTS,
    "name": NAME,
}
# Patches that combine arguments wrongly, for the variants that take all of them.
DENSE_CONFLICTS = {
    "noise_level": ({"noise": REMOVE, "noise_level": 0.3}, ("noise_level",)),
    "alpha": ({"k": REMOVE, "alpha": 2.0}, ("alpha",)),
    "impulse": ({"noise": "masking", "noise_level": 1.0}, ("noise_level",)),
    "hidden": ({"contraction": 0.1, "hidden": (4,)}, ("contraction", "hidden")),
    "code_activation": (
        {"contraction": 0.1, "hidden": (), "code_activation": "tanh"},
        ("contraction", "code_activation"),
    ),
    "code_regularizer": (
        {"contraction": 0.1, "hidden": (), "code_regularizer": "l1"},
        ("contraction", "code_regularizer"),
    ),
}


def fix_dense(defaults):
    """Makes a draw of dense options consistent; `defaults` are the variant's own."""

    def fix(kwargs):
        options = {**defaults, **kwargs}
        if "contraction" in kwargs:  # one sigmoid code layer on the input, its own penalty
            if "hidden" in kwargs:
                kwargs["hidden"] = ()
            kwargs.pop("code_activation", None)
            kwargs.pop("code_regularizer", None)
        if "alpha" in kwargs and options.get("k") is None:
            kwargs["k"] = 1
        if "k" in kwargs or options.get("k") is not None:
            kwargs["k"] = min(kwargs.get("k", options.get("k")), kwargs["code_size"])
        if "noise_level" in kwargs and options.get("noise") is None:
            kwargs["noise"] = "gaussian"
        return kwargs

    return fix


def dense_spec(without=(), extra=None, defaults=None, skip=(), **kwargs):
    """The spec of a dense variant: the dense options less `without`, plus `extra`;
    `defaults` are the variant's own defaults of options, `skip` conflicts that are not
    conflicts for it."""
    args = {**AE_COMMON, **DENSE_OPTIONS, **(extra or {})}
    for name in without:
        del args[name]
    conflicts = tuple(
        conflict
        for key, conflict in DENSE_CONFLICTS.items()
        if key not in skip and all(name in args for name in conflict[0])
    )
    return Spec(
        args,
        always=("input_shape", "code_size"),
        fix=fix_dense(defaults or {}),
        conflicts=conflicts,
        **kwargs,
    )


CONV_SHAPES = st.sampled_from([(8, 8, 1), (8, 4, 2), [16, 8, 3]])


def fix_conv(kwargs):
    if "kernel_size" in kwargs:
        kwargs["kernel_size"] = min(kwargs["kernel_size"], *kwargs["input_shape"][:2])
    return kwargs


SPECS = {
    "ae/dense": dense_spec(),
    "ae/deep": dense_spec(without=("contraction",), defaults={"hidden": (256, 128)}, examples=30),
    "ae/conv": Spec(
        {
            **AE_COMMON,
            "input_shape": arg(
                CONV_SHAPES,
                (
                    (7, 8, 1),
                    (8, 8),
                    (8, 8, 1, 1),
                    (0, 8, 1),
                    (8.0, 8, 1),
                    (True, 8, 1),
                    "8x8",
                    None,
                    (8, 8, 0),
                    (8, 8, MAX_CHANNELS + 1),
                    (MAX_IMAGE_SIDE + 4, 8, 1),
                ),
            ),
            "filters": arg(
                sizes(1, 4, min_size=1),
                ((), (0,), 2, (2.0,), (True,), "2", None, (2,) * 5, (MAX_CHANNELS + 1,)),
            ),
            "kernel_size": arg(
                st.integers(1, 4),
                (
                    0,
                    -1,
                    3.0,
                    True,
                    "3",
                    None,
                    NAN,
                    (3, 3),
                    Relative(lambda kw: min(kw["input_shape"][:2]) + 1, "side + 1"),
                ),
            ),
            "activation": ACTIVATION,
            "code_activation": ACTIVATION,
            "output_activation": ACTIVATION,
            "noise": DENSE_OPTIONS["noise"],
            "noise_level": DENSE_OPTIONS["noise_level"],
            "seed": SEED,
        },
        always=("input_shape", "code_size"),
        fix=lambda kw: fix_conv(fix_dense({})(kw)),
        conflicts=(DENSE_CONFLICTS["noise_level"], DENSE_CONFLICTS["impulse"]),
    ),
    "ae/denoising": dense_spec(
        extra={"noise": choice(NOISES)},
        defaults={"noise": "masking"},
        skip=("noise_level",),
        examples=30,
    ),
    "ae/sparse_l1": dense_spec(
        without=("code_regularizer", "contraction"),
        extra={"l1": arg(st.sampled_from([1e-4, 1, 0.5]), bad_float(0, low_open=True))},
        examples=30,
    ),
    "ae/sparse_kl": dense_spec(
        without=("code_regularizer", "contraction", "code_activation"),
        extra={
            "target": arg(
                st.sampled_from([0.05, 0.5, 0.99]), bad_float(0, 1, low_open=True, high_open=True)
            ),
            "sparsity_weight": arg(st.sampled_from([0, 0.003, 3.0]), bad_float(0)),
        },
        examples=30,
    ),
    "ae/ksparse": dense_spec(
        without=("code_activation", "contraction"),
        extra={
            "k": Arg(DENSE_OPTIONS["k"].valid, (*DENSE_OPTIONS["k"].bad, None)),
            "alpha": Arg(DENSE_OPTIONS["alpha"].valid, DENSE_OPTIONS["alpha"].bad),
            "tied": BOOL,
        },
        defaults={"k": 25},
        skip=("alpha",),
        examples=30,
    ),
    "ae/contractive": dense_spec(
        without=("hidden", "code_activation", "code_regularizer"),
        extra={
            "contraction": Arg(
                DENSE_OPTIONS["contraction"].valid, (*DENSE_OPTIONS["contraction"].bad, None)
            ),
        },
        examples=30,
    ),
    "ae/tied": dense_spec(without=("tied",), examples=30),
}

# --- LeNet -----------------------------------------------------------------------------

LENET_SHAPE = arg(
    st.sampled_from([(8, 8, 1), (28, 28, 1), (32, 32, 3), [12, 5, 2], (1, 1, 1)]),
    (
        (LENET_INPUT_SIZE + 1, 28, 1),
        (0, 28, 1),
        (28, 28),
        (28, 28, 1, 1),
        (28.0, 28, 1),
        (True, 28, 1),
        "28x28",
        None,
        (28, 28, 0),
        (8, 8, MAX_CHANNELS + 1),
        (),
    ),
)
LENET_COMMON = {
    "input_shape": LENET_SHAPE,
    "classes": arg(st.integers(2, 12), bad_int(2, MAX_UNITS)),
    "include_top": BOOL,
    "weights": WEIGHTS,
    "classifier_activation": CLASSIFIER_ACTIVATION,
    "name": NAME,
}
TOP_ONLY = ("head", "classifier_activation", "classes")
NO_TOP = {"include_top": False, **{name: REMOVE for name in TOP_ONLY}}
TOP_CONFLICTS = tuple(
    ({**NO_TOP, name: value}, (name,))
    for name, value in (("head", "rbf"), ("classifier_activation", "sigmoid"), ("classes", 3))
)


def fix_lenet(kwargs):
    if kwargs.get("include_top") is False:
        for name in TOP_ONLY:
            kwargs.pop(name, None)
    return kwargs


def fix_modern_lenet(kwargs):
    if kwargs.get("batch_norm") and kwargs.get("norm") not in (None, "none", "batch"):
        kwargs["batch_norm"] = False  # batch_norm=True is norm="batch"
    return fix_lenet(kwargs)


SPECS["lenet5"] = Spec(
    {**LENET_COMMON, "head": choice(HEADS)}, fix=fix_lenet, conflicts=TOP_CONFLICTS
)
SPECS["lenet5_modern"] = Spec(
    {
        **LENET_COMMON,
        "filters": arg(
            st.tuples(st.integers(1, 8), st.integers(1, 8)) | st.just([3, 4]),
            ((6,), (6, 16, 32), (0, 16), 6, (6.0, 16), (True, 2), "6,16", None, ()),
        ),
        "units": arg(sizes(1, 16, min_size=1, max_size=3), unit_tuple_bad(MAX_UNITS, False)),
        "batch_norm": BOOL,
        "norm": choice(NORMS),
        "activation": choice(LENET_ACTIVATIONS),
        "kernel_initializer": arg(
            st.sampled_from(["he_normal", "glorot_uniform", "lecun_normal", "orthogonal"])
            | st.builds(keras.initializers.HeUniform, seed=st.just(0)),
            ("he_norma", "", "identity", 3, True, None, ("he_normal",)),
            ("'glorot_uniform'", "'he_normal'"),
        ),
        "dropout": DENSE_OPTIONS["dropout"],
    },
    fix=fix_modern_lenet,
    conflicts=(*TOP_CONFLICTS[1:], ({"batch_norm": True, "norm": "layer"}, ("batch_norm", "norm"))),
)

# --- transfer learning -----------------------------------------------------------------


def transfer_spec(min_side, shapes, layer, alphas=None, include=0.8, **kwargs):
    args = {
        "input_shape": arg(
            st.sampled_from(shapes),
            (
                (min_side - 1, min_side, 3),
                (min_side, min_side, 1),
                (min_side, min_side),
                (float(min_side), min_side, 3),
                (True, min_side, 3),
                "224",
                (MAX_IMAGE_SIDE + 1, min_side, 3),
                (),
            ),
        ),
        "classes": arg(st.integers(2, 5), bad_int(2, MAX_UNITS)),
        "mode": choice(MODES),
        "trainable_from": arg(
            st.sampled_from([None, 0.5, 0, 1, 1.0, layer]),
            (1.5, -0.1, NAN, "no_such_layer", True, [0.5]),
        ),
        "weights": arg(st.none(), ("no/such.h5", "", 3, True)),
        "pooling": choice(POOLINGS),
        "dropout": DENSE_OPTIONS["dropout"],
        "head_units": arg(sizes(1, 8), unit_tuple_bad(MAX_UNITS)),
        "classifier_activation": CLASSIFIER_ACTIVATION,
        "augmentation": arg(
            st.none() | st.builds(keras.layers.RandomFlip, st.just("horizontal"), seed=st.just(0)),
            ("flip", 1, True),
        ),
        "name": arg(st.sampled_from([None, "m"]), ("", "a/b", 3)),
    }
    if alphas is not None:
        args["alpha"] = arg(
            st.sampled_from([None, *alphas]),
            (0, -1.0, NAN, INF, "1.0", True, MIN_ALPHA / 2, MAX_ALPHA * 1.25),
        )

    def fix(kw):
        if kw.get("trainable_from") is not None:
            kw["mode"] = "partial"
        return kw

    conflicts = tuple(
        ({"mode": mode, "trainable_from": 0.5}, ("trainable_from",))
        for mode in ("minimum", "total")
    )
    always = ("input_shape", "weights")  # no ImageNet weights here
    return Spec(args, fix=fix, conflicts=conflicts, include=include, always=always, **kwargs)


SPECS["transfer/mobilenet"] = transfer_spec(
    32, [(32, 32, 3), (40, 36, 3), [32, 32, 3]], "conv_pw_12", (0.25, 0.5, MIN_ALPHA), examples=12
)
SPECS["transfer/mobilenet_v2"] = transfer_spec(
    32, [(32, 32, 3), (40, 36, 3)], "block_13_expand", (0.35, 0.5, 1.3), examples=8
)
# Inception-ResNet-v2 builds in seconds (~6 s each here): its arguments go through the same
# code as the MobileNets', so one drawn call with every argument (and the refusals) checks
# that they reach it.
SPECS["transfer/inception_resnet_v2"] = transfer_spec(
    75, [(75, 75, 3)], "mixed_7a", examples=1, include=1.0
)

# --- RBMs ------------------------------------------------------------------------------

RBM_COMMON = {
    "input_shape": FLAT_SHAPE,
    "k": arg(st.integers(1, 3), bad_int(1, MAX_GIBBS_STEPS)),
    "persistent_chains": arg(st.integers(0, 4), bad_int(0, MAX_CHAINS)),
    "mean_field_visible": BOOL,
    "kernel_regularizer": arg(REGULARIZERS, BAD_REGULARIZER, ("'l1'", "'l2'")),
    "weights": WEIGHTS,
    "seed": SEED,
    "name": NAME,
}
UNITS = arg(st.integers(1, 8), bad_int(1, MAX_UNITS))


def fix_rbm(kwargs):
    if kwargs.get("persistent_chains"):
        kwargs.pop("mean_field_visible", None)
    return kwargs


RBM_CONFLICTS = (
    (
        {"persistent_chains": 2, "mean_field_visible": True},
        ("mean_field_visible", "persistent_chains"),
    ),
)
SPECS["rbm"] = Spec({**RBM_COMMON, "units": UNITS}, fix=fix_rbm, conflicts=RBM_CONFLICTS)
SPECS["gaussian_rbm"] = Spec(
    {**RBM_COMMON, "units": UNITS, "learn_sigma": BOOL, "standardize": BOOL},
    fix=fix_rbm,
    conflicts=RBM_CONFLICTS,
)
SPECS["dbn"] = Spec(
    {
        **RBM_COMMON,
        "hidden": arg(sizes(1, 6, min_size=1, max_size=3), unit_tuple_bad(MAX_UNITS, False)),
        "visible": choice(("bernoulli", "gaussian")),
        "standardize": arg(st.sampled_from([None, True, False]), (1, 0, "yes")),
    },
    fix=fix_rbm,
    conflicts=RBM_CONFLICTS,
)

MODELS = zoo.list_models()
ALL_ARGS = {name: spec.args[name] for spec in SPECS.values() for name in spec.args}
FOREIGN = {
    model: sorted(set(ALL_ARGS) - set(spec.args)) for model, spec in SPECS.items()
}  # arguments other models take and this one does not


# --- calls and the property ------------------------------------------------------------


@dataclasses.dataclass
class Call:
    """One call of a model's factory and what the contract expects of it."""

    kwargs: dict
    kind: str  # "valid", "bad", "foreign" or "conflict"
    offending: tuple = ()
    value: object = None
    listed: tuple = ()

    def __repr__(self):
        shown = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.kind}({shown})"


KINDS = ("valid", "valid", "bad", "bad", "bad", "foreign", "conflict")


@st.composite
def calls(draw, model):
    spec = SPECS[model]
    kwargs = {}
    for name, argument in spec.args.items():
        if name in spec.always or draw(st.integers(0, 99)) < 100 * spec.include:
            kwargs[name] = draw(argument.valid)
    kwargs = spec.fix(kwargs) if spec.fix else kwargs
    kind = draw(st.sampled_from(KINDS))
    if kind == "bad":
        name = draw(st.sampled_from([n for n, a in spec.args.items() if a.bad]))
        value = draw(st.sampled_from(spec.args[name].bad))
        if isinstance(value, Relative):
            value = value.value(kwargs)
        kwargs[name] = value
        return Call(kwargs, kind, (name,), value, spec.args[name].listed)
    if kind == "foreign":
        name = draw(st.sampled_from(FOREIGN[model]))
        kwargs[name] = draw(ALL_ARGS[name].valid)
        return Call(kwargs, kind, (name,))
    if kind == "conflict" and spec.conflicts:
        patch, offending = draw(st.sampled_from(spec.conflicts))
        return Call(_patched(kwargs, patch), kind, offending)
    return Call(kwargs, "valid")


def _minimal(strategy):
    """The simplest value of `strategy` (Hypothesis' shrinking makes it deterministic)."""
    return find(strategy, lambda _: True, settings=settings(database=None))


def base_configuration(model):
    """The model's smallest valid configuration: its `always` arguments, simplest values."""
    spec = SPECS[model]
    kwargs = {name: _minimal(spec.args[name].valid) for name in spec.always}
    return spec.fix(kwargs) if spec.fix else kwargs


def single_calls(model):
    """One call for each bad value, each foreign argument and each conflict of `model`,
    on its base configuration."""
    spec = SPECS[model]
    base = base_configuration(model)
    for name, argument in spec.args.items():
        for value in argument.bad:
            kwargs = dict(base)
            value = value.value(kwargs) if isinstance(value, Relative) else value
            kwargs[name] = value
            yield Call(kwargs, "bad", (name,), value, argument.listed)
    for name in FOREIGN[model]:
        yield Call({**base, name: _minimal(ALL_ARGS[name].valid)}, "foreign", (name,))
    for patch, offending in spec.conflicts:
        yield Call(_patched(base, patch), "conflict", offending)


def _patched(kwargs, patch):
    kwargs = dict(kwargs)
    for name, value in patch.items():
        if value is REMOVE:
            kwargs.pop(name, None)
        else:
            kwargs[name] = value
    return kwargs


def _names(argument, message):
    """Whether `message` names `argument` as a word (`k` is not in `kernel_size`)."""
    return re.search(rf"(?<!\w){re.escape(argument)}(?!\w)", message) is not None


def violation(model, call):
    """What breaks the contract in `create_model(model, **call.kwargs)`, or None."""
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built = zoo.create_model(model, **call.kwargs)
        outputs = keras.tree.flatten(built(np.zeros((2, *built.input_shape[1:]), "float32")))
    except (ValueError, TypeError) as error:
        return _refusal_violation(call, error)
    except Exception as error:  # noqa: BLE001 - anything else breaks the contract
        return f"{type(error).__name__} instead of ValueError/TypeError: {error}"[:600]
    finally:
        faulthandler.cancel_dump_traceback_later()
    if call.kind != "valid":
        return f"accepted: {', '.join(call.offending)} must be refused"
    if not all(np.isfinite(np.asarray(y)).all() for y in outputs):
        return "non-finite output"
    return None


def _refusal_violation(call, error):
    message = str(error)
    if call.kind == "valid":
        return f"a valid call raised {type(error).__name__}: {message}"[:600]
    if not any(_names(name, message) for name in call.offending):
        return f"the message names none of {call.offending}: {message}"[:600]
    if call.kind == "bad":
        shown = repr(call.value)
        if shown not in message:
            return f"the message does not echo {shown}: {message}"[:600]
        missing = [item for item in call.listed if item not in message]
        if missing:
            return f"the message does not list {missing}: {message}"[:600]
    return None


def run_property(model):
    """Runs the fuzz of `model`; returns the set of arguments given valid values."""
    spec = SPECS[model]
    exercised = set()

    @settings(
        max_examples=spec.examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(call=calls(model))
    def check(call):
        if call.kind == "valid":
            exercised.update(call.kwargs)
        else:
            exercised.update(set(call.kwargs) - set(call.offending))
        found = violation(model, call)
        if TALLY:
            with open(TALLY, "a") as tally:
                record = {"model": model, "call": repr(call), "violation": found}
                tally.write(json.dumps(record) + "\n")
            return
        assert found is None, f"{model}: {call!r}: {found}"

    for call in single_calls(model):
        check = example(call=call)(check)
    check()
    return exercised


# --- tests -----------------------------------------------------------------------------


def documented(model):
    """The arguments `model`'s factory documents: its signature's named arguments, its
    `Args:` entries, and the backticked names (or another model's, "as for `ae/dense`",
    less those after "except") of its `**kwargs` entry."""
    factory = get_model_factory(model)
    names = {
        name
        for name, parameter in inspect.signature(factory).parameters.items()
        if parameter.kind is not inspect.Parameter.VAR_KEYWORD
    }
    for name, text in _arg_texts(factory.__doc__ or "").items():
        if name not in ("kwargs", "others"):
            names.add(name)
            continue
        given, _, excepted = re.split(r"\b(except)\b", text + " except ", maxsplit=1)
        for word in re.findall(r"`([\w/]+)`", given):
            if word in MODELS:
                names |= documented(word)
            elif "/" not in word:
                names.add(word)
        names -= set(re.findall(r"`(\w+)`", excepted))
    return names


def test_every_registered_model_has_a_spec():
    assert sorted(SPECS) == MODELS


@pytest.mark.parametrize("model", MODELS)
def test_the_fuzz_covers_exactly_the_documented_arguments(model):
    assert set(SPECS[model].args) == documented(model)


@pytest.mark.parametrize("model", MODELS)
def test_every_call_builds_a_working_model_or_is_refused_naming_the_argument(model):
    exercised = run_property(model)
    if not TALLY:  # every documented argument was passed a valid value at least once
        assert sorted(documented(model) - exercised) == []


def test_the_property_tells_breaks_from_keeping_the_contract():
    shape = {"input_shape": (8, 8, 1)}
    accepted = Call({**shape, "code_size": 4}, "bad", ("code_size",), 4)
    assert violation("ae/dense", accepted) == "accepted: code_size must be refused"
    refused = Call({**shape, "code_size": 0}, "valid")
    assert violation("ae/dense", refused).startswith("a valid call raised ValueError")
    elsewhere = Call({**shape, "code_size": 0}, "bad", ("hidden",), 0)
    assert violation("ae/dense", elsewhere).startswith("the message names none of")
    silent = Call({**shape, "code_size": -3}, "bad", ("code_size",), -3)
    assert violation("ae/dense", silent) is None
    assert violation("ae/dense", Call({**shape, "code_size": 4}, "valid")) is None
