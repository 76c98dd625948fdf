"""10,000 tasks: load, plan and no-op correctly, and pick out exactly one changed chain."""

import itertools
import os
import time

import pytest

from conftest import SECOND, T0

SOURCES = 100
TASKS = 10_000


def generated_pipefile() -> str:
    """100 chains of 100 tasks: t(i) reads source s(i) for i < 100, else t(i-100)'s output."""
    parts = []
    for i in range(TASKS):
        source = f"src/s{i:02}.txt" if i < SOURCES else f"out/o{i - SOURCES:04}.txt"
        parts.append(
            f"[tasks.t{i:04}]\n"
            'cmd = "cp {{inputs}} {{outputs}}"\n'
            f'inputs = ["{source}"]\n'
            f'outputs = ["out/o{i:04}.txt"]\n'
        )
    return "\n".join(parts)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """The pipeline, with every output already there and newer than what it reads.

    Building 10,000 real processes would take minutes; the files are made by hand instead,
    which is also how a project built before dagmake looks.
    """
    from conftest import Project

    project = Project(tmp_path_factory.mktemp("scale"))
    project.pipefile(generated_pipefile())
    os.mkdir(project.path("src"))
    os.mkdir(project.path("out"))
    for i in range(SOURCES):
        project.write(f"src/s{i:02}.txt", "x\n", ns=T0)
    for i in range(TASKS):
        project.write(f"out/o{i:04}.txt", "x\n", ns=T0 + (i // SOURCES + 1) * SECOND)
    return project


@pytest.mark.slow
def test_ten_thousand_tasks_plan_and_no_op(big):
    started = time.monotonic()
    result = big.run("-n", timeout=120)
    assert result.returncode == 0, result
    assert result.stdout == f"dagmake: no work to do ({TASKS} up to date)\n"
    for _ in range(2):  # the second run may answer from its caches
        result = big.run(timeout=120)
        assert result.returncode == 0, result
        assert result.stdout == f"dagmake: no work to do ({TASKS} up to date)\n", result
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_ten_thousand_tasks_one_source_changed(big):
    big.touch("src/s07.txt", T0 + 1000 * SECOND)
    try:
        result = big.run("-n", timeout=120)
    finally:
        big.touch("src/s07.txt", T0)
    assert result.returncode == 0, result
    chain = [f"t{i:04}" for i in range(7, TASKS, SOURCES)]
    expected = [f"{chain[0]}: input src/s07.txt is newer than output out/o0007.txt"]
    expected += [f"{task}: upstream task {up} will run" for up, task in itertools.pairwise(chain)]
    assert result.stdout.splitlines() == expected
