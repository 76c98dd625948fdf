"""A `dagmake` running in the background, for tests that signal or kill it in mid-build."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from conftest import Project, dagmake_command, process_gone, wait_until


class Background:
    """dagmake started with Popen in its own session; stdout and stderr go to files beside the
    project (not inside it, where a directory input or a glob could see them)."""

    def __init__(self, project: Project, *args: str) -> None:
        self.project = project
        base = project.root.parent / project.root.name
        self.out_path = base.with_name(base.name + ".out")
        self.err_path = base.with_name(base.name + ".err")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.process = subprocess.Popen(
                [*dagmake_command(), *args],
                cwd=project.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env={**os.environ, "NO_COLOR": "1"},
                # Our signals reach dagmake alone, as a `kill PID` would; its tasks run in
                # their own process groups either way.
                start_new_session=True,
            )
        self.signalled_at: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, signum: int) -> None:
        if self.signalled_at is None:
            self.signalled_at = time.monotonic()
        self.process.send_signal(signum)

    def wait(self, timeout: float = 20) -> int:
        return self.process.wait(timeout=timeout)

    def seconds_since_signal(self) -> float:
        return time.monotonic() - (self.signalled_at or time.monotonic())

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def stop(self) -> None:
        """Kill dagmake if it still runs (a failed test must not leave it behind)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def read_pid(project: Project, relative: str, timeout: float = 10) -> int:
    """Wait for a task to write its pid into relative, and return it."""
    assert wait_until(lambda: _pid_text(project, relative), timeout=timeout), (
        f"{relative} never appeared"
    )
    return int(_pid_text(project, relative))


def _pid_text(project: Project, relative: str) -> str:
    try:
        return project.read(relative).strip()
    except OSError:
        return ""


def kill_leftovers(project: Project, *relatives: str) -> None:
    """SIGKILL the processes whose pids tasks wrote (cleanup after a failed assertion)."""
    for relative in relatives:
        text = _pid_text(project, relative)
        if text and not process_gone(int(text)):
            try:
                os.kill(int(text), signal.SIGKILL)
            except ProcessLookupError:
                pass
