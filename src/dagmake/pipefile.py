"""Parse and validate Pipefile.toml into settings, Tasks and their graph (project.py loads it)."""

from __future__ import annotations

import math
import os
import posixpath
import sys

from .errors import PipefileError, UsageError, did_you_mean
from .files import PIPEFILE as FILENAME
from .files import is_glob
from .files import shown as _shown
from .placeholders import expand, is_name, names_in, quote_all
from .project import Settings
from .task import PythonAction, ShellAction, Task

TOP_KEYS = ("settings", "vars", "env", "tasks")
SETTINGS_KEYS = ("jobs", "shell", "default", "on_failure", "on_success")
TASK_KEYS = (
    "help",
    "cmd",
    "python",
    "inputs",
    "outputs",
    "after",
    "env",
    "cwd",
    "retries",
    "retry_delay",
    "timeout",
    "always",
    "resources",
)
BUILTINS = ("inputs", "outputs", "task")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
# A task's log is .dagmake/logs/<name>.log: a name must leave room in the 255 bytes most
# file systems allow for a file name (fewer on some, e.g. eCryptfs: 143).
MAX_NAME_BYTES = 200
# Editors on Windows start a UTF-8 file with a byte-order mark, which TOML does not allow
_BOM = b"\xef\xbb\xbf"
# Keys other tools use for what a task or table here calls otherwise: a suggestion when
# one of them is unknown (difflib's closest spelling would be wrong: 'sources' is not
# 'resources')
SYNONYMS = {
    **dict.fromkeys(("depends_on", "deps", "needs", "requires", "depends"), "after"),
    **dict.fromkeys(("need", "require", "dependencies", "prerequisites", "wait_for"), "after"),
    **dict.fromkeys(("working_dir", "workdir", "dir", "directory"), "cwd"),
    **dict.fromkeys(("environment", "environ"), "env"),
    **dict.fromkeys(("run", "command", "commands", "script", "scripts", "shell"), "cmd"),
    **dict.fromkeys(("targets", "produces", "produce", "outs", "targets_files"), "outputs"),
    **dict.fromkeys(("sources", "source", "srcs", "src", "deps_files", "file_dep"), "inputs"),
    **dict.fromkeys(("description", "desc", "doc"), "help"),
    "retry": "retries",
}


# --- parsing and validation -------------------------------------------------------------


def parse(source: bytes, pipefile: str, overrides: dict[str, str]) -> tuple[Settings, tuple]:
    """Parse and validate Pipefile text into (Settings, tasks in file order)."""
    shown = _shown(pipefile)
    # the caller keeps the bytes as read (the caches compare them): only the text loses a BOM
    skipped = len(_BOM) if source.startswith(_BOM) else 0
    try:
        text = source[skipped:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = error.start + skipped
        before = source[:offset]
        line_start = before.rfind(b"\n") + 1
        raise PipefileError(
            f"not valid UTF-8 (byte {offset}: {source[offset : offset + 1].hex()})",
            file=shown,
            line=before.count(b"\n") + 1,
            column=len(before[line_start:].decode("utf-8", "replace")) + 1,
            hint="save the Pipefile as UTF-8"
            + (" (this looks like UTF-16)" if source[:2] in (b"\xff\xfe", b"\xfe\xff") else ""),
        )
    try:
        import tomli as toml
    except ImportError:  # pragma: no cover - tomli is a dependency; stdlib as a fallback
        import tomllib as toml
    try:
        document = toml.loads(text, parse_float=_Float)
    except RecursionError:  # tomli's limit on nesting, or the interpreter's own
        raise PipefileError(
            "invalid TOML: arrays or tables nested too deeply",
            file=shown,
            hint="a Pipefile value needs a few levels of nesting at most",
        ) from None
    except toml.TOMLDecodeError as error:
        message = getattr(error, "msg", None) or str(error)
        line = getattr(error, "lineno", None)
        if message.startswith("Cannot declare (") and message.endswith(") twice"):
            # Cannot declare ('tasks', 'a') twice: the table, as the Pipefile writes it
            parts = [p.strip(" '\"") for p in message[len("Cannot declare (") : -7].split(",")]
            keys = (p if is_name(p) else f'"{p}"' for p in parts)
            message = f"[{'.'.join(keys)}] is declared twice"
        elif message.startswith("Cannot overwrite a value") and line:
            # a key given twice: name it
            key = text.splitlines()[line - 1].partition("=")[0].strip()
            if key:
                message = f"'{key}' is set twice ({message.lower()})"
        column = getattr(error, "colno", None)
        if message == 'Expected "\'"':
            # tomli reads an unclosed literal string to the end of the file: the line to
            # fix is the one where it opens
            message = "Unterminated string"
            line, column = _unclosed_literal_line(text) or line, None
        raise PipefileError(
            f"invalid TOML: {message}",
            file=shown,
            line=line,
            column=column,
            hint=_toml_hint(message, _word_at(text, line, column)),
        )
    validator = _Validator(text, shown, os.path.dirname(pipefile), os.path.basename(pipefile))
    return validator.validate(document, overrides)


def _unclosed_literal_line(text: str) -> int | None:
    """The first line with a 'literal string' left open: an odd count of single quotes
    after the '=' and before a comment, and no double quote around them."""
    for number, line in enumerate(text.splitlines(), 1):
        value = line.partition("=")[2]
        if '"' not in value and value.partition("#")[0].count("'") % 2:
            return number
    return None


def _word_at(text: str, line: int | None, column: int | None) -> str:
    """The word a TOML error points at (for its hint)."""
    if not line or not column:
        return ""
    lines = text.splitlines()
    rest = lines[line - 1][column - 1 :] if line <= len(lines) else ""
    return rest.split(None, 1)[0].rstrip(",]}") if rest.strip() else ""


def _toml_hint(message: str, word: str = "") -> str | None:
    """What to do about the TOML mistakes made most: a fix in Pipefile terms."""
    if message == "Invalid value" and word.lower() in ("true", "false", "yes", "no"):
        return "a boolean is written true or false, in lowercase"
    if message == "Invalid value" and word in ("None", "null", "nil"):
        return "TOML has no null: leave the key out"
    if message == "Invalid value":
        return 'text needs quotes (cmd = "echo hi"); a list is [...], a table { ... }'
    if message in ("Unterminated string", "Illegal character '\\n'"):
        return (
            "close the string on the line it starts, with the quote it starts with; "
            'for several lines use """...""" (or a list of commands)'
        )
    if message.startswith("Unescaped '\\'"):
        return "write \\\\ for a backslash, or use a 'literal string', which keeps \\ as it is"
    if message.startswith("Expected ']' at the end of a table declaration"):
        return 'a name other than ASCII letters, digits, _ and - needs quotes: [tasks."a b"]'
    return None


def parse_graph(source: bytes, pipefile: str, overrides: dict[str, str]):
    """parse(), then the graph of the tasks: (Settings, tasks, Graph)."""
    from .graph import Graph

    settings, tasks = parse(source, pipefile, overrides)
    graph = Graph.from_tasks(tasks, file=_shown(pipefile), locate=_locator(source))
    _check_default_targets(settings, graph, source, pipefile)
    return settings, tasks, graph


def _check_default_targets(settings, graph, source: bytes, pipefile: str) -> None:
    """Each default target must name something, as a target on the command line must."""
    from .errors import TargetError

    for target in settings.default:
        try:
            graph.match(target, what="default target")
        except TargetError as error:
            text = _text(source)
            validator = _Validator(text, _shown(pipefile), os.path.dirname(pipefile))
            raise validator.error(
                error.message,
                section="settings",
                key="default",
                hint="a target is a task name, a glob of task names or an output path",
            ) from None


def _locator(source: bytes):
    """A function (task, key) -> line number, for errors found after parsing."""

    def locate(task: str | None, key: str | None) -> int | None:
        return _find_line(_code_lines(_text(source)), task, key)

    return locate


def _text(source: bytes) -> str:
    """The Pipefile's text for finding lines in, without a byte-order mark."""
    return source.removeprefix(_BOM).decode("utf-8", "replace")


def _code_lines(text: str) -> list[str]:
    """The Pipefile's lines for finding keys in, those inside a multi-line string blanked:
    a `[ -e x ]` or `inputs=` line of a cmd = \"\"\"...\"\"\" is no table header and no key."""
    lines = text.splitlines()
    closing = None  # the delimiter of the multi-line string the line starts in
    for number, line in enumerate(lines):
        rest = line
        if closing is not None:
            lines[number] = ""
            end = line.find(closing)
            if end == -1:
                continue
            rest = line[end + 3 :]
        else:
            # as the finders compare them: tabs are spaces, a header's comment is gone
            lines[number] = _header_alone(line.replace("\t", " "))
        closing = _opens_string(rest)
    return lines


def _header_alone(line: str) -> str:
    """A table header line without what follows its closing bracket (a comment)."""
    start = line.lstrip()
    if not start.startswith("["):
        return line
    quote = None
    for i, c in enumerate(start):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "]":
            end = i + 2 if start.startswith("]]", i) else i + 1
            return start[:end]
    return line


def _opens_string(line: str) -> str | None:
    """The delimiter of a multi-line string that line opens and leaves open, if any."""
    i = 0
    while i < len(line):
        c = line[i]
        if c == "#":
            return None
        if c in "\"'":
            if line.startswith(c * 3, i):
                end = line.find(c * 3, i + 3)
                if end == -1:
                    return c * 3
                i = end + 3
                continue
            i += 1
            while i < len(line) and line[i] != c:  # a one-line string
                i += 2 if c == '"' and line[i] == "\\" else 1
        i += 1
    return None


def _find_line(lines: list[str], task: str | None, key: str | None) -> int | None:
    if task and key and "." in key:  # 'env.PATH': its own line if it has one, else env's
        table, _, name = key.partition(".")
        return _find_subkey_line(lines, task, table, name) or _find_line(lines, task, table)
    # compared with lines whose spaces are removed, so remove them here too
    header = (
        {
            h.replace(" ", "")
            for h in (f"[tasks.{task}]", f'[tasks."{task}"]', f"[tasks.'{task}']")
            for h in (h, f"[{h}]")  # [[tasks.a]] too, an array of tables by mistake
        }
        if task is not None
        else None
    )
    key_starts = _spellings(key, "=.") if key else ()  # and dotted: key.name = ...
    section_start = None
    for number, line in enumerate(lines, 1):
        stripped = line.strip().replace(" ", "")
        if header and stripped in header:
            section_start = number
            if key is None:
                return number
            continue
        if section_start is not None:
            if key and stripped in (f"[tasks.{task}.{key}]", f"[[tasks.{task}.{key}]]"):
                return number  # the key written as its own table, e.g. [tasks.a.env]
            if stripped.startswith("["):
                break
            if key and stripped.startswith(key_starts):
                return number
    if task:
        # dotted keys (tasks.a.cmd = ..., or a.cmd = ... under [tasks]), a sub-table
        # ([tasks.a.env] without [tasks.a]), inline tables (tasks.a = {...})
        starts = [f"{task}=", f"tasks.{task}=", f'"{task}"=']
        if key:
            starts = [
                *(f"{prefix}{task}.{key}{end}" for prefix in ("tasks.", "") for end in "=."),
                f"[tasks.{task}.{key}]",
                *starts,
            ]
        for start in starts:
            for number, line in enumerate(lines, 1):
                if line.strip().replace(" ", "").startswith(start):
                    return number
        if section_start is None:  # tasks = { a = { ... } }: the line that opens a's table
            for number, line in enumerate(lines, 1):
                stripped = line.strip().replace(" ", "")
                if stripped.startswith("tasks=") and (
                    f"{{{task}=" in stripped or f",{task}=" in stripped
                ):
                    return number
    return section_start


def _spellings(key: str, ends: str = "=") -> tuple[str, ...]:
    """How a line that sets key starts, as the finders compare lines (spaces removed):
    key, "key" or 'key', then one of ends."""
    written = (key, f'"{key}"', f"'{key}'")
    return tuple(f"{spelling}{end}".replace(" ", "") for spelling in written for end in ends)


def _find_subkey_line(lines: list[str], task: str, table: str, name: str) -> int | None:
    """The line of NAME = ... under [tasks.TASK.TABLE], or of TABLE.NAME = ... under
    [tasks.TASK]; None when it is written some other way (an inline table)."""
    names = _spellings(name)
    dotted = tuple(f"{table}.{n}" for n in names)
    in_tasks = tuple(f"{task}.{n}" for n in dotted)
    within = tuple(f"tasks.{n}" for n in in_tasks)  # tasks.a.env.X = ..., before any table
    for number, line in enumerate(lines, 1):
        stripped = line.strip().replace(" ", "")
        if stripped.startswith("["):
            within = {
                f"[tasks.{task}.{table}]": names,
                f'[tasks."{task}".{table}]': names,
                f"[tasks.{task}]": dotted,
                f'[tasks."{task}"]': dotted,
                "[tasks]": in_tasks,
            }.get(stripped)
        elif within and stripped.startswith(within):
            return number
    return None


class _Validator:
    def __init__(self, text: str, shown: str, root: str, name: str = FILENAME) -> None:
        self.text = text
        self._lines: list[str] | None = None
        self.file = shown
        self.root = root
        self.name = name  # the Pipefile's path relative to root (root is its directory)

    @property
    def lines(self) -> list[str]:
        """The Pipefile's lines for finding an error's line in: only an error needs them
        (splitting a 10,000-task Pipefile this way takes ~100 ms)."""
        if self._lines is None:
            self._lines = _code_lines(self.text)
        return self._lines

    def error(self, message, *, task=None, key=None, section=None, hint=None) -> PipefileError:
        line = None
        if task is not None:
            line = _find_line(self.lines, task, key)
        elif section:
            # [[vars]], vars = 5, [settings.x]: no [section] line, the section's own line
            line = self._section_line(section, key) or self._top_line(section)
        elif key:
            line = self._top_line(key)
        return PipefileError(message, file=self.file, line=line, task=task, key=key, hint=hint)

    def _section_line(self, section: str, key: str | None) -> int | None:
        inside = False
        found = None
        keys = _spellings(key) if key is not None else ()
        for number, line in enumerate(self.lines, 1):
            stripped = line.strip().replace(" ", "")
            if stripped == f"[{section}]":
                inside = True
                found = number
                continue
            if stripped.startswith("["):
                if inside:
                    break
                continue
            if inside and keys and stripped.startswith(keys):
                return number
            # settings.jobs = 0, written dotted above the tables
            if (
                not inside
                and stripped.startswith(f"{section}.")
                and (not keys or stripped[len(section) + 1 :].startswith(keys))
            ):
                return number
        return found

    def _top_line(self, key: str) -> int | None:
        """Line of a top-level key: its [key]/[key.x] header, or `key = ...` before any table."""
        in_table = False
        for number, line in enumerate(self.lines, 1):
            stripped = line.strip().replace(" ", "")
            if stripped.startswith(("[" + key + "]", "[" + key + ".", "[[" + key + "]]")):
                return number
            if stripped.startswith("["):
                in_table = True
            elif not in_table and stripped.startswith((key + "=", key + ".")):
                return number
        return None

    def unknown_keys(self, table: dict, allowed, *, task=None, section=None) -> None:
        for key in table:
            if key not in allowed:
                where = f"task '{task}'" if task else f"[{section}]" if section else "the top level"
                hint = f"keys allowed in {where}: {', '.join(allowed)}"
                synonym = SYNONYMS.get(key)
                if synonym in allowed:
                    # another tool's word for it: a surer guess than the closest spelling
                    suggestion = f", did you mean '{synonym}'?"
                    if synonym == "after":
                        hint = (
                            "'after' names tasks to run first; a file dependency goes in 'inputs'"
                        )
                else:
                    suggestion = did_you_mean(key, allowed)
                    if not suggestion:  # close to another tool's word: 'enviroment'
                        import difflib

                        words = [word for word, ours in SYNONYMS.items() if ours in allowed]
                        close = difflib.get_close_matches(key.lower(), words, n=1, cutoff=0.8)
                        if close:
                            suggestion = f", did you mean '{SYNONYMS[close[0]]}'?"
                if not suggestion and key in SETTINGS_KEYS and section != "settings":
                    # a key written above every table header, or under the wrong one
                    hint = f"'{key}' is a setting: write it under a [settings] line"
                elif not suggestion and key in TASK_KEYS and not task:
                    hint = f"'{key}' belongs to a task: write it under [tasks.NAME]"
                elif (
                    not task
                    and not section
                    and isinstance(table[key], dict)
                    and any(k in TASK_KEYS for k in table[key])
                ):  # [extract] with a cmd: a task without its [tasks.] prefix
                    hint = f"a task is declared as [tasks.{key}]"
                if (
                    task
                    and isinstance(table[key], dict)
                    and not suggestion
                    and self.is_table_header(task, key)
                ):
                    # [tasks.clean.users] is task 'clean' with a table 'users'
                    hint = f'a task name with a dot must be quoted: [tasks."{task}.{key}"]'
                raise self.error(
                    f"unknown key '{key}'{suggestion}",
                    task=task,
                    key=key,
                    section=section,
                    hint=hint,
                )

    def is_table_header(self, task: str, key: str) -> bool:
        """Whether a `[tasks.TASK.KEY]` (or `[tasks.TASK.KEY.more]`) header made key, which
        is what a task name with an unquoted dot gives, rather than `KEY = {...}`."""
        # headers as _find_line compares them, without spaces: "[tasks.a.b]", "[tasks.a.b.c]"
        headers = tuple(
            f"[tasks.{t}.{k}{end}"
            for t in (task, f'"{task}"', f"'{task}'")
            for k in (key, f'"{key}"', f"'{key}'")
            for end in ("]", ".")
        )
        return any(
            line.strip().replace(" ", "").replace("\t", "").startswith(headers)
            for line in self.lines
        )

    def validate(self, document: dict, overrides: dict[str, str]) -> tuple[Settings, tuple]:
        self.no_nul(document)
        self.unknown_keys(document, TOP_KEYS)
        settings = self.settings(document.get("settings", {}))
        variables = self.variables(document.get("vars", {}), overrides)
        global_env = self.env_table(document.get("env", {}), section="env")
        tasks_table = document.get("tasks")
        if not isinstance(tasks_table, dict) or not tasks_table:
            raise self.error(
                "no tasks defined"
                if tasks_table is None or tasks_table == {}
                else "'tasks' must be a table",
                key=None if tasks_table is None else "tasks",
                hint='add a task, e.g. [tasks.hello] with cmd = "echo hello"',
            )
        tasks = tuple(
            self.task(name, body, settings, variables, global_env)
            for name, body in tasks_table.items()
        )
        return settings, tasks

    def settings(self, table) -> Settings:
        if not isinstance(table, dict):
            raise self.error(
                "[settings] must be a table",
                key="settings",
                hint="write [settings] on its own line",
            )
        self.unknown_keys(table, SETTINGS_KEYS, section="settings")
        jobs = table.get("jobs")
        if jobs is not None and (type(jobs) is not int or jobs < 1):
            raise self.error(
                f"'jobs' must be a whole number of at least 1, not {_toml_spelling(jobs)}",
                section="settings",
                key="jobs",
            )
        shell = self.typed(table, "shell", str, "a string (a path to a shell)", section="settings")
        if shell is not None and (not shell.strip() or shell != shell.strip()):
            raise self.error(
                "'shell' must name a shell, not be empty or padded with spaces",
                section="settings",
                key="shell",
                hint='leave it out for /bin/sh, or name one: shell = "/bin/bash"',
            )
        if (
            shell is not None
            and len(shell.split()) > 1  # spaces or tabs
            and not os.path.exists(os.path.join(self.root, shell))
        ):
            program, options = shell.split(maxsplit=1)
            raise self.error(
                f"'shell' must be a program, not a command line ('{shell}')",
                section="settings",
                key="shell",
                hint=f'dagmake runs SHELL -c CMD: write shell = "{program}" and start each '
                f"cmd with `set {options.strip()};`"
                if options.strip().startswith("-")
                else f'write shell = "{program}"',
            )
        default = self.string_list(table, "default", section="settings")
        on_failure = self.typed(
            table, "on_failure", str, "a string (a shell command)", section="settings"
        )
        on_success = self.typed(
            table, "on_success", str, "a string (a shell command)", section="settings"
        )
        return Settings(jobs, shell or "/bin/sh", default or (), on_failure, on_success)

    def no_nul(self, document: dict) -> None:
        """Reject a NUL character in any key or string: no command, path, environment
        variable or argument can hold one (the OS would refuse it mid-build)."""
        # TOML refuses a raw NUL, so only an escape can make one: without one, skip the walk
        if "\\u0000" not in self.text and "\\U00000000" not in self.text:
            return
        path = _first_nul(document, ())
        if path is None:
            return
        shown = [part.replace("\0", "\\u0000") for part in path]
        hint = "remove it: commands, paths and environment variables cannot contain NUL"
        if path[0] == "tasks" and len(path) == 2:
            raise self.error(
                f"task name '{shown[1]}' contains a NUL character", section="tasks", hint=hint
            )
        if path[0] == "tasks" and len(path) > 2:
            raise self.error(
                f"'{'.'.join(shown[2:])}' contains a NUL character",
                task=path[1],
                key=path[2],
                hint=hint,
            )
        if len(path) == 1:
            raise self.error(f"key '{shown[0]}' contains a NUL character", hint=hint)
        raise self.error(
            f"'{'.'.join(shown)}' contains a NUL character",
            section=path[0],
            key=path[1],
            hint=hint,
        )

    def variables(self, table, overrides: dict[str, str]) -> dict[str, str]:
        raw = dict(self.string_table(table, section="vars"))
        for name in raw:
            if not is_name(name):
                raise self.error(
                    f"var name '{name}' cannot be used: {{{{{name}}}}} is not a placeholder",
                    section="vars",
                    key=name,
                    hint="a var's name is letters, digits, '_' and '-'",
                )
            if name in BUILTINS:
                raise self.error(
                    f"'{name}' is a built-in placeholder and cannot be redefined",
                    section="vars",
                    key=name,
                    hint="choose another name",
                )
        for name in sorted(overrides):
            if name in BUILTINS:
                raise UsageError(
                    f"'{name}={overrides[name]}': '{name}' is a built-in placeholder "
                    "and cannot be set on the command line",
                    hint="{{inputs}}, {{outputs}} and {{task}} are filled in for each task; "
                    "override a [vars] entry with another name",
                )
            if name not in raw:
                # a typo must not silently build with the Pipefile's value
                word = f"{name}={overrides[name]}"
                suggestion = did_you_mean(name, raw)
                raise UsageError(
                    f"'{word}': {self.file} has no var '{name}'{suggestion}",
                    hint="NAME=value overrides an entry of [vars]"
                    + (f"; the vars are: {', '.join(sorted(raw))}" if raw else "")
                    + ("" if suggestion else f"; a target with '=' in it is written ./{word}"),
                )
        raw.update(overrides)
        resolved: dict[str, str] = {}

        def resolve(name: str, chain: tuple[str, ...]) -> str:
            if name in resolved:
                return resolved[name]
            if name in chain:
                members = chain[chain.index(name) :]
                message = f"vars refer to each other in a cycle: {' -> '.join((*members, name))}"
                given = [member for member in members if member in overrides]
                if given:  # the fault is on the command line, not in the Pipefile
                    raise UsageError(f"'{given[0]}={overrides[given[0]]}': {message}")
                raise self.error(message, section="vars", key=name)
            # built-ins stay as placeholders here and are filled in per task
            known = {b: "{{" + b + "}}" for b in BUILTINS}
            for inner in names_in(raw[name]):
                if inner in raw:
                    known[inner] = resolve(inner, (*chain, name))
            try:
                try:
                    resolved[name] = expand(
                        raw[name], known, task=None, field=f"vars.{name}", file=self.file
                    )
                except PipefileError:
                    # again, knowing every var: suggestions and the hint name them all
                    everything = {**dict.fromkeys(set(raw) - {name}, ""), **known}
                    expand(raw[name], everything, task=None, field=f"vars.{name}", file=self.file)
                    raise
            except PipefileError as error:
                if name in overrides:
                    message = error.message.replace(f" in 'vars.{name}'", "")
                    raise UsageError(f"'{name}={overrides[name]}': {message}", hint=error.hint)
                error.line = self._section_line("vars", name)
                raise
            return resolved[name]

        try:
            for name in raw:
                resolve(name, ())
        except RecursionError:
            # a chain of vars deeper than Python's stack: resolve the innermost first
            try:
                for name in _innermost_first(raw):
                    resolve(name, ())
            except RecursionError:
                raise self.error(
                    "vars refer to each other too deeply (a cycle of hundreds of vars?)",
                    section="vars",
                ) from None
        return resolved

    def typed(self, table, key, kind, expected, *, task=None, section=None):
        value = table.get(key)
        if value is None:
            return None
        ok = type(value) in _NUMBERS if kind is float else type(value) is kind
        if not ok:
            raise self.error(
                f"'{key}' must be {expected}, not {_type_name(value)} {_short(value)}",
                task=task,
                key=key,
                section=section,
            )
        return value

    def string_list(self, table, key, *, task=None, section=None) -> tuple[str, ...] | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            example = (
                f'{key} = ["{value}"]'
                if isinstance(value, str) and value.strip()
                else f'{key} = ["a", "b"], or {key} = [] for none'
            )
            raise self.error(
                f"'{key}' must be a list of non-empty strings, "
                f"not {_type_name(value)} {_short(value)}",
                task=task,
                key=key,
                section=section,
                hint=f"write {example}",
            )
        return tuple(value)

    def string_table(self, table, *, task=None, section=None, key=None) -> dict[str, str]:
        if not isinstance(table, dict):
            raise self.error(
                f"'{key or section}' must be a table of strings, not {_type_name(table)}",
                task=task,
                key=key,
                section=section,
                hint='write NAME = "value" pairs',
            )
        result = {}
        within = key or section  # 'env.PATH' of a task, 'vars.raw' or 'env.PATH' at the top
        for name, value in table.items():
            if type(value) is _Float:
                value = value.written  # 3.10 stays "3.10", not "3.1"
            elif type(value) in (int, float):
                value = str(value)
            if not isinstance(value, str):
                raise self.error(
                    f"'{within + '.' if within else ''}{name}' must be a string, "
                    f"not {_type_name(value)}",
                    task=task,
                    key=f"{key}.{name}" if key else name,
                    section=section,
                )
            result[name] = value
        return result

    def env_table(self, table, *, task=None, section=None) -> dict[str, str]:
        """A task's `env` or the [env] table: strings under names the OS accepts."""
        env = self.string_table(table, task=task, section=section, key="env" if task else None)
        for name in env:
            problem = "it is empty" if not name else "it contains '='" if "=" in name else None
            if problem is not None:
                where = "'env'" if task else "[env]"
                raise self.error(
                    f"invalid environment variable name {name!r} in {where}: {problem}",
                    task=task,
                    key=f"env.{name}" if task else name,
                    section=section,
                    hint="a name must be non-empty and contain neither '=' nor a NUL character, "
                    'e.g. API_URL = "..."',
                )
        return env

    def seconds(self, body, key, *, task) -> float | None:
        """A task's number of seconds (`timeout`, `retry_delay`), refused unless finite."""
        value = self.typed(body, key, float, "a number of seconds", task=task)
        if value is None:
            return None
        value = _as_float(value)
        if not math.isfinite(value):
            raise self.error(
                f"'{key}' must be a finite number of seconds, not {value}",
                task=task,
                key=key,
                hint="leave 'timeout' out for no time limit"
                if key == "timeout"
                else f"write a number of seconds, e.g. {key} = 5",
            )
        return value

    def check_glob(self, pattern: str, task: str) -> None:
        from .files import GlobError, compile_glob

        try:
            compile_glob(pattern)
        except GlobError as error:
            raise self.error(
                f"input glob '{pattern}': {error}",
                task=task,
                key="inputs",
                hint="write a range from low to high, as in [a-z] or [0-9]",
            )

    def task(self, name, body, settings: Settings, variables, global_env) -> Task:
        if not name or not _NAME_CHARS.issuperset(name) or name[0] in "-.":
            raise self.error(
                f"task name '{name}' may only use ASCII letters, digits, '_', '-' and '.', "
                "and may not start with '-' or '.'",
                task=name,
                hint="rename the task, e.g. [tasks.clean_users]",
            )
        if len(name) > MAX_NAME_BYTES:  # ASCII by now: one byte a character
            error = self.error(
                f"task name is {len(name)} characters long, more than the {MAX_NAME_BYTES} allowed",
                task=name,
                hint="choose a shorter name: its log is .dagmake/logs/<task name>.log, "
                "and file systems limit the length of a file name",
            )
            error.task = f"{name[:40]}..."  # the line is found; the message need not repeat it
            raise error
        if not isinstance(body, dict):
            hint = f"write [tasks.{name}] followed by its keys"
            if name in TASK_KEYS:  # [tasks] then cmd = "...": the task has no name
                hint = f"'{name}' is a key of a task, which needs a name: [tasks.NAME], then {name}"
            raise self.error(f"must be a table, not {_type_name(body)}", task=name, hint=hint)
        self.unknown_keys(body, TASK_KEYS, task=name)
        help_text = self.typed(body, "help", str, "a string", task=name) or ""
        cmd = body.get("cmd")
        if cmd is not None and not (
            isinstance(cmd, str)
            or (isinstance(cmd, list) and cmd and all(isinstance(c, str) for c in cmd))
        ):
            raise self.error(
                "'cmd' must be a string or a non-empty list of strings, "
                f"not {_type_name(cmd)} {_short(cmd)}",
                task=name,
                key="cmd",
            )
        python = self.typed(body, "python", str, 'a string "module:function"', task=name)
        if cmd is not None and python is not None:
            raise self.error(
                "has both 'cmd' and 'python'",
                task=name,
                key="python",
                hint="a task runs one of them; split it into two tasks",
            )
        if python is not None:
            module, sep, function = python.partition(":")
            if (
                not sep
                or not module
                or not function
                or not all(
                    part.isidentifier() for part in (*module.split("."), *function.split("."))
                )
            ):
                dotted = module.removesuffix(".py").replace("/", ".").strip(".")
                raise self.error(
                    f"'python' must look like \"package.module:function\", not {python!r}",
                    task=name,
                    key="python",
                    hint=f'name the module, not its file: python = "{dotted}:{function}"'
                    if ("/" in module or module.endswith(".py")) and dotted and function
                    else None,
                )
        inputs = self.string_list(body, "inputs", task=name) or ()
        outputs = self.string_list(body, "outputs", task=name) or ()
        after = self.string_list(body, "after", task=name) or ()
        task_env = self.env_table(body.get("env", {}), task=name)
        cwd = self.typed(body, "cwd", str, "a string (a directory)", task=name) or "."
        retries = self.typed(body, "retries", int, "a whole number", task=name) or 0
        if retries < 0:
            raise self.error("'retries' must be 0 or more", task=name, key="retries")
        retry_delay = self.seconds(body, "retry_delay", task=name)
        retry_delay = 1.0 if retry_delay is None else retry_delay
        if retry_delay < 0:
            raise self.error("'retry_delay' must be 0 or more", task=name, key="retry_delay")
        timeout = self.seconds(body, "timeout", task=name)
        if timeout is not None and timeout <= 0:
            raise self.error("'timeout' must be more than 0 seconds", task=name, key="timeout")
        always = self.typed(body, "always", bool, "true or false", task=name) or False
        resources = body.get("resources", {})
        if isinstance(resources, dict):
            for resource, amount in resources.items():
                if type(amount) in _NUMBERS and amount < 0:
                    raise self.error(
                        f"'resources.{resource}' must be 0 or more, not {_toml_spelling(amount)}",
                        task=name,
                        key="resources",
                    )
        if not isinstance(resources, dict) or not all(
            type(v) in _NUMBERS for v in resources.values()
        ):
            raise self.error(
                "'resources' must be a table of numbers, e.g. { cpu = 2, memory_gb = 8 }",
                task=name,
                key="resources",
            )
        resources = {k: _as_float(v) for k, v in resources.items()}
        for resource, amount in resources.items():
            if not math.isfinite(amount):
                raise self.error(
                    f"'resources.{resource}' must be a finite number, not {amount}",
                    task=name,
                    key="resources",
                )

        values = {**variables, "task": name}
        written_outputs = outputs
        inputs = tuple(
            self.path(
                self.fill(p, values, task=name, field="inputs", file=self.file), name, "inputs"
            )
            for p in inputs
        )
        outputs = tuple(
            self.path(
                self.fill(p, values, task=name, field="outputs", file=self.file), name, "outputs"
            )
            for p in outputs
        )
        cwd = self.path(self.fill(cwd, values, task=name, field="cwd", file=self.file), name, "cwd")
        for path in inputs:
            if is_glob(path):
                self.check_glob(path, name)
            if self.contains_project(path):
                raise self.error(
                    f"input '{path}' contains the whole project, the task's own outputs included",
                    task=name,
                    key="inputs",
                    hint="name the files or subdirectories the task reads",
                )
        own_file = self.name
        for output in outputs:
            if output == own_file:
                raise self.error(
                    f"output '{output}' is the Pipefile itself",
                    task=name,
                    key="outputs",
                    hint="remove it from 'outputs': dagmake --clean deletes outputs; "
                    "to generate the Pipefile, keep the generator outside dagmake",
                )
            if output == ".dagmake" or output.startswith(".dagmake/"):
                raise self.error(
                    f"output '{output}' is inside .dagmake/, where dagmake keeps its state",
                    task=name,
                    key="outputs",
                    hint="write it elsewhere in the project: dagmake --clean deletes outputs, "
                    "and dagmake overwrites what is in .dagmake/",
                )
            if "*" in output or "?" in output or "[" in output:
                raise self.error(
                    f"output '{output}' is a glob; outputs must be plain paths",
                    task=name,
                    key="outputs",
                    hint="list each output file, or output a directory",
                )
            if output.startswith("../") or output == ".." or posixpath.isabs(output):
                raise self.error(
                    f"output '{output}' is outside the project directory",
                    task=name,
                    key="outputs",
                    hint="outputs must lie inside the directory of Pipefile.toml",
                )
            if output == ".":
                written = written_outputs[outputs.index(output)]
                raise self.error(
                    "the project directory itself cannot be an output"
                    + (
                        f" ('{written}', once its placeholders are filled in)"
                        if "{{" in written
                        else ""
                    ),
                    task=name,
                    key="outputs",
                    hint="an output is a file or directory inside the project",
                )
        if python is None and cmd is None and outputs:
            raise self.error(
                "has outputs but no 'cmd' or 'python' to create them",
                task=name,
                key="outputs",
                hint="add a cmd, or remove outputs to make it a group of its 'after' tasks",
            )
        env_values = _CommandValues(values, inputs, outputs, cwd, self.root)
        env = {**global_env, **task_env}
        try:
            env = tuple(
                (k, self.fill(v, env_values, task=name, field=f"env.{k}", file=self.file))
                for k, v in env.items()
            )
        except PipefileError as error:
            shared = next((k for k in env if f"'env.{k}'" in error.message), None)
            if shared is None or shared in task_env:
                raise
            # a value of the top-level [env], filled in for each task: blame it there
            raise self.error(
                error.message.replace(f"'env.{shared}'", f"[env] '{shared}'"),
                section="env",
                key=shared,
                hint=error.hint,
            ) from None
        if python is not None:
            action = PythonAction(python)
        elif cmd is not None:
            lines = [cmd] if isinstance(cmd, str) else cmd
            command_values = _CommandValues(
                values, inputs, outputs, cwd, self.root, mark_globs=True
            )
            commands = tuple(
                self.fill(line, command_values, task=name, field="cmd", file=self.file)
                for line in lines
            )
            # an empty or blank command, as written or once a placeholder is filled in with
            # nothing (strip() returns the very string when there is nothing to strip: no copy)
            if not all(map(str.strip, commands)):
                raise self.empty_command(name, cmd, commands)
            action = ShellAction(commands, settings.shell)
        else:
            action = None
        return Task(
            name,
            action,
            inputs,
            outputs,
            after,
            env,
            cwd,
            retries,
            retry_delay,
            timeout,
            always,
            help_text,
            tuple(sorted(resources.items())),
        )

    def empty_command(self, task: str, cmd, commands: tuple) -> PipefileError:
        """The error for the first of commands (cmd, its placeholders filled in) that is empty
        or blank: as written, or only once its placeholders are filled in."""
        index = next(i for i, command in enumerate(commands) if not command.strip())
        what = "'cmd'" if isinstance(cmd, str) else f"command {index + 1} of 'cmd'"
        written = cmd if isinstance(cmd, str) else cmd[index]
        if written.strip():  # empty only once its placeholders are filled in
            message = f"{what} is empty once its placeholders are filled in ({written!r})"
            fix = "check what its placeholders hold"
        else:
            message = f"{what} is empty"
            fix = "write the command" if isinstance(cmd, str) else "remove the empty command"
        hint = f"{fix}, or remove 'cmd' to make the task a group of its 'after' tasks"
        return self.error(message, task=task, key="cmd", hint=hint)

    def fill(self, text: str, values, *, task: str, field: str, file: str) -> str:
        """Expand placeholders; a second pass fills built-ins that came in through a var."""
        if "{{" not in text:
            return text
        written = text
        try:
            text = expand(text, values, task=task, field=field, file=file)
            if "{{" in text:
                text = expand(text, values, task=task, field=field, file=file)
        except PipefileError as error:
            # expand() knows the field, not the line ("env.X": X's own line if it has one)
            error.line = _find_line(self.lines, task, field)
            # the first name it lacks: in what was written, else in what a var brought in
            unknown = next(
                (n for n in (*names_in(written), *names_in(text)) if n not in values), None
            )
            if unknown in ("inputs", "outputs") and error.message.startswith("unknown placeholder"):
                # in inputs, outputs and cwd: a task's paths cannot be made of its paths
                error.message = (
                    f"'{{{{{unknown}}}}}' cannot be used in '{field}': "
                    "{{inputs}} and {{outputs}} are only available in 'cmd' and 'env'"
                )
                error.hint = (
                    "write the paths themselves, or put them in a [vars] entry "
                    "and use that here and in 'cmd'"
                )
            raise
        return text

    def contains_project(self, path: str) -> bool:
        """Whether path is the project directory or one of its parents."""
        if path == ".":
            return True
        if not (path == ".." or path.startswith("../") or posixpath.isabs(path)):
            return False
        root = posixpath.normpath(self.root)
        full = posixpath.normpath(posixpath.join(root, path))  # `../../proj` climbs, then names
        return (root.rstrip("/") + "/").startswith(full.rstrip("/") + "/")

    def path(self, value: str, task: str, key: str) -> str:
        """The path as the graph compares it: normalised, and relative to the project
        when it lies inside (`/abs/project/a.txt` and `../project/a.txt` are `a.txt`)."""
        if "{{" in value:
            raise self.error(f"placeholder left in '{key}': {value!r}", task=task, key=key)
        if (
            value[:1] not in ("", ".", "/")
            and value[-1] != "/"
            and "//" not in value
            and "/." not in value
        ):
            return value  # already normal (the usual case): normpath() would return it as it is
        path = posixpath.normpath(value)
        if posixpath.isabs(path) or path == ".." or path.startswith("../"):
            root = posixpath.normpath(self.root)
            full = posixpath.normpath(posixpath.join(root, path))
            if full == root:
                return "."
            if full.startswith(root.rstrip("/") + "/"):
                return posixpath.relpath(full, root)
            if posixpath.isabs(path):
                from .files import under_root_alias

                return under_root_alias(root, full) or path
        return path


def _first_nul(value, path: tuple) -> tuple | None:
    """The keys leading to the first key or string in value that holds a NUL, or None."""
    if isinstance(value, str):
        return path if "\0" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\0" in key:
                return (*path, key)
            found = _first_nul(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _first_nul(item, path)
            if found is not None:
                return found
    return None


def _innermost_first(raw: dict[str, str]) -> list[str]:
    """The vars ordered so that each comes after the vars it refers to (cycles aside)."""
    order: list[str] = []
    visited: set[str] = set()
    for first in raw:
        if first in visited:
            continue
        visited.add(first)
        stack = [(first, iter(names_in(raw[first])))]
        while stack:
            name, inner = stack[-1]
            for child in inner:
                if child in raw and child not in visited:
                    visited.add(child)
                    stack.append((child, iter(names_in(raw[child]))))
                    break
            else:
                stack.pop()
                order.append(name)
    return order


class _Float(float):
    """A TOML float that remembers how the Pipefile wrote it: a number in [env] or [vars]
    is taken as written, and `PYVER = 3.10` must not become "3.1"."""

    def __new__(cls, written: str):
        value = super().__new__(cls, written.replace("_", ""))
        value.written = written
        return value


_NUMBERS = (int, float, _Float)


def _as_float(value) -> float:
    """A TOML number as a float; an integer beyond a float's range becomes the largest float."""
    try:
        return float(value)
    except OverflowError:
        return sys.float_info.max


class _CommandValues(dict):
    """The placeholders of a task's cmd or env: its vars, and {{inputs}}/{{outputs}}
    (relative to its working directory), quoted only when a command uses them.

    mark_globs (for cmd): a glob input is marked, to be expanded when the command starts.
    """

    def __init__(self, values: dict, inputs, outputs, cwd: str, root: str, *, mark_globs=False):
        super().__init__(values, inputs=None, outputs=None)
        self.paths = {"inputs": inputs, "outputs": outputs}
        self.cwd = cwd
        self.root = root
        self.mark_globs = mark_globs

    def __getitem__(self, name: str) -> str:
        value = super().__getitem__(name)
        if value is None and name in self.paths:
            from .files import relative_to_cwd

            paths = [relative_to_cwd(self.root, p, self.cwd) for p in self.paths[name]]
            value = quote_all(paths, mark_globs=self.mark_globs)
            self[name] = value
        return value


def _type_name(value) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        _Float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "a table",
    }.get(type(value)) or _DATE_NAMES.get(type(value).__name__, type(value).__name__)


# TOML's dates and times, named as TOML does (their Python classes are not imported here)
_DATE_NAMES = {"date": "a date", "datetime": "a date-time", "time": "a time"}


def _short(value) -> str:
    text = _toml_spelling(value)
    return f"({text})" if len(text) <= 40 else f"({text[:37]}...)"


def _toml_spelling(value) -> str:
    """A value as the Pipefile writes it: true, not Python's True."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if type(value) is _Float:
        return value.written
    if type(value).__name__ in _DATE_NAMES:
        return value.isoformat()
    return repr(value)
