"""What keras-tuner lacks for a trustworthy search: loud failures, a time budget, a
leaderboard with seconds and epochs per trial, and a check that a resumed search folder
holds the same search.

keras-tuner runs the search (its tuners, oracles and chief/worker mode); this module adds:

- `tuner_class(kind)`: a keras-tuner tuner ("random", "bayesian", "hyperband") whose
  trials record their wall time and epochs, fail (status FAILED, with the message) when
  the objective is not finite, and stop being created once a time budget is spent;
- `leaderboard(tuner)`: one row per trial: id, hyperparameters, objective, epochs,
  seconds, status and the failure message, best first;
- `completed(rows)`: the trials that finished with a finite objective; `SearchFailed`
  when none did, showing the first failure;
- `check_same_search(folder, description)`: refuses to resume a search folder made for
  another family, tuner, objective or search space.
"""

import json
import math
import pathlib
import time

import keras_tuner

TUNERS = {
    "random": keras_tuner.RandomSearch,
    "bayesian": keras_tuner.BayesianOptimization,
    "hyperband": keras_tuner.Hyperband,
}
TIMINGS_FILE = "timings-{tuner_id}.json"  # one per tuner process (chief/worker mode)
SEARCH_FILE = "search.json"
FAILED = "FAILED"
INTERRUPTED = "INTERRUPTED"
COMPLETED = "COMPLETED"


class SearchFailed(ValueError):
    """A search in which no trial completed with a finite objective."""


def tuner_class(kind):
    """The keras-tuner tuner class `kind` ("random", "bayesian", "hyperband"), with zoo's
    trial bookkeeping (see the module docstring). Its constructor takes, besides
    keras-tuner's arguments, `budget_seconds=None`."""
    if kind not in TUNERS:
        raise ValueError(
            f"tuner must be one of {', '.join(map(repr, TUNERS))}. Received: tuner={kind!r}"
        )
    base = TUNERS[kind]

    class Tuner(base):
        def __init__(self, *args, budget_seconds=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.budget_seconds = budget_seconds
            self._search_start = None
            self._trial_start = {}

        def on_search_begin(self):
            super().on_search_begin()
            self._search_start = time.monotonic()

        def on_trial_begin(self, trial):
            super().on_trial_begin(trial)
            self._trial_start[trial.trial_id] = time.monotonic()

        def run_trial(self, trial, *args, **kwargs):
            results = super().run_trial(trial, *args, **kwargs)
            histories = results if isinstance(results, list) else [results]
            epochs = [len(h.history.get("loss", [])) for h in histories if hasattr(h, "history")]
            self._record(trial.trial_id, epochs=max(epochs, default=None))
            name = self.oracle.objective.name
            values = [
                v for h in histories if hasattr(h, "history") for v in h.history.get(name, [])
            ]
            if not values or not all(math.isfinite(v) for v in values):
                raise keras_tuner.errors.FailedTrialError(
                    f"the objective {name} is not finite (or was not logged): {values}"
                )
            return results

        def on_trial_end(self, trial):
            seconds = time.monotonic() - self._trial_start.pop(trial.trial_id, time.monotonic())
            self._record(trial.trial_id, seconds=round(seconds, 2))
            super().on_trial_end(trial)
            spent = time.monotonic() - (self._search_start or time.monotonic())
            if self.budget_seconds is not None and spent >= self.budget_seconds:
                # keras-tuner creates no trial once max_trials are there: stop after this one
                self.oracle.max_trials = len(self.oracle.trials)

        def _record(self, trial_id, **values):
            path = pathlib.Path(self.project_dir) / TIMINGS_FILE.format(tuner_id=self.tuner_id)
            record = json.loads(path.read_text()) if path.is_file() else {}
            record.setdefault(trial_id, {}).update(values)
            path.write_text(json.dumps(record, indent=1))

    Tuner.__name__ = base.__name__
    return Tuner


def leaderboard(tuner):
    """One dict per trial of `tuner`'s oracle, completed ones best first, then the others:
    `trial`, `hyperparameters`, `objective`, `epochs`, `seconds`, `status`, `message`."""
    timings = {}
    for path in sorted(pathlib.Path(tuner.project_dir).glob(TIMINGS_FILE.format(tuner_id="*"))):
        for trial_id, values in json.loads(path.read_text()).items():
            timings.setdefault(trial_id, {}).update(values)
    direction = tuner.oracle.objective.direction
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        score = trial.score
        finite = score is not None and math.isfinite(score)
        status = trial.status
        if status == COMPLETED and not finite:
            status = FAILED
        elif status in ("RUNNING", "IDLE"):  # the search stopped while it ran
            status = INTERRUPTED
        message = (trial.message or "").strip().splitlines()
        rows.append(
            {
                "trial": trial_id,
                "hyperparameters": dict(trial.hyperparameters.values),
                "objective": score if finite else None,
                "epochs": timings.get(trial_id, {}).get("epochs"),
                "seconds": timings.get(trial_id, {}).get("seconds"),
                "status": status,
                "message": message[-1] if message else "",
            }
        )
    sign = -1 if direction == "max" else 1
    rows.sort(key=lambda r: (r["status"] != COMPLETED, sign * (r["objective"] or 0.0), r["trial"]))
    return rows


def completed(rows):
    """The rows of trials that completed with a finite objective; `SearchFailed` naming
    the first failure when there is none."""
    done = [row for row in rows if row["status"] == COMPLETED]
    if not done:
        failures = [row for row in rows if row["status"] != COMPLETED]
        reason = failures[0]["message"].rstrip(".") or failures[0]["status"]
        first = f" The first failure (trial {failures[0]['trial']}): {reason}."
        raise SearchFailed(
            f"no trial of the search completed with a finite objective ({len(rows)} "
            f"trials).{first if failures else ''} Nothing is retrained or exported."
        )
    return done


def write_leaderboard(rows, folder, objective):
    """`leaderboard.csv` and `leaderboard.md` in `folder`; returns the markdown table."""
    import csv

    folder = pathlib.Path(folder)
    names = sorted({name for row in rows for name in row["hyperparameters"]})
    header = ["trial", *names, objective, "epochs", "seconds", "status", "message"]
    with (folder / "leaderboard.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow(
                [
                    row["trial"],
                    *(row["hyperparameters"].get(n, "") for n in names),
                    "" if row["objective"] is None else row["objective"],
                    row["epochs"] or "",
                    row["seconds"] or "",
                    row["status"],
                    row["message"],
                ]
            )
    lines = ["| " + " | ".join(header[:-1]) + " |", "|---" * (len(header) - 1) + "|"]
    for row in rows:
        cells = [
            row["trial"],
            *(_cell(row["hyperparameters"].get(n, "")) for n in names),
            "-" if row["objective"] is None else f"{row['objective']:.4g}",
            str(row["epochs"] or "-"),
            "-" if row["seconds"] is None else f"{row['seconds']:.1f}",
            row["status"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    (folder / "leaderboard.md").write_text(table + "\n")
    return table


def _cell(value):
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def check_same_search(folder, description):
    """Records `description` (family, tuner, objective, space) in `folder/search.json`,
    or, when the folder already holds a search, raises `ValueError` unless it is the
    same one (a resumed search must not mix trials of two searches)."""
    path = pathlib.Path(folder) / SEARCH_FILE
    if path.is_file():
        recorded = json.loads(path.read_text())
        if recorded != description:
            changed = sorted(
                k for k in {*recorded, *description} if recorded.get(k) != description.get(k)
            )
            raise ValueError(
                f"{folder} holds another search ({', '.join(changed)} differ: it has "
                f"{ {k: recorded.get(k) for k in changed} }); choose another --output-dir."
            )
        return True
    pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(description, indent=2, default=str) + "\n")
    return False
