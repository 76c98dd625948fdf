"""Show a build on the terminal: one block per finished task, a live status line, a summary."""

from __future__ import annotations

import os
import sys

from .events import FAILED, INTERRUPTED, OK, Reporter
from .files import shown as _shown

TAIL_LINES = 20
# of the line a log's end is read from the middle of, this many characters at most
LONG_LINE_END = 1000
MAX_BLOCK_LINES = 200


class ConsoleReporter(Reporter):
    """Prints events for a person: plain lines off a terminal, a status line on one."""

    def __init__(self, stream=None, *, tty=None, color=None, quiet=False, verbose=False) -> None:
        self.stream = stream or sys.stdout or _Discard()  # sys.stdout is None when fd 1 is closed
        if tty is None:
            # a dumb terminal (an Emacs shell buffer) shows control codes as they are
            tty = self.stream.isatty() and os.environ.get("TERM") != "dumb"
        self.tty = tty
        if color is None:
            color = self.tty and not os.environ.get("NO_COLOR")
        self.color = color
        self.quiet = quiet
        self.verbose = verbose
        self.total = 0
        self.finished = 0
        self.running: list[str] = []
        self._status_shown = False
        self._retrying: dict[str, int] = {}  # task -> its attempt that failed and will retry

    # -- helpers --------------------------------------------------------------------------

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def _write(self, text: str) -> None:
        # No flush here: the build calls flush() before it waits, so a burst of finished
        # tasks reaches the terminal in one write instead of one each.
        if not text and not self.tty:
            return  # (only a status line would have been redrawn)
        try:
            if self._status_shown:
                self.stream.write("\r\x1b[K")
                self._status_shown = False
            self.stream.write(text)
            self._draw_status()
        except OSError as error:
            self._lost(error)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as error:
            self._lost(error)

    def _lost(self, error: OSError) -> None:
        self.stream = output_lost(self.stream, error)
        self.tty = False

    def _draw_status(self) -> None:
        if not self.tty or self.quiet or not self.running:
            return
        line = f"[{self.finished}/{self.total}] {', '.join(self.running)}"
        width = _terminal_width()
        if len(line) > width - 1:
            line = line[: width - 4] + "..."
        self.stream.write(line)
        self._status_shown = True

    # -- events ---------------------------------------------------------------------------

    def on_RunStarted(self, event) -> None:
        self.total = len(event.steps)

    def on_TaskStarted(self, event) -> None:
        self.running.append(event.step.name)
        if self.verbose:
            self._write(f"start {event.step.name}: {event.step.reason.text}\n")
        else:
            self._write("")

    def on_TaskOutput(self, event) -> None:
        self._write(f"{event.name}| {event.line}\n")

    def on_AttemptFailed(self, event) -> None:
        attempt = event.attempt
        self._retrying[event.step.name] = attempt.number
        if self.quiet:  # a retry may still make it good; if not, the failure shows every attempt
            return
        self._write(
            f"{event.step.name}: attempt {attempt.number}/{event.total} failed: "
            f"{attempt.describe(event.step.task.timeout)}; retrying in {event.retry_in:g} s\n"
        )

    def on_TaskSkipped(self, event) -> None:
        if self.verbose:
            self._write(f"skip  {event.step.name}: its inputs did not change after all\n")

    def on_TaskFinished(self, event) -> None:
        outcome = event.outcome
        name = outcome.name
        if name in self.running:
            self.running.remove(name)
        self.finished += 1
        seconds = f"{outcome.seconds:.2f}s"
        retried = f" after {len(outcome.attempts)} attempts" if len(outcome.attempts) > 1 else ""
        if outcome.status == OK:
            if self.quiet:
                self._write("")
                return
            header = f"[{self.finished}/{self.total}] {self._paint(name, '32')} {seconds}{retried}"
            if outcome.reason is not None:
                header += f": {outcome.reason.text}"
            # (a task that printed nothing has nothing to show: no need to look at its log)
            attempts = outcome.attempts
            silent = len(attempts) == 1 and attempts[0].silent
            body = "" if self.verbose or silent else _read_log(outcome.log_path, MAX_BLOCK_LINES)
            self._write(header + "\n" + body)
            return
        label = "FAILED" if outcome.status == FAILED else "INTERRUPTED"
        why = f"{outcome.describe()}{retried}, {seconds}"
        if outcome.status == INTERRUPTED and self._retrying.get(name) == len(outcome.attempts):
            # stopped in the delay before its next attempt, not while an attempt ran
            why = (
                f"while waiting to retry after attempt {len(outcome.attempts)} failed: "
                f"{outcome.describe()}"
            )
        header = f"{self._paint(label, '31;1')} {name} ({why})"
        # also after -v streamed it: there it may be interleaved with other tasks' lines
        body = _read_log(outcome.log_path, TAIL_LINES)
        footer = f"  log: {_shown(outcome.log_path)}\n"
        self._write(header + "\n" + _indent(body) + footer)

    def on_RunFinished(self, event) -> None:
        summary = event.summary
        self.running.clear()
        if self.quiet and not summary.failed and not summary.interrupted:
            self._write("")  # -q: "only failures and the summary of a failed run"
        else:
            self._write(self.summary_line(summary) + "\n")
        self.flush()

    def summary_line(self, summary) -> str:
        failed = summary.failed
        seconds = f"{summary.seconds:.2f}s"
        if summary.interrupted:
            stopped = [o.name for o in summary.outcomes if o.status == INTERRUPTED]
            text = f"dagmake: interrupted after {seconds}; {len(summary.ran)} ran"
            if stopped:
                text += f", stopped {', '.join(stopped)} (will rerun next time)"
            return self._paint(text + self._failure_lines(summary), "31;1")
        if not summary.outcomes and not failed:
            return f"dagmake: no work to do ({len(summary.up_to_date)} up to date)"
        text = (
            f"dagmake: {len(summary.ran)} ran, {len(summary.up_to_date) + len(summary.skipped)} "
            f"up to date, {len(failed)} failed in {seconds}"
        )
        if failed:
            return self._paint(text + self._failure_lines(summary), "31")
        return text

    def _failure_lines(self, summary) -> str:
        """The first failure and its log, and what was not started, when a task failed."""
        if not summary.failed:
            return ""
        first = summary.failed[0]
        log = _shown(first.log_path)
        text = f"\ndagmake: first failure: {first.name} ({first.describe()}), log {log}"
        if summary.not_run:
            text += f"\ndagmake: not started: {', '.join(summary.not_run)}"
        return text


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())


def _read_log(path: str, max_lines: int) -> str:
    """The end of a log: all of it when short, else its last max_lines lines."""
    try:
        if os.stat(path).st_size == 0:
            return ""  # most trivial tasks print nothing: one stat, not an open and a read
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    lines = text.splitlines()
    if size > 64 * 1024 and lines:
        lines[0] = "..." + lines[0][-LONG_LINE_END:]  # probably cut: its end, marked
    if len(lines) > max_lines or size > 64 * 1024:
        hidden = "earlier lines" if size > 64 * 1024 else f"{len(lines) - max_lines} more lines"
        lines = [f"... ({hidden} in {_shown(path)})", *lines[-max_lines:]]
    return "".join(line + "\n" for line in lines)


def _terminal_width() -> int:
    try:
        columns = os.get_terminal_size().columns
    except OSError:
        return 80
    return columns if columns >= 20 else 80  # a terminal with no size set reports 0


def output_lost(stream, error: OSError) -> _Discard:
    """The build's output went away (`dagmake | head`, a full disk): it goes on unseen,
    and what is still buffered, and later prints, go nowhere instead of failing.
    Returns the stream to write to from now on.

    Stopping the tasks because nobody reads about them would lose their work.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    if not isinstance(error, BrokenPipeError) and not isinstance(stream, _Discard):
        print(
            f"dagmake: cannot write the build's output ({error.strerror or error}); "
            "it goes on, see .dagmake/logs/ and the exit code",
            file=sys.stderr,
        )
    return _Discard()


class _Discard:
    """A stream that drops what is written to it."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _Closed:
    """Standard output when dagmake started with it closed (`dagmake >&-`): each write
    fails as a write to a closed descriptor would, so what a full disk gets, this gets
    too (a build goes on unseen; -l says it cannot write its output)."""

    def write(self, text: str) -> int:
        import errno

        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def flush(self) -> None:
        pass  # nothing is ever buffered: only writing fails

    def fileno(self) -> int:
        return 1

    def isatty(self) -> bool:
        return False


def stand_in_for_closed_streams() -> None:
    """Give a closed stdout or stderr (Python makes it None) a stand-in, and its
    descriptor /dev/null: no file dagmake opens may take number 1 or 2 meanwhile."""
    for number, name in ((1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != number:
                os.dup2(devnull, number)
                os.close(devnull)
        except OSError:
            pass
        # nobody is told what stderr would have said; stdout's loss is told there
        setattr(sys, name, _Closed() if number == 1 else _Discard())
