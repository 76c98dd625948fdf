"""Consumers of the event stream besides the console: history, JSON lines, trace, timings.

Each module is imported only when its flag is given, so a plain build never loads them.
"""

from __future__ import annotations

import os


def write_atomically(path: str, text: str) -> None:
    """Write text to path through a temporary file and a rename: no reader sees half a file.

    /dev/stdout (or stderr, /dev/fd/N) is written to through the descriptor, after
    what dagmake printed there: reopening it would truncate a file the shell redirected
    it to, and a rename would replace the link. A symlink is followed, and what it leads
    to is replaced. Another path that is not a regular file (a pipe) is written to
    directly.
    """
    descriptor = descriptor_of(path)
    if descriptor is None:
        descriptor = _standard_stream_at(path)
    if descriptor is not None:
        import sys

        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        data = text.encode("utf-8") + (b"" if text.endswith("\n") else b"\n")
        while data:
            data = data[os.write(descriptor, data) :]
        return
    path = os.path.realpath(path) if os.path.islink(path) else path
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def is_a_stream(path: str) -> bool:
    """Whether a report to path goes out through stdout or stderr (or another descriptor)."""
    return descriptor_of(path) is not None or _standard_stream_at(path) is not None


def _standard_stream_at(path: str) -> int | None:
    """1 or 2 when path leads to what stdout or stderr is (a link to /dev/stdout, or to
    the file stdout goes to): replacing it would take the run's own lines with it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    for number in (1, 2):
        try:
            standard = os.fstat(number)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (standard.st_dev, standard.st_ino):
            return number
    return None


def descriptor_of(path: str) -> int | None:
    """The file descriptor a path names: 1 for /dev/stdout, N for /dev/fd/N."""
    named = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}.get(path)
    if named is not None:
        return named
    for prefix in ("/dev/fd/", "/proc/self/fd/"):
        if path.startswith(prefix) and path[len(prefix) :].isdigit():
            return int(path[len(prefix) :])
    return None
