"""`--json`: one JSON object per event, with stable field names."""

import io
import json
import textwrap

from dagmake.build import build
from dagmake.events import (
    FAILED,
    OK,
    Attempt,
    AttemptFailed,
    BuildSummary,
    RunFinished,
    RunStarted,
    TaskFinished,
    TaskOutcome,
    TaskOutput,
    TaskSkipped,
    TaskStarted,
)
from dagmake.plan import Reason, Step
from dagmake.project import load
from dagmake.report.jsonl import JsonReporter, error_line
from dagmake.task import ShellAction, Task
from fakes import FakeRunner

T = 1_700_000_000.0


def lines(stream: io.StringIO) -> list[dict]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def step(name, kind="output-missing", text="output x is missing", **task_fields):
    return Step(Task(name, ShellAction(("true",)), **task_fields), Reason(kind, text))


def test_every_event_becomes_one_line_with_its_fields():
    stream = io.StringIO()
    reporter = JsonReporter(stream)
    a, b = step("a"), step("b", timeout=5.0)
    failed_once = Attempt(1, -9, T + 1, 5.0, timed_out=True)
    b_outcome = TaskOutcome(
        "b",
        FAILED,
        [failed_once, Attempt(2, 3, T + 7, 1.0)],
        "/p/.dagmake/logs/b.log",
        b.reason,
        5.0,
    )
    a_outcome = TaskOutcome(
        "a", OK, [Attempt(1, 0, T + 1, 0.25)], "/p/.dagmake/logs/a.log", a.reason
    )
    summary = BuildSummary([a_outcome, b_outcome], ["c"], ["d"], ["e"], 8.5)
    for event in [
        RunStarted((a, b), ("c",), 4, T),
        TaskStarted(a),
        TaskOutput("a", "hello"),
        TaskFinished(a, a_outcome),
        TaskStarted(b),
        AttemptFailed(b, failed_once, 2, 1.0),
        TaskSkipped(step("d")),
        TaskFinished(b, b_outcome),
        RunFinished(summary),
    ]:
        reporter.handle(event)
    got = lines(stream)
    for line in got:
        assert isinstance(line.pop("time"), float)
    assert got == [
        {
            "event": "run_started",
            "schema": 1,
            "started": T,
            "jobs": 4,
            "tasks": ["a", "b"],
            "up_to_date": ["c"],
        },
        {
            "event": "task_started",
            "task": "a",
            "attempt": 1,
            "reason": "output x is missing",
            "reason_kind": "output-missing",
        },
        {"event": "task_output", "task": "a", "line": "hello"},
        {
            "event": "task_finished",
            "task": "a",
            "status": "ok",
            "seconds": 0.25,
            "started": T + 1,
            "attempts": 1,
            "exit_code": 0,
            "error": None,
            "reason": "output x is missing",
            "reason_kind": "output-missing",
            "log": "/p/.dagmake/logs/a.log",
        },
        {
            "event": "task_started",
            "task": "b",
            "attempt": 1,
            "reason": "output x is missing",
            "reason_kind": "output-missing",
        },
        {
            "event": "attempt_failed",
            "task": "b",
            "attempt": 1,
            "attempts": 2,
            "exit_code": -9,
            "timed_out": True,
            "error": "timed out after 5 s",
            "seconds": 5.0,
            "retry_in": 1.0,
        },
        {"event": "task_skipped", "task": "d", "reason": "its inputs did not change after all"},
        {
            "event": "task_finished",
            "task": "b",
            "status": "failed",
            "seconds": 6.0,
            "started": T + 1,
            "attempts": 2,
            "exit_code": 3,
            "error": "exit 3",
            "reason": "output x is missing",
            "reason_kind": "output-missing",
            "log": "/p/.dagmake/logs/b.log",
        },
        {
            "event": "run_finished",
            "status": "failed",
            "exit_code": 1,
            "seconds": 8.5,
            "ran": ["a"],
            "failed": ["b"],
            "interrupted": [],
            "skipped": ["d"],
            "up_to_date": ["c"],
            "not_run": ["e"],
            "totals": {
                "ran": 1,
                "failed": 1,
                "interrupted": 0,
                "skipped": 1,
                "up_to_date": 1,
                "not_run": 1,
            },
        },
    ]


def test_an_interrupted_run_says_so():
    stream = io.StringIO()
    summary = BuildSummary([], [], [], ["a"], 1.0, interrupted=True)
    JsonReporter(stream).handle(RunFinished(summary))
    (line,) = lines(stream)
    assert (line["status"], line["exit_code"], line["not_run"]) == ("interrupted", 130, ["a"])


def test_error_line():
    stream = io.StringIO()
    error_line("Pipefile.toml:3: unknown key 'x'", 2, stream)
    (line,) = lines(stream)
    assert line["event"] == "error"
    assert (line["message"], line["exit_code"]) == ("Pipefile.toml:3: unknown key 'x'", 2)


def test_a_real_build_streams_events_in_order(tmp_path):
    (tmp_path / "Pipefile.toml").write_text(
        textwrap.dedent(
            """
            [tasks.first]
            cmd = "true"
            [tasks.second]
            cmd = "true"
            after = ["first"]
            retries = 1
            retry_delay = 0
            """
        )
    )
    project = load(str(tmp_path / "Pipefile.toml"))
    stream = io.StringIO()
    runner = FakeRunner({"second": [2, 0]})
    summary = build(project, reporter=JsonReporter(stream), runner=runner, jobs=2)
    assert summary.exit_code == 0
    got = [(line["event"], line.get("task")) for line in lines(stream)]
    assert got == [
        ("run_started", None),
        ("task_started", "first"),
        ("task_finished", "first"),
        ("task_started", "second"),
        ("attempt_failed", "second"),
        ("task_finished", "second"),
        ("run_finished", None),
    ]
    finished = lines(stream)[-2]
    assert (finished["status"], finished["attempts"], finished["exit_code"]) == ("ok", 2, 0)
    assert finished["reason_kind"] == "always"
