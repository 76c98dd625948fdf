"""The no-op cache: answers "no work to do" only while nothing it planned from has changed."""

import os

from dagmake import noop
from dagmake.project import load

PIPEFILE = '[tasks.a]\ncmd = "cp in.txt out.txt"\ninputs = ["in.txt"]\noutputs = ["out.txt"]\n'


def project_at(tmp_path):
    (tmp_path / "Pipefile.toml").write_text(PIPEFILE)
    (tmp_path / "in.txt").write_text("x")
    (tmp_path / "out.txt").write_text("x")
    os.makedirs(tmp_path / ".dagmake")
    return load(str(tmp_path))


def seen_now(tmp_path):
    return {
        path: (os.stat(tmp_path / path).st_mtime_ns, os.stat(tmp_path / path).st_size)
        for path in ("in.txt", "out.txt")
    }


def test_a_saved_answer_holds_while_nothing_changes(tmp_path):
    project = project_at(tmp_path)
    noop.save(project, [], seen_now(tmp_path), 1)
    assert noop.check(project.pipefile, {}, []) == 1
    assert noop.check(project.pipefile, {"X": "1"}, []) is None  # other overrides
    assert noop.check(project.pipefile, {}, ["a"]) is None  # other targets
    (tmp_path / "in.txt").write_text("xy")
    assert noop.check(project.pipefile, {}, []) is None


def test_the_key_is_the_pipefile_that_was_planned_not_the_one_on_disk(tmp_path):
    project = project_at(tmp_path)
    # edited while the no-op run planned from the old bytes
    (tmp_path / "Pipefile.toml").write_text(PIPEFILE.replace("cp", "cat"))
    noop.save(project, [], seen_now(tmp_path), 1)
    assert noop.check(project.pipefile, {}, []) is None


def test_no_answer_while_another_dagmake_holds_the_lock(tmp_path):
    import fcntl

    project = project_at(tmp_path)
    noop.save(project, [], seen_now(tmp_path), 1)
    holder = os.open(tmp_path / ".dagmake" / "lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        # the full path then reports the holder's pid
        assert noop.check(project.pipefile, {}, []) is None
    finally:
        os.close(holder)
    assert noop.check(project.pipefile, {}, []) == 1


def test_a_failed_check_hands_over_the_stamps_it_took(tmp_path):
    project = project_at(tmp_path)
    noop.save(project, [], seen_now(tmp_path), 1)
    fresh = {}
    assert noop.check(project.pipefile, {}, [], fresh) == 1
    assert fresh == {}  # nothing changed: nothing to hand over
    os.utime(tmp_path / "in.txt", ns=(5 * 10**18, 5 * 10**18))
    (tmp_path / "in.txt").write_text("xy")
    assert noop.check(project.pipefile, {}, [], fresh) is None
    assert fresh == seen_now(tmp_path)


def test_a_check_that_cannot_finish_hands_over_nothing(tmp_path):
    project = project_at(tmp_path)
    noop.save(project, [], seen_now(tmp_path), 1)
    os.remove(tmp_path / "out.txt")
    fresh = {}
    assert noop.check(project.pipefile, {}, [], fresh) is None
    assert fresh == {}


def test_the_plan_uses_stamps_handed_over_instead_of_stat_ing_again(tmp_path):
    from dagmake.build import build

    project = project_at(tmp_path)
    later = os.stat(tmp_path / "out.txt").st_mtime_ns + 10**9
    os.utime(tmp_path / "in.txt", ns=(later, later))  # on disk: the input is newer
    summary = build(project, hooks=False, stamps={"in.txt": (0, 1)})
    assert summary.ran == ()  # by the stamps handed over it is older: up to date
    summary = build(project, hooks=False)
    assert [o.name for o in summary.outcomes] == ["a"]


def test_the_same_target_text_from_another_directory_is_another_question(tmp_path, monkeypatch):
    project = project_at(tmp_path)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    noop.save(project, ["x.txt"], seen_now(tmp_path), 1)
    assert noop.check(project.pipefile, {}, ["x.txt"]) == 1
    monkeypatch.chdir(tmp_path / "two")  # there x.txt may be another task's output
    assert noop.check(project.pipefile, {}, ["x.txt"]) is None


def test_an_answer_that_cannot_be_saved_leaves_no_temporary_file(tmp_path, monkeypatch):
    from fakes import full_disk

    project = project_at(tmp_path)
    before = set(os.listdir(tmp_path / ".dagmake"))
    full_disk(monkeypatch)
    noop.save(project, [], seen_now(tmp_path), 1)
    monkeypatch.undo()
    assert set(os.listdir(tmp_path / ".dagmake")) == before
