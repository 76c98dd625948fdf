"""Laying a run out in time: slots from intervals, and the critical path through the graph."""

from dagmake.events import FAILED, OK, Attempt, BuildSummary, TaskOutcome
from dagmake.report.timeline import _assign_slots, attempt_status, critical_path, layout

T = 1_700_000_000.0


def outcome(name, *attempts, status=OK):
    return TaskOutcome(name, status, attempts, f"/logs/{name}.log")


def test_a_slot_is_reused_once_its_task_ended():
    spans = {"a": [0.0, 1.0], "b": [0.0, 2.0], "c": [1.0, 3.0], "d": [2.5, 4.0]}
    assert _assign_slots(spans) == {"a": 0, "b": 1, "c": 0, "d": 1}


def test_clock_disagreement_of_a_few_ms_does_not_open_a_slot():
    assert _assign_slots({"a": [0.0, 1.002], "b": [1.0, 2.0]}) == {"a": 0, "b": 0}


def test_a_short_task_overlapping_another_by_most_of_itself_ran_beside_it():
    # 2.4 to 4.7 ms and from 3.3 ms: within the slack, but they really overlapped
    spans = {"a": [0.00244, 0.00470], "s": [0.00326, 0.5]}
    assert _assign_slots(spans) == {"a": 0, "s": 1}


def test_attempt_status_names_how_it_ended():
    assert attempt_status(Attempt(1, 0, T, 1.0)) == "ok"
    assert attempt_status(Attempt(1, 2, T, 1.0)) == "failed"
    assert attempt_status(Attempt(1, 0, T, 1.0, error="did not create output x")) == "failed"
    assert attempt_status(Attempt(1, -9, T, 1.0, timed_out=True)) == "timed-out"
    assert attempt_status(Attempt(1, -15, T, 1.0, interrupted=True)) == "interrupted"


def test_layout_makes_one_bar_per_attempt_and_keeps_a_task_in_one_slot():
    summary = BuildSummary(
        [
            outcome("a", Attempt(1, 0, T + 0.0, 2.0)),
            outcome("flaky", Attempt(1, 3, T + 0.0, 0.5), Attempt(2, 0, T + 1.5, 0.5)),
        ],
        (),
        (),
        (),
        2.1,
    )
    timeline = layout(T, summary)
    bars = [(b.task, b.attempt, b.status, b.slot) for b in timeline.bars]
    assert bars == [("a", 1, "ok", 0), ("flaky", 1, "failed", 1), ("flaky", 2, "ok", 1)]
    assert timeline.slots == 2
    assert timeline.spans["flaky"] == (0.0, 2.0, 1)
    assert timeline.seconds == 2.1
    assert timeline.critical == []  # no graph given


def test_critical_path_is_the_longest_chain_by_duration_not_the_longest_task():
    # a(3) -> c(1); b(1) -> d(1) -> e(1.5): a+c = 4, b+d+e = 3.5, but e ends last
    spans = {
        "a": (0, 3),
        "b": (0, 1),
        "c": (3, 4),
        "d": (1, 2),
        "e": (2, 3.5),
    }
    upstream = {"a": (), "b": (), "c": ("a",), "d": ("b",), "e": ("d",)}
    assert critical_path(spans, upstream) == ["a", "c"]


def test_critical_path_walks_through_groups_and_skipped_tasks():
    spans = {"extract": (0, 5), "small": (0, 1), "load": (5, 6)}
    upstream = {
        "extract": (),
        "small": (),
        "all_clean": ("clean",),  # a group
        "clean": ("extract",),  # skipped at run time: its input did not change
        "load": ("all_clean", "small"),
    }
    assert critical_path(spans, upstream) == ["extract", "load"]


def test_critical_path_does_not_walk_through_up_to_date_tasks():
    spans = {"late": (0, 1)}
    upstream = {"late": ("fresh",), "fresh": ("old",), "old": ()}
    assert critical_path(spans, upstream, stop=frozenset({"fresh"})) == ["late"]


def test_critical_path_of_a_long_chain_does_not_recurse():
    names = [f"t{i}" for i in range(5000)]
    upstream = {name: (names[i - 1],) if i else () for i, name in enumerate(names)}
    spans = {"t4999": (0, 1), "t0": (0, 1)}
    assert critical_path(spans, upstream) == ["t0", "t4999"]


def test_layout_marks_the_critical_path_with_a_graph():
    summary = BuildSummary(
        [
            outcome("a", Attempt(1, 0, T, 1.0)),
            outcome("b", Attempt(1, 1, T + 1.0, 0.5), status=FAILED),
        ],
        (),
        (),
        (),
        1.5,
    )
    timeline = layout(T, summary, {"a": (), "b": ("a",)})
    assert timeline.critical == ["a", "b"]
    assert timeline.critical_seconds == 1.5
