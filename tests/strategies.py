"""Hypothesis strategies: random Pipefiles (any TOML, anywhere), random task graphs, valid DAGs."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from dagmake.pipefile import SETTINGS_KEYS, TASK_KEYS

# --- TOML text ---------------------------------------------------------------------------

# Strings a Pipefile's fields react to: placeholders (known, unknown, unclosed), paths that
# escape, globs, shells, callables, the empty string.
INTERESTING = [
    "",
    ".",
    "..",
    "../x",
    "/abs/x",
    "a/../../x",
    "data",
    "data/x.csv",
    "data/*.csv",
    "data/**",
    "[",
    "{{inputs}}",
    "{{outputs}}",
    "{{task}}",
    "{{raw}}/x",
    "{{nope}}",
    "{{",
    "}}",
    "{{ raw }}",
    "pkg.mod:func",
    "mod:",
    ":f",
    "/bin/sh",
    "echo hi > {{outputs}}",
    "a",
    "b",
    "-x",
    "x y",
    "\u00e9\u6570",
    "tab\there",
    "new\nline",
]

_text = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=12)
strings = st.one_of(st.sampled_from(INTERESTING), _text)
scalars = st.one_of(
    strings,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=3)
    ),
    max_leaves=8,
)


def _rarely(draw) -> bool:
    """True about one time in twenty: how often a random document goes wrong at one place.

    (A middle value: Hypothesis draws the ends of a range far more often than 1 in 20.)
    """
    return draw(st.integers(0, 19)) == 13


@st.composite
def _keys(draw, known) -> list[str]:
    """Keys the table allows, and sometimes a misspelt or random one among them."""
    keys = draw(st.lists(st.sampled_from(known), max_size=len(known), unique=True))
    if _rarely(draw):
        wrong = draw(st.one_of(st.sampled_from(["input", "cmds", "Jobs"]), strings))
        keys.insert(draw(st.integers(0, len(keys))), wrong)
    return list(dict.fromkeys(keys))


@st.composite
def _field_value(draw, key: str):
    """A value for key: mostly of a plausible shape (and often still wrong), rarely any value."""
    plausible = {
        "cmd": st.one_of(strings, st.lists(strings, max_size=3)),
        "python": st.sampled_from(["pkg.mod:func", "mod:", "x", "a.b:c.d"]),
        "inputs": st.lists(strings, max_size=3),
        "outputs": st.lists(strings, max_size=3),
        "after": st.lists(st.one_of(task_names, strings), max_size=3),
        "default": st.lists(task_names, max_size=1),
        "env": st.dictionaries(strings, strings, max_size=2),
        "resources": st.dictionaries(strings, st.integers(-1, 4), max_size=2),
        "retries": st.integers(0, 3),
        "retry_delay": st.floats(0, 2),
        "timeout": st.one_of(st.integers(1, 3), st.floats(0.5, 3)),
        "jobs": st.integers(1, 4),
        "always": st.booleans(),
        "help": strings,
        "cwd": strings,
        "shell": strings,
    }.get(key, strings)
    return draw(values) if _rarely(draw) else draw(plausible)


@st.composite
def _table(draw, known) -> dict:
    table = {key: draw(_field_value(key)) for key in draw(_keys(known))}
    if "cmd" in table and "python" in table and not _rarely(draw):
        del table["python"]
    return table


task_names = st.sampled_from(["a", "b", "c", "d.e", "f-g", "_h"])


@st.composite
def documents(draw) -> dict:
    """A TOML document shaped like a Pipefile, wrong in a few random places."""
    document: dict = {}
    for key in ("settings", "vars", "env"):
        if draw(st.booleans()):
            document[key] = draw(values) if _rarely(draw) else None
    if document.get("settings", 0) is None:
        document["settings"] = draw(_table(SETTINGS_KEYS))
    for key in ("vars", "env"):
        if document.get(key, 0) is None:
            document[key] = draw(
                st.dictionaries(st.sampled_from(["raw", "x", "dir"]), strings, max_size=3)
            )
    if _rarely(draw):
        document[draw(st.sampled_from(["task", "Tasks", "setting"]))] = draw(values)
    if _rarely(draw):
        document["tasks"] = draw(values)
    else:
        names = draw(st.lists(task_names, min_size=1, max_size=4, unique=True))
        if _rarely(draw):
            names.append(draw(strings))
        document["tasks"] = {
            name: draw(values) if _rarely(draw) else draw(_table(TASK_KEYS)) for name in names
        }
    return document


def toml(document: dict) -> str:
    """Serialize a document (tables as [headers], deeper ones inline) as TOML text."""
    lines = []
    plain = {k: v for k, v in document.items() if not isinstance(v, dict)}
    for key, value in plain.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in document.items():
        if isinstance(value, dict):
            _table_lines(lines, [key], value)
    return "\n".join(lines) + "\n"


def _table_lines(lines: list[str], path: list[str], table: dict) -> None:
    lines.append("[" + ".".join(_key(k) for k in path) + "]")
    subtables = {}
    for key, value in table.items():
        if isinstance(value, dict) and path == ["tasks"]:
            subtables[key] = value
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in subtables.items():
        _table_lines(lines, [*path, key], value)


def _key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    return value.isoformat()  # date, datetime


# --- task graphs -------------------------------------------------------------------------

FILES = ["a", "b", "c", "d", "d/e", "d/f"]


@st.composite
def graphs(draw, *, max_tasks: int = 6) -> list[dict]:
    """Tasks over a few shared file names, so duplicate outputs, cycles, a task reading its own
    output (or one inside its output directory) and unknown `after` names all come up."""
    count = draw(st.integers(1, max_tasks))
    names = [f"t{i}" for i in range(count)]
    tasks = []
    for name in names:
        tasks.append(
            {
                "name": name,
                "inputs": draw(st.lists(st.sampled_from(FILES), max_size=2, unique=True)),
                "outputs": draw(st.lists(st.sampled_from(FILES), max_size=2, unique=True)),
                "after": draw(st.lists(st.sampled_from([*names, "nope"]), max_size=2, unique=True)),
            }
        )
    return tasks


def graph_toml(tasks: list[dict]) -> str:
    lines = []
    for task in tasks:
        lines += [
            f"[tasks.{task['name']}]",
            'cmd = "true"',
            f"inputs = {json.dumps(task['inputs'])}",
            f"outputs = {json.dumps(task['outputs'])}",
            f"after = {json.dumps(task['after'])}",
        ]
    return "\n".join(lines) + "\n"


SOURCES = ["s0.txt", "s1.txt", "s2.txt"]


@st.composite
def dags(draw, *, max_tasks: int = 7, after: bool = True) -> list[dict]:
    """A valid pipeline: each task reads sources and earlier tasks' outputs, writes 1-2 files,
    and (with after) sometimes waits for an earlier task without reading its files."""
    count = draw(st.integers(1, max_tasks))
    tasks: list[dict] = []
    for index in range(count):
        earlier_outputs = [path for task in tasks for path in task["outputs"]]
        inputs = draw(st.lists(st.sampled_from(SOURCES + earlier_outputs), max_size=3, unique=True))
        waits = []
        if after and tasks:
            waits = draw(st.lists(st.sampled_from([t["name"] for t in tasks]), max_size=1))
        outputs = [f"o{index}_{k}.txt" for k in range(draw(st.integers(1, 2)))]
        tasks.append({"name": f"t{index}", "inputs": inputs, "outputs": outputs, "after": waits})
    return tasks


def dag_toml(tasks: list[dict]) -> str:
    """Each output is the concatenation of the task's inputs (or its name, without inputs)."""
    lines = []
    for task in tasks:
        source = "cat " + " ".join(task["inputs"]) if task["inputs"] else f"echo {task['name']}"
        commands = [f"{source} > {output}" for output in task["outputs"]]
        lines += [
            f"[tasks.{task['name']}]",
            f"cmd = {json.dumps(commands)}",
            f"inputs = {json.dumps(task['inputs'])}",
            f"outputs = {json.dumps(task['outputs'])}",
            f"after = {json.dumps(task['after'])}",
        ]
    return "\n".join(lines) + "\n"


__all__ = [
    "FILES",
    "SOURCES",
    "dag_toml",
    "dags",
    "documents",
    "graph_toml",
    "graphs",
    "strings",
    "toml",
    "values",
]
