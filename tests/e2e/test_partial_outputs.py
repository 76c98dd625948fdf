"""A task that fails or is stopped after writing part of its output is never up to date after,
whatever the file times say."""

import signal

import pytest

from background import Background, kill_leftovers, read_pid
from conftest import SECOND, T0, assert_nothing_ran, assert_ran

# `write` writes part of its output first, then does what the undeclared file `mode` says:
# finish (no file), fail, or hang.
PIPELINE = """\
[tasks.write]
cmd = '''
echo partial > out.txt
mode=$(cat mode 2>/dev/null)
if [ "$mode" = fail ]; then exit 1; fi
if [ "$mode" = hang ]; then sleep 30 & echo $! > child.pid; echo $$ > hang.pid; wait; exit 1; fi
cat in.txt > out.txt
'''
inputs = ["in.txt"]
outputs = ["out.txt"]
{timeout}

[tasks.down]
cmd = "cat out.txt > down.txt"
inputs = ["out.txt"]
outputs = ["down.txt"]
"""

FAULTS = ["failure", "timeout", "SIGINT", "SIGKILL"]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_partial_output_is_rebuilt_whatever_its_time(project, fault):
    project.pipefile(PIPELINE.format(timeout="timeout = 0.5" if fault == "timeout" else ""))
    project.write("in.txt", "v1\n", ns=T0)
    assert_ran(project.run(), ["write", "down"])
    project.write("in.txt", "v2\n", ns=T0 + 10 * SECOND)
    project.write("mode", "fail" if fault == "failure" else "hang")

    if fault in ("failure", "timeout"):
        result = project.run()
        assert result.returncode == 1, result
        expected = "its last run failed"
    else:
        build = Background(project)
        try:
            read_pid(project, "hang.pid")
            build.send(signal.SIGINT if fault == "SIGINT" else signal.SIGKILL)
            assert build.wait() == (130 if fault == "SIGINT" else -signal.SIGKILL), build.output
        finally:
            build.stop()
            # after a SIGKILL of dagmake its tasks live on: nothing is left to stop them
            kill_leftovers(project, "hang.pid", "child.pid")
        expected = "its last run was interrupted"
    assert project.read("out.txt") == "partial\n"

    # by file times alone, everything now looks up to date
    project.touch("out.txt", T0 + 3600 * SECOND)
    project.touch("down.txt", T0 + 7200 * SECOND)
    result = project.run("-n")
    assert result.returncode == 0, result
    assert result.stdout == f"write: {expected}\ndown: upstream task write will run\n", result

    project.path("mode").unlink()
    assert_ran(project.run(), ["write", "down"])
    assert project.read("down.txt") == "v2\n"
    assert_nothing_ran(project.run())


def test_a_partial_output_of_a_first_run_is_not_up_to_date(project):
    # No earlier success to fall back on: the failed run's own record decides.
    project.pipefile(PIPELINE.format(timeout=""))
    project.write("in.txt", "v1\n", ns=T0)
    project.write("mode", "fail")
    assert project.run().returncode == 1
    project.touch("out.txt", T0 + 3600 * SECOND)
    assert project.run("-n").stdout.startswith("write: its last run failed\n")


def test_a_task_that_does_not_create_an_output_fails_and_stays_stale(project):
    project.pipefile(
        """\
        [tasks.half]
        cmd = "echo one > one.txt"
        outputs = ["one.txt", "two.txt"]
        """
    )
    result = project.run()
    assert result.returncode == 1, result
    assert "did not create output two.txt" in result.stdout
    project.write("two.txt", "by hand")
    assert project.run("-n").stdout == "half: its last run failed\n"


def test_an_input_that_vanishes_during_the_build_fails_only_its_task(project):
    project.write("src.txt", "s")
    project.pipefile(
        """\
        [tasks.a]
        cmd = "rm -f src.txt; touch a.txt"
        outputs = ["a.txt"]

        [tasks.b]
        cmd = "cp src.txt b.txt"
        inputs = ["src.txt"]
        after = ["a"]
        outputs = ["b.txt"]

        [tasks.c]
        cmd = "touch c.txt"
        after = ["a"]
        outputs = ["c.txt"]
        """
    )
    result = project.run("-k", "-j2")
    assert result.returncode == 1, result
    assert "Traceback" not in result.output
    assert "FAILED b" in result.stdout
    assert "input 'src.txt' does not exist" in result.stdout
    assert sorted(result.ran()) == ["a", "c"]
    assert "1 failed" in result.stdout
    assert "does not exist" in project.read(".dagmake/logs/b.log")
