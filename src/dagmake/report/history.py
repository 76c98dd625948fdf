"""`--history [TASK]`: recent runs, or one task's recent attempts, from .dagmake/history."""

from __future__ import annotations

import time

from ..events import Attempt


class Run:
    """One run as the history remembers it; totals are None when it never finished."""

    __slots__ = (
        "attempts",
        "exit_code",
        "failed",
        "ran",
        "run_id",
        "seconds",
        "started",
        "up_to_date",
    )

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        try:
            self.started = float(run_id)  # the id is the start time; the run entry repeats it
        except ValueError:
            self.started = 0.0
        self.seconds = self.ran = self.up_to_date = self.failed = self.exit_code = None
        self.attempts: list[TaskAttempt] = []

    @property
    def finished(self) -> bool:
        return self.exit_code is not None

    def notes(self) -> str:
        """What went wrong or needed retries: 'failed: a (exit 1); retried: b'."""
        last: dict[str, TaskAttempt] = {}
        for attempt in self.attempts:
            last[attempt.task] = attempt
        failed = [f"{a.task} ({a.result})" for a in last.values() if a.status == "failed"]
        stopped = [a.task for a in last.values() if a.status == "interrupted"]
        retried = [a.task for a in last.values() if a.status == "ok" and a.number > 1]
        notes = []
        if failed:
            notes.append("failed: " + ", ".join(failed))
        if stopped:
            notes.append("interrupted: " + ", ".join(stopped))
        if retried:
            notes.append("retried: " + ", ".join(retried))
        if not self.finished:
            notes.append("did not finish (dagmake was killed?)")
        return "; ".join(notes)


class TaskAttempt:
    """One recorded attempt of one task."""

    __slots__ = (
        "error",
        "exit_code",
        "interrupted",
        "number",
        "run_id",
        "seconds",
        "started",
        "status",
        "task",
        "timed_out",
    )

    def __init__(
        self,
        run_id,
        task,
        number,
        started,
        seconds,
        exit_code,
        timed_out,
        interrupted,
        error,
        status,
    ) -> None:
        self.run_id = run_id
        self.task = task
        self.number = number
        self.started = started
        self.seconds = seconds
        self.exit_code = exit_code
        self.timed_out = timed_out
        self.interrupted = interrupted
        self.error = error
        self.status = status  # how the task ended in that run (the same for all its attempts)

    @property
    def own_status(self) -> str:
        """How this attempt ended: ok, failed or interrupted (the task may have retried)."""
        if self.interrupted:
            return "interrupted"
        return "ok" if self.result == "ok" else "failed"

    @property
    def result(self) -> str:
        """How this attempt ended, in a few words: 'ok', 'exit 1', 'timed out', ..."""
        attempt = Attempt(
            self.number,
            self.exit_code,
            self.started,
            self.seconds,
            timed_out=self.timed_out,
            interrupted=self.interrupted,
            error=self.error,
        )
        return "ok" if attempt.ok else attempt.describe()


def runs(entries) -> list[Run]:
    """Runs in the order they started, each with its attempts; skips entries it cannot read."""
    found: dict[str, Run] = {}
    for entry in entries:
        try:
            kind, run_id = entry[0], entry[1]
            if kind == "attempt" and len(entry) == 11:
                found.setdefault(run_id, Run(run_id)).attempts.append(TaskAttempt(*entry[1:]))
            elif kind == "run" and len(entry) == 8:
                run = found.setdefault(run_id, Run(run_id))
                (run.started, run.seconds, run.ran, run.up_to_date, run.failed, run.exit_code) = (
                    entry[2:]
                )
        except (IndexError, TypeError):
            continue  # an entry from another format: history is a convenience, never an error
    return sorted(found.values(), key=lambda run: run.started)


def show(
    state_dir: str,
    task: str | None = None,
    *,
    limit: int = 10,
    as_json=False,
    defined=lambda: {},
) -> str:
    """What `dagmake --history [TASK]` prints: a table, or JSON lines with as_json.

    defined() gives the Pipefile's tasks (name -> whether it is a group), asked only for a
    task with no recorded attempt: one of them has simply not run yet, like a project with
    no runs, or is a group, which never runs a command itself.
    Raises TargetError for a task that is neither recorded nor defined (with close matches).
    """
    from ..state import History

    all_runs = runs(History(state_dir).read())
    if task is not None:
        names = {attempt.task for run in all_runs for attempt in run.attempts}
        if task not in names:
            tasks = defined()
            if task in tasks:
                if as_json:
                    return ""
                if tasks[task]:
                    return (
                        f"dagmake: '{task}' is a group: it runs no command itself, so it has "
                        "no attempts (dagmake --history TASK for one of the tasks it gathers)\n"
                    )
                return f"dagmake: no recorded attempts of task '{task}' yet\n"
            from ..errors import TargetError, did_you_mean

            raise TargetError(
                f"unknown task '{task}'{did_you_mean(task, names | set(tasks))}",
                hint="dagmake -l lists the tasks; dagmake --history lists recent runs",
            )
    if not as_json:
        return render_runs(all_runs, limit) if task is None else render_task(all_runs, task, limit)
    import json

    if task is None:
        lines = [run_data(run) for run in all_runs[-limit:]]
    else:
        lines = [attempt_data(a) for run in task_runs(all_runs, task)[-limit:] for a in run]
    return "".join(json.dumps(line) + "\n" for line in lines)


def render_runs(all_runs: list[Run], limit: int) -> str:
    """The last `limit` runs, oldest first (the newest sits next to the prompt)."""
    shown = all_runs[-limit:]
    if not shown:
        return "dagmake: no runs recorded yet\n"
    rows = [("started", "wall", "ran", "up to date", "failed", "exit", "")]
    for run in shown:
        rows.append(
            (
                _when(run.started),
                _seconds(run.seconds),
                _count(run.ran if run.finished else _count_ran(run)),
                _count(run.up_to_date),
                _count(run.failed),
                _count(run.exit_code),
                run.notes(),
            )
        )
    return _table(rows, right=(1, 2, 3, 4, 5))


def task_runs(all_runs: list[Run], task: str) -> list[list[TaskAttempt]]:
    """The task's attempts, one list per run it ran in, oldest run first."""
    found = ([a for a in run.attempts if a.task == task] for run in all_runs)
    return [attempts for attempts in found if attempts]


def render_task(all_runs: list[Run], task: str, limit: int) -> str:
    """The task's attempts in its last `limit` runs, oldest first, under a one-line summary."""
    history = task_runs(all_runs, task)
    shown = history[-limit:]
    ended = [attempts[-1] for attempts in history]
    ok = [a for a in ended if a.status == "ok"]
    counts = [f"{len(ok)} ok"]
    for status in ("failed", "interrupted"):
        number = sum(1 for a in ended if a.status == status)
        if number:
            counts.append(f"{number} {status}")
    runs_word = "run" if len(history) == 1 else "runs"
    summary = f"{task}: {len(history)} {runs_word} in the history, {', '.join(counts)}"
    durations = sorted(
        sum(a.seconds for a in attempts) for attempts in history if attempts[-1].status == "ok"
    )
    if durations:
        summary += f"; median {_seconds(durations[len(durations) // 2])} when ok"
    rows = [("started", "attempt", "seconds", "result")]
    for attempts in shown:
        for attempt in attempts:
            rows.append(
                (
                    _when(attempt.started),
                    f"{attempt.number}/{len(attempts)}",
                    _seconds(attempt.seconds),
                    attempt.result,
                )
            )
    return summary + "\n" + _table(rows, right=(2,))


def run_data(run: Run) -> dict:
    """A run as the JSON object `--history --json` prints."""
    return {
        "run": run.run_id,
        "started": run.started,
        "seconds": run.seconds,
        "ran": run.ran if run.finished else _count_ran(run),  # as the table counts it
        "up_to_date": run.up_to_date,
        "failed": run.failed,
        "exit_code": run.exit_code,
        "finished": run.finished,
        "failed_tasks": sorted({a.task for a in run.attempts if a.status == "failed"}),
    }


def attempt_data(attempt: TaskAttempt) -> dict:
    """An attempt as the JSON object `--history TASK --json` prints."""
    return {
        "run": attempt.run_id,
        "task": attempt.task,
        "attempt": attempt.number,
        "started": attempt.started,
        "seconds": attempt.seconds,
        "exit_code": attempt.exit_code,
        "timed_out": attempt.timed_out,
        "interrupted": attempt.interrupted,
        "error": attempt.error,
        "result": attempt.result,
        "status": attempt.own_status,
        "task_status": attempt.status,
    }


def _count_ran(run: Run) -> int:
    return len({a.task for a in run.attempts if a.status == "ok"})


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _seconds(value) -> str:
    return "?" if value is None else f"{value:.2f}s"


def _count(value) -> str:
    return "?" if value is None else str(value)


def _table(rows, *, right=()) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
