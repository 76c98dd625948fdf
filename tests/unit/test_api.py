"""The public Python API: load, plan, build, DagmakeError, __version__."""

import importlib
import re

import pytest

import dagmake
from dagmake.errors import UsageError


def test_api_names_stay_functions_after_their_modules_are_imported(tmp_path):
    (tmp_path / "Pipefile.toml").write_text(
        '[tasks.hello]\ncmd = "echo hi > hello.txt"\noutputs = ["hello.txt"]\n'
    )
    project = dagmake.load(str(tmp_path))
    the_plan = dagmake.plan(project)
    assert [step.name for step in the_plan.steps] == ["hello"]
    importlib.import_module("dagmake.build")
    importlib.import_module("dagmake.plan")
    # the submodules share these names; the package must still give the functions
    assert callable(dagmake.plan) and callable(dagmake.build)
    summary = dagmake.build(project, hooks=False)
    assert summary.exit_code == 0
    assert (tmp_path / "hello.txt").read_text() == "hi\n"
    assert [step.name for step in dagmake.plan(project).steps] == []


def test_errors_are_dagmake_errors(tmp_path):
    (tmp_path / "Pipefile.toml").write_text("[tasks.x]\ncmd = 1\n")
    try:
        dagmake.load(str(tmp_path))
    except dagmake.DagmakeError as error:
        assert "'cmd' must be" in str(error)
    else:
        raise AssertionError("expected a DagmakeError")
    assert dagmake.__version__


def test_waiting_for_the_lock_is_a_notice_not_a_warning(tmp_path):
    """So that -q can leave it out: waiting behind another run is no failure."""
    import threading

    from dagmake.lock import ProjectLock

    (tmp_path / "Pipefile.toml").write_text(
        '[tasks.hello]\ncmd = "echo hi > hello.txt"\noutputs = ["hello.txt"]\n'
    )
    project = dagmake.load(str(tmp_path))
    other = ProjectLock(project.state_dir)
    other.acquire()
    notices, warnings = [], []
    waiting = threading.Event()

    def notice(message):
        notices.append(message)
        waiting.set()

    builder = threading.Thread(
        target=lambda: dagmake.build(
            project, wait=True, hooks=False, notice=notice, warn=warnings.append
        )
    )
    builder.start()
    try:
        assert waiting.wait(10), "build() did not report waiting for the lock"
    finally:
        other.release()
        builder.join(10)
    assert notices and notices[0].startswith("waiting for dagmake (pid ")
    assert warnings == []
    assert (tmp_path / "hello.txt").read_text() == "hi\n"


TWO = """\
[tasks.a]
cmd = "echo a > a.txt"
outputs = ["a.txt"]

[tasks.b]
cmd = "echo b > b.txt"
outputs = ["b.txt"]
"""


def test_one_target_may_be_given_as_a_string_and_the_project_as_a_path(tmp_path):
    (tmp_path / "Pipefile.toml").write_text(TWO)
    project = dagmake.load(str(tmp_path))
    assert [step.name for step in dagmake.plan(project, "a").steps] == ["a"]
    assert [step.name for step in dagmake.plan(tmp_path, ["b"]).steps] == ["b"]
    assert [step.name for step in dagmake.plan(project, tmp_path / "a.txt").steps] == ["a"]
    summary = dagmake.build(str(tmp_path), "b", hooks=False)
    assert summary.exit_code == 0
    assert (tmp_path / "b.txt").exists() and not (tmp_path / "a.txt").exists()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: dagmake.plan(3), "the project must be what dagmake.load() returns"),
        (lambda p: dagmake.plan(p, [1]), "a target must be a string"),
        (lambda p: dagmake.plan(p, 5), "targets must be a string or a list of strings"),
        (lambda p: dagmake.plan(p, b"a"), "targets must be strings, not bytes (b'a')"),
        (lambda p: dagmake.build(p, jobs="4"), "jobs must be a whole number of at least 1"),
        (lambda p: dagmake.build(p, jobs=0), "jobs must be a whole number of at least 1"),
        (lambda p: dagmake.build(p, jobs=-1), "jobs must be a whole number of at least 1"),
        (lambda p: dagmake.build(p, retries=-1), "retries must be a whole number of at least 0"),
        (lambda p: dagmake.load(5), "the path must be a Pipefile or a directory"),
        (lambda p: dagmake.load({"a": 1}), "the path must be a Pipefile or a directory"),
        (lambda p: dagmake.load(b"."), "the path must be a Pipefile or a directory"),
        (lambda p: dagmake.load(""), "the path is empty"),
        (lambda p: dagmake.load(p.root, overrides={"a": 1}), "overrides must be a dict of"),
    ],
    ids=[
        *("project", "target", "targets", "bytes", "jobs-str", "jobs-0", "jobs-negative"),
        *("retries", "load-int", "load-dict", "load-bytes", "load-empty", "overrides"),
    ],
)
def test_a_wrong_argument_is_a_usage_error(tmp_path, call, message):
    (tmp_path / "Pipefile.toml").write_text(TWO)
    project = dagmake.load(str(tmp_path))
    with pytest.raises(UsageError, match=re.escape(message)):
        call(project)
    assert not (tmp_path / "a.txt").exists()
