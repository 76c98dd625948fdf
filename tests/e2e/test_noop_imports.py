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


def imported_by(cwd, *args, full: bool = False) -> set[str]:
    """Top-level names (or full names) of the modules the launcher imports for
    `dagmake args` in cwd."""
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
    return set(names) if full else {name.split(".")[0] for name in names}


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
    # nor what parses and validates a Pipefile, nor the types of its tasks
    modules = imported_by(tmp_path, full=True)
    assert {"dagmake.pipefile", "dagmake.task", "dagmake.placeholders", "types"} & modules == set()


def test_a_build_from_the_parse_cache_imports_no_parser(tmp_path):
    import os

    (tmp_path / "Pipefile.toml").write_text(
        '[tasks.a]\ncmd = "cp in.txt out.txt"\ninputs = ["in.txt"]\noutputs = ["out.txt"]\n'
    )
    (tmp_path / "in.txt").write_text("x\n")
    assert {"dagmake.pipefile", "tomli"} <= imported_by(tmp_path, full=True)  # parses
    (tmp_path / "in.txt").write_text("y\n")
    later = os.stat(tmp_path / "out.txt").st_mtime_ns + 1_000_000_000
    os.utime(tmp_path / "in.txt", ns=(later, later))
    modules = imported_by(tmp_path, full=True)
    assert "select" in modules  # it did run the task
    assert (tmp_path / "out.txt").read_text() == "y\n"
    assert {"dagmake.pipefile", "tomli", "tomllib"} & modules == set()


def test_the_command_caches_its_own_bytecode_under_pythondontwritebytecode(tmp_path):
    # An editable install has no compiled modules: without the cache every run would
    # compile dagmake again, about as long as the rest of a no-op.
    import os
    import shutil

    import dagmake

    copy = tmp_path / "site" / "dagmake"
    shutil.copytree(
        Path(dagmake.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pipefile.toml").write_text(
        '[tasks.a]\ncmd = "echo $PYTHONDONTWRITEBYTECODE > seen.txt"\noutputs = ["seen.txt"]\n'
    )
    env = {**os.environ, "PYTHONPATH": str(copy.parent), "PYTHONDONTWRITEBYTECODE": "1"}
    completed = subprocess.run(
        [sys.executable, str(LAUNCHER), "-q"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed
    assert list((copy / "__pycache__").glob("cli.*.pyc")), "the launcher's modules were not cached"
    # the user's own processes still see the variable
    assert (project / "seen.txt").read_text() == "1\n"


def test_a_ctrl_c_while_the_launcher_imports_dagmake_exits_130_without_a_traceback(tmp_path):
    fake = tmp_path / "site" / "dagmake"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "cli.py").write_text("raise KeyboardInterrupt  # as if Ctrl-C came right now\n")
    completed = subprocess.run(
        [sys.executable, "-S", str(LAUNCHER)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
    )
    assert completed.returncode == 130, completed
    assert "Traceback" not in completed.stderr
