"""Ctrl-C and SIGTERM in mid-build: children stopped, nothing orphaned, state recorded, exit 130."""

import json
import os
import random
import signal
import time

import pytest

from background import Background, kill_leftovers, read_pid
from conftest import assert_nothing_ran, assert_ran, process_gone, wait_until

# Each blocking task completes at once when the file `go` exists (so the rerun after the
# interrupt can finish), and otherwise writes part of its output and blocks, with a child
# process in its group whose pid it writes down.
PIPELINE = """\
[tasks.first]
cmd = "echo first > first.txt"
outputs = ["first.txt"]

[tasks.polite]
cmd = '''
if [ -e go ]; then echo done > polite.txt; exit 0; fi
echo partial > polite.txt
sleep 30 & echo $! > polite.child
echo $$ > polite.pid
wait
'''
inputs = ["first.txt"]
outputs = ["polite.txt"]

[tasks.later]
cmd = "cat polite.txt > later.txt"
inputs = ["polite.txt"]
outputs = ["later.txt"]
"""

# The task and its child ignore SIGTERM: only SIGKILL stops them.
STUBBORN = """\
[tasks.stubborn]
cmd = '''
if [ -e go ]; then echo done > stubborn.txt; exit 0; fi
trap '' TERM
echo partial > stubborn.txt
sleep 30 & echo $! > stubborn.child
echo $$ > stubborn.pid
wait
'''
outputs = ["stubborn.txt"]
"""

PIDS = ("polite.pid", "polite.child", "stubborn.pid", "stubborn.child", "leader.pid", "child.pid")


@pytest.fixture
def cleanup(project):
    running = []
    yield running.append
    for background in running:
        background.stop()
    kill_leftovers(project, *PIDS)


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"]
)
def test_interrupt_stops_the_running_task_and_keeps_what_finished(project, cleanup, signum):
    project.pipefile(PIPELINE)
    build = Background(project, "-j3")
    cleanup(build)
    leader = read_pid(project, "polite.pid")
    child = read_pid(project, "polite.child")

    build.send(signum)

    assert build.wait() == 130, build.output
    assert "Traceback" not in build.output
    assert "interrupted" in build.stdout
    assert "INTERRUPTED polite" in build.stdout
    # the task dies on SIGTERM: no waiting out the grace period
    assert build.seconds_since_signal() < 1.8, build.output
    assert process_gone(leader)
    assert wait_until(lambda: process_gone(child), timeout=5), "the task's child survived"
    # first finished before the interrupt and stays done; polite wrote part of its output
    # but is stale anyway; later never started
    assert project.read("polite.txt") == "partial\n"
    result = project.run("-n")
    assert result.returncode == 0, result
    assert result.stdout == (
        "polite: its last run was interrupted\nlater: output later.txt is missing\n"
    ), result
    project.write("go")
    assert_ran(project.run(), ["polite", "later"])
    assert project.read("later.txt") == "done\n"
    assert_nothing_ran(project.run())


def test_a_second_sigint_kills_a_task_that_ignores_sigterm_at_once(project, cleanup):
    project.pipefile(STUBBORN)
    build = Background(project)
    cleanup(build)
    leader = read_pid(project, "stubborn.pid")
    child = read_pid(project, "stubborn.child")

    build.send(signal.SIGINT)
    # SIGTERM is ignored: dagmake waits for the grace period (2 s)...
    assert not wait_until(lambda: build.process.poll() is not None, timeout=0.4)
    assert not process_gone(leader)
    # ...unless a second Ctrl-C says not to
    build.send(signal.SIGINT)

    assert build.wait() == 130, build.output
    assert build.seconds_since_signal() < 1.5, build.output
    assert "Traceback" not in build.output
    assert wait_until(lambda: process_gone(leader) and process_gone(child), timeout=5)
    assert project.run("-n").stdout == "stubborn: its last run was interrupted\n"


@pytest.mark.parametrize("gap", [0.0, 0.001, 0.005], ids=["at-once", "1ms", "5ms"])
def test_two_interrupts_in_a_row_still_stop_and_record_every_task(project, cleanup, gap):
    # A terminal's Ctrl-C reaches both dagmake and a wrapper that passes it on (`uv run`,
    # `npm run`): the second one lands while the first is being handled.
    project.pipefile(PIPELINE + STUBBORN)
    build = Background(project, "-j3")
    cleanup(build)
    pids = [read_pid(project, name) for name in PIDS[:4]]

    build.send(signal.SIGINT)
    time.sleep(gap)
    build.send(signal.SIGINT)

    assert build.wait() == 130, build.output
    assert "Traceback" not in build.output
    assert "INTERRUPTED polite" in build.stdout and "INTERRUPTED stubborn" in build.stdout
    # (two signals that close together may arrive as one: a single Ctrl-C, which kills
    # what ignores SIGTERM after the grace period; a second one seen kills at once)
    assert wait_until(lambda: all(process_gone(pid) for pid in pids), timeout=5)
    dry_run = project.run("-n").stdout.splitlines()
    assert "polite: its last run was interrupted" in dry_run, dry_run
    assert "stubborn: its last run was interrupted" in dry_run, dry_run


def test_a_task_that_ignores_sigterm_is_killed_after_the_grace_period(project, cleanup):
    project.pipefile(STUBBORN)
    build = Background(project)
    cleanup(build)
    leader = read_pid(project, "stubborn.pid")
    child = read_pid(project, "stubborn.child")

    build.send(signal.SIGINT)

    assert build.wait(timeout=15) == 130, build.output
    assert build.seconds_since_signal() >= 1.5, "SIGKILL came before the grace period ended"
    assert "Traceback" not in build.output
    assert wait_until(lambda: process_gone(leader) and process_gone(child), timeout=5)


def test_no_orphan_when_the_task_dies_but_its_child_ignores_sigterm(project, cleanup):
    # The shell dies on SIGTERM at once; its child lives on in the task's process group.
    project.pipefile(
        """\
        [tasks.leaky]
        cmd = '''
        (trap '' TERM; exec sleep 30) & echo $! > child.pid
        echo $$ > leader.pid
        wait
        '''
        outputs = ["leaky.txt"]
        """
    )
    build = Background(project)
    cleanup(build)
    leader = read_pid(project, "leader.pid")
    child = read_pid(project, "child.pid")

    build.send(signal.SIGINT)

    assert build.wait(timeout=15) == 130, build.output
    assert process_gone(leader)
    assert process_gone(child), "the task's child outlived dagmake"


def test_a_task_that_exits_0_on_sigterm_still_counts_as_interrupted(project, cleanup):
    # Cleaning up and exiting 0 on SIGTERM is common; the output may still be partial.
    project.pipefile(
        """\
        [tasks.graceful]
        cmd = '''
        trap 'exit 0' TERM
        echo partial > graceful.txt
        sleep 30 & echo $! > child.pid
        echo $$ > leader.pid
        wait
        '''
        outputs = ["graceful.txt"]
        """
    )
    build = Background(project)
    cleanup(build)
    read_pid(project, "leader.pid")
    child = read_pid(project, "child.pid")

    build.send(signal.SIGINT)

    assert build.wait() == 130, build.output
    assert "INTERRUPTED graceful" in build.stdout
    assert wait_until(lambda: process_gone(child), timeout=5)
    assert project.run("-n").stdout == "graceful: its last run was interrupted\n"


def test_interrupting_a_python_task(project, cleanup):
    project.write(
        "slow.py",
        "import os, time\n"
        "def main(outputs):\n"
        "    with open(outputs[0], 'w') as f:\n"
        "        f.write('partial')\n"
        "    with open('leader.pid', 'w') as f:\n"
        "        f.write(str(os.getpid()))\n"
        "    if not os.path.exists('go'):\n"
        "        time.sleep(30)\n",
    )
    project.pipefile(
        """\
        [tasks.py]
        python = "slow:main"
        outputs = ["py.txt"]
        """
    )
    build = Background(project)
    cleanup(build)
    leader = read_pid(project, "leader.pid")

    build.send(signal.SIGINT)

    assert build.wait() == 130, build.output
    assert "Traceback" not in build.output
    assert wait_until(lambda: process_gone(leader), timeout=5)
    assert project.run("-n").stdout == "py: its last run was interrupted\n"
    project.write("go")
    assert_ran(project.run(), ["py"])


def test_interrupt_during_a_retry_delay_ends_at_once(project, cleanup):
    project.pipefile(
        """\
        [tasks.flaky]
        cmd = "echo partial > flaky.txt; exit 3"
        outputs = ["flaky.txt"]
        retries = 2
        retry_delay = 60
        """
    )
    build = Background(project)
    cleanup(build)
    assert wait_until(lambda: "retrying in 60 s" in build.stdout), build.output

    build.send(signal.SIGINT)

    assert build.wait() == 130, build.output
    assert build.seconds_since_signal() < 1.5
    assert "Traceback" not in build.output
    # not "(exit 3, 0.00s)": no attempt was running when the interrupt came
    assert (
        "INTERRUPTED flaky (while waiting to retry after attempt 1 failed: exit 3)\n"
        in build.stdout
    ), build.output
    assert project.run("-n").stdout == "flaky: its last run was interrupted\n"


def test_interrupt_while_waiting_for_a_missing_output_ends_the_task_interrupted(project, cleanup):
    project.pipefile(
        """\
        [tasks.a]
        cmd = "true"
        outputs = ["a.txt"]
        """
    )
    build = Background(project, "--latency-wait", "60", "--json", "-v")
    cleanup(build)
    assert wait_until(lambda: '"task_started"' in build.stdout), build.output
    time.sleep(0.3)  # (the command is over at once; dagmake is looking for a.txt)

    build.send(signal.SIGINT)

    assert build.wait() == 130, build.output
    assert "Traceback" not in build.output
    events = [json.loads(line) for line in build.stdout.splitlines()]
    [finished] = [e for e in events if e["event"] == "task_finished"]
    assert finished["task"] == "a" and finished["status"] == "interrupted", events
    assert events[-1]["interrupted"] == ["a"], events[-1]
    project.write("a.txt", "late\n")
    assert project.run("-n").stdout == "a: its last run was interrupted\n"
    history = project.run("--history", "a")
    assert "interrupted" in history.stdout, history


def test_interrupt_while_waiting_for_the_lock(project, cleanup):
    project.pipefile(STUBBORN)
    holder = Background(project)
    cleanup(holder)
    read_pid(project, "stubborn.pid")
    waiter = Background(project, "--wait")
    cleanup(waiter)
    assert wait_until(lambda: "waiting for dagmake" in waiter.stderr), waiter.output

    waiter.send(signal.SIGINT)

    assert waiter.wait() == 130, waiter.output
    assert "Traceback" not in waiter.output
    assert holder.process.poll() is None  # the holder was not disturbed


def test_ctrl_c_at_random_moments_of_a_busy_build(project, cleanup):
    # Many tiny tasks keep the run loop busy taking results, starting tasks and recording
    # them: a Ctrl-C lands somewhere different each time, and must always end the same way.
    tasks = "".join(
        f'[tasks.t{i:02}]\ncmd = "echo {i} > t{i:02}.txt"\noutputs = ["t{i:02}.txt"]\n'
        + (f'inputs = ["t{i - 10:02}.txt"]\n' if i >= 10 else "")
        for i in range(60)
    )
    project.pipefile(tasks)
    rng = random.Random(3)
    for _ in range(8):
        build = Background(project, "-j2")
        cleanup(build)
        # past Python's own start-up, where a Ctrl-C is a KeyboardInterrupt in its imports
        assert wait_until(lambda b=build: b.process.poll() is not None or "[" in b.stdout)
        time.sleep(rng.uniform(0, 0.15))
        build.send(signal.SIGINT)
        # 0: it had finished; -SIGINT: it was exiting (a shell shows that as 130 too)
        assert build.wait(timeout=10) in (0, 130, -signal.SIGINT), build.output
        assert "Traceback" not in build.output
        result = project.run("-n")
        assert result.returncode == 0 and result.stderr == "", result
        for name in os.listdir(project.root):
            if name.endswith(".txt"):
                os.unlink(project.path(name))
    assert project.run("-j2").returncode == 0
    assert_nothing_ran(project.run())


def test_sigterm_while_waiting_for_the_lock_exits_130(project):
    import fcntl
    import os
    import signal

    from background import Background
    from conftest import wait_until

    project.pipefile('[tasks.a]\ncmd = "touch a.txt"\noutputs = ["a.txt"]\n')
    state_dir = project.path(".dagmake")
    state_dir.mkdir()
    (state_dir / ".gitignore").write_text("*\n")
    holder = os.open(state_dir / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another dagmake, as far as the lock can tell
    try:
        waiting = Background(project, "--wait")
        assert wait_until(lambda: "waiting for dagmake" in waiting.stderr)
        waiting.send(signal.SIGTERM)
        assert waiting.wait() == 130, waiting.output
    finally:
        os.close(holder)
    assert "Traceback" not in waiting.output
    assert not project.exists("a.txt")


def test_a_sighup_that_nohup_ignores_stays_ignored_during_a_build():
    from dagmake.sig import sigterm_as_interrupt

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        with sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN)
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_an_interrupted_summary_still_names_the_first_failure_and_what_never_started(
    project, cleanup
):
    project.pipefile(
        # long starts its sleep only once broken has failed (its log exists)
        """\
        [tasks.broken]
        cmd = "exit 4"
        outputs = ["broken.txt"]

        [tasks.long]
        cmd = [
            "until [ -e .dagmake/logs/broken.log ]; do sleep 0.01; done",
            "echo $$ > long.pid; sleep 30",
        ]
        outputs = ["long.txt"]

        [tasks.after_broken]
        cmd = "touch after.txt"
        after = ["broken"]
        outputs = ["after.txt"]
        """
    )
    build = Background(project, "-k", "-j2")
    cleanup(build)
    read_pid(project, "long.pid")
    build.send(signal.SIGINT)
    assert build.wait() == 130, build.output
    assert "stopped long" in build.stdout
    assert "dagmake: first failure: broken (exit 4), log .dagmake/logs/broken.log" in build.stdout
    assert "dagmake: not started: after_broken" in build.stdout


def test_a_sigterm_while_the_pipefile_is_read_ends_dagmake_as_ctrl_c_does(project):
    # A FIFO as the Pipefile holds dagmake inside its read for as long as the test likes.
    import errno
    import subprocess

    from conftest import dagmake_command

    os.mkfifo(project.root / "Pipefile.toml")
    process = subprocess.Popen(
        [*dagmake_command(), "-f", "Pipefile.toml"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    writer = None
    try:

        def reading() -> bool:  # a FIFO opens for writing only once a reader has it open
            nonlocal writer
            try:
                writer = os.open(project.root / "Pipefile.toml", os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                assert error.errno == errno.ENXIO, error
                return False
            return True

        assert wait_until(reading)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if writer is not None:
            os.close(writer)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, (out, err)
    assert err.decode() == "dagmake: interrupted\n"


HOOKED = """\
[settings]
on_success = "sleep 30 & echo $! > hook.child; echo $$ > hook.pid; wait"

[tasks.a]
cmd = "touch a.txt"
outputs = ["a.txt"]
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_during_a_hook_stops_the_hook_and_what_it_started(project, signum):
    project.pipefile(HOOKED)
    build = Background(project)
    try:
        hook = read_pid(project, "hook.pid")
        child = read_pid(project, "hook.child")
        build.send(signum)
        assert build.wait() == 130, build.output
        assert "Traceback" not in build.output
        assert wait_until(lambda: process_gone(hook), timeout=5), "the hook's shell survived"
        assert wait_until(lambda: process_gone(child), timeout=5), "the hook's child survived"
    finally:
        build.stop()
        kill_leftovers(project, "hook.pid", "hook.child")
