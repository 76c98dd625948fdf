"""Signal numbers and handlers from CPython's C core, and SIGTERM handled as Ctrl-C.

`import signal` wraps them in enums, and importing enum costs ~3 ms: more than a
small no-op run's own work.
"""

try:
    import _signal as signal
except ImportError:  # pragma: no cover - another Python
    import signal

__all__ = ["signal", "sigterm_as_interrupt"]


class sigterm_as_interrupt:
    """While active, SIGTERM and SIGHUP (a closed terminal or ssh session) raise
    KeyboardInterrupt as Ctrl-C does, so all stop the running tasks, record them, and
    end the CLI with exit 130: tasks run in their own process groups and would
    otherwise live on, orphaned. A SIGHUP ignored by `nohup` stays ignored. Outside the
    main thread, where Python cannot set signal handlers, it does nothing."""

    def __enter__(self):
        self.previous = {}
        for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if signum is None:
                continue
            try:
                previous = signal.getsignal(signum)
                if signum != signal.SIGTERM and previous == signal.SIG_IGN:
                    continue
                signal.signal(signum, _raise_interrupt)
            except ValueError:
                return self
            self.previous[signum] = previous
        return self

    def __exit__(self, *exc):
        for signum, previous in self.previous.items():
            signal.signal(signum, previous)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt
