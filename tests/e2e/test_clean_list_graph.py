"""--clean deletes declared outputs and nothing else; --list and --graph show, never write."""

import os

import pytest

from conftest import T0, Project, assert_ran

PIPEFILE = """\
[tasks.extract]
help = "Copy the export"
cmd = "cp export.csv raw.csv"
inputs = ["export.csv"]
outputs = ["raw.csv"]

[tasks.split]
help = "One file per row"
cmd = "mkdir -p parts/deep && cp raw.csv parts/a.csv && cp raw.csv parts/deep/b.csv"
inputs = ["raw.csv"]
outputs = ["parts"]

[tasks.report]
cmd = "ls parts > report.txt"
inputs = ["parts"]
outputs = ["report.txt"]

[tasks.side]
cmd = "cp side_in.txt side.txt"
inputs = ["side_in.txt"]
outputs = ["side.txt"]
"""


def pipeline(project: Project) -> None:
    project.pipefile(PIPEFILE)
    project.write("export.csv", "id\n", ns=T0)
    project.write("side_in.txt", "s\n", ns=T0)
    project.write("notes/keep.md", "mine\n")


def tree(project: Project) -> set[str]:
    """Every file and directory under the project, except .dagmake/."""
    found = set()
    for directory, dirs, names in os.walk(project.root):
        dirs[:] = [d for d in dirs if d != ".dagmake"]
        for name in dirs + names:
            found.add(os.path.relpath(os.path.join(directory, name), project.root))
    return found


def state_bytes(project: Project) -> dict[str, bytes]:
    found = {}
    for directory, _, names in os.walk(project.path(".dagmake")):
        for name in names:
            with open(os.path.join(directory, name), "rb") as f:
                found[os.path.join(directory, name)] = f.read()
    return found


def test_clean_deletes_declared_outputs_and_nothing_else(project):
    pipeline(project)
    before = tree(project)
    assert_ran(project.run(), ["extract", "split", "report", "side"])
    result = project.run("--clean")
    assert result.returncode == 0, result
    assert sorted(result.stdout.splitlines()) == [
        "removed parts",
        "removed raw.csv",
        "removed report.txt",
        "removed side.txt",
    ]
    assert tree(project) == before
    # and then the build starts over
    assert_ran(project.run(), ["extract", "split", "report", "side"])


def test_clean_with_nothing_built(project):
    pipeline(project)
    result = project.run("--clean")
    assert result.returncode == 0, result
    assert result.stdout == "dagmake: nothing to clean\n"


def test_clean_an_output_under_a_file_that_is_no_directory_is_nothing_to_clean(project):
    project.write("f", "a file, where the output's directory would be\n")
    project.pipefile('[tasks.a]\ncmd = "true"\noutputs = ["f/x"]\n')
    for flags in (["--clean"], ["--clean", "-n"]):
        result = project.run(*flags)
        assert result.returncode == 0, result
        assert result.stdout == "dagmake: nothing to clean\n", result
    assert project.read("f") == "a file, where the output's directory would be\n"


def test_clean_one_task(project):
    pipeline(project)
    assert_ran(project.run(), ["extract", "split", "report", "side"])
    result = project.run("--clean", "split")
    assert result.returncode == 0, result
    assert result.stdout == "removed parts\n"
    assert not project.exists("parts")
    for kept in ("raw.csv", "report.txt", "side.txt"):
        assert project.exists(kept)


def test_clean_a_glob_of_tasks(project):
    pipeline(project)
    assert_ran(project.run(), ["extract", "split", "report", "side"])
    assert project.run("--clean", "s*").returncode == 0
    assert not project.exists("parts") and not project.exists("side.txt")
    assert project.exists("raw.csv") and project.exists("report.txt")


def test_clean_a_group_cleans_the_tasks_it_gathers_as_force_reruns_them(project):
    project.pipefile(PIPEFILE + '\n[tasks.outputs]\nafter = ["split", "side"]\n')
    project.write("export.csv", "id\n", ns=T0)
    project.write("side_in.txt", "s\n", ns=T0)
    assert_ran(project.run(), ["extract", "split", "report", "side"])
    result = project.run("--clean", "outputs")
    assert result.returncode == 0, result
    assert sorted(result.stdout.splitlines()) == ["removed parts", "removed side.txt"]
    assert project.exists("raw.csv") and project.exists("report.txt")


def test_clean_an_unknown_task(project):
    pipeline(project)
    result = project.run("--clean", "sidee")
    assert result.returncode == 2, result
    assert "did you mean 'side'" in result.stderr


@pytest.fixture
def outside(tmp_path):
    """A directory beside the project, with a file that must survive."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "precious.txt").write_text("keep me\n")
    return directory


@pytest.fixture
def inside(tmp_path):
    return Project(tmp_path / "project")


def test_a_symlinked_directory_output_loses_only_the_link(inside, outside):
    inside.root.mkdir()
    os.symlink(outside, inside.path("linked"))
    inside.pipefile(
        """\
        [tasks.link]
        cmd = "touch linked/made.txt"
        outputs = ["linked"]
        """
    )
    assert_ran(inside.run("-B"), ["link"])
    result = inside.run("--clean")
    assert result.returncode == 0, result
    assert not os.path.lexists(inside.path("linked"))
    assert (outside / "precious.txt").read_text() == "keep me\n"
    assert (outside / "made.txt").exists()


def test_an_output_whose_parent_is_a_symlink_outside_is_refused(inside, outside):
    inside.root.mkdir()
    os.symlink(outside, inside.path("linked"))
    inside.pipefile(
        """\
        [tasks.escape]
        cmd = "echo x > linked/precious.txt"
        outputs = ["linked/precious.txt"]

        [tasks.fine]
        cmd = "touch fine.txt"
        outputs = ["fine.txt"]
        """
    )
    (outside / "precious.txt").write_text("keep me\n")
    inside.path("fine.txt").write_text("")
    result = inside.run("--clean")
    assert result.returncode == 2, result
    assert "Traceback" not in result.output
    assert "refusing to delete linked/precious.txt" in result.stderr
    assert (outside / "precious.txt").read_text() == "keep me\n"
    assert os.path.islink(inside.path("linked"))
    assert "removed fine.txt" in result.stdout


def test_list_shows_every_task_with_help_and_state(project):
    pipeline(project)
    assert_ran(project.run("side"), ["side"])
    project.make_newer("side_in.txt", than="side.txt", by=1)
    before = state_bytes(project)
    result = project.run("-l")
    assert result.returncode == 0, result
    text = result.stdout
    for name in ("extract", "split", "report", "side"):
        assert name in text
    assert "Copy the export" in text and "One file per row" in text
    blocks = {}
    lines = text.splitlines()
    for name_line, state_line in zip(lines[::2], lines[1::2], strict=True):
        blocks[name_line.split()[0]] = state_line.strip()
    assert blocks["extract"] == "(stale: output raw.csv is missing)"
    assert blocks["report"].startswith("(stale: ")
    assert blocks["side"] == "(stale: input side_in.txt is newer than output side.txt)"
    assert state_bytes(project) == before
    assert_ran(project.run(), ["extract", "split", "report", "side"])
    result = project.run("--list")
    assert [line.strip() for line in result.stdout.splitlines()[1::2]] == ["(up to date)"] * 4


def test_list_and_graph_on_a_fresh_project_create_nothing(project):
    pipeline(project)
    before = tree(project)
    for args in (["-l"], ["--graph"], ["--graph", "mermaid"], ["--graph=dot"]):
        result = project.run(*args)
        assert result.returncode == 0, (args, result)
        assert not project.exists(".dagmake"), args
    assert tree(project) == before


def test_graph_dot_shows_edges_and_marks_stale_tasks(project):
    pipeline(project)
    assert_ran(project.run(), ["extract", "split", "report", "side"])
    project.make_newer("side_in.txt", than="side.txt")
    before = state_bytes(project)
    result = project.run("--graph")
    assert result.returncode == 0, result
    dot = result.stdout
    assert dot.startswith("digraph ")
    assert dot.rstrip().endswith("}")
    assert '"extract" -> "split";' in dot
    assert '"split" -> "report";' in dot
    assert dot.count("->") == 2
    stale = [line for line in dot.splitlines() if "style=filled" in line]
    assert len(stale) == 1 and stale[0].strip().startswith('"side" ')
    assert "newer than output side.txt" in stale[0]
    assert state_bytes(project) == before


def test_graph_mermaid_shows_edges_and_marks_stale_tasks(project):
    pipeline(project)
    assert_ran(project.run("extract"), ["extract"])
    before = state_bytes(project)
    result = project.run("--graph", "mermaid")
    assert result.returncode == 0, result
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[0] == "flowchart LR"
    ids = {}
    for line in lines:
        if line.endswith('"]'):
            node, label = line.split('["')
            ids[label[:-2]] = node
    assert set(ids) == {"extract", "split", "report", "side"}
    assert f"{ids['extract']} --> {ids['split']}" in lines
    assert f"{ids['split']} --> {ids['report']}" in lines
    stale_line = next(line for line in lines if line.startswith("class "))
    marked = set(stale_line.split()[1].split(","))
    assert marked == {ids["split"], ids["report"], ids["side"]}
    assert state_bytes(project) == before


def test_clean_with_dry_run_lists_and_deletes_nothing(project):
    project.pipefile(
        """\
        [tasks.a]
        cmd = "touch {{outputs}}"
        outputs = ["a.txt"]

        [tasks.b]
        cmd = "touch {{outputs}}"
        outputs = ["b.txt"]
        """
    )
    assert project.run().returncode == 0
    os.remove(project.path("b.txt"))
    result = project.run("--clean", "-n")
    assert result.returncode == 0, result
    assert result.stdout == "would remove a.txt\n"
    assert project.exists("a.txt")


@pytest.mark.parametrize(
    "flags",
    [
        ("-w", "-n"),
        ("-w", "-l"),
        ("-w", "--graph"),
        ("-w", "--clean"),
        ("--clean", "-l"),
        ("-l", "--graph"),
        ("--clean", "-B"),  # nothing to force: it would be silently ignored
        ("--clean", "--force", "a"),
    ],
    ids=" ".join,
)
def test_two_modes_at_once_are_a_usage_error_and_nothing_runs(project, flags):
    project.pipefile(
        """\
        [tasks.a]
        cmd = "touch ran.flag {{outputs}}"
        outputs = ["a.txt"]
        """
    )
    result = project.run(*flags, timeout=20)
    assert result.returncode == 2, result
    assert "cannot be combined with" in result.stderr
    assert "Traceback" not in result.output
    assert not project.exists("ran.flag")


@pytest.mark.parametrize("form", ["dot", "mermaid"])
def test_graph_with_a_target_draws_only_it_and_its_upstream(project, form):
    pipeline(project)
    result = project.run("--graph", form, "split")
    assert result.returncode == 0, result
    assert "extract" in result.stdout and "split" in result.stdout
    assert "report" not in result.stdout and "side" not in result.stdout
    assert result.stdout.count("->") == 1


@pytest.mark.parametrize(
    "output, what",
    [
        ("d/Pipefile.toml", "it is the Pipefile"),
        ("d/.dagmake", "it is dagmake's state directory"),
        ("d/.dagmake/state", "it is in dagmake's state directory"),
    ],
)
def test_clean_never_deletes_the_pipefile_or_the_state_through_a_symlinked_directory(
    project, output, what
):
    os.symlink(".", project.path("d"))  # `d/Pipefile.toml` is the Pipefile itself
    project.pipefile(
        f"""\
        [tasks.a]
        cmd = "true"
        outputs = ["{output}"]

        [tasks.fine]
        cmd = "touch fine.txt"
        outputs = ["fine.txt"]
        """
    )
    assert project.run("fine").returncode == 0  # makes .dagmake/ and its state
    pipefile_before = project.read("Pipefile.toml")
    result = project.run("--clean")
    assert result.returncode == 2, result
    assert f"refusing to delete {output}: {what}" in result.stderr
    assert project.read("Pipefile.toml") == pipefile_before
    assert project.exists(".dagmake/state")
    assert "removed fine.txt" in result.stdout


def test_list_gives_a_multi_line_help_on_one_line_with_control_characters_escaped(project):
    project.pipefile(
        '''\
        [tasks.a]
        cmd = "true"
        help = """Load the users.
        Then check them.\\u001b[31m red\\ttab"""
        '''
    )
    result = project.run("-l")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == "a  Load the users. Then check them.\\x1b[31m red tab"
    assert lines[1].strip() == "(stale: it has no outputs, so it always runs)"
    assert "\x1b" not in result.stdout
