"""The state in .dagmake/: append-only framed records that survive a crash at any moment."""

import marshal
import os

import pytest

from dagmake import state
from dagmake.state import History, Record, StateStore


def rec(name, status="ok", started=1.0, fingerprint="f", stamps=()):
    return Record(name, fingerprint, status, started, 0.5, 1, stamps)


def data(records):
    return {name: r.to_data() for name, r in records.items()}


@pytest.fixture
def state_dir(tmp_path):
    return str(tmp_path / ".dagmake")


def write(state_dir, records):
    """Append records to a fresh store, as a build does; return the file's path."""
    store = StateStore(state_dir)
    store.open_for_append(store.load())
    for record in records:
        store.append(record)
    store.close()
    return store.path


def load(state_dir):
    store = StateStore(state_dir)
    return store, store.load()


def test_missing_state_is_empty_without_warning(state_dir):
    store, records = load(state_dir)
    assert records == {}
    assert store.warning is None
    assert not os.path.exists(state_dir)


def test_roundtrip(state_dir):
    a = rec("a", stamps=(("in.csv", 123, 4), ("dir", 99, 2)))
    b = rec("b", status="failed", started=2.5)
    write(state_dir, [a, b])
    store, records = load(state_dir)
    assert data(records) == {"a": a.to_data(), "b": b.to_data()}
    assert records["a"].stamp_map() == {"in.csv": (123, 4), "dir": (99, 2)}
    assert store.warning is None
    assert not store.needs_rewrite


def test_state_dir_gets_a_gitignore(state_dir):
    write(state_dir, [rec("a")])
    with open(os.path.join(state_dir, ".gitignore")) as f:
        assert f.read() == "*\n"


def test_last_record_per_task_wins(state_dir):
    write(state_dir, [rec("a", "interrupted"), rec("b"), rec("a", "ok", started=5.0)])
    write(state_dir, [rec("b", "failed")])
    _, records = load(state_dir)
    assert {name: (r.status, r.started) for name, r in records.items()} == {
        "a": ("ok", 5.0),
        "b": ("failed", 1.0),
    }


@pytest.mark.parametrize("cut", [1, 3, 8, 9])
def test_torn_last_frame_keeps_earlier_records(state_dir, cut):
    path = write(state_dir, [rec("a"), rec("b"), rec("c", "failed")])
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size - cut)
    store, records = load(state_dir)
    assert sorted(records) == ["a", "b"]
    assert store.needs_rewrite
    assert "damaged" in store.warning


def test_damaged_file_is_rewritten_before_appending(state_dir):
    path = write(state_dir, [rec("a"), rec("b")])
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 2)
    write(state_dir, [rec("c")])
    store, records = load(state_dir)
    assert sorted(records) == ["a", "c"]
    assert store.warning is None


def test_flipped_byte_in_a_frame_stops_at_the_damage(state_dir):
    path = write(state_dir, [rec("a"), rec("b"), rec("c")])
    with open(path, "r+b") as f:
        f.seek(-3, os.SEEK_END)
        byte = f.read(1)[0]
        f.seek(-3, os.SEEK_END)
        f.write(bytes([byte ^ 0xFF]))  # inside c's payload: its checksum no longer matches
    store, records = load(state_dir)
    assert sorted(records) == ["a", "b"]
    assert store.needs_rewrite


@pytest.mark.parametrize(
    "field, value",
    [(1, None), (2, 3), (3, "x"), (4, None), (5, 1.5)],
    ids=["fingerprint", "status", "started", "seconds", "attempts"],
)
def test_a_record_with_a_field_of_the_wrong_type_is_damage(state_dir, field, value):
    good = rec("a").to_data()
    bad = list(rec("b").to_data())
    bad[field] = value
    os.makedirs(state_dir)
    with open(os.path.join(state_dir, "state"), "wb") as f:
        f.write(state._frame((state._MAGIC, state.STATE_FORMAT)))
        f.write(state._frame(good) + state._frame(tuple(bad)))
    store, records = load(state_dir)
    assert sorted(records) == ["a"]
    assert "was damaged" in store.warning
    assert store.needs_rewrite


@pytest.mark.parametrize(
    "content",
    [b"garbage that is not a state file", b"\x00" * 3, marshal.dumps(("a", "b"))],
    ids=["text", "short", "unframed marshal"],
)
def test_garbage_file_is_a_warning_and_empty(state_dir, content):
    os.makedirs(state_dir)
    with open(os.path.join(state_dir, "state"), "wb") as f:
        f.write(content)
    store, records = load(state_dir)
    assert records == {}
    assert "is not a dagmake state file" in store.warning
    assert store.needs_rewrite


def test_frames_of_another_kind_are_not_state(state_dir):
    os.makedirs(state_dir)
    with open(os.path.join(state_dir, "state"), "wb") as f:
        f.write(state._frame(("dagmake-history", state.STATE_FORMAT)))
    store, records = load(state_dir)
    assert records == {}
    assert "not a dagmake state file" in store.warning


def test_future_format_is_a_warning_and_empty(state_dir):
    os.makedirs(state_dir)
    with open(os.path.join(state_dir, "state"), "wb") as f:
        f.write(state._frame((state._MAGIC, state.STATE_FORMAT + 1)))
        f.write(state._frame(rec("a").to_data()))
    store, records = load(state_dir)
    assert records == {}
    assert "newer dagmake" in store.warning
    assert f"format {state.STATE_FORMAT + 1}" in store.warning
    assert store.needs_rewrite


def test_unreadable_state_is_rewritten_on_the_next_build(state_dir):
    os.makedirs(state_dir)
    with open(os.path.join(state_dir, "state"), "wb") as f:
        f.write(b"garbage")
    write(state_dir, [rec("a")])
    store, records = load(state_dir)
    assert sorted(records) == ["a"]
    assert store.warning is None


def test_compaction_keeps_latest_records_and_shrinks_the_file(state_dir):
    records = [rec(name, started=float(run)) for run in range(40) for name in ("a", "b", "c")]
    path = write(state_dir, records)
    before = os.path.getsize(path)
    store, loaded = load(state_dir)
    store.compact(loaded)
    assert os.path.getsize(path) < before / 10
    _, after = load(state_dir)
    assert data(after) == data(loaded)
    assert {name: r.started for name, r in after.items()} == {"a": 39.0, "b": 39.0, "c": 39.0}


def compacted_store(state_dir, names):
    """A state file holding one compacted frame of records for names; return its path."""
    write(state_dir, [rec(name) for name in names])
    store, loaded = load(state_dir)
    store.rewrite(loaded)
    return store.path


def test_a_few_small_records_appended_are_not_compacted_at_once(state_dir):
    # a build of one task must not rewrite (and fsync) the records of a thousand
    path = compacted_store(state_dir, [f"t{i}" for i in range(1000)])
    write(state_dir, [rec("t1", "failed"), rec("t2", "failed")])
    size = os.path.getsize(path)
    store, loaded = load(state_dir)
    store.compact(loaded)
    assert os.path.getsize(path) == size
    assert loaded["t1"].status == "failed"


def test_many_appended_frames_are_compacted(state_dir):
    path = compacted_store(state_dir, [f"t{i}" for i in range(1000)])
    for run in range(state._MOST_APPENDED_FRAMES + 1):
        write(state_dir, [rec("t1", started=float(run))])
    store, loaded = load(state_dir)
    size = os.path.getsize(path)
    store.compact(loaded)
    assert os.path.getsize(path) < size
    assert load(state_dir)[1]["t1"].started == float(state._MOST_APPENDED_FRAMES)


def test_appended_bytes_half_the_compacted_ones_are_compacted(state_dir):
    path = compacted_store(state_dir, [f"t{i}" for i in range(10)])
    big = [(f"in{i}.csv", i, i) for i in range(200)]
    write(state_dir, [rec("t1", stamps=big)])
    store, loaded = load(state_dir)
    size = os.path.getsize(path)
    store.compact(loaded)
    assert os.path.getsize(path) < size
    _, after = load(state_dir)
    assert data(after) == data(loaded)


def test_appends_counted_across_a_build_trigger_compaction(state_dir):
    path = compacted_store(state_dir, ["a"])
    store, loaded = load(state_dir)
    store.open_for_append(loaded)
    for run in range(5):
        store.append(rec("a", started=float(run)))
        store.flush()
    store.close()
    size = os.path.getsize(path)
    store.compact({"a": rec("a", started=4.0)})
    assert os.path.getsize(path) < size


def test_records_appended_after_compaction_win(state_dir):
    write(state_dir, [rec("a"), rec("b")])
    store, loaded = load(state_dir)
    store.compact(loaded)
    write(state_dir, [rec("a", "failed")])
    _, records = load(state_dir)
    assert {name: r.status for name, r in records.items()} == {"a": "failed", "b": "ok"}


def test_torn_frame_after_compaction_keeps_the_compacted_records(state_dir):
    write(state_dir, [rec("a"), rec("b")])
    store, loaded = load(state_dir)
    store.compact(loaded)
    path = write(state_dir, [rec("c")])
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 4)
    store, records = load(state_dir)
    assert sorted(records) == ["a", "b"]
    assert store.needs_rewrite


def test_rewrite_replaces_the_file_atomically(state_dir):
    write(state_dir, [rec("a"), rec("b")])
    store, records = load(state_dir)
    del records["a"]
    store.rewrite(records)
    assert sorted(load(state_dir)[1]) == ["b"]
    assert [name for name in os.listdir(state_dir) if name.endswith(".tmp")] == []


def test_append_before_open_is_a_bug(state_dir):
    with pytest.raises(RuntimeError):
        StateStore(state_dir).append(rec("a"))


def test_history_append_and_read(state_dir):
    history = History(state_dir)
    assert history.read() == []
    history.open()
    history.append(("attempt", "run1", "a", 1, 10.0, 0.5, 0, False, False, None, "ok"))
    history.append(("run", "run1", 10.0, 1.0, 1, 0, 0, 0))
    history.close()
    history = History(state_dir)
    history.open()
    history.append(("run", "run2", 20.0, 1.0, 0, 1, 0, 0))
    history.close()
    entries = History(state_dir).read()
    assert [entry[:2] for entry in entries] == [
        ("attempt", "run1"),
        ("run", "run1"),
        ("run", "run2"),
    ]


def _history_runs(state_dir, names, tasks=1):
    history = History(state_dir)
    history.open()
    for run in names:
        for task in range(tasks):
            history.append(("attempt", run, f"t{task}", 1, 0.0, 0.1, 0, False, False, None, "ok"))
        history.append(("run", run, 0.0, 0.1, tasks, 0, 0, 0))
    history.close()


def _run_bytes(state_dir, tasks=1) -> int:
    """The size one run of that many tasks adds to the history file."""
    path = os.path.join(state_dir, "history")
    _history_runs(state_dir, ["probe0"], tasks)
    before = os.path.getsize(path)
    _history_runs(state_dir, ["probe1"], tasks)
    size = os.path.getsize(path) - before
    os.unlink(path)
    return size


def test_history_prunes_to_the_most_recent_runs(state_dir, monkeypatch):
    size = _run_bytes(state_dir)
    monkeypatch.setattr(History, "MAX_BYTES", 5 * size)  # ten runs are over, two fit in half
    monkeypatch.setattr(History, "KEEP_RUNS", 2)
    _history_runs(state_dir, [f"r{n}" for n in range(10)])
    History(state_dir).open()  # over MAX_BYTES: prunes before appending
    assert {entry[1] for entry in History(state_dir).read()} == {"r8", "r9"}


def test_history_prunes_to_half_its_limit_so_the_next_runs_do_not_rewrite_it(
    state_dir, monkeypatch
):
    size = _run_bytes(state_dir, tasks=10)
    monkeypatch.setattr(History, "MAX_BYTES", 10 * size)
    prunes = []
    real_prune = History._prune
    monkeypatch.setattr(History, "_prune", lambda self: prunes.append(1) or real_prune(self))
    for number in range(40):
        _history_runs(state_dir, [f"r{number}"], tasks=10)
    # from 11 runs (over the limit) down to 5: a prune every 6 runs, not on every run
    assert 4 <= len(prunes) <= 7
    assert os.path.getsize(os.path.join(state_dir, "history")) <= 10 * size
    assert History(state_dir).read()[-1][1] == "r39"


def test_a_run_larger_than_half_the_limit_is_kept_alone(state_dir, monkeypatch):
    monkeypatch.setattr(History, "MAX_BYTES", _run_bytes(state_dir, tasks=50))
    _history_runs(state_dir, ["small1", "small2"], tasks=1)
    _history_runs(state_dir, ["big"], tasks=50)
    History(state_dir).open()
    assert {entry[1] for entry in History(state_dir).read()} == {"big"}


def test_history_ignores_a_state_file(state_dir):
    write(state_dir, [rec("a")])
    os.replace(os.path.join(state_dir, "state"), os.path.join(state_dir, "history"))
    assert History(state_dir).read() == []


def test_runs_after_a_torn_history_write_are_still_read(state_dir):
    _history_runs(state_dir, ["r1"])
    with open(os.path.join(state_dir, "history"), "ab") as f:
        f.write(b"\x07\x00\x00\x00xx")  # a frame cut short by a full disk
    _history_runs(state_dir, ["r2", "r3"])
    runs = [entry[1] for entry in History(state_dir).read() if entry[0] == "run"]
    assert runs == ["r1", "r2", "r3"]


def test_a_history_file_of_another_kind_is_replaced_by_a_new_history(state_dir):
    os.makedirs(state_dir, exist_ok=True)
    with open(os.path.join(state_dir, "history"), "wb") as f:
        f.write(os.urandom(300))
    _history_runs(state_dir, ["r1"])
    assert [entry[1] for entry in History(state_dir).read() if entry[0] == "run"] == ["r1"]
