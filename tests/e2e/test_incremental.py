"""Incremental builds: what is stale (spec rules 1-7), and that exactly that reruns."""

import pytest

from conftest import SECOND, T0, Project, assert_nothing_ran, assert_ran

# raw.txt -> upper.txt -> count.txt, and an unrelated task.
CHAIN = """\
[tasks.upper]
cmd = "tr a-z A-Z < raw.txt > upper.txt"
inputs = ["raw.txt"]
outputs = ["upper.txt"]

[tasks.count]
cmd = "wc -c < upper.txt > count.txt"
inputs = ["upper.txt"]
outputs = ["count.txt"]

[tasks.other]
cmd = "cp other_in.txt other.txt"
inputs = ["other_in.txt"]
outputs = ["other.txt"]
"""


def chain(project: Project) -> None:
    project.pipefile(CHAIN)
    project.write("raw.txt", "abc\n", ns=T0)
    project.write("other_in.txt", "o\n", ns=T0)


# make_newer(..., by=1): one ns after the newest output, so the files the next build
# writes (at the real time, a whole process later) are newer still.


def dry_run_lines(project: Project, *args: str) -> list[str]:
    result = project.run("-n", *args)
    assert result.returncode == 0, result
    return result.stdout.splitlines()


def test_first_build_runs_all_then_nothing(project):
    chain(project)
    assert_ran(project.run(), ["upper", "count", "other"])
    assert project.read("upper.txt") == "ABC\n"
    assert project.read("count.txt").strip() == "4"
    result = project.run()
    assert_nothing_ran(result)
    assert result.stdout == "dagmake: no work to do (3 up to date)\n"


def test_touching_an_input_reruns_exactly_its_chain(project):
    chain(project)
    assert_ran(project.run(), ["upper", "count", "other"])
    project.make_newer("raw.txt", than="count.txt", by=1)
    assert_ran(project.run(), ["upper", "count"])
    assert_nothing_ran(project.run())


def test_touching_a_middle_file_reruns_only_what_reads_it(project):
    chain(project)
    assert_ran(project.run(), ["upper", "count", "other"])
    project.make_newer("upper.txt", than="count.txt", by=1)
    assert_ran(project.run(), ["count"])


def test_equal_times_are_not_stale(project):
    chain(project)
    assert_ran(project.run(), ["upper", "count", "other"])
    # other_in.txt keeps the stamp recorded when `other` started; its output gets the same time.
    project.touch("other.txt", T0)
    assert_nothing_ran(project.run())


def test_a_project_built_by_hand_is_judged_by_times_like_make(project):
    chain(project)
    for name in ("upper.txt", "count.txt", "other.txt"):
        project.write(name, "made by hand\n", ns=T0)
    assert_nothing_ran(project.run())
    project.touch("raw.txt", T0 + 1)
    assert_ran(project.run(), ["upper", "count"])


def hand_built(project, upstream_cmd: str) -> None:
    """in.txt -> (upstream) -> a.txt -> copy -> b.txt, built by hand: no records, and
    in.txt newer than a.txt but older than b.txt."""
    project.pipefile(
        f"""\
        [tasks.fetch]
        cmd = "{upstream_cmd}"
        inputs = ["in.txt"]
        outputs = ["a.txt"]

        [tasks.copy]
        cmd = "cp a.txt b.txt"
        inputs = ["a.txt"]
        outputs = ["b.txt"]
        """
    )
    project.write("a.txt", "v1\n", ns=T0 + 200)
    project.write("b.txt", "v1\n", ns=T0 + 300)
    project.write("in.txt", "v2, longer\n", ns=T0 + 250)


def test_a_hand_built_task_runs_when_its_upstream_rewrites_its_input_with_an_old_time(project):
    # `cp -p`, `tar x`, `rsync -t`: the rewritten input is not newer than the output, and
    # with no record there are no stamps to compare it with but the plan's
    hand_built(project, "cp -p in.txt a.txt")
    result = project.run()
    assert_ran(result, ["fetch", "copy"])
    assert "s: input a.txt changed during this build" in result.stdout, result
    assert project.read("b.txt") == "v2, longer\n"
    assert_nothing_ran(project.run())


def test_a_hand_built_task_stays_skipped_when_its_upstream_leaves_its_input_alone(project):
    hand_built(project, "true")
    assert_ran(project.run(), ["fetch"])
    assert project.read("b.txt") == "v1\n"


def test_upstream_that_leaves_its_output_alone_does_not_rerun_downstream(project):
    project.pipefile(
        """\
        [tasks.norm]
        # rewrites norm.txt only when its content would change
        cmd = ["tr a-z A-Z < in.txt > tmp.txt", "cmp -s tmp.txt norm.txt || cp tmp.txt norm.txt"]
        inputs = ["in.txt"]
        outputs = ["norm.txt"]

        [tasks.count]
        cmd = "wc -c < norm.txt > count.txt"
        inputs = ["norm.txt"]
        outputs = ["count.txt"]
        """
    )
    project.write("in.txt", "abc\n", ns=T0)
    assert_ran(project.run(), ["norm", "count"])
    count_time = project.mtime("count.txt")
    project.make_newer("in.txt", than="count.txt")

    assert dry_run_lines(project) == [
        "norm: input in.txt is newer than output norm.txt",
        "count: upstream task norm will run",
    ]
    result = project.run()
    assert_ran(result, ["norm"])
    assert project.mtime("count.txt") == count_time

    result = project.run("-v", "--force", "norm")
    assert_ran(result, ["norm"])
    assert "skip  count: its inputs did not change after all" in result.stdout


def test_a_changed_command_reruns_the_task(project):
    chain(project)
    assert_ran(project.run(), ["upper", "count", "other"])
    project.pipefile(CHAIN.replace("tr a-z A-Z", "tr a-c A-C"))
    assert dry_run_lines(project) == [
        "upper: its command changed since its last successful run",
        "count: upstream task upper will run",
    ]
    # upper.txt gets the same bytes, but a new time: count follows.
    assert_ran(project.run(), ["upper", "count"])
    assert_nothing_ran(project.run())


@pytest.mark.parametrize(
    ("change", "changed", "part"),
    [
        pytest.param(
            ("[tasks.other]\n", '[tasks.other]\nenv = { MODE = "fast" }\n'),
            ["other"],
            "environment",
            id="env",
        ),
        pytest.param(
            ("[tasks.upper]\n", '[env]\nMODE = "fast"\n\n[tasks.upper]\n'),
            ["upper", "count", "other"],
            "environment",
            id="global-env",
        ),
        pytest.param(
            ('["other_in.txt"]', '["other_in.txt", "extra.txt"]'),
            ["other"],
            "inputs list",
            id="inputs",
        ),
        pytest.param(
            ('outputs = ["other.txt"]', 'outputs = ["other.txt", "x.txt"]'),
            ["other"],
            "outputs list",
            id="outputs",
        ),
    ],
)
def test_a_changed_definition_reruns_the_task(project, change, changed, part):
    chain(project)
    project.write("extra.txt", "e\n", ns=T0)
    pipefile = CHAIN.replace("cp other_in.txt other.txt", "cp other_in.txt other.txt; touch x.txt")
    project.pipefile(pipefile)
    assert_ran(project.run(), ["upper", "count", "other"])
    project.pipefile(pipefile.replace(*change))
    assert sorted(dry_run_lines(project)) == [
        f"{name}: its {part} changed since its last successful run" for name in sorted(changed)
    ]
    assert_ran(project.run(), changed)
    assert_nothing_ran(project.run())


def test_a_changed_working_directory_reruns_the_task(project):
    where = project.path("where.txt")
    project.pipefile(
        f"""\
        [tasks.where]
        cmd = "pwd > {where}"
        outputs = ["where.txt"]
        cwd = "."
        """
    )
    project.write("sub/keep", "")
    assert_ran(project.run(), ["where"])
    project.pipefile(project.read("Pipefile.toml").replace('cwd = "."', 'cwd = "sub"'))
    assert dry_run_lines(project) == [
        "where: its working directory changed since its last successful run"
    ]
    assert_ran(project.run(), ["where"])
    assert project.read("where.txt").strip().endswith("/sub")


def test_help_and_retries_are_not_part_of_the_definition(project):
    chain(project)
    assert_ran(project.run(), ["upper", "count", "other"])
    project.pipefile(CHAIN.replace("[tasks.other]\n", '[tasks.other]\nhelp = "x"\nretries = 3\n'))
    assert_nothing_ran(project.run())


def test_a_task_whose_last_run_failed_reruns_though_its_output_is_newer(project):
    project.pipefile(
        """\
        [tasks.half]
        # writes its output, then fails while fail.flag exists
        cmd = "cp in.txt out.txt; test ! -e fail.flag"
        inputs = ["in.txt"]
        outputs = ["out.txt"]
        """
    )
    project.write("in.txt", "x\n", ns=T0)
    project.write("fail.flag")
    result = project.run()
    assert result.returncode == 1, result
    assert project.mtime("out.txt") > T0
    project.path("fail.flag").unlink()
    assert dry_run_lines(project) == ["half: its last run failed"]
    assert_ran(project.run(), ["half"])
    assert_nothing_ran(project.run())


def test_success_without_the_declared_output_is_a_failure(project):
    project.pipefile(
        """\
        [tasks.ghost]
        cmd = "touch made.txt"
        outputs = ["made.txt", "never.txt"]
        """
    )
    result = project.run()
    assert result.returncode == 1, result
    assert "did not create output never.txt" in result.stdout
    assert result.ran() == []
    # recorded as failed: it runs again, for that reason, not as "up to date"
    project.write("never.txt", "")
    assert dry_run_lines(project) == ["ghost: its last run failed"]


def test_an_input_restored_with_an_older_time_makes_the_task_stale(project):
    chain(project)
    assert_ran(project.run(), ["upper", "count", "other"])
    # what `cp -p` from a backup does: other content, same size, an older time
    project.write("raw.txt", "xyz\n", ns=T0 - 10 * SECOND)
    assert dry_run_lines(project) == [
        "upper: input raw.txt changed since the last run",
        "count: upstream task upper will run",
    ]
    assert_ran(project.run(), ["upper", "count"])
    assert project.read("upper.txt") == "XYZ\n"
    assert_nothing_ran(project.run())


def test_an_input_edited_while_its_task_runs_is_stale_next_time(project):
    project.pipefile(
        """\
        [tasks.copy]
        # reads its input, then the input changes before the task ends
        cmd = "cp notes.txt copy.txt; echo more >> notes.txt"
        inputs = ["notes.txt"]
        outputs = ["copy.txt"]
        """
    )
    project.write("notes.txt", "first\n", ns=T0)
    assert_ran(project.run(), ["copy"])
    # even if the edit got the very same time as the output (a coarse clock)
    project.touch("notes.txt", project.mtime("copy.txt"))
    lines = dry_run_lines(project)
    assert len(lines) == 1 and lines[0].startswith("copy: input notes.txt "), lines
    assert_ran(project.run(), ["copy"])
    assert project.read("copy.txt") == "first\nmore\n"


def test_tasks_without_outputs_and_always_tasks_always_run(project):
    project.pipefile(
        """\
        [tasks.check]
        cmd = "echo run >> check.log"
        inputs = ["in.txt"]

        [tasks.fetch]
        cmd = "echo run >> fetch.txt"
        outputs = ["fetch.txt"]
        always = true

        [tasks.steady]
        cmd = "touch steady.txt"
        outputs = ["steady.txt"]
        """
    )
    project.write("in.txt", "", ns=T0)
    assert_ran(project.run(), ["check", "fetch", "steady"])
    assert dry_run_lines(project) == [
        "check: it has no outputs, so it always runs",
        "fetch: always = true",
    ]
    assert_ran(project.run(), ["check", "fetch"])
    assert project.read("check.log") == "run\nrun\n"
    assert project.read("fetch.txt") == "run\nrun\n"


def test_a_directory_output_and_a_file_inside_it(project):
    project.pipefile(
        """\
        [tasks.split]
        cmd = "mkdir -p parts && cp in.txt parts/a.txt && cp in.txt parts/b.txt"
        inputs = ["in.txt"]
        outputs = ["parts"]

        [tasks.use_a]
        cmd = "cp parts/a.txt a_copy.txt"
        inputs = ["parts/a.txt"]
        outputs = ["a_copy.txt"]

        [tasks.use_all]
        cmd = "cat parts/a.txt parts/b.txt > all.txt"
        inputs = ["parts"]
        outputs = ["all.txt"]
        """
    )
    project.write("in.txt", "x\n", ns=T0)
    assert_ran(project.run(), ["split", "use_a", "use_all"])
    assert_nothing_ran(project.run())
    # a file inside the directory changes: the directory's readers rerun, not the others
    project.make_newer("parts/b.txt", than="all.txt", by=1)
    assert_ran(project.run(), ["use_all"])


def test_a_directory_input_that_holds_another_tasks_output_waits_for_it_on_a_fresh_checkout(
    project,
):
    # `data` does not exist yet, but a task writes a file inside it: not a missing input
    project.pipefile(
        """\
        [tasks.extract]
        cmd = "mkdir -p data && cp in.txt data/x.csv"
        inputs = ["in.txt"]
        outputs = ["data/x.csv"]

        [tasks.report]
        cmd = "ls data > report.txt"
        inputs = ["data"]
        outputs = ["report.txt"]
        """
    )
    project.write("in.txt", "x\n", ns=T0)
    dry = project.run("-n")
    assert dry.returncode == 0, dry
    assert "report: output report.txt is missing" in dry.stdout
    assert_ran(project.run(), ["extract", "report"])
    assert project.read("report.txt") == "x.csv\n"
    assert_nothing_ran(project.run())


def test_a_directory_input_reruns_when_a_file_inside_is_restored_older_or_swapped(project):
    # rule 7, second half, for what a directory holds: its newest time and file count
    # stay the same, the files do not
    project.pipefile(
        """\
        [tasks.merge]
        cmd = "cat data/* > merged.txt"
        inputs = ["data"]
        outputs = ["merged.txt"]
        """
    )
    project.write("data/a.txt", "old a\n", ns=T0)
    project.write("data/b.txt", "b\n", ns=T0 + 2 * SECOND)
    assert_ran(project.run(), ["merge"])
    project.write("data/a.txt", "restored a, longer\n", ns=T0 + SECOND)  # cp -p of a backup
    assert_ran(project.run(), ["merge"])
    assert project.read("merged.txt") == "restored a, longer\nb\n"
    assert_nothing_ran(project.run())
    project.path("data/a.txt").unlink()
    project.write("data/c.txt", "c\n", ns=T0 + SECOND)  # one file swapped for an older one
    result = project.run("-n")
    assert result.stdout == "merge: input data changed since the last run\n", result
    assert_ran(project.run(), ["merge"])
    assert project.read("merged.txt") == "b\nc\n"


def _delete_an_output(project):
    project.path("other.txt").unlink()
    return ["other"]


def _restore_an_older_input(project):
    project.write("raw.txt", "xyz\n", ns=T0 - SECOND)
    return ["upper", "count"]


def _edit_the_pipefile(project):
    project.pipefile(CHAIN.replace("wc -c", "wc -m"))
    return ["count"]


def _age_an_output(project):
    project.touch("count.txt", T0)
    return ["count"]


def _fail_a_task_by_hand(project):
    # a run that fails leaves state the no-work answer must not outlive
    project.pipefile(CHAIN.replace("cp other_in.txt other.txt", "exit 1"))
    assert project.run().returncode == 1
    project.pipefile(CHAIN)
    return ["other"]


@pytest.mark.parametrize(
    "change",
    [
        _delete_an_output,
        _restore_an_older_input,
        _edit_the_pipefile,
        _age_an_output,
        _fail_a_task_by_hand,
    ],
)
def test_a_change_after_a_no_work_run_is_still_seen(project, change):
    chain(project)
    assert_ran(project.run(), ["upper", "count", "other"])
    assert_nothing_ran(project.run())
    assert_nothing_ran(project.run())
    expected = change(project)
    assert_ran(project.run(), expected)
    assert_nothing_ran(project.run())


def test_a_new_file_matching_a_glob_after_a_no_work_run(project):
    project.pipefile(
        """\
        [tasks.gather]
        cmd = "cat data/*.csv > all.txt"
        inputs = ["data/*.csv"]
        outputs = ["all.txt"]
        """
    )
    project.write("data/a.csv", "a\n", ns=T0)
    assert_ran(project.run(), ["gather"])
    assert_nothing_ran(project.run())
    assert_nothing_ran(project.run())
    project.write("data/b.csv", "b\n", ns=T0)
    assert_ran(project.run(), ["gather"])
    assert project.read("all.txt") == "a\nb\n"
    project.path("data/a.csv").unlink()
    assert_ran(project.run(), ["gather"])
    assert project.read("all.txt") == "b\n"


def test_a_no_work_answer_is_per_target(project):
    chain(project)
    assert_ran(project.run("other"), ["other"])
    assert_nothing_ran(project.run("other"))
    assert_ran(project.run("count"), ["upper", "count"])


def test_listing_the_same_environment_in_another_order_reruns_nothing(project):
    def pipefile(env: str) -> str:
        return f'[tasks.a]\ncmd = "echo $X$Y > {{{{outputs}}}}"\nenv = {env}\noutputs = ["a.txt"]\n'

    project.pipefile(pipefile('{ X = "1", Y = "2" }'))
    assert project.run().ran() == ["a"]
    project.pipefile(pipefile('{ Y = "2", X = "1" }'))
    assert_nothing_ran(project.run())
    project.pipefile(pipefile('{ Y = "3", X = "1" }'))
    result = project.run()
    assert result.ran() == ["a"]
    assert "its environment changed" in result.stdout
