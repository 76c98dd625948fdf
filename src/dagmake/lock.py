"""One dagmake at a time per project: an flock on .dagmake/lock holding the owner's pid,
and one on the project directory itself, which outlives an `rm -rf .dagmake` mid-build."""

from __future__ import annotations

import os

from .errors import LockError


class ProjectLock:
    """An exclusive lock; the kernel drops it when its holder dies, so a dead one never blocks."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, "lock")
        self._fd: int | None = None
        self._directory_fd: int | None = None

    def acquire(self, *, wait: bool = False, on_wait=None) -> None:
        """Take the lock, or raise LockError naming the holder's pid (or block, with wait)."""
        import fcntl

        if self._lock_directory(wait, on_wait):
            on_wait = None  # said once: the lock file's holder is the same dagmake
        try:
            from .state import ensure_state_dir

            ensure_state_dir(self.state_dir)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            if os.path.exists(self.state_dir) and not os.path.isdir(self.state_dir):
                raise LockError(
                    f"{self.state_dir} is a file, where dagmake keeps its state (a directory)",
                    hint="move it away or delete it; -n, -l and --graph need no writing",
                ) from None
            raise LockError(
                f"cannot write {self.state_dir}: {error.strerror}",
                hint="dagmake keeps its lock and state there; -n, -l and --graph need no writing",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                os.close(fd)
                self._unlock_directory()
                raise _held(holder)
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        pid = f"{os.getpid()}\n".encode()
        try:
            os.pwrite(fd, pid, 0)
            os.ftruncate(fd, len(pid))  # after the write: never empty while held
        except OSError as error:  # a full disk: no build can be recorded either
            os.close(fd)
            self._unlock_directory()
            raise LockError(
                f"cannot write {self.path}: {error.strerror or error}",
                hint="check the space and permissions there: dagmake cannot build safely "
                "unrecorded",
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)  # no pid of a finished run for the next one to show
            except OSError:
                pass
            os.close(self._fd)  # closing drops the flock
            self._fd = None
        self._unlock_directory()

    def _lock_directory(self, wait: bool, on_wait) -> bool:
        """Lock the project directory: a second dagmake must find it held even when the
        first one's lock file was deleted with .dagmake/. Where directories cannot be
        locked (some network filesystems), the lock file alone serves. Returns whether
        it waited (and told on_wait so)."""
        import fcntl

        try:
            fd = os.open(os.path.dirname(self.state_dir) or ".", os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return False
        waited = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder_named()
            if not wait:
                os.close(fd)
                raise _held(holder) from None
            if on_wait is not None:
                on_wait(holder)
            waited = True
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            os.close(fd)
            return False
        self._directory_fd = fd
        return waited

    def _unlock_directory(self) -> None:
        if self._directory_fd is not None:
            os.close(self._directory_fd)
            self._directory_fd = None

    def _holder_named(self) -> str:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return "unknown"  # its lock file is gone
        try:
            return _holder(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> ProjectLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _held(holder: str) -> LockError:
    return LockError(
        f"another dagmake (pid {holder}) is running on this project",
        hint="wait for it to finish, or run with --wait to queue behind it",
    )


def _holder(fd: int) -> str:
    """The pid of the dagmake holding the lock. One that has just taken it may not have
    written its pid yet (an empty file, or the pid of a holder killed before): look
    again for a moment."""
    import time

    pid = ""
    for _ in range(40):
        try:
            # (the first line: a longer pid before may still trail the new one's newline)
            pid = os.pread(fd, 32, 0).decode().partition("\n")[0].strip()
        except OSError:
            break
        if pid.isdigit() and _alive(int(pid)):
            return pid
        time.sleep(0.005)
    return pid or "unknown"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: it exists
        return True
    return True


def is_held(state_dir: str) -> bool:
    """Whether a dagmake holds the project's lock now (without taking it)."""
    import fcntl

    try:
        fd = os.open(os.path.join(state_dir, "lock"), os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
