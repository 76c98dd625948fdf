"""Run one attempt of a task as processes: own process group, output to the log, timeout, kill."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from .events import Attempt

# Words that only a shell understands; a command starting with one always goes through it.
_SHELL_WORDS = frozenset(
    [
        "!",
        ".",
        ":",
        "[",
        "alias",
        "bg",
        "break",
        "case",
        "cd",
        "command",
        "continue",
        "do",
        "done",
        "elif",
        "else",
        "esac",
        "eval",
        "exec",
        "exit",
        "export",
        "fc",
        "fg",
        "fi",
        "for",
        "function",
        "getopts",
        "hash",
        "if",
        "jobs",
        "local",
        "read",
        "readonly",
        "return",
        "select",
        "set",
        "shift",
        "source",
        "test",
        "then",
        "time",
        "times",
        "trap",
        "type",
        "ulimit",
        "umask",
        "unalias",
        "unset",
        "until",
        "wait",
        "while",
        "{",
        "}",
    ]
)
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _./=:,+@%-")
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
        self._running: dict[int, object] = {}  # pid -> its Popen, or None when spawned
        self._current: dict[str, bool] = {}
        self._executables: dict[tuple, str | None] = {}
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
        log = _Log(log_path, number)
        try:
            for argv in self._commands(task, env):
                if self.wrap is not None:
                    argv = self.wrap(argv)
                exit_code, timed_out, interrupted = self._run_one(
                    argv, cwd, env, log, deadline, task.name, on_line
                )
                if exit_code != 0 or timed_out or interrupted:
                    log.create()  # a failure's message points at its log: it must exist
                    break
        finally:
            log.close()
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
        if _can_spawn() and self._is_current_directory(cwd):
            return self._spawn(argv, env, log, deadline, name, on_line)
        return self._popen(argv, cwd, env, log, deadline, name, on_line)

    def _is_current_directory(self, cwd: str) -> bool:
        # posix_spawn cannot change directory (before Python 3.13), so it serves only
        # tasks that run where dagmake runs: the usual case.
        known = self._current.get(cwd)
        if known is None:
            try:
                known = self._current[cwd] = os.path.samefile(cwd, ".")
            except OSError:
                known = self._current[cwd] = False
        return known

    def _spawn(self, argv, env, log, deadline, name, on_line):
        """posix_spawn, then copy the output from a pipe to the log until the process exits.

        Cheaper than subprocess.Popen and an eagerly created log file, which together cost
        more than a trivial command itself; the pipe also lets a silent task leave no log.
        """
        executable = self._which(argv[0], env.get("PATH"))
        if executable is None:
            log.write(f"dagmake: {argv[0]}: command not found\n".encode())
            return 127, False, False
        read_end, write_end = os.pipe()
        stdin = os.open(os.devnull, os.O_RDONLY)
        try:
            pid = os.posix_spawn(
                executable,
                argv,
                env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, stdin, 0),
                    (os.POSIX_SPAWN_DUP2, write_end, 1),
                    (os.POSIX_SPAWN_DUP2, write_end, 2),
                ],
                setpgroup=0,
                # what subprocess's restore_signals does: Python ignores SIGPIPE, the child must not
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
            )
        except OSError as error:
            os.close(read_end)
            reason = "permission denied" if isinstance(error, PermissionError) else error.strerror
            log.write(f"dagmake: {argv[0]}: {reason}\n".encode())
            return (126 if isinstance(error, PermissionError) else 127), False, False
        finally:
            os.close(write_end)
            os.close(stdin)
        with self._lock:
            self._running[pid] = None
            stopping = self._stopping
        if stopping:  # terminate_all() ran between the check in _run_one and the registration
            _signal_group(pid, signal.SIGTERM)
        try:
            timed_out = self._collect(pid, read_end, log, deadline, name, on_line)
            _, status = os.waitpid(pid, 0)
            if self._stopping:
                self._linger(pid)
        finally:
            os.close(read_end)
            with self._lock:
                self._running.pop(pid, None)
        return os.waitstatus_to_exitcode(status), timed_out, self._stopping

    def _collect(self, pid, pipe, log, deadline, name, on_line) -> bool:
        """Copy output to the log until the process exits; True if the deadline passed first.

        Waiting for the process (its pidfd), not for the pipe's end: a background child
        that keeps the pipe open must not hold the task.
        """
        import select

        lines = _Lines(name, on_line) if on_line is not None else None
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        poller.register(pipe, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        try:
            while True:
                timeout = None
                if deadline is not None:
                    timeout = max(0.0, deadline - time.monotonic()) * 1000
                events = poller.poll(timeout)
                if not events:
                    self._stop_pid_group(pid, pidfd)
                    _drain(pipe, log, lines)
                    return True
                for fd, _ in events:
                    if fd == pidfd:
                        _drain(pipe, log, lines)
                        return False
                    data = os.read(pipe, 65536)
                    if data:
                        log.write(data)
                        if lines is not None:
                            lines.feed(data)
                    else:
                        poller.unregister(pipe)  # closed; the pidfd says when it exits
        finally:
            os.close(pidfd)
            if lines is not None:
                lines.flush()

    def _stop_pid_group(self, pid: int, pidfd: int) -> None:
        """SIGTERM the whole group, then SIGKILL what is left after the grace period."""
        import select

        _signal_group(pid, signal.SIGTERM)
        select.select([pidfd], [], [], self.grace)
        # The leader may be gone while grandchildren that ignore SIGTERM live on.
        _signal_group(pid, signal.SIGKILL)

    def _popen(self, argv, cwd, env, log, deadline, name, on_line):
        import subprocess  # only where posix_spawn cannot serve: ~10 ms of imports

        stream = on_line is not None
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if stream else log.create(),
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

    def _which(self, name: str, path: str | None) -> str | None:
        key = (name, path)
        if key not in self._executables:
            self._executables[key] = name if "/" in name else _search_path(name, path)
        return self._executables[key]

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
        import subprocess

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
        self._signal_all(signal.SIGTERM)

    def kill_all(self) -> None:
        """SIGKILL every running task's process group."""
        self._signal_all(signal.SIGKILL)

    def _signal_all(self, signum: int) -> None:
        self._stopping = True
        with self._lock:
            pids = list(self._running)
        for pid in pids:
            _signal_group(pid, signum)


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
        on_line(name, raw.decode("utf-8", "replace").rstrip("\n"))
    pipe.close()


def _drain(pipe: int, log, lines) -> None:
    """Read what is left in the pipe without waiting for writers that may never close it."""
    os.set_blocking(pipe, False)
    while True:
        try:
            data = os.read(pipe, 65536)
        except BlockingIOError:
            return
        if not data:
            return
        log.write(data)
        if lines is not None:
            lines.feed(data)


_SPAWN_WORKS: bool | None = None


def _search_path(name: str, path: str | None) -> str | None:
    """Where PATH finds the executable name (shutil.which, without importing shutil)."""
    for directory in (path if path is not None else os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _can_spawn() -> bool:
    """posix_spawn and pidfds (Linux 5.3+) are there; else subprocess does the work."""
    global _SPAWN_WORKS
    if _SPAWN_WORKS is None:
        try:
            os.close(os.pidfd_open(os.getpid()))
            _SPAWN_WORKS = hasattr(os, "posix_spawn")
        except (AttributeError, OSError):
            _SPAWN_WORKS = False
    return _SPAWN_WORKS


class _Log:
    """A task's log file, created when the first output arrives.

    Creating a file (a new inode) can cost more than starting a trivial command, while
    a hard link costs a twentieth of that: a task that prints nothing gets its log as a
    link to one shared empty file. The old log is always unlinked first, so nothing is
    ever written through such a link.
    """

    def __init__(self, path: str, number: int) -> None:
        self.path = path
        self.file = None
        if number == 1:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        else:
            self.write(f"--- dagmake: attempt {number} ---\n".encode())

    def create(self):
        if self.file is None:
            self.file = open(self.path, "ab")  # noqa: SIM115 - closed by close()
        return self.file

    def write(self, data: bytes) -> None:
        self.create().write(data)
        self.file.flush()  # so `tail -f` on the log follows a running task

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            return
        empty = os.path.join(os.path.dirname(self.path), ".empty")
        try:
            os.link(empty, self.path)
        except FileNotFoundError:
            open(empty, "wb").close()
            self._link_or_create(empty)
        except OSError:
            self._link_or_create(empty)

    def _link_or_create(self, empty: str) -> None:
        try:
            os.link(empty, self.path)
        except OSError:  # no hard links here (some network filesystems)
            open(self.path, "ab").close()


class _Lines:
    """Splits streamed output into lines for -v, keeping a partial line for the next chunk."""

    def __init__(self, name: str, on_line) -> None:
        self.name = name
        self.on_line = on_line
        self.partial = b""

    def feed(self, data: bytes) -> None:
        *complete, self.partial = (self.partial + data).split(b"\n")
        for line in complete:
            self.on_line(self.name, line.decode("utf-8", "replace"))

    def flush(self) -> None:
        if self.partial:
            self.on_line(self.name, self.partial.decode("utf-8", "replace"))
            self.partial = b""


def _relative(path: str, cwd: str) -> str:
    if cwd == "." or os.path.isabs(path):
        return path
    return os.path.relpath(path, cwd)
