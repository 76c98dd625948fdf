"""What runs on a Dask worker: one attempt of a task, cancellable, and a probe of the worker.

Workers import this module by name, so they need the same dagmake installed. It imports
`distributed` only inside the functions, which run on workers.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

from .._version import __version__

WAIT = 1.0  # seconds of each wait on the build's cancel event (the scheduler holds it)
POLL = 0.2  # seconds between tries when the scheduler does not answer
LOST_AFTER = 10.0  # with no answer from the scheduler for this long, stop the command
GUARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guard.py")


def probe(root: str, marker: str, token: str) -> dict:
    """What a worker sees: its dagmake version, host, and whether the project is shared."""
    seen = None
    try:
        with open(os.path.join(root, marker)) as f:
            seen = f.read()
    except OSError:
        pass
    return {
        "version": __version__,
        "host": socket.gethostname(),
        "root": os.path.isdir(root),
        "marker": seen == token,
    }


def execute(spec: dict, cancel: str) -> dict:
    """Run one attempt of spec's task on this worker; return how it went, never raise for it.

    spec: task (Task.to_data()), number, log_path, root, version, grace, claim (a name).
    cancel: name of the build's distributed.Event; once set, the command's group is killed.
    """
    from distributed import Event, Variable, get_client, get_worker

    from ..runner import ProcessRunner
    from ..task import Task

    started = time.time()
    worker = get_worker()
    where = f"{worker.address} ({socket.gethostname()})"
    result = {"worker": where, "started": started, "seconds": 0.0, "exit_code": 1}
    # Checked at connect time too; these catch a worker that joined later.
    refused = {**result, "refused": True}
    if spec["version"] != __version__:
        return {
            **refused,
            "error": f"dask worker {where} runs dagmake {__version__}, not {spec['version']}",
        }
    if not os.path.isdir(spec["root"]):
        return {
            **refused,
            "error": f"dask worker {where} cannot see the project directory {spec['root']}",
        }
    client = get_client()
    cancel_event = Event(cancel, client=client)
    if cancel_event.is_set():  # queued before Ctrl-C, started after: don't begin at all
        return {**result, "exit_code": 130, "interrupted": True}
    # Dask re-runs a task whose worker died, and the dead worker's command may have been
    # writing outputs: report the death instead, and let dagmake's own retry policy decide.
    # An Event to test (a missing Variable would log an error on the scheduler), and a
    # Variable to say which worker that was.
    claim = Event(spec["claim"], client=client)
    who = Variable(spec["claim"], client=client)
    if claim.is_set():
        return {**result, "lost": who.get(timeout=10)}
    who.set(where)
    claim.set()

    task = Task.from_data(spec["task"])
    wrap = None
    if sys.platform.startswith("linux"):
        parent = str(os.getpid())

        def wrap(argv):
            return [sys.executable, "-I", "-S", GUARD, parent, *argv]

    runner = ProcessRunner(spec["root"], grace=spec["grace"], wrap=wrap)
    done = threading.Event()
    watcher = threading.Thread(
        target=_watch,
        args=(cancel_event, worker, client, runner, spec["grace"], done),
        daemon=True,
    )
    watcher.start()
    try:
        attempt = runner.run(task, spec["number"], spec["log_path"])
    finally:
        done.set()
    # (Whether the outputs exist is dagmake's to judge, after --latency-wait: a shared
    # filesystem may show them late, or a command may leave a child to write them.)
    return {
        **result,
        "exit_code": attempt.exit_code,
        "seconds": attempt.seconds,
        "timed_out": attempt.timed_out,
        "interrupted": attempt.interrupted,
        "error": None,
    }


def _watch(event, worker, client, runner, grace: float, done: threading.Event) -> None:
    """Wait on the cancel event; when set (or the scheduler is gone), TERM then KILL the group.

    A worker that lost its scheduler closes itself: nobody can receive the result any
    more, and dagmake records the task as interrupted, so the command must not go on.
    """
    last_answer = time.monotonic()
    while not done.is_set():
        closing = getattr(worker.status, "name", "running") in ("closing", "closed", "failed")
        if closing or client.status in ("connecting", "closing", "closed"):
            cancelled = True
        else:
            try:
                # Returns as soon as dagmake sets it: one request a second, not a poll loop.
                cancelled = event.wait(timeout=WAIT)
                last_answer = time.monotonic()
            except BaseException:  # also CancelledError, as the worker shuts down
                cancelled = time.monotonic() - last_answer > LOST_AFTER
                done.wait(POLL)
        if cancelled and not done.is_set():
            runner.terminate_all()
            if not done.wait(grace):
                runner.kill_all()
            return
