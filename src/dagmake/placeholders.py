"""Expand {{name}} placeholders, and quote paths for the shell."""

from __future__ import annotations

from .errors import PipefileError

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


def quote(word: str) -> str:
    """Quote one word for a POSIX shell (what shlex.quote does, without importing re)."""
    if word and _SAFE.issuperset(word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


# A glob among a command's {{inputs}} is kept between two of these (no Pipefile value
# can hold a NUL), to be replaced by the files it matches when the command starts.
GLOB_MARK = "\0"


def quote_all(words, *, mark_globs: bool = False) -> str:
    """Quote each word and join with spaces. A glob's wildcards stay unquoted for the
    shell to expand, its literal parts are quoted (`'my data/'*.csv`); with mark_globs a
    glob is marked instead, for expand_globs()."""
    return " ".join(
        (f"{GLOB_MARK}{w}{GLOB_MARK}" if mark_globs else _quote_glob(w))
        if _is_glob(w)
        else quote(w)
        for w in words
    )


def shell_form(command: str) -> str:
    """command with each marked glob written as a pattern for the shell, as shown to
    people and as hashed into the task's definition."""
    if GLOB_MARK not in command:
        return command
    parts = command.split(GLOB_MARK)
    return "".join(_quote_glob(part) if i % 2 else part for i, part in enumerate(parts))


def expand_globs(command: str, matches) -> str:
    """command with each marked glob replaced by the files matches(pattern) returns,
    quoted: `**` then means any depth, as it does for staleness (sh reads it as `*`).
    A glob that matches nothing is left to the shell as a pattern."""
    if GLOB_MARK not in command:
        return command
    parts = command.split(GLOB_MARK)
    for i in range(1, len(parts), 2):
        found = matches(parts[i])
        parts[i] = " ".join(map(quote, found)) if found else _quote_glob(parts[i])
    return "".join(parts)


def _is_glob(word: str) -> bool:
    return "*" in word or "?" in word or "[" in word


def _quote_glob(word: str) -> str:
    out = []
    literal = ""
    i = 0
    while i < len(word):
        c = word[i]
        wildcard = c if c in "*?" else ""
        if c == "[":
            # a bracket class, as fnmatch reads it: a `]` right after `[` (or `[!`) is a
            # member, as is `[` (`[[]` matches a literal `[`)
            start = i + 2 if word[i + 1 : i + 2] in ("!", "^") else i + 1
            end = word.find("]", start + 1)
            if end != -1 and all(x in _SAFE or x in "!^[]" for x in word[i + 1 : end]):
                wildcard = word[i : end + 1]
        if wildcard:
            if literal:
                out.append(quote(literal))
                literal = ""
            out.append(wildcard)
            i += len(wildcard)
            continue
        literal += c
        i += 1
    if literal:
        out.append(quote(literal))
    return "".join(out)


_NAME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def is_name(text: str) -> bool:
    """Whether {{text}} is a placeholder: a name TOML could write as a bare key.

    Anything else between braces ({{.Name}}, {{ json .Config }}: Go templates for docker
    or kubectl) is left as it is written.
    """
    return bool(text) and _NAME.issuperset(text)


def names_in(text: str) -> list[str]:
    """The placeholder names used in text, in order."""
    names = []
    start = text.find("{{")
    while start != -1:
        end = text.find("}}", start + 2)
        if end == -1:
            break
        name = text[start + 2 : end].strip()
        if is_name(name):
            names.append(name)
        start = text.find("{{", end + 2)
    return names


# Far more than any command line takes (Linux allows one argument 128 KiB): vars that
# each repeat the one before would otherwise double until memory runs out.
MAX_EXPANDED = 2**20


def expand(text: str, values: dict[str, str], *, task: str | None, field: str, file: str) -> str:
    """Replace each {{name}} in text with values[name]; an unknown name is a Pipefile error."""
    if "{{" not in text:
        return text
    parts = []
    position = 0
    size = len(text)
    while True:
        start = text.find("{{", position)
        if start == -1:
            break
        end = text.find("}}", start + 2)
        if end == -1:
            raise PipefileError(
                f"'{field}' has an unclosed placeholder: {text!r}",
                file=file,
                task=task,
                key=field,
                hint="write placeholders as {{name}}",
            )
        name = text[start + 2 : end].strip()
        if not is_name(name):  # not a placeholder: kept as written
            parts.append(text[position : end + 2])
            position = end + 2
            continue
        if name not in values:
            from .errors import did_you_mean

            known = ", ".join(sorted(values)) or "none"
            raise PipefileError(
                f"unknown placeholder '{{{{{name}}}}}' in '{field}'{did_you_mean(name, values)}",
                file=file,
                task=task,
                key=field,
                hint=f"define it under [vars] (known here: {known})",
            )
        parts.append(text[position:start])
        parts.append(values[name])
        size += len(values[name])
        if size > MAX_EXPANDED:
            raise PipefileError(
                f"'{field}' grows past {MAX_EXPANDED // 2**20} MiB once its placeholders "
                "are filled in",
                file=file,
                task=task,
                key=field,
                hint="check the [vars] it uses: one that repeats another var twice "
                "doubles it, and a chain of such vars grows without bound",
            )
        position = end + 2
    parts.append(text[position:])
    return "".join(parts)


def parse_override(word: str) -> tuple[str, str] | None:
    """Split a command-line `NAME=value` var override, or return None if word is not one."""
    name, sep, value = word.partition("=")
    # any name a var can have (my-var, 1x); one starting with '-' is an option
    if not sep or not is_name(name) or name.startswith("-"):
        return None
    return name, value
