"""A finished run laid out in time: each attempt's interval, its slot, and the critical path."""

from __future__ import annotations

from graphlib import TopologicalSorter

# A task's wall-clock start and the previous task's start + monotonic duration can disagree by
# a few milliseconds; such an overlap is one slot being reused, not two tasks side by side.
_SLACK = 0.005


def attempt_status(attempt) -> str:
    """One word for how an attempt ended: ok, failed, timed-out or interrupted."""
    if attempt.interrupted:
        return "interrupted"
    if attempt.timed_out:
        return "timed-out"
    return "ok" if attempt.ok else "failed"


class Bar:
    """One attempt of one task: seconds since the run started, how it ended, its slot."""

    __slots__ = ("attempt", "attempts", "detail", "end", "slot", "start", "status", "task")

    def __init__(self, task, attempt, attempts, start, end, status, detail, slot=0) -> None:
        self.task = task
        self.attempt = attempt
        self.attempts = attempts  # how many attempts the task made in this run
        self.start = start
        self.end = end
        self.status = status
        self.detail = detail  # "ok", "exit 1", "timed out after 5 s", ...
        self.slot = slot

    @property
    def seconds(self) -> float:
        return self.end - self.start


class Timeline:
    """Every attempt of a run as Bars, the number of slots used, and the critical path."""

    def __init__(self, started, seconds, bars, slots, spans, critical) -> None:
        self.started = started  # wall-clock seconds since the epoch
        self.seconds = seconds
        self.bars = bars
        self.slots = slots
        self.spans = spans  # task -> (start, end, slot), first attempt's start to last one's end
        self.critical = critical  # task names, first to last

    @property
    def critical_seconds(self) -> float:
        return sum(self.spans[name][1] - self.spans[name][0] for name in self.critical)

    @property
    def busy_seconds(self) -> float:
        return sum(bar.seconds for bar in self.bars)


def layout(started: float, summary, upstream=None, up_to_date=()) -> Timeline:
    """Lay out summary's outcomes against the run's start time.

    Args:
        started: RunStarted.started, wall-clock seconds since the epoch.
        summary: the BuildSummary of the run.
        upstream: task name -> names of its direct upstream tasks (Graph.upstream); without
            it the critical path is left empty.
        up_to_date: names that did not run, so no path goes through them.
    """
    bars = []
    spans: dict[str, list[float]] = {}
    for outcome in summary.outcomes:
        count = len(outcome.attempts)
        for attempt in outcome.attempts:
            start = max(0.0, attempt.started - started)
            end = start + max(0.0, attempt.seconds)
            bars.append(
                Bar(
                    outcome.name,
                    attempt.number,
                    count,
                    start,
                    end,
                    attempt_status(attempt),
                    "ok" if attempt.ok else attempt.describe(outcome.timeout),
                )
            )
            span = spans.setdefault(outcome.name, [start, end])
            span[0] = min(span[0], start)
            span[1] = max(span[1], end)
    slots = _assign_slots(spans)
    for bar in bars:
        bar.slot = slots[bar.task]
    seconds = max([summary.seconds, *(bar.end for bar in bars)])
    spans_out = {name: (s, e, slots[name]) for name, (s, e) in spans.items()}
    critical = critical_path(spans_out, upstream, stop=frozenset(up_to_date)) if upstream else []
    used = max(slots.values(), default=-1) + 1
    return Timeline(started, seconds, bars, used, spans_out, critical)


def _assign_slots(spans: dict[str, list[float]]) -> dict[str, int]:
    """Give each task the lowest slot free at its start: the fewest lanes that show the run.

    A slot whose task ends up to _SLACK after the start counts as free (clock jitter),
    unless that overlap is most of that task: then the two really ran side by side.
    """
    lanes: list[tuple[float, float]] = []  # per slot: (start, end) of its last task
    slots: dict[str, int] = {}
    for name, (start, end) in sorted(spans.items(), key=lambda item: (item[1][0], item[0])):
        slot = next(
            (
                i
                for i, (taken, free) in enumerate(lanes)
                if free <= start or (free - start <= _SLACK and free - start < (free - taken) / 2)
            ),
            None,
        )
        if slot is None:
            slot = len(lanes)
            lanes.append((0.0, 0.0))
        lanes[slot] = (start, end)
        slots[name] = slot
    return slots


def critical_path(spans, upstream, *, stop=frozenset()) -> list[str]:
    """The chain of tasks that ran, linked by dependencies, with the largest total duration.

    Args:
        spans: task -> (start, end, ...) for every task that ran.
        upstream: task name -> names of its direct upstream tasks.
        stop: names to not walk through (up to date: they held nothing up).
    """
    if not spans:
        return []
    ran = spans.keys()
    waits_for = _ran_upstream(ran, upstream, stop)
    length: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for name in TopologicalSorter(waits_for).static_order():
        best = max(sorted(waits_for[name]), key=length.__getitem__, default=None)
        own = spans[name][1] - spans[name][0]
        length[name] = own + (length[best] if best is not None else 0.0)
        via[name] = best
    name: str | None = max(sorted(ran), key=length.__getitem__)
    path = []
    while name is not None:
        path.append(name)
        name = via[name]
    return path[::-1]


def _ran_upstream(ran, upstream, stop) -> dict[str, frozenset]:
    """For each task that ran, the nearest tasks upstream of it that also ran.

    Walks through groups and skipped steps (they waited, and made their downstream wait).
    Iterative, so a chain of thousands of tasks does not hit the recursion limit.
    """
    nearest: dict[str, frozenset] = {}
    for start in ran:
        stack = [start]
        while stack:
            node = stack[-1]
            if node in nearest:
                stack.pop()
                continue
            above = [u for u in upstream.get(node, ()) if u not in stop]
            pending = [u for u in above if u not in ran and u not in nearest]
            if pending:
                stack.extend(pending)
                continue
            found: set[str] = set()
            for u in above:
                if u in ran:
                    found.add(u)
                else:
                    found |= nearest[u]
            nearest[node] = frozenset(found)
            stack.pop()
    return {name: nearest[name] for name in ran}
