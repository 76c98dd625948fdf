"""Run settings.on_success / on_failure after a build, with the outcome in DAGMAKE_* variables."""

from __future__ import annotations

import os
import subprocess

# The projects whose hooks are running, around a dagmake a hook started.
_WITHIN = "DAGMAKE_HOOK_OF"


def hook_for(settings, summary) -> tuple[str, str] | None:
    """(setting name, command) to run after a build with this summary, or None.

    on_failure follows a failed task (exit 1), on_success a build with exit 0 (nothing to
    do included). An interrupted build runs neither: someone chose to stop it.
    """
    if summary.interrupted:
        return None
    if summary.exit_code == 0:
        return ("on_success", settings.on_success) if settings.on_success else None
    return ("on_failure", settings.on_failure) if settings.on_failure else None


def environment(project, summary) -> dict[str, str]:
    """The DAGMAKE_* variables a hook sees (added to dagmake's own environment)."""
    import io

    from .console import ConsoleReporter

    failed = summary.failed
    summary_text = ConsoleReporter(io.StringIO(), tty=False, color=False).summary_line(summary)
    return {
        "DAGMAKE_EXIT_CODE": str(summary.exit_code),
        "DAGMAKE_FAILED_TASKS": " ".join(o.name for o in failed),
        # relative to the project root, which is the hook's working directory
        "DAGMAKE_FAILED_LOGS": " ".join(os.path.relpath(o.log_path, project.root) for o in failed),
        "DAGMAKE_RAN": " ".join(o.name for o in summary.ran),
        "DAGMAKE_NOT_RUN": " ".join(summary.not_run),
        "DAGMAKE_SECONDS": f"{summary.seconds:.3f}",
        "DAGMAKE_SUMMARY": summary_text,
        "DAGMAKE_PROJECT": project.root,
    }


def run_hook(project, summary, *, warn) -> None:
    """Run the hook this summary calls for, if one is set; a failure is a warning, nothing more.

    The hook runs in the project root with settings.shell. Its stdout goes to dagmake's
    stderr, so that dagmake's own stdout (the --json stream, say) stays clean.
    """
    chosen = hook_for(project.settings, summary)
    if chosen is None:
        return
    within = os.environ.get(_WITHIN, "")
    if project.root in within.split(os.pathsep):
        # run by this project's own hook (on_success = "dagmake publish"): running the
        # hook again would start this dagmake again, without end
        return
    key, command = chosen
    env = {**os.environ, **environment(project, summary)}
    env[_WITHIN] = os.pathsep.join(filter(None, (within, project.root)))
    try:
        hook = subprocess.Popen(
            [project.settings.shell, "-c", command],
            cwd=project.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=2,
            process_group=0,  # so that stopping it stops what it started, as for a task
        )
    except OSError as error:
        warn(f"{key} hook failed: cannot run {project.settings.shell}: {error.strerror}")
        return
    try:
        returncode = hook.wait()
    except BaseException:  # Ctrl-C, SIGTERM: the hook and its children stop too
        _stop_group(hook)
        raise
    if returncode < 0:
        warn(f"{key} hook failed: killed by signal {-returncode}")
    elif returncode != 0:
        warn(f"{key} hook failed: exit {returncode}")


def _stop_group(hook, grace: float = 2.0) -> None:
    """SIGTERM the hook's process group; SIGKILL it if the hook has not ended in grace."""
    import signal

    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(hook.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            hook.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:  # a second Ctrl-C: no more grace
            continue
        try:  # the hook's shell ended; what it left running in the group goes too
            os.killpg(hook.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return
