"""on_success / on_failure: which hook runs, what it sees, and that it never changes the result."""

import os
import sys
import textwrap

from dagmake.build import build
from dagmake.events import FAILED, INTERRUPTED, OK, Attempt, BuildSummary, TaskOutcome
from dagmake.hooks import environment, hook_for
from dagmake.project import Settings, load
from fakes import FakeRunner

T = 1_700_000_000.0


def outcome(name, status, exit_code=0):
    return TaskOutcome(
        name, status, [Attempt(1, exit_code, T, 1.0)], f"/p/.dagmake/logs/{name}.log"
    )


SETTINGS = Settings(on_failure="notify failed", on_success="notify ok")


def test_which_hook_runs():
    ok = BuildSummary([outcome("a", OK)], [], [], [], 1.0)
    nothing = BuildSummary([], ["a"], [], [], 0.1)
    failed = BuildSummary([outcome("a", FAILED, 1)], [], [], ["b"], 1.0)
    stopped = BuildSummary([outcome("a", INTERRUPTED, -15)], [], [], [], 1.0, interrupted=True)
    assert hook_for(SETTINGS, ok) == ("on_success", "notify ok")
    assert hook_for(SETTINGS, nothing) == ("on_success", "notify ok")
    assert hook_for(SETTINGS, failed) == ("on_failure", "notify failed")
    assert hook_for(SETTINGS, stopped) is None
    assert hook_for(Settings(on_failure="x"), ok) is None


def test_environment_describes_the_run():
    class Project:
        root = "/p"

    summary = BuildSummary(
        [outcome("a", OK), outcome("b", FAILED, 2), outcome("c", FAILED, 1)], ["u"], [], ["d"], 3.5
    )
    env = environment(Project(), summary)
    assert env["DAGMAKE_EXIT_CODE"] == "1"
    assert env["DAGMAKE_FAILED_TASKS"] == "b c"
    assert env["DAGMAKE_FAILED_LOGS"] == ".dagmake/logs/b.log .dagmake/logs/c.log"
    assert env["DAGMAKE_RAN"] == "a"
    assert env["DAGMAKE_NOT_RUN"] == "d"
    assert env["DAGMAKE_SECONDS"] == "3.500"
    assert env["DAGMAKE_PROJECT"] == "/p"
    assert env["DAGMAKE_SUMMARY"].startswith("dagmake: 1 ran, 1 up to date, 2 failed in 3.50s\n")
    assert "first failure: b (exit 2)" in env["DAGMAKE_SUMMARY"]


def project(tmp_path, settings: str):
    (tmp_path / "Pipefile.toml").write_text(
        textwrap.dedent(settings)
        + textwrap.dedent(
            """
            [tasks.a]
            cmd = "true"
            [tasks.b]
            cmd = "true"
            """
        )
    )
    return load(str(tmp_path / "Pipefile.toml"))


def test_the_hook_runs_after_the_lock_is_released_so_it_may_run_dagmake(tmp_path):
    dagmake = f"{sys.executable} -m dagmake"
    p = project(
        tmp_path,
        f"""
        [settings]
        on_failure = "echo $DAGMAKE_FAILED_TASKS > hook.out; {dagmake} -q b; echo $? >> hook.out"
        """,
    )
    warnings = []
    summary = build(p, ["a"], runner=FakeRunner({"a": [1]}), warn=warnings.append)
    assert summary.exit_code == 1
    assert warnings == []
    assert (tmp_path / "hook.out").read_text() == "a\n0\n"


def test_a_failing_hook_is_a_warning_and_keeps_the_exit_code(tmp_path):
    p = project(
        tmp_path,
        """
        [settings]
        on_success = "exit 7"
        """,
    )
    warnings = []
    summary = build(p, runner=FakeRunner(), warn=warnings.append)
    assert summary.exit_code == 0
    assert warnings == ["on_success hook failed: exit 7"]


def test_hooks_false_runs_none(tmp_path):
    p = project(
        tmp_path,
        """
        [settings]
        on_success = "touch hook.out"
        """,
    )
    build(p, runner=FakeRunner(), hooks=False)
    assert not os.path.exists(tmp_path / "hook.out")
