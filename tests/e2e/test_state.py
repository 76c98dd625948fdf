"""The .dagmake/ directory: its .gitignore, the project lock, and state that survives kills."""

import os
import signal
import subprocess

import pytest

from conftest import (
    T0,
    Project,
    assert_nothing_ran,
    assert_ran,
    dagmake_command,
    process_gone,
    sh_wait_for,
    wait_until,
)

# A grandchild of the task, whose pid the test can check.
SLEEPER = "sh -c 'sleep 30 & echo $! > sleeper.pid; wait'"

HOLD = f"""\
[tasks.hold]
cmd = "echo holding; touch hold.started; {sh_wait_for("go", seconds=20)}; touch hold.txt"
outputs = ["hold.txt"]

[tasks.quick]
cmd = "touch quick.txt"
outputs = ["quick.txt"]
"""


def start(project: Project, *args: str, stderr_to: str | None = None) -> subprocess.Popen:
    """Start dagmake in the background; stdout to a file, stderr to stderr_to or a pipe."""
    return subprocess.Popen(
        [*dagmake_command(), *args],
        cwd=project.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(project.path(stderr_to), "w") if stderr_to else subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
        text=True,
    )


@pytest.fixture
def holder(project):
    """A dagmake running task `hold` until the test creates the file `go`."""
    project.pipefile(HOLD)
    process = start(project, "hold")
    try:
        assert wait_until(lambda: project.exists("hold.started")), "hold never started"
        yield process
    finally:
        project.write("go")
        try:
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_state_dir_is_created_with_a_gitignore(project):
    project.pipefile('[tasks.a]\ncmd = "touch a.txt"\noutputs = ["a.txt"]\n')
    assert_ran(project.run(), ["a"])
    assert project.read(".dagmake/.gitignore") == "*\n"
    assert project.exists(".dagmake/logs/a.log")


def test_a_state_dir_without_a_gitignore_gets_one_from_the_next_build_even_a_no_op(project):
    project.pipefile(
        '[tasks.a]\ncmd = "cp in.txt a.txt"\ninputs = ["in.txt"]\noutputs = ["a.txt"]\n'
    )
    project.write("in.txt", "1\n", ns=T0)
    assert_ran(project.run(), ["a"])
    assert_nothing_ran(project.run())  # plans in full, and saves the answer for the no-op path
    os.unlink(project.path(".dagmake/.gitignore"))
    # the read-only modes write nothing
    for args in (["-n"], ["-l"], ["--graph"]):
        assert project.run(*args).returncode == 0
        assert not project.exists(".dagmake/.gitignore"), args
    assert_nothing_ran(project.run())
    assert project.read(".dagmake/.gitignore") == "*\n"
    assert_nothing_ran(project.run())  # and the fast no-op answers again


def test_a_second_dagmake_is_refused_naming_the_pid(project, holder):
    result = project.run("quick")
    assert result.returncode == 2, result
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"dagmake: another dagmake (pid {holder.pid}) is running")
    assert not project.exists("quick.txt")
    # checking needs no lock, and is not blocked
    result = project.run("-n", "quick")
    assert result.returncode == 0, result
    assert result.stdout == "quick: output quick.txt is missing\n"
    project.write("go")
    assert holder.wait(timeout=20) == 0


def test_checking_during_a_build_says_why_a_running_task_reads_as_interrupted(project):
    project.pipefile(HOLD)
    project.write("go")
    assert_ran(project.run("hold"), ["hold"])
    os.remove(project.path("go"))
    os.remove(project.path("hold.started"))
    process = start(project, "--force", "hold")
    try:
        assert wait_until(lambda: project.exists("hold.started")), "hold never started"
        for args in (["-n", "hold"], ["-l"]):
            result = project.run(*args)
            assert result.returncode == 0, result
            assert "interrupted" in result.stdout
            assert result.stderr == (
                "dagmake: note: another dagmake is building this project now; "
                "the tasks it is running read as interrupted\n"
            )
    finally:
        project.write("go")
        assert process.wait(timeout=20) == 0
    result = project.run("-n", "hold")  # no build under way: no note
    assert result.stderr == ""


def test_clean_is_refused_too(project, holder):
    result = project.run("--clean")
    assert result.returncode == 2, result
    assert f"pid {holder.pid}" in result.stderr


def test_wait_queues_behind_the_running_dagmake(project, holder):
    waiter = start(project, "--wait", "quick", stderr_to="waiter.err")
    try:
        assert wait_until(lambda: "waiting for dagmake" in project.read("waiter.err"))
        assert f"pid {holder.pid}" in project.read("waiter.err")
        assert waiter.poll() is None
        assert not project.exists("quick.txt")
        project.write("go")
        assert holder.wait(timeout=20) == 0
        assert waiter.wait(timeout=20) == 0
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert project.exists("quick.txt")
    assert_nothing_ran(project.run())


def test_sigterm_stops_children_and_records_the_task_as_interrupted(project):
    project.pipefile(
        f"""\
        [tasks.done]
        cmd = "touch done.txt"
        outputs = ["done.txt"]

        [tasks.stuck]
        cmd = "touch stuck.txt; {SLEEPER} & {sh_wait_for("sleeper.pid")}; wait"
        inputs = ["done.txt"]
        outputs = ["stuck.txt"]
        """
    )
    process = start(project)
    try:
        assert wait_until(lambda: project.exists("sleeper.pid") and project.read("sleeper.pid"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    sleeper = int(project.read("sleeper.pid"))
    assert wait_until(lambda: process_gone(sleeper), timeout=10), "the task's child survived"
    result = project.run("-n")
    assert result.stdout == "stuck: its last run was interrupted\n", result


def test_after_a_kill_9_the_state_is_readable(project):
    project.pipefile(
        f"""\
        [tasks.done]
        cmd = "touch done.txt"
        outputs = ["done.txt"]

        [tasks.stuck]
        cmd = "touch stuck.txt; echo $$ > stuck.pid; {sh_wait_for("go", seconds=20)}"
        inputs = ["done.txt"]
        outputs = ["stuck.txt"]
        """
    )
    process = start(project)
    try:
        assert wait_until(lambda: project.exists("stuck.pid") and project.read("stuck.pid"))
        process.kill()
        process.wait(timeout=20)
    finally:
        project.write("go")
    result = project.run("-n")
    assert result.returncode == 0, result
    assert result.stderr == ""
    # done finished and stays done; stuck wrote its output but never finished
    assert result.stdout == "stuck: its last run was interrupted\n"
    # the kernel dropped the dead holder's lock
    assert_ran(project.run(), ["stuck"])


def test_a_damaged_state_file_is_a_warning_not_an_error(project):
    project.pipefile('[tasks.a]\ncmd = "touch a.txt"\noutputs = ["a.txt"]\n')
    assert_ran(project.run(), ["a"])
    project.path(".dagmake/state").write_bytes(b"this is not a state file")
    result = project.run()
    assert result.returncode == 0, result
    assert "Traceback" not in result.output
    assert result.stderr.startswith("dagmake: warning: ")
    assert "judging by file times only" in result.stderr
    assert_nothing_ran(result)
    # rewritten: the next run reads it without a warning
    result = project.run()
    assert result.stderr == ""
    assert_nothing_ran(result)


@pytest.mark.parametrize("args", [(), ("-n",), ("-l",)], ids=["build", "dry-run", "list"])
def test_a_record_with_a_field_of_the_wrong_type_is_a_warning_not_a_traceback(project, args):
    import marshal
    import zlib

    def frame(obj):
        payload = marshal.dumps(obj)
        return (
            len(payload).to_bytes(4, "little") + zlib.crc32(payload).to_bytes(4, "little") + payload
        )

    project.pipefile('[tasks.a]\ncmd = "touch a.txt"\noutputs = ["a.txt"]\n')
    assert_ran(project.run(), ["a"])
    # framed and checksummed like a real record, but no fingerprint and no duration
    project.path(".dagmake/state").write_bytes(
        frame(("dagmake-state", 2)) + frame([("a", None, "ok", 1.0, None, 1, {})])
    )
    result = project.run(*args)
    assert "Traceback" not in result.output
    assert result.returncode == 0, result
    assert "dagmake: warning: " in result.stderr
    assert "was damaged" in result.stderr
