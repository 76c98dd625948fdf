"""`--trace FILE`: the run as Chrome trace-event JSON, for Perfetto or chrome://tracing."""

from __future__ import annotations

import json

from ..events import Reporter
from . import write_atomically
from .timeline import layout

_PID = 1


class TraceReporter(Reporter):
    """Writes path when the run finishes: one complete event per attempt, a thread per slot.

    Args:
        path: where to write the trace.
        upstream: task name -> its direct upstream names (Graph.upstream), to mark the
            critical path; optional.
        title: the process name shown by the viewer.
    """

    def __init__(self, path: str, *, upstream=None, title: str = "dagmake") -> None:
        self.path = path
        self.upstream = upstream
        self.title = title
        self.started: float | None = None
        self.up_to_date: tuple = ()
        self.what = "trace"
        self.error: str | None = None  # why the file could not be written
        self.written = False

    def on_RunStarted(self, event) -> None:
        self.started = event.started
        self.up_to_date = tuple(event.up_to_date)

    def on_RunFinished(self, event) -> None:
        timeline = layout(self.started or 0.0, event.summary, self.upstream, self.up_to_date)
        document = trace_document(timeline, event.summary, title=self.title)
        try:
            write_atomically(self.path, json.dumps(document, indent=None))
        except OSError as error:
            self.error = f"cannot write trace {self.path}: {error.strerror}"
            return
        self.written = True


def trace_document(timeline, summary, *, title: str = "dagmake") -> dict:
    """The trace-event JSON object: metadata, a span for the run, a span per attempt."""
    events: list[dict] = [
        {"name": "process_name", "ph": "M", "pid": _PID, "tid": 0, "args": {"name": title}},
        {"name": "thread_name", "ph": "M", "pid": _PID, "tid": 0, "args": {"name": "run"}},
        {"name": "thread_sort_index", "ph": "M", "pid": _PID, "tid": 0, "args": {"sort_index": 0}},
    ]
    for slot in range(timeline.slots):
        tid = slot + 1
        events.append(
            {
                "name": "thread_name",
                "ph": "M",
                "pid": _PID,
                "tid": tid,
                "args": {"name": f"slot {tid}"},
            }
        )
        events.append(
            {
                "name": "thread_sort_index",
                "ph": "M",
                "pid": _PID,
                "tid": tid,
                "args": {"sort_index": tid},
            }
        )
    events.append(
        {
            "name": "dagmake run",
            "cat": "run",
            "ph": "X",
            "ts": 0,
            "dur": _micros(timeline.seconds),
            "pid": _PID,
            "tid": 0,
            "args": {
                "exit_code": summary.exit_code,
                "ran": len(summary.ran),
                "failed": len(summary.failed),
                "up_to_date": len(summary.up_to_date) + len(summary.skipped),
                "critical_path": timeline.critical,
            },
        }
    )
    critical = set(timeline.critical)
    for bar in timeline.bars:
        name = bar.task if bar.attempts == 1 else f"{bar.task} (attempt {bar.attempt})"
        events.append(
            {
                "name": name,
                "cat": "task",
                "ph": "X",
                "ts": _micros(bar.start),
                "dur": _micros(bar.seconds),
                "pid": _PID,
                "tid": bar.slot + 1,
                "args": {
                    "task": bar.task,
                    "attempt": bar.attempt,
                    "status": bar.status,
                    "result": bar.detail,
                    "critical": bar.task in critical,
                },
            }
        )
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"started": timeline.started, "seconds": timeline.seconds},
    }


def _micros(seconds: float) -> float:
    return round(seconds * 1_000_000, 3)
