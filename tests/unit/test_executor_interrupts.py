"""Stopping a build from wherever it is: a Ctrl-C between two steps of bookkeeping, or an error
while recording, still stops every task and never waits for what cannot come."""

import threading
import time

import pytest

from dagmake.events import INTERRUPTED, TaskFinished, TaskStarted
from dagmake.executor import Executor, _Attempts
from dagmake.plan import Plan, Reason, Step
from dagmake.task import ShellAction, Task
from fakes import FakeRunner


def plan_of(*names: str) -> Plan:
    steps = [Step(Task(name, ShellAction(("true",))), Reason("always", "test")) for name in names]
    return Plan(steps, (), {name: () for name in names})


def executor(runner, emit=lambda event: None, **options) -> Executor:
    return Executor(runner, emit=emit, log_path=lambda name: "/dev/null", **options)


def test_an_interrupt_does_not_wait_for_a_result_the_run_loop_already_took():
    # Ctrl-C landed after the runner handed over a task's result and before the run loop
    # counted it: the loop thinks one task runs, but nothing does, and nothing will report.
    runner = FakeRunner()
    stopping = executor(runner, jobs=1, grace=30.0)
    [step] = plan_of("a").steps
    stopping._running = {object(): _Attempts(step, 1, 1)}
    stopping._retrying = []
    outcomes = []
    thread = threading.Thread(target=stopping._interrupt, args=(outcomes,), daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), "the interrupt waits forever"
    assert time.monotonic() - started < 2, "the interrupt waited out the grace period"
    assert runner.terminated
    assert [(o.name, o.status) for o in outcomes] == [("a", INTERRUPTED)]


def test_an_error_while_recording_stops_the_running_tasks_first():
    # e.g. the state file cannot be written (disk full) when the second task starts
    gate = threading.Event()
    runner = FakeRunner(gates={"a": gate})
    seen = []

    class DiskFull(Exception):
        pass

    def emit(event):
        seen.append(event)
        if isinstance(event, TaskStarted) and event.step.name == "b":
            raise DiskFull

    stopping = executor(runner, emit, jobs=2, grace=5.0)
    with pytest.raises(DiskFull):
        stopping.run(plan_of("a", "b"))
    assert runner.terminated, "a was left running"
    finished = {e.outcome.name: e.outcome.status for e in seen if isinstance(e, TaskFinished)}
    assert finished.get("a") == INTERRUPTED, finished
    assert not stopping.runner.busy(), "a task still runs"


def test_when_no_outcome_can_be_recorded_every_task_is_still_stopped():
    # the disk stays full: recording q fails, and so does recording a once it is stopped
    gate = threading.Event()
    runner = FakeRunner(gates={"a": gate})

    class DiskFull(Exception):
        pass

    def emit(event):
        if isinstance(event, TaskFinished):
            raise DiskFull

    stopping = executor(runner, emit, jobs=2, grace=5.0)
    with pytest.raises(DiskFull):
        stopping.run(plan_of("a", "q"))
    assert runner.terminated, "a was left running"
    assert not stopping.runner.busy(), "a task still runs"


def test_a_runner_that_fails_while_stopping_does_not_hang_the_build():
    # the runner's wait() raises on every call: the build must still end, with the error
    class Broken(Exception):
        pass

    class BrokenRunner:
        killed = False

        def start(self, task, number, log_path, *, on_line=None):
            return object()

        def wait(self, timeout=None):
            raise Broken

        def busy(self):
            return True

        def terminate_all(self):
            pass

        def kill_all(self):
            self.killed = True

    runner = BrokenRunner()
    seen = []
    stopping = executor(runner, seen.append, jobs=2, grace=30.0)
    errors = []

    def run():
        try:
            stopping.run(plan_of("a", "b"))
        except Broken as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), "the build hangs"
    assert errors, "the runner's error was swallowed"
    assert runner.killed
    finished = {e.outcome.name: e.outcome.status for e in seen if isinstance(e, TaskFinished)}
    assert finished == {"a": INTERRUPTED, "b": INTERRUPTED}


def test_after_an_abort_retries_waiting_for_a_slot_or_their_delay_end_unstarted():
    runner = FakeRunner()
    stopped = executor(runner, jobs=1)
    due, later = (_Attempts(step, 1, 2) for step in plan_of("due", "later").steps)
    stopped._due = [due]
    stopped._retrying = [(time.monotonic() + 3600, id(later), later)]
    stopped._stopped = True  # what an abort (a lost engine) sets
    ended = stopped._wait(0)
    assert sorted(attempts.step.name for attempts, result in ended) == ["due", "later"]
    assert all(result is None for _, result in ended)
    assert not stopped._due and not stopped._retrying
    assert runner.attempts == {}  # neither was started
