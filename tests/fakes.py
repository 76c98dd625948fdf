"""Test doubles for dagmake's I/O interfaces: a scripted runner that records what happened."""

from __future__ import annotations

import threading
import time

from dagmake.events import Attempt

# How long a gated attempt waits for its gate before giving up: a deadline, so a broken
# executor fails the test instead of hanging it.
GATE_DEADLINE = 5.0


class FakeRunner:
    """A Runner whose attempts end as scripted, per task, without starting processes.

    Args:
        script: task name -> outcomes of its attempts in order: an exit code (0 succeeds),
            "timeout", "interrupted", or an exception to raise (a runner bug). A task
            without a script, or past the end of its script, succeeds.
        gates: task name -> threading.Event; an attempt of that task waits for its event
            (up to GATE_DEADLINE) before it ends, so a test can hold a task "running";
            terminate_all() and kill_all() open every gate and the held attempts end
            interrupted.
        hold_until: every attempt waits until this many attempts run at once, or until
            `total` attempts have started (the tail of a run), or the deadline passes.
            This makes the executor's concurrency limit observable without sleeping.
        total: how many attempts the test expects in all (for hold_until).

    It records `events` ("start"/"end", name) in order, the `attempts` per task, and
    `max_running`, the most attempts observed running at once.
    """

    def __init__(
        self, script=None, *, gates=None, hold_until: int | None = None, total: int = 0
    ) -> None:
        self.script = {name: list(outcomes) for name, outcomes in (script or {}).items()}
        self.gates = gates or {}
        self.hold_until = hold_until
        self.total = total
        self.events: list[tuple[str, str]] = []
        self.attempts: dict[str, list[int]] = {}
        self.running: set[str] = set()
        self.max_running = 0
        self.terminated = False
        self.killed = False
        self._condition = threading.Condition()

    def run(self, task, number: int, log_path: str, *, on_line=None) -> Attempt:
        """End one attempt of task as its script says; write a line to log_path."""
        with self._condition:
            self.events.append(("start", task.name))
            self.attempts.setdefault(task.name, []).append(number)
            self.running.add(task.name)
            self.max_running = max(self.max_running, len(self.running))
            self._condition.notify_all()
            outcomes = self.script.get(task.name, [])
            outcome = outcomes.pop(0) if outcomes else 0
            if self.hold_until is not None:
                self._condition.wait_for(
                    lambda: (
                        len(self.running) >= self.hold_until or len(self.started()) >= self.total
                    ),
                    timeout=GATE_DEADLINE,
                )
        gate = self.gates.get(task.name)
        if gate is not None:
            if not gate.wait(GATE_DEADLINE):
                outcome = "gate-deadline"
            elif self.terminated:
                outcome = "interrupted"  # held until terminate_all(): like a child killed by TERM
        with open(log_path, "w" if number == 1 else "a") as log:
            log.write(f"{task.name} attempt {number}: {outcome}\n")
        if on_line is not None:
            on_line(task.name, f"{task.name} attempt {number}: {outcome}")
        with self._condition:
            self.running.discard(task.name)
            self.events.append(("end", task.name))
            self._condition.notify_all()
        started = time.time()
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "timeout":
            return Attempt(number, -9, started, 0.0, timed_out=True)
        if outcome == "interrupted":
            return Attempt(number, -15, started, 0.0, interrupted=True)
        if outcome == "gate-deadline":
            return Attempt(number, 1, started, 0.0, error="fake runner: gate never opened")
        return Attempt(number, outcome, started, 0.0)

    def terminate_all(self) -> None:
        self.terminated = True
        for gate in self.gates.values():
            gate.set()

    def kill_all(self) -> None:
        self.killed = True
        for gate in self.gates.values():
            gate.set()

    # --- what the tests read ------------------------------------------------------------

    def started(self) -> list[str]:
        """Task names in the order their attempts started (a retried task appears again)."""
        return [name for kind, name in self.events if kind == "start"]

    def ended(self) -> list[str]:
        return [name for kind, name in self.events if kind == "end"]

    def position(self, kind: str, name: str) -> int:
        """Index in `events` of the first (kind, name)."""
        return self.events.index((kind, name))


def full_disk(monkeypatch) -> None:
    """Make every file opened for writing fail its writes as a full disk does: the file
    is created, then nothing can be written to it."""
    import builtins
    import errno
    import os

    real_open = builtins.open

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def open_then_full(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        if "w" in mode:
            f.write = full
        return f

    monkeypatch.setattr(builtins, "open", open_then_full)
