"""File times at their edges: nanoseconds, equal times, the future, coarse clocks, symlinks,
directories."""

import os
import time

import pytest

from conftest import SECOND, T0, assert_nothing_ran, assert_ran

COPY = """\
[tasks.copy]
cmd = "cat {{inputs}} > {{outputs}}"
inputs = ["in.txt"]
outputs = ["out.txt"]
"""


def plan_lines(project) -> str:
    result = project.run("-n")
    assert result.returncode == 0, result
    return result.stdout


def nothing_to_do(project) -> bool:
    return plan_lines(project).startswith("dagmake: no work to do")


@pytest.fixture
def ns_times(tmp_path):
    """Skip where the filesystem keeps no nanoseconds (the tests below need them exact)."""
    probe = tmp_path / "probe"
    probe.write_text("")
    os.utime(probe, ns=(T0 + 1, T0 + 1))
    if probe.stat().st_mtime_ns != T0 + 1:
        pytest.skip("this filesystem rounds file times")
    probe.unlink()


# --- by file times alone (no record: a project built by hand) ------------------------------


@pytest.mark.parametrize(
    ("input_ns", "stale"),
    [(T0 + 1, True), (T0, False), (T0 - 1, False)],
    ids=["newer", "equal", "older"],
)
def test_nanoseconds_decide_without_a_record(project, ns_times, input_ns, stale):
    project.pipefile(COPY)
    project.write("in.txt", "x", ns=input_ns)
    project.write("out.txt", "x", ns=T0)
    expected = "copy: input in.txt is newer than output out.txt\n" if stale else None
    if stale:
        assert plan_lines(project) == expected
    else:
        assert nothing_to_do(project)


def test_a_directory_input_counts_its_newest_file_without_a_record(project, ns_times):
    project.pipefile(COPY.replace('"in.txt"', '"data"').replace("cat {{inputs}}", "ls {{inputs}}"))
    project.write("data/a.txt", ns=T0)
    project.write("data/deep/er/b.txt", ns=T0)
    project.write("out.txt", ns=T0)
    assert nothing_to_do(project)
    project.touch("data/deep/er/b.txt", T0 + 1)
    assert plan_lines(project) == "copy: input data is newer than output out.txt\n"


# --- with the record of the last run -------------------------------------------------------


def test_equal_times_after_a_run_are_up_to_date(project):
    # On a filesystem with whole-second times, an output is often as old as its input.
    project.pipefile(COPY)
    project.write("in.txt", "x", ns=T0)
    assert_ran(project.run(), ["copy"])
    project.touch("out.txt", T0)
    assert_nothing_ran(project.run())


def test_coarse_times_still_see_an_edit_that_changes_the_size(project):
    project.pipefile(COPY)
    project.write("in.txt", "x", ns=T0)
    assert_ran(project.run(), ["copy"])
    project.touch("out.txt", T0)
    project.write("in.txt", "xy", ns=T0)  # same second, so no newer than the output
    assert plan_lines(project) == "copy: input in.txt changed since the last run\n"
    assert_ran(project.run(), ["copy"])
    assert project.read("out.txt") == "xy"


def test_an_input_restored_with_an_older_time_is_stale(project):
    # cp -p, a backup, an archive: make would call this up to date
    project.pipefile(COPY)
    project.write("in.txt", "new", ns=T0 + 5 * SECOND)
    assert_ran(project.run(), ["copy"])
    project.write("in.txt", "old", ns=T0)
    assert plan_lines(project) == "copy: input in.txt changed since the last run\n"


def test_an_output_from_the_future_does_not_hide_an_edit(project):
    project.pipefile(COPY)
    project.write("in.txt", "v1")
    assert_ran(project.run(), ["copy"])
    future = time.time_ns() + 86_400 * SECOND
    project.touch("out.txt", future)
    assert_nothing_ran(project.run())
    project.write("in.txt", "v2")  # now: older than the output, but changed since the run
    assert plan_lines(project) == "copy: input in.txt changed since the last run\n"
    assert_ran(project.run(), ["copy"])
    assert project.read("out.txt") == "v2"
    assert_nothing_ran(project.run())


def test_an_input_edited_while_its_task_runs_is_stale_next_time(project):
    # The edit lands after the task read the input and before it wrote the output, so the
    # output is newer than the input: only the stamp taken when the run started shows it.
    project.pipefile(
        """\
        [tasks.copy]
        cmd = "cp in.txt seen.txt; echo edited >> in.txt; cat seen.txt > out.txt"
        inputs = ["in.txt"]
        outputs = ["out.txt"]
        """
    )
    project.write("in.txt", "v1\n", ns=T0)
    assert_ran(project.run(), ["copy"])
    assert project.mtime("in.txt") <= project.mtime("out.txt")
    assert plan_lines(project) == "copy: input in.txt changed since the last run\n"


# --- symlinks and directories ------------------------------------------------------------


def test_a_symlink_input_is_followed(project):
    project.pipefile(COPY.replace('"in.txt"', '"link.txt"'))
    project.write("data/real.txt", "real", ns=T0)
    project.write("data/other.txt", "other", ns=T0 - SECOND)
    os.symlink("data/real.txt", project.path("link.txt"))
    assert_ran(project.run(), ["copy"])
    assert project.read("out.txt") == "real"
    assert_nothing_ran(project.run())
    # the target changes, not the link
    project.write("data/real.txt", "edited", ns=T0 + SECOND)
    assert plan_lines(project) == "copy: input link.txt changed since the last run\n"
    assert_ran(project.run(), ["copy"])
    # the link is pointed at an older file
    project.path("link.txt").unlink()
    os.symlink("data/other.txt", project.path("link.txt"))
    assert plan_lines(project) == "copy: input link.txt changed since the last run\n"
    assert_ran(project.run(), ["copy"])
    assert project.read("out.txt") == "other"


def test_a_dangling_symlink_input_is_a_missing_input(project):
    project.pipefile(COPY)
    os.symlink("nowhere.txt", project.path("in.txt"))
    result = project.run()
    assert result.returncode == 2, result
    assert "input 'in.txt' does not exist and no task produces it" in result.stderr
    assert "Traceback" not in result.output


def test_a_directory_input_sees_files_added_edited_and_removed(project):
    project.pipefile(
        """\
        [tasks.index]
        cmd = "ls -R data > index.txt"
        inputs = ["data"]
        outputs = ["index.txt"]
        """
    )
    project.write("data/a.txt", "a", ns=T0)
    project.write("data/sub/b.txt", "b", ns=T0)
    assert_ran(project.run(), ["index"])
    assert_nothing_ran(project.run())
    project.write("data/sub/old.txt", "old", ns=T0 - SECOND)  # added, with an old time
    assert plan_lines(project) == "index: input data changed since the last run\n"
    assert_ran(project.run(), ["index"])
    project.path("data/a.txt").unlink()
    assert plan_lines(project) == "index: input data changed since the last run\n"
    assert_ran(project.run(), ["index"])
    project.write("data/sub/b.txt", "edited")  # now: newer than the output
    assert plan_lines(project).startswith("index: input data ")
    assert_ran(project.run(), ["index"])
    assert_nothing_ran(project.run())


def test_a_symlink_loop_inside_a_directory_input_does_not_hang(project):
    project.pipefile(
        """\
        [tasks.index]
        cmd = "ls data > index.txt"
        inputs = ["data", "data/**/*.txt"]
        outputs = ["index.txt"]
        """
    )
    project.write("data/a.txt", "a", ns=T0)
    project.write("data/sub/b.txt", "b", ns=T0)
    # each link leads back up: followed naively, the tree is infinite
    os.symlink(".", project.path("data/self"))
    os.symlink("..", project.path("data/sub/up"))
    assert_ran(project.run(timeout=20), ["index"])
    assert_nothing_ran(project.run(timeout=20))
    project.write("data/sub/b.txt", "edited", ns=T0 + SECOND)
    assert plan_lines(project).startswith("index: input data")


def test_an_input_dated_in_the_future_is_named_with_a_warning(project):
    import time as _time

    project.pipefile(
        '[tasks.a]\ncmd = "cp in.txt a.txt"\ninputs = ["in.txt"]\noutputs = ["a.txt"]\n'
    )
    ahead = _time.time_ns() + 3600 * 10**9
    project.write("in.txt", "x", ns=ahead)
    result = project.run()
    assert result.returncode == 0, result
    assert "dagmake: warning: input in.txt is dated" in result.stderr
    assert "in the future (clock skew?)" in result.stderr
    project.write("in.txt", "x", ns=_time.time_ns() - 10**9)
    result = project.run()
    assert "clock skew" not in result.stderr
