"""The one use case: select, snapshot, plan, run, record. The CLI and watch mode both call it."""

from __future__ import annotations

import os
import time

from . import files
from .errors import GraphError
from .events import BuildSummary, Reporter, RunFinished, RunStarted, TaskFinished
from .files import shown as _shown
from .plan import INPUT_CHANGED, UPSTREAM_RUNS, Reason, judge, plan
from .sig import sigterm_as_interrupt
from .state import INTERRUPTED, Record, StateStore, StateWriteError


def selection(project, targets=(), *, force=(), force_all=False) -> tuple[set[str], dict[str, str]]:
    """The task names a build considers, and which of them are forced (name -> why).

    No targets means settings.default, else every task. Forced tasks join the selection.
    Forcing a group forces the tasks it gathers (through nested groups), not their upstream.
    """
    graph = project.graph
    if targets:
        selected = graph.select(targets, root=project.root)
    elif project.settings.default:
        selected = graph.select(project.settings.default)
    else:
        selected = set(graph.order)
    forced: dict[str, str] = {}
    for pattern in force:
        for name in graph.match(pattern, root=project.root, what="task to force"):
            forced[name] = "--force"
            if graph.tasks[name].is_group:
                for member in graph.gathered(name):
                    forced.setdefault(member, f"--force {name}")
    if forced:
        selected |= graph.upstream_closure(forced)
    if force_all:
        forced.update(dict.fromkeys(selected, "-B"))
    return selected, forced


def snapshot(project, names, seen: dict | None = None, *, strict: bool = True) -> tuple[dict, dict]:
    """Stamps of the named tasks' inputs and outputs: (inputs, outputs), name -> {path: stamp}.

    Every path looked at is also left in `seen` (path -> stamp), when given.
    Raises GraphError for an input that exists nowhere and that no task produces
    (unless not strict: then it is simply missing, as --list and --graph show it).
    """
    root = project.root
    tasks = project.graph.tasks
    seen = {} if seen is None else seen
    inputs: dict[str, dict] = {}
    outputs: dict[str, dict] = {}
    root_fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        for name in project.graph.order:
            if name in names:
                _snapshot_task(project, tasks[name], seen, root_fd, inputs, outputs, strict)
    finally:
        os.close(root_fd)
    return inputs, outputs


def _snapshot_one(project, task, known: dict) -> tuple[dict, dict]:
    """snapshot() of one task: (inputs, outputs) as name -> {path: stamp}, taken from known
    (path -> stamp) where it has the path, else fresh from the disk."""
    inputs: dict[str, dict] = {}
    outputs: dict[str, dict] = {}
    _snapshot_task(project, task, known, None, inputs, outputs, ready=True)
    return inputs, outputs


def _snapshot_task(project, task, seen, root_fd, inputs, outputs, strict=True, ready=False) -> None:
    root = project.root
    name = task.name
    stamps = {}
    for path in task.inputs:
        if files.is_glob(path):
            for match in _glob_inputs(project, task, path, strict, ready):
                stamps[match] = _stamp(seen, root, match, root_fd)
            continue
        value = _stamp(seen, root, path, root_fd)
        if value is None and strict and not project.graph.is_produced(path):
            raise _input_error(
                project,
                task,
                f"input '{path}' does not exist and no task produces it"
                + _close_paths(project, task, path),
                "dagmake does not expand ~ or $VARIABLES in paths: write the path itself"
                if path == "~" or path.startswith("~/") or "$" in path
                else "create the file, fix the path, or add a task that outputs it",
            )
        stamps[path] = value
    inputs[name] = stamps
    outputs[name] = {path: _stamp(seen, root, path, root_fd) for path in task.outputs}


def _stamp(seen: dict, root: str, path: str, root_fd: int):
    # many paths are one task's output and another's input: stat each once
    value = seen.get(path, seen)
    if value is seen:
        value = seen[path] = files.stamp(root, path, root_fd)
    return value


def _glob_inputs(project, task, pattern: str, strict: bool = True, ready=False) -> list[str]:
    """The paths glob pattern of task matches: files, and declared outputs.

    Matching nothing is an error, except before the task is ready when a task it runs
    `after` declares an output where the glob looks: that task may put files there."""
    matches = set(files.expand_glob(project.root, pattern))
    matches.update(project.graph.outputs_matching(pattern))
    own = ()
    if task.outputs:
        # what the task itself wrote into an output directory is not one of its inputs
        inside = tuple(output + "/" for output in task.outputs)
        own = sorted(match for match in matches if match.startswith(inside))
        matches.difference_update(own)
    if not matches and own and strict:
        raise _input_error(
            project,
            task,
            f"input glob '{pattern}' matches only what the task itself writes "
            f"({own[0]}{', ...' if len(own) > 1 else ''})",
            "a task cannot read what it writes: narrow the glob to the files it reads",
        )
    if not matches and strict:
        if ready:  # the tasks before it have run: whatever was to feed it has not
            raise _input_error(
                project,
                task,
                f"input glob '{pattern}' matches no file, also now that the tasks it "
                "depends on have run",
                "check the pattern, and that those tasks write what it looks for",
            )
        if not project.graph.glob_reaches_outputs(pattern) and not _after_may_write(
            project.graph, task, pattern
        ):
            directories = _directories_matching(project.root, pattern)
            hint = "check the pattern (** matches any number of directories)"
            if directories:
                shown = ", ".join(directories[:2]) + (", ..." if len(directories) > 2 else "")
                hint = (
                    f"it matches directories ({shown}), and a glob matches files: write "
                    f"'{pattern.rstrip('/')}/**' for the files in them, or list the directories"
                )
            raise _input_error(
                project,
                task,
                f"input glob '{pattern}' matches no file and no task's output",
                hint,
            )
    return sorted(matches)


def _directories_matching(root: str, pattern: str, most: int = 3) -> list[str]:
    """Up to `most` directories the glob would match if globs matched directories (for
    the error that says so)."""
    regex = files.compile_glob(pattern.rstrip("/"))
    prefix = files.glob_prefix(pattern)
    found: list[str] = []
    for directory, subdirectories, _ in os.walk(os.path.join(root, prefix) if prefix else root):
        relative = os.path.relpath(directory, root)
        for name in sorted(subdirectories):
            path = name if relative == "." else f"{relative}/{name}"
            if regex.match(path):
                found.append(path)
                if len(found) == most:
                    return found
    return found


def _after_may_write(graph, task, pattern: str) -> bool:
    """Whether a task that task runs `after` (or one a group there gathers) declares an
    output the glob could find files under: `**/*.csv` after a task writing `parts`."""
    for name in task.after:
        for writer in graph.gathered(name) if graph.tasks[name].is_group else (name,):
            for output in graph.tasks[writer].outputs:
                if files.glob_may_match_under(output, pattern):
                    return True
    return False


def _close_paths(project, task, path: str) -> str:
    """ ", did you mean 'x'?" for a file beside a missing input, or another task's output,
    spelt alike."""
    from .errors import did_you_mean

    directory = os.path.dirname(path)
    try:
        beside = [
            os.path.join(directory, name)
            for name in os.listdir(os.path.join(project.root, directory or "."))
        ]
    except OSError:
        beside = []
    own = set(task.outputs)
    return did_you_mean(path, [p for p in (*beside, *project.graph.producers) if p not in own])


def _input_error(project, task, message: str, hint: str) -> GraphError:
    from .pipefile import _locator

    line = _locator(project.source)(task.name, "inputs")
    return GraphError(
        message, file=_shown(project.pipefile), line=line, task=task.name, key="inputs", hint=hint
    )


def _uses_globs(project, the_plan) -> bool:
    tasks = project.graph.tasks
    return any(files.is_glob(path) for name in the_plan.up_to_date for path in tasks[name].inputs)


def make_plan(
    project, targets=(), *, force=(), force_all=False, records=None, seen=None, strict=True
):
    """Plan a build without running or writing anything (what `dagmake -n` shows).

    strict=False plans even when an input exists nowhere (judged missing), for --list/--graph.
    """
    selected, forced = selection(project, targets, force=force, force_all=force_all)
    inputs, outputs = snapshot(project, selected, seen, strict=strict)
    if records is None:
        records = StateStore(project.state_dir).load()
    return plan(
        project.graph, selected, inputs=inputs, outputs=outputs, records=records, forced=forced
    )


def build(
    project,
    targets=(),
    *,
    force=(),
    force_all: bool = False,
    jobs: int | None = None,
    keep_going: bool = False,
    retries: int | None = None,
    reporter: Reporter | None = None,
    stream: bool = False,
    wait: bool = False,
    runner=None,
    warn=None,
    lock: bool = True,
    hooks: bool = True,
    latency_wait: float = 0.0,
    stamps: dict | None = None,
    notice=None,
) -> BuildSummary:
    """Build targets (default: settings.default, else every task); return the summary.

    Args:
        force: task names or globs to rerun (their downstream follows).
        force_all: rerun every selected task.
        jobs: most tasks at once (default: settings.jobs, else the CPUs dagmake may use).
        keep_going: after a failure, still run what does not depend on it.
        retries: override every task's retries.
        reporter: receives the event stream.
        stream: stream output lines as TaskOutput events instead of blocks.
        wait: wait for another dagmake on the project instead of failing.
        runner: what runs an attempt (default: ProcessRunner).
        warn: called with a warning sentence (unreadable state, clock skew).
        notice: called with news that is no warning (waiting for the lock); default: warn.
        hooks: run settings.on_success / on_failure after the build (and after the lock
            is released, so a hook may run dagmake itself).
        latency_wait: seconds to keep looking for an output missing after a success
            (a shared filesystem may show a remote worker's file late).
        stamps: path -> stamp, taken just before (by the failed no-op check); the plan
            uses them instead of stat-ing those paths again.

    Raises ExecutorError, after RunFinished, when the runner's engine was lost mid-build.
    """
    reporter = reporter or Reporter()
    warn = warn or (lambda message: None)
    project_lock = None
    if lock:
        from .lock import ProjectLock

        project_lock = ProjectLock(project.state_dir)

        def on_wait(pid) -> None:
            nonlocal stamps
            stamps = None  # the other run changes files meanwhile
            (notice or warn)(f"waiting for dagmake (pid {pid}) to finish")

        project_lock.acquire(wait=wait, on_wait=on_wait)
    # from here: the time spent waiting for another dagmake is not this run's
    started = time.monotonic()
    started_wall = time.time()
    try:
        store = StateStore(project.state_dir)
        records = store.load()
        if store.warning:
            warn(store.warning)
        if store.needs_rewrite:
            store.rewrite(records)  # warn once, not on every run after
        seen: dict = dict(stamps) if stamps else {}
        the_plan = make_plan(
            project, targets, force=force, force_all=force_all, records=records, seen=seen
        )
        up_to_date = tuple(n for n in the_plan.up_to_date if not project.graph.tasks[n].is_group)
        work = the_plan.work
        for message in _clock_skew(work, seen):
            warn(message)
        if work and hasattr(runner, "open"):
            runner.open()  # connect to a cluster only when there is work for it
        jobs = (
            jobs or project.settings.jobs or getattr(runner, "default_jobs", None) or usable_cpus()
        )
        if runner is None and jobs > 1 and len(work) > 1:
            jobs = _within_open_file_limit(jobs, warn)
            from .runner import settle_before_spawning

            settle_before_spawning(len(work), jobs, cpus=usable_cpus())
        reporter.handle(RunStarted(work, up_to_date, jobs, started_wall))
        if not work:
            # (not with an on_success hook: the fast no-op path would skip it)
            if (
                lock
                and not force
                and not force_all
                and not project.settings.on_success
                and not _uses_globs(project, the_plan)
            ):
                from . import noop

                noop.save(project, targets, seen, len(up_to_date))
            summary = BuildSummary((), up_to_date, (), (), time.monotonic() - started)
            reporter.handle(RunFinished(summary))
        else:
            recorder = _Recorder(
                project, store, records, reporter, started_wall, latency_wait, planned=seen
            )
            try:
                outcomes, skipped, not_run, interrupted, aborted = _execute(
                    project, the_plan, recorder, jobs, keep_going, retries, stream, runner, warn
                )
                summary = BuildSummary(
                    outcomes, up_to_date, skipped, not_run, time.monotonic() - started, interrupted
                )
                recorder.finish(summary)
            finally:
                recorder.close()
            reporter.handle(RunFinished(summary))
            if aborted is not None:
                raise aborted
    finally:
        if project_lock is not None:
            project_lock.release()
    if hooks and (project.settings.on_success or project.settings.on_failure):
        from .hooks import run_hook

        run_hook(project, summary, warn=warn)
    return summary


def _within_open_file_limit(jobs: int, warn) -> int:
    """jobs, or fewer when that many commands at once would run out of file descriptors."""
    from .runner import most_commands_at_once

    room = most_commands_at_once()
    if room is None or jobs <= room:
        return jobs
    warn(
        f"running at most {room} task{'' if room == 1 else 's'} at once, not {jobs}: "
        "each running task needs open files, and the open-file limit (ulimit -n) allows "
        "no more; raise it to run more"
    )
    return room


def _clock_skew(work, seen: dict) -> list[str]:
    """Warnings for inputs of stale tasks dated in the future (like make's "clock skew"):
    every build reruns such a task until that time has passed."""
    now_ns = time.time_ns()
    found = {}
    for step in work:
        for path in step.task.inputs:
            stamp = seen.get(path)
            if stamp is not None and stamp[0] > now_ns + 1_000_000_000:
                found[path] = (stamp[0] - now_ns) / 1e9
    return [
        f"input {path} is dated {ahead:.0f} s in the future (clock skew?): tasks reading it "
        "run on every build until then"
        for path, ahead in sorted(found.items())[:3]
    ]


# tasks to run from which the logs directory is listed once rather than each log stat'ed
LIST_LOGS_FROM = 16
_UNSEEN = object()  # a path the plan took no stamp of


def _execute(project, the_plan, recorder, jobs, keep_going, retries, stream, runner, warn):
    from .executor import Executor

    if runner is None:
        from .runner import ProcessRunner

        # one listing of the logs beats a stat per log, unless only a few tasks run
        runner = ProcessRunner(project.root, list_logs=len(the_plan.steps) >= LIST_LOGS_FROM)
    cost = None
    if not getattr(runner, "honours_resources", False):
        cost, ignored = _local_resources(the_plan)
        if ignored:
            names = ", ".join(f"'{name}'" for name in ignored)
            warn(f"the local executor ignores resources {names} (only 'cpu' takes -j slots)")
    logs = os.path.join(project.state_dir, "logs")
    try:
        os.makedirs(logs, exist_ok=True)
    except OSError as error:
        raise StateWriteError(
            f"cannot create {_shown(logs)}: {error.strerror or error}",
            hint="dagmake keeps each task's log there: move away what is in its place, "
            "or check the permissions of .dagmake/",
        )
    executor = Executor(
        runner,
        jobs=jobs,
        keep_going=keep_going,
        prepare=recorder.prepare,
        check=recorder.check,
        emit=recorder.handle,
        flush=recorder.flush,
        log_path={step.name: os.path.join(logs, f"{step.name}.log") for step in the_plan.steps}.get,
        priority=critical_path_priority(the_plan, recorder.records),
        retries=retries,
        stream=stream,
        cost=cost,
    )
    with sigterm_as_interrupt():
        return (*executor.run(the_plan), executor.aborted)


def _local_resources(the_plan):
    """Slots per task from its `cpu` resource (rounded up), and the resource names ignored."""
    import math

    names = {name for step in the_plan.work for name, _ in step.task.resources}
    ignored = sorted(names - {"cpu"})
    if "cpu" not in names:
        return None, ignored  # every task takes one slot

    def cost(task) -> int:
        return max(1, math.ceil(dict(task.resources).get("cpu", 1)))

    return cost, ignored


def critical_path_priority(the_plan, records) -> dict[str, float]:
    """Each step's longest remaining path, by recorded durations (unknown: the median).

    Starting the step with the longest path first keeps every core busy to the end,
    where first-come order can leave one long chain running alone.
    """
    known = sorted(r.seconds for r in records.values() if r.status == "ok")
    default = known[len(known) // 2] if known else 1.0
    downstream: dict[str, list[str]] = {step.name: [] for step in the_plan.steps}
    for name, upstream in the_plan.upstream.items():
        for up in upstream:
            downstream[up].append(name)
    priority: dict[str, float] = {}
    for step in reversed(the_plan.steps):
        record = records.get(step.name)
        own = 0.0 if step.task.is_group else (record.seconds if record is not None else default)
        priority[step.name] = own + max((priority[d] for d in downstream[step.name]), default=0.0)
    return priority


class _Recorder(Reporter):
    """Between the executor and the reporters: restats at start, checks outputs, writes state."""

    def __init__(
        self,
        project,
        store: StateStore,
        records,
        reporter,
        run_started,
        latency_wait=0.0,
        planned: dict | None = None,
    ) -> None:
        from .state import History

        self.project = project
        # Stamps the plan took (path -> stamp), and those check() took of the outputs of
        # tasks that ended in this build: prepare() need not stat those paths again.
        self.planned = planned or {}
        self.written: dict[str, tuple] = {}
        self.latency_wait = latency_wait
        self.store = store
        self.records = records
        self.reporter = reporter
        self.started_stamps: dict[str, tuple] = {}
        self.started_at: dict[str, float] = {}
        store.open_for_append(records)
        self.history = History(project.state_dir)
        self.history.open()
        self.run_id = f"{run_started:.6f}"
        self.run_started = run_started
        self.root_real = os.path.realpath(project.root)
        self.real_directories: dict[str, str] = {}
        self.made_directories: set[str] = {""}  # the project directory exists

    def prepare(self, step):
        """Restat the step's files as it becomes ready; skip it if its upstream changed nothing.

        Raises StepRefused, and the task fails before it runs, when an output's directory
        resolves outside the project through a symlink or cannot be created, or when an
        input vanished since the plan.
        """
        task = step.task
        self._refuse_escaping_outputs(task)
        try:
            inputs, outputs = _snapshot_one(self.project, task, self._known_stamps(task))
        except GraphError as error:  # an input vanished since the plan: this task fails
            self._refuse(task, error.message)
        reason = step.reason
        if reason.kind == UPSTREAM_RUNS:
            record = self.records.get(task.name)
            reason = judge(
                task,
                forced=None,
                upstream_running=None,
                record=record,
                inputs=inputs[task.name],
                outputs=outputs[task.name],
            )
            if reason is None and record is None:
                # No stamps recorded to compare with (a project built by hand): those the
                # plan took must do, or an upstream that kept an old time (`cp -p`,
                # `tar x`) would change an input unseen.
                reason = self._changed_in_this_build(inputs[task.name])
            if reason is None:
                return None
        self._make_output_directories(task)
        self.started_stamps[task.name] = {
            path: value for path, value in inputs[task.name].items() if value is not None
        }
        self.started_at[task.name] = time.time()
        # Until it finishes, the task counts as interrupted: a kill -9 now must not leave it "done".
        self._record(
            Record(task.name, task.fingerprint, INTERRUPTED, self.started_at[task.name], 0.0, 0, {})
        )
        return reason

    def _changed_in_this_build(self, inputs: dict) -> Reason | None:
        planned = self.planned
        for path, stamp in inputs.items():
            if planned.get(path, _UNSEEN) != stamp:
                return Reason(INPUT_CHANGED, f"input {path} changed during this build")
        return None

    def _known_stamps(self, task) -> dict:
        """What prepare() may take as current without a stat: the stamps of inputs that
        tasks of this build wrote (taken when they ended), of other tasks' outputs and of
        the task's own outputs (taken by the plan; only their tasks write them). A source
        is stat'ed again, since it may have vanished since the plan, and so is what a
        glob matches, since it may match new files. (A stamp older than the file only
        makes the next run rerun the task: never a change missed.)"""
        written = self.written
        planned = self.planned
        producers = self.project.graph.producers
        known = {}
        for path in task.inputs:
            if path in written:
                known[path] = written[path]
            elif path in producers and path in planned:
                known[path] = planned[path]
        for path in task.outputs:
            if path in planned:
                known[path] = planned[path]
        return known

    def _refuse_escaping_outputs(self, task) -> None:
        root = self.project.root
        root_real = self.root_real
        for path in task.outputs:
            directory = path.rpartition("/")[0]  # (dirname of a normalised relative path)
            parent = self.real_directories.get(directory)
            if parent is None:
                parent = os.path.realpath(os.path.join(root, directory))
                self.real_directories[directory] = parent
            if parent != root_real and not parent.startswith(root_real + os.sep):
                self._refuse(
                    task, f"output {path} resolves outside the project ({parent}) through a symlink"
                )

    def _make_output_directories(self, task) -> None:
        """Create the directories the outputs go in, as ninja does: `cmd > out/x.csv` just works.

        Only the parents: a directory output itself is the task's to create, or the
        "did not create output" check would pass for a task that made nothing.
        """
        for path in task.outputs:
            directory = path.rpartition("/")[0]
            if directory in self.made_directories:
                continue
            try:
                os.makedirs(os.path.join(self.project.root, directory), exist_ok=True)
            except OSError as error:
                reason = error.strerror or str(error)
                message = f"cannot create directory {directory} for output {path}: {reason}"
                self._refuse(task, message)
            self.made_directories.add(directory)

    def _refuse(self, task, message: str):
        """Fail the task before it runs, with message in its log (not an earlier run's tail)."""
        from .executor import StepRefused
        from .runner import open_log

        log = os.path.join(self.project.state_dir, "logs", f"{task.name}.log")
        try:
            with open_log(log, fresh=True) as f:
                f.write(f"dagmake: {message}\n".encode())
        except OSError:  # a full disk: the refusal still shows in the build's output
            pass
        raise StepRefused(message)

    def _record(self, record: Record) -> None:
        self.store.append(record)
        self.records[record.name] = record

    def check(self, task) -> str | None:
        # With a remote engine this runs on a worker thread, so waiting holds up one task.
        deadline = time.monotonic() + self.latency_wait
        while True:
            missing = []
            for path in task.outputs:
                stamp = files.stamp(self.project.root, path)
                if stamp is None:
                    missing.append(path)
                else:
                    self.written[path] = stamp
            if not missing:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                waited = f" (after --latency-wait {self.latency_wait:g} s)"
                return f"did not create output {missing[0]}{waited if self.latency_wait else ''}"
            time.sleep(min(0.1, left))

    def handle(self, event) -> None:
        if isinstance(event, TaskFinished):
            outcome = event.outcome
            name = outcome.name
            self._record(
                Record(
                    name,
                    event.step.task.fingerprint,
                    outcome.status,
                    self.started_at.get(name, 0.0),
                    outcome.seconds,
                    len(outcome.attempts),
                    self.started_stamps.get(name, {}),
                )
            )
            for attempt in outcome.attempts:
                self.history.append(
                    (
                        "attempt",
                        self.run_id,
                        name,
                        attempt.number,
                        attempt.started,
                        attempt.seconds,
                        attempt.exit_code,
                        attempt.timed_out,
                        attempt.interrupted,
                        attempt.error,
                        outcome.status,
                    )
                )
        self.reporter.handle(event)

    def flush(self) -> None:
        """Put what was recorded on disk, and what was printed on the terminal."""
        self.store.flush()
        self.history.flush()
        self.reporter.flush()

    def finish(self, summary: BuildSummary) -> None:
        self.history.append(
            (
                "run",
                self.run_id,
                self.run_started,
                summary.seconds,
                len(summary.ran),
                len(summary.up_to_date) + len(summary.skipped),
                len(summary.failed),
                summary.exit_code,
            )
        )

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            self.history.close()
            self.store.compact(self.records)


def usable_cpus() -> int:
    """The CPUs this process may run on (`taskset`, a container's cpuset), as ninja counts."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1
