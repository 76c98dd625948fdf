"""The no-op run, the one users feel most, imports almost nothing beyond dagmake itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LAUNCHER = Path(__file__).parents[2] / "bin" / "dagmake"

# Each of these costs milliseconds to import, more than the rest of a small no-op run.
HEAVY = {
    "re",
    "enum",
    "signal",
    "subprocess",
    "threading",
    "select",
    "tomli",
    "tomllib",
    "argparse",
    "dataclasses",
    "json",
    "logging",
    "watchdog",
    "dask",
    "distributed",
}


def imported_by(cwd, *args) -> set[str]:
    """Top-level names of the modules the launcher imports for `dagmake args` in cwd."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", str(LAUNCHER), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed
    names = [line.split("|")[-1].strip() for line in completed.stderr.splitlines()]
    assert "dagmake.cli" in names  # the check itself works
    return {name.split(".")[0] for name in names}


def test_a_no_op_run_imports_no_parser_no_process_machinery_and_no_extras(tmp_path):
    (tmp_path / "Pipefile.toml").write_text(
        '[tasks.a]\ncmd = "cp in.txt out.txt"\ninputs = ["in.txt"]\noutputs = ["out.txt"]\n'
    )
    (tmp_path / "in.txt").write_text("x\n")
    first = imported_by(tmp_path)  # builds: parses the Pipefile and runs a process
    assert {"tomli", "select"} <= first  # so the list below is not vacuous
    # the first no-op plans in full (and saves its answer); the next ones use that answer
    assert imported_by(tmp_path) & HEAVY == set()
    assert imported_by(tmp_path) & HEAVY == set()
