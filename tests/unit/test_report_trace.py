"""`--trace FILE`: Chrome trace-event JSON of the run."""

import json

from dagmake.events import FAILED, OK, Attempt, BuildSummary, RunFinished, RunStarted, TaskOutcome
from dagmake.report.trace import TraceReporter

T = 1_700_000_000.0


def finished_run():
    return BuildSummary(
        [
            TaskOutcome("a", OK, [Attempt(1, 0, T + 0.5, 1.0)], "a.log"),
            TaskOutcome("b", OK, [Attempt(1, 0, T + 0.5, 2.0)], "b.log"),
            TaskOutcome(
                "c", FAILED, [Attempt(1, 1, T + 2.5, 0.5), Attempt(2, 1, T + 3.5, 0.5)], "c.log"
            ),
        ],
        ["d"],
        [],
        [],
        4.0,
    )


def test_trace_has_a_complete_event_per_attempt_on_slot_threads(tmp_path):
    path = tmp_path / "trace.json"
    reporter = TraceReporter(str(path), upstream={"a": (), "b": (), "c": ("a", "b"), "d": ()})
    reporter.handle(RunStarted((), ("d",), 2, T))
    reporter.handle(RunFinished(finished_run()))
    assert reporter.written and reporter.error is None
    document = json.loads(path.read_text())
    assert document["displayTimeUnit"] == "ms"
    tasks = [e for e in document["traceEvents"] if e.get("cat") == "task"]
    assert [(e["name"], e["ts"], e["dur"], e["tid"]) for e in tasks] == [
        ("a", 500_000, 1_000_000, 1),
        ("b", 500_000, 2_000_000, 2),
        ("c (attempt 1)", 2_500_000, 500_000, 1),  # a's slot is free again
        ("c (attempt 2)", 3_500_000, 500_000, 1),
    ]
    assert [e["args"]["status"] for e in tasks] == ["ok", "ok", "failed", "failed"]
    assert [e["args"]["critical"] for e in tasks] == [False, True, True, True]
    for event in document["traceEvents"]:
        assert event["ph"] in ("X", "M")
        assert event["pid"] == 1
    threads = {
        e["tid"]: e["args"]["name"] for e in document["traceEvents"] if e["name"] == "thread_name"
    }
    assert threads == {0: "run", 1: "slot 1", 2: "slot 2"}
    (run,) = [e for e in document["traceEvents"] if e.get("cat") == "run"]
    assert (run["ts"], run["dur"], run["args"]["exit_code"]) == (0, 4_000_000, 1)
    assert run["args"]["critical_path"] == ["b", "c"]


def test_an_unwritable_path_is_reported_not_raised(tmp_path):
    reporter = TraceReporter(str(tmp_path / "missing" / "trace.json"))
    reporter.handle(RunStarted((), (), 1, T))
    reporter.handle(RunFinished(finished_run()))
    assert not reporter.written
    assert reporter.error.startswith("cannot write trace ")
    assert list(tmp_path.iterdir()) == []
