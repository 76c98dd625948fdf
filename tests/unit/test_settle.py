"""settle_before_spawning: a large local build first waits until Linux has forgotten
dagmake's own startup burst, and only then, only as long as the kernel says it must."""

from __future__ import annotations

import os

import pytest

import dagmake
import dagmake.runner
from dagmake.runner import (
    SETTLE_MIN_COMMANDS,
    SETTLE_MOST_SECONDS,
    SETTLE_UTIL,
    settle_before_spawning,
)
from fakes import FakeRunner


class Kernel:
    """Readings of util_avg in turn (the last one repeats), and the sleeps asked for."""

    def __init__(self, *readings):
        self.readings = list(readings)
        self.read = 0
        self.slept: list[float] = []

    def utilisation(self):
        self.read += 1
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]

    def sleep(self, seconds):
        self.slept.append(seconds)


def settle(kernel, commands=1000, jobs=2, cpus=2):
    return settle_before_spawning(
        commands, jobs, cpus=cpus, utilisation=kernel.utilisation, sleep=kernel.sleep
    )


def test_waits_while_the_kernel_rates_dagmake_busy_and_no_longer():
    kernel = Kernel(950, 900, SETTLE_UTIL + 1, SETTLE_UTIL, 1000)
    waited = settle(kernel)
    assert len(kernel.slept) == 3
    assert waited == pytest.approx(sum(kernel.slept))
    assert kernel.read == 4  # stopped at the first reading at or under the mark


def test_no_wait_when_the_kernel_already_rates_dagmake_idle():
    kernel = Kernel(SETTLE_UTIL - 100)
    assert settle(kernel) == 0.0
    assert kernel.slept == []


def test_the_wait_is_bounded_when_the_reading_never_falls():
    kernel = Kernel(1024)
    waited = settle(kernel)
    assert SETTLE_MOST_SECONDS <= waited < SETTLE_MOST_SECONDS + 0.01
    assert sum(kernel.slept) == pytest.approx(waited)


def test_a_small_build_never_waits_nor_asks_the_kernel():
    kernel = Kernel(1024)
    assert settle(kernel, commands=SETTLE_MIN_COMMANDS - 1) == 0.0
    assert kernel.read == 0 and kernel.slept == []


@pytest.mark.parametrize("jobs, cpus", [(1, 2), (3, 4), (2, 8)])
def test_no_wait_with_a_cpu_to_spare(jobs, cpus):
    """With fewer jobs than CPUs a new command always finds an idle CPU."""
    kernel = Kernel(1024)
    assert settle(kernel, jobs=jobs, cpus=cpus) == 0.0
    assert kernel.read == 0


@pytest.mark.parametrize("jobs, cpus", [(2, 2), (8, 4)])
def test_waits_when_every_cpu_has_a_command(jobs, cpus):
    kernel = Kernel(1024, 0)
    assert settle(kernel, jobs=jobs, cpus=cpus) > 0.0


def test_no_wait_where_the_kernel_does_not_tell():
    kernel = Kernel(None)
    assert settle(kernel) == 0.0
    assert kernel.slept == []


@pytest.mark.skipif(not os.path.exists("/proc/self/sched"), reason="needs /proc/self/sched")
def test_reads_this_processes_utilisation_from_proc():
    with open("/proc/self/sched") as file:
        if "se.avg.util_avg" not in file.read():
            pytest.skip("this kernel's /proc/self/sched has no util_avg")
    util = dagmake.runner._own_utilisation()
    assert isinstance(util, int) and 0 <= util <= 1024


def test_unreadable_proc_gives_no_reading(monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("no /proc here")

    monkeypatch.setattr("builtins.open", refuse)
    assert dagmake.runner._own_utilisation() is None


def _project(tmp_path, tasks, *, outputs=True):
    made = 'outputs = ["t{i}.txt"]' if outputs else "always = true"  # a fake makes none
    lines = [f'[tasks.t{i}]\ncmd = "touch t{i}.txt"\n{made.format(i=i)}\n' for i in range(tasks)]
    (tmp_path / "Pipefile.toml").write_text("\n".join(lines))
    return dagmake.load(str(tmp_path))


def _outputs(tmp_path):
    return sorted(path.name for path in tmp_path.glob("t*.txt"))


def _recording(monkeypatch, tmp_path):
    """Calls of settle_before_spawning, each with the outputs that existed at the time."""
    calls = []

    def settle(*args, cpus):
        assert cpus >= 1
        calls.append((args, _outputs(tmp_path)))
        return 0.0

    monkeypatch.setattr(dagmake.runner, "settle_before_spawning", settle)
    return calls


def test_a_local_build_settles_before_its_first_command(tmp_path, monkeypatch):
    calls = _recording(monkeypatch, tmp_path)
    summary = dagmake.build(_project(tmp_path, 3), jobs=2, hooks=False)
    assert summary.exit_code == 0
    # (commands to run, jobs), for the rule itself to decide; and no command had run yet
    assert calls == [((3, 2), [])]
    assert _outputs(tmp_path) == ["t0.txt", "t1.txt", "t2.txt"]


def test_a_build_on_another_runner_does_not_settle(tmp_path, monkeypatch):
    calls = _recording(monkeypatch, tmp_path)
    engine = FakeRunner()
    project = _project(tmp_path, 3, outputs=False)
    summary = dagmake.build(project, jobs=2, hooks=False, runner=engine)
    assert summary.exit_code == 0
    assert sorted(name for kind, name in engine.events if kind == "start") == ["t0", "t1", "t2"]
    assert calls == []
