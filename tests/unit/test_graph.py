"""The DAG inferred from inputs, outputs and `after`; target selection."""

import pytest

from dagmake.errors import GraphError, TargetError
from dagmake.graph import Graph
from dagmake.task import ShellAction, Task


def task(name, inputs=(), outputs=(), after=()):
    return Task(name, ShellAction(("true",)), inputs, outputs, after)


def group(name, after=(), inputs=()):
    return Task(name, None, inputs, (), after)


def graph(*tasks):
    return Graph.from_tasks(tasks)


# (id, the consumer's inputs, the producer's outputs): each makes "use" downstream of "make"
EDGES = [
    ("exact file", ["data/a.csv"], ["data/a.csv"]),
    ("input inside an output directory", ["data/raw/users.csv"], ["data/raw"]),
    ("input deep inside an output directory", ["data/raw/x/y/z.csv"], ["data"]),
    ("input directory containing an output", ["data"], ["data/raw/users.csv"]),
    ("glob matching an output", ["data/*.csv"], ["data/users.csv"]),
    ("recursive glob matching an output", ["data/**/*.csv"], ["data/raw/2024/users.csv"]),
    ("glob with ? and [ab]", ["data/part-?[ab].csv"], ["data/part-1b.csv"]),
    ("glob inside an output directory", ["parts/*.csv"], ["parts"]),
    ("glob deep inside an output directory", ["data/raw/*.csv"], ["data"]),
]


@pytest.mark.parametrize(
    ("inputs", "outputs"), [case[1:] for case in EDGES], ids=[case[0] for case in EDGES]
)
def test_edge_from_files(inputs, outputs):
    g = graph(task("use", inputs=inputs, outputs=["result"]), task("make", outputs=outputs))
    assert g.upstream["use"] == ("make",)
    assert g.upstream["make"] == ()
    assert g.order == ("make", "use")
    assert g.downstream["make"] == ("use",)


# (id, inputs, outputs) that must NOT make an edge
NON_EDGES = [
    ("sibling with a common prefix", ["data/rawfile.csv"], ["data/raw"]),
    ("directory with a common prefix", ["data2"], ["data/a.csv"]),
    ("glob in another directory", ["data/*.csv"], ["other/users.csv"]),
    ("single star stays in one directory", ["data/*.csv"], ["data/raw/users.csv"]),
    ("glob does not match a dotfile", ["data/*"], ["data/.hidden"]),
    ("different extension", ["data/*.csv"], ["data/users.tsv"]),
    ("a file glob is not a directory's reader", ["data/*.csv"], ["data/raw"]),
    ("no guess that an output is a directory", ["**/*.csv"], ["report"]),
    ("a prefix sibling of the glob's directory", ["parts/*.csv"], ["parts2"]),
]


@pytest.mark.parametrize(
    ("inputs", "outputs"), [case[1:] for case in NON_EDGES], ids=[case[0] for case in NON_EDGES]
)
def test_no_edge(inputs, outputs):
    g = graph(task("use", inputs=inputs, outputs=["result"]), task("make", outputs=outputs))
    assert g.upstream["use"] == ()


def test_edge_from_after():
    g = graph(task("load", after=["extract"]), task("extract"))
    assert g.upstream["load"] == ("extract",)
    assert g.order == ("extract", "load")


def test_group_orders_its_after_tasks():
    g = graph(group("all", after=["a", "b"]), task("a", outputs=["a.txt"]), task("b"))
    assert set(g.upstream["all"]) == {"a", "b"}
    assert g.order[-1] == "all"


def test_edges_through_several_outputs_are_listed_once():
    g = graph(
        task("make", outputs=["d/a.csv", "d/b.csv"]),
        task("use", inputs=["d/a.csv", "d/*.csv", "d"], outputs=["r"], after=["make"]),
    )
    assert g.upstream["use"] == ("make",)


def test_order_is_topological():
    g = graph(
        task("d", inputs=["b.txt", "c.txt"], outputs=["d.txt"]),
        task("c", inputs=["a.txt"], outputs=["c.txt"]),
        task("b", inputs=["a.txt"], outputs=["b.txt"]),
        task("a", outputs=["a.txt"]),
    )
    position = {name: index for index, name in enumerate(g.order)}
    for name, upstream in g.upstream.items():
        for up in upstream:
            assert position[up] < position[name]


def test_duplicate_output_names_both_tasks():
    with pytest.raises(GraphError) as caught:
        graph(task("first", outputs=["out.csv"]), task("second", outputs=["x", "out.csv"]))
    assert "output 'out.csv' is declared by both 'first' and 'second'" in str(caught.value)


def test_same_output_twice_in_one_task_is_not_a_duplicate():
    assert graph(task("a", outputs=["o", "o"])).order == ("a",)


def test_unknown_after_suggests_close_match():
    with pytest.raises(GraphError) as caught:
        graph(task("extract_users"), task("load", after=["extract_user"]))
    message = str(caught.value)
    assert "task 'load'" in message
    assert "'after' names unknown task 'extract_user', did you mean 'extract_users'?" in message


def test_unknown_after_without_close_match():
    with pytest.raises(GraphError) as caught:
        graph(task("a"), task("b", after=["zzzzz"]))
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    ("tasks", "cycle"),
    [
        (
            [
                task("a", inputs=["c.txt"], outputs=["a.txt"]),
                task("b", inputs=["a.txt"], outputs=["b.txt"]),
                task("c", inputs=["b.txt"], outputs=["c.txt"]),
            ],
            "a -> b -> c -> a",
        ),
        (
            # listed in another order: the cycle still starts at the first task defined
            [
                task("b", inputs=["a.txt"], outputs=["b.txt"]),
                task("c", inputs=["b.txt"], outputs=["c.txt"]),
                task("a", inputs=["c.txt"], outputs=["a.txt"]),
            ],
            "b -> c -> a -> b",
        ),
        ([task("x", after=["y"]), task("y", after=["x"])], "x -> y -> x"),
        (
            # a -> b by file, b -> c by after, c -> a by a directory
            [
                task("a", inputs=["out"], outputs=["a.txt"]),
                task("b", inputs=["a.txt"], outputs=["b.txt"]),
                task("c", after=["b"], outputs=["out/c.txt"]),
            ],
            "a -> b -> c -> a",
        ),
        (
            # a task outside the cycle is not in the message
            [
                task("start", outputs=["s.txt"]),
                task("p", inputs=["s.txt", "q.txt"], outputs=["p.txt"]),
                task("q", inputs=["p.txt"], outputs=["q.txt"]),
            ],
            "p -> q -> p",
        ),
    ],
)
def test_cycle_is_listed_as_data_flows(tasks, cycle):
    with pytest.raises(GraphError) as caught:
        Graph.from_tasks(tasks)
    assert f"dependency cycle: {cycle}" in str(caught.value)
    assert caught.value.task == cycle.split(" ")[0]


def test_input_glob_matching_own_output_is_an_error():
    with pytest.raises(GraphError) as caught:
        graph(task("a", inputs=["data/*.csv"], outputs=["data/out.csv"]))
    assert "input 'data/*.csv' matches its own output" in str(caught.value)
    assert caught.value.task == "a"


def test_input_equal_to_own_output_is_an_error():
    with pytest.raises(GraphError, match="matches its own output"):
        graph(task("a", inputs=["x.csv"], outputs=["x.csv"]))


def test_errors_carry_the_pipefile_and_line_from_locate():
    located = []

    def locate(task_name, key):
        located.append((task_name, key))
        return 7

    with pytest.raises(GraphError) as caught:
        Graph.from_tasks([task("a", after=["b"])], file="Pipefile.toml", locate=locate)
    assert str(caught.value).startswith("Pipefile.toml:7: task 'a': ")
    assert located == [("a", "after")]


def test_to_data_roundtrip():
    tasks = (task("a", outputs=["a.txt"]), task("b", inputs=["a.txt"]))
    g = graph(*tasks)
    again = Graph.from_data(tasks, g.to_data())
    assert (again.order, again.upstream, again.producers) == (g.order, g.upstream, g.producers)


# --- selecting targets ----------------------------------------------------------------------


@pytest.fixture
def pipeline():
    r"""extract_users   extract_orders
       |                 |
    clean_users      clean_orders
           \            /
              join_data        report (after join_data)
    """
    return graph(
        task("extract_users", outputs=["data/raw/users.csv"]),
        task("extract_orders", outputs=["data/raw/orders.csv"]),
        task("clean_users", inputs=["data/raw/users.csv"], outputs=["data/clean/users.csv"]),
        task("clean_orders", inputs=["data/raw/orders.csv"], outputs=["data/clean/orders.csv"]),
        task("join_data", inputs=["data/clean"], outputs=["data/joined.csv"]),
        task("report", after=["join_data"]),
    )


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        (["extract_users"], {"extract_users"}),
        (["clean_users"], {"extract_users", "clean_users"}),
        (
            ["join_data"],
            {"extract_users", "extract_orders", "clean_users", "clean_orders", "join_data"},
        ),
        (["clean_*"], {"extract_users", "extract_orders", "clean_users", "clean_orders"}),
        (["extract_?sers"], {"extract_users"}),
        (["data/clean/users.csv"], {"extract_users", "clean_users"}),
        (["./data/raw/orders.csv"], {"extract_orders"}),
        (["extract_users", "clean_orders"], {"extract_users", "extract_orders", "clean_orders"}),
        (
            ["report"],
            {
                "extract_users",
                "extract_orders",
                "clean_users",
                "clean_orders",
                "join_data",
                "report",
            },
        ),
    ],
)
def test_select(pipeline, targets, expected):
    assert pipeline.select(targets) == expected


def test_select_output_path_from_a_subdirectory(pipeline, tmp_path, monkeypatch):
    (tmp_path / "data" / "clean").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "data" / "clean")
    assert pipeline.select(["users.csv"], root=str(tmp_path)) == {"extract_users", "clean_users"}


@pytest.mark.parametrize(
    ("target", "suggestion"),
    [
        ("clean_user", "did you mean 'clean_users'"),
        ("data/joined.cvs", "did you mean 'data/joined.csv'?"),
        ("nothing_like_it_at_all", None),
        ("zz_*", None),
    ],
)
def test_unknown_target(pipeline, target, suggestion):
    with pytest.raises(TargetError) as caught:
        pipeline.select([target])
    message = str(caught.value)
    assert f"unknown target '{target}'" in message
    if suggestion:
        assert suggestion in message
    else:
        assert "did you mean" not in message
    assert caught.value.exit_code == 2


def test_upstream_closure(pipeline):
    assert pipeline.upstream_closure(["clean_orders"]) == {"clean_orders", "extract_orders"}
    assert pipeline.upstream_closure([]) == set()


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["extract_users"], {"extract_users", "clean_users", "join_data", "report"}),
        (["clean_orders"], {"clean_orders", "join_data", "report"}),
        (["report"], {"report"}),
        (
            ["extract_users", "extract_orders"],
            {
                "extract_users",
                "extract_orders",
                "clean_users",
                "clean_orders",
                "join_data",
                "report",
            },
        ),
    ],
)
def test_downstream_closure(pipeline, names, expected):
    assert pipeline.downstream_closure(names) == expected


def test_match_what_names_the_kind_of_target(pipeline):
    with pytest.raises(TargetError, match="unknown task to force 'nope'"):
        pipeline.match("nope", what="task to force")


def test_after_naming_the_task_itself_is_a_cycle():
    from dagmake.errors import GraphError
    from dagmake.graph import Graph
    from dagmake.task import ShellAction, Task

    with pytest.raises(GraphError, match=r"dependency cycle: a -> a"):
        Graph.from_tasks([Task("a", ShellAction(("true",)), after=("a",))])


def test_a_file_inside_an_output_directory_names_its_producer():
    from dagmake.graph import Graph
    from dagmake.task import ShellAction, Task

    graph = Graph.from_tasks([Task("unpack", ShellAction(("true",)), outputs=("data/raw",))])
    assert graph.match("data/raw/users.csv") == ["unpack"]
    assert graph.match("./data/raw") == ["unpack"]


def test_outputs_matching_a_glob():
    g = graph(
        task("a", outputs=["data/users.csv", "data/raw/2024/orders.csv", "data/.hidden.csv"]),
        task("b", outputs=["database/x.csv", "top.csv", "data/notes.txt"]),
    )
    assert g.outputs_matching("data/*.csv") == ["data/users.csv"]
    assert g.outputs_matching("data/**/*.csv") == ["data/raw/2024/orders.csv", "data/users.csv"]
    assert g.outputs_matching("*.csv") == ["top.csv"]
    assert g.outputs_matching("**/*.csv") == [
        "data/raw/2024/orders.csv",
        "data/users.csv",
        "database/x.csv",
        "top.csv",
    ]
    assert g.outputs_matching("data/raw/*/*.csv") == ["data/raw/2024/orders.csv"]
    assert g.outputs_matching("nothing/*") == []


class MatchSpy:
    """Stands in for compile_glob and records every path a glob was tried against."""

    def __init__(self, monkeypatch):
        import dagmake.files
        import dagmake.graph

        self.tried = []
        real_compile = dagmake.files.compile_glob
        for module in (dagmake.files, dagmake.graph):
            monkeypatch.setattr(module, "compile_glob", lambda p: self.Regex(self, real_compile(p)))

    class Regex:
        def __init__(self, spy, regex):
            self.spy = spy
            self.regex = regex

        def match(self, path):
            self.spy.tried.append(path)
            return self.regex.match(path)


def test_planning_tries_each_glob_only_against_outputs_under_its_directory(monkeypatch, tmp_path):
    import dagmake

    lines = []
    for i in range(100):
        (tmp_path / "src" / f"d{i}").mkdir(parents=True)
        (tmp_path / "src" / f"d{i}" / "a.txt").write_text("a")
        lines.append(
            f'[tasks.t{i}]\ncmd = "true"\ninputs = ["src/d{i}/*.txt"]\noutputs = ["out/{i}.txt"]\n'
        )
    (tmp_path / "Pipefile.toml").write_text("\n".join(lines))
    project = dagmake.load(str(tmp_path))
    spy = MatchSpy(monkeypatch)
    assert len(dagmake.plan(project).steps) == 100
    # each glob tries the one file it finds on disk, and no declared output (none is under src/)
    assert sorted(spy.tried) == sorted(f"src/d{i}/a.txt" for i in range(100))


def test_a_glob_is_matched_only_against_outputs_under_its_literal_directory(monkeypatch):
    """One glob per task must not mean every output tried for every task (quadratic)."""
    spy = MatchSpy(monkeypatch)
    tried = spy.tried
    tasks = [
        task(f"t{i}", inputs=[f"src/d{i}/*.txt"], outputs=[f"out/d{i}/x.txt"]) for i in range(200)
    ]
    tasks += [task("sum", inputs=["out/d7/*.txt"], outputs=["sum.txt"])]
    g = graph(*tasks)
    assert g.upstream["sum"] == ("t7",)
    assert tried == ["out/d7/x.txt"]
    tried.clear()
    assert g.outputs_matching("out/d42/*.txt") == ["out/d42/x.txt"]
    assert tried == ["out/d42/x.txt"]


def test_a_recursive_glob_beside_a_file_output_is_no_cycle():
    g = graph(
        task("a", inputs=["**/*.csv"], outputs=["a.out"]),
        task("b", inputs=["a.out", "**/*.json"], outputs=["b.txt"]),
    )
    assert g.upstream == {"a": (), "b": ("a",)}


def test_an_output_inside_another_tasks_output_directory_is_an_error():
    with pytest.raises(GraphError) as raised:
        graph(task("a", outputs=["data"]), task("b", outputs=["data/raw/x.csv"]))
    assert raised.value.message == "output 'data/raw/x.csv' lies inside 'data', an output of 'a'"


def test_a_task_may_list_a_directory_and_a_file_inside_it():
    g = graph(task("a", outputs=["data", "data/index.csv"]), task("b", inputs=["data/index.csv"]))
    assert g.upstream["b"] == ("a",)
