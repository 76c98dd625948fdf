"""Signal numbers and handlers from CPython's C core, and Ctrl-C, SIGTERM and SIGHUP
raising KeyboardInterrupt once.

`import signal` wraps them in enums, and importing enum costs ~3 ms: more than a
small no-op run's own work.
"""

try:
    import _signal as signal
except ImportError:  # pragma: no cover - another Python
    import signal

__all__ = ["interrupts", "not_interrupted", "signal", "sigterm_as_interrupt"]

# How many stop signals arrived while the outermost sigterm_as_interrupt was active.
_received = 0
_depth = 0
# How deep in not_interrupted() sections, and whether a stop signal came meanwhile.
_deferred = 0
_pending = False


def interrupts() -> int:
    """Stop signals received so far: past the first, the user insists (kill at once)."""
    return _received


class sigterm_as_interrupt:
    """While active, SIGINT (Ctrl-C), SIGTERM and SIGHUP (a closed terminal or ssh
    session) raise KeyboardInterrupt, so all stop the running tasks, record them, and
    end the CLI with exit 130: tasks run in their own process groups and would
    otherwise live on, orphaned.

    Only the first one raises. Another one, in the middle of stopping the tasks (a second
    Ctrl-C, or a wrapper like `uv run` passing on the terminal's Ctrl-C a moment after
    it), must not cut that short and leave tasks running: it is only counted
    (interrupts()), and the executor then kills at once.

    A signal ignored when dagmake started (`nohup`, a background job) stays ignored.
    Outside the main thread, where Python cannot set signal handlers, it does nothing.

    final: the process ends right after; once interrupted, it ignores stop signals to
    its end instead of restoring the handlers, so that the late second one does not turn
    the exit code it chose into death by SIGINT.
    """

    def __init__(self, *, final: bool = False) -> None:
        self.final = final

    def __enter__(self):
        global _received, _depth
        if _depth == 0:
            _received = 0
        _depth += 1
        self.previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if signum is None:
                continue
            try:
                previous = signal.getsignal(signum)
                if signum != signal.SIGTERM and previous == signal.SIG_IGN:
                    continue
                signal.signal(signum, _interrupt)
            except ValueError:
                return self
            self.previous[signum] = previous
        return self

    def __exit__(self, *exc):
        global _depth
        _depth -= 1
        for signum, previous in self.previous.items():
            signal.signal(signum, signal.SIG_IGN if self.final and _received else previous)


class not_interrupted:
    """A section the first stop signal must not cut short: its KeyboardInterrupt is
    raised when the section ends instead.

    Starting a command and registering its process is one: interrupted in between, the
    process would run on with nobody to stop it.
    """

    __slots__ = ()

    def __enter__(self):
        global _deferred
        _deferred += 1

    def __exit__(self, *exc):
        global _deferred, _pending
        _deferred -= 1
        if _pending and not _deferred:
            _pending = False
            raise KeyboardInterrupt


def _interrupt(signum, frame):
    global _received, _pending
    _received += 1
    if _received == 1:
        if _deferred:
            _pending = True
            return
        raise KeyboardInterrupt
