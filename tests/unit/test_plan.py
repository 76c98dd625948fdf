"""Staleness rules 1-7, in spec order, judged from facts alone: no files, no clock."""

import importlib

import pytest

from dagmake.graph import Graph
from dagmake.plan import (
    ALWAYS,
    DEFINITION_CHANGED,
    FORCED,
    INPUT_CHANGED,
    LAST_RUN_FAILED,
    OUTPUT_MISSING,
    UPSTREAM_RUNS,
    judge,
)
from dagmake.state import Record
from dagmake.task import ShellAction, Task

IN = (1_000, 10)  # the input's stamp (mtime_ns, size)
OUT = (2_000, 20)  # the output's stamp: newer than the input

# the module, not the package's `dagmake.plan` API function
planning = importlib.import_module("dagmake.plan")


def make_task(name="t", **changes):
    fields = {
        "action": ShellAction(("run",)),
        "inputs": ("in.csv",),
        "outputs": ("out.csv",),
        **changes,
    }
    return Task(name, **fields)


def record(task, *, status="ok", fingerprint=None, stamps=None):
    """The record of a run of task that started when its input had stamp IN."""
    if stamps is None:
        stamps = tuple((path, *IN) for path in task.inputs)
    return Record(task.name, fingerprint or task.fingerprint, status, 100.0, 1.5, 1, stamps)


def facts(**changes):
    """judge()'s arguments for an up-to-date task with a clean record; changes override them."""
    task = changes.pop("task", None) or make_task()
    arguments = {
        "forced": None,
        "upstream_running": None,
        "record": record(task),
        "inputs": {path: IN for path in task.inputs},
        "outputs": {path: OUT for path in task.outputs},
    }
    arguments.update(changes)
    return task, arguments


def reason(**changes):
    task, arguments = facts(**changes)
    return judge(task, **arguments)


OTHER = make_task(action=ShellAction(("run --old",)))  # the task as it was defined before

# (id, changes to the up-to-date facts, expected kind, fragment of the reason's text)
CASES = [
    ("up to date", {}, None, None),
    # rule 1
    ("forced", {"forced": "--force"}, FORCED, "forced (--force)"),
    ("forced by -B", {"forced": "-B"}, FORCED, "forced (-B)"),
    # rule 2
    ("always", {"task": make_task(always=True)}, ALWAYS, "always = true"),
    ("no outputs", {"task": make_task(outputs=())}, ALWAYS, "no outputs"),
    # rule 3
    ("output missing", {"outputs": {"out.csv": None}}, OUTPUT_MISSING, "output out.csv is missing"),
    ("output not even statted", {"outputs": {}}, OUTPUT_MISSING, "output out.csv is missing"),
    (
        "second output missing",
        {"task": make_task(outputs=("a", "b")), "outputs": {"a": OUT, "b": None}},
        OUTPUT_MISSING,
        "output b is missing",
    ),
    # rule 4
    (
        "last run failed",
        {"record": record(make_task(), status="failed")},
        LAST_RUN_FAILED,
        "its last run failed",
    ),
    (
        "last run interrupted",
        {"record": record(make_task(), status="interrupted")},
        LAST_RUN_FAILED,
        "its last run was interrupted",
    ),
    # rule 5
    (
        "definition changed",
        {"record": record(OTHER)},
        DEFINITION_CHANGED,
        "its command changed since its last successful run",
    ),
    # rule 6
    (
        "upstream runs",
        {"upstream_running": "extract"},
        UPSTREAM_RUNS,
        "upstream task extract will run",
    ),
    # rule 7, the "newer" half
    (
        "input newer than output",
        {"inputs": {"in.csv": (3_000, 10)}},
        INPUT_CHANGED,
        "input in.csv is newer than output out.csv",
    ),
    (
        "equal mtimes are not stale",
        {
            "inputs": {"in.csv": (2_000, 10)},
            "record": record(make_task(), stamps=(("in.csv", 2_000, 10),)),
        },
        None,
        None,
    ),
    ("input newer by one ns", {"inputs": {"in.csv": (2_001, 10)}}, INPUT_CHANGED, "is newer than"),
    (
        "input newer than the oldest output",
        {
            "task": make_task(outputs=("new", "old")),
            "outputs": {"new": (9_000, 1), "old": OUT},
            "inputs": {"in.csv": (3_000, 10)},
        },
        INPUT_CHANGED,
        "input in.csv is newer than output old",
    ),
    ("input missing", {"inputs": {"in.csv": None}}, INPUT_CHANGED, "input in.csv is missing"),
    # rule 7, the "stamp differs" half
    (
        "input restored with an older time (cp -p)",
        {"inputs": {"in.csv": (500, 10)}},
        INPUT_CHANGED,
        "input in.csv changed since the last run",
    ),
    (
        "input edited within the same ns, size differs",
        {"inputs": {"in.csv": (1_000, 11)}},
        INPUT_CHANGED,
        "input in.csv changed since the last run",
    ),
    (
        "new glob-matched input",
        {
            "task": make_task(inputs=("data/*.csv",)),
            "record": record(make_task(inputs=("data/*.csv",)), stamps=(("data/a.csv", *IN),)),
            "inputs": {"data/a.csv": IN, "data/b.csv": IN},
        },
        INPUT_CHANGED,
        "input data/b.csv is new since the last run",
    ),
    (
        "removed glob-matched input",
        {
            "task": make_task(inputs=("data/*.csv",)),
            "record": record(
                make_task(inputs=("data/*.csv",)), stamps=(("data/a.csv", *IN), ("data/b.csv", *IN))
            ),
            "inputs": {"data/a.csv": IN},
        },
        INPUT_CHANGED,
        "input data/b.csv is gone since the last run",
    ),
    # no record: judged like make (rules 1-3, 6 and the newer half of 7)
    ("no record, up to date", {"record": None}, None, None),
    (
        "no record, older restored input",
        {"record": None, "inputs": {"in.csv": (500, 10)}},
        None,
        None,
    ),
    ("no record, size differs", {"record": None, "inputs": {"in.csv": (1_000, 99)}}, None, None),
    (
        "no record, input newer",
        {"record": None, "inputs": {"in.csv": (3_000, 10)}},
        INPUT_CHANGED,
        "is newer than",
    ),
    (
        "no record, output missing",
        {"record": None, "outputs": {"out.csv": None}},
        OUTPUT_MISSING,
        None,
    ),
    ("no record, upstream runs", {"record": None, "upstream_running": "u"}, UPSTREAM_RUNS, None),
    # groups: only forced or upstream make them run
    ("group", {"task": make_task(action=None, outputs=()), "record": None}, None, None),
    (
        "group with a failed record",
        {
            "task": make_task(action=None, outputs=()),
            "record": record(make_task(action=None, outputs=()), status="failed"),
        },
        None,
        None,
    ),
    (
        "group with a newer input",
        {"task": make_task(action=None, outputs=()), "inputs": {"in.csv": (9_000, 1)}},
        None,
        None,
    ),
    ("group forced", {"task": make_task(action=None, outputs=()), "forced": "-B"}, FORCED, None),
    (
        "group upstream runs",
        {"task": make_task(action=None, outputs=()), "upstream_running": "a"},
        UPSTREAM_RUNS,
        "upstream task a will run",
    ),
    # rule order: the first rule that applies is the reason
    ("forced beats always", {"forced": "--force", "task": make_task(always=True)}, FORCED, None),
    (
        "forced beats missing output",
        {"forced": "--force", "outputs": {"out.csv": None}},
        FORCED,
        None,
    ),
    (
        "always beats missing output",
        {"task": make_task(always=True), "outputs": {"out.csv": None}},
        ALWAYS,
        None,
    ),
    (
        "missing output beats failed last run",
        {"outputs": {"out.csv": None}, "record": record(make_task(), status="failed")},
        OUTPUT_MISSING,
        None,
    ),
    (
        "failed beats definition changed",
        {"record": record(OTHER, status="failed")},
        LAST_RUN_FAILED,
        None,
    ),
    (
        "definition changed beats upstream runs",
        {"record": record(OTHER), "upstream_running": "u"},
        DEFINITION_CHANGED,
        None,
    ),
    (
        "upstream runs beats input newer",
        {"upstream_running": "u", "inputs": {"in.csv": (3_000, 10)}},
        UPSTREAM_RUNS,
        None,
    ),
    (
        "input newer beats stamp differs",
        {"inputs": {"in.csv": (3_000, 99)}},
        INPUT_CHANGED,
        "is newer than",
    ),
]


@pytest.mark.parametrize(
    ("changes", "expected", "text"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_judge(changes, expected, text):
    found = reason(**changes)
    assert (found and found.kind) == expected, found
    if text is not None:
        assert text in found.text


@pytest.mark.parametrize(
    ("before", "text"),
    [
        ({"action": ShellAction(("run --old",))}, "its command changed"),
        ({"action": ShellAction(("run",), "/bin/bash")}, "its command changed"),
        ({"env": (("A", "1"),)}, "its environment changed"),
        ({"cwd": "sub"}, "its working directory changed"),
        ({"inputs": ("in.csv", "old.csv")}, "its inputs list changed"),
        ({"outputs": ("old.csv",)}, "its outputs list changed"),
        (
            {"action": ShellAction(("x",)), "env": (("A", "1"),)},
            "its command and environment changed",
        ),
    ],
)
def test_definition_change_names_what_changed(before, text):
    found = reason(record=record(make_task(**before)))
    assert found.kind == DEFINITION_CHANGED
    assert found.text == f"{text} since its last successful run"


def test_definition_change_from_an_unreadable_fingerprint():
    found = reason(record=record(make_task(), fingerprint="0123abcd"))
    assert found.kind == DEFINITION_CHANGED
    assert found.text == "its definition changed since its last successful run"


def test_help_retries_timeout_are_not_part_of_the_definition():
    now = make_task(help="new", retries=3, timeout=5.0, retry_delay=0.0, after=("x",))
    assert reason(task=now, record=record(make_task())) is None


def test_directory_input_stamp_is_compared_like_a_file():
    # a directory's stamp is (newest mtime inside, file count): a deleted file changes the count
    task = make_task(inputs=("data",))
    before = record(task, stamps=(("data", 1_000, 3),))
    assert reason(task=task, record=before, inputs={"data": (1_000, 3)}) is None
    assert reason(task=task, record=before, inputs={"data": (1_000, 2)}).kind == INPUT_CHANGED


# --- plan(): the whole selection --------------------------------------------------------------


def chain_graph():
    """a -> b -> c, d reads a and b, g is a group after c, x stands alone."""
    tasks = [
        Task("a", ShellAction(("a",)), (), ("a.txt",)),
        Task("b", ShellAction(("b",)), ("a.txt",), ("b.txt",)),
        Task("c", ShellAction(("c",)), ("b.txt",), ("c.txt",)),
        Task("d", ShellAction(("d",)), ("a.txt", "b.txt"), ("d.txt",)),
        Task("g", None, (), (), ("c",)),
        Task("x", ShellAction(("x",)), ("in.txt",), ("x.txt",)),
    ]
    return Graph.from_tasks(tasks)


def up_to_date_facts(graph):
    """Snapshots and records under which every task of graph is up to date."""
    inputs, outputs, records = {}, {}, {}
    for name, task in graph.tasks.items():
        inputs[name] = {path: IN for path in task.inputs}
        outputs[name] = {path: OUT for path in task.outputs}
        records[name] = record(task)
    return inputs, outputs, records


def run_plan(graph, selected=None, *, forced=None, change=None):
    inputs, outputs, records = up_to_date_facts(graph)
    if change:
        change(inputs, outputs, records)
    return planning.plan(
        graph,
        set(graph.order) if selected is None else selected,
        inputs=inputs,
        outputs=outputs,
        records=records,
        forced=forced,
    )


def names(steps):
    return [step.name for step in steps]


def test_nothing_stale():
    graph = chain_graph()
    result = run_plan(graph)
    assert result.steps == ()
    assert set(result.up_to_date) == set(graph.order)
    assert result.upstream == {}


def test_upstream_runs_propagates_downstream_in_topological_order():
    graph = chain_graph()

    def missing_a(inputs, outputs, records):
        outputs["a"]["a.txt"] = None

    result = run_plan(graph, change=missing_a)
    assert {s.name: s.reason.kind for s in result.steps} == {
        "a": OUTPUT_MISSING,
        "b": UPSTREAM_RUNS,
        "c": UPSTREAM_RUNS,
        "d": UPSTREAM_RUNS,
        "g": UPSTREAM_RUNS,
    }
    assert names(result.steps) == [name for name in graph.order if name != "x"]
    position = {name: index for index, name in enumerate(names(result.steps))}
    for name, upstream in result.upstream.items():
        for up in upstream:
            assert position[up] < position[name]
    assert set(result.upstream["d"]) == {"a", "b"}
    assert result.up_to_date == ("x",)
    by_name = {s.name: s for s in result.steps}
    assert by_name["c"].reason.text == "upstream task b will run"


def test_plan_upstream_lists_only_steps():
    graph = chain_graph()

    def b_failed(inputs, outputs, records):
        # b is stale on its own; a is up to date
        records["b"] = record(graph.tasks["b"], status="failed")

    result = run_plan(graph, change=b_failed)
    assert names(result.steps) == [name for name in graph.order if name in {"b", "c", "d", "g"}]
    # a is up to date: no step waits for it, though b and d read its output
    assert result.upstream == {"b": (), "c": ("b",), "d": ("b",), "g": ("c",)}
    assert set(result.up_to_date) == {"a", "x"}
    assert set(result.upstream) == set(names(result.steps))


def test_work_leaves_out_groups():
    graph = chain_graph()
    result = run_plan(graph, forced={"c": "--force"})
    assert names(result.steps) == ["c", "g"]
    assert names(result.work) == ["c"]
    assert result.steps[0].reason == planning.Reason(FORCED, "forced (--force)")


def test_unselected_tasks_are_not_judged():
    graph = chain_graph()

    def everything_missing(inputs, outputs, records):
        for stamps in outputs.values():
            for path in stamps:
                stamps[path] = None

    result = run_plan(graph, {"x"}, change=everything_missing)
    assert names(result.steps) == ["x"]
    assert result.up_to_date == ()


def test_forced_task_makes_its_downstream_run_but_not_its_upstream():
    graph = chain_graph()
    result = run_plan(graph, forced={"b": "--force"})
    assert {s.name: s.reason.kind for s in result.steps} == {
        "b": FORCED,
        "c": UPSTREAM_RUNS,
        "d": UPSTREAM_RUNS,
        "g": UPSTREAM_RUNS,
    }
    assert "a" in result.up_to_date


def test_each_step_reports_its_own_reason_before_upstream():
    graph = chain_graph()

    def two_reasons(inputs, outputs, records):
        outputs["a"]["a.txt"] = None
        outputs["c"]["c.txt"] = None

    result = run_plan(graph, change=two_reasons)
    by_name = {s.name: s.reason for s in result.steps}
    assert by_name["c"].kind == OUTPUT_MISSING
    assert by_name["b"].kind == UPSTREAM_RUNS


def test_a_record_with_the_environment_hashed_in_file_order_still_matches():
    """Records written before the environment was hashed sorted must not rerun the task."""
    from dagmake.task import ShellAction, Task

    task = Task("a", ShellAction(("true",)), env=(("Y", "2"), ("X", "1")))
    legacy = task._fingerprint(env_in_order=True)
    assert legacy != task.fingerprint
    assert task.has_definition(legacy)
    assert task.has_definition(task.fingerprint)
    other = Task("a", ShellAction(("true",)), env=(("Y", "3"), ("X", "1")))
    assert not other.has_definition(legacy)


def test_a_directory_recorded_before_its_stamp_had_a_checksum_still_matches():
    # (newest, count) then, (newest, count, checksum) now: upgrading reruns nothing
    task = make_task(inputs=("data",))
    legacy = Record(task.name, task.fingerprint, "ok", 100.0, 1.5, 1, {"data": (1_000, 2)})
    assert (
        judge(task, **facts(task=task, record=legacy, inputs={"data": (1_000, 2, 77)})[1]) is None
    )
    changed = judge(task, **facts(task=task, record=legacy, inputs={"data": (1_000, 3, 77)})[1])
    assert changed.kind == INPUT_CHANGED
    recorded = Record(task.name, task.fingerprint, "ok", 100.0, 1.5, 1, {"data": (1_000, 2, 77)})
    changed = judge(task, **facts(task=task, record=recorded, inputs={"data": (1_000, 2, 78)})[1])
    assert changed.text == "input data changed since the last run"


def test_a_reason_shows_control_characters_of_a_path_escaped():
    from dagmake.plan import Reason

    reason = Reason("input", "input data/esc\x1b[31mred\nx\udcff.txt is newer than output c")
    assert reason.text == "input data/esc\\x1b[31mred\\nx\\xff.txt is newer than output c"
    plain = "input data/été.txt is newer than output c"
    assert Reason("input", plain).text == plain  # unicode stays as it is
