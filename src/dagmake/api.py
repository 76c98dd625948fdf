"""The Python API's plan() and build(): the build module's, with their arguments checked.

The command line checks what it passes; a Python caller gets a DagmakeError for a wrong
argument too, rather than a TypeError from deep inside, or a string taken letter by letter.
"""

from __future__ import annotations

import os

from .errors import UsageError


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
    return run_build(_project(project), _targets(targets), **options)


def _project(project):
    if isinstance(project, (str, os.PathLike)):
        from .project import load

        return load(os.fspath(project))
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
