"""Run one attempt of a task as processes: own process group, output to the log, timeout, kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from .events import Attempt

# Words that only a shell understands; a command starting with one always goes through it.
_SHELL_WORDS = frozenset(
    "! . : [ alias bg break case cd command continue do done elif else esac eval exec exit "
    "export fc fg fi for function getopts hash if jobs local read readonly return select set "
    "shift source test then time times trap type ulimit umask unalias unset until wait while "
    "{ }".split()
)
_PLAIN = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _./=:,+@%-"
)
_DEFAULT_SHELLS = ("/bin/sh", "sh")


def direct_argv(command: str, shell: str) -> list[str] | None:
    """argv to exec without a shell, when that gives exactly what the shell would do.

    Like make, and unlike ninja, skip /bin/sh for a plain `cp a b`: half the process
    starts of a build of trivial tasks. Anything with quoting, expansion, redirection,
    an assignment or a shell builtin still goes through the shell.
    """
    if shell not in _DEFAULT_SHELLS or not command or not all(c in _PLAIN for c in command):
        return None
    argv = command.split()
    if not argv or argv[0] in _SHELL_WORDS or "=" in argv[0]:
        return None
    return argv


class ProcessRunner:
    """Runs tasks' actions as child processes, each in its own process group."""

    def __init__(
        self, root: str, *, grace: float = 2.0, python: str | None = None, wrap=None
    ) -> None:
        self.root = root
        self.grace = grace
        self.python = python or sys.executable
        # argv -> argv run instead; the Dask executor puts a parent-death guard in front.
        self.wrap = wrap
        self._running: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._stopping = False

    def run(self, task, number: int, log_path: str, *, on_line=None) -> Attempt:
        """Run every command of task's action in order; the first failure ends the attempt."""
        started_wall = time.time()
        started = time.monotonic()
        deadline = started + task.timeout if task.timeout else None
        env = dict(os.environ)
        env.update(task.env)
        env["DAGMAKE_TASK"] = task.name
        cwd = os.path.join(self.root, task.cwd)
        mode = "wb" if number == 1 else "ab"
        with open(log_path, mode) as log:
            if number > 1:
                log.write(f"--- dagmake: attempt {number} ---\n".encode())
                log.flush()
            for argv in self._commands(task, env):
                if self.wrap is not None:
                    argv = self.wrap(argv)
                exit_code, timed_out, interrupted = self._run_one(
                    argv, cwd, env, log, deadline, task.name, on_line
                )
                if exit_code != 0 or timed_out or interrupted:
                    break
        return Attempt(
            number,
            exit_code,
            started_wall,
            time.monotonic() - started,
            timed_out=timed_out,
            interrupted=interrupted,
        )

    def _commands(self, task, env):
        action = task.action
        if action.to_data()[0] == "py":
            env["PYTHONUNBUFFERED"] = "1"
            cwd = task.cwd
            inputs = [_relative(p, cwd) for p in task.inputs]
            outputs = [_relative(p, cwd) for p in task.outputs]
            yield [
                self.python,
                "-m",
                "dagmake.pytask",
                self.root,
                action.target,
                str(len(inputs)),
                *inputs,
                *outputs,
            ]
            return
        for command in action.commands:
            yield direct_argv(command, action.shell) or [action.shell, "-c", command]

    def _run_one(self, argv, cwd, env, log, deadline, name, on_line):
        if self._stopping:
            return 130, False, True
        stream = on_line is not None
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if stream else log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        except FileNotFoundError as error:
            missing = argv[0] if error.filename in (None, argv[0]) else error.filename
            if not os.path.isdir(cwd):
                log.write(f"dagmake: working directory {cwd} does not exist\n".encode())
                return 127, False, False
            log.write(f"dagmake: {missing}: command not found\n".encode())
            return 127, False, False
        except PermissionError:
            log.write(f"dagmake: {argv[0]}: permission denied\n".encode())
            return 126, False, False
        with self._lock:
            self._running[process.pid] = process
            stopping = self._stopping
        if stopping:  # terminate_all() ran between the check above and the registration
            _signal_group(process.pid, signal.SIGTERM)
        reader = None
        if stream:
            reader = threading.Thread(
                target=_pump, args=(process.stdout, log, name, on_line), daemon=True
            )
            reader.start()
        timed_out = False
        try:
            while True:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    process.wait(remaining)
                    break
                except subprocess.TimeoutExpired:
                    timed_out = True
                    self._stop_group(process)
                    break
            if self._stopping:
                self._linger(process.pid)
        finally:
            with self._lock:
                self._running.pop(process.pid, None)
        if reader is not None:
            reader.join()
        # Stopped by dagmake, even if it exits 0 on SIGTERM: what it wrote may be partial.
        interrupted = self._stopping
        return process.returncode, timed_out, interrupted

    def _linger(self, pgid: int) -> None:
        """Stay registered until the group is empty: its leader may be gone while a
        grandchild that ignores SIGTERM lives on. kill_all() reaches it meanwhile;
        after the grace period it is killed here."""
        deadline = time.monotonic() + self.grace
        while _group_alive(pgid):
            if time.monotonic() >= deadline:
                _signal_group(pgid, signal.SIGKILL)
                return
            time.sleep(0.05)

    def _stop_group(self, process) -> None:
        """SIGTERM the whole group, then SIGKILL what is left after the grace period."""
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(self.grace)
        except subprocess.TimeoutExpired:
            pass
        # The leader may be gone while grandchildren that ignore SIGTERM live on.
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()

    def terminate_all(self) -> None:
        """Send SIGTERM to every running task's process group (Ctrl-C, SIGTERM, a failure)."""
        self._stopping = True
        with self._lock:
            pids = list(self._running)
        for pid in pids:
            _signal_group(pid, signal.SIGTERM)

    def kill_all(self) -> None:
        """SIGKILL every running task's process group."""
        self._stopping = True
        with self._lock:
            pids = list(self._running)
        for pid in pids:
            _signal_group(pid, signal.SIGKILL)

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._running)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return True  # no /proc: a zombie nobody reaps counts as alive until the grace ends
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # An orphan's zombie lingers where PID 1 does not reap (containers without an init).
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _pump(pipe, log, name, on_line) -> None:
    for raw in iter(pipe.readline, b""):
        log.write(raw)
        log.flush()
        on_line(name, raw.decode("utf-8", "replace").rstrip("\n"))
    pipe.close()


def _relative(path: str, cwd: str) -> str:
    if cwd == "." or os.path.isabs(path):
        return path
    return os.path.relpath(path, cwd)
