"""Run a command so that it dies with the process that started it (Linux parent-death signal).

Usage: python -I -S guard.py PARENT_PID ARGV...

A Dask worker that is SIGKILLed leaves its children running: a task retried elsewhere
would then have two copies writing the same output. This guard sits between the worker
and the command, in the command's process group. PR_SET_PDEATHSIG delivers SIGUSR2 to it
when the worker dies, and it SIGKILLs the whole group, grandchildren included (a bare
PDEATHSIG on `/bin/sh` would stop only the shell). Otherwise it is transparent: it exits
as the command exits. Stdlib only, run without site-packages: it costs ~10 ms a command.
"""

import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def _kill_group(signum=None, frame=None):
    os.killpg(0, signal.SIGKILL)


def _ignore(signum, frame):
    # A signal sent to the whole group reaches the command too; the guard waits for it
    # and reports how it ended. A handler, not SIG_IGN: the command must not inherit it.
    pass


def main(argv):
    parent, command = int(argv[0]), argv[1:]
    signal.signal(signal.SIGUSR2, _kill_group)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _ignore)
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGUSR2, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        _kill_group()
    try:
        pid = os.posix_spawnp(command[0], command, os.environ)
    except FileNotFoundError:
        print(f"dagmake: {command[0]}: command not found", flush=True)
        return 127
    except PermissionError:
        print(f"dagmake: {command[0]}: permission denied", flush=True)
        return 126
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            return 1
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(handled, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # end the same way, so the runner sees the signal
    return os.waitstatus_to_exitcode(status) if not os.WIFSIGNALED(status) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
