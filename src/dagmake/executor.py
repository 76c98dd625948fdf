"""Run a Plan: each step as soon as its upstream is done, at most `jobs` at once, with retries."""

from __future__ import annotations

import heapq
import sys
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
from .sig import interrupts


class StepRefused(Exception):
    """Raised by `prepare`: the step fails without running, for the reason in the message."""


class Executor:
    """Schedules steps over a Runner; knows nothing of TOML, files or state.

    Everything happens on the calling thread: the runner's start() begins an attempt and
    returns, its wait() hands back the attempts that ended. A runner with only a blocking
    run(task, number, log_path, on_line=) -> Attempt (Dask, test doubles) is driven
    through worker threads instead (ThreadedRunner).

    Args:
        runner: start()/wait()/busy(), or a blocking run(); and terminate_all(), kill_all().
        jobs: most steps running at once.
        keep_going: after a failure, still run everything not downstream of it.
        prepare: called as a step becomes ready; returns its Reason to run, or None to skip it,
            or raises StepRefused to fail it without running it.
        check: called after a successful attempt; returns an error ("did not create
            output x") that turns it into a failure, or None.
        emit: receives every event, always on the calling thread.
        flush: called before steps start and before waiting: whatever emit() buffered must
            reach the disk (and the terminal) by then.
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
        flush=None,
        log_path,
        priority=None,
        retries: int | None = None,
        stream: bool = False,
        grace: float = 2.0,
        cost=None,
    ) -> None:
        self.jobs = max(1, jobs)
        self.keep_going = keep_going
        self.prepare = prepare or (lambda step: step.reason)
        self.check = check or (lambda task: None)
        if hasattr(runner, "start"):
            self.runner = runner
        else:
            # the check may wait (--latency-wait): on the worker thread it holds up one task
            self.runner = ThreadedRunner(runner, self.check)
            self.check = lambda task: None
        self.emit = emit
        self.flush = flush or (lambda: None)
        self.log_path = log_path
        self.priority = priority or {}
        self.retries = retries
        self.stream = stream
        self.grace = grace
        self.cost = cost or (lambda task: 1)
        self.aborted: ExecutorError | None = None
        self._stopped = False  # interrupted or aborted: retries end, nothing more starts
        self._running: dict = {}  # runner's handle -> _Attempts of its step
        self._retrying: list = []  # heap of (when, id, _Attempts) waiting to retry
        self._due: list = []  # retries whose delay is over, waiting for a free slot
        self._taken: list = []  # (attempts, result) taken from the runner, not yet ended

    def run(self, plan) -> tuple[list[TaskOutcome], list[str], list[str], bool]:
        """Execute plan; return (outcomes in finishing order, skipped, not started, interrupted)."""
        steps = {step.name: step for step in plan.steps}
        sorter = TopologicalSorter()
        for step in plan.steps:
            sorter.add(step.name, *plan.upstream.get(step.name, ()))
        sorter.prepare()
        order = {step.name: index for index, step in enumerate(plan.steps)}
        ready: list = []

        def push_ready() -> None:
            for name in sorter.get_ready():
                heapq.heappush(ready, (-self.priority.get(name, 0.0), order[name], name))

        self._running = {}
        self._retrying = []
        self._due = []
        outcomes: list[TaskOutcome] = []
        skipped: list[str] = []
        started: set[str] = set()
        used = 0  # slots taken by running steps
        stopping = False
        interrupted = False
        # TaskStarted and TaskSkipped events wait here until the ready steps have started,
        # so printing them overlaps the new processes instead of delaying their start.
        deferred: list = []
        try:
            while True:
                push_ready()
                launch: list[_Attempts] = []
                # A retry whose delay is over goes first; it gave up its slot while waiting.
                # (Even after a failure: as before its delay, it is part of a running task.)
                if not self._stopped:
                    self._collect_due()
                while self._due and not self._stopped and used + self._due[0].need <= self.jobs:
                    attempts = self._due.pop(0)
                    used += attempts.need
                    self._start(attempts)
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
                        push_ready()
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
                        push_ready()
                        continue
                    step = Step(step.task, reason)
                    launch.append(_Attempts(step, need, self._total(step.task)))
                    started.add(name)
                    used += need
                if launch:
                    self.flush()  # each start is on disk before its command runs
                    for attempts in launch:
                        self._start(attempts)
                        deferred.append(TaskStarted(attempts.step))
                self._emit_all(deferred)
                if not self._running and not self._retrying and not self._due:
                    break
                self.flush()
                taken = self._taken = self._wait()
                while taken:
                    attempts, result = taken.pop(0)
                    outcome = self._ended(attempts, result)
                    if result is not None:  # (None: a retry that never restarted, slot free)
                        used -= attempts.need  # also while a retry waits: others may use it
                    if outcome is None:
                        continue
                    outcomes.append(outcome)
                    # Recorded before more steps start: a kill -9 must find at most the
                    # running steps unrecorded (only TaskStarted events are held back).
                    self.emit(TaskFinished(attempts.step, outcome))
                    if outcome.status == OK:
                        sorter.done(outcome.name)
                    elif not self.keep_going or outcome.status == INTERRUPTED:
                        stopping = True
        except KeyboardInterrupt:
            interrupted = True
            self._interrupt(outcomes, deferred)
        except Exception:
            # The build cannot go on (its state cannot be written, say): stop every task first.
            self._interrupt(outcomes, deferred)
            raise
        finally:
            close = getattr(self.runner, "close_threads", None)
            if close is not None:
                close()
        not_run = [s.name for s in plan.steps if s.name not in started and not s.task.is_group]
        return outcomes, skipped, not_run, interrupted or self.aborted is not None

    def _total(self, task) -> int:
        return (task.retries if self.retries is None else self.retries) + 1

    def _start(self, attempts: _Attempts) -> None:
        task = attempts.step.task
        on_line = self._on_line if self.stream else None
        handle = self.runner.start(
            task, len(attempts.done) + 1, self.log_path(task.name), on_line=on_line
        )
        self._running[handle] = attempts

    def _on_line(self, name: str, line: str) -> None:
        self.emit(TaskOutput(name, line))

    def _wait(self, timeout: float | None = None) -> list:
        """(attempts, Attempt or ExecutorError) of what ended; retries that are due join
        self._due, to start when a slot is free."""
        if self._retrying:
            wait_for = max(0.0, self._retrying[0][0] - time.monotonic())
            # a retry far off (a huge `retry_delay`) is waited for in steps: sleep() and
            # lock timeouts overflow past a few hundred years
            timeout = min(wait_for if timeout is None else min(timeout, wait_for), 3600.0)
        if self._running:
            # A handle not in _running is an attempt a Ctrl-C caught between start() and
            # its registration here: it was stopped with the rest, nothing waits for it.
            running = self._running
            ended = [
                (running.pop(handle), result)
                for handle, result in self.runner.wait(timeout)
                if handle in running
            ]
        else:
            time.sleep(timeout or 0.0)
            ended = []
        if self._stopped:
            ended += self._end_waiting_retries()
        else:
            self._collect_due()
        return ended

    def _end_waiting_retries(self) -> list:
        """Retries not started yet, delay over or not: (attempts, None) each, to end
        interrupted, once the build was interrupted or aborted."""
        ended = [(attempts, None) for _, _, attempts in self._retrying]
        ended += [(attempts, None) for attempts in self._due]
        self._retrying.clear()
        self._due.clear()
        return ended

    def _collect_due(self) -> None:
        """Move the retries whose delay is over to self._due."""
        now = time.monotonic()
        while self._retrying and self._retrying[0][0] <= now:
            self._due.append(heapq.heappop(self._retrying)[2])

    def _ended(self, attempts: _Attempts, result) -> TaskOutcome | None:
        """The step's outcome once this attempt ended it, or None when it retries."""
        step = attempts.step
        task = step.task
        log_path = self.log_path(task.name)
        if result is None:  # its retry was due after a Ctrl-C or an abort
            return attempts.outcome(INTERRUPTED, log_path)
        if isinstance(result, ExecutorError):
            attempt = Attempt(
                len(attempts.done) + 1, 1, time.time(), 0.0, error=str(result).split("\n")[0]
            )
            attempts.done.append(attempt)
            if self.aborted is None:
                self.aborted = result
                self._stopped = True
                try:
                    self.runner.terminate_all()
                except Exception:  # the engine is already gone
                    pass
            return attempts.outcome(INTERRUPTED, log_path)
        attempt = result
        if attempt.ok:
            try:
                attempt.error = self.check(task)
            except KeyboardInterrupt:
                # stopped while waiting for its outputs (--latency-wait): ends interrupted
                attempt.interrupted = True
                attempts.done.append(attempt)
                self._taken.insert(0, (attempts, None))
                raise
        attempts.done.append(attempt)
        if attempt.ok:
            return attempts.outcome(OK, log_path)
        if attempt.interrupted or self._stopped:
            return attempts.outcome(INTERRUPTED, log_path)
        if len(attempts.done) < attempts.total:
            # doubling, kept a finite float: 2**n past 1023 does not fit one, and an
            # enormous retry_delay times it would be inf
            doubling = 2.0 ** min(len(attempts.done) - 1, 1023)
            delay = min(task.retry_delay * doubling, sys.float_info.max)
            self.emit(AttemptFailed(step, attempt, attempts.total, delay))
            heapq.heappush(self._retrying, (time.monotonic() + delay, id(attempts), attempts))
            return None
        return attempts.outcome(FAILED, log_path)

    def _emit_all(self, deferred: list) -> None:
        while deferred:
            self.emit(deferred.pop(0))

    def _interrupt(self, outcomes: list[TaskOutcome], deferred=()) -> None:
        """Stop every running task: SIGTERM, SIGKILL after the grace period or a second Ctrl-C."""
        self._stopped = True
        self.runner.terminate_all()
        # what finished before the interrupt is still recorded and shown
        deferred = [e for e in deferred if isinstance(e, (TaskFinished, TaskSkipped))]
        # ended attempts not yet handled, then retries that will not start now
        ended = self._taken + self._end_waiting_retries()
        self._taken = []
        failure = None
        try:
            self._emit_all(deferred)
        except KeyboardInterrupt:
            pass
        except Exception as error:  # recording failed (disk full?): stop the tasks, then say so
            failure = error
        deadline = time.monotonic() + self.grace
        killed = False
        while ended or self._running:
            # A second Ctrl-C may land anywhere in here, even while an outcome is recorded:
            # it must always reach kill_all(), never escape and leave a task running.
            try:
                while ended:
                    attempts, result = ended.pop()
                    if isinstance(result, Attempt):
                        attempts.done.append(result)
                    outcome = attempts.outcome(INTERRUPTED, self.log_path(attempts.step.name))
                    outcomes.append(outcome)
                    self.emit(TaskFinished(attempts.step, outcome))
                if not self._running:
                    break
                if not self.runner.busy():
                    # A Ctrl-C landed between the runner ending an attempt and handing it
                    # over: nothing runs any more, so those steps end interrupted.
                    ended = self._abandon_running()
                    continue
                try:
                    ended = self._wait(0.1)
                except Exception as error:  # the runner itself fails: no end will come
                    failure = failure or error
                    self.runner.kill_all()
                    ended = self._abandon_running()
                    continue
                if not killed and (time.monotonic() >= deadline or interrupts() > 1):
                    self.runner.kill_all()  # (a second Ctrl-C: at once)
                    killed = True
                elif killed and time.monotonic() >= deadline + self.grace:
                    # Killed, and still no end reported: stop waiting for what cannot come.
                    ended += self._abandon_running()
            except KeyboardInterrupt:
                self.runner.kill_all()
                killed = True
            except Exception as error:  # recording an outcome failed: stop the rest anyway
                failure = failure or error
        if failure is not None:
            raise failure

    def _abandon_running(self) -> list:
        """Stop waiting for every running step: (attempts, None) each, to end interrupted."""
        ended = [(attempts, None) for attempts in self._running.values()]
        self._running.clear()
        return ended


class _Attempts:
    """A running step and the attempts it has made so far."""

    __slots__ = ("step", "need", "total", "done")

    def __init__(self, step: Step, need: int, total: int) -> None:
        self.step = step
        self.need = need  # the slots it holds
        self.total = total
        self.done: list[Attempt] = []

    def outcome(self, status: str, log_path: str) -> TaskOutcome:
        task = self.step.task
        return TaskOutcome(task.name, status, self.done, log_path, self.step.reason, task.timeout)


class ThreadedRunner:
    """start()/wait() over a runner whose run() blocks until its attempt ends.

    Each attempt runs on a worker thread and hands its result back through a queue;
    output lines travel the same way, so on_line is still called on the waiting thread.
    """

    def __init__(self, runner, check=None) -> None:
        import queue

        self.runner = runner
        self.check = check or (lambda task: None)
        self._results = queue.SimpleQueue()
        self._work = queue.SimpleQueue()
        self._threads = 0
        self._idle = 0
        self._in_flight = 0  # started attempts whose result wait() has not returned

    def start(self, task, number: int, log_path: str, *, on_line=None):
        import threading

        handle = object()
        self._in_flight += 1
        if self._idle == 0:
            self._threads += 1
            threading.Thread(target=self._worker, name="dagmake-worker", daemon=True).start()
        else:
            self._idle -= 1
        self._work.put((handle, task, number, log_path, on_line))
        return handle

    def wait(self, timeout: float | None = None) -> list:
        import queue

        ended = []
        try:
            item = self._results.get(timeout=timeout)
            while True:
                handle, kind, value = item
                if kind == "line":
                    value()  # on_line, here on the waiting thread
                else:
                    self._in_flight -= 1
                    self._idle += 1
                    ended.append((handle, value))
                item = self._results.get_nowait()
        except queue.Empty:
            pass
        return ended

    def busy(self) -> bool:
        return self._in_flight > 0

    def terminate_all(self) -> None:
        self.runner.terminate_all()

    def kill_all(self) -> None:
        self.runner.kill_all()

    def close_threads(self) -> None:
        for _ in range(self._threads):
            self._work.put(None)
        self._threads = 0

    def _worker(self) -> None:
        while True:
            work = self._work.get()
            if work is None:
                return
            handle, task, number, log_path, on_line = work
            relay = None
            if on_line is not None:

                def relay(name, line, handle=handle, on_line=on_line):
                    self._results.put((handle, "line", lambda: on_line(name, line)))

            self._results.put((handle, "end", self._attempt(task, number, log_path, relay)))

    def _attempt(self, task, number, log_path, on_line):
        try:
            attempt = self.runner.run(task, number, log_path, on_line=on_line)
            if attempt.ok:
                attempt.error = self.check(task)
            return attempt
        except ExecutorError as error:
            return error
        except BaseException as error:  # a bug must not hang the build
            return Attempt(number, 1, time.time(), 0.0, error=f"internal error: {error!r}")
