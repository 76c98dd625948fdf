"""Errors a user can cause, each carrying where it happened and how to fix it.

    DagmakeError                 anything the user can fix; the CLI prints it and exits 2
     ├── PipefileError           Pipefile.toml not found, not TOML, or not a valid pipeline
     ├── GraphError              duplicate outputs, cycles, unknown `after`, missing inputs
     ├── TargetError             a target or --force pattern that names no task
     ├── UsageError              a bad command-line flag or value
     ├── LockError               another dagmake is running on the same project
     └── ExecutorError           the engine running tasks (a Dask cluster) failed or is unusable

Internal bugs are plain exceptions and are reported differently ("internal error").
"""

from __future__ import annotations


class DagmakeError(Exception):
    """An error the user can fix: message plus the file, line, task and key it concerns."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        task: str | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.task = task
        self.key = key
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line:
                where += f":{self.line}"
                if self.column:
                    where += f":{self.column}"
            where += ": "
        subject = f"task '{self.task}': " if self.task else ""
        text = printable(f"{where}{subject}{self.message}")
        if self.hint:
            text += f"\n  hint: {printable(self.hint)}"
        return text


class PipefileError(DagmakeError):
    """The Pipefile cannot be found, parsed, or validated."""


class GraphError(DagmakeError):
    """The tasks do not form a valid DAG over files that exist or will exist."""


class TargetError(DagmakeError):
    """A target on the command line names no task, glob of tasks, or output."""


class UsageError(DagmakeError):
    """A command-line flag or value is wrong."""


class LockError(DagmakeError):
    """Another dagmake process holds the project's lock."""


class ExecutorError(DagmakeError):
    """The engine running tasks is unusable or was lost; raised by a runner, it aborts the build."""


def did_you_mean(word: str, choices) -> str:
    """Return ", did you mean 'x'?" for the closest choice, or "" when none is close."""
    import difflib  # only on the error path

    choices = list(dict.fromkeys(choices))  # a task named like its output: offered once
    # a name typed in another case ('EXTRACT', 'B') is the closest match of all
    close = [choice for choice in choices if choice.lower() == word.lower()][:3]
    if not close:
        by_lower: dict[str, list[str]] = {}
        for choice in choices:
            by_lower.setdefault(choice.lower(), []).append(choice)
        lowered = difflib.get_close_matches(word.lower(), list(by_lower), n=3, cutoff=0.6)
        close = [choice for lower in lowered for choice in by_lower[lower]][:3]
    if not close:
        return ""
    if len(close) == 1:
        return f", did you mean '{close[0]}'?"
    return ", did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def printable(text: str) -> str:
    """text with what a terminal would act on written as escapes: a path from the disk or
    the Pipefile may hold ESC or a newline. A byte that is not UTF-8 reads as itself."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(c: str) -> str:
    if "\udc80" <= c <= "\udcff":  # os.fsdecode's stand-in for an undecodable byte
        return f"\\x{ord(c) - 0xDC00:02x}"
    return c.encode("unicode_escape", "backslashreplace").decode()
