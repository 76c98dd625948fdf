"""Only watch mode pays for importing watchdog."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "Pipefile.toml").write_text(
        '[tasks.a]\ncmd = "cp in.txt out.txt"\ninputs = ["in.txt"]\noutputs = ["out.txt"]\n'
    )
    (tmp_path / "in.txt").write_text("x\n")
    return tmp_path


@pytest.mark.parametrize("args", [["-n"], [], ["-l"]], ids=["dry-run", "build", "list"])
def test_plain_runs_do_not_import_watchdog(tiny, args):
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dagmake", *args],
        cwd=tiny,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed
    imported = [line for line in completed.stderr.splitlines() if "import time:" in line]
    assert any("dagmake.cli" in line for line in imported)  # the check itself works
    assert not [line for line in imported if "watchdog" in line]


def test_importing_the_watch_module_does_not_import_watchdog():
    code = "import sys, dagmake.cli, dagmake.watch; print('watchdog' in ' '.join(sys.modules))"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.stdout.strip() == "False", completed
