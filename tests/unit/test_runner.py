"""ProcessRunner: one thread drives every attempt through start() and wait().

Ordering never rests on sleeps: tasks wait (bounded) for files the test creates, and the
test pumps wait() until a deadline. Time bounds are wide: they tell "killed" from "waited
for", nothing finer; lower bounds follow from the runner's own clock arithmetic.
"""

from __future__ import annotations

import errno
import os
import shlex
import signal
import sys
import threading
import time

import pytest

import dagmake.runner
from conftest import process_gone, sh_wait_for, wait_until
from dagmake.runner import ProcessRunner
from dagmake.task import ShellAction, Task

DEADLINE = 10.0  # how long any attempt may take before the test gives up on it
MISSING = "no-such-command-for-dagmake-tests"


def task(name, *commands, **fields):
    return Task(name, ShellAction(commands), **fields)


def finish(runner, handles, timeout=DEADLINE):
    """Pump wait() until every handle's attempt ended; {handle: attempt} of all that ended."""
    pending = set(handles)
    ended = {}
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        assert left > 0, f"{len(pending)} attempt(s) still running after {timeout} s"
        for handle, attempt in runner.wait(timeout=left):
            assert handle not in ended, "an attempt ended twice"
            ended[handle] = attempt
            pending.discard(handle)
    return ended


def run_one(runner, t, number, log, on_line=None):
    """start() and finish(): like run(), but a runner that never ends the attempt fails."""
    handle = runner.start(t, number, log, on_line=on_line)
    return finish(runner, [handle])[handle]


def pump_until(runner, predicate, timeout=DEADLINE):
    """Pump wait() in short slices until predicate holds; the attempts that ended meanwhile."""
    ended = []
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        ended += runner.wait(timeout=0.02)
    return ended


def shut_down(runner):
    """Leave no process behind, whatever the test did."""
    if not runner.busy():
        return
    runner.kill_all()
    deadline = time.monotonic() + DEADLINE
    while runner.busy() and time.monotonic() < deadline:
        runner.wait(timeout=0.1)


def kill_pid_in(path):
    """Kill the process whose pid a task wrote to path, if any (a test's leftover)."""
    try:
        pid = int(path.read_text())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def no_reapers():
    return not any(t.name == "dagmake-reaper" for t in threading.enumerate())


@pytest.fixture(params=["pidfd", "reaper"])
def mode(request, monkeypatch):
    """Both ways to learn of a child's exit: a pidfd, or a reaper thread and a pipe."""
    if request.param == "pidfd":
        if not dagmake.runner._HAS_PIDFD:
            pytest.skip("no pidfds here")
    else:
        monkeypatch.setattr(dagmake.runner, "_HAS_PIDFD", False)
    return request.param


@pytest.fixture
def logs(tmp_path):
    path = tmp_path / "logs"
    path.mkdir()
    return path


@pytest.fixture
def make_runner(tmp_path, monkeypatch):
    """ProcessRunner(s) rooted at tmp_path, which is also the current directory."""
    monkeypatch.chdir(tmp_path)
    runners = []

    def make(grace=0.5, list_logs=False):
        runner = ProcessRunner(str(tmp_path), grace=grace, list_logs=list_logs)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        shut_down(runner)


@pytest.fixture
def runner(make_runner):
    return make_runner()


@pytest.fixture
def spawns(monkeypatch):
    """Which of the two ways to start a process each command took, in order."""
    calls = []
    for name in ("_posix_spawn", "_popen"):
        original = getattr(ProcessRunner, name)

        def spy(self, job, argv, output, _original=original, _name=name):
            calls.append(_name)
            return _original(self, job, argv, output)

        monkeypatch.setattr(ProcessRunner, name, spy)
    return calls


# --- several attempts from one thread -------------------------------------------------------


def test_attempts_run_at_once_and_start_returns_at_once(mode, runner, tmp_path, logs):
    assert wait_until(no_reapers, timeout=5)  # none left from earlier tests
    tasks = [task(f"t{i}", f"touch started-{i}; {sh_wait_for('go')}") for i in range(3)]
    handles = [runner.start(t, 1, str(logs / f"{t.name}.log")) for t in tasks]
    assert runner.busy()
    assert runner.wait(timeout=0) == []  # all three wait for `go`: none can have ended

    # All three run together: each has started while none has ended.
    started = [tmp_path / f"started-{i}" for i in range(3)]
    ended_early = pump_until(runner, lambda: all(p.exists() for p in started))
    assert ended_early == []
    reapers = [t for t in threading.enumerate() if t.name == "dagmake-reaper"]
    assert len(reapers) == (0 if mode == "pidfd" else 3)  # a thread per attempt only without pidfds

    (tmp_path / "go").touch()
    ended = finish(runner, handles)
    assert set(ended) == set(handles)
    assert [ended[h].exit_code for h in handles] == [0, 0, 0]
    assert all(ended[h].ok and ended[h].number == 1 for h in handles)
    assert not runner.busy()
    assert runner.wait() == []  # nothing under way: returns at once


def test_wait_returns_nothing_when_only_output_arrived_or_the_timeout_passed(
    runner, tmp_path, logs
):
    idle = ProcessRunner(str(tmp_path))
    assert not idle.busy()
    assert idle.wait() == []  # nothing under way: returns at once instead of blocking

    lines = []
    handle = runner.start(
        task("t", f"echo hello; {sh_wait_for('go')}"),
        1,
        str(logs / "t.log"),
        on_line=lambda name, line: lines.append(line),
    )
    assert pump_until(runner, lambda: lines == ["hello"]) == []
    assert runner.wait(timeout=0.05) == []
    assert runner.busy()

    (tmp_path / "go").touch()
    assert finish(runner, [handle])[handle].ok


# --- exit codes, commands, output ---------------------------------------------------------


@pytest.mark.usefixtures("mode")
def test_exit_codes_are_reported_per_handle(runner, logs):
    commands = {
        "ok": "true",
        "false": "false",
        "three": "echo failing; exit 3",
        "missing": MISSING,
        "killed": "kill -KILL $$",
    }
    handles = {
        runner.start(task(name, command), 1, str(logs / f"{name}.log")): name
        for name, command in commands.items()
    }
    ended = finish(runner, handles)
    codes = {handles[h]: attempt.exit_code for h, attempt in ended.items()}
    assert codes == {"ok": 0, "false": 1, "three": 3, "missing": 127, "killed": -signal.SIGKILL}
    assert [handles[h] for h, attempt in ended.items() if attempt.ok] == ["ok"]
    assert f"{MISSING}: command not found" in (logs / "missing.log").read_text()
    assert (logs / "three.log").read_text() == "failing\n"
    assert not any(a.timed_out or a.interrupted for a in ended.values())


@pytest.mark.usefixtures("mode")
def test_commands_run_in_order_in_one_attempt(runner, tmp_path, logs):
    # cp needs the file the first command wrote; cat needs cp's copy.
    attempt = run_one(
        runner,
        task("chain", "echo a > a.txt", "cp a.txt b.txt", "cat b.txt"),
        1,
        str(logs / "c.log"),
    )
    assert attempt.ok
    assert (logs / "c.log").read_text() == "a\n"


@pytest.mark.usefixtures("mode")
def test_the_first_failing_command_stops_the_attempt(runner, tmp_path, logs):
    commands = ("echo one", "echo two; echo err >&2", "echo three; exit 4", "touch later.txt")
    attempt = run_one(runner, task("t", *commands), 1, str(logs / "t.log"))
    assert attempt.exit_code == 4
    assert not attempt.ok
    assert not (tmp_path / "later.txt").exists()
    assert (logs / "t.log").read_text() == (
        "one\ntwo\nerr\nthree\ndagmake: command 3 of 4 failed (exit 4): echo three; exit 4\n"
    )


def test_the_failing_command_of_a_list_is_named_on_a_line_of_its_own(runner, logs):
    attempt = run_one(runner, task("t", "true", "printf partial; exit 2"), 1, str(logs / "t.log"))
    assert attempt.exit_code == 2
    assert (logs / "t.log").read_text() == (
        "partial\ndagmake: command 2 of 2 failed (exit 2): printf partial; exit 2\n"
    )


def test_the_command_of_a_list_that_timed_out_is_named(runner, logs):
    commands = ("echo a", "sleep 30", "echo c")
    attempt = run_one(runner, task("t", *commands, timeout=0.3), 1, str(logs / "t.log"))
    assert attempt.timed_out and not attempt.ok
    assert (logs / "t.log").read_text() == "a\ndagmake: command 2 of 3 timed out: sleep 30\n"


@pytest.mark.usefixtures("mode")
def test_output_goes_to_the_log_and_on_line_on_the_waiting_thread(runner, logs):
    calls = []

    def on_line(name, line):
        calls.append((name, line, threading.get_ident()))

    # A line split across two commands, stderr in the same stream, no final newline.
    commands = ("printf 'first\\nsecond\\npar'", "printf 'tial\\n'; echo oops >&2; printf last")
    handle = runner.start(task("t", *commands), 1, str(logs / "t.log"), on_line=on_line)
    attempt = finish(runner, [handle])[handle]
    assert attempt.ok
    assert (logs / "t.log").read_text() == "first\nsecond\npartial\noops\nlast"
    assert [(name, line) for name, line, _ in calls] == [
        ("t", "first"),
        ("t", "second"),
        ("t", "partial"),
        ("t", "oops"),
        ("t", "last"),
    ]
    assert {ident for _, _, ident in calls} == {threading.get_ident()}


# Writes more than one read() takes into a pipe it enlarged, says so, and exits at once.
WRITE_AND_EXIT = """\
import fcntl, os, sys
fcntl.fcntl(1, fcntl.F_SETPIPE_SZ, 1 << 20)
data = b"x" * 900_000
written = 0
while written < len(data):
    written += os.write(1, data[written:])
with open("written", "w") as f:
    f.write(str(os.getpid()))
os._exit(0)
"""


@pytest.mark.usefixtures("mode")
def test_output_still_in_the_pipe_when_the_command_exits_is_kept(runner, tmp_path, logs):
    with open("/proc/sys/fs/pipe-max-size") as f:
        if int(f.read()) < 1 << 20:
            pytest.skip("pipes cannot hold 1 MiB here")
    (tmp_path / "write.py").write_text(WRITE_AND_EXIT)
    command = f"{shlex.quote(sys.executable)} write.py"
    handle = runner.start(task("t", command), 1, str(logs / "t.log"))
    # wait() is not called until the command has exited: its output is all in the pipe.
    written = tmp_path / "written"
    assert wait_until(lambda: written.exists() and written.read_text() != "")
    pid = int(written.read_text())
    assert wait_until(lambda: process_gone(pid))
    attempt = finish(runner, [handle])[handle]
    assert attempt.ok
    assert (logs / "t.log").stat().st_size == 900_000


@pytest.mark.usefixtures("mode")
def test_output_larger_than_a_pipe_buffer_is_all_kept(runner, logs):
    lines = []
    attempt = run_one(
        runner,
        task("big", "seq 1 30000"),
        1,
        str(logs / "big.log"),
        on_line=lambda name, line: lines.append(line),
    )
    assert attempt.ok
    expected = [str(i) for i in range(1, 30001)]
    assert (logs / "big.log").read_text().splitlines() == expected
    assert lines == expected


def test_a_silent_task_gets_an_existing_empty_log(runner, logs):
    (logs / "quiet.log").write_text("left over from an earlier run\n")
    for name, command in (("quiet", "true"), ("also", "touch x.txt")):
        attempt = run_one(runner, task(name, command), 1, str(logs / f"{name}.log"))
        assert attempt.ok
        assert (logs / f"{name}.log").is_file()
        assert (logs / f"{name}.log").read_text() == ""


def test_a_failed_silent_task_gets_an_existing_empty_log(runner, logs):
    attempt = run_one(runner, task("f", "false"), 1, str(logs / "f.log"))
    assert attempt.exit_code == 1
    assert (logs / "f.log").read_text() == ""


def test_a_task_silent_again_keeps_its_link_and_one_that_prints_gets_its_own_file(runner, logs):
    for name in ("stays", "speaks"):
        assert run_one(runner, task(name, "true"), 1, str(logs / f"{name}.log")).ok
    inode = (logs / "stays.log").stat().st_ino
    assert (logs / "speaks.log").stat().st_ino == inode  # both link the shared empty log
    assert run_one(runner, task("stays", "true"), 1, str(logs / "stays.log")).ok
    assert run_one(runner, task("speaks", "echo now"), 1, str(logs / "speaks.log")).ok
    assert (logs / "stays.log").stat().st_ino == inode
    assert (logs / "stays.log").read_text() == ""
    assert (logs / "speaks.log").read_text() == "now\n"
    assert (logs / "speaks.log").stat().st_nlink == 1


def test_a_log_of_an_earlier_run_with_output_is_replaced(runner, logs):
    (logs / "t.log").write_text("old output\n")
    assert run_one(runner, task("t", "true"), 1, str(logs / "t.log")).ok
    assert (logs / "t.log").read_text() == ""


def test_a_new_runner_judges_the_logs_of_an_earlier_run_from_its_listing(make_runner, logs):
    # A build's runner lists the log directory once instead of a stat per task: a listing
    # misread would write through the shared empty log, or keep an earlier run's output.
    earlier = make_runner()
    for name in ("stays", "speaks"):
        assert run_one(earlier, task(name, "true"), 1, str(logs / f"{name}.log")).ok
    (logs / "old.log").write_text("old output\n")
    inode = (logs / "stays.log").stat().st_ino
    runner = make_runner(list_logs=True)
    assert run_one(runner, task("stays", "true"), 1, str(logs / "stays.log")).ok
    assert run_one(runner, task("speaks", "echo now"), 1, str(logs / "speaks.log")).ok
    assert run_one(runner, task("old", "true"), 1, str(logs / "old.log")).ok
    assert (logs / "stays.log").stat().st_ino == inode
    assert (logs / "stays.log").read_text() == ""
    assert (logs / "speaks.log").read_text() == "now\n"
    assert (logs / "speaks.log").stat().st_nlink == 1
    assert (logs / "old.log").read_text() == ""


def test_a_listing_runner_stats_a_log_it_already_used(make_runner, logs):
    # (a runner told to list, yet used again: its listing is stale for what it ran)
    runner = make_runner(list_logs=True)
    assert run_one(runner, task("t", "true"), 1, str(logs / "t.log")).ok
    assert run_one(runner, task("t", "echo now"), 1, str(logs / "t.log")).ok
    assert run_one(runner, task("u", "true"), 1, str(logs / "u.log")).ok
    assert (logs / "t.log").read_text() == "now\n"
    assert (logs / "u.log").read_text() == ""


def test_an_attempt_says_whether_it_printed_anything(runner, logs):
    quiet = run_one(runner, task("quiet", "true"), 1, str(logs / "quiet.log"))
    spoke = run_one(runner, task("spoke", "echo hi"), 1, str(logs / "spoke.log"))
    assert (quiet.silent, spoke.silent) == (True, False)


def test_a_ctrl_c_between_the_two_steps_of_closing_a_pipe_leaves_the_attempt_whole(runner, logs):
    # The output pipe's end is forgotten by poll() first, then by the runner's own table:
    # a Ctrl-C between the two must not make the attempt's end fail later (a KeyError).
    real = runner._poller

    class InterruptedOnce:
        interrupted = False

        def register(self, fd, events):
            real.register(fd, events)

        def poll(self, timeout=None):
            return real.poll(timeout)

        def unregister(self, fd):
            real.unregister(fd)
            if not self.interrupted:
                self.interrupted = True
                raise KeyboardInterrupt

    runner._poller = InterruptedOnce()
    handle = runner.start(task("t", "echo hi"), 1, str(logs / "t.log"))
    ended = []
    deadline = time.monotonic() + DEADLINE
    while not ended and time.monotonic() < deadline:
        try:
            ended += runner.wait(0.5)
        except KeyboardInterrupt:
            pass
    assert runner._poller.interrupted
    assert [(h, attempt.exit_code) for h, attempt in ended] == [(handle, 0)]
    assert (logs / "t.log").read_text() == "hi\n"


def test_open_log_never_writes_through_the_shared_empty_log(runner, logs):
    assert run_one(runner, task("a", "true"), 1, str(logs / "a.log")).ok
    assert run_one(runner, task("b", "true"), 1, str(logs / "b.log")).ok
    for fresh in (False, True):
        with dagmake.runner.open_log(str(logs / "b.log"), fresh=fresh) as log:
            log.write(b"dagmake: refused\n")
        assert (logs / "a.log").read_text() == ""
    assert (logs / "b.log").read_text() == "dagmake: refused\n"


def test_a_later_attempt_appends_to_the_log_under_a_header(runner, logs):
    log = str(logs / "t.log")
    first = run_one(runner, task("t", "echo one; exit 1"), 1, log)
    second = run_one(runner, task("t", "echo two"), 2, log)
    assert (first.number, first.exit_code) == (1, 1)
    assert (second.number, second.exit_code) == (2, 0)
    assert (logs / "t.log").read_text() == "one\n--- dagmake: attempt 2 ---\ntwo\n"


def test_a_retry_after_a_silent_success_leaves_other_silent_logs_empty(runner, logs):
    # The executor retries an attempt that exited 0 when its check fails ("did not create
    # output x"): attempt 1 printed nothing, so its log is a link to the shared empty file.
    assert run_one(runner, task("before", "true"), 1, str(logs / "before.log")).ok
    assert run_one(runner, task("t", "true"), 1, str(logs / "t.log")).ok
    assert run_one(runner, task("t", "echo second"), 2, str(logs / "t.log")).ok
    assert run_one(runner, task("after", "true"), 1, str(logs / "after.log")).ok
    assert (logs / "t.log").read_text() == "--- dagmake: attempt 2 ---\nsecond\n"
    assert (logs / "before.log").read_text() == ""
    assert (logs / "after.log").read_text() == ""


# --- timeouts ---------------------------------------------------------------------------


@pytest.mark.usefixtures("mode")
def test_a_timeout_stops_the_command(runner, logs):
    began = time.monotonic()
    attempt = run_one(runner, task("slow", "sleep 30", timeout=0.3), 1, str(logs / "slow.log"))
    assert time.monotonic() - began < DEADLINE  # killed, not waited for
    assert attempt.timed_out
    assert not attempt.ok
    assert attempt.exit_code == -signal.SIGTERM
    assert 0.3 <= attempt.seconds < DEADLINE
    assert (logs / "slow.log").exists()  # a failure's log always exists


def test_a_timeout_kills_a_command_that_ignores_term_after_the_grace(make_runner, tmp_path, logs):
    runner = make_runner(grace=0.5)
    command = "trap '' TERM; sleep 30 & echo $! > child.pid; wait"
    try:
        began = time.monotonic()
        attempt = run_one(runner, task("stubborn", command, timeout=0.3), 1, str(logs / "s.log"))
        assert time.monotonic() - began < DEADLINE
        assert attempt.timed_out
        assert attempt.exit_code == -signal.SIGKILL
        assert attempt.seconds >= 0.3 + 0.5  # SIGKILL only a grace period after the SIGTERM
        child = int((tmp_path / "child.pid").read_text())
        assert wait_until(lambda: process_gone(child), timeout=5)
    finally:
        kill_pid_in(tmp_path / "child.pid")


def test_a_timeout_kills_grandchildren_the_command_leaves_behind(runner, tmp_path, logs):
    # The shell dies of the SIGTERM; its child, which ignores SIGTERM, must not outlive it.
    command = "(trap '' TERM; exec sleep 30) & echo $! > child.pid; wait"
    try:
        attempt = run_one(runner, task("t", command, timeout=0.3), 1, str(logs / "t.log"))
        assert attempt.timed_out
        child = int((tmp_path / "child.pid").read_text())
        assert wait_until(lambda: process_gone(child), timeout=5)
    finally:
        kill_pid_in(tmp_path / "child.pid")


# --- what a background child does not hold ----------------------------------------------


@pytest.mark.usefixtures("mode")
def test_a_background_child_holding_the_output_pipe_does_not_hold_the_attempt(
    runner, tmp_path, logs
):
    lines = []
    command = "sleep 30 & echo $! > bg.pid; echo started"
    try:
        began = time.monotonic()
        attempt = run_one(
            runner,
            task("t", command),
            1,
            str(logs / "t.log"),
            on_line=lambda name, line: lines.append(line),
        )
        assert time.monotonic() - began < DEADLINE
        assert attempt.ok
        assert (logs / "t.log").read_text() == "started\n"
        assert lines == ["started"]
        # The test is real: the child still runs and kept the pipe open.
        assert not process_gone(int((tmp_path / "bg.pid").read_text()))
    finally:
        kill_pid_in(tmp_path / "bg.pid")


# --- terminate_all / kill_all -------------------------------------------------------------


@pytest.mark.usefixtures("mode")
def test_terminate_all_interrupts_what_runs_and_what_starts_later(runner, tmp_path, logs):
    handle = runner.start(task("t", "touch ready; sleep 30"), 1, str(logs / "t.log"))
    assert pump_until(runner, (tmp_path / "ready").exists) == []
    began = time.monotonic()
    runner.terminate_all()
    attempt = finish(runner, [handle])[handle]
    assert time.monotonic() - began < DEADLINE
    assert attempt.interrupted
    assert not attempt.ok
    assert not attempt.timed_out

    later = runner.start(task("later", "touch ran.txt"), 1, str(logs / "later.log"))
    attempt = finish(runner, [later])[later]
    assert attempt.exit_code == 130
    assert attempt.interrupted
    assert not (tmp_path / "ran.txt").exists()
    assert (logs / "later.log").exists()
    assert not runner.busy()


def test_terminate_all_kills_grandchildren_that_ignore_term_after_the_grace(
    make_runner, tmp_path, logs
):
    runner = make_runner(grace=0.5)
    command = "(trap '' TERM; exec sleep 30) & echo $! > child.pid; touch ready; wait"
    try:
        handle = runner.start(task("t", command), 1, str(logs / "t.log"))
        assert pump_until(runner, (tmp_path / "ready").exists) == []
        child = int((tmp_path / "child.pid").read_text())
        began = time.monotonic()
        runner.terminate_all()
        attempt = finish(runner, [handle])[handle]
        waited = time.monotonic() - began
        assert attempt.interrupted
        assert 0.5 <= waited < DEADLINE  # held while the child lived, killed after the grace
        assert wait_until(lambda: process_gone(child), timeout=5)
    finally:
        kill_pid_in(tmp_path / "child.pid")


def test_kill_all_kills_a_command_that_ignores_term(runner, tmp_path, logs):
    handle = runner.start(task("t", "trap '' TERM; touch ready; sleep 30"), 1, str(logs / "t.log"))
    assert pump_until(runner, (tmp_path / "ready").exists) == []
    runner.kill_all()
    attempt = finish(runner, [handle])[handle]
    assert attempt.interrupted
    assert attempt.exit_code == -signal.SIGKILL


# --- the two ways to start a process ----------------------------------------------------


@pytest.mark.usefixtures("mode")
@pytest.mark.parametrize(("cwd", "spawner"), [(".", "_posix_spawn"), ("sub", "_popen")])
def test_commands_run_in_the_task_directory(runner, spawns, tmp_path, logs, cwd, spawner):
    (tmp_path / "sub").mkdir()
    commands = (
        "pwd > where.txt",  # through the shell
        "touch made.txt",  # exec'd directly
        "echo $GREETING from $DAGMAKE_TASK",
        "cat",  # stdin is /dev/null: ends at once
    )
    t = task("t", *commands, cwd=cwd, env=(("GREETING", "hi"),))
    attempt = run_one(runner, t, 1, str(logs / "t.log"))
    assert attempt.ok
    where = tmp_path / cwd
    assert (where / "where.txt").read_text() == f"{where.resolve()}\n"
    assert (where / "made.txt").exists()
    assert (logs / "t.log").read_text() == "hi from t\n"
    assert spawns == [spawner] * len(commands)


@pytest.mark.parametrize("cwd", [".", "sub"])
def test_stdin_is_dev_null(runner, tmp_path, logs, cwd):
    (tmp_path / "sub").mkdir()
    # Make this process's stdin a pipe that never ends: a command inheriting it would hang.
    read_end, write_end = os.pipe()
    saved = os.dup(0)
    os.dup2(read_end, 0)
    try:
        attempt = run_one(
            runner, task("t", "readlink /proc/self/fd/0", "cat", cwd=cwd), 1, str(logs / "t.log")
        )
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read_end, write_end):
            os.close(fd)
    assert attempt.ok
    assert (logs / "t.log").read_text() == f"{os.devnull}\n"


def test_a_missing_working_directory_fails_with_127(runner, logs):
    attempt = run_one(runner, task("t", "touch x.txt", cwd="missing"), 1, str(logs / "t.log"))
    assert attempt.exit_code == 127
    log = (logs / "t.log").read_text()
    assert "working directory" in log
    assert "missing does not exist" in log


@pytest.mark.usefixtures("mode")
def test_a_missing_command_in_a_task_directory_fails_with_127(runner, spawns, tmp_path, logs):
    (tmp_path / "sub").mkdir()
    attempt = run_one(runner, task("t", MISSING, "touch x.txt", cwd="sub"), 1, str(logs / "t.log"))
    assert attempt.exit_code == 127
    assert f"{MISSING}: command not found" in (logs / "t.log").read_text()
    assert not (tmp_path / "sub" / "x.txt").exists()
    assert spawns == ["_popen"]


# --- run(), and what is left afterwards -------------------------------------------------


@pytest.mark.usefixtures("mode")
def test_run_blocks_and_returns_the_attempt_of_its_task(runner, tmp_path, logs):
    other = runner.start(task("other", sh_wait_for("go")), 1, str(logs / "other.log"))
    lines = []
    attempt = runner.run(
        task("t", "echo hi; exit 3"),
        2,
        str(logs / "t.log"),
        on_line=lambda name, line: lines.append((name, line)),
    )
    assert (attempt.number, attempt.exit_code) == (2, 3)
    assert lines == [("t", "hi")]
    assert runner.busy()  # the other attempt still runs, and is still reported later
    (tmp_path / "go").touch()
    assert finish(runner, [other])[other].ok
    assert not runner.busy()
    assert runner.run(task("u", "true"), 1, str(logs / "u.log")).ok


@pytest.mark.usefixtures("mode")
def test_run_returns_its_own_attempt_when_another_ended_first(runner, tmp_path, logs):
    other = runner.start(task("other", "touch other-ended"), 1, str(logs / "other.log"))
    attempt = runner.run(task("t", f"{sh_wait_for('other-ended')}; exit 3"), 2, str(logs / "t.log"))
    assert (attempt.number, attempt.exit_code) == (2, 3)
    # the other attempt's end is kept for a later wait(), not lost (its exit may also be
    # noticed only after t's: either way it is still to come)
    assert runner.busy()
    assert finish(runner, [other])[other].ok
    assert not runner.busy()


@pytest.mark.usefixtures("mode")
def test_run_keeps_an_end_reported_in_the_same_batch_after_its_own(runner, logs, monkeypatch):
    other = runner.start(task("other", "true"), 1, str(logs / "other.log"))
    real_wait = runner.wait
    held = []

    def report_both_at_once(timeout=None):
        held.extend(real_wait(timeout))
        if len(held) < 2:
            return []
        return sorted(held, key=lambda ended: ended[0] is other)  # run()'s own first

    monkeypatch.setattr(runner, "wait", report_both_at_once)
    attempt = runner.run(task("t", "exit 3"), 2, str(logs / "t.log"))
    monkeypatch.undo()
    assert attempt.exit_code == 3
    assert runner.busy()
    [(handle, ended)] = runner.wait(0)
    assert handle is other and ended.ok


@pytest.mark.usefixtures("mode")
def test_no_descriptor_or_thread_is_left_behind(runner, tmp_path, logs):
    (tmp_path / "sub").mkdir()
    assert run_one(runner, task("warm", "true"), 1, str(logs / "warm.log")).ok  # opens /dev/null
    # A reaper thread closes its end of the exit pipe just after the runner is told: wait
    # for those of earlier attempts (and tests) to end before counting.
    assert wait_until(no_reapers, timeout=5)
    fds = open_fds()
    tasks = [
        task("ok", "echo hi", "true"),
        task("fails", "echo no; exit 2"),
        task("missing", MISSING),
        task("slow", "sleep 30", timeout=0.2),
        task("popen", "echo sub", "false", cwd="sub"),
        task("nowhere", "true", cwd="missing"),
    ]
    handles = [runner.start(t, 1, str(logs / f"{t.name}.log")) for t in tasks]
    ended = finish(runner, handles)
    assert [ended[h].ok for h in handles] == [True, False, False, False, False, False]
    assert wait_until(no_reapers, timeout=5)
    assert open_fds() == fds


def test_an_attempt_left_half_registered_by_a_ctrl_c_still_ends_once_stopping(runner, logs):
    # A Ctrl-C can land between posix_spawn and the registration of the exit fd, or
    # between closing a finished command's fds and ending its attempt: nothing would ever
    # report such an attempt, and the build would wait for it forever.
    running = runner.start(task("running", "sleep 30"), 1, str(logs / "running.log"))
    done = runner.start(task("done", "true"), 1, str(logs / "done.log"))
    for job in (running, done):  # as if the Ctrl-C came before registration
        for fd in (job.pipe, job.exit_fd):
            runner._poller.unregister(fd)
            del runner._fds[fd]
            os.close(fd)
        job.pipe = job.exit_fd = -1
    runner.terminate_all()
    ended = finish(runner, [running, done])
    assert ended[running].interrupted and ended[running].exit_code < 0  # TERM or KILL
    assert ended[done].interrupted
    assert not runner.busy()


@pytest.mark.parametrize("cwd", [".", "sub"])
def test_a_script_without_a_shebang_runs_with_sh_as_the_shell_would(runner, tmp_path, logs, cwd):
    (tmp_path / "sub").mkdir()
    script = tmp_path / "gen.sh"
    script.write_text("echo made > made.txt\n")
    script.chmod(0o755)
    command = "./gen.sh" if cwd == "." else "../gen.sh"
    attempt = run_one(runner, task("gen", command, cwd=cwd), 1, str(logs / "gen.log"))
    assert attempt.ok, (logs / "gen.log").read_text()
    assert (tmp_path / cwd / "made.txt").read_text() == "made\n"


@pytest.mark.parametrize("cwd", [".", "sub"])
def test_a_command_too_long_to_start_fails_its_task_with_the_reason(runner, tmp_path, logs, cwd):
    (tmp_path / "sub").mkdir()
    long_argv = "true " + " ".join(["x" * 100_000] * 30)  # past the kernel's limit
    attempt = run_one(runner, task("long", long_argv, cwd=cwd), 1, str(logs / "long.log"))
    assert attempt.exit_code == 126
    assert "Argument list too long" in (logs / "long.log").read_text()


def test_a_command_that_finds_no_file_descriptor_left_fails_its_task_with_the_reason(
    runner, logs, monkeypatch
):
    def no_descriptors_left():
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(dagmake.runner.os, "pipe", no_descriptors_left)
    attempt = run_one(runner, task("t", "echo hi"), 1, str(logs / "t.log"))
    assert attempt.exit_code == 126
    assert "Too many open files" in (logs / "t.log").read_text()


def test_a_working_directory_that_is_a_file_fails_its_task_with_the_reason(runner, tmp_path, logs):
    (tmp_path / "afile").write_text("")
    attempt = run_one(runner, task("t", "true", cwd="afile"), 1, str(logs / "t.log"))
    assert attempt.exit_code == 127
    assert "working directory" in (logs / "t.log").read_text()
    assert "is not a directory" in (logs / "t.log").read_text()


def test_a_log_that_cannot_be_written_fails_the_attempt_not_the_build(runner, logs):
    (logs / "t.log").mkdir()  # in the way of the log file
    attempt = run_one(runner, task("t", "echo hi"), 1, str(logs / "t.log"))
    assert not attempt.ok
    assert attempt.error.startswith("cannot write its log (")
    assert run_one(runner, task("next", "echo fine"), 1, str(logs / "next.log")).ok


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_under_the_log_fails_the_attempt(runner, logs, tmp_path):
    os.symlink("/dev/full", logs / "t.log")
    attempt = run_one(runner, task("t", "seq 1 1000"), 2, str(logs / "t.log"))
    assert not attempt.ok
    assert attempt.error == "cannot write its log (No space left on device)"
    assert os.path.islink(logs / "t.log")  # written through, never replaced


def test_a_ctrl_c_as_a_command_starts_lets_it_be_registered_and_stopped(runner, logs, monkeypatch):
    # the worst moment: the process exists, and the runner has not yet noted its pid
    from dagmake.sig import sigterm_as_interrupt

    spawn = os.posix_spawn
    pids = []

    def spawn_then_ctrl_c(*args, **kwargs):
        pids.append(spawn(*args, **kwargs))
        os.kill(os.getpid(), signal.SIGINT)
        return pids[-1]

    monkeypatch.setattr(os, "posix_spawn", spawn_then_ctrl_c)
    try:
        with sigterm_as_interrupt(), pytest.raises(KeyboardInterrupt):
            runner.start(task("t", "sleep 30"), 1, str(logs / "t.log"))
            time.sleep(5)  # (not reached: the interrupt comes once the pid is noted)
        runner.terminate_all()
        [(_, attempt)] = pump_until(runner, lambda: not runner.busy(), timeout=5)
        assert attempt.interrupted
        assert wait_until(lambda: process_gone(pids[0]), timeout=5)
    finally:
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.mark.usefixtures("mode")
def test_a_ctrl_c_as_a_command_is_reaped_keeps_its_exit_status(runner, logs, monkeypatch):
    # the worst moment: the process is reaped, and its status not yet noted; asking again
    # would be "no child processes"
    from dagmake.sig import sigterm_as_interrupt

    waitpid = os.waitpid

    def reap_then_ctrl_c(pid, options):
        reaped = waitpid(pid, options)
        if reaped[0] != 0:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # a signal is handled between two bytecodes
                pass
        return reaped

    monkeypatch.setattr(os, "waitpid", reap_then_ctrl_c)
    with sigterm_as_interrupt(), pytest.raises(KeyboardInterrupt):
        handle = runner.start(task("t", "exit 3"), 1, str(logs / "t.log"))
        pump_until(runner, lambda: False, timeout=5)
    runner.terminate_all()
    ended = dict(pump_until(runner, lambda: not runner.busy(), timeout=5))
    assert ended[handle].exit_code == 3


def test_a_stop_signal_inside_a_section_not_to_be_cut_is_raised_at_its_end():
    from dagmake.sig import not_interrupted, sigterm_as_interrupt

    reached = []
    with sigterm_as_interrupt(), pytest.raises(KeyboardInterrupt):
        with not_interrupted():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # a signal is handled between two bytecodes
                pass
            reached.append("end of the section")
        reached.append("after it")
    assert reached == ["end of the section"]


def test_a_stop_signal_whose_interrupt_was_lost_still_stops_the_tasks(runner, logs, monkeypatch):
    # Python ignores an exception raised where it cannot propagate (a callback during an
    # import): the signal was counted, its KeyboardInterrupt never came
    from dagmake import sig

    runner.start(task("t", "sleep 30"), 1, str(logs / "t.log"))
    with sig.sigterm_as_interrupt():
        monkeypatch.setattr(sig, "_received", 1)
        with pytest.raises(KeyboardInterrupt):
            runner.wait(timeout=0.1)
    runner.terminate_all()
    [(_, attempt)] = pump_until(runner, lambda: not runner.busy(), timeout=5)
    assert attempt.interrupted
