"""Decide which tasks are stale, and why: the spec's rules 1-7, pure (no disk, no clock)."""

from __future__ import annotations

from .errors import printable

# Reason kinds, in the order the rules are checked.
FORCED = "forced"
ALWAYS = "always"
OUTPUT_MISSING = "output-missing"
LAST_RUN_FAILED = "last-run-failed"
DEFINITION_CHANGED = "definition-changed"
UPSTREAM_RUNS = "upstream-runs"
INPUT_CHANGED = "input-changed"

_DEFINITION_PARTS = ("command", "environment", "working directory", "inputs list", "outputs list")


class Reason:
    """Why a task runs: a kind (one of the constants above) and a sentence for the user."""

    __slots__ = ("kind", "text")

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        # a path from the disk may hold an escape sequence or a newline: shown escaped
        self.text = printable(text)

    def __repr__(self) -> str:
        return f"Reason({self.kind!r}, {self.text!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Reason) and (self.kind, self.text) == (other.kind, other.text)

    def __hash__(self) -> int:
        return hash((self.kind, self.text))


class Step:
    """A task that will run, and the reason it runs."""

    __slots__ = ("task", "reason")

    def __init__(self, task, reason: Reason) -> None:
        self.task = task
        self.reason = reason

    @property
    def name(self) -> str:
        return self.task.name

    def __repr__(self) -> str:
        return f"Step({self.task.name!r}, {self.reason!r})"


class Plan:
    """Steps in a runnable (topological) order, and the selected tasks that are up to date."""

    __slots__ = ("steps", "up_to_date", "upstream")

    def __init__(self, steps, up_to_date, upstream) -> None:
        self.steps = tuple(steps)
        self.up_to_date = tuple(up_to_date)
        self.upstream = upstream  # step name -> names of the steps it must wait for

    @property
    def work(self) -> tuple[Step, ...]:
        """Steps with something to run (groups only order the others)."""
        return tuple(s for s in self.steps if not s.task.is_group)

    def __repr__(self) -> str:
        return f"Plan(steps={self.steps!r}, up_to_date={self.up_to_date!r})"


def judge(
    task,
    *,
    forced: str | None,
    upstream_running: str | None,
    record,
    inputs: dict,
    outputs: dict,
) -> Reason | None:
    """The first stale rule that applies to task, or None when it is up to date.

    Args:
        forced: why the task is forced ("--force", "-B"), or None.
        upstream_running: the name of an upstream task that runs in this build, or None.
        record: the task's state Record, or None when it has never run under dagmake.
        inputs: every input (globs expanded) -> stamp (files.stamp), or None if missing.
        outputs: every output -> stamp, or None if missing.
    """
    if forced:
        return Reason(FORCED, f"forced ({forced})")
    if task.is_group:
        if upstream_running:
            return Reason(UPSTREAM_RUNS, f"upstream task {upstream_running} will run")
        return None
    if task.always:
        return Reason(ALWAYS, "always = true")
    if not task.outputs:
        return Reason(ALWAYS, "it has no outputs, so it always runs")
    for path in task.outputs:
        if outputs.get(path) is None:
            return Reason(OUTPUT_MISSING, f"output {path} is missing")
    if record is not None:
        if record.status != "ok":
            return Reason(
                LAST_RUN_FAILED,
                f"its last run {(record.status == 'failed' and 'failed') or 'was interrupted'}",
            )
        if not task.has_definition(record.fingerprint):
            return Reason(
                DEFINITION_CHANGED, _definition_change(record.fingerprint, task.fingerprint)
            )
    if upstream_running:
        return Reason(UPSTREAM_RUNS, f"upstream task {upstream_running} will run")
    oldest_path = None
    oldest = None
    for path in task.outputs:
        mtime = outputs[path][0]
        if oldest is None or mtime < oldest:
            oldest, oldest_path = mtime, path
    for path, current in inputs.items():
        if current is None:
            return Reason(INPUT_CHANGED, f"input {path} is missing")
        if current[0] > oldest:
            return Reason(INPUT_CHANGED, f"input {path} is newer than output {oldest_path}")
    if record is not None:
        recorded = record.stamp_map()
        if recorded == inputs:
            return None
        for path, current in inputs.items():
            before = recorded.get(path)
            if before is None:
                return Reason(INPUT_CHANGED, f"input {path} is new since the last run")
            # (a directory recorded before its stamp had a checksum: compare what it had,
            # or upgrading would rerun every task that reads a directory)
            if before != current and before != current[: len(before)]:
                return Reason(INPUT_CHANGED, f"input {path} changed since the last run")
        for path in recorded:
            if path not in inputs:
                return Reason(INPUT_CHANGED, f"input {path} is gone since the last run")
    return None


def _definition_change(before: str, now: str) -> str:
    old_parts, new_parts = before.split(":"), now.split(":")
    if len(old_parts) == len(new_parts) == len(_DEFINITION_PARTS):
        changed = [
            name
            for name, a, b in zip(_DEFINITION_PARTS, old_parts, new_parts, strict=True)
            if a != b
        ]
        if changed:
            return f"its {' and '.join(changed)} changed since its last successful run"
    return "its definition changed since its last successful run"


def plan(graph, selected, *, inputs, outputs, records, forced=None) -> Plan:
    """Judge every selected task in topological order; a stale task makes its downstream stale.

    Args:
        graph: the Graph.
        selected: names of the tasks to consider.
        inputs, outputs: task name -> {path: stamp or None}, as in judge().
        records: task name -> Record.
        forced: task name -> why it is forced.
    """
    forced = forced or {}
    steps = []
    up_to_date = []
    running: set[str] = set()
    upstream_steps: dict[str, tuple[str, ...]] = {}
    for name in graph.order:
        if name not in selected:
            continue
        task = graph.tasks[name]
        waiting_for = tuple(u for u in graph.upstream[name] if u in running)
        reason = judge(
            task,
            forced=forced.get(name),
            upstream_running=waiting_for[0] if waiting_for else None,
            record=records.get(name),
            inputs=inputs.get(name, {}),
            outputs=outputs.get(name, {}),
        )
        if reason is None:
            up_to_date.append(name)
            continue
        steps.append(Step(task, reason))
        running.add(name)
        upstream_steps[name] = waiting_for
    return Plan(steps, up_to_date, upstream_steps)
