"""Argument checks shared by every factory, layer, data loader and recipe.

Every rejection names the argument and echoes the value received, in Keras' style
(`"units must be an int >= 1. Received: units=0"`): `TypeError` for a value of the wrong
type, `ValueError` for a value of the right type out of range or not among the choices
(which are listed). Non-finite numbers are always refused. Each check returns the value,
normalised (a Python `int`, `float` or `tuple`), so a caller can write
`units = check_int("units", units, low=1)`.

Bounds that keep a call from hanging or exhausting memory are defined here, in one place,
and documented by the factories that use them.
"""

import functools
import math
import numbers

# Documented bounds of sizes that would otherwise hang or exhaust memory.
MAX_UNITS = 65_536  # units of a dense layer, code sizes, hidden units of an RBM
MAX_IMAGE_SIDE = 4_096  # height or width of a model input
MAX_GIBBS_STEPS = 10_000  # CD-k's k: one training step runs k Gibbs steps
MAX_CHANNELS = 4_096  # channels of an input image, feature maps of a convolution
MAX_CHAINS = 10_000  # persistent CD's chains (one state of every hidden unit each)
MAX_SEED = 2**32 - 1  # the largest seed NumPy and every Keras backend accept


def _bounds(low, high, low_open=False, high_open=False):
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return " and ".join(parts)


def describe_int(low=None, high=None):
    """`"an int >= 1"`, `"an int >= 0 and <= 10"`: what `check_int` asks for."""
    bounds = _bounds(low, high)
    return f"an int {bounds}" if bounds else "an int"


def describe_float(low=None, high=None, *, low_open=False, high_open=False):
    """`"a finite number > 0"`: what `check_float` asks for."""
    bounds = _bounds(low, high, low_open, high_open)
    return f"a finite number {bounds}" if bounds else "a finite number"


def check_int(arg, value, *, low=None, high=None):
    """An int (not a bool) in `[low, high]`; returns it as a Python int."""
    wanted = describe_int(low, high)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{arg} must be {wanted}. Received: {arg}={value!r} of type {type(value).__name__}"
        )
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    return int(value)


def check_float(arg, value, *, low=None, high=None, low_open=False, high_open=False):
    """A finite real number (an int is accepted, a bool is not) within the bounds.

    `low_open` / `high_open` exclude the bound itself: `check_float("rate", r, low=0,
    high=1, high_open=True)` asks for `0 <= rate < 1`.
    """
    wanted = describe_float(low, high, low_open=low_open, high_open=high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{arg} must be {wanted}. Received: {arg}={value!r} of type {type(value).__name__}"
        )
    received, value = value, float(value)
    if (
        not math.isfinite(value)
        or (low is not None and (value <= low if low_open else value < low))
        or (high is not None and (value >= high if high_open else value > high))
    ):
        raise ValueError(f"{arg} must be {wanted}. Received: {arg}={received!r}")
    return value


def check_bool(arg, value):
    """True or False (NumPy's booleans too); an int such as 1 is refused."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise TypeError(
            f"{arg} must be True or False. Received: {arg}={value!r} of type {type(value).__name__}"
        )
    return bool(value)


def check_choice(arg, value, choices):
    """One of `choices` (compared with `==`); the error lists them."""
    choices = tuple(choices)
    try:
        ok = any(value == choice and type(value) is type(choice) for choice in choices)
    except (TypeError, ValueError):  # e.g. an array compared with a string
        ok = False
    if not ok:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{arg} must be one of {listed}. Received: {arg}={value!r}")
    return value


def check_ints(arg, value, *, low=1, high=None, min_len=0, max_len=None):
    """A tuple or list of ints, each in `[low, high]`, of `min_len` to `max_len` items.

    Returns a tuple. A single int, a string or a set is refused with `TypeError`.
    """
    length = _bounds(min_len or None, max_len)
    bounds = _bounds(low, high)
    wanted = f"a tuple of ints, each {bounds}" if bounds else "a tuple of ints"
    if length:
        wanted += f", length {length}"
    if not isinstance(value, (tuple, list)):
        raise TypeError(
            f"{arg} must be {wanted}. Received: {arg}={value!r} of type {type(value).__name__}"
        )
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        raise ValueError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
        if (low is not None and item < low) or (high is not None and item > high):
            raise ValueError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    return tuple(int(item) for item in value)


def check_image_shape(
    arg, value, *, channels=None, max_side=MAX_IMAGE_SIDE, min_side=1, max_channels=MAX_CHANNELS
):
    """`(height, width, channels)` of ints, sides in `[min_side, max_side]`.

    `channels`, when given, is the tuple of channel counts allowed (e.g. `(1, 3)`);
    otherwise any count from 1 to `max_channels`.
    """
    wanted = f"(height, width, channels) with height and width in [{min_side}, {max_side}]"
    if channels is not None:
        wanted += f" and channels one of {tuple(channels)}"
    else:
        wanted += f" and channels in [1, {max_channels}]"
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ValueError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    if any(isinstance(d, bool) or not isinstance(d, numbers.Integral) for d in value):
        raise TypeError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    height, width, depth = (int(d) for d in value)
    if (
        not (min_side <= height <= max_side and min_side <= width <= max_side)
        or depth < 1
        or (channels is not None and depth not in channels)
        or (channels is None and depth > max_channels)
    ):
        raise ValueError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    return (height, width, depth)


def check_shape(arg, value, *, max_size=MAX_IMAGE_SIDE**2 * 4):
    """A tuple or list of positive ints whose product is at most `max_size`."""
    wanted = f"a non-empty tuple of positive ints with at most {max_size:,} elements in all"
    if not isinstance(value, (tuple, list)) or not value:
        raise ValueError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    if any(isinstance(d, bool) or not isinstance(d, numbers.Integral) for d in value):
        raise TypeError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    if any(d < 1 for d in value) or math.prod(value) > max_size:
        raise ValueError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    return tuple(int(d) for d in value)


def check_activation(arg, value, *, allow_none=False):
    """The name of a Keras activation (or a callable); the error lists the names."""
    if value is None and allow_none:
        return None
    if callable(value):
        return value
    import keras

    names = activation_names()
    if not isinstance(value, str):
        raise TypeError(
            f"{arg} must be the name of a Keras activation ({', '.join(names)}) or a "
            f"callable. Received: {arg}={value!r} of type {type(value).__name__}"
        )
    try:
        keras.activations.get(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{arg} must be the name of a Keras activation: {', '.join(names)}. "
            f"Received: {arg}={value!r}"
        ) from None
    return value


def activation_names():
    """The names `keras.activations.get` resolves, sorted."""
    import keras

    return sorted(
        name
        for name, fn in vars(keras.activations).items()
        if callable(fn)
        and not name.startswith("_")
        and name not in ("get", "serialize", "deserialize")
    )


def check_not_applicable(arg, value, *, default, variant, applies_to):
    """Refuses an argument a variant has no use for, instead of silently ignoring it.

    `value` is what the caller passed, `default` the value meaning "not given".
    """
    if value is not default and value != default:
        raise not_applicable(arg, value, variant=variant, applies_to=applies_to)


def not_applicable(arg, value, *, variant, applies_to):
    """The `ValueError` for an argument given to a variant (or in a setting) it does not
    apply to, whatever its value: `raise not_applicable("tied", True, variant="ae/conv",
    applies_to="the dense autoencoders")`."""
    return ValueError(
        f"{arg} does not apply to {variant}; it applies to {applies_to}. Received: {arg}={value!r}"
    )


def check_name(arg, value, *, allow_none=False):
    """A non-empty string without "/", usable as a Keras model name and layer-name prefix."""
    if value is None and allow_none:
        return None
    wanted = 'a non-empty string without "/"' + (" or None" if allow_none else "")
    if not isinstance(value, str):
        raise TypeError(
            f"{arg} must be {wanted}. Received: {arg}={value!r} of type {type(value).__name__}"
        )
    if not value or "/" in value:
        raise ValueError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    return value


def check_seed(arg, value):
    """None or an int seed in `[0, MAX_SEED]`."""
    if value is None:
        return None
    wanted = f"None or {describe_int(0, MAX_SEED)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{arg} must be {wanted}. Received: {arg}={value!r} of type {type(value).__name__}"
        )
    if not 0 <= value <= MAX_SEED:
        raise ValueError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    return int(value)


def check_regularizer(arg, value):
    """None, a `keras.regularizers.Regularizer` (or a callable), the name of one, or its
    serialized config (a dict, as layers' configs hold it)."""
    if value is None or callable(value):
        return value
    import keras

    listed = ", ".join(repr(name) for name in regularizer_names())
    wanted = f"None, a keras.regularizers.Regularizer or one of {listed}"
    return _check_keras_object(arg, value, wanted, keras.regularizers.get)


def regularizer_names():
    """The lower-case names `keras.regularizers.get` resolves, sorted."""
    import keras

    return list(_keras_names(keras.regularizers, ("get", "serialize")))


# Initializers for a particular kernel shape only (a square matrix, a Fourier basis).
SHAPE_BOUND_INITIALIZERS = ("identity", "stft")


def check_initializer(arg, value):
    """A `keras.initializers.Initializer`, or the name of one (`"he_normal"`,
    `"glorot_uniform"`, ...; the error lists them), or its serialized config (a dict)."""
    import keras

    if isinstance(value, keras.initializers.Initializer):
        return value
    listed = ", ".join(repr(name) for name in initializer_names())
    wanted = f"a keras.initializers.Initializer or one of {listed}"
    if isinstance(value, str) and value not in initializer_names():
        raise ValueError(f"{arg} must be {wanted}. Received: {arg}={value!r}")
    return _check_keras_object(arg, value, wanted, keras.initializers.get)


@functools.cache
def initializer_names():
    """The lower-case names `keras.initializers.get` resolves to an initializer of any
    kernel shape, sorted."""
    import keras

    skip = ("get", "serialize", "deserialize", *SHAPE_BOUND_INITIALIZERS)
    return _keras_names(keras.initializers, skip)


def _check_keras_object(arg, value, wanted, get):
    """A name or a serialized config (a dict) that Keras' `get` resolves."""
    if not isinstance(value, (str, dict)):
        raise TypeError(
            f"{arg} must be {wanted}. Received: {arg}={value!r} of type {type(value).__name__}"
        )
    try:
        get(value)
    except (ValueError, TypeError, KeyError):  # KeyError: a config without its arguments
        raise ValueError(f"{arg} must be {wanted}. Received: {arg}={value!r}") from None
    return value


def _keras_names(module, skip):
    """The lower-case names of a Keras module (less `skip`) its `get` resolves, sorted."""
    names = []
    for name in vars(module):
        if name.startswith("_") or not name.islower() or name in skip:
            continue
        try:
            module.get(name)
        except (ValueError, TypeError, KeyError):  # "constant" needs its value
            continue
        names.append(name)
    return tuple(sorted(names))
