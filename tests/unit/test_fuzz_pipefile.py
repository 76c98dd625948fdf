"""Random Pipefiles load, or fail with dagmake's own error and a message: never another error."""

import contextlib
import io
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from dagmake import cli
from dagmake.errors import DagmakeError, GraphError
from dagmake.graph import Graph
from dagmake.pipefile import parse
from strategies import documents, graph_toml, graphs, toml

PIPEFILE = "/nonexistent/project/Pipefile.toml"


def load(source: bytes):
    """What load() does after reading the file: parse, validate, build the graph.

    Returns the Graph, or the DagmakeError, which must carry a message.
    """
    try:
        _, tasks = parse(source, PIPEFILE, {})
        return Graph.from_tasks(tasks, file="Pipefile.toml")
    except DagmakeError as error:
        assert error.message.strip(), repr(error)
        assert str(error).strip()
        return error


def assert_topological(graph: Graph) -> None:
    position = {name: index for index, name in enumerate(graph.order)}
    assert set(position) == set(graph.tasks)
    for name, upstream in graph.upstream.items():
        for up in upstream:
            assert position[up] < position[name], (up, name)


@settings(max_examples=300, deadline=None)
@given(documents())
def test_random_documents_load_or_fail_with_a_message(document):
    result = load(toml(document).encode())
    if isinstance(result, Graph):
        assert_topological(result)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_fail_with_a_message(data):
    load(data)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="[]{}=.\"'\n #abc*/,:-01", max_size=80))
def test_random_toml_looking_text_fails_with_a_message(text):
    load(text.encode())


@settings(max_examples=200, deadline=None)
@given(documents())
def test_the_command_line_never_crashes_on_a_random_pipefile(tmp_path_factory, document):
    # -n, -l and --graph also snapshot the (empty) project and render: still only our errors
    root = tmp_path_factory.mktemp("fuzz")
    pipefile = root / "Pipefile.toml"
    pipefile.write_text(toml(document), encoding="utf-8")
    for flags in (["-n"], ["-l"], ["--graph"], ["--graph", "mermaid"]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["-f", str(pipefile), *flags])
        assert code in (0, 2), (flags, out.getvalue(), err.getvalue())
        if code == 2:
            assert err.getvalue().startswith("dagmake: "), err.getvalue()
        assert "Traceback" not in err.getvalue()


# --- random graphs: whether they load is predictable ---------------------------------------


def _related(a: str, b: str) -> bool:
    """One path is the other, or lies inside it (outputs may be directories)."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def expected_problems(tasks) -> dict[str, set]:
    problems: dict[str, set] = {
        "duplicate": set(),
        "nested": set(),
        "after": set(),
        "own": set(),
        "cycle": set(),
    }
    for a, b in itertools.combinations(tasks, 2):
        for output in set(a["outputs"]) & set(b["outputs"]):
            problems["duplicate"].add(output)
        for x in a["outputs"]:
            for y in b["outputs"]:
                if x != y and _related(x, y):
                    problems["nested"].add(max(x, y, key=len))
    for task in tasks:
        if "nope" in task["after"]:
            problems["after"].add(task["name"])
        if task["name"] in task["after"]:
            problems["cycle"].add(True)
        if any(_related(i, o) for i in task["inputs"] for o in task["outputs"]):
            problems["own"].add(task["name"])
    edges = data_flow(tasks)
    if _has_cycle(edges):
        problems["cycle"].add(True)
    return {kind: found for kind, found in problems.items() if found}


def data_flow(tasks) -> set[tuple[str, str]]:
    """(a, b) when b reads what a writes, or lists a in `after`."""
    edges = set()
    for a in tasks:
        for b in tasks:
            if a is b:
                continue
            if a["name"] in b["after"] or any(
                _related(i, o) for i in b["inputs"] for o in a["outputs"]
            ):
                edges.add((a["name"], b["name"]))
    return edges


def _has_cycle(edges) -> bool:
    from graphlib import CycleError, TopologicalSorter

    sorter = TopologicalSorter()
    for a, b in edges:
        sorter.add(b, a)
    try:
        tuple(sorter.static_order())
    except CycleError:
        return True
    return False


@settings(max_examples=400, deadline=None)
@given(graphs())
def test_random_graphs_load_exactly_when_they_are_valid(tasks):
    result = load(graph_toml(tasks).encode())
    problems = expected_problems(tasks)
    if not problems:
        assert isinstance(result, Graph), result
        assert_topological(result)
        for a, b in data_flow(tasks):
            assert a in result.upstream[b], (a, b)
        return
    assert isinstance(result, GraphError), (problems, result)
    message = result.message
    if message.startswith("dependency cycle: "):
        cycle = message.removeprefix("dependency cycle: ").split(" -> ")
        assert cycle[0] == cycle[-1], message
        if len(cycle) == 2:  # a task that names itself in `after`, found as `after` is read
            assert any(t["name"] == cycle[0] and cycle[0] in t["after"] for t in tasks), message
        else:
            assert set(problems) == {"cycle"}, (problems, message)
            edges = data_flow(tasks)
            assert all(step in edges for step in itertools.pairwise(cycle)), (message, edges)
    elif "is declared by both" in message:
        assert "duplicate" in problems, message
        output = message.split("'")[1]
        owners = {t["name"] for t in tasks if output in t["outputs"]}
        named = set(message.split("'")[3::2])
        assert len(owners) >= 2 and len(named) == 2 and named <= owners, message
    elif " lies inside " in message:
        assert message.split("'")[1] in problems.get("nested", ()), (problems, message)
    elif message.startswith("'after' names unknown task"):
        assert "after" in problems, message
    else:
        assert "matches its own output" in message, message
        assert result.task in problems.get("own", ()), (problems, message)
