"""Signal numbers and handlers from CPython's C core.

`import signal` wraps them in enums, and importing enum costs ~3 ms: more than a
small no-op run's own work.
"""

try:
    import _signal as signal
except ImportError:  # pragma: no cover - another Python
    import signal

__all__ = ["signal"]
