"""Run one attempt of a task as processes: own process group, output to the log, timeout, kill."""

from __future__ import annotations

import errno
import math
import os
import select
import sys
import time

from .events import Attempt
from .files import expand_glob, relative_to_cwd
from .placeholders import GLOB_MARK, expand_globs, quote
from .sig import interrupts, not_interrupted, signal

try:  # the lock alone, without importing threading
    from _thread import allocate_lock
except ImportError:  # pragma: no cover
    from threading import Lock as allocate_lock

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
    if shell not in _DEFAULT_SHELLS or not command or not _PLAIN.issuperset(command):
        return None
    argv = command.split()
    if not argv or argv[0] in _SHELL_WORDS or "=" in argv[0]:
        return None
    return argv


# A running command holds its output pipe, its pidfd and its log open.
FILES_PER_COMMAND = 3
# dagmake's own files (state, history, lock, the terminal) and a command being started.
FILES_RESERVED = 48


def most_commands_at_once() -> int | None:
    """How many commands fit in the open-file limit (`ulimit -n`) at once; None: no limit.

    The limit is not raised: the commands would inherit a higher one, and some programs
    loop over every possible descriptor.
    """
    try:
        soft = os.sysconf("SC_OPEN_MAX")  # the soft limit; no `import resource` (~1 ms)
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None
    if soft < 0:  # no limit
        return None
    return max(1, (soft - FILES_RESERVED) // FILES_PER_COMMAND)


# Linux refuses one argument longer than 128 KiB (MAX_ARG_STRLEN): `sh -c COMMAND` with
# thousands of files written into COMMAND would fail with "Argument list too long".
_LONGEST_COMMAND = 100_000


def _globbed(command: str, task, default_shell: str, shell: str, cwd: str, root: str):
    """The argv of a command whose {{inputs}} globs are marked, with their files in.

    Files the task wrote into its own output directories are not its inputs. A command
    too long for one argument is run from a script file instead (.dagmake/commands/),
    which the shell reads as it would read `-c`: the same words, and no limit but the
    total one on a program's arguments.
    """
    own = tuple(relative_to_cwd(root, output, task.cwd) + "/" for output in task.outputs)

    def files(pattern: str) -> list[str]:
        return [path for path in expand_glob(cwd, pattern) if not path.startswith(own)]

    expanded = expand_globs(command, files)
    argv = direct_argv(expanded, default_shell)
    if argv is not None:
        return argv  # no shell: each file its own argument, as the shell would pass them
    return _shell_argv(expanded, task, shell, root)


def _shell_argv(command: str, task, shell: str, root: str) -> list[str]:
    """[shell, -c, command], or for a command too long to be one argument (a long
    {{inputs}}), the shell reading it from .dagmake/commands/TASK.sh."""
    # (at most 4 bytes a character: a short command need not be encoded to be measured)
    if len(command) * 4 <= _LONGEST_COMMAND or len(os.fsencode(command)) <= _LONGEST_COMMAND:
        return [shell, "-c", command]
    directory = os.path.join(root, ".dagmake", "commands")
    os.makedirs(directory, exist_ok=True)
    script = os.path.join(directory, task.name + ".sh")
    with open(script, "wb") as file:  # a file name need not be UTF-8: write its bytes
        file.write(os.fsencode(command) + b"\n")
    # read with `.` from a -c of its own, so that $0 is the shell's, as with any command
    return [shell, "-c", f". {quote(script)}"]


# When a run starts this many commands or more, at least as many at once as there are
# CPUs, it first lets the kernel forget its own startup (settle_before_spawning).
SETTLE_MIN_COMMANDS = 100
# The kernel's estimate of dagmake's recent CPU use (/proc/self/sched, out of 1024) it
# waits to fall to, and the longest wait.
SETTLE_UTIL = 640
SETTLE_MOST_SECONDS = 0.05


def settle_before_spawning(
    commands: int,
    jobs: int,
    *,
    cpus: int,
    utilisation=None,
    sleep=time.sleep,
) -> float:
    """Wait, before a large build's first command, until Linux has forgotten the CPU burst
    of dagmake's own startup; return the seconds waited.

    A cold start (parsing a large Pipefile, no cached graph) is ~100 ms of solid CPU.
    After it, Linux rates dagmake's CPU as busy and starts each new process on another
    CPU, behind a command already running there, while posix_spawn holds dagmake until
    the new process runs: ~1 ms lost per command whenever every CPU has one. The kernel
    keeps placing them so for the rest of the build. Once its estimate (`util_avg`, a
    32 ms half-life) has decayed, new processes start on dagmake's CPU at once, where
    dagmake, blocked in the spawn, leaves room. Measured at -j2 on 2 CPUs, 1,000 tasks:
    spawn 1.1 -> 0.2 ms median, 0.2-0.4 s off the build, for ~20 ms waited.

    Nothing happens for a small build, with a CPU to spare (jobs < CPUs), or where the
    kernel does not tell (not Linux, no /proc/self/sched).
    """
    if commands < SETTLE_MIN_COMMANDS:
        return 0.0
    if jobs < cpus:
        return 0.0
    utilisation = utilisation or _own_utilisation
    waited = 0.0
    step = 0.002
    while waited < SETTLE_MOST_SECONDS:
        util = utilisation()
        if util is None or util <= SETTLE_UTIL:
            break
        sleep(step)
        waited += step
    return waited


def _own_utilisation() -> int | None:
    """This process's `se.avg.util_avg` (0-1024) from /proc/self/sched, or None."""
    try:
        with open("/proc/self/sched", "rb") as file:
            for line in file:
                if line.startswith(b"se.avg.util_avg"):
                    return int(line.rpartition(b":")[2])
    except (OSError, ValueError):
        pass
    return None


class ProcessRunner:
    """Runs tasks' actions as child processes, each in its own process group.

    One thread drives every attempt: start() spawns a command and returns at once, and
    wait() watches every child's exit (a pidfd) and output pipe in one poll(). A worker
    thread per slot would cost a GIL hand-off on each side of every task, which is more
    than a trivial command takes to run.

    With list_logs, which task logs exist is learnt from one listing of their directory
    instead of a stat per task. A listing goes stale between builds: only for a runner
    that serves one build (build() makes one per build); a runner serving one task, or
    a watch session, stats.
    """

    def __init__(
        self,
        root: str,
        *,
        grace: float = 2.0,
        python: str | None = None,
        wrap=None,
        list_logs: bool = False,
    ) -> None:
        self.root = root
        self.grace = grace
        self.python = python or sys.executable
        # argv -> argv run instead; the Dask executor puts a parent-death guard in front.
        self.wrap = wrap
        self._jobs: set[_Job] = set()
        self._fds: dict[int, tuple[_Job, bool]] = {}  # fd -> (its job, whether it is the exit fd)
        self._poller = select.poll()
        self._done: list[tuple[_Job, Attempt]] = []
        self._lingering: list[_Job] = []
        self._running: set[int] = set()  # process groups to signal on terminate/kill
        # os.environ decodes every variable on each copy: copy it once, then per task a dict
        self._environ = dict(os.environ)
        self._current: dict[str, bool] = {}
        self._executables: dict[tuple, str | None] = {}
        self._lock = allocate_lock()  # terminate_all() may come from another thread
        self._stopping = False
        self._logs = _LogListing() if list_logs else None
        self._cwds: dict[str, str] = {}  # a task's cwd -> its full path

    # -- the interface the executor drives ------------------------------------------------

    def start(self, task, number: int, log_path: str, *, on_line=None) -> _Job:
        """Begin an attempt of task: its action's commands run one after another."""
        cwd = self._cwds.get(task.cwd)
        if cwd is None:
            cwd = self._cwds[task.cwd] = os.path.normpath(os.path.join(self.root, task.cwd))
        env = self._environ.copy()
        # what a shell sets; a command started without one must not see dagmake's own
        env["PWD"] = cwd
        env.update(task.env)
        env["DAGMAKE_TASK"] = task.name
        job = _Job(
            task,
            number,
            _Log(log_path, number, self._listed(log_path) if number == 1 else None),
            _Lines(task.name, on_line) if on_line is not None else None,
            self._commands(task, env, cwd),
            env,
            cwd,
        )
        self._jobs.add(job)
        self._advance(job, 0)
        return job

    def wait(self, timeout: float | None = None) -> list[tuple[_Job, Attempt]]:
        """Attempts that ended, as (job, attempt); waits up to timeout for at least one.

        Output lines reach each job's on_line from in here, on the calling thread.
        """
        if interrupts() and not self._stopping:
            # a stop signal whose KeyboardInterrupt got lost (raised where Python ignores
            # exceptions, e.g. a callback during an import): stop all the same
            raise KeyboardInterrupt
        if not self._done and (self._jobs or timeout is not None):
            for fd, _ in self._poller.poll(self._poll_timeout(timeout)):
                entry = self._fds.get(fd)
                if entry is not None:
                    job, is_exit = entry
                    if is_exit:
                        self._exited(job)
                    else:
                        self._read(job)
            self._check_clocks()
            if self._stopping:
                self._sweep()
        done, self._done = self._done, []
        return done

    def _listed(self, log_path: str) -> tuple[bool, bool] | None:
        return self._logs.entry(log_path) if self._logs is not None else None

    def busy(self) -> bool:
        """Whether an attempt is under way or its end not yet taken by wait()."""
        return bool(self._jobs or self._done)

    def run(self, task, number: int, log_path: str, *, on_line=None) -> Attempt:
        """Run one attempt to its end (a Dask worker runs one task this way)."""
        job = self.start(task, number, log_path, on_line=on_line)
        others = []
        mine = None
        while mine is None:
            # Take the whole batch: an end reported after this job's own must not be lost.
            for finished, attempt in self.wait():
                if finished is job:
                    mine = attempt
                else:
                    others.append((finished, attempt))
        self._done += others  # for a later wait()
        return mine

    def terminate_all(self) -> None:
        """Send SIGTERM to every running task's process group (Ctrl-C, SIGTERM, a failure)."""
        self._signal_all(signal.SIGTERM)

    def kill_all(self) -> None:
        """SIGKILL every running task's process group."""
        self._signal_all(signal.SIGKILL)

    # -- one command at a time ------------------------------------------------------------

    def _commands(self, task, env, cwd):
        action = task.action
        if action.to_data()[0] == "py":
            env["PYTHONUNBUFFERED"] = "1"
            cwd = task.cwd
            inputs = [relative_to_cwd(self.root, p, cwd) for p in task.inputs]
            outputs = [relative_to_cwd(self.root, p, cwd) for p in task.outputs]
            yield [
                self.python,
                "-P",  # no task cwd first on sys.path: a dagmake.py there would shadow us
                "-m",
                "dagmake.pytask",
                self.root,
                action.target,
                str(len(inputs)),
                *inputs,
                *outputs,
            ]
            return
        shell = action.shell
        if "/" in shell and not os.path.isabs(shell):  # like every path: from the Pipefile
            shell = os.path.join(self.root, shell)
        for command in action.commands:
            if GLOB_MARK in command:  # now, when files an earlier command made are there
                yield _globbed(command, task, action.shell, shell, cwd, self.root)
                continue
            yield direct_argv(command, action.shell) or _shell_argv(command, task, shell, self.root)

    def _advance(self, job: _Job, exit_code: int) -> None:
        """After a command (or at the start, with 0): spawn the next, or end the attempt."""
        argv = next(job.commands, None) if exit_code == 0 and not job.timed_out else None
        if argv is not None:
            job.ran += 1
            if self._stopping:
                exit_code = 130
            else:
                exit_code = self._spawn(job, self.wrap(argv) if self.wrap else argv)
                if exit_code is None:
                    return  # running; _exited() comes back here
        if exit_code and job.command_texts is not None and not self._stopping:
            _say_which_failed(job, exit_code)
        self._finish(job, exit_code)

    def _spawn(self, job: _Job, argv: list[str]) -> int | None:
        """Start argv for job; None once it runs, else the exit code of a failed start.

        A Ctrl-C waits until the process is registered, or it would run on unstopped."""
        with not_interrupted():
            return self._spawn_registered(job, argv)

    def _spawn_registered(self, job: _Job, argv: list[str]) -> int | None:
        job.status = job.process = None  # the previous command's
        try:
            read_end, write_end = os.pipe()
        except OSError as error:  # out of file descriptors: this command cannot start
            return _cannot_start(job, argv, error)
        try:
            if self._is_current_directory(job.cwd):
                failure = self._posix_spawn(job, argv, write_end)
            else:
                failure = self._popen(job, argv, write_end)
        finally:
            os.close(write_end)
        if failure is not None:
            os.close(read_end)
            return failure
        os.set_blocking(read_end, False)
        job.pipe = read_end
        job.exit_fd = _exit_fd(job)
        with self._lock:
            self._running.add(job.pid)
            stopping = self._stopping
        if stopping:  # terminate_all() ran between the check in _advance and the registration
            _signal_group(job.pid, signal.SIGTERM)
        self._fds[read_end] = (job, False)
        self._fds[job.exit_fd] = (job, True)
        self._poller.register(read_end, select.POLLIN)
        self._poller.register(job.exit_fd, select.POLLIN)
        return None

    def _posix_spawn(self, job: _Job, argv: list[str], output: int) -> int | None:
        # Cheaper than subprocess.Popen, whose import alone costs ~10 ms; but it cannot
        # change directory (before Python 3.13), so it serves tasks that run where dagmake
        # runs: the usual case.
        executable = self._which(argv[0], job.env.get("PATH"))
        if executable is None:
            job.log.write(f"dagmake: {argv[0]}: command not found\n".encode())
            return 127
        actions = [
            (os.POSIX_SPAWN_DUP2, _devnull(), 0),
            (os.POSIX_SPAWN_DUP2, output, 1),
            (os.POSIX_SPAWN_DUP2, output, 2),
        ]
        # what subprocess's restore_signals does: Python ignores SIGPIPE, the child must not
        restore = (signal.SIGPIPE, signal.SIGXFSZ)

        def spawn(path, argv):
            return os.posix_spawn(
                path, argv, job.env, file_actions=actions, setpgroup=0, setsigdef=restore
            )

        try:
            try:
                job.pid = spawn(executable, argv)
            except OSError as error:
                if error.errno != errno.ENOEXEC:
                    raise
                # a script without #!: run it with sh, as the shell (and execvp) would
                job.pid = spawn("/bin/sh", ["/bin/sh", executable, *argv[1:]])
        except OSError as error:
            return _cannot_start(job, argv, error)
        return None

    def _popen(self, job: _Job, argv: list[str], output: int) -> int | None:
        import subprocess  # only for a task with its own cwd

        def popen(argv):
            return subprocess.Popen(
                argv,
                cwd=job.cwd,
                env=job.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                process_group=0,
            )

        if not os.path.isdir(job.cwd):
            what = "is not a directory" if os.path.exists(job.cwd) else "does not exist"
            job.log.write(f"dagmake: working directory {job.cwd} {what}\n".encode())
            return 127
        try:
            try:
                process = popen(argv)
            except OSError as error:
                if error.errno != errno.ENOEXEC:
                    raise
                process = popen(["/bin/sh", *argv])  # a script without #!, as sh would
        except FileNotFoundError as error:
            missing = argv[0] if error.filename in (None, argv[0]) else error.filename
            job.log.write(f"dagmake: {missing}: command not found\n".encode())
            return 127
        except OSError as error:
            return _cannot_start(job, argv, error)
        job.pid = process.pid
        job.process = process
        return None

    def _read(self, job: _Job) -> None:
        try:
            data = os.read(job.pipe, 65536)
        except BlockingIOError:  # an event for an earlier pipe that had this fd number
            return
        if data:
            job.output(data)
        else:  # closed; the exit fd says when the process ends
            self._poller.unregister(job.pipe)
            del self._fds[job.pipe]

    def _exited(self, job: _Job) -> None:
        """The command's process ended: take what is left of its output, then go on.

        Waiting for the process, not for the pipe's end: a background child that keeps
        the pipe open must not hold the task.
        """
        exit_code = job.reap()
        if exit_code is None:  # an event for an earlier exit fd that had this number
            return
        # In this order, so that a Ctrl-C anywhere in here leaves nothing read twice or
        # closed twice: an attempt whose exit fd is no longer in _fds is _sweep()'s.
        pipe, exit_fd = job.pipe, job.exit_fd
        if pipe >= 0:
            _drain(job)
        for fd in (pipe, exit_fd):
            if fd >= 0 and self._fds.pop(fd, None) is not None:
                try:
                    self._poller.unregister(fd)
                except KeyError:  # _read() unregistered the pipe, then a Ctrl-C came
                    pass
        job.pipe = job.exit_fd = -1
        for fd in (pipe, exit_fd):
            if fd >= 0:
                os.close(fd)
        if job.timed_out:
            # The leader may be gone while grandchildren that ignore SIGTERM live on.
            _signal_group(job.pid, signal.SIGKILL)
        if self._stopping:
            # Stay registered until the group is empty: kill_all() must still reach a
            # grandchild that ignores SIGTERM. After the grace period it is killed.
            job.linger_until = time.monotonic() + self.grace
            self._lingering.append(job)
            return
        self._forget(job.pid)
        self._advance(job, exit_code)

    def _check_clocks(self) -> None:
        """Timeouts: SIGTERM at the deadline, SIGKILL a grace period later; lingering groups."""
        now = time.monotonic()
        for job in self._jobs:
            if job.deadline is None or job.pid is None or now < job.deadline:
                continue
            if not job.timed_out:
                job.timed_out = True
                job.kill_at = now + self.grace
                _signal_group(job.pid, signal.SIGTERM)
            elif job.kill_at is not None and now >= job.kill_at:
                job.kill_at = None
                _signal_group(job.pid, signal.SIGKILL)
        for job in list(self._lingering):
            if _group_alive(job.pid) and now < job.linger_until:
                continue
            _signal_group(job.pid, signal.SIGKILL)
            self._lingering.remove(job)
            self._forget(job.pid)
            self._finish(job, job.status)

    def _sweep(self) -> None:
        """End attempts that a Ctrl-C left half-way through their bookkeeping, with no
        exit fd to wait on: they would otherwise keep the build waiting forever."""
        for job in list(self._jobs):
            if job.exit_fd in self._fds or job in self._lingering:
                continue
            if job.pid is not None and job.reap() is None:
                _signal_group(job.pid, signal.SIGKILL)  # started but never registered
                continue
            if job.pid is not None:
                self._forget(job.pid)
            self._finish(job, 130 if job.status is None else job.status)

    def _poll_timeout(self, timeout: float | None) -> int | None:
        """Milliseconds poll() may wait: until timeout, or a task's next deadline."""
        now = time.monotonic()
        due = [] if timeout is None else [now + timeout]
        for job in self._jobs:
            if job.kill_at is not None:
                due.append(job.kill_at)
            elif job.deadline is not None and not job.timed_out:
                due.append(job.deadline)
        if self._lingering or self._stopping:
            due.append(now + 0.05)
        if not due:
            return None
        milliseconds = (min(due) - now) * 1000
        # poll() takes a C int: a deadline further off (~24.8 days, a huge `timeout`) is
        # waited for in steps of the longest poll, the caller simply waits again
        longest = 2**31 - 1
        if not milliseconds < longest:
            return longest
        return max(0, math.ceil(milliseconds))

    def _finish(self, job: _Job, exit_code: int) -> None:
        interrupted = self._stopping
        job.log.close()  # the log exists from here on, even an empty one: messages point at it
        if job.lines is not None:
            job.lines.flush()
        self._jobs.discard(job)
        attempt = Attempt(
            job.number,
            exit_code,
            job.started_wall,
            time.monotonic() - job.started,
            timed_out=job.timed_out,
            # Stopped by dagmake, even if it exits 0 on SIGTERM: what it wrote may be partial.
            interrupted=interrupted,
            error=job.log.error,
            silent=job.log.silent,
        )
        self._done.append((job, attempt))

    def _forget(self, pid: int) -> None:
        with self._lock:
            self._running.discard(pid)

    def _is_current_directory(self, cwd: str) -> bool:
        known = self._current.get(cwd)
        if known is None:
            try:
                known = self._current[cwd] = os.path.samefile(cwd, ".")
            except OSError:
                known = self._current[cwd] = False
        return known

    def _which(self, name: str, path: str | None) -> str | None:
        key = (name, path)
        if key not in self._executables:
            self._executables[key] = name if "/" in name else _search_path(name, path)
        return self._executables[key]

    def _signal_all(self, signum: int) -> None:
        self._stopping = True
        with self._lock:
            pids = list(self._running)
        for pid in pids:
            _signal_group(pid, signum)


class _Job:
    """One attempt under way: its log, its remaining commands and the command running now."""

    def __init__(self, task, number, log, lines, commands, env, cwd) -> None:
        self.number = number
        self.log = log
        self.lines = lines
        self.commands = commands
        # the commands of a `cmd` list, to name the one that fails (a Python task has none)
        texts = task.action.texts() if hasattr(task.action, "texts") else ()
        self.command_texts = texts if len(texts) > 1 else None
        self.ran = 0  # how many of its commands have started
        self.mid_line = False  # its output so far ends without a newline
        self.env = env
        self.cwd = cwd
        self.started_wall = time.time()
        self.started = time.monotonic()
        self.deadline = self.started + task.timeout if task.timeout else None
        self.timed_out = False
        self.kill_at: float | None = None
        self.pid: int | None = None
        self.process = None  # the Popen, when subprocess started it
        self.pipe = -1
        self.exit_fd = -1
        self.status: int | None = None  # the running command's exit code, once reaped
        self.linger_until = 0.0

    def output(self, data: bytes) -> None:
        self.log.write(data)
        self.mid_line = data[-1:] != b"\n"
        if self.lines is not None:
            self.lines.feed(data)

    def reap(self, block: bool = False) -> int | None:
        """The exit code; without block, None while the process still runs."""
        if self.status is None:
            if block:  # a reaper thread, which signals never interrupt
                self._reap(block)
            else:
                # A Ctrl-C between reaping and noting the status would lose it for good:
                # the process is gone, and asking again is "no child processes".
                with not_interrupted():
                    self._reap(block)
        return self.status

    def _reap(self, block: bool) -> None:
        if self.process is not None:
            self.status = self.process.wait() if block else self.process.poll()
        else:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            if pid != 0:
                self.status = os.waitstatus_to_exitcode(status)


def _say_which_failed(job: _Job, exit_code: int) -> None:
    """Name the command of a `cmd` list that failed, in the log: its exit code cannot."""
    count = f"{job.ran} of {len(job.command_texts)}"
    how = f"exit {exit_code}" if exit_code > 0 else f"killed by signal {-exit_code}"
    what = "timed out" if job.timed_out else f"failed ({how})"
    line = f"dagmake: command {count} {what}: {job.command_texts[job.ran - 1]}\n"
    job.output((("\n" if job.mid_line else "") + line).encode())


def _cannot_start(job: _Job, argv: list[str], error: OSError) -> int:
    """Say in the log why argv could not start; the exit code a shell would give."""
    denied = isinstance(error, PermissionError)
    reason = "permission denied" if denied else error.strerror or str(error)
    job.log.write(f"dagmake: {argv[0]}: {reason}\n".encode())
    return 127 if isinstance(error, FileNotFoundError) else 126


def _exit_fd(job: _Job) -> int:
    """A file descriptor that becomes readable when job's process exits.

    A pidfd on Linux 5.3+. Elsewhere a pipe, written to by a thread that reaps the
    process: one thread per running command, only where there is no better way.
    """
    if _HAS_PIDFD:
        try:
            return os.pidfd_open(job.pid)
        except OSError:
            pass
    read_end, write_end = os.pipe()

    def reap() -> None:
        job.reap(block=True)
        os.write(write_end, b"x")
        os.close(write_end)

    import threading

    threading.Thread(target=reap, name="dagmake-reaper", daemon=True).start()
    return read_end


def _pidfds_work() -> bool:
    try:
        os.close(os.pidfd_open(os.getpid()))
        return True
    except (AttributeError, OSError):
        return False


_HAS_PIDFD = _pidfds_work()
_DEVNULL: int | None = None


def _devnull() -> int:
    """One read-only /dev/null for every child's stdin, opened once per process."""
    global _DEVNULL
    if _DEVNULL is None:
        _DEVNULL = os.open(os.devnull, os.O_RDONLY)
    return _DEVNULL


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


def _drain(job: _Job) -> None:
    """Read what is left in the pipe without waiting for writers that may never close it."""
    while True:
        try:
            data = os.read(job.pipe, 65536)
        except BlockingIOError:
            return
        if not data:
            return
        job.output(data)


def _search_path(name: str, path: str | None) -> str | None:
    """Where PATH finds the executable name (shutil.which, without importing shutil)."""
    for directory in (path if path is not None else os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class _Log:
    """A task's log file, created when the first output arrives.

    Creating a file (a new inode) can cost more than starting a trivial command, while
    a hard link costs a twentieth of that: a task that prints nothing gets its log as a
    link to one shared empty file, and keeps it from run to run as long as it stays
    silent. Nothing is ever written through such a link: the first output replaces it
    with a file of the task's own.

    A log that cannot be written (a full disk) fails the attempt, through `error`,
    instead of the build: the output is dropped, the task goes on.
    """

    def __init__(self, path: str, number: int, listed: tuple | None = None) -> None:
        """listed: (whether the log exists, whether it is linked to the empty log), when
        known from a listing of the directory; else the log is stat'ed."""
        self.path = path
        self.file = None
        self.error: str | None = None
        self.silent = True  # nothing written to it yet
        if listed is not None:
            exists, self.linked = listed
        else:
            try:
                st = os.stat(path)
            except OSError:
                st = None
            exists = st is not None
            self.linked = exists and st.st_nlink > 1 and st.st_size == 0
        try:
            if exists and not self.linked and number == 1:
                _unlink(path)  # an earlier run's output
        except OSError as error:
            self._failed(error)
        if number > 1:
            self.write(f"--- dagmake: attempt {number} ---\n".encode())

    def create(self):
        if self.file is None:
            if self.linked:
                _unlink(self.path)
                self.linked = False
            self.file = open(self.path, "ab")  # noqa: SIM115 - closed by close()
        return self.file

    def write(self, data: bytes) -> None:
        self.silent = False
        if self.error is not None:
            return
        try:
            self.create().write(data)
            self.file.flush()  # so `tail -f` on the log follows a running task
        except OSError as error:
            self._failed(error)

    def close(self) -> None:
        if self.file is not None:
            try:
                self.file.close()
            except OSError as error:
                self.file = None
                self._failed(error)
            return
        if self.linked or self.error is not None:
            return  # silent again: the link from an earlier run is still right
        empty = self.path.rpartition("/")[0] + "/.empty"
        try:
            try:
                os.link(empty, self.path)
            except FileNotFoundError:
                open(empty, "wb").close()
                self._link_or_create(empty)
            except OSError:
                self._link_or_create(empty)
        except OSError as error:
            self._failed(error)

    def _link_or_create(self, empty: str) -> None:
        try:
            os.link(empty, self.path)
        except OSError:  # no hard links here (some network filesystems)
            open(self.path, "ab").close()

    def _failed(self, error: OSError) -> None:
        if self.error is None:
            self.error = f"cannot write its log ({error.strerror or error})"
        if self.file is not None:
            try:
                self.file.close()
            except OSError:
                pass
            self.file = None


class _LogListing:
    """What the log directories held when first looked at, from one listing each.

    A stat per task costs more than listing the directory once (~9 µs for a log that
    does not exist yet): each log's entry is taken from the listing, at most once, so a
    log looked at again (a runner used for another build) is stat'ed as before.
    """

    def __init__(self) -> None:
        self._listings: dict[str, tuple[dict[str, int], int | None]] = {}
        self._taken: set[str] = set()

    def entry(self, path: str) -> tuple[bool, bool] | None:
        """(exists, linked to the empty log) for the log at path, or None: stat it."""
        if path in self._taken:
            return None
        directory, _, name = path.rpartition("/")
        listing = self._listings.get(directory)
        if listing is None:
            listing = self._listings[directory] = _list_logs(directory)
        inodes, empty = listing
        if inodes is None:
            return None
        self._taken.add(path)
        inode = inodes.get(name)
        return inode is not None, inode is not None and inode == empty


def _list_logs(directory: str) -> tuple[dict[str, int] | None, int | None]:
    """(file name -> inode, inode of .empty) of directory; (None, None) if unreadable."""
    try:
        with os.scandir(directory) as entries:
            inodes = {entry.name: entry.inode() for entry in entries}
    except OSError:
        return None, None
    return inodes, inodes.get(".empty")


def open_log(path: str, *, fresh: bool):
    """Open a task's log to add a line of dagmake's, never writing through a silent task's
    link to the shared empty log (fresh: replace the log of an earlier run)."""
    try:
        if fresh or os.stat(path).st_nlink > 1:
            _unlink(path)
    except FileNotFoundError:
        pass
    return open(path, "ab")


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


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
