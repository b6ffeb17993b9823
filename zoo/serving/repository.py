"""The models a server serves: every export under a root, loaded on first use.

`Repository(root)` follows the layout TensorFlow Serving reads (`<root>/<name>/<version>/`):
the newest complete version of a model is served unless a request pins one; versions
that appear later are picked up on the next request (the folder is listed again, which
costs microseconds); a version still being written is never loaded, because
`zoo.export.export` moves a complete version into place with one rename
(`zoo.serving.layout.versions` lists only complete ones).

Requests are checked against the signature before TensorFlow sees them: an unknown
model, version or signature is `NotFound` (404); a wrong dtype, rank or shape, a
non-finite value or a value that is not a number is `BadRequest` (400). Either names
what was wrong. A model name is a single folder name: it cannot leave the root.
"""

import gc
import pathlib
import re
import threading

import numpy as np

from zoo.serving.layout import read_metadata, version_labels, versions

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
DTYPES = {  # TensorFlow dtype -> (NumPy dtype, TF Serving name, v2 datatype)
    "float32": ("float32", "DT_FLOAT", "FP32"),
    "float64": ("float64", "DT_DOUBLE", "FP64"),
    "uint8": ("uint8", "DT_UINT8", "UINT8"),
    "int32": ("int32", "DT_INT32", "INT32"),
    "int64": ("int64", "DT_INT64", "INT64"),
}
V2_DTYPES = {v2: np_name for np_name, (_, _, v2) in DTYPES.items()}


class ServingError(Exception):
    status = 400


class BadRequest(ServingError):
    status = 400


class NotFound(ServingError):
    status = 404


class Signature:
    """One signature of a loaded version: its input and output specs, and a call."""

    def __init__(self, name, function):
        self.name = name
        self.function = function
        _, kwargs = function.structured_input_signature
        self.inputs = {key: _spec(spec) for key, spec in kwargs.items()}
        self.outputs = {key: _spec(spec) for key, spec in function.structured_outputs.items()}

    def check(self, inputs):
        """The inputs as NumPy arrays of the signature's dtypes; `BadRequest` otherwise."""
        missing = sorted(set(self.inputs) - set(inputs))
        extra = sorted(set(inputs) - set(self.inputs))
        if missing or extra:
            raise BadRequest(
                f"signature {self.name!r} takes inputs {sorted(self.inputs)}. Received: "
                f"{sorted(inputs)}"
            )
        checked = {}
        for key, value in inputs.items():
            dtype, shape = self.inputs[key]
            try:
                array = np.asarray(value, dtype="float64")
            except (TypeError, ValueError):
                raise BadRequest(
                    f"input {key!r} must be a (nested) list of numbers of shape {shape}"
                ) from None
            if array.ndim != len(shape) or any(
                want is not None and got != want
                for got, want in zip(array.shape, shape, strict=False)
            ):
                raise BadRequest(
                    f"input {key!r} must have shape {_show(shape)}. Received: shape "
                    f"{_show(array.shape)}"
                )
            if not np.isfinite(array).all():
                raise BadRequest(f"input {key!r} holds non-finite values (NaN or inf)")
            if dtype == "uint8" and ((array < 0) | (array > 255) | (array % 1 != 0)).any():
                raise BadRequest(f"input {key!r} must hold integers in [0, 255] (uint8)")
            checked[key] = array.astype(DTYPES[dtype][0])
        return checked

    def run(self, arrays):
        """Calls the signature on checked arrays (see `check`); NumPy outputs."""
        import tensorflow as tf

        outputs = self.function(**{k: tf.constant(v) for k, v in arrays.items()})
        return {key: value.numpy() for key, value in outputs.items()}

    def __call__(self, inputs):
        return self.run(self.check(inputs))


class Version:
    def __init__(self, name, number, path):
        import tensorflow as tf

        self.name, self.number, self.path = name, number, path
        self.saved_model = tf.saved_model.load(str(path))
        self.signatures = {
            key: Signature(key, fn) for key, fn in self.saved_model.signatures.items()
        }
        self.metadata = read_metadata(path)

    def signature(self, name=None):
        key = name or "serving_default"
        if key not in self.signatures:
            raise NotFound(
                f"model {self.name!r} version {self.number} has no signature {key!r}; it has "
                f"{sorted(self.signatures)}"
            )
        return self.signatures[key]


class Repository:
    """Every export under `root`, loaded when first asked for (thread-safe)."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"root must be an export folder. Received: {self.root}")
        self._loaded = {}
        self._lock = threading.Lock()

    def names(self):
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and _NAME.fullmatch(p.name) and versions(p)
        )

    def versions(self, name):
        if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
            raise NotFound(f"no model named {name!r}")
        found = versions(self.root / name)
        if not found:
            raise NotFound(f"no model named {name!r} under the served root; models: {self.names()}")
        return found

    def labels(self, name):
        """The model's version labels, `{label: version}` (see `layout.version_labels`)."""
        self.versions(name)
        try:
            return version_labels(self.root / name)
        except ValueError as error:
            raise NotFound(f"model {name!r} has unreadable version labels: {error}") from None

    def get(self, name, version=None, label=None, *, load=True):
        """The loaded `Version`: the newest complete one, or `version` (an int or str), or
        the version that `label` names. With `load=False`, None if it is not loaded yet."""
        available = self.versions(name)
        if label is not None:
            labels = self.labels(name)
            if label not in labels:
                raise NotFound(
                    f"model {name!r} has no version label {label!r}; labels: {sorted(labels)}"
                )
            version = labels[label]
            if version not in available:
                raise NotFound(
                    f"model {name!r} label {label!r} names version {version}, which is not "
                    f"served; versions: {available}"
                )
        if version is None:
            number = available[-1]
        else:
            try:
                number = int(version)
            except (TypeError, ValueError):
                raise NotFound(f"version must be a number. Received: {version!r}") from None
            if number not in available:
                raise NotFound(f"model {name!r} has no version {number}; versions: {available}")
        key = (name, number)
        if not load:
            return self._loaded.get(key)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = Version(name, number, self.root / name / str(number))
                # A loaded SavedModel is hundreds of thousands of long-lived Python objects;
                # left to the collector, each full collection walks them all and stalls
                # every request for 50-500 ms (docs/RESULTS.md, "Serving"). Frozen, they
                # are never walked again (and never freed, as a served model is not).
                gc.freeze()
            return self._loaded[key]


def _spec(spec):
    return spec.dtype.name, tuple(None if d is None else int(d) for d in spec.shape.as_list())


def _show(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
