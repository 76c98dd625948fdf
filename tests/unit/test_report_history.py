"""`--history`: recent runs and one task's attempts, from what the state records."""

import json
import time

import pytest

from dagmake.errors import TargetError
from dagmake.report.history import render_runs, render_task, runs, show
from dagmake.state import History

T = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def attempt(run, task, number, started, seconds, exit_code=0, status="ok", **kw):
    return (
        "attempt",
        run,
        task,
        number,
        started,
        seconds,
        exit_code,
        kw.get("timed_out", False),
        kw.get("interrupted", False),
        kw.get("error"),
        status,
    )


def run_entry(run, started, seconds, ran, up_to_date, failed, exit_code):
    return ("run", run, started, seconds, ran, up_to_date, failed, exit_code)


def three_runs():
    r1, r2, r3 = f"{T:.6f}", f"{T + 3600:.6f}", f"{T + 7200:.6f}"
    return [
        attempt(r1, "extract", 1, T + 1, 2.0),
        attempt(r1, "load", 1, T + 3, 0.5, exit_code=1, status="failed"),
        run_entry(r1, T, 3.6, 1, 0, 1, 1),
        attempt(r2, "load", 1, T + 3601, 0.25, exit_code=1),
        attempt(r2, "load", 2, T + 3602, 0.75),
        run_entry(r2, T + 3600, 2.1, 1, 1, 0, 0),
        # the third run was killed: its attempts are there, its run entry is not
        attempt(r3, "load", 1, T + 7201, 30.0, timed_out=True, exit_code=-9, status="failed"),
    ]


def test_runs_oldest_first_with_notes_on_failures_and_retries():
    assert render_runs(runs(three_runs()), 10) == (
        "started               wall  ran  up to date  failed  exit\n"
        "2023-11-14 22:13:20  3.60s    1           0       1     1  failed: load (exit 1)\n"
        "2023-11-14 23:13:20  2.10s    1           1       0     0  retried: load\n"
        "2023-11-15 00:13:20      ?    0           ?       ?     ?  failed: load (timed out); "
        "did not finish (dagmake was killed?)\n"
    )


def test_limit_keeps_the_newest_runs():
    text = render_runs(runs(three_runs()), 1)
    assert text.count("\n") == 2
    assert "2023-11-15 00:13:20" in text


def test_task_attempts_with_their_results():
    assert render_task(runs(three_runs()), "load", 10) == (
        "load: 3 runs in the history, 1 ok, 2 failed; median 1.00s when ok\n"
        "started              attempt  seconds  result\n"
        "2023-11-14 22:13:23  1/1        0.50s  exit 1\n"
        "2023-11-14 23:13:21  1/2        0.25s  exit 1\n"
        "2023-11-14 23:13:22  2/2        0.75s  ok\n"
        "2023-11-15 00:13:21  1/1       30.00s  timed out\n"
    )


def test_task_limit_counts_runs_not_attempts():
    text = render_task(runs(three_runs()), "load", 2)
    assert "22:13:23" not in text
    assert text.count("\n") == 5  # summary, header, 2 attempts of run 2, 1 of run 3


def test_show_reads_the_history_file(tmp_path):
    history = History(str(tmp_path))
    history.open()
    for entry in three_runs():
        history.append(entry)
    history.close()
    assert show(str(tmp_path)) == render_runs(runs(three_runs()), 10)
    records = [json.loads(line) for line in show(str(tmp_path), as_json=True).splitlines()]
    assert [r["exit_code"] for r in records] == [1, 0, None]
    assert [r["ran"] for r in records] == [1, 1, 0]  # the killed run: counted, as the table does
    assert records[0] == {
        "run": f"{T:.6f}",
        "started": T,
        "seconds": 3.6,
        "ran": 1,
        "up_to_date": 0,
        "failed": 1,
        "exit_code": 1,
        "finished": True,
        "failed_tasks": ["load"],
    }
    attempts = [json.loads(line) for line in show(str(tmp_path), "load", as_json=True).splitlines()]
    assert [(a["attempt"], a["result"], a["status"], a["task_status"]) for a in attempts] == [
        (1, "exit 1", "failed", "failed"),
        (1, "exit 1", "failed", "ok"),  # retried: the attempt failed, the task did not
        (2, "ok", "ok", "ok"),
        (1, "timed out", "failed", "failed"),
    ]


def test_unknown_task_suggests_a_recorded_one(tmp_path):
    history = History(str(tmp_path))
    history.open()
    for entry in three_runs():
        history.append(entry)
    history.close()
    with pytest.raises(TargetError, match="unknown task 'lod', did you mean 'load'"):
        show(str(tmp_path), "lod")


def test_a_defined_task_that_never_ran_is_no_error(tmp_path):
    defined = lambda: {"load": False, "later": False, "everything": True}  # noqa: E731
    assert show(str(tmp_path), "later", defined=defined) == (
        "dagmake: no recorded attempts of task 'later' yet\n"
    )
    assert show(str(tmp_path), "later", defined=defined, as_json=True) == ""
    with pytest.raises(TargetError, match="unknown task 'latter', did you mean 'later'"):
        show(str(tmp_path), "latter", defined=defined)
    # a group never runs a command: "yet" would promise attempts that never come
    assert show(str(tmp_path), "everything", defined=defined).startswith(
        "dagmake: 'everything' is a group: it runs no command itself, so it has no attempts"
    )


def test_no_history_yet(tmp_path):
    assert show(str(tmp_path)) == "dagmake: no runs recorded yet\n"


def test_entries_of_another_shape_are_ignored():
    entries = [("run", "x"), ("attempt",), ("something", "else", 1), *three_runs()]
    assert len(runs(entries)) == 3


def test_history_is_pruned_to_the_newest_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(History, "MAX_BYTES", 2000)
    monkeypatch.setattr(History, "KEEP_RUNS", 5)
    for number in range(40):
        history = History(str(tmp_path))
        history.open()
        run = f"{T + number:.6f}"
        history.append(attempt(run, "t", 1, T + number, 0.1))
        history.append(run_entry(run, T + number, 0.1, 1, 0, 0, 0))
        history.close()
    kept = runs(History(str(tmp_path)).read())
    assert 5 <= len(kept) < 40
    assert kept[-1].started == T + 39
    assert (tmp_path / "history").stat().st_size < 2000 + 200
