"""What happens during a build, as events: the one stream every reporter consumes."""

from __future__ import annotations

from .errors import printable

OK = "ok"
FAILED = "failed"
INTERRUPTED = "interrupted"


class _Event:
    __slots__ = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Attempt(_Event):
    """One try at running a task's action."""

    __slots__ = (
        "number",
        "exit_code",
        "started",
        "seconds",
        "timed_out",
        "interrupted",
        "error",
        "silent",
    )

    def __init__(
        self,
        number,
        exit_code,
        started,
        seconds,
        *,
        timed_out=False,
        interrupted=False,
        error=None,
        silent=False,
    ):
        self.number = number
        self.exit_code = exit_code
        self.started = started  # wall-clock seconds since the epoch
        self.seconds = seconds
        self.timed_out = timed_out
        self.interrupted = interrupted
        self.error = error  # a dagmake-side failure, e.g. "did not create output x"
        # True when the runner saw the attempt print nothing; False when it did, or cannot tell
        self.silent = silent

    @property
    def ok(self) -> bool:
        return (
            self.exit_code == 0 and not self.timed_out and not self.interrupted and not self.error
        )

    def describe(self, timeout: float | None = None) -> str:
        """Why the attempt failed, in a few words."""
        if self.interrupted:
            return "interrupted"
        if self.timed_out:
            return f"timed out after {_seconds(timeout)} s" if timeout else "timed out"
        if self.error:  # may name a path: shown as a terminal can show it
            return printable(self.error)
        if self.exit_code < 0:
            return f"killed by signal {-self.exit_code}"
        return f"exit {self.exit_code}"


def _seconds(value: float) -> str:
    return f"{value:g}"


class TaskOutcome(_Event):
    """How a task ended: status, every attempt, and where its log is."""

    __slots__ = ("name", "status", "attempts", "log_path", "reason", "timeout")

    def __init__(self, name, status, attempts, log_path, reason=None, timeout=None):
        self.name = name
        self.status = status
        self.attempts = tuple(attempts)
        self.log_path = log_path
        self.reason = reason
        self.timeout = timeout

    @property
    def seconds(self) -> float:
        return sum(a.seconds for a in self.attempts)

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def describe(self) -> str:
        last = self.last
        return last.describe(self.timeout) if last else self.status


class RunStarted(_Event):
    __slots__ = ("steps", "up_to_date", "jobs", "started")

    def __init__(self, steps, up_to_date, jobs, started):
        self.steps = steps  # the Steps that have work to do
        self.up_to_date = up_to_date
        self.jobs = jobs
        self.started = started


class TaskStarted(_Event):
    __slots__ = ("step", "attempt")

    def __init__(self, step, attempt=1):
        self.step = step
        self.attempt = attempt


class TaskOutput(_Event):
    """A line of a task's output, when output is streamed (-v)."""

    __slots__ = ("name", "line")

    def __init__(self, name, line):
        self.name = name
        self.line = line


class AttemptFailed(_Event):
    __slots__ = ("step", "attempt", "total", "retry_in")

    def __init__(self, step, attempt, total, retry_in):
        self.step = step
        self.attempt = attempt
        self.total = total
        self.retry_in = retry_in


class TaskSkipped(_Event):
    """A step found up to date when it became ready (its upstream left its inputs as they were)."""

    __slots__ = ("step",)

    def __init__(self, step):
        self.step = step


class TaskFinished(_Event):
    __slots__ = ("step", "outcome")

    def __init__(self, step, outcome):
        self.step = step
        self.outcome = outcome


class RunFinished(_Event):
    __slots__ = ("summary",)

    def __init__(self, summary):
        self.summary = summary


class BuildSummary(_Event):
    """The result of a build; owns the exit code."""

    __slots__ = ("outcomes", "up_to_date", "skipped", "not_run", "seconds", "interrupted")

    def __init__(self, outcomes, up_to_date, skipped, not_run, seconds, interrupted=False):
        self.outcomes = tuple(outcomes)  # TaskOutcome per task that ran, in finishing order
        self.up_to_date = tuple(up_to_date)
        self.skipped = tuple(skipped)
        self.not_run = tuple(not_run)  # names of steps never started after a failure
        self.seconds = seconds
        self.interrupted = interrupted

    @property
    def ran(self) -> tuple[TaskOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == OK)

    @property
    def failed(self) -> tuple[TaskOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == FAILED)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0


class Reporter:
    """Receives every event; subclasses override the ones they care about."""

    def handle(self, event) -> None:
        method = getattr(self, "on_" + type(event).__name__, None)
        if method is not None:
            method(event)

    def flush(self) -> None:
        """Show what the events so far produced; called before the build waits."""

    def close(self) -> None:
        pass


class Fanout(Reporter):
    """Passes each event to several reporters, in order."""

    def __init__(self, *reporters) -> None:
        self.reporters = [r for r in reporters if r is not None]

    def handle(self, event) -> None:
        for reporter in self.reporters:
            reporter.handle(event)

    def flush(self) -> None:
        for reporter in self.reporters:
            reporter.flush()

    def close(self) -> None:
        for reporter in self.reporters:
            reporter.close()
