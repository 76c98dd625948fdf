"""`--json`: every event as one JSON object per line, for CI systems and scripts.

The field names are a stable interface (documented in the README); add fields, never rename.
"""

from __future__ import annotations

import json
import sys
import time

from ..events import FAILED, INTERRUPTED, OK, Reporter

SCHEMA = 1


class JsonReporter(Reporter):
    """Writes one line per event to stream (default stdout), flushed at once."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout

    def emit(self, event: str, **fields) -> None:
        line = json.dumps({"event": event, "time": round(time.time(), 6), **fields})
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except OSError as error:  # the reader went away, a full disk: the build goes on
            from ..console import output_lost

            self.stream = output_lost(self.stream, error)

    def on_RunStarted(self, event) -> None:
        self.emit(
            "run_started",
            schema=SCHEMA,
            started=event.started,
            jobs=event.jobs,
            tasks=[step.name for step in event.steps],
            up_to_date=list(event.up_to_date),
        )

    def on_TaskStarted(self, event) -> None:
        step = event.step
        self.emit(
            "task_started",
            task=step.name,
            attempt=event.attempt,
            reason=step.reason.text,
            reason_kind=step.reason.kind,
        )

    def on_TaskOutput(self, event) -> None:
        self.emit("task_output", task=event.name, line=event.line)

    def on_AttemptFailed(self, event) -> None:
        attempt = event.attempt
        self.emit(
            "attempt_failed",
            task=event.step.name,
            attempt=attempt.number,
            attempts=event.total,
            exit_code=attempt.exit_code,
            timed_out=attempt.timed_out,
            error=attempt.describe(event.step.task.timeout),
            seconds=round(attempt.seconds, 6),
            retry_in=event.retry_in,
        )

    def on_TaskSkipped(self, event) -> None:
        self.emit(
            "task_skipped", task=event.step.name, reason="its inputs did not change after all"
        )

    def on_TaskFinished(self, event) -> None:
        outcome = event.outcome
        last = outcome.last
        reason = outcome.reason
        self.emit(
            "task_finished",
            task=outcome.name,
            status=outcome.status,
            seconds=round(outcome.seconds, 6),
            started=outcome.attempts[0].started if outcome.attempts else None,
            attempts=len(outcome.attempts),
            exit_code=last.exit_code if last else None,
            error=None if outcome.status == OK else outcome.describe(),
            reason=reason.text if reason else None,
            reason_kind=reason.kind if reason else None,
            log=outcome.log_path,
        )

    def on_RunFinished(self, event) -> None:
        summary = event.summary
        names = {
            "ran": [o.name for o in summary.ran],
            "failed": [o.name for o in summary.failed],
            "interrupted": [o.name for o in summary.outcomes if o.status == INTERRUPTED],
            "skipped": list(summary.skipped),
            "up_to_date": list(summary.up_to_date),
            "not_run": list(summary.not_run),
        }
        if summary.interrupted:
            status = INTERRUPTED
        elif summary.failed:
            status = FAILED
        else:
            status = OK
        self.emit(
            "run_finished",
            status=status,
            exit_code=summary.exit_code,
            seconds=round(summary.seconds, 6),
            **names,
            totals={key: len(value) for key, value in names.items()},
        )


def error_line(message: str, exit_code: int, stream=None) -> None:
    """The last line of a --json run that ended in an error instead of a run_finished."""
    JsonReporter(stream).emit("error", message=message, exit_code=exit_code)
