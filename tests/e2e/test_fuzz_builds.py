"""For random valid pipelines: `-n` predicts exactly what a build runs, and a second build runs
nothing, before and after a random change."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Project
from strategies import SOURCES, dag_toml, dags

# FUZZ_EXAMPLES=500 for a longer hunt than CI affords
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 15)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def predicted(project: Project) -> set[str]:
    result = project.run("-n")
    assert result.returncode == 0, result
    if result.stdout.startswith("dagmake: no work to do"):
        return set()
    return {line.split(":", 1)[0] for line in result.stdout.splitlines()}


def build(project: Project) -> tuple[set[str], set[str]]:
    """Run a build; return (tasks it ran, tasks it skipped: their upstream changed nothing)."""
    result = project.run("-v", "-j3")
    assert result.returncode == 0, result
    skipped = {
        line.split()[1].rstrip(":")
        for line in result.stdout.splitlines()
        if line.startswith("skip ")
    }
    ran = set(result.ran())
    assert not ran & skipped, result
    return ran, skipped


def check_prediction(project: Project, tasks) -> set[str]:
    will_run = predicted(project)
    ran, skipped = build(project)
    # -n shows a task waiting on an `after` task as running; at run time it is skipped when
    # nothing it reads changed. With only file links, the prediction is exact.
    assert will_run == ran | skipped
    if not any(task["after"] for task in tasks):
        assert not skipped
    return ran


def check_no_op(project: Project) -> None:
    assert predicted(project) == set()
    ran, skipped = build(project)
    assert ran == skipped == set()


def expected_content(tasks, sources: dict[str, str]) -> dict[str, str]:
    content = dict(sources)
    for task in tasks:
        text = "".join(content[path] for path in task["inputs"]) or f"{task['name']}\n"
        for output in task["outputs"]:
            content[output] = text
    return content


CHANGES = st.sampled_from(["edit source", "restore source", "edit output", "delete output", "none"])


@pytest.mark.slow
@FUZZ
@given(tasks=dags(), change=CHANGES, data=st.data())
def test_dry_run_predicts_the_build_and_a_second_build_is_a_no_op(
    tmp_path_factory, tasks, change, data
):
    project = Project(tmp_path_factory.mktemp("dag"))
    project.pipefile(dag_toml(tasks))
    sources = {path: f"{path}\n" for path in SOURCES}
    for path, text in sources.items():
        project.write(path, text)

    assert check_prediction(project, tasks) == {task["name"] for task in tasks}
    check_no_op(project)

    outputs = [path for task in tasks for path in task["outputs"]]
    if change == "edit source":
        # longer each time: on a coarse clock, the size alone shows the edit
        path = data.draw(st.sampled_from(SOURCES))
        sources[path] = f"{path} edited\n"
        project.write(path, sources[path])
    elif change == "restore source":
        # as from a backup: older than everything, with other content
        path = data.draw(st.sampled_from(SOURCES))
        sources[path] = f"{path} restored\n"
        project.write(path, sources[path], ns=1_000_000_000)
    elif change == "edit output":
        path = data.draw(st.sampled_from(outputs))
        project.write(path, "edited by hand, and longer\n")
    elif change == "delete output":
        os.unlink(project.path(data.draw(st.sampled_from(outputs))))

    check_prediction(project, tasks)
    check_no_op(project)
    for path, text in expected_content(tasks, sources).items():
        if path in outputs and change != "edit output":
            assert project.read(path) == text, path
