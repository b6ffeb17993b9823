"""recipes.tune: keras-tuner searches with leaderboards, loud failures, resume, two stages
and chief/worker mode on loopback. Small: LeNet-5 modern on the 8x8 digits, 1 epoch."""

import csv
import json

import pytest

from recipes import tune

BASE = ["--family", "lenet5_modern", "--epochs", "1", "--subset", "300", "--verbose", "0",
        "--output-dir", "run"]  # fmt: skip


def _leaderboard(run):
    with (run / "leaderboard.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.timeout(300)
def test_a_rerun_continues_the_search_and_a_two_stage_one_retrains_the_best_and_exports_it(
    in_tmp,
):
    tune.main([*BASE, "--max-trials", "1", "--no-export"])
    first = {row["trial"]: row for row in _leaderboard(in_tmp / "run")}
    assert sorted(first) == ["0"]
    # The same command with more trials continues the search without repeating a trial,
    # here as a two-stage search that retrains the best two and exports the winner.
    metrics = tune.main([*BASE, "--max-trials", "2", "--refine-top", "2"])
    run = in_tmp / "run"
    rows = _leaderboard(run)
    assert sorted(row["trial"] for row in rows) == ["0", "1"]
    assert next(row for row in rows if row["trial"] == "0") == first["0"]  # kept as it was
    assert [row["status"] for row in rows] == ["COMPLETED", "COMPLETED"]
    assert {"trial", "learning_rate", "val_accuracy", "epochs", "seconds"} <= set(rows[0])
    values = [float(row["val_accuracy"]) for row in rows]
    assert values == sorted(values, reverse=True)  # best first: the objective is maximised
    assert all(row["epochs"] == "1" and float(row["seconds"]) > 0 for row in rows)
    assert (run / "leaderboard.md").read_text().startswith("| trial |")
    assert (run / "search.png").stat().st_size > 1000
    assert metrics["completed_trials"] == 2 and len(metrics["refined"]) == 2
    # stage two retrained both on the whole training split and ranked them again
    assert metrics["best_trial"] in {r["trial"] for r in metrics["refined"]}
    assert json.loads((run / "search.json").read_text())["subset"] == 300
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    export = in_tmp / metrics["export_path"]
    assert export.parent.name == "lenet5_modern_tuned_digits"
    assert json.loads((export / "metadata.json").read_text())["metrics"]["best_trial"]
    with pytest.raises(ValueError, match="holds another search.*family"):
        tune.main([*BASE, "--family", "autoencoder", "--max-trials", "3"])


@pytest.mark.timeout(300)
def test_a_search_whose_trials_all_fail_is_an_error_and_exports_nothing(
    in_tmp, monkeypatch, capsys
):
    from zoo.hyper.lenet import LeNetHyperModel

    def broken(self, hp, model, *args, **kwargs):
        raise ValueError("boom: a broken model")

    monkeypatch.setattr(LeNetHyperModel, "fit", broken)
    assert tune.cli([*BASE, "--max-trials", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "no trial of the search completed" in err
    assert "The first failure (trial 0): ValueError: boom: a broken model" in err
    rows = _leaderboard(in_tmp / "run")
    assert rows[0]["status"] == "FAILED" and "boom" in rows[0]["message"]
    assert len(rows) == 3  # max_consecutive_failed_trials stops it
    assert not (in_tmp / "saved_models").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-trials", "0"], "argument --max-trials: expected an int >= 1, got '0'"),
        (["--family", "forest"], "argument --family: invalid choice: 'forest'"),
        (["--tuner", "grid"], "argument --tuner: invalid choice: 'grid'"),
        (["--subset", "100000"], "--subset must be at most the training examples"),
    ],
)
def test_bad_search_options_are_one_line_errors(argv, message, in_tmp, capsys):
    try:
        status = tune.cli([*BASE, *argv])
    except SystemExit as exit_info:
        status = exit_info.code
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("zoo run tune: error: ") and message in err[-1]


@pytest.mark.timeout(400)
def test_chief_and_two_workers_on_loopback_run_every_trial_once(in_tmp):
    """keras-tuner's chief/worker mode, launched by --workers: every trial completes,
    none is lost or run twice, and both workers ran trials."""
    metrics = tune.main([*BASE, "--max-trials", "4", "--workers", "2", "--no-export"])
    run = in_tmp / "run"
    rows = _leaderboard(run)
    assert sorted(row["trial"] for row in rows) == ["0", "1", "2", "3"]
    assert all(row["status"] == "COMPLETED" for row in rows)
    timings = [json.loads(p.read_text()) for p in (run / "search").glob("timings-tuner*.json")]
    assert len(timings) == 2 and all(timings)  # both workers ran trials
    ran = [trial for record in timings for trial in record]
    assert sorted(ran) == ["0", "1", "2", "3"]  # each trial by exactly one worker
    assert metrics["completed_trials"] == 4


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("family", "objective"),
    [
        ("autoencoder", "val_loss"),
        ("rbm", "val_reconstruction_error"),
        ("dbn", "val_accuracy"),
    ],
)
def test_every_family_is_searched_retrained_and_tested(family, objective, in_tmp):
    # --smoke: the recipe's own small run (test_recipes.py's smoke runs leave tune to these)
    argv = ["--family", family, "--max-trials", "1", "--epochs", "1", "--verbose", "0", "--smoke"]
    metrics = tune.main([*argv, "--output-dir", "run", "--no-export"])
    assert metrics["objective"] == objective and metrics["completed_trials"] == 1
    assert metrics[f"retrained_{objective}"] == pytest.approx(
        metrics[f"retrained_{objective}"]
    )  # finite (NaN != NaN)
    assert any(key.startswith("test_") for key in metrics)


class _Exiting:
    """A launched process, faked: it exits with `code` after `polls` polls."""

    def __init__(self, code, polls, pid):
        self.code, self.polls, self.pid, self.returncode = code, polls, pid, None

    def poll(self):
        self.polls -= 1
        if self.polls < 0:
            self.returncode = self.code
        return self.returncode

    def wait(self, timeout=None):
        return self.code


@pytest.mark.parametrize(("chief", "error"), [(0, None), (1, "the chief exited with status 1")])
def test_workers_may_exit_after_the_chief_that_a_failing_chief_stops(
    chief, error, in_tmp, monkeypatch
):
    """keras-tuner's chief ends (status 0) once every worker has been told the search is
    over; the workers may exit after it (seen under load, where the launcher took it for a
    failure). A chief that fails stops the search."""
    import types

    exits = iter([(chief, 0, 100), (0, 3, 101), (0, 4, 102)])  # the chief first
    monkeypatch.setattr(tune.subprocess, "Popen", lambda *a, **k: _Exiting(*next(exits)))
    monkeypatch.setattr(tune.time, "sleep", lambda seconds: None)
    stopped = []
    monkeypatch.setattr(tune.os, "killpg", lambda pid, signal: stopped.append(pid))
    options = types.SimpleNamespace(workers=2, worker_timeout_minutes=1)
    if error is None:
        assert tune.launch_workers(options, [], in_tmp / "run") is None
        assert stopped == []  # every process had exited
    else:
        with pytest.raises(RuntimeError, match=error):
            tune.launch_workers(options, [], in_tmp / "run")
        assert stopped == [101, 102]  # the workers still running are stopped


@pytest.mark.timeout(300)
def test_a_worker_that_dies_stops_the_search_loudly_and_leaves_no_process(in_tmp):
    """Here the processes fail at their start (--subset exceeds the data, which only the
    processes that search check; the chief checks it too, so either may die first): the
    launcher stops the search with an error instead of waiting for ever."""
    with pytest.raises(RuntimeError, match=r"(worker tuner0|the chief) exited with status 2"):
        tune.main([*BASE, "--max-trials", "2", "--workers", "1", "--subset", "100000"])
    logs = in_tmp / "run" / "workers"
    assert any(
        "--subset must be at most the training examples" in (logs / f"{name}.log").read_text()
        for name in ("tuner0", "chief")
    )
    assert _tune_processes_in(in_tmp) == []  # the chief was stopped, nothing left running


def _tune_processes_in(folder):
    """Processes started as a chief or worker (ZOO_TUNE_ROLE) whose working folder is
    `folder`: this test's children, not another test's."""
    import os
    import pathlib

    found = []
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            if (
                os.readlink(proc / "cwd") == str(folder)
                and b"ZOO_TUNE_ROLE=" in (proc / "environ").read_bytes()
            ):
                found.append(proc.name)
        except OSError:
            continue
    return found
