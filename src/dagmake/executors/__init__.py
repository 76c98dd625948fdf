"""Choose what runs a task's attempts: local processes (the default) or a cluster engine.

dagmake keeps one scheduler (executor.Executor: the DAG, -j, -k, retries, events) for
every engine. An engine plugs in below it as a *Runner*, called from the executor's
worker threads, at most -j at once:

    run(task, number, log_path, *, on_line=None) -> events.Attempt
        submit one attempt and wait for it (this is "submit" + "wait"); a failing
        command is a failed Attempt, never an exception. Raise errors.ExecutorError
        when the engine itself is gone: that aborts the build.
    terminate_all() / kill_all()      cancel: stop every running attempt (Ctrl-C, SIGTERM)
    open()       optional: connect; called only when a build has work, so no-op runs stay fast
    close()      optional: disconnect
    honours_resources    optional, True if the engine enforces Task.resources itself;
        otherwise the executor gives a task `cpu` slots of -j and warns about the rest
    default_jobs         optional: -j when neither -j nor settings.jobs is given

A new engine (Ray, a batch scheduler) is a module here with such a class, plus a line in
get_runner(). Its third-party import stays inside that module, imported only on request.
"""

from __future__ import annotations

import os

from ..errors import UsageError, did_you_mean

EXECUTORS = ("local", "dask")
SCHEDULER_VARIABLE = "DAGMAKE_DASK_SCHEDULER"


def get_runner(
    name: str,
    root: str,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
):
    """The Runner for executor `name`; raise UsageError for an unknown or uninstalled one.

    Args:
        root: the project directory.
        jobs: -j, or settings.jobs (the size of a local Dask cluster).
        scheduler: a Dask scheduler address; default $DAGMAKE_DASK_SCHEDULER (an address,
            or a scheduler file), else a local cluster is started.
        scheduler_file: a Dask scheduler file, instead of an address.
    """
    if name == "local":
        if scheduler or scheduler_file:
            option = "--scheduler" if scheduler else "--scheduler-file"
            raise UsageError(f"{option} needs --executor dask")
        from ..runner import ProcessRunner

        return ProcessRunner(root)
    if name == "dask":
        if scheduler and scheduler_file:
            raise UsageError("give --scheduler or --scheduler-file, not both")
        if not scheduler and not scheduler_file:
            value = os.environ.get(SCHEDULER_VARIABLE, "")
            if value.endswith(".json") or os.path.isfile(value):
                scheduler_file = value
            else:
                scheduler = value or None
        if scheduler_file and not os.path.isfile(scheduler_file):
            raise UsageError(
                f"scheduler file '{scheduler_file}' does not exist",
                hint="start the scheduler with `dask scheduler --scheduler-file PATH`",
            )
        if scheduler_file:
            _check_scheduler_file(scheduler_file)
        try:
            from .dask import DaskRunner, address_problem
        except ImportError as error:
            if error.name not in ("distributed", "dask") and "distributed" not in str(error):
                raise
            raise UsageError(
                "--executor dask needs Dask installed",
                hint="pip install 'dagmake[dask]' (on this machine and on every worker)",
            )
        problem = address_problem(scheduler) if scheduler else None
        if problem:  # found now, not after the connect timeout
            raise UsageError(
                f"--scheduler {scheduler}: {problem}",
                hint="a Dask scheduler's address, e.g. tcp://10.0.0.5:8786",
            )
        return DaskRunner(root, address=scheduler, scheduler_file=scheduler_file, jobs=jobs)
    check_name(name)


def _check_scheduler_file(path: str) -> None:
    """A scheduler file is JSON with the scheduler's address, as `dask scheduler` writes it."""
    import json

    try:
        with open(path, "rb") as f:
            address = json.loads(f.read()).get("address")
    except (OSError, ValueError, AttributeError):
        address = None
    if not isinstance(address, str) or not address:
        raise UsageError(
            f"scheduler file '{path}' is not a Dask scheduler file (JSON with an \"address\")",
            hint="start the scheduler with `dask scheduler --scheduler-file PATH`",
        )


def check_name(name: str) -> None:
    """Raise UsageError unless name is one of EXECUTORS."""
    if name not in EXECUTORS:
        raise UsageError(
            f"unknown executor '{name}'{did_you_mean(name, EXECUTORS)}",
            hint="choose one of: " + ", ".join(EXECUTORS),
        )
