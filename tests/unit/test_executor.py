"""Running a Plan: concurrency limit, dependencies, failures, retries, skips and priorities."""

import threading

import pytest

from dagmake.events import (
    FAILED,
    INTERRUPTED,
    OK,
    AttemptFailed,
    TaskFinished,
    TaskOutput,
    TaskSkipped,
    TaskStarted,
)
from dagmake.executor import Executor
from dagmake.graph import Graph
from dagmake.plan import Reason, plan
from dagmake.runner import ProcessRunner
from dagmake.task import ShellAction, Task
from fakes import FakeRunner


def task(name, after=(), *, command="true", retry_delay=0.0, **fields):
    """A shell task; retry_delay 0 so that retries cost no time."""
    return Task(name, ShellAction((command,)), after=after, retry_delay=retry_delay, **fields)


def group(name, after=()):
    return Task(name, None, after=after)


def make_plan(*tasks):
    """Every task of tasks as a step (forced), in topological order."""
    graph = Graph.from_tasks(tasks)
    return plan(
        graph,
        set(graph.order),
        inputs={},
        outputs={},
        records={},
        forced=dict.fromkeys(graph.order, "test"),
    )


class Run:
    """One executor run over a FakeRunner, with every event it emitted."""

    def __init__(self, tmp_path, runner=None, **options):
        self.runner = runner or FakeRunner()
        self.events = []
        self.threads = set()
        self.on_event = options.pop("on_event", None)
        options.setdefault("jobs", 4)
        self.executor = Executor(
            self.runner,
            emit=self.emit,
            log_path=lambda name: str(tmp_path / f"{name}.log"),
            **options,
        )

    def emit(self, event):
        self.events.append(event)
        self.threads.add(threading.get_ident())
        if self.on_event is not None:
            self.on_event(event)

    def __call__(self, the_plan):
        self.outcomes, self.skipped, self.not_run, self.interrupted = self.executor.run(the_plan)
        self.status = {o.name: o.status for o in self.outcomes}
        return self

    def of(self, kind):
        return [event for event in self.events if isinstance(event, kind)]


def test_every_step_runs_once_and_writes_its_log(tmp_path):
    run = Run(tmp_path)(make_plan(task("a"), task("b", after=["a"]), task("c")))
    assert run.status == {"a": OK, "b": OK, "c": OK}
    assert sorted(run.runner.started()) == ["a", "b", "c"]
    assert (run.skipped, run.not_run, run.interrupted) == ([], [], False)
    assert (tmp_path / "a.log").read_text() == "a attempt 1: 0\n"
    assert [o.log_path for o in run.outcomes if o.name == "b"] == [str(tmp_path / "b.log")]
    assert sorted(e.step.name for e in run.of(TaskStarted)) == ["a", "b", "c"]
    assert sorted(e.outcome.name for e in run.of(TaskFinished)) == ["a", "b", "c"]


def test_events_are_emitted_on_the_calling_thread(tmp_path):
    runner = FakeRunner({"a": [1, 0]})
    run = Run(tmp_path, runner, jobs=3, stream=True)(
        make_plan(task("a", retries=1), task("b"), task("c"))
    )
    assert run.threads == {threading.get_ident()}


@pytest.mark.parametrize("jobs", [1, 2])
def test_retries_never_pass_the_jobs_limit(tmp_path, jobs):
    # every task fails twice before it succeeds: retries come due while others run
    runner = FakeRunner({f"t{i}": [1, 1] for i in range(6)}, hold_until=jobs, total=18)
    tasks = [task(f"t{i}", retries=2) for i in range(6)]
    run = Run(tmp_path, runner, jobs=jobs)(make_plan(*tasks))
    assert runner.max_running == jobs
    assert run.status == {t.name: OK for t in tasks}
    assert all(runner.attempts[t.name] == [1, 2, 3] for t in tasks)


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_jobs_limit_is_respected(tmp_path, jobs):
    # every attempt waits until `jobs` run at once: the limit is reached, and never passed
    runner = FakeRunner(hold_until=jobs, total=6)
    tasks = [task(f"t{i}") for i in range(6)]
    run = Run(tmp_path, runner, jobs=jobs)(make_plan(*tasks))
    assert runner.max_running == jobs
    assert run.status == {t.name: OK for t in tasks}


def test_dependencies_are_respected(tmp_path):
    r"""a -> b, c -> d -> e; x alone."""
    tasks = [
        task("a"),
        task("b", after=["a"]),
        task("c", after=["a"]),
        task("d", after=["b", "c"]),
        task("e", after=["d"]),
        task("x"),
    ]
    runner = FakeRunner()
    run = Run(tmp_path, runner, jobs=4)(make_plan(*tasks))
    assert set(run.status.values()) == {OK}
    for t in tasks:
        for up in t.after:
            assert runner.position("end", up) < runner.position("start", t.name), runner.events


def test_steps_wait_only_for_upstream_steps_of_the_plan(tmp_path):
    # the plan says b waits for nothing (a is up to date), so b starts while a is held
    a_done = threading.Event()
    runner = FakeRunner(gates={"a": a_done})
    the_plan = make_plan(task("a"), task("b"))
    the_plan.upstream["b"] = ()
    run = Run(tmp_path, runner, jobs=2, on_event=lambda e: _open_when(e, "b", a_done))(the_plan)
    assert run.status == {"a": OK, "b": OK}
    assert runner.position("end", "b") < runner.position("end", "a")


def _open_when(event, name, gate):
    if isinstance(event, TaskFinished) and event.outcome.name == name:
        gate.set()


def test_failure_stops_new_starts_and_lets_running_steps_finish(tmp_path):
    # a fails while b runs; b may finish only once a's failure is known
    b_gate = threading.Event()
    runner = FakeRunner({"a": [1]}, gates={"b": b_gate})
    tasks = [task("a"), task("b"), task("c"), task("d"), task("after_a", after=["a"])]
    priority = {"a": 9, "b": 8}
    run = Run(
        tmp_path, runner, jobs=2, priority=priority, on_event=lambda e: _open_when(e, "a", b_gate)
    )(make_plan(*tasks))
    assert sorted(runner.started()) == ["a", "b"]
    assert run.status == {"a": FAILED, "b": OK}
    assert run.outcomes[0].name == "a"
    assert sorted(run.not_run) == ["after_a", "c", "d"]
    assert not run.interrupted


def test_failure_with_jobs_1_runs_nothing_after_it(tmp_path):
    runner = FakeRunner({"b": [2]})
    tasks = [task("a"), task("b"), task("c")]
    run = Run(tmp_path, runner, jobs=1, priority={"a": 3, "b": 2, "c": 1})(make_plan(*tasks))
    assert runner.started() == ["a", "b"]
    assert run.not_run == ["c"]
    assert run.outcomes[-1].describe() == "exit 2"


def test_keep_going_runs_everything_not_downstream_of_a_failure(tmp_path):
    tasks = [
        task("a"),
        task("b", after=["a"]),
        task("c", after=["b"]),
        task("d"),
        task("e", after=["d"]),
        task("f", after=["a", "d"]),
        group("all", after=["c", "e"]),
    ]
    runner = FakeRunner({"a": [1]})
    run = Run(tmp_path, runner, jobs=1, keep_going=True, priority={"a": 10})(make_plan(*tasks))
    assert run.status == {"a": FAILED, "d": OK, "e": OK}
    assert sorted(run.not_run) == ["b", "c", "f"]  # groups are never "not run"
    assert runner.started()[0] == "a"


def test_keep_going_with_two_independent_failures(tmp_path):
    runner = FakeRunner({"a": [1], "x": [1]})
    tasks = [task("a"), task("b", after=["a"]), task("x"), task("y", after=["x"]), task("z")]
    run = Run(tmp_path, runner, jobs=2, keep_going=True)(make_plan(*tasks))
    assert run.status == {"a": FAILED, "x": FAILED, "z": OK}
    assert sorted(run.not_run) == ["b", "y"]


def test_retries_until_success(tmp_path):
    runner = FakeRunner({"a": [1, 1, 0]})
    run = Run(tmp_path, runner)(make_plan(task("a", retries=2)))
    [outcome] = run.outcomes
    assert outcome.status == OK
    assert [a.number for a in outcome.attempts] == [1, 2, 3]
    assert [a.exit_code for a in outcome.attempts] == [1, 1, 0]
    assert runner.attempts == {"a": [1, 2, 3]}
    failed = run.of(AttemptFailed)
    assert [(e.attempt.number, e.total) for e in failed] == [(1, 3), (2, 3)]
    assert (tmp_path / "a.log").read_text() == ("a attempt 1: 1\na attempt 2: 1\na attempt 3: 0\n")


def test_retry_delay_doubles(tmp_path):
    runner = FakeRunner({"a": [1, 1, 1, 0]})
    # a tiny delay keeps the test fast; what matters is that each wait doubles
    run = Run(tmp_path, runner)(make_plan(task("a", retries=3, retry_delay=0.001)))
    assert [e.retry_in for e in run.of(AttemptFailed)] == [0.001, 0.002, 0.004]
    assert run.status == {"a": OK}


def test_retries_exhausted_is_a_failure(tmp_path):
    runner = FakeRunner({"a": [1, 2, 3, 0]})
    run = Run(tmp_path, runner)(make_plan(task("a", retries=2)))
    [outcome] = run.outcomes
    assert outcome.status == FAILED
    assert len(outcome.attempts) == 3
    assert outcome.describe() == "exit 3"


def test_timeout_is_a_failure_that_is_retried(tmp_path):
    runner = FakeRunner({"a": ["timeout", 0], "b": ["timeout"]})
    tasks = [task("a", retries=1, timeout=5.0), task("b", timeout=2.5)]
    run = Run(tmp_path, runner, keep_going=True)(make_plan(*tasks))
    outcomes = {o.name: o for o in run.outcomes}
    assert outcomes["a"].status == OK
    assert [a.timed_out for a in outcomes["a"].attempts] == [True, False]
    assert outcomes["b"].status == FAILED
    assert outcomes["b"].describe() == "timed out after 2.5 s"


@pytest.mark.parametrize(
    ("task_retries", "override", "script", "status", "attempts"),
    [
        (0, 2, [1, 1, 0], OK, 3),
        (5, 0, [1, 0], FAILED, 1),
        (1, None, [1, 0], OK, 2),
        (0, None, [1, 0], FAILED, 1),
    ],
)
def test_retries_override(tmp_path, task_retries, override, script, status, attempts):
    runner = FakeRunner({"a": script})
    run = Run(tmp_path, runner, retries=override)(make_plan(task("a", retries=task_retries)))
    [outcome] = run.outcomes
    assert (outcome.status, len(outcome.attempts)) == (status, attempts)


def test_prepare_returning_none_skips_the_step_and_downstream_still_runs(tmp_path):
    prepared = []

    def prepare(step):
        prepared.append(step.name)
        return None if step.name == "a" else step.reason

    runner = FakeRunner()
    run = Run(tmp_path, runner, prepare=prepare)(
        make_plan(task("a"), task("b", after=["a"]), task("c", after=["b"]))
    )
    assert run.skipped == ["a"]
    assert [e.step.name for e in run.of(TaskSkipped)] == ["a"]
    assert runner.started() == ["b", "c"]
    assert run.status == {"b": OK, "c": OK}
    assert run.not_run == []
    assert prepared == ["a", "b", "c"]


def test_prepare_reason_replaces_the_planned_one(tmp_path):
    fresh = Reason("input-changed", "input x is newer than output y")
    run = Run(tmp_path, prepare=lambda step: fresh)(make_plan(task("a")))
    assert run.of(TaskStarted)[0].step.reason == fresh
    assert run.outcomes[0].reason == fresh


def test_check_error_turns_success_into_failure(tmp_path):
    checked = []

    def check(t):
        checked.append(t.name)
        return "did not create output out.csv" if t.name == "a" else None

    runner = FakeRunner({"c": [1]})
    run = Run(tmp_path, runner, check=check, keep_going=True)(
        make_plan(task("a"), task("b", after=["a"]), task("c"))
    )
    assert run.status == {"a": FAILED, "c": FAILED}
    outcome = next(o for o in run.outcomes if o.name == "a")
    assert outcome.describe() == "did not create output out.csv"
    assert run.not_run == ["b"]
    assert checked == ["a"]  # only successful attempts are checked


def test_check_error_is_retried(tmp_path):
    answers = ["did not create output out.csv", None]
    run = Run(tmp_path, check=lambda t: answers.pop(0))(make_plan(task("a", retries=1)))
    [outcome] = run.outcomes
    assert outcome.status == OK
    assert [a.error for a in outcome.attempts] == ["did not create output out.csv", None]


def test_priority_picks_the_highest_ready_step_first(tmp_path):
    runner = FakeRunner()
    tasks = [task("low"), task("high"), task("mid"), task("after_low", after=["low"])]
    priority = {"low": 5.0, "high": 9.0, "mid": 1.0, "after_low": 7.0}
    Run(tmp_path, runner, jobs=1, priority=priority)(make_plan(*tasks))
    # after_low becomes ready when low ends, and beats mid
    assert runner.started() == ["high", "low", "after_low", "mid"]


def test_equal_priorities_keep_plan_order(tmp_path):
    runner = FakeRunner()
    the_plan = make_plan(task("p"), task("q"), task("r"))
    Run(tmp_path, runner, jobs=1)(the_plan)
    assert runner.started() == [step.name for step in the_plan.steps]


def test_groups_are_not_run_but_order_their_downstream(tmp_path):
    runner = FakeRunner()
    tasks = [task("a"), group("g", after=["a"]), task("b", after=["g"])]
    run = Run(tmp_path, runner)(make_plan(*tasks))
    assert runner.started() == ["a", "b"]
    assert run.status == {"a": OK, "b": OK}
    assert [e.step.name for e in run.of(TaskStarted)] == ["a", "b"]


def test_stream_sends_output_lines_as_events(tmp_path):
    run = Run(tmp_path, stream=True)(make_plan(task("a")))
    assert [(e.name, e.line) for e in run.of(TaskOutput)] == [("a", "a attempt 1: 0")]
    assert Run(tmp_path)(make_plan(task("a"))).of(TaskOutput) == []


def test_runner_bug_is_a_failed_outcome_not_a_hang(tmp_path):
    runner = FakeRunner({"a": [RuntimeError("boom")]})
    run = Run(tmp_path, runner)(make_plan(task("a"), task("b", after=["a"])))
    assert run.status == {"a": FAILED}
    assert "internal error" in run.outcomes[0].describe()
    assert "boom" in run.outcomes[0].describe()
    assert run.not_run == ["b"]


def test_interrupt_terminates_running_steps_and_records_them(tmp_path):
    held = threading.Event()
    runner = FakeRunner(gates={"a": held})

    def interrupt_when_a_starts(event):
        if isinstance(event, TaskStarted) and event.step.name == "a":
            raise KeyboardInterrupt  # Ctrl-C while `a` runs and the others wait for a slot

    run = Run(
        tmp_path,
        runner,
        jobs=1,
        grace=5.0,
        priority={"a": 2, "b": 1},
        on_event=interrupt_when_a_starts,
    )(make_plan(task("a"), task("b"), task("c")))
    assert run.interrupted
    assert runner.terminated
    assert run.status == {"a": INTERRUPTED}
    assert sorted(run.not_run) == ["b", "c"]


# --- a few real processes -----------------------------------------------------------------


def test_real_shell_tasks(tmp_path):
    runner = ProcessRunner(str(tmp_path), grace=1.0)
    tasks = [
        task("hello", command="echo hello from $DAGMAKE_TASK > hello.txt"),
        task("copy", after=["hello"], command="cp hello.txt copy.txt"),
        task("fail", command="echo about to fail; exit 3", retries=1),
        task("never", after=["fail"]),
    ]
    run = Run(tmp_path, runner, jobs=2, keep_going=True)(make_plan(*tasks))
    assert run.status == {"hello": OK, "copy": OK, "fail": FAILED}
    assert (tmp_path / "copy.txt").read_text() == "hello from hello\n"
    fail = next(o for o in run.outcomes if o.name == "fail")
    assert [a.exit_code for a in fail.attempts] == [3, 3]
    assert (tmp_path / "fail.log").read_text() == (
        "about to fail\n--- dagmake: attempt 2 ---\nabout to fail\n"
    )
    assert run.not_run == ["never"]


def test_real_timeout_kills_the_task(tmp_path):
    runner = ProcessRunner(str(tmp_path), grace=0.5)
    run = Run(tmp_path, runner)(make_plan(task("slow", command="sleep 30", timeout=0.2)))
    [outcome] = run.outcomes
    assert outcome.status == FAILED
    assert outcome.attempts[0].timed_out
    assert outcome.seconds < 10  # killed, not waited for


# --- the single-threaded loop: what is flushed when -------------------------------------


class LoopRunner:
    """A runner with start()/wait(): every attempt ends, ok, at the next wait()."""

    def __init__(self, on_start):
        self.on_start = on_start
        self.pending = []

    def start(self, task, number, log_path, *, on_line=None):
        self.on_start(task.name)
        handle = object()
        self.pending.append((handle, number))
        return handle

    def wait(self, timeout=None):
        from dagmake.events import Attempt

        ended, self.pending = self.pending, []
        return [(handle, Attempt(number, 0, 0.0, 0.0)) for handle, number in ended]

    def busy(self):
        return bool(self.pending)

    def terminate_all(self):
        pass

    def kill_all(self):
        pass


def test_what_prepare_records_is_flushed_before_the_command_starts(tmp_path):
    # prepare() writes the "started, not finished" record a kill -9 must find on disk
    log = []
    runner = LoopRunner(on_start=lambda name: log.append(("start", name)))

    def prepare(step):
        log.append(("prepare", step.name))
        return step.reason

    run = Run(
        tmp_path,
        runner,
        jobs=2,
        prepare=prepare,
        flush=lambda: log.append(("flush",)),
    )(make_plan(task("a"), task("b"), task("c", after=["a", "b"])))
    assert run.status == {"a": OK, "b": OK, "c": OK}
    for name in "abc":
        prepared = log.index(("prepare", name))
        started = log.index(("start", name))
        assert ("flush",) in log[prepared:started], log
    assert run.threads == {threading.get_ident()}


def test_a_finished_step_is_flushed_before_the_executor_waits_again(tmp_path):
    # a TaskFinished recorded in a buffer must reach the disk before the next long wait
    flushed_finishes = []
    finished = []
    runner = LoopRunner(on_start=lambda name: None)

    def on_event(event):
        if isinstance(event, TaskFinished):
            finished.append(event.outcome.name)

    wait = runner.wait

    def checked_wait(timeout=None):
        assert finished == flushed_finishes, "waiting with a finished step not flushed"
        return wait(timeout)

    def flush():
        flushed_finishes[:] = finished

    runner.wait = checked_wait
    Run(tmp_path, runner, jobs=1, on_event=on_event, flush=flush)(
        make_plan(task("a"), task("b", after=["a"]), task("c", after=["b"]))
    )
    assert finished == ["a", "b", "c"]


def test_a_finished_step_is_recorded_before_the_next_command_starts(tmp_path):
    # so that a kill -9 finds at most the running steps unrecorded
    log = []
    runner = LoopRunner(on_start=lambda name: log.append(("start", name)))

    def on_event(event):
        if isinstance(event, TaskFinished):
            log.append(("finished", event.outcome.name))

    Run(tmp_path, runner, jobs=2, on_event=on_event)(
        make_plan(task("a"), task("b", after=["a"]), task("c"), task("d", after=["c"]))
    )
    assert log.index(("finished", "a")) < log.index(("start", "b")), log
    assert log.index(("finished", "c")) < log.index(("start", "d")), log
    assert log.index(("finished", "a")) < log.index(("start", "d")), log
