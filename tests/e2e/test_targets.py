"""Targets: task names, globs of names, output paths; --force, -B and settings.default."""

import os

from conftest import T0, Project, assert_nothing_ran, assert_ran

PIPEFILE = """\
[tasks.extract]
cmd = "cp export.csv raw.csv"
inputs = ["export.csv"]
outputs = ["raw.csv"]

[tasks.clean_users]
cmd = "cp ../raw.csv users.csv"
inputs = ["raw.csv"]
outputs = ["clean/users.csv"]
cwd = "clean"

[tasks.clean_orders]
cmd = "cp raw.csv orders.csv"
inputs = ["raw.csv"]
outputs = ["orders.csv"]

[tasks.report]
cmd = "cat clean/users.csv orders.csv > report.txt"
inputs = ["clean/users.csv", "orders.csv"]
outputs = ["report.txt"]

[tasks.docs]
cmd = "echo docs > docs.html"
outputs = ["docs.html"]
"""
ALL = ["extract", "clean_users", "clean_orders", "report", "docs"]


def pipeline(project: Project, settings: str = "") -> None:
    project.pipefile(settings + PIPEFILE)
    project.write("export.csv", "id\n", ns=T0)
    project.path("clean").mkdir()


def test_a_task_name_builds_it_and_its_upstream_only(project):
    pipeline(project)
    assert_ran(project.run("clean_orders"), ["extract", "clean_orders"])
    assert not project.exists("clean/users.csv")
    assert not project.exists("docs.html")
    assert_nothing_ran(project.run("clean_orders"))
    assert_ran(project.run("report"), ["clean_users", "report"])


def test_a_glob_of_task_names(project):
    pipeline(project)
    assert_ran(project.run("clean_*"), ["extract", "clean_users", "clean_orders"])
    assert not project.exists("report.txt")


def test_an_output_path_names_its_producer(project):
    pipeline(project)
    assert_ran(project.run("clean/users.csv"), ["extract", "clean_users"])
    assert_ran(project.run("./docs.html"), ["docs"])


def test_an_output_path_relative_to_a_subdirectory_with_C(project):
    pipeline(project)
    assert_ran(project.run("-C", "clean", "users.csv"), ["extract", "clean_users"])


def test_several_targets(project):
    pipeline(project)
    assert_ran(project.run("docs", "clean_orders"), ["docs", "extract", "clean_orders"])


def test_an_unknown_target_is_a_usage_error_with_close_matches(project):
    pipeline(project)
    result = project.run("reprot")
    assert result.returncode == 2, result
    assert result.stderr.startswith("dagmake: unknown target 'reprot', did you mean 'report'")
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert not project.exists("raw.csv")


def test_an_unknown_target_among_known_ones_runs_nothing(project):
    pipeline(project)
    result = project.run("docs", "clean_userz")
    assert result.returncode == 2, result
    assert "did you mean 'clean_users'" in result.stderr
    assert not project.exists("docs.html")


def test_force_reruns_the_task_and_its_downstream_follows(project):
    pipeline(project)
    assert_ran(project.run(), ALL)
    result = project.run("--force", "clean_orders")
    assert_ran(result, ["clean_orders", "report"])
    assert "clean_orders 0" in result.stdout and "forced (--force)" in result.stdout
    assert_nothing_ran(project.run())


def test_force_with_a_glob(project):
    pipeline(project)
    assert_ran(project.run(), ALL)
    assert_ran(project.run("--force", "clean_*"), ["clean_users", "clean_orders", "report"])


def test_force_an_unknown_task_is_an_error(project):
    pipeline(project)
    result = project.run("--force", "clean_userz")
    assert result.returncode == 2, result
    assert "clean_userz" in result.stderr and "did you mean 'clean_users'" in result.stderr


def test_forcing_a_group_forces_the_tasks_it_gathers_not_their_upstream(project):
    pipeline(project)
    with open(project.path("Pipefile.toml"), "a") as f:
        f.write(
            '\n[tasks.cleaned]\nafter = ["clean_users", "clean_orders"]\n'
            '\n[tasks.all]\nafter = ["cleaned", "docs"]\n'
        )
    assert_ran(project.run(), ALL)
    assert sorted(project.run("-n", "--force", "all").stdout.splitlines()) == [
        "clean_orders: forced (--force all)",
        "clean_users: forced (--force all)",
        "docs: forced (--force all)",
        "report: upstream task clean_users will run",
    ]
    result = project.run("--force", "all")
    assert_ran(result, ["clean_users", "clean_orders", "docs", "report"])  # not extract
    assert_ran(project.run("--force", "cleaned"), ["clean_users", "clean_orders", "report"])
    assert_nothing_ran(project.run())


def test_a_source_input_as_target_says_which_task_reads_it(project):
    pipeline(project)
    result = project.run("export.csv")
    assert result.returncode == 2, result
    assert result.stderr == (
        "dagmake: 'export.csv' is an input of task 'extract', not an output: "
        "no task produces it\n  hint: name the task instead: dagmake extract\n"
    )
    assert not project.exists("raw.csv")
    result = project.run("--force", "export.csv")
    assert result.returncode == 2, result
    assert "'export.csv' is an input of task 'extract'" in result.stderr
    assert "hint: name the task instead: dagmake --force extract" in result.stderr


def test_force_all_reruns_everything_selected(project):
    pipeline(project)
    assert_ran(project.run(), ALL)
    assert_ran(project.run("-B", "clean_orders"), ["extract", "clean_orders"])
    assert_ran(project.run("--force-all"), ALL)
    assert_nothing_ran(project.run())


def test_settings_default_is_built_when_no_target_is_given(project):
    pipeline(project, '[settings]\ndefault = ["clean_orders", "docs"]\n\n')
    assert_ran(project.run(), ["extract", "clean_orders", "docs"])
    assert not project.exists("report.txt")
    assert_nothing_ran(project.run())
    # a target on the command line replaces the default
    assert_ran(project.run("report"), ["clean_users", "report"])


def test_without_default_every_task_is_built(project):
    pipeline(project)
    assert_ran(project.run(), ALL)


def test_an_output_target_is_looked_up_from_where_dagmake_runs_even_after_a_no_op(project):
    project.pipefile(
        """\
        [tasks.one]
        cmd = "echo 1 > {{outputs}}"
        outputs = ["one/x.txt"]

        [tasks.two]
        cmd = "echo 2 > {{outputs}}"
        outputs = ["two/x.txt"]
        """
    )
    os.mkdir(project.path("one"))
    os.mkdir(project.path("two"))
    assert project.run("-C", "one", "x.txt").ran() == ["one"]
    assert_nothing_ran(project.run("-C", "one", "x.txt"))
    result = project.run("-C", "two", "x.txt")
    assert result.returncode == 0, result
    assert result.ran() == ["two"]
    assert project.path("two/x.txt").read_text() == "2\n"


def test_an_output_target_is_relative_to_the_directory_dagmake_runs_in_first(project):
    project.pipefile(
        """\
        [tasks.top]
        cmd = "echo top > {{outputs}}"
        outputs = ["out.txt"]

        [tasks.inner]
        cmd = "echo inner > {{outputs}}"
        outputs = ["sub/out.txt"]

        [tasks.only_top]
        cmd = "echo only > {{outputs}}"
        outputs = ["only.txt"]
        """
    )
    os.mkdir(project.path("sub"))
    assert project.run("-C", "sub", "out.txt").ran() == ["inner"]
    assert project.run("-C", "sub", "./out.txt", "-B").ran() == ["inner"]
    assert project.run("-C", "sub", "../out.txt").ran() == ["top"]
    # not an output here: the project's directory is tried next
    assert project.run("-C", "sub", "only.txt").ran() == ["only_top"]


def test_default_targets_may_be_globs_and_output_paths(project):
    project.pipefile(
        """\
        [settings]
        default = ["clean_*", "data/report.txt"]

        [tasks.clean_a]
        cmd = "touch {{outputs}}"
        outputs = ["a.txt"]

        [tasks.clean_b]
        cmd = "touch {{outputs}}"
        outputs = ["b.txt"]

        [tasks.report]
        cmd = "touch {{outputs}}"
        outputs = ["data/report.txt"]

        [tasks.other]
        cmd = "touch {{outputs}}"
        outputs = ["other.txt"]
        """
    )
    result = project.run()
    assert result.returncode == 0, result
    assert sorted(result.ran()) == ["clean_a", "clean_b", "report"]


def test_a_default_target_that_names_nothing_is_a_load_error(project):
    project.pipefile(
        """\
        [settings]
        default = ["nothing_*"]

        [tasks.a]
        cmd = "touch {{outputs}}"
        outputs = ["a.txt"]
        """
    )
    result = project.run("a")
    assert result.returncode == 2, result
    assert "Pipefile.toml:2: unknown default target 'nothing_*'" in result.stderr
    assert "a task name, a glob of task names or an output path" in result.stderr


def test_a_source_file_read_through_a_glob_or_a_directory_input_is_named_as_such(project):
    project.write("in/a.csv", "1\n")
    project.pipefile(
        """\
        [tasks.merge]
        cmd = "cat {{inputs}} > all.csv"
        inputs = ["in/*.csv"]
        outputs = ["all.csv"]

        [tasks.lst]
        cmd = "ls in > list.txt"
        inputs = ["in"]
        outputs = ["list.txt"]
        """
    )
    for args in (["in/a.csv"], ["--force", "in/a.csv"]):
        result = project.run(*args)
        assert result.returncode == 2, result
        assert "'in/a.csv' is an input of tasks 'merge', 'lst', not an output" in result.stderr
        assert "unknown target" not in result.stderr


def test_a_task_named_like_its_output_is_suggested_once(project):
    project.pipefile('[tasks.report]\ncmd = "echo r > report"\noutputs = ["report"]\n')
    result = project.run("reprot")
    assert result.returncode == 2, result
    assert "did you mean 'report'?" in result.stderr
