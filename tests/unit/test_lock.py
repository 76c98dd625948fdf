"""The project lock names its holder, also one caught between taking it and writing its pid."""

import fcntl
import os
import threading

import pytest

from dagmake.errors import LockError
from dagmake.lock import ProjectLock


@pytest.mark.parametrize("left_before", ["", "999999999\n"], ids=["empty", "a dead holder's"])
def test_a_holder_that_has_not_written_its_pid_yet_is_still_named(tmp_path, left_before):
    (tmp_path / "lock").write_text(left_before)
    fd = os.open(tmp_path / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # taken, its pid not written yet
        writer = threading.Timer(0.03, os.pwrite, (fd, f"{os.getpid()}\n".encode(), 0))
        writer.start()
        with pytest.raises(LockError, match=rf"another dagmake \(pid {os.getpid()}\) is running"):
            ProjectLock(str(tmp_path)).acquire()
        writer.join()
    finally:
        os.close(fd)


def test_a_released_lock_leaves_no_pid_behind(tmp_path):
    lock = ProjectLock(str(tmp_path))
    lock.acquire()
    assert (tmp_path / "lock").read_text() == f"{os.getpid()}\n"
    lock.release()
    assert (tmp_path / "lock").read_text() == ""


def test_a_lock_whose_pid_cannot_be_written_is_a_lock_error_and_not_held(tmp_path, monkeypatch):
    # a full disk: the pid cannot be written, and nothing of the build could be recorded
    import errno

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    state_dir = str(tmp_path / ".dagmake")
    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(LockError, match=r"cannot write .*lock: No space left on device") as caught:
        ProjectLock(state_dir).acquire()
    assert caught.value.exit_code == 2
    monkeypatch.undo()
    with ProjectLock(state_dir) as lock:  # it was let go
        lock.acquire()
