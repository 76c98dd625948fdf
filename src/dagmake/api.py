"""The Python API's load(), plan() and build(): the project and build modules', with
their arguments checked.

The command line checks what it passes; a Python caller gets a DagmakeError for a wrong
argument too, rather than a TypeError from deep inside, or a string taken letter by letter.
"""

from __future__ import annotations

import os

from .errors import UsageError


def load(path=None, *, overrides=None, write_cache=True):
    """The project of the Pipefile at path (a file, or a directory to search upward
    from; None: the current directory), with NAME=value overrides of its vars."""
    from .project import load as load_project

    if path is not None:
        if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
            raise UsageError(
                f"the path must be a Pipefile or a directory (a string or path), not {path!r}"
            )
        path = os.fspath(path)
        if not path:
            raise UsageError("the path is empty", hint='for the current directory: load(".")')
    if overrides is not None and (
        not isinstance(overrides, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in overrides.items())
    ):
        raise UsageError(f"overrides must be a dict of strings, not {overrides!r}")
    return load_project(path, overrides=overrides, write_cache=write_cache)


def plan(project, targets=(), **options):
    """What a build of targets would run, with a reason per task (`dagmake -n`).

    project: what dagmake.load() returns, or a Pipefile or directory to load.
    targets: a task name, glob or output path, or a list of them (none: the default).
    Other options as for build.make_plan(): force, force_all.
    """
    from .build import make_plan

    return make_plan(_project(project), _targets(targets), **options)


def build(project, targets=(), **options):
    """Run what is stale among targets and their upstream; return the BuildSummary.

    project and targets as for plan(); the options are build.build()'s (jobs, force,
    keep_going, retries, reporter, ...).
    """
    from .build import build as run_build

    jobs = options.get("jobs")
    if jobs is not None and (type(jobs) is not int or jobs < 1):
        raise UsageError(f"jobs must be a whole number of at least 1, not {jobs!r}")
    retries = options.get("retries")
    if retries is not None and (type(retries) is not int or retries < 0):
        raise UsageError(f"retries must be a whole number of at least 0, not {retries!r}")
    return run_build(_project(project), _targets(targets), **options)


def _project(project):
    if isinstance(project, (str, os.PathLike)):
        return load(project)
    if not hasattr(project, "graph") or not hasattr(project, "root"):
        raise UsageError(
            f"the project must be what dagmake.load() returns, or a path, "
            f"not {type(project).__name__}"
        )
    return project


def _targets(targets) -> tuple[str, ...]:
    if targets is None:
        return ()
    if isinstance(targets, (str, os.PathLike)):
        return (os.fspath(targets),)  # one target, not one per letter
    if isinstance(targets, (bytes, bytearray)):
        raise UsageError(f"targets must be strings, not bytes ({targets!r})")
    try:
        targets = tuple(os.fspath(t) if isinstance(t, os.PathLike) else t for t in targets)
    except TypeError:
        raise UsageError(
            f"targets must be a string or a list of strings, not {targets!r}"
        ) from None
    for target in targets:
        if not isinstance(target, str):
            raise UsageError(
                f"a target must be a string (a task name, glob or output path), not {target!r}"
            )
    return targets
