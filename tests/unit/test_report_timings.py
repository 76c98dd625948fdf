"""`--timings`: a self-contained HTML page with a Gantt chart and a table by duration."""

import re

from dagmake.events import (
    FAILED,
    OK,
    Attempt,
    BuildSummary,
    RunFinished,
    RunStarted,
    TaskOutcome,
)
from dagmake.plan import Reason
from dagmake.report.timeline import layout
from dagmake.report.timings import TimingsReporter, _tick_step, render

T = 1_700_000_000.0


def summary():
    reason = Reason("output-missing", "output <x>.csv is missing")
    return BuildSummary(
        [
            TaskOutcome("extract", OK, [Attempt(1, 0, T, 3.0)], "e.log", reason),
            TaskOutcome("side", OK, [Attempt(1, 0, T, 1.0)], "s.log", reason),
            TaskOutcome(
                "load<&>",
                FAILED,
                [Attempt(1, 1, T + 3, 0.5), Attempt(2, -9, T + 4, 0.5, timed_out=True)],
                "l.log",
                reason,
                0.5,
            ),
        ],
        ["fresh"],
        [],
        ["report"],
        4.6,
    )


UPSTREAM = {"extract": (), "side": (), "load<&>": ("extract", "side"), "report": ("load<&>",)}


def bars(page: str) -> list[tuple[str, str, str]]:
    return re.findall(r'<rect class="bar ([^"]*)" data-task="([^"]*)" data-attempt="(\d+)"', page)


def test_one_bar_per_attempt_coloured_by_status_with_the_critical_path():
    page = render(layout(T, summary(), UPSTREAM), summary(), title="etl", jobs=4)
    assert bars(page) == [
        ("ok critical", "extract", "1"),
        ("ok", "side", "1"),
        ("failed critical", "load&lt;&amp;&gt;", "1"),
        ("timed-out critical", "load&lt;&amp;&gt;", "2"),
    ]
    assert "critical path (4.50 s): <b>extract → load&lt;&amp;&gt;</b>" in page
    assert "not started after the failure: report" in page
    assert "3 slots used" not in page and "2 slots used (-j 4)" in page


def test_table_lists_tasks_by_duration():
    page = render(layout(T, summary(), UPSTREAM), summary())
    table = page[page.index("<table>") :]
    rows = re.findall(r"<tr class=\"(\w+)\"><td>([^<]*)</td><td>([^<]*)</td>", table)
    assert rows == [
        ("ok", "extract", "ok"),
        ("failed", "load&lt;&amp;&gt;", "failed: timed out after 0.5 s"),
        ("ok", "side", "ok"),
    ]
    assert "output &lt;x&gt;.csv is missing" in table


def test_the_page_is_self_contained():
    page = render(layout(T, summary(), UPSTREAM), summary())
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert "<link" not in page
    assert "http://" not in page and "https://" not in page
    assert "@import" not in page and "url(" not in page


def test_nothing_ran():
    empty = BuildSummary([], ["a", "b"], [], [], 0.01)
    page = render(layout(T, empty), empty)
    assert bars(page) == []
    assert "0 ran, 2 up to date, 0 failed" in page
    assert "no task ran" in page


def test_reporter_writes_the_page(tmp_path):
    path = tmp_path / ".dagmake" / "timings.html"
    reporter = TimingsReporter(str(path), upstream=UPSTREAM, title="etl")
    reporter.handle(RunStarted((), ("fresh",), 4, T))
    reporter.handle(RunFinished(summary()))
    assert reporter.written and reporter.error is None
    assert len(bars(path.read_text())) == 4


def test_ticks_are_round_numbers():
    assert _tick_step(4.6) == 0.5
    assert _tick_step(10.0) == 1.0
    assert _tick_step(75.0) == 10.0
    assert _tick_step(0.03) == 0.005
