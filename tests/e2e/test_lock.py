"""The project lock beyond e2e/test_state.py: what needs no lock, and locks left by the dead."""

import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from background import Background, kill_leftovers, read_pid
from conftest import assert_nothing_ran, assert_ran, dagmake_command, process_gone, sh_wait_for

HOLD = f"""\
[tasks.hold]
cmd = "echo $$ > hold.pid; {sh_wait_for("go", seconds=30)}; touch hold.txt"
outputs = ["hold.txt"]

[tasks.quick]
cmd = "touch quick.txt"
outputs = ["quick.txt"]
"""


@pytest.fixture
def holder(project):
    project.pipefile(HOLD)
    build = Background(project, "hold")
    read_pid(project, "hold.pid")
    yield build
    project.write("go")
    try:
        build.wait()
    finally:
        build.stop()
        kill_leftovers(project, "hold.pid")


@pytest.mark.parametrize("args", [("-n",), ("-l",), ("--graph",), ("--graph", "mermaid")], ids=str)
def test_checking_needs_no_lock(project, holder, args):
    result = project.run(*args, timeout=10)
    assert result.returncode == 0, result
    assert "quick" in result.stdout
    assert holder.process.poll() is None


def test_a_build_of_other_tasks_is_refused_too(project, holder):
    # one run at a time per project, not per task: the state file has one writer
    result = project.run("quick")
    assert result.returncode == 2, result
    assert f"another dagmake (pid {holder.pid}) is running on this project" in result.stderr
    assert "--wait" in result.stderr
    assert not project.exists("quick.txt")


def test_a_build_is_refused_even_after_the_running_ones_state_was_deleted(project, holder):
    # `rm -rf .dagmake` to reset the state mid-build: the lock file goes with it
    shutil.rmtree(project.path(".dagmake"))
    result = project.run("quick")
    assert result.returncode == 2, result
    assert "another dagmake" in result.stderr and "is running on this project" in result.stderr
    assert not project.exists("quick.txt")


def test_the_time_spent_waiting_for_the_lock_is_not_counted_in_the_run(project, holder):
    import re
    import time

    waiting = Background(project, "--wait", "quick")
    try:
        deadline = time.monotonic() + 10
        while "waiting for dagmake" not in waiting.stderr:
            assert time.monotonic() < deadline, waiting.output
            time.sleep(0.02)
        time.sleep(1.5)  # a wait long enough to see in the summary's time
        project.write("go")
        assert waiting.wait() == 0, waiting.output
    finally:
        waiting.stop()
    assert waiting.stderr.count("waiting for dagmake") == 1, waiting.stderr
    seconds = float(re.search(r"1 ran, 0 up to date, 0 failed in (\d+\.\d+)s", waiting.stdout)[1])
    assert seconds < 1.0, waiting.stdout  # touching one file, not the 1.5 s spent waiting


def test_a_lock_file_left_by_a_dead_process_is_taken_over(project):
    project.pipefile(HOLD)
    project.write("go")
    # what a dagmake killed long ago leaves: its pid, and no flock on the file
    project.write(".dagmake/lock", "999999999\n")
    assert_ran(project.run(), ["hold", "quick"])


def test_the_lock_of_a_killed_dagmake_is_taken_over_while_its_task_lives_on(project):
    project.pipefile(HOLD)
    build = Background(project, "hold")
    try:
        orphan = read_pid(project, "hold.pid")
        build.send(signal.SIGKILL)
        build.wait()
        # after kill -9 nothing stops the task: it still runs, and must not hold the lock
        assert not process_gone(orphan)
        assert_ran(project.run("quick", timeout=10), ["quick"])
    finally:
        build.stop()
        kill_leftovers(project, "hold.pid")
    project.write("go")
    assert_ran(project.run(), ["hold"])
    assert_nothing_ran(project.run())


def test_a_project_dagmake_cannot_write_to_is_a_clear_error():
    # tmp_path lies in a directory only its owner may enter: use a fresh one others can read
    root = tempfile.mkdtemp(prefix="dagmake-readonly-")
    try:
        with open(os.path.join(root, "Pipefile.toml"), "w") as f:
            f.write('[tasks.a]\ncmd = "touch a.txt"\noutputs = ["a.txt"]\n')
        os.chmod(root, 0o555)
        command = dagmake_command()
        if os.geteuid() == 0:  # root writes anywhere: run as nobody instead
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv")
            command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
            probe = subprocess.run([*command, "--version"], capture_output=True, cwd=root)
            if probe.returncode != 0:
                pytest.skip("user nobody cannot run this dagmake")

        def run(*args):
            return subprocess.run(
                [*command, *args], cwd=root, capture_output=True, text=True, timeout=30
            )

        result = run()
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(f"dagmake: cannot write {root}/.dagmake: "), result
        result = run("-n")
        assert result.returncode == 0, result
        assert result.stdout == "a: output a.txt is missing\n"
    finally:
        os.chmod(root, 0o755)
        shutil.rmtree(root)


def test_a_file_where_dagmake_keeps_its_state_is_named_as_such(project):
    project.pipefile('[tasks.a]\ncmd = "touch a.txt"\noutputs = ["a.txt"]\n')
    project.write(".dagmake", "not a directory\n")
    result = project.run()
    assert result.returncode == 2, result
    assert result.stderr == (
        f"dagmake: {project.root}/.dagmake is a file, where dagmake keeps its state "
        "(a directory)\n  hint: move it away or delete it; -n, -l and --graph need no writing\n"
    )
    assert project.read(".dagmake") == "not a directory\n"
    assert project.run("-n").stdout == "a: output a.txt is missing\n"
