"""`dagmake --executor dask` against a real `dask scheduler` and two `dask worker` processes.

The cluster listens on 127.0.0.1 port 0 and is found through its scheduler file, so
parallel test runs never collide. Workers get DAGMAKE_TEST_WORKER=1 in their environment:
a task that echoes it proves it ran on a worker, not in dagmake's own process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Project, assert_ran, dagmake_command

distributed = pytest.importorskip("distributed")

pytestmark = [
    pytest.mark.dask,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PDEATHSIG"),
]

SRC = str(Path(__file__).resolve().parents[2] / "src")
DEADLINE = 30.0


class Cluster:
    """A scheduler and one `dask worker --nworkers N` command, each in its own session."""

    def __init__(self, directory: Path, *, workers: int, threads: int = 1) -> None:
        self.directory = directory
        self.file = directory / "scheduler.json"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
            "DAGMAKE_TEST_WORKER": "1",
        }
        self.log = open(directory / "cluster.log", "w")  # noqa: SIM115 (closed in stop())
        self.scheduler = self._start(
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", self.file
        )
        wait_until(self.file.exists, "the scheduler file")
        self.workers = self._start(
            "worker", "--scheduler-file", self.file, "--nworkers", str(workers),
            "--nthreads", str(threads), "--local-directory", directory,
            "--resources", "memory_gb=16",
        )  # fmt: skip
        self.count = workers
        self.wait_for_workers()

    def _start(self, kind, *args):
        return subprocess.Popen(
            [sys.executable, "-m", "dask", kind, *map(str, args),
             "--no-dashboard", "--dashboard-address", "127.0.0.1:0"],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env,
            start_new_session=True,
        )  # fmt: skip

    def wait_for_workers(self) -> None:
        with distributed.Client(scheduler_file=str(self.file), timeout=DEADLINE) as client:
            client.wait_for_workers(self.count, timeout=DEADLINE)

    def kill_scheduler(self) -> None:
        os.killpg(self.scheduler.pid, signal.SIGKILL)

    def stop(self) -> None:
        for process in (self.workers, self.scheduler):
            _stop_group(process)
        self.log.close()


def _stop_group(process) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def wait_until(condition, what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("dask"), workers=2)
    yield cluster
    cluster.stop()


@pytest.fixture
def on_cluster(cluster, project):
    """Run dagmake in the project against the module's cluster."""

    def run(*args, **kwargs):
        return project.run("--executor", "dask", "--scheduler-file", str(cluster.file), *args)

    return run


def start(project: Project, cluster: Cluster, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [*dagmake_command(), "--executor", "dask", "--scheduler-file", str(cluster.file), *args],
        cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip


PIPELINE = """
[tasks.extract]
cmd = ["echo extracting", "echo $DAGMAKE_TEST_WORKER > raw.txt"]
outputs = ["raw.txt"]

[tasks.clean]
python = "steps:clean"
inputs = ["raw.txt"]
outputs = ["clean.txt"]

[tasks.side]
cmd = "echo side > side.txt"
outputs = ["side.txt"]
resources = { memory_gb = 8 }

[tasks.join]
cmd = "cat clean.txt side.txt > joined.txt"
inputs = ["clean.txt", "side.txt"]
outputs = ["joined.txt"]
"""

STEPS = """
def clean(inputs, outputs):
    text = open(inputs[0]).read()
    open(outputs[0], "w").write("clean " + text)
    print("cleaned")
"""


def test_a_pipeline_builds_on_the_workers_then_has_nothing_to_do(project, on_cluster):
    project.pipefile(PIPELINE)
    project.write("steps.py", STEPS)
    result = on_cluster()
    assert_ran(result, ["extract", "clean", "side", "join"])
    assert project.read("joined.txt") == "clean 1\nside\n"  # 1: written on a worker
    assert "extracting\n" in result.stdout and "cleaned\n" in result.stdout
    assert project.read(".dagmake/logs/clean.log") == "cleaned\n"
    assert "no work to do (4 up to date)" in on_cluster().stdout


def test_a_failing_task_with_keep_going(project, on_cluster):
    project.pipefile(
        """
        [tasks.bad]
        cmd = "echo about to fail; exit 3"
        outputs = ["bad.txt"]

        [tasks.after_bad]
        cmd = "cp bad.txt after.txt"
        inputs = ["bad.txt"]
        outputs = ["after.txt"]

        [tasks.good]
        cmd = "echo good > good.txt"
        outputs = ["good.txt"]
        """
    )
    result = on_cluster("-k")
    assert result.returncode == 1, result
    assert result.ran() == ["good"]
    assert "FAILED bad (exit 3," in result.stdout
    assert "  about to fail\n  log: .dagmake/logs/bad.log\n" in result.stdout
    assert "dagmake: not started: after_bad" in result.stdout
    assert project.exists("good.txt") and not project.exists("after.txt")


def test_an_output_that_appears_late_is_waited_for(project, on_cluster):
    # a child the command leaves behind writes it; --latency-wait (5 s with dask) covers it
    project.pipefile(
        """
        [tasks.late]
        cmd = "(sleep 1; echo late > late.txt) > /dev/null 2>&1 &"
        outputs = ["late.txt"]

        [tasks.never]
        cmd = "true"
        outputs = ["never.txt"]
        """
    )
    result = on_cluster("-k", "--latency-wait", "3")
    assert result.returncode == 1, result
    assert result.ran() == ["late"]
    assert project.read("late.txt") == "late\n"
    assert "FAILED never (did not create output never.txt (after --latency-wait 3 s)" in (
        result.stdout
    )


def test_a_quiet_build_on_a_local_cluster_prints_nothing(project):
    # not the scheduler's ERROR traceback as the cluster shuts down
    project.pipefile('[tasks.a]\ncmd = "echo a > a.txt"\noutputs = ["a.txt"]\n')
    result = project.run("--executor", "dask", "-q")
    assert result.returncode == 0, result
    assert (result.stdout, result.stderr) == ("", "")
    assert project.read("a.txt") == "a\n"


def test_a_resource_no_worker_offers_fails_at_once(project, on_cluster):
    project.pipefile(
        """
        [tasks.train]
        cmd = "touch model.bin"
        outputs = ["model.bin"]
        resources = { gpu = 1 }
        """
    )
    started = time.monotonic()
    result = on_cluster()
    assert time.monotonic() - started < 15
    assert result.returncode == 1, result
    assert (
        "FAILED train (no dask worker offers resources gpu=1 (workers offer: memory_gb=16)"
        in result.stdout
    )


def test_ctrl_c_kills_the_running_command_on_its_worker(project, cluster):
    project.pipefile(
        """
        [tasks.slow]
        cmd = "echo $$ > pid.txt; sleep 3 | cat; echo late > marker.txt"
        outputs = ["marker.txt"]
        """
    )
    dagmake = start(project, cluster)
    wait_until(lambda: project.exists("pid.txt") and project.read("pid.txt").strip(), "the task")
    shell = int(project.read("pid.txt"))
    dagmake.send_signal(signal.SIGINT)
    output, _ = dagmake.communicate(timeout=DEADLINE)
    assert dagmake.returncode == 130, output
    assert "INTERRUPTED slow" in output
    wait_until(lambda: gone(shell), "the task's shell to die", deadline=5)
    assert not project.exists("marker.txt")  # the shell that would write it is dead


def test_a_killed_worker_is_reported_and_retried_with_one_writer(project, cluster):
    project.pipefile(
        """
        [tasks.slow]
        cmd = "echo $$ >> starts.txt; sleep 2; echo done-$$ >> out.txt"
        outputs = ["out.txt"]
        retries = 1
        retry_delay = 0
        """
    )
    dagmake = start(project, cluster)
    wait_until(lambda: project.exists("starts.txt") and project.read("starts.txt"), "attempt 1")
    shell = int(project.read("starts.txt").split()[0])
    worker = parent_of(parent_of(shell))  # shell <- guard <- worker
    os.kill(worker, signal.SIGKILL)
    output, _ = dagmake.communicate(timeout=DEADLINE)
    try:
        assert dagmake.returncode == 0, output
        assert "slow: attempt 1/2 failed: worker died: tcp://127.0.0.1:" in output
        assert len(project.read("starts.txt").split()) == 2
        assert gone(shell)
        # Attempt 2 slept as long as attempt 1 would have: an orphan would have written by now.
        assert project.read("out.txt").splitlines() == [
            f"done-{project.read('starts.txt').split()[1]}"
        ]
    finally:
        cluster.wait_for_workers()  # the nanny restarts the killed worker


@pytest.mark.slow
def test_losing_the_scheduler_aborts_and_keeps_finished_tasks(project, tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("lost"), workers=1, threads=2)
    try:
        project.pipefile(
            """
            [tasks.quick]
            cmd = "echo q > q.txt"
            outputs = ["q.txt"]

            [tasks.slow]
            cmd = "echo $$ > pid.txt; sleep 3; echo late > slow.txt"
            outputs = ["slow.txt"]
            """
        )
        dagmake = start(project, cluster)
        lines = []
        for line in dagmake.stdout:  # the console shows a task once it is recorded
            lines.append(line)
            if line.startswith("[1/2] quick"):
                break
        wait_until(lambda: project.exists("pid.txt") and project.read("pid.txt"), "slow")
        shell = int(project.read("pid.txt"))
        cluster.kill_scheduler()
        output = "".join(lines) + dagmake.communicate(timeout=DEADLINE)[0]
        aborted = time.monotonic()
        # The worker, left without a scheduler, stops the command itself (before its 3 s).
        wait_until(lambda: gone(shell), "the orphaned command to die", deadline=15)
        assert time.monotonic() - aborted < 2.5
    finally:
        cluster.stop()
    assert dagmake.returncode == 2, output
    assert "dagmake: lost connection to dask scheduler tcp://127.0.0.1:" in output
    assert "hint: tasks that finished are recorded; run dagmake again to continue" in output
    assert "Traceback" not in output, output
    assert not project.exists("slow.txt")
    result = project.run("-n")
    assert result.stdout == "slow: output slow.txt is missing\n", result
