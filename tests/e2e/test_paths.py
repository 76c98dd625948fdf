"""Paths: nothing outside the project is written or deleted; odd file names pass through intact."""

import json
import os

import pytest

from conftest import assert_nothing_ran, assert_ran

ONE_OUTPUT = """\
[vars]
up = ".."

[tasks.escape]
cmd = "echo x > {{{{outputs}}}}"
outputs = ["{output}"]
"""


@pytest.mark.parametrize(
    "output",
    ["../x.txt", "a/../../x.txt", "{{up}}/x.txt", "/tmp/dagmake-test-absolute.txt"],
)
@pytest.mark.parametrize("command", [(), ("-n",), ("--clean",), ("-l",)], ids=str)
def test_an_output_outside_the_project_is_a_load_error(project, output, command):
    project.pipefile(ONE_OUTPUT.format(output=output))
    result = project.run(*command)
    assert result.returncode == 2, result
    assert "task 'escape': output" in result.stderr
    assert "is outside the project directory" in result.stderr
    assert "Traceback" not in result.output
    assert not project.path("../x.txt").exists()
    assert not os.path.exists("/tmp/dagmake-test-absolute.txt")


def test_a_task_whose_output_directory_is_a_symlink_out_fails_before_running(project, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    os.symlink(outside, project.path("out"))
    project.pipefile(
        """\
        [tasks.escape]
        cmd = "touch ran.flag; echo x > {{outputs}}"
        outputs = ["out/x.txt"]

        [tasks.inside]
        cmd = "echo x > {{outputs}}"
        outputs = ["inside.txt"]
        """
    )
    result = project.run("-k")
    assert result.returncode == 1, result
    assert "Traceback" not in result.output
    assert f"output out/x.txt resolves outside the project ({outside})" in result.stdout
    assert not project.exists("ran.flag"), "the task ran"
    assert sorted(os.listdir(outside)) == ["keep.txt"]
    assert result.ran() == ["inside"]
    # it stays failed, and --clean will not follow the link either
    assert project.run("-n").stdout == "escape: output out/x.txt is missing\n"
    result = project.run("--clean")
    assert result.returncode == 2, result
    assert "refusing to delete out/x.txt: it resolves outside the project" in result.stderr
    assert sorted(os.listdir(outside)) == ["keep.txt"]
    assert not project.exists("inside.txt")  # the rest is cleaned


def test_clean_removes_a_symlink_output_but_not_its_target(project, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-target.txt"
    outside.write_text("precious")
    project.pipefile(
        """\
        [tasks.link]
        cmd = "ln -s {target} link.txt"
        outputs = ["link.txt"]
        """.replace("{target}", str(outside))
    )
    assert_ran(project.run(), ["link"])
    result = project.run("--clean")
    assert result.returncode == 0, result
    assert not os.path.lexists(project.path("link.txt"))
    assert outside.read_text() == "precious"


ODD_NAMES = [
    "with space.txt",
    "it's.txt",
    'say "hi".txt',
    "ünïcödé 数据.txt",
    "$HOME `id` $(id).txt",
    "semi;colon & pipe|.txt",
    "back\\slash.txt",
]


def test_odd_file_names_pass_through_inputs_and_outputs(project):
    sources = ODD_NAMES[:3]
    joined = "joined " + ODD_NAMES[3]
    copies = [f"copy of {name}" for name in ODD_NAMES[3:]]
    for name in sources:
        project.write(name, f"<{name}>\n")
    tasks = {
        "join": {"cmd": "cat {{inputs}} > {{outputs}}", "inputs": sources, "outputs": [joined]},
    }
    for index, name in enumerate(copies):
        tasks[f"copy{index}"] = {
            "cmd": "cp {{inputs}} {{outputs}}",
            "inputs": [joined],
            "outputs": [name],
        }
    project.pipefile(_toml(tasks))

    assert_ran(project.run(), ["join", *(f"copy{i}" for i in range(len(copies)))])
    expected = "".join(f"<{name}>\n" for name in sources)
    for name in copies:
        assert project.read(name) == expected, name
    assert_nothing_ran(project.run())
    project.write(sources[1], "edited\n")
    assert_ran(project.run(), ["join", *(f"copy{i}" for i in range(len(copies)))])
    assert project.run(ODD_NAMES[5].join(["copy of ", ""])).returncode == 0  # a path target
    result = project.run("--clean")
    assert result.returncode == 0, result
    assert not any(project.exists(name) for name in [joined, *copies])
    assert all(project.exists(name) for name in sources)


def _toml(tasks: dict) -> str:
    lines = []
    for name, fields in tasks.items():
        lines.append(f"[tasks.{name}]")
        for key, value in fields.items():
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def test_the_directories_outputs_go_in_are_created_before_the_task_runs(project):
    project.pipefile(
        """\
        [tasks.extract]
        cmd = "echo raw > data/raw/users.csv"
        outputs = ["data/raw/users.csv"]

        [tasks.clean]
        cmd = "sort {{inputs}} > {{outputs}}"
        inputs = ["data/raw/users.csv"]
        outputs = ["data/clean/users.csv"]
        """
    )
    result = project.run()
    assert result.returncode == 0, result
    assert project.path("data/clean/users.csv").read_text() == "raw\n"
    assert_nothing_ran(project.run())


def test_a_directory_output_itself_is_left_for_the_task_to_create(project):
    project.pipefile(
        """\
        [tasks.parts]
        cmd = "true"
        outputs = ["data/parts/"]
        """
    )
    result = project.run()
    assert result.returncode == 1, result
    assert "did not create output data/parts" in result.stdout
    assert project.path("data").is_dir()
    assert not project.exists("data/parts")


def test_an_output_directory_that_cannot_be_made_fails_the_task_not_the_build(project):
    project.write("data", "a file where a directory must go")
    project.pipefile(
        """\
        [tasks.blocked]
        cmd = "touch ran.flag; echo x > {{outputs}}"
        outputs = ["data/x.txt"]

        [tasks.fine]
        cmd = "echo x > {{outputs}}"
        outputs = ["out/y.txt"]
        """
    )
    result = project.run("-k")
    assert result.returncode == 1, result
    assert "Traceback" not in result.output
    assert "cannot create directory data for output data/x.txt" in result.stdout
    assert not project.exists("ran.flag"), "the task ran"
    assert result.ran() == ["fine"]
    assert project.path("data").read_text() == "a file where a directory must go"
    log = project.path(".dagmake/logs/blocked.log").read_text()
    assert "cannot create directory data for output data/x.txt" in log


def test_a_refusal_written_to_a_silent_tasks_log_stays_in_that_log(project):
    project.pipefile(
        """\
        [tasks.quiet]
        cmd = "touch {{outputs}}"
        outputs = ["quiet.txt"]

        [tasks.blocked]
        cmd = "touch {{outputs}}"
        outputs = ["data/x.txt"]
        """
    )
    assert project.run().returncode == 0
    os.remove(project.path("data/x.txt"))
    os.rmdir(project.path("data"))
    project.write("data", "a file where a directory must go")
    result = project.run()
    assert result.returncode == 1, result
    assert project.path(".dagmake/logs/quiet.log").read_text() == ""
    assert "cannot create directory data" in project.path(".dagmake/logs/blocked.log").read_text()


def test_an_input_written_as_an_absolute_or_dotdot_path_into_the_project_links_its_producer(
    project,
):
    root = str(project.root)
    name = os.path.basename(root)
    project.pipefile(
        f"""\
        [tasks.a]
        cmd = "echo A > {{{{outputs}}}}"
        outputs = ["a.txt"]

        [tasks.b]
        cmd = "cat {{{{inputs}}}} > {{{{outputs}}}}"
        inputs = ["{root}/a.txt"]
        outputs = ["b.txt"]

        [tasks.c]
        cmd = "cat {{{{inputs}}}} > {{{{outputs}}}}"
        inputs = ["../{name}/b.txt"]
        outputs = ["{root}/c.txt"]
        """
    )
    result = project.run()
    assert result.returncode == 0, result
    assert result.ran() == ["a", "b", "c"]
    assert project.read("c.txt") == "A\n"
    assert_nothing_ran(project.run())


@pytest.fixture
def alias(project, tmp_path_factory):
    """A symlink to the project directory, as a symlinked home or /srv gives one."""
    link = tmp_path_factory.mktemp("elsewhere") / "alias"
    link.symlink_to(project.root)
    return str(link)


def test_absolute_paths_through_a_symlink_to_the_project_are_inside_it(project, alias):
    real = os.path.realpath(str(project.root))
    project.pipefile(
        f"""\
        [tasks.a]
        cmd = "echo A > a.txt"
        outputs = ["{alias}/a.txt"]

        [tasks.b]
        cmd = "cat a.txt > b.txt"
        inputs = ["{alias}/a.txt"]
        outputs = ["{real}/b.txt"]
        """
    )
    result = project.run("-n", f"{alias}/b.txt")  # a target as $PWD gives it there
    assert result.returncode == 0, result
    assert "a: output a.txt is missing" in result.stdout
    assert_ran(project.run(f"{alias}/b.txt"), ["a", "b"])
    assert project.read("b.txt") == "A\n"
    # the same Pipefile, reached through the symlink
    assert_nothing_ran(project.run("-f", f"{alias}/Pipefile.toml", f"{real}/b.txt"))


def test_a_symlink_inside_the_project_stays_as_written_in_an_aliased_path(project, alias):
    os.mkdir(project.path("data"))
    os.symlink("data", project.path("link"))
    project.pipefile(
        f"""\
        [tasks.a]
        cmd = "echo A > link/a.txt"
        outputs = ["{alias}/link/a.txt"]

        [tasks.b]
        cmd = "cat link/a.txt > b.txt"
        inputs = ["link/a.txt"]
        outputs = ["b.txt"]
        """
    )
    assert_ran(project.run("b"), ["a", "b"])


def test_an_input_that_is_the_project_by_another_name_is_a_load_error(project):
    name = os.path.basename(str(project.root))
    project.pipefile(
        f"""\
        [tasks.a]
        cmd = "ls {{{{inputs}}}} > {{{{outputs}}}}"
        inputs = ["../{name}"]
        outputs = ["o.txt"]
        """
    )
    result = project.run()
    assert result.returncode == 2, result
    assert "contains the whole project" in result.stderr


def test_paths_given_to_a_task_whose_cwd_is_a_symlinked_directory_reach_the_files(project):
    # `..` from inside a linked directory leaves the directory the link points to
    os.makedirs(project.path("real/sub"))
    os.symlink("real/sub", project.path("lnk"))
    project.write("in.txt", "IN\n")
    project.write("paths_task.py", PATHS_TASK)
    project.pipefile(
        """\
        [tasks.shell]
        cwd = "lnk"
        cmd = "cat {{inputs}} > {{outputs}}"
        inputs = ["in.txt"]
        outputs = ["out/shell.txt"]

        [tasks.py]
        cwd = "lnk"
        python = "paths_task:copy"
        inputs = ["in.txt"]
        outputs = ["out/py.txt"]

        [tasks.inside]
        cwd = "lnk"
        cmd = "cp {{inputs}} {{outputs}}"
        inputs = ["out/shell.txt"]
        outputs = ["lnk/copy.txt"]
        """
    )
    assert_ran(project.run(), ["shell", "py", "inside"])
    assert project.read("out/shell.txt") == "IN\n"
    assert project.read("out/py.txt") == "IN\n"
    assert project.read("real/sub/copy.txt") == "IN\n"
    assert_nothing_ran(project.run())


def test_a_cwd_link_pointed_elsewhere_gets_its_paths_worked_out_anew(project):
    # a "current release" link: the cached Pipefile and "no work" answer must not outlive it
    os.makedirs(project.path("release-1"))
    os.makedirs(project.path("other/release-2"))
    project.write("other/out.txt", "user data\n")
    os.symlink("release-1", project.path("current"))
    project.pipefile(
        """\
        [tasks.a]
        cwd = "current"
        cmd = "echo generated > {{outputs}}"
        outputs = ["out.txt"]
        """
    )
    assert_ran(project.run(), ["a"])
    assert_nothing_ran(project.run())
    os.symlink("other/release-2", project.path("current.new"))
    os.replace(project.path("current.new"), project.path("current"))
    result = project.run()
    assert_ran(result, ["a"])
    assert "command changed" in result.stdout
    assert project.read("other/out.txt") == "user data\n"
    os.remove(project.path("out.txt"))
    assert_ran(project.run(), ["a"])
    assert project.read("out.txt") == "generated\n"
    assert project.read("other/out.txt") == "user data\n"


def test_a_link_to_the_project_pointed_elsewhere_makes_its_paths_outside(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    link = elsewhere / "alias"
    link.symlink_to(project.root)
    project.pipefile(
        f"""\
        [tasks.a]
        cmd = "echo A > a.txt"
        outputs = ["{link}/a.txt"]
        """
    )
    assert_ran(project.run(), ["a"])
    link.unlink()
    link.symlink_to(elsewhere)
    result = project.run("-B")
    assert result.returncode == 2, result
    assert "outside the project" in result.stderr


PATHS_TASK = """\
import shutil


def copy(inputs, outputs):
    shutil.copy(inputs[0], outputs[0])
"""
