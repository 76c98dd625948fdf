"""Run a Plan: each step as soon as its upstream is done, at most `jobs` at once, with retries."""

from __future__ import annotations

import heapq
import queue
import threading
import time
from graphlib import TopologicalSorter

from .errors import ExecutorError
from .events import (
    FAILED,
    INTERRUPTED,
    OK,
    Attempt,
    AttemptFailed,
    TaskFinished,
    TaskOutcome,
    TaskOutput,
    TaskSkipped,
    TaskStarted,
)
from .plan import Step


class StepRefused(Exception):
    """Raised by `prepare`: the step fails without running, for the reason in the message."""


class Executor:
    """Schedules steps over a Runner; knows nothing of TOML, files or state.

    Args:
        runner: runs one attempt: run(task, number, log_path, on_line=) -> Attempt.
        jobs: most steps running at once.
        keep_going: after a failure, still run everything not downstream of it.
        prepare: called as a step becomes ready; returns its Reason to run, or None to skip it,
            or raises StepRefused to fail it without running it.
        check: called after a successful attempt; returns an error ("did not create
            output x") that turns it into a failure, or None.
        emit: receives every event, always on the calling thread.
        log_path: task name -> path of its log file.
        priority: task name -> number; among ready steps the highest starts first.
        retries: overrides every task's `retries` when not None.
        stream: send each output line as a TaskOutput event as it is written.
        cost: task -> how many of the `jobs` slots it takes (default 1; at most `jobs`).

    A runner that raises ExecutorError (its engine is gone) aborts the build: nothing new
    starts, running steps end as interrupted, and `aborted` holds the error afterwards.
    """

    def __init__(
        self,
        runner,
        *,
        jobs: int,
        keep_going: bool = False,
        prepare=None,
        check=None,
        emit,
        log_path,
        priority=None,
        retries: int | None = None,
        stream: bool = False,
        grace: float = 2.0,
        cost=None,
    ) -> None:
        self.runner = runner
        self.jobs = max(1, jobs)
        self.keep_going = keep_going
        self.prepare = prepare or (lambda step: step.reason)
        self.check = check or (lambda task: None)
        self.emit = emit
        self.log_path = log_path
        self.priority = priority or {}
        self.retries = retries
        self.stream = stream
        self.grace = grace
        self.cost = cost or (lambda task: 1)
        self.aborted: ExecutorError | None = None
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        # Steps a worker holds (taken, result not yet queued); kept by the workers themselves,
        # so a Ctrl-C between taking a result and counting it cannot skew it.
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()

    def run(self, plan) -> tuple[list[TaskOutcome], list[str], list[str], bool]:
        """Execute plan; return (outcomes in finishing order, skipped, not started, interrupted)."""
        steps = {step.name: step for step in plan.steps}
        sorter = TopologicalSorter()
        for step in plan.steps:
            sorter.add(step.name, *plan.upstream.get(step.name, ()))
        sorter.prepare()
        ready: list = []
        order = {step.name: index for index, step in enumerate(plan.steps)}
        outcomes: list[TaskOutcome] = []
        skipped: list[str] = []
        started: set[str] = set()
        running = 0
        used = 0  # slots taken by running steps
        slots: dict[str, int] = {}
        stopping = False
        interrupted = False
        # TaskStarted and TaskSkipped events wait here until the ready steps have started,
        # so printing them overlaps the new processes instead of delaying their start.
        deferred: list = []
        try:
            while True:
                for name in sorter.get_ready():
                    heapq.heappush(ready, (-self.priority.get(name, 0.0), order[name], name))
                while ready and not stopping:
                    name = ready[0][2]
                    step = steps[name]
                    need = 0 if step.task.is_group else min(self.jobs, max(1, self.cost(step.task)))
                    if used + need > self.jobs:
                        break  # the first in line waits for room; nothing overtakes it
                    heapq.heappop(ready)
                    if step.task.is_group:
                        sorter.done(name)
                        started.add(name)
                        for later in sorter.get_ready():
                            heapq.heappush(
                                ready, (-self.priority.get(later, 0.0), order[later], later)
                            )
                        continue
                    # `started` is added to only once a step has an outcome, is skipped or runs:
                    # Ctrl-C during prepare() or the TaskStarted output leaves it "not run".
                    try:
                        reason = self.prepare(step)
                    except StepRefused as refusal:
                        started.add(name)
                        outcome = TaskOutcome(
                            name,
                            FAILED,
                            [Attempt(1, 1, time.time(), 0.0, error=str(refusal))],
                            self.log_path(name),
                            step.reason,
                        )
                        outcomes.append(outcome)
                        deferred += (TaskStarted(step), TaskFinished(step, outcome))
                        stopping = stopping or not self.keep_going
                        continue
                    if reason is None:
                        started.add(name)
                        skipped.append(name)
                        deferred.append(TaskSkipped(step))
                        sorter.done(name)
                        for later in sorter.get_ready():
                            heapq.heappush(
                                ready, (-self.priority.get(later, 0.0), order[later], later)
                            )
                        continue
                    step = Step(step.task, reason)
                    self._start(step)
                    deferred.append(TaskStarted(step))
                    running += 1
                    started.add(name)
                    used += need
                    slots[name] = need
                self._flush(deferred)
                if running == 0:
                    break
                kind, step, *rest = self._results.get()
                if kind == "line":
                    self.emit(TaskOutput(step.name, rest[0]))
                elif kind == "retry":
                    self.emit(AttemptFailed(step, *rest))
                else:
                    outcome = rest[0]
                    running -= 1
                    used -= slots.pop(step.name)
                    outcomes.append(outcome)
                    # Recorded at once, before more steps start: a kill -9 must find at most
                    # the running steps unrecorded (only TaskStarted events are held back).
                    self.emit(TaskFinished(step, outcome))
                    if outcome.status == OK:
                        sorter.done(step.name)
                    elif not self.keep_going or outcome.status == INTERRUPTED:
                        stopping = True
                    if kind == "abort" and self.aborted is None:
                        self.aborted = rest[1]
                        self._stop.set()
                        try:
                            self.runner.terminate_all()
                        except Exception:  # the engine is already gone
                            pass
        except KeyboardInterrupt:
            interrupted = True
            self._interrupt(outcomes, running, deferred)
        except Exception:
            # The build cannot go on (its state cannot be written, say): stop every task first.
            self._interrupt(outcomes, running, deferred)
            raise
        finally:
            for _ in self._workers:
                self._work.put(None)
        not_run = [s.name for s in plan.steps if s.name not in started and not s.task.is_group]
        return outcomes, skipped, not_run, interrupted or self.aborted is not None

    def _flush(self, deferred: list) -> None:
        while deferred:
            self.emit(deferred.pop(0))

    def _interrupt(self, outcomes: list[TaskOutcome], running: int, deferred=()) -> None:
        """Stop every running task: SIGTERM, SIGKILL after the grace period or a second Ctrl-C."""
        self._stop.set()
        self.runner.terminate_all()
        # what finished before the interrupt is still recorded and shown
        deferred = [e for e in deferred if isinstance(e, (TaskFinished, TaskSkipped))]
        failure = None
        try:
            self._flush(deferred)
        except KeyboardInterrupt:
            pass
        except Exception as error:  # recording failed (disk full?): stop the tasks, then say so
            failure = error
        deadline = time.monotonic() + self.grace
        killed = False
        # `running` can be off by one: the Ctrl-C may have landed between the run loop taking
        # a result and counting it. The workers' own count decides when nothing is left.
        while running > 0 or not self._idle():
            # A second Ctrl-C may land anywhere in here, even while an outcome is recorded:
            # it must always reach kill_all(), never escape and leave a task running.
            try:
                kind, step, *rest = self._results.get(timeout=0.1)
                if kind in ("done", "abort"):
                    running -= 1
                    outcomes.append(rest[0])
                    self.emit(TaskFinished(step, rest[0]))
            except queue.Empty:
                if self._idle():
                    break
                if killed or time.monotonic() >= deadline:
                    self.runner.kill_all()
                    killed = True
            except KeyboardInterrupt:
                self.runner.kill_all()
                killed = True
            except Exception as error:  # recording an outcome failed: stop the rest anyway
                failure = failure or error
        if failure is not None:
            raise failure

    def _idle(self) -> bool:
        """No step waits for a worker or is held by one, and every result has been taken."""
        with self._in_flight_lock:
            return self._in_flight == 0 and self._work.empty() and self._results.empty()

    def _start(self, step: Step) -> None:
        if len(self._workers) < self.jobs:
            worker = threading.Thread(target=self._worker, name="dagmake-worker", daemon=True)
            self._workers.append(worker)
            worker.start()
        self._work.put(step)

    def _worker(self) -> None:
        while True:
            step = self._work.get()
            if step is None:
                return
            with self._in_flight_lock:
                self._in_flight += 1
            try:
                self._results.put(self._result(step))
            finally:
                with self._in_flight_lock:  # after the put: a result is queued or still held
                    self._in_flight -= 1

    def _result(self, step: Step) -> tuple:
        try:
            return ("done", step, self._attempts(step))
        except ExecutorError as error:
            attempt = Attempt(1, 1, time.time(), 0.0, error=str(error).split("\n")[0])
            outcome = TaskOutcome(step.name, INTERRUPTED, [attempt], self.log_path(step.name))
            return ("abort", step, outcome, error)
        except BaseException as error:  # a bug must not hang the build
            attempt = Attempt(1, 1, time.time(), 0.0, error=f"internal error: {error!r}")
            outcome = TaskOutcome(step.name, FAILED, [attempt], self.log_path(step.name))
            return ("done", step, outcome)

    def _attempts(self, step: Step) -> TaskOutcome:
        task = step.task
        total = (task.retries if self.retries is None else self.retries) + 1
        delay = task.retry_delay
        log_path = self.log_path(task.name)
        on_line = (
            (lambda name, line: self._results.put(("line", step, line))) if self.stream else None
        )
        attempts = []
        status = FAILED
        for number in range(1, total + 1):
            attempt = self.runner.run(task, number, log_path, on_line=on_line)
            if attempt.ok:
                attempt.error = self.check(task)
            attempts.append(attempt)
            if attempt.ok:
                status = OK
                break
            if attempt.interrupted or self._stop.is_set():
                status = INTERRUPTED
                break
            if number < total:
                self._results.put(("retry", step, attempt, total, delay))
                if self._stop.wait(delay):
                    status = INTERRUPTED
                    break
                delay *= 2
        return TaskOutcome(task.name, status, attempts, log_path, step.reason, task.timeout)
