"""Consumers of the event stream besides the console: history, JSON lines, trace, timings.

Each module is imported only when its flag is given, so a plain build never loads them.
"""

from __future__ import annotations

import os


def write_atomically(path: str, text: str) -> None:
    """Write text to path through a temporary file and a rename: no reader sees half a file.

    A path that is not a regular file (/dev/stdout, a pipe) is written to directly: a
    rename would replace it.
    """
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
