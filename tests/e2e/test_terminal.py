"""On a terminal: a live status line and colour, unless NO_COLOR."""

import os
import pty
import subprocess

from conftest import dagmake_command

PIPEFILE = """
[tasks.one]
cmd = "echo one > one.txt"
outputs = ["one.txt"]

[tasks.two]
cmd = "echo two > two.txt"
inputs = ["one.txt"]
outputs = ["two.txt"]
"""


def run_on_terminal(project, env: dict) -> str:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        dagmake_command(),
        cwd=project.root,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm", **env},
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert process.wait(timeout=30) == 0
    os.close(controller)
    return b"".join(chunks).decode()


def test_status_line_names_running_tasks_and_is_erased(project):
    project.pipefile(PIPEFILE)
    env = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    output = run_on_terminal(project, {**env, "NO_COLOR": ""})
    assert "[0/2] one" in output  # status while `one` runs
    assert "\r\x1b[K" in output  # erased before the next block
    assert "\x1b[32m" in output  # task names in colour on a terminal


def test_no_color_turns_colour_off_but_keeps_the_status_line(project):
    project.pipefile(PIPEFILE)
    output = run_on_terminal(project, {"NO_COLOR": "1"})
    assert "[0/2] one" in output
    assert "\x1b[3" not in output


def test_a_dumb_terminal_gets_plain_lines_without_control_codes(project):
    # an Emacs shell or compile buffer: TERM=dumb shows "\x1b[K" as it is
    project.pipefile(PIPEFILE)
    output = run_on_terminal(project, {"TERM": "dumb", "NO_COLOR": ""})
    assert "\x1b" not in output and "\r\x1b" not in output, repr(output)
    assert "[0/2] one" not in output  # no status line to erase
    assert "[1/2] one" in output and "[2/2] two" in output
