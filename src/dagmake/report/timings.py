"""`--timings`: the run as one self-contained HTML page, a Gantt chart and a table by duration.

Everything is drawn here, as inline SVG and CSS: the page needs no script, no network
and no other file, so it can be mailed, attached to a CI run, or opened years later.
"""

from __future__ import annotations

import os
import time
from html import escape

from ..events import FAILED, OK, Reporter
from . import write_atomically
from .timeline import layout

COLORS = {
    "ok": "#43a047",
    "failed": "#e53935",
    "timed-out": "#fb8c00",
    "interrupted": "#9e9e9e",
}
_LABEL = 76  # px left of the time axis, for the slot names
_WIDTH = 1000  # px of the time axis
_ROW = 30
_BAR = 22
_AXIS = 26
_CHAR = 7.0  # px per character of the bar font, to decide whether a name fits in its bar

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px;
       color: #1d1d1f; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #555; margin: 2px 0; }
.critical-path { margin: 8px 0; }
.critical-path b { font-weight: 600; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
            vertical-align: -1px; border-radius: 2px; }
.legend i.crit { background: #fff; outline: 2.5px solid #111; outline-offset: -2px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font: 12px system-ui, sans-serif; }
svg .axis { fill: #666; }
svg .grid { stroke: #e4e4e4; }
svg .label { fill: #fff; pointer-events: none; }
svg .outside { fill: #333; pointer-events: none; }
svg .slot { fill: #333; }
svg .critical { stroke: #111; stroke-width: 2.5; }
table { border-collapse: collapse; margin-top: 4px; }
th, td { text-align: left; padding: 3px 12px 3px 0; vertical-align: top; }
th { border-bottom: 1px solid #ccc; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.share { width: 160px; }
td.share div { height: 10px; border-radius: 2px; }
tr.failed td:first-child, tr.interrupted td:first-child { color: #c62828; font-weight: 600; }
footer { color: #888; margin-top: 28px; font-size: 12px; }
"""


class TimingsReporter(Reporter):
    """Writes the timings page to path when the run finishes.

    Args:
        path: where to write the page (the CLI uses .dagmake/timings.html).
        upstream: task name -> its direct upstream names (Graph.upstream), for the
            critical path; without it no path is highlighted.
        title: the project's name or directory, shown in the heading.
    """

    def __init__(self, path: str, *, upstream=None, title: str = "") -> None:
        self.path = path
        self.upstream = upstream
        self.title = title
        self.started: float | None = None
        self.jobs: int | None = None
        self.up_to_date: tuple = ()
        self.what = "timings"
        self.error: str | None = None  # why the page could not be written
        self.written = False

    def on_RunStarted(self, event) -> None:
        self.started = event.started
        self.jobs = event.jobs
        self.up_to_date = tuple(event.up_to_date)

    def on_RunFinished(self, event) -> None:
        started = self.started if self.started is not None else time.time()
        timeline = layout(started, event.summary, self.upstream, self.up_to_date)
        page = render(timeline, event.summary, title=self.title, jobs=self.jobs)
        try:
            directory = os.path.dirname(self.path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            write_atomically(self.path, page)
        except OSError as error:
            self.error = f"cannot write {self.path}: {error.strerror}"
            return
        self.written = True


def render(timeline, summary, *, title: str = "", jobs: int | None = None) -> str:
    """The whole page as a string."""
    from .._version import __version__

    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timeline.started))
    ran, failed = len(summary.ran), len(summary.failed)
    up_to_date = len(summary.up_to_date) + len(summary.skipped)
    facts = [
        f"started {when}",
        f"wall time {_s(timeline.seconds)}",
        f"{ran} ran, {up_to_date} up to date, {failed} failed",
    ]
    if summary.interrupted:
        facts.append("interrupted")
    if timeline.bars:
        slots = f"{timeline.slots} slot{'s' if timeline.slots != 1 else ''} used"
        facts.append(slots + (f" (-j {jobs})" if jobs else ""))
        if timeline.seconds > 0:
            facts.append(f"parallelism {timeline.busy_seconds / timeline.seconds:.1f}×")
    heading = "dagmake timings" + (f": {escape(title)}" if title else "")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{heading}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{heading}</h1>",
        f'<p class="meta">{escape(" · ".join(facts))}</p>',
    ]
    if summary.not_run:
        not_run = escape(", ".join(summary.not_run))
        parts.append(f'<p class="meta">not started after the failure: {not_run}</p>')
    if timeline.critical:
        chain = " → ".join(escape(name) for name in timeline.critical)
        parts.append(
            f'<p class="critical-path">critical path ({_s(timeline.critical_seconds)}): '
            f"<b>{chain}</b></p>"
        )
    parts.append("<h2>Timeline</h2>")
    parts.append(_legend(timeline))
    parts.append(_gantt(timeline))
    parts.append("<h2>Tasks by duration</h2>")
    parts.append(_table(timeline, summary))
    parts.append(f"<footer>written by dagmake {escape(__version__)}</footer>")
    parts.append("</body>")
    parts.append("</html>")
    return "\n".join(parts) + "\n"


def _legend(timeline) -> str:
    present = {bar.status for bar in timeline.bars}
    items = [
        f'<span><i style="background:{color}"></i>{status}</span>'
        for status, color in COLORS.items()
        if status in present or status == "ok"
    ]
    if timeline.critical:
        items.append('<span><i class="crit"></i>critical path</span>')
    return f'<p class="legend">{"".join(items)}</p>'


def _gantt(timeline) -> str:
    rows = max(1, timeline.slots)
    height = _AXIS + rows * _ROW + 6
    width = _LABEL + _WIDTH + 16
    total = timeline.seconds if timeline.seconds > 0 else 1.0
    scale = _WIDTH / total
    out = [
        f'<svg class="gantt" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Gantt chart of the run">'
    ]
    step = _tick_step(total)
    tick = 0.0
    while tick <= total + 1e-9:
        x = _LABEL + tick * scale
        out.append(
            f'<line class="grid" x1="{x:.1f}" y1="{_AXIS - 6}" x2="{x:.1f}" y2="{height}"/>'
            f'<text class="axis" x="{x:.1f}" y="{_AXIS - 10}" text-anchor="middle">'
            f"{_tick_label(tick, step)}</text>"
        )
        tick += step
    for slot in range(timeline.slots):
        y = _AXIS + slot * _ROW + _ROW / 2 + 4
        out.append(f'<text class="slot" x="4" y="{y:.1f}">slot {slot + 1}</text>')
    if not timeline.bars:
        out.append(
            f'<text class="axis" x="{_LABEL + 8}" y="{_AXIS + _ROW / 2 + 4}">no task ran</text>'
        )
    critical = set(timeline.critical)
    # where the next bar in the same slot starts: a name may go after its bar up to there
    room: dict[int, float] = {}
    next_start: dict[int, float] = {}
    for index, bar in sorted(enumerate(timeline.bars), key=lambda item: -item[1].start):
        room[index] = next_start.get(bar.slot, total + 16 / scale)
        next_start[bar.slot] = bar.start
    for index, bar in enumerate(timeline.bars):
        x = _LABEL + bar.start * scale
        w = max(2.0, bar.seconds * scale)
        y = _AXIS + bar.slot * _ROW + (_ROW - _BAR) / 2
        classes = f"bar {bar.status}" + (" critical" if bar.task in critical else "")
        label = bar.task if bar.attempts == 1 else f"{bar.task} #{bar.attempt}"
        tip = (
            f"{label}: {_s(bar.seconds)}, {bar.detail}, "
            f"from +{_s(bar.start)} to +{_s(bar.end)}, slot {bar.slot + 1}"
        )
        out.append(
            f'<rect class="{classes}" data-task="{escape(bar.task)}" data-attempt="{bar.attempt}" '
            f'data-status="{bar.status}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{_BAR}" '
            f'rx="3" fill="{COLORS[bar.status]}"><title>{escape(tip)}</title></rect>'
        )
        needed = len(label) * _CHAR + 8
        at = None
        if w >= needed:
            at = ("label", x + 5)
        elif (room[index] - bar.end) * scale >= needed:
            at = ("outside", x + w + 4)
        if at is not None:
            out.append(
                f'<text class="{at[0]}" x="{at[1]:.1f}" y="{y + _BAR / 2 + 4:.1f}">'
                f"{escape(label)}</text>"
            )
    out.append("</svg>")
    return "\n".join(out)


def _table(timeline, summary) -> str:
    outcomes = sorted(summary.outcomes, key=lambda o: (-o.seconds, o.name))
    if not outcomes:
        return '<p class="meta">No task ran.</p>'
    longest = max(o.seconds for o in outcomes) or 1.0
    critical = set(timeline.critical)
    rows = [
        "<table>",
        "<thead><tr><th>task</th><th>status</th><th>seconds</th><th></th><th>attempts</th>"
        "<th>slot</th><th>start</th><th>critical</th><th>why it ran</th></tr></thead>",
        "<tbody>",
    ]
    for outcome in outcomes:
        span = timeline.spans.get(outcome.name)
        status = outcome.status if outcome.status != FAILED else f"failed: {outcome.describe()}"
        color = COLORS[OK] if outcome.status == OK else COLORS.get(outcome.status, COLORS[FAILED])
        share = 100.0 * outcome.seconds / longest
        rows.append(
            f'<tr class="{outcome.status}">'
            f"<td>{escape(outcome.name)}</td>"
            f"<td>{escape(status)}</td>"
            f'<td class="num">{outcome.seconds:.2f}</td>'
            f'<td class="share"><div style="width:{share:.1f}%;background:{color}"></div></td>'
            f'<td class="num">{len(outcome.attempts)}</td>'
            f'<td class="num">{span[2] + 1 if span else ""}</td>'
            f'<td class="num">{f"+{span[0]:.2f}" if span else ""}</td>'
            f"<td>{'★' if outcome.name in critical else ''}</td>"
            f"<td>{escape(outcome.reason.text) if outcome.reason else ''}</td>"
            "</tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _tick_step(total: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving at most ten ticks."""
    magnitude = 10.0 ** _floor_log10(total / 10)
    for factor in (1, 2, 5, 10):
        if total / (factor * magnitude) <= 10:
            return factor * magnitude
    return 10 * magnitude


def _floor_log10(value: float) -> int:
    import math

    return math.floor(math.log10(value)) if value > 0 else 0


def _tick_label(tick: float, step: float) -> str:
    if step >= 1:
        return f"{tick:.0f}s"
    decimals = max(0, -_floor_log10(step))
    return f"{tick:.{decimals}f}s"


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"
