"""Consumers of the event stream besides the console: history, JSON lines, trace, timings.

Each module is imported only when its flag is given, so a plain build never loads them.
"""

from __future__ import annotations

import os


def write_atomically(path: str, text: str) -> None:
    """Write text to path through a temporary file and a rename: no reader sees half a file.

    A path that leads to a standard stream (/dev/stdout, /dev/fd/N, a link to either, or
    the very file stdout goes to) is written to through its descriptor, after what dagmake
    printed there: reopening it would truncate that file, and a rename would replace it
    or the link. Another symlink is followed, and what it leads to is replaced. A path
    that is not a regular file (a pipe) is written to directly.
    """
    descriptor = stream_of(path)
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
    from ..files import replace_file

    replace_file(path, text.encode("utf-8"))


def stream_of(path: str) -> int | None:
    """The descriptor a report to path goes out through, or None for a file of its own:
    N for /dev/stdout, /dev/stderr or /dev/fd/N (as written), else 1 or 2 when path
    leads to what stdout or stderr is (a link to /dev/stdout, the file stdout goes to)."""
    named = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}.get(path)
    if named is not None:
        return named
    for prefix in ("/dev/fd/", "/proc/self/fd/"):
        if path.startswith(prefix) and path[len(prefix) :].isdigit():
            return int(path[len(prefix) :])
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
