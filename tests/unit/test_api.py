"""The public Python API: load, plan, build, DagmakeError, __version__."""

import importlib

import dagmake


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
