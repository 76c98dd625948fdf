"""Shared fixtures: a temporary project, file-time helpers, and running the real `dagmake`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A fixed point in the past: tests place file times relative to it, never by sleeping.
T0 = 1_700_000_000 * 10**9
SECOND = 10**9


def dagmake_command() -> list[str]:
    """The installed console script beside this interpreter, else `python -m dagmake`."""
    script = Path(sys.executable).with_name("dagmake")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "dagmake"]


class Result:
    def __init__(self, completed: subprocess.CompletedProcess) -> None:
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def ran(self) -> list[str]:
        """Names of the tasks this run reports as finished successfully, in order."""
        names = []
        for line in self.stdout.splitlines():
            if line.startswith("[") and "] " in line:
                names.append(line.split("] ", 1)[1].split(" ", 1)[0])
        return names

    def __repr__(self) -> str:
        return (
            f"Result(returncode={self.returncode}, stdout={self.stdout!r}, stderr={self.stderr!r})"
        )


class Project:
    """A pipeline in a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, relative: str) -> Path:
        return self.root / relative

    def write(self, relative: str, text: str = "", *, ns: int | None = None) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if ns is not None:
            os.utime(path, ns=(ns, ns))
        return path

    def pipefile(self, text: str) -> Path:
        return self.write("Pipefile.toml", textwrap.dedent(text))

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text()

    def exists(self, relative: str) -> bool:
        return (self.root / relative).exists()

    def touch(self, relative: str, ns: int) -> None:
        os.utime(self.root / relative, ns=(ns, ns))

    def mtime(self, relative: str) -> int:
        return (self.root / relative).stat().st_mtime_ns

    def make_newer(self, relative: str, than: str, by: int = SECOND) -> None:
        """Give relative a time `by` ns after `than`'s, without sleeping."""
        self.touch(relative, self.mtime(than) + by)

    def run(self, *args: str, timeout: float = 60, env: dict | None = None, input=None) -> Result:
        completed = subprocess.run(
            [*dagmake_command(), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
            stdin=subprocess.DEVNULL if input is None else None,
            input=input,
        )
        return Result(completed)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def assert_ran(result: Result, names) -> None:
    assert result.returncode == 0, result
    assert sorted(result.ran()) == sorted(names), result


def assert_nothing_ran(result: Result) -> None:
    assert result.returncode == 0, result
    assert result.ran() == [], result
    assert "no work to do" in result.stdout, result


# --- helpers for the e2e tests -----------------------------------------------------------


def sh_wait_for(path: str, seconds: float = 10.0) -> str:
    """Shell code that polls for path (bounded, never forever) and fails if it never appears.

    Paths must need no quoting: the snippet goes inside TOML and shell strings as is.
    """
    tries = int(seconds / 0.02)
    return (
        f"i=0; while [ ! -e {path} ] && [ $i -lt {tries} ]; do sleep 0.02; i=$((i+1)); done; "
        f"[ -e {path} ]"
    )


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll predicate until it is true or the deadline passes; return its last value."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def process_gone(pid: int) -> bool:
    """Whether pid no longer runs. A zombie counts as gone: here init may never reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")
