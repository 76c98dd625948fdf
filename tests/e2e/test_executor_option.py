"""--executor without the dask extra: plain runs never import it, and mistakes are clear."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "Pipefile.toml").write_text(
        '[tasks.a]\ncmd = "cp in.txt out.txt"\ninputs = ["in.txt"]\noutputs = ["out.txt"]\n'
        "resources = { cpu = 1 }\n"
    )
    (tmp_path / "in.txt").write_text("x\n")
    return tmp_path


def dagmake(cwd, *args, python_args=(), code=None):
    """Run `python -m dagmake ARGS` (or code with ARGS as sys.argv[1:]) in cwd."""
    command = [sys.executable, *python_args]
    command += ["-c", code, *args] if code else ["-m", "dagmake", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "args",
    [[], ["-n"], ["-l"], ["--executor", "local", "-B"]],
    ids=["build", "dry", "list", "local"],
)
def test_plain_runs_never_import_dask(tiny, args):
    completed = dagmake(tiny, *args, python_args=["-X", "importtime"])
    assert completed.returncode == 0, completed
    imported = [line.split("|")[-1].strip() for line in completed.stderr.splitlines()]
    assert "dagmake.cli" in imported  # the check itself works
    assert not [name for name in imported if name.split(".")[0] in ("distributed", "dask")]


WITHOUT_DASK = (
    "import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None\n"
    "from dagmake.cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_executor_dask_without_the_extra_says_how_to_install_it(tiny):
    completed = dagmake(tiny, "--executor", "dask", "-B", code=WITHOUT_DASK)
    assert completed.returncode == 2, completed
    assert completed.stderr == (
        "dagmake: --executor dask needs Dask installed\n"
        "  hint: pip install 'dagmake[dask]' (on this machine and on every worker)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--executor", "dusk"], "dagmake: unknown executor 'dusk', did you mean 'dask'?"),
        (["--scheduler", "tcp://h:8786"], "dagmake: --scheduler needs --executor dask"),
        (["--executor", "dask", "--watch"], "dagmake: --watch runs tasks locally; it cannot"),
        (["--latency-wait", "-1"], "dagmake: --latency-wait needs a finite number of at least 0"),
        (
            ["--executor", "dask", "--scheduler-file", "nowhere.json"],
            "dagmake: scheduler file 'nowhere.json' does not exist",
        ),
    ],
    ids=["unknown", "scheduler-without-dask", "watch", "latency", "no-file"],
)
def test_executor_mistakes_are_usage_errors(tiny, args, message):
    completed = dagmake(tiny, *args, "-B")
    assert completed.returncode == 2, completed
    assert completed.stderr.startswith(message), completed.stderr


@pytest.mark.parametrize("content", ["{bad", "{}", '{"address": 5}', "tcp://h:8786", "[]"])
def test_a_scheduler_file_that_is_not_one_is_a_usage_error_at_once(tiny, content):
    # not a traceback (exit 1) after Dask's 40 s of retrying
    (tiny / "sched.json").write_text(content)
    completed = dagmake(tiny, "--executor", "dask", "--scheduler-file", "sched.json", "-B")
    assert completed.returncode == 2, completed
    assert completed.stderr.startswith(
        "dagmake: scheduler file 'sched.json' is not a Dask scheduler file"
    ), completed.stderr
    assert not (tiny / "out.txt").exists()


@pytest.mark.parametrize("mode", ["-n", "-l", "--graph", "--clean"])
def test_an_unknown_executor_is_refused_also_where_nothing_would_run(tiny, mode):
    completed = dagmake(tiny, mode, "--executor", "dusk")
    assert completed.returncode == 2, completed
    assert completed.stderr.startswith("dagmake: unknown executor 'dusk', did you mean 'dask'?")
    assert not (tiny / "out.txt").exists()
