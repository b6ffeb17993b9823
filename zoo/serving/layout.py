"""The export layout a model server reads: `<root>/<name>/<version>/`, as TensorFlow
Serving lays it out, with zoo's `metadata.json` in each version folder.

A version is complete when its numeric folder holds `saved_model.pb`: `zoo.export.export`
writes it in a hidden staging folder and renames it into place, so a complete version
never changes and a version still being written is never listed. This module reads the
layout with the standard library only (no TensorFlow), for `zoo exports` and servers.

Version labels, as TensorFlow Serving's model config `version_labels` gives them, live in
an optional `version_labels.json` beside the versions: `{"stable": 1, "canary": 2}`. It is
read again on each request, so relabelling needs no restart.
"""

import json
import pathlib
import re

METADATA_FILE = "metadata.json"
SAVED_MODEL_FILE = "saved_model.pb"
LABELS_FILE = "version_labels.json"
_LABEL = re.compile(r"[A-Za-z0-9_.-]+")
# The metric a listing shows, the first of these that a version's metadata records.
HEADLINE_METRICS = (
    "test_accuracy",
    "best_evaluation_accuracy",
    "test_reconstruction_mse",
    "test_reconstruction_error",
    "anomaly_roc_auc",
)


def versions(model_dir):
    """The complete versions of a model folder, ascending (claims and staging folders
    are hidden, and a numeric folder without `saved_model.pb` is not complete)."""
    model_dir = pathlib.Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(
        int(p.name)
        for p in model_dir.iterdir()
        if p.name.isdigit() and (p / SAVED_MODEL_FILE).is_file()
    )


def version_labels(model_dir):
    """A model folder's version labels, `{label: version}`; `{}` when it has none.

    Raises `ValueError` naming the file when it is not a JSON object of labels (names of
    letters, digits, `_`, `-` and `.`) to version numbers.
    """
    path = pathlib.Path(model_dir) / LABELS_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ValueError(f"{path} cannot be read: {error}") from None
    try:
        labels = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and _LABEL.fullmatch(k) and type(v) is int and v >= 0
        for k, v in labels.items()
    ):
        raise ValueError(
            f'{path} must map labels to version numbers, as {{"stable": 1}}. Received: '
            f"{text[:200]!r}"
        )
    return labels


def read_metadata(version_dir):
    """A version's `metadata.json` as a dict; `{}` when it has none or it does not parse."""
    try:
        return json.loads((pathlib.Path(version_dir) / METADATA_FILE).read_text())
    except (OSError, ValueError):
        return {}


def list_exports(root="saved_models"):
    """One dict per complete version under `root`, sorted by name then version: `name`,
    `version`, `path`, `dataset`, `metric` (name, value), `created`, `smoke`."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"root must be an export folder. Received: root={str(root)!r}")
    rows = []
    for model_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] != "."):
        for version in versions(model_dir):
            metadata = read_metadata(model_dir / str(version))
            metrics = metadata.get("metrics") or {}
            metric = next(((k, metrics[k]) for k in HEADLINE_METRICS if k in metrics), None)
            rows.append(
                {
                    "name": model_dir.name,
                    "version": version,
                    "path": str(model_dir / str(version)),
                    "dataset": metadata.get("dataset")
                    or (metadata.get("preprocessing") or {}).get("name"),
                    "metric": metric,
                    "created": metadata.get("created"),
                    "smoke": bool(metadata.get("smoke")),
                }
            )
    return rows
