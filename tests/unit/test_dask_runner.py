"""DaskRunner on an in-process LocalCluster: attempts, failures, timeouts, resources, checks."""

from __future__ import annotations

import os
import threading
import time

import pytest

pytest.importorskip("distributed")

from dagmake.errors import ExecutorError
from dagmake.executors import remote
from dagmake.executors.dask import DaskRunner, address_problem, worker_problem
from dagmake.task import PythonAction, ShellAction, Task

pytestmark = pytest.mark.dask


def shell(name, *commands, **fields):
    return Task(name, ShellAction(commands), **fields)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = tmp_path_factory.mktemp("project")
    os.makedirs(path / ".dagmake" / "logs")
    return path


@pytest.fixture(scope="module")
def runner(root):
    """One local cluster (2 threads, resources cpu=2) for the module's plain attempts."""
    runner = DaskRunner(str(root), jobs=2)
    runner.open()
    yield runner
    runner.close()


def log(root, name):
    return str(root / ".dagmake" / "logs" / f"{name}.log")


def read(path):
    with open(path) as f:
        return f.read()


def test_an_attempt_runs_on_a_worker_and_writes_its_log(runner, root):
    task = shell(
        "hello", "echo hello from $DAGMAKE_TASK", "echo x > hello.txt", outputs=("hello.txt",)
    )
    attempt = runner.run(task, 1, log(root, "hello"))
    assert attempt.ok, attempt
    assert read(log(root, "hello")) == "hello from hello\n"
    assert (root / "hello.txt").read_text() == "x\n"


def test_a_non_zero_exit_is_a_failed_attempt_not_an_exception(runner, root):
    attempt = runner.run(shell("fails", "echo oops; exit 3"), 1, log(root, "fails"))
    assert (attempt.exit_code, attempt.error, attempt.ok) == (3, None, False)
    assert read(log(root, "fails")) == "oops\n"


def test_a_retry_appends_to_the_log(runner, root):
    task = shell("twice", "echo try")
    runner.run(task, 1, log(root, "twice"))
    runner.run(task, 2, log(root, "twice"))
    assert read(log(root, "twice")) == "try\n--- dagmake: attempt 2 ---\ntry\n"


def test_the_timeout_is_enforced_on_the_worker(runner, root):
    started = time.monotonic()
    attempt = runner.run(shell("slow", "sleep 5", timeout=0.3), 1, log(root, "slow"))
    assert attempt.timed_out, attempt
    assert time.monotonic() - started < 10


def test_a_python_task_runs_through_pytask(runner, root):
    (root / "pymod.py").write_text(
        "def main(outputs):\n    open(outputs[0], 'w').write('py\\n')\n    print('ran')\n"
    )
    task = Task("py", PythonAction("pymod:main"), outputs=("py.txt",))
    attempt = runner.run(task, 1, log(root, "py"))
    assert attempt.ok, read(log(root, "py"))
    assert (root / "py.txt").read_text() == "py\n"


def test_a_missing_output_is_left_to_the_builds_check_after_latency_wait(runner, root):
    # the worker does not fail the attempt at once: the output may show up late
    attempt = runner.run(shell("late", "true", outputs=("never.txt",)), 1, log(root, "late"))
    assert attempt.ok and attempt.error is None


def test_output_lines_stream_with_on_line(runner, root):
    lines = []
    task = shell("chatty", "echo one; sleep 0.3; echo two")
    attempt = runner.run(task, 1, log(root, "chatty"), on_line=lambda n, line: lines.append(line))
    assert attempt.ok
    assert lines == ["one", "two"]


def test_resources_a_worker_offers_are_used(runner, root):
    attempt = runner.run(shell("cpu", "true", resources=(("cpu", 2.0),)), 1, log(root, "cpu"))
    assert attempt.ok, attempt


def test_a_resource_no_worker_offers_fails_at_once(runner, root):
    task = shell("gpu", "true", resources=(("gpu", 1.0), ("memory_gb", 8.0)))
    started = time.monotonic()
    attempt = runner.run(task, 1, log(root, "gpu"))
    assert time.monotonic() - started < 2
    assert attempt.error == (
        "no dask worker offers resources gpu=1, memory_gb=8 (workers offer: cpu=2)"
    )
    assert "no dask worker offers" in read(log(root, "gpu"))


def test_terminate_all_kills_the_command_on_the_worker(root):
    runner = DaskRunner(str(root), jobs=1)
    runner.open()
    try:
        task = shell("stopped", "echo $$ > stopped.pid; sleep 3; echo late > stopped.txt")
        result = {}
        thread = threading.Thread(
            target=lambda: result.update(attempt=runner.run(task, 1, log(root, "stopped")))
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not (root / "stopped.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        pid = int((root / "stopped.pid").read_text())
        runner.terminate_all()
        thread.join(10)
        assert result["attempt"].interrupted
        assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
        assert not (root / "stopped.txt").exists()
    finally:
        runner.close()


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_worker_with_another_dagmake_version_is_refused_at_connect(root, monkeypatch):
    monkeypatch.setattr(remote, "__version__", "0.0.0-other")
    runner = DaskRunner(str(root), jobs=1)
    with pytest.raises(ExecutorError) as caught:
        runner.open()
    assert "runs dagmake 0.0.0-other" in str(caught.value)
    assert "dask worker inproc://" in str(caught.value)
    assert runner.client is None  # closed again


def blind_probe(root, marker, token):
    """What a worker on another filesystem reports."""
    return {"version": remote.__version__, "host": "elsewhere", "root": False, "marker": False}


def test_a_worker_that_cannot_see_the_project_is_refused_at_connect(root, monkeypatch):
    monkeypatch.setattr(remote, "probe", blind_probe)
    runner = DaskRunner(str(root), jobs=1)
    with pytest.raises(ExecutorError) as caught:
        runner.open()
    message = str(caught.value)
    assert f"(elsewhere) cannot see the project directory {root}" in message
    assert "hint: the project directory must be on a filesystem" in message


def test_worker_problem_names_the_worker():
    good = {"version": remote.__version__, "host": "h", "root": True, "marker": True}
    assert worker_problem({"tcp://a:1": good}, "/p") is None
    kind, message = worker_problem(
        {"tcp://a:1": good, "tcp://b:2": {**good, "marker": False}}, "/p"
    )
    assert kind == "marker"
    assert message.startswith("dask worker tcp://b:2 (h) cannot see the files in /p")
    kind, message = worker_problem(
        {"tcp://a:1": ModuleNotFoundError("No module named 'dagmake'")}, "/p"
    )
    assert (kind, message) == (
        "version",
        "dask worker tcp://a:1 cannot run dagmake: No module named 'dagmake'",
    )


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("notanaddress", "missing port number"),
        ("tcp://10.0.0.5", "missing port number"),
        ("http://127.0.0.1:8786", "unknown address scheme 'http'"),
        ("tcp://127.0.0.1:8786", None),
        ("127.0.0.1:8786", None),
        ("tls://scheduler.example:8786", None),
    ],
)
def test_an_address_no_scheduler_can_have_is_found_before_connecting(address, problem):
    found = address_problem(address)
    assert (found is None) if problem is None else (problem in found), found
