"""What the executor and build do for any engine: cpu slots, an engine lost mid-build,
--latency-wait, and the warning for resources the local executor ignores."""

from __future__ import annotations

import os
import threading

import pytest

from dagmake.build import build
from dagmake.errors import ExecutorError
from dagmake.events import INTERRUPTED, OK, TaskFinished, TaskStarted
from dagmake.executor import Executor
from dagmake.graph import Graph
from dagmake.plan import plan
from dagmake.project import load
from dagmake.state import StateStore
from dagmake.task import ShellAction, Task
from fakes import FakeRunner


def task(name, after=(), **fields):
    return Task(name, ShellAction(("true",)), after=after, retry_delay=0.0, **fields)


def run_plan(tmp_path, runner, *tasks, **options):
    """Run tasks with an Executor; return it, name -> status, not run, interrupted, events."""
    graph = Graph.from_tasks(tasks)
    the_plan = plan(
        graph, set(graph.order), inputs={}, outputs={}, records={},
        forced=dict.fromkeys(graph.order, "test"),
    )  # fmt: skip
    events = []
    executor = Executor(
        runner, emit=events.append, log_path=lambda n: str(tmp_path / f"{n}.log"), **options
    )
    outcomes, _, not_run, interrupted = executor.run(the_plan)
    return executor, {o.name: o.status for o in outcomes}, not_run, interrupted, events


def cpu(task):
    return int(dict(task.resources).get("cpu", 1))


def starts_and_ends(events):
    """("start", name) / ("end", name) in the order the executor decided them."""
    kinds = {TaskStarted: "start", TaskFinished: "end"}
    return [
        (kinds[type(e)], e.step.name) for e in events if type(e) in kinds
    ]  # fmt: skip


def test_a_task_takes_as_many_slots_as_its_cpu(tmp_path):
    tasks = [task(f"t{i}", resources=(("cpu", 2.0),)) for i in range(3)]
    *_, events = run_plan(tmp_path, FakeRunner(), *tasks, jobs=4, cost=cpu)
    order = starts_and_ends(events)
    # 4 slots hold two cpu=2 tasks: the third starts only once one has finished
    assert order[:2] == [("start", "t0"), ("start", "t1")]
    assert order[2][0] == "end"
    assert ("start", "t2") in order[3:]


def test_a_task_asking_more_cpu_than_jobs_still_runs_alone(tmp_path):
    tasks = [task("big", resources=(("cpu", 8.0),)), task("small")]
    _, status, *_, events = run_plan(tmp_path, FakeRunner(), *tasks, jobs=2, cost=cpu)
    assert starts_and_ends(events) == [
        ("start", "big"), ("end", "big"), ("start", "small"), ("end", "small"),
    ]  # fmt: skip
    assert status == {"big": OK, "small": OK}


class LosingRunner(FakeRunner):
    """Its engine goes away during task `lost`."""

    def run(self, task, number, log_path, *, on_line=None):
        if task.name == "lost":
            raise ExecutorError("lost connection to dask scheduler tcp://x:1; build aborted")
        return super().run(task, number, log_path, on_line=on_line)


def test_a_lost_engine_aborts_the_build_and_starts_nothing_more(tmp_path):
    tasks = [task("first"), task("lost", after=["first"]), task("later", after=["lost"])]
    executor, status, not_run, interrupted, _ = run_plan(tmp_path, LosingRunner(), *tasks, jobs=2)
    assert status == {"first": OK, "lost": INTERRUPTED}
    assert not_run == ["later"]
    assert interrupted
    assert str(executor.aborted).startswith("lost connection to dask scheduler")


def write_project(tmp_path, text):
    (tmp_path / "Pipefile.toml").write_text(text)
    return load(str(tmp_path / "Pipefile.toml"))


def test_build_raises_the_lost_engine_error_after_recording_finished_tasks(tmp_path):
    project = write_project(
        tmp_path,
        '[tasks.first]\ncmd = "true"\n[tasks.lost]\ncmd = "true"\nafter = ["first"]\n',
    )
    with pytest.raises(ExecutorError):
        build(project, runner=LosingRunner(), jobs=1, hooks=False)
    records = StateStore(project.state_dir).load()
    assert records["first"].status == "ok"
    assert records["lost"].status == "interrupted"


class LateRunner(FakeRunner):
    """Succeeds, and its output shows up a little later (a shared filesystem's lag)."""

    def __init__(self, root, delay):
        super().__init__()
        self.root = root
        self.delay = delay

    def run(self, task, number, log_path, *, on_line=None):
        attempt = super().run(task, number, log_path, on_line=on_line)
        path = os.path.join(self.root, task.outputs[0])
        timer = threading.Timer(self.delay, lambda: open(path, "w").close())
        timer.daemon = True
        timer.start()
        return attempt


LATE = '[tasks.late]\ncmd = "true"\noutputs = ["late.txt"]\n'


def test_latency_wait_waits_for_an_output_that_shows_up_late(tmp_path):
    project = write_project(tmp_path, LATE)
    summary = build(project, runner=LateRunner(str(tmp_path), 0.3), latency_wait=5, hooks=False)
    assert [o.status for o in summary.outcomes] == [OK]


def test_without_latency_wait_a_late_output_fails_the_task(tmp_path):
    project = write_project(tmp_path, LATE)
    summary = build(project, runner=LateRunner(str(tmp_path), 0.5), hooks=False)
    assert summary.failed[0].describe() == "did not create output late.txt"


def test_latency_wait_gives_up_at_its_deadline(tmp_path):
    project = write_project(tmp_path, LATE)
    summary = build(project, runner=LateRunner(str(tmp_path), 5), latency_wait=0.2, hooks=False)
    assert summary.failed[0].describe() == (
        "did not create output late.txt (after --latency-wait 0.2 s)"
    )


def test_the_local_executor_says_which_resources_it_ignores(tmp_path):
    project = write_project(
        tmp_path,
        '[tasks.a]\ncmd = "true"\nresources = { cpu = 2, gpu = 1, memory_gb = 8 }\n'
        '[tasks.b]\ncmd = "true"\nresources = { gpu = 1 }\n',
    )
    warnings = []
    build(project, runner=FakeRunner(), jobs=2, warn=warnings.append, hooks=False)
    assert warnings == [
        "the local executor ignores resources 'gpu', 'memory_gb' (only 'cpu' takes -j slots)"
    ]


def test_an_engine_that_honours_resources_gets_no_warning_and_no_slots(tmp_path):
    class Engine(FakeRunner):
        honours_resources = True
        opened = False

        def open(self):
            self.opened = True

    project = write_project(tmp_path, '[tasks.a]\ncmd = "true"\nresources = { gpu = 1 }\n')
    warnings = []
    engine = Engine()
    build(project, runner=engine, jobs=2, warn=warnings.append, hooks=False)
    assert warnings == []
    assert engine.opened


def test_an_engine_is_not_opened_when_there_is_nothing_to_do(tmp_path):
    class Engine(FakeRunner):
        def open(self):
            raise AssertionError("opened for nothing")

    (tmp_path / "o.txt").write_text("")
    project = write_project(tmp_path, '[tasks.a]\ncmd = "true"\noutputs = ["o.txt"]\n')
    summary = build(project, runner=Engine(), hooks=False)
    assert summary.up_to_date == ("a",)
