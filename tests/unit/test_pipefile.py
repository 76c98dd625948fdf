"""Finding, parsing and validating Pipefile.toml, and its parse cache."""

import marshal
import os
import posixpath
import sys
import textwrap

import pytest

import dagmake.project
from dagmake import pipefile
from dagmake.errors import DagmakeError, GraphError, PipefileError, UsageError
from dagmake.files import find_pipefile
from dagmake.project import load
from dagmake.task import PythonAction, ShellAction


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    # Errors show the Pipefile relative to the current directory: make that "Pipefile.toml".
    monkeypatch.chdir(tmp_path)


def source(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def parse(text: str, overrides=None):
    """(settings, {name: task}) of a Pipefile text."""
    settings, tasks = pipefile.parse(
        source(text), os.path.join(os.getcwd(), "Pipefile.toml"), overrides or {}
    )
    return settings, {task.name: task for task in tasks}


def task_of(text: str, name: str = "a", overrides=None):
    return parse(text, overrides)[1][name]


def write(text: str) -> str:
    path = os.path.join(os.getcwd(), "Pipefile.toml")
    with open(path, "wb") as f:
        f.write(source(text))
    return path


def load_error(text: str) -> DagmakeError:
    """The error that loading text raises: parse errors and graph errors alike."""
    path = write(text)
    with pytest.raises(DagmakeError) as caught:
        load(path, write_cache=False)
    return caught.value


# --- load errors: each names the file and line, and says what is wrong ------------------

# (id, Pipefile text, line of the error, fragments of the message)
ERRORS = [
    (
        "unknown top-level key",
        """
        [settings]
        jobs = 2
        [task.a]
        cmd = "x"
        """,
        3,
        ["unknown key 'task'", "did you mean 'tasks'?"],
    ),
    (
        "unknown settings key",
        """
        [settings]
        shell = "/bin/sh"
        job = 4
        [tasks.a]
        cmd = "x"
        """,
        3,
        ["unknown key 'job'", "did you mean 'jobs'?"],
    ),
    (
        "unknown task key",
        """
        [tasks.a]
        cmd = "x"
        input = ["a.csv"]
        """,
        3,
        ["task 'a'", "unknown key 'input'", "did you mean 'inputs'?"],
    ),
    (
        "unknown task key in a later task",
        """
        [tasks.a]
        cmd = "x"

        [tasks.b]
        cmd = "y"
        outptus = ["b.csv"]
        """,
        6,
        ["task 'b'", "unknown key 'outptus'", "did you mean 'outputs'?"],
    ),
    (
        "both cmd and python",
        """
        [tasks.a]
        cmd = "x"
        python = "mod:main"
        """,
        3,
        ["task 'a'", "both 'cmd' and 'python'"],
    ),
    (
        "output glob",
        """
        [tasks.a]
        cmd = "x"
        outputs = ["out/*.csv"]
        """,
        3,
        ["task 'a'", "output 'out/*.csv' is a glob"],
    ),
    (
        "output in the parent directory",
        """
        [tasks.a]
        cmd = "x"
        outputs = ["../x.csv"]
        """,
        3,
        ["task 'a'", "output '../x.csv' is outside the project"],
    ),
    (
        "output that climbs out after normalising",
        """
        [tasks.a]
        cmd = "x"
        outputs = ["data/../../x.csv"]
        """,
        3,
        ["output '../x.csv' is outside the project"],
    ),
    (
        "absolute output",
        """
        [tasks.a]
        cmd = "x"
        outputs = ["/tmp/x.csv"]
        """,
        3,
        ["output '/tmp/x.csv' is outside the project"],
    ),
    (
        "the project directory as an output",
        """
        [tasks.a]
        cmd = "x"
        outputs = ["./"]
        """,
        3,
        ["project directory itself cannot be an output"],
    ),
    (
        "the Pipefile as an output",
        """
        [tasks.a]
        cmd = "x"
        outputs = ["Pipefile.toml"]
        """,
        3,
        ["task 'a'", "output 'Pipefile.toml' is the Pipefile itself", "hint: "],
    ),
    (
        "an output inside .dagmake",
        """
        [tasks.a]
        cmd = "x"
        outputs = [".dagmake/x"]
        """,
        3,
        ["task 'a'", "output '.dagmake/x' is inside .dagmake/, where dagmake keeps its state"],
    ),
    (
        "an empty cmd",
        """
        [tasks.a]
        help = "h"
        cmd = ""
        """,
        3,
        ["task 'a'", "'cmd' is empty", "hint: ", "remove 'cmd' to make the task a group"],
    ),
    (
        "an empty command in a cmd list",
        """
        [tasks.a]
        help = "h"
        cmd = ["echo a", ""]
        """,
        3,
        ["task 'a'", "command 2 of 'cmd' is empty", "remove 'cmd' to make the task a group"],
    ),
    (
        "a cmd that a var makes empty",
        """
        [vars]
        nothing = ""

        [tasks.a]
        help = "h"
        cmd = "{{nothing}}"
        """,
        6,
        ["task 'a'", "'cmd' is empty once its placeholders are filled in ('{{nothing}}')"],
    ),
    (
        "a task name too long for a log file name",
        f"""
        [tasks.a]
        cmd = "x"

        [tasks.{"n" * 201}]
        cmd = "x"
        """,
        4,
        ["task name is 201 characters long, more than the 200 allowed", "hint: "],
    ),
    (
        "{{outputs}} in outputs",
        """
        [tasks.a]
        cmd = "x"
        outputs = ["{{outputs}}.bak"]
        """,
        3,
        [
            "task 'a'",
            "'{{outputs}}' cannot be used in 'outputs': "
            "{{inputs}} and {{outputs}} are only available in 'cmd' and 'env'",
        ],
    ),
    (
        "group with outputs",
        """
        [tasks.a]
        after = []
        outputs = ["a.csv"]
        """,
        3,
        ["task 'a'", "has outputs but no 'cmd' or 'python'"],
    ),
    (
        "task name with a space",
        """
        [tasks.ok]
        cmd = "x"

        [tasks."bad name"]
        cmd = "x"
        """,
        4,
        ["task name 'bad name' may only use ASCII letters, digits"],
    ),
    (
        "task name starting with a dash",
        """
        [tasks."-x"]
        cmd = "x"
        """,
        1,
        ["task name '-x'", "may not start with '-' or '.'"],
    ),
    (
        "a wrong value written as a dotted key",
        """
        tasks.a.cmd = "x"
        tasks.a.retries = "3"
        """,
        2,
        ["task 'a'", "'retries' must be a whole number"],
    ),
    (
        "a wrong value written as a dotted key under [tasks]",
        """
        [tasks]
        a.cmd = "x"
        a.inputs = "x"
        """,
        3,
        ["task 'a'", "'inputs' must be a list"],
    ),
    (
        "a task name with an unquoted dot",
        """
        [tasks.clean]
        cmd = "x"

        [tasks.clean.users]
        cmd = "y"
        """,
        4,
        ["task 'clean': unknown key 'users'", 'must be quoted: [tasks."clean.users"]'],
    ),
    (
        "task that is not a table",
        """
        [tasks]
        a = "echo hi"
        """,
        2,
        ["task 'a'", "must be a table, not a string"],
    ),
    (
        "unknown default target",
        """
        [settings]
        default = ["uplaod"]

        [tasks.upload]
        cmd = "x"
        """,
        2,
        ["unknown default target 'uplaod'", "did you mean 'upload'?"],
    ),
    (
        "vars in a cycle",
        """
        [vars]
        a = "{{b}}/x"
        b = "{{c}}"
        c = "{{a}}"

        [tasks.t]
        cmd = "x"
        """,
        2,
        ["cycle: a -> b -> c -> a"],
    ),
    (
        "var redefining a built-in",
        """
        [vars]
        inputs = "x"

        [tasks.t]
        cmd = "x"
        """,
        2,
        ["'inputs' is a built-in placeholder"],
    ),
    (
        "unknown placeholder in cmd",
        """
        [vars]
        raw = "data/raw"

        [tasks.a]
        help = "h"
        cmd = "cat {{rwa}}/x"
        """,
        6,
        ["task 'a'", "unknown placeholder '{{rwa}}' in 'cmd'", "did you mean 'raw'?"],
    ),
    (
        "unknown placeholder in inputs",
        """
        [tasks.a]
        cmd = "x"
        inputs = ["{{nope}}/x.csv"]
        """,
        3,
        ["task 'a'", "unknown placeholder '{{nope}}' in 'inputs'"],
    ),
    (
        "a typo in a var naming another var that nothing else refers to",
        """
        [vars]
        raw = "data/raw"
        x = "{{rwa}}/b"
        [tasks.a]
        cmd = "ls {{x}}"
        """,
        3,
        [
            "unknown placeholder '{{rwa}}' in 'vars.x', did you mean 'raw'?",
            "known here: inputs, outputs, raw, task)",
        ],
    ),
    (
        "after naming another task's output file",
        """
        [tasks.extract]
        cmd = "touch x.csv"
        outputs = ["x.csv"]
        [tasks.b]
        cmd = "true"
        after = ["x.csv"]
        """,
        6,
        ["'after' names unknown task 'x.csv'", "is an output of task 'extract'", "'inputs'"],
    ),
    (
        "after naming a glob of tasks",
        """
        [tasks.extract_a]
        cmd = "true"
        [tasks.b]
        cmd = "true"
        after = ["extract_*"]
        """,
        5,
        ["'after' names unknown task 'extract_*'", "not globs: list the tasks"],
    ),
    (
        "a resource below zero",
        """
        [tasks.a]
        cmd = "true"
        resources = { cpu = -1 }
        """,
        3,
        ["'resources.cpu' must be 0 or more, not -1"],
    ),
    (
        "an output a var leaves empty",
        """
        [vars]
        d = ""
        [tasks.a]
        cmd = "true"
        outputs = ["{{d}}"]
        """,
        5,
        ["cannot be an output ('{{d}}', once its placeholders are filled in)"],
    ),
    (
        "a task key under [settings]",
        """
        [settings]
        cmd = "echo"
        """,
        2,
        ["unknown key 'cmd'", "'cmd' belongs to a task: write it under [tasks.NAME]"],
    ),
    (
        "a setting under a task",
        """
        [tasks.a]
        cmd = "true"
        jobs = 2
        """,
        3,
        ["task 'a'", "unknown key 'jobs'", "'jobs' is a setting: write it under a [settings]"],
    ),
    (
        "a task key right under [tasks], with no task name",
        """
        [tasks]
        cmd = "echo hi"
        """,
        2,
        ["must be a table, not a string", "'cmd' is a key of a task, which needs a name"],
    ),
    (
        "a comment after a task's header",
        """
        [tasks.load]  # load into the warehouse
        cmd = "true"
        retries = "2"
        """,
        3,
        ["task 'load'", "'retries' must be"],
    ),
    (
        "a comment after [settings]",
        """
        [settings] # global
        jobs = 0
        [tasks.a]
        cmd = "x"
        """,
        2,
        ["'jobs' must be a whole number"],
    ),
    (
        "a tab between a key and its '='",
        "[tasks.a]\ncmd\t= 1\n",
        2,
        ["task 'a'", "'cmd' must be a string"],
    ),
    (
        "a var whose name no placeholder can spell",
        """
        [vars]
        "bad name" = "v"
        [tasks.a]
        cmd = "true"
        """,
        2,
        ["var name 'bad name' cannot be used", "letters, digits, '_' and '-'"],
    ),
    (
        "an empty shell",
        """
        [settings]
        shell = ""
        [tasks.a]
        cmd = "x"
        """,
        2,
        ["'shell' must name a shell", "leave it out for /bin/sh"],
    ),
    (
        "a shell with options, which would fail every task with exit 127",
        """
        [settings]
        shell = "/bin/bash -eu"
        [tasks.a]
        cmd = "x"
        """,
        2,
        ["'shell' must be a program, not a command line", 'shell = "/bin/bash"', "set -eu;"],
    ),
    (
        "unknown placeholder in the top-level env is blamed there, not on a task",
        """
        [env]
        OK = "fine"
        A = "{{nope}}"

        [tasks.build]
        cmd = "true"
        """,
        3,
        ["unknown placeholder '{{nope}}' in [env] 'A'"],
    ),
    (
        "unknown placeholder in env",
        """
        [tasks.a]
        cmd = "x"
        env = { A = "{{nope}}" }
        """,
        3,
        ["task 'a'", "unknown placeholder '{{nope}}' in 'env.A'"],
    ),
    (
        "unknown placeholder in a var",
        """
        [vars]
        raw = "data"
        clean = "{{nope}}/clean"

        [tasks.a]
        cmd = "x"
        """,
        3,
        ["unknown placeholder '{{nope}}' in 'vars.clean'"],
    ),
    (
        "unclosed placeholder",
        """
        [tasks.a]
        cmd = "echo {{task"
        """,
        2,
        ["task 'a'", "unclosed placeholder"],
    ),
    (
        "python not module:function",
        """
        [tasks.a]
        python = "pipeline.join"
        """,
        2,
        ["task 'a'", "'python' must look like \"package.module:function\""],
    ),
    # graph errors, found after parsing, still point into the Pipefile
    (
        "two tasks declare one output",
        """
        [tasks.a]
        cmd = "x"
        outputs = ["out.csv"]

        [tasks.b]
        cmd = "y"
        outputs = ["out.csv"]
        """,
        7,
        ["output 'out.csv' is declared by both 'a' and 'b'"],
    ),
    (
        "after names an unknown task",
        """
        [tasks.extract]
        cmd = "x"

        [tasks.load]
        cmd = "y"
        after = ["extarct"]
        """,
        6,
        ["task 'load'", "unknown task 'extarct'", "did you mean 'extract'?"],
    ),
    (
        "cycle",
        """
        [tasks.a]
        cmd = "x"
        inputs = ["c.csv"]
        outputs = ["a.csv"]

        [tasks.b]
        cmd = "x"
        inputs = ["a.csv"]
        outputs = ["b.csv"]

        [tasks.c]
        cmd = "x"
        inputs = ["b.csv"]
        outputs = ["c.csv"]
        """,
        1,
        ["dependency cycle: a -> b -> c -> a"],
    ),
    (
        "input glob matching the task's own output",
        """
        [tasks.a]
        cmd = "x"
        inputs = ["data/*.csv"]
        outputs = ["data/out.csv"]
        """,
        3,
        ["task 'a'", "input 'data/*.csv' matches its own output"],
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [case[1:] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_load_error_names_file_line_and_problem(text, line, fragments):
    error = load_error(text)
    message = str(error)
    assert message.startswith(f"Pipefile.toml:{line}: "), message
    for fragment in fragments:
        assert fragment in message, message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('[tasks.a]\ncmd = "x"\n\n\nresources.cpu = "x"\n', 5, "'resources' must be a table"),
        ("[tasks.a]\ncmd = 'x'\n\n\n'inptus' = []\n", 5, "did you mean 'inputs'?"),
        ('[tasks.a]\ncmd = "x"\n\n"out puts" = 1\n', 4, "unknown key 'out puts'"),
        ('[tasks.a]\ncmd = "x"\nhelp.text = "x"\n', 3, "'help' must be a string"),
        ('# c\ntasks = { a = { cmd = "x", bogus = 1 } }\n', 2, "unknown key 'bogus'"),
        ('[tasks]\nb = { cmd = "y" }\na = { cmd = "x", bogus = 1 }\n', 3, "unknown key 'bogus'"),
        ('[tasks.b]\ncmd = "y"\n[[tasks.a]]\ncmd = "x"\n', 3, "task 'a': must be a table"),
        ('[env]\nOK = "1"\n"A B" = "{{nope}}"\n[tasks.a]\ncmd = "x"\n', 3, "in [env] 'A B'"),
        ('tasks.a.cmd = "true"\ntasks.a.env.X = false\n', 2, "'env.X' must be a string"),
        ('[tasks]\na.cmd = "true"\na.env.X = false\n', 3, "'env.X' must be a string"),
        ('tasks.a.cmd = "true"\ntasks.a.resources.cpu = -1\n', 2, "'resources.cpu' must be 0"),
        ('# jobs\nsettings.jobs = 0\n[tasks.a]\ncmd = "x"\n', 2, "'jobs' must be a whole"),
        ('env.X = false\n[tasks.a]\ncmd = "x"\n', 1, "'env.X' must be a string"),
        ('[tasks.a]\ncmd = "x"\n\n[[settings]]\njobs = 2\n', 4, "[settings] must be a table"),
        ('# s\nsettings = 5\n[tasks.a]\ncmd = "x"\n', 2, "[settings] must be a table"),
        ('[tasks.a]\ncmd = "x"\n\n[settings.x]\ny = 1\n', 4, "unknown key 'x'"),
        ('[tasks.a]\ncmd = "x"\n\n[[vars]]\nx = "1"\n', 4, "'vars' must be a table"),
        ('# v\nvars = 5\n[tasks.a]\ncmd = "x"\n', 2, "'vars' must be a table"),
        ('[tasks.a]\ncmd = "x"\n\n[vars.x]\ny = "1"\n', 4, "'vars.x' must be a string"),
        ('[tasks.a]\ncmd = "x"\n\n[[env]]\nX = "1"\n', 4, "'env' must be a table"),
        ('[tasks.a]\ncmd = "x"\n\n[[tasks.a.env]]\nX = "1"\n', 4, "'env' must be a table"),
        ('[tasks.a]\ncmd = "x"\n\n[tasks.""]\ncmd = "y"\n', 4, "task name ''"),
        ("# t\ntasks = 5\n", 2, "'tasks' must be a table"),
    ],
    ids=[
        *("dotted", "single-quoted", "spaced", "dotted-type", "inline", "inline-2", "aot"),
        *("env", "tasks-dotted-env", "tasks-table-dotted-env", "dotted-resources"),
        *("dotted-settings", "dotted-env", "settings-aot", "settings-value", "settings-sub"),
        *("vars-aot", "vars-value", "vars-sub", "env-aot", "task-env-aot", "empty-name"),
        *("tasks-value",),
    ],
)
def test_an_error_points_at_the_key_however_it_is_written(text, line, fragment):
    message = str(load_error(text))
    assert message.startswith(f"Pipefile.toml:{line}: "), message
    assert fragment in message, message


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('[tasks.a]\ncmd = "unterminated\n', 2, 20),
        ('[tasks.a]\ncmd = "x"\ninputs = ["a",, "b"]\n', 3, 15),
        ('[tasks.a]\ncmd = "x"\n[tasks.a]\ncmd = "y"\n', 3, 9),
    ],
)
def test_toml_syntax_error_names_file_line_and_column(text, line, column):
    error = load_error(text)
    assert isinstance(error, PipefileError)
    assert str(error).startswith(f"Pipefile.toml:{line}:{column}: invalid TOML: ")
    assert (error.line, error.column) == (line, column)


def test_file_that_is_not_utf8_is_an_error():
    path = os.path.join(os.getcwd(), "Pipefile.toml")
    with open(path, "wb") as f:
        f.write(b'[tasks.a]\ncmd = "\xff"\n')
    with pytest.raises(PipefileError, match="not valid UTF-8") as caught:
        load(path, write_cache=False)
    assert str(caught.value).startswith("Pipefile.toml:2:8: not valid UTF-8 (byte 17: ff)")
    assert caught.value.hint == "save the Pipefile as UTF-8"


def test_a_utf16_pipefile_is_named_as_such():
    path = write_bytes('[tasks.a]\ncmd = "true"\n'.encode("utf-16"))
    with pytest.raises(PipefileError, match="not valid UTF-8") as caught:
        load(path, write_cache=False)
    assert "UTF-16" in caught.value.hint


@pytest.mark.parametrize("key", ["inputs", "env"])
def test_values_nested_hundreds_deep_are_an_error_not_a_crash(key):
    deep = "[" * 1000 + "]" * 1000 if key == "inputs" else "{a=" * 1000 + "1" + "}" * 1000
    error = load_error(f'[tasks.a]\ncmd = "true"\n{key} = {deep}\n')
    assert isinstance(error, PipefileError)
    assert "nested too deeply" in error.message


def test_a_chain_of_thousands_of_vars_resolves():
    chain = "\n".join(f'v{i} = "{{{{v{i + 1}}}}}"' for i in range(3000))
    path = write(f'[vars]\n{chain}\nv3000 = "end"\n[tasks.a]\ncmd = "echo {{{{v0}}}}"\n')
    project = load(path, write_cache=False)
    assert project.graph.tasks["a"].action.commands == ("echo end",)


def test_a_cycle_of_thousands_of_vars_is_an_error_not_a_crash():
    chain = "\n".join(f'v{i} = "{{{{v{i + 1}}}}}"' for i in range(3000))
    error = load_error(f'[vars]\n{chain}\nv3000 = "{{{{v0}}}}"\n[tasks.a]\ncmd = "echo"\n')
    assert isinstance(error, PipefileError)
    assert "vars refer to each other" in error.message


@pytest.mark.parametrize(
    "value, shown",
    [
        ("1979-05-27", "not a date"),
        ("1979-05-27T07:32:00Z", "not a date-time (1979-05-27T07:32:00+00:00)"),
        ("07:32:00", "not a time (07:32:00)"),
    ],
)
def test_toml_dates_and_times_are_named_as_toml_names_them(value, shown):
    error = load_error(f"[tasks.a]\ncmd = {value}\n")
    assert shown in error.message, error.message
    assert "datetime" not in error.message


@pytest.mark.parametrize(
    ("text", "where"), [("", ""), ("[settings]\njobs = 2\n", ""), ("# none\n[tasks]\n", ":2")]
)
def test_no_tasks_is_an_error(text, where):
    error = load_error(text)
    assert str(error).startswith(f"Pipefile.toml{where}: no tasks defined")
    assert "hint: add a task" in str(error)


def test_tasks_that_is_not_a_table_is_an_error():
    assert "'tasks' must be a table" in str(load_error('tasks = "a"\n'))


# (key = value in [tasks.a], fragments of the message); the error is always on line 3
WRONG_TYPES = [
    ("help = 3", ["'help' must be a string, not an integer"]),
    ("cmd = 3", ["'cmd' must be a string or a non-empty list of strings, not an integer"]),
    ('cmd = ["echo a", 2]', ["'cmd' must be a string or a non-empty list of strings"]),
    ("cmd = []", ["'cmd' must be a string or a non-empty list of strings"]),
    ("python = 3", ["'python' must be a string \"module:function\""]),
    ('inputs = "a.csv"', ["'inputs' must be a list of non-empty strings", 'inputs = ["a.csv"]']),
    ('inputs = ["a.csv", 1]', ["'inputs' must be a list of non-empty strings"]),
    ('inputs = [""]', ["'inputs' must be a list of non-empty strings"]),
    ('outputs = "o.csv"', ["'outputs' must be a list of non-empty strings", 'outputs = ["o.csv"]']),
    ('after = "b"', ["'after' must be a list of non-empty strings", 'after = ["b"]']),
    ('env = "A=1"', ["'env' must be a table of strings, not a string"]),
    ("env = { A = true }", ["'env.A' must be a string, not a boolean"]),
    ("env = { A = [1] }", ["'env.A' must be a string, not a list"]),
    ("env = { A = { B = 'x' } }", ["'env.A' must be a string, not a table"]),
    ("cwd = 1", ["'cwd' must be a string (a directory), not an integer"]),
    ("retries = true", ["'retries' must be a whole number, not a boolean"]),
    ("retries = 1.5", ["'retries' must be a whole number, not a number"]),
    ('retries = "2"', ["'retries' must be a whole number, not a string"]),
    ("retries = -1", ["'retries' must be 0 or more"]),
    ('retry_delay = "1"', ["'retry_delay' must be a number of seconds, not a string"]),
    ("retry_delay = false", ["'retry_delay' must be a number of seconds, not a boolean"]),
    ("retry_delay = -0.5", ["'retry_delay' must be 0 or more"]),
    ('timeout = "600"', ["'timeout' must be a number of seconds, not a string"]),
    ("timeout = true", ["'timeout' must be a number of seconds, not a boolean"]),
    ("timeout = 0", ["'timeout' must be more than 0 seconds"]),
    ("timeout = -5", ["'timeout' must be more than 0 seconds"]),
    ('always = "yes"', ["'always' must be true or false, not a string"]),
    ("always = 1", ["'always' must be true or false, not an integer"]),
    ('resources = { cpu = "2" }', ["'resources' must be a table of numbers"]),
    ("resources = { cpu = -1 }", ["'resources.cpu' must be 0 or more, not -1"]),
    # nan slips past `< 0` and `<= 0`; inf overflows every wait: both are refused by name
    ("retry_delay = nan", ["'retry_delay' must be a finite number of seconds, not nan"]),
    ("retry_delay = inf", ["'retry_delay' must be a finite number of seconds, not inf"]),
    ("retry_delay = -inf", ["'retry_delay' must be a finite number of seconds, not -inf"]),
    ("timeout = nan", ["'timeout' must be a finite number of seconds, not nan"]),
    ("timeout = inf", ["'timeout' must be a finite number of seconds, not inf", "leave 'timeout'"]),
    ("timeout = -inf", ["'timeout' must be a finite number of seconds, not -inf"]),
    ("resources = { cpu = inf }", ["'resources.cpu' must be a finite number, not inf"]),
    ("resources = { cpu = nan }", ["'resources.cpu' must be a finite number, not nan"]),
    # the OS refuses these names in an environment (ValueError mid-build)
    ('env = { "" = "x" }', ["invalid environment variable name '' in 'env': it is empty"]),
    ('env = { "A=B" = "x" }', ["invalid environment variable name 'A=B' in 'env'", "'='"]),
]


@pytest.mark.parametrize(("line", "fragments"), WRONG_TYPES, ids=[line for line, _ in WRONG_TYPES])
def test_wrong_type_names_task_key_and_expected_type(line, fragments):
    # the tested key on line 3, after a line that is valid on its own
    valid = "help = 'h'" if line.startswith(("cmd", "python")) else "cmd = 'x'"
    error = load_error(f"[tasks.a]\n{valid}\n{line}\n")
    message = str(error)
    assert message.startswith("Pipefile.toml:3: task 'a': "), message
    for fragment in fragments:
        assert fragment in message, message


SETTINGS_ERRORS = [
    ("jobs = 0", "'jobs' must be a whole number of at least 1, not 0"),
    ('jobs = "4"', "'jobs' must be a whole number of at least 1, not '4'"),
    ("jobs = true", "'jobs' must be a whole number of at least 1, not true"),
    ("shell = 1", "'shell' must be a string (a path to a shell), not an integer"),
    ('default = "a"', "'default' must be a list of non-empty strings"),
]


@pytest.mark.parametrize(("line", "fragment"), SETTINGS_ERRORS)
def test_wrong_type_in_settings(line, fragment):
    message = str(load_error(f"[settings]\n{line}\n\n[tasks.a]\ncmd = 'x'\n"))
    assert message.startswith("Pipefile.toml:2: "), message
    assert fragment in message


@pytest.mark.parametrize(
    "value", ["pipeline.join", "pipeline:", ":main", "pipe line:main", "a:b:c", "1mod:main"]
)
def test_python_must_be_module_colon_function(value):
    message = str(load_error(f'[tasks.a]\npython = "{value}"\n'))
    assert 'must look like "package.module:function"' in message
    assert repr(value) in message


@pytest.mark.parametrize("value", ["pipeline.join:main", "mod:main", "a.b.c:Klass.method"])
def test_python_action(value):
    task = task_of(f'[tasks.a]\npython = "{value}"\n')
    assert task.action == PythonAction(value)


@pytest.mark.parametrize(
    ("key", "value", "seconds"),
    [
        ("timeout", "3000000", 3000000.0),  # beyond poll()'s int of milliseconds
        ("timeout", "1e300", 1e300),
        ("timeout", "1" + "0" * 400, sys.float_info.max),  # an integer beyond any float
        ("retry_delay", "1e300", 1e300),
        ("retry_delay", "1" + "0" * 400, sys.float_info.max),
    ],
)
def test_huge_but_finite_seconds_are_accepted(key, value, seconds):
    # "wait as long as it takes": the waits cope, so the Pipefile need not be refused
    task = task_of(f'[tasks.a]\ncmd = "x"\n{key} = {value}\n')
    assert getattr(task, key) == seconds


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[env]\n"A=B" = "x"\n\n[tasks.a]\ncmd = "x"\n', 2),
        ('[env]\nOK = "1"\n"" = "x"\n\n[tasks.a]\ncmd = "x"\n', 3),
    ],
)
def test_bad_environment_variable_name_in_the_env_table(text, line):
    message = str(load_error(text))
    assert message.startswith(f"Pipefile.toml:{line}: invalid environment variable name "), message
    assert "in [env]" in message
    assert "hint: a name must be non-empty and contain neither '=' nor a NUL" in message


def test_bad_environment_variable_name_in_an_env_subtable():
    message = str(load_error('[tasks.a]\ncmd = "x"\n\n[tasks.a.env]\nA = "1"\n"X=1" = "y"\n'))
    assert message.startswith("Pipefile.toml:6: task 'a': invalid environment variable"), message
    message = str(load_error("[tasks.a]\ncmd = 'x'\n[tasks.a.env]\nA = '1'\n'B C' = '{{nope}}'\n"))
    assert message.startswith("Pipefile.toml:5: task 'a': unknown placeholder"), message


# (Pipefile text, where the error points, what it names); "\\u0000" is TOML's escape for NUL
NUL_CASES = [
    ('[tasks.a]\ncmd = "echo a\\u0000b"\n', "Pipefile.toml:2: task 'a': 'cmd'"),
    ('[tasks.a]\ncmd = ["true", "echo \\u0000"]\n', "Pipefile.toml:2: task 'a': 'cmd'"),
    ('[tasks.a]\ncmd = "x"\ninputs = ["a\\u0000"]\n', "Pipefile.toml:3: task 'a': 'inputs'"),
    ('[tasks.a]\ncmd = "x"\noutputs = ["a\\u0000"]\n', "Pipefile.toml:3: task 'a': 'outputs'"),
    ('[tasks.a]\ncmd = "x"\ncwd = "d\\u0000"\n', "Pipefile.toml:3: task 'a': 'cwd'"),
    ('[tasks.a]\ncmd = "x"\nenv = { A = "\\u0000" }\n', "Pipefile.toml:3: task 'a': 'env.A'"),
    (
        '[tasks.a]\ncmd = "x"\nenv = { "A\\u0000" = "1" }\n',
        "Pipefile.toml:3: task 'a': 'env.A\\u0000'",
    ),
    ('[tasks.a]\npython = "mod:main\\u0000"\n', "Pipefile.toml:2: task 'a': 'python'"),
    ('[env]\nA = "\\u0000"\n[tasks.a]\ncmd = "x"\n', "Pipefile.toml:2: 'env.A'"),
    ('[vars]\nv = "\\u0000"\n[tasks.a]\ncmd = "x"\n', "Pipefile.toml:2: 'vars.v'"),
    (
        '[settings]\nshell = "sh\\u0000"\n[tasks.a]\ncmd = "x"\n',
        "Pipefile.toml:2: 'settings.shell'",
    ),
    (
        '[settings]\non_failure = "\\u0000"\n[tasks.a]\ncmd = "x"\n',
        "Pipefile.toml:2: 'settings.on_failure'",
    ),
]


@pytest.mark.parametrize(("text", "start"), NUL_CASES)
def test_a_nul_character_anywhere_is_a_load_error(text, start):
    # the OS refuses NUL in argv, paths and the environment ("embedded null byte")
    error = load_error(text)
    assert isinstance(error, PipefileError)
    message = str(error)
    assert message.startswith(f"{start} contains a NUL character"), message
    assert "\0" not in message


@pytest.mark.parametrize("name", ["inputs", "outputs", "task"])
def test_command_line_override_of_a_built_in_is_a_usage_error(name):
    text = '[vars]\nx = "{{inputs}}"\n[tasks.a]\ncmd = "echo {{x}}"\n'
    with pytest.raises(UsageError) as caught:
        parse(text, overrides={name: "1"})
    assert caught.value.exit_code == 2
    assert f"'{name}' is a built-in placeholder and cannot be set on the command line" in str(
        caught.value
    )
    # and so does load(), which the command line goes through
    path = write(text)
    with pytest.raises(UsageError):
        load(path, overrides={name: "1"})


def test_unknown_key_hint_lists_the_allowed_keys():
    message = str(load_error('[tasks.a]\ncmd = "x"\nzzz = 1\n'))
    assert "did you mean" not in message
    assert "hint: keys allowed in task 'a': help, cmd, python, inputs" in message


# --- what a valid Pipefile becomes -------------------------------------------------------


def test_a_full_task():
    settings, tasks = parse(
        """
        [settings]
        jobs = 3
        shell = "/bin/bash"
        default = ["b"]

        [vars]
        raw = "data/raw"

        [env]
        GLOBAL = "1"
        SHARED = "global"

        [tasks.a]
        help = "first"
        cmd = ["mkdir -p {{raw}}", "echo {{task}} > {{outputs}}"]
        inputs = ["./scripts//a.py"]
        outputs = ["{{raw}}/a.csv"]
        env = { SHARED = "task", OUT = "{{outputs}}" }
        retries = 2
        retry_delay = 0
        timeout = 30
        always = true

        [tasks.b]
        after = ["a"]
        """
    )
    assert (settings.jobs, settings.shell, settings.default) == (3, "/bin/bash", ("b",))
    a = tasks["a"]
    assert a.action == ShellAction(("mkdir -p data/raw", "echo a > data/raw/a.csv"), "/bin/bash")
    assert a.inputs == ("scripts/a.py",)
    assert a.outputs == ("data/raw/a.csv",)
    assert dict(a.env) == {"GLOBAL": "1", "SHARED": "task", "OUT": "data/raw/a.csv"}
    assert (a.retries, a.retry_delay, a.timeout, a.always, a.help) == (2, 0.0, 30.0, True, "first")
    assert a.cwd == "."
    b = tasks["b"]
    assert b.is_group
    assert b.after == ("a",)


def test_defaults():
    settings, tasks = parse('[tasks.a]\ncmd = "x"\n')
    assert (settings.jobs, settings.shell, settings.default) == (None, "/bin/sh", ())
    a = tasks["a"]
    assert (a.inputs, a.outputs, a.after, a.env, a.cwd) == ((), (), (), (), ".")
    assert (a.retries, a.retry_delay, a.timeout, a.always, a.help) == (0, 1.0, None, False, "")


def test_tasks_keep_file_order():
    _, tasks = parse('[tasks.z]\ncmd = "x"\n[tasks.a]\ncmd = "x"\n[tasks.m]\ncmd = "x"\n')
    assert list(tasks) == ["z", "a", "m"]


def test_numbers_in_env_become_strings():
    task = task_of('[env]\nPYTHONUNBUFFERED = 1\n[tasks.a]\ncmd = "x"\nenv = { RATIO = 0.5 }\n')
    assert dict(task.env) == {"PYTHONUNBUFFERED": "1", "RATIO": "0.5"}


def test_a_float_in_env_or_vars_is_taken_as_written():
    task = task_of(
        "[vars]\nv = 3.10\n[env]\nPYVER = 3.10\nBIG = 1e3\n"
        '[tasks.a]\ncmd = "echo {{v}}"\nenv = { RATIO = 0.50 }\ntimeout = 2.50\n'
    )
    assert dict(task.env) == {"PYVER": "3.10", "BIG": "1e3", "RATIO": "0.50"}
    assert task.action.commands == ("echo 3.10",)
    assert task.timeout == 2.5 and type(task.timeout) is float  # a plain number where one is due


def test_task_placeholder():
    assert task_of('[tasks.a]\ncmd = "echo {{task}} > logs/{{task}}.txt"\n').action.commands == (
        "echo a > logs/a.txt",
    )


def test_inputs_and_outputs_are_shell_quoted_in_cmd():
    task = task_of(
        """
        [tasks.a]
        cmd = "cat {{inputs}} > {{outputs}}"
        inputs = ["data/my file.csv", "b.csv", "it's.csv"]
        outputs = ["out dir/all.csv"]
        """
    )
    assert task.action.commands == (
        "cat 'data/my file.csv' b.csv 'it'\"'\"'s.csv' > 'out dir/all.csv'",
    )
    # the paths themselves stay unquoted
    assert task.inputs == ("data/my file.csv", "b.csv", "it's.csv")


def test_inputs_and_outputs_in_cmd_are_relative_to_cwd():
    task = task_of(
        """
        [tasks.a]
        cmd = "python ../scripts/x.py {{inputs}} {{outputs}}"
        cwd = "data"
        inputs = ["data/raw/a.csv", "scripts/x.py"]
        outputs = ["data/clean/a.csv"]
        """
    )
    assert task.action.commands == ("python ../scripts/x.py raw/a.csv ../scripts/x.py clean/a.csv",)
    # the task's own paths stay relative to the project root
    assert task.inputs == ("data/raw/a.csv", "scripts/x.py")
    assert task.cwd == "data"


def test_vars_can_refer_to_vars_and_to_builtins():
    task = task_of(
        """
        [vars]
        root = "data"
        raw = "{{root}}/raw"
        log = "logs/{{task}}.log"

        [tasks.a]
        cmd = "run > {{log}}"
        outputs = ["{{raw}}/a.csv"]
        """
    )
    assert task.outputs == ("data/raw/a.csv",)
    assert task.action.commands == ("run > logs/a.log",)


def test_var_override_changes_command_and_fingerprint():
    text = """
        [vars]
        raw = "data/raw"

        [tasks.a]
        cmd = "extract --to {{raw}}"
        """
    before = task_of(text)
    after = task_of(text, overrides={"raw": "/mnt/raw"})
    assert before.action.commands == ("extract --to data/raw",)
    assert after.action.commands == ("extract --to /mnt/raw",)
    assert before.fingerprint != after.fingerprint


def test_override_of_a_var_used_by_other_vars():
    text = '[vars]\nroot = "data"\nraw = "{{root}}/raw"\n[tasks.a]\ncmd = "ls {{raw}}"\n'
    assert task_of(text, overrides={"root": "big"}).action.commands == ("ls big/raw",)


BASE = {
    "cmd": '"run"',
    "inputs": '["in.csv"]',
    "outputs": '["out.csv"]',
    "env": '{ A = "1" }',
    "cwd": '"."',
    "help": '"h"',
    "retries": "0",
    "retry_delay": "1",
    "timeout": "10",
    "after": '["b"]',
}


def fingerprint_with(**changes) -> str:
    keys = {**BASE, **changes}
    body = "\n".join(f"{key} = {value}" for key, value in keys.items())
    return task_of(f'[tasks.a]\n{body}\n[tasks.b]\ncmd = "x"\n[tasks.c]\ncmd = "y"\n').fingerprint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cmd", '"run --fast"'),
        ("cmd", '["run", "run"]'),
        ("inputs", '["in.csv", "more.csv"]'),
        ("outputs", '["other.csv"]'),
        ("env", '{ A = "2" }'),
        ("cwd", '"sub"'),
    ],
)
def test_definition_change_changes_fingerprint(key, value):
    assert fingerprint_with(**{key: value}) != fingerprint_with()


def test_cmd_as_a_one_line_list_is_the_same_definition():
    assert fingerprint_with(cmd='["run"]') == fingerprint_with()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("help", '"other help"'),
        ("retries", "3"),
        ("retry_delay", "5"),
        ("timeout", "999"),
        ("after", '["c"]'),
    ],
)
def test_other_keys_leave_fingerprint_alone(key, value):
    assert fingerprint_with(**{key: value}) == fingerprint_with()


def test_shell_change_changes_fingerprint():
    text = '[tasks.a]\ncmd = "run"\n'
    assert (
        task_of(text).fingerprint != task_of('[settings]\nshell = "/bin/bash"\n' + text).fingerprint
    )


def test_python_target_change_changes_fingerprint():
    assert (
        task_of('[tasks.a]\npython = "m:f"\n').fingerprint
        != task_of('[tasks.a]\npython = "m:g"\n').fingerprint
    )


# --- find() -------------------------------------------------------------------------------


def test_find_returns_nearest_pipefile_upward(tmp_path):
    (tmp_path / "Pipefile.toml").write_text("")
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_pipefile(str(deep)) == str(tmp_path / "Pipefile.toml")
    (tmp_path / "a" / "Pipefile.toml").write_text("")
    assert find_pipefile(str(deep)) == str(tmp_path / "a" / "Pipefile.toml")
    assert find_pipefile(str(tmp_path)) == str(tmp_path / "Pipefile.toml")


def test_find_defaults_to_the_current_directory(tmp_path):
    (tmp_path / "Pipefile.toml").write_text("")
    assert find_pipefile() == str(tmp_path / "Pipefile.toml")


def test_find_stops_at_a_pipefile_it_cannot_use_instead_of_taking_a_parents(tmp_path):
    """Building the parent's project without a word would be worse than an error."""
    (tmp_path / "Pipefile.toml").write_text("")
    (tmp_path / "sub" / "Pipefile.toml").mkdir(parents=True)
    with pytest.raises(PipefileError, match=r"Pipefile\.toml is a directory") as caught:
        find_pipefile(str(tmp_path / "sub"))
    assert "-f PATH" in caught.value.hint
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "Pipefile.toml").symlink_to("../shared/Pipefile.toml")
    with pytest.raises(PipefileError, match=r"to \.\./shared/Pipefile\.toml, which leads to no"):
        find_pipefile(str(tmp_path / "link"))
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "Pipefile.toml").symlink_to("Pipefile.toml")
    with pytest.raises(PipefileError, match="which leads to no file"):
        find_pipefile(str(tmp_path / "loop"))


def test_a_pipefile_reached_through_a_good_link_is_found(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "Pipefile.toml").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Pipefile.toml").symlink_to("../shared/Pipefile.toml")
    assert find_pipefile(str(tmp_path / "sub")) == str(tmp_path / "sub" / "Pipefile.toml")


def test_find_without_pipefile_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    if any((parent / "Pipefile.toml").is_file() for parent in empty.parents):
        pytest.skip("a parent of the temporary directory has a Pipefile.toml")
    with pytest.raises(PipefileError) as caught:
        find_pipefile(str(empty))
    assert f"no Pipefile.toml in {empty} or any parent directory" in str(caught.value)
    assert "-f PATH" in str(caught.value)


def test_load_accepts_a_directory(tmp_path):
    write('[tasks.a]\ncmd = "x"\n')
    (tmp_path / "sub").mkdir()
    project = load(str(tmp_path / "sub"), write_cache=False)
    assert project.root == str(tmp_path)
    assert list(project.graph.tasks) == ["a"]


def test_load_of_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(PipefileError, match="does not exist"):
        load(str(tmp_path / "nope.toml"))


# --- the parse cache -----------------------------------------------------------------------

PIPEFILE = """
[vars]
raw = "data/raw"

[tasks.extract]
cmd = "extract > {{outputs}}"
outputs = ["{{raw}}/users.csv"]

[tasks.clean]
cmd = "clean {{inputs}} > {{outputs}}"
inputs = ["{{raw}}/users.csv"]
outputs = ["data/clean.csv"]
"""


@pytest.fixture
def parses(monkeypatch):
    """Counts real parses; a load served by the cache does not parse."""
    calls = []
    real = pipefile.parse

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipefile, "parse", counting)
    return calls


def cache_path(tmp_path):
    return tmp_path / ".dagmake" / "pipefile.cache"


def same_project(a, b) -> bool:
    return (
        a.tasks == b.tasks
        and a.graph.order == b.graph.order
        and a.graph.upstream == b.graph.upstream
        and a.settings.to_data() == b.settings.to_data()
    )


def test_second_load_comes_from_the_cache(tmp_path, parses):
    path = write(PIPEFILE)
    first = load(path)
    assert cache_path(tmp_path).is_file()
    assert (tmp_path / ".dagmake" / ".gitignore").read_text() == "*\n"
    second = load(path)
    assert len(parses) == 1
    assert same_project(first, second)
    assert second.graph.upstream["clean"] == ("extract",)


def test_pipefile_rewritten_with_same_size_and_mtime_is_parsed_again(tmp_path, parses):
    path = write(PIPEFILE)
    load(path)
    before = os.stat(path)
    changed = PIPEFILE.replace('"extract > ', '"EXTRACT > ')
    assert len(changed) == len(PIPEFILE)
    write(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size
    project = load(path)
    assert len(parses) == 2
    assert project.graph.tasks["extract"].action.commands == ("EXTRACT > data/raw/users.csv",)


def test_cache_honours_overrides(tmp_path, parses):
    path = write(PIPEFILE)
    load(path)
    project = load(path, overrides={"raw": "elsewhere"})
    assert project.graph.tasks["extract"].outputs == ("elsewhere/users.csv",)
    assert project.overrides == (("raw", "elsewhere"),)
    again = load(path)
    assert again.graph.tasks["extract"].outputs == ("data/raw/users.csv",)


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage\x00\xff", marshal.dumps("a string"), marshal.dumps((1, 2))],
    ids=["empty", "garbage", "wrong shape", "short tuple"],
)
def test_corrupt_cache_is_ignored(tmp_path, parses, content):
    path = write(PIPEFILE)
    expected = load(path)
    cache_path(tmp_path).write_bytes(content)
    project = load(path)
    assert len(parses) == 2
    assert same_project(project, expected)
    # and it is replaced by a good one
    load(path)
    assert len(parses) == 2


def test_cache_with_right_key_but_broken_payload_is_ignored(tmp_path, parses):
    path = write(PIPEFILE)
    expected = load(path)
    key, text, _payload, resolutions = marshal.loads(cache_path(tmp_path).read_bytes())
    cache_path(tmp_path).write_bytes(marshal.dumps((key, text, ("broken",), resolutions)))
    assert same_project(load(path), expected)
    assert len(parses) == 2


def test_cache_of_another_format_or_version_is_ignored(tmp_path, parses, monkeypatch):
    path = write(PIPEFILE)
    load(path)
    monkeypatch.setattr(dagmake.project, "CACHE_FORMAT", dagmake.project.CACHE_FORMAT + 1)
    load(path)
    assert len(parses) == 2
    monkeypatch.setattr(dagmake.project, "_version", lambda: "0.0.0-other")
    load(path)
    assert len(parses) == 3
    load(path)
    assert len(parses) == 3


def test_load_without_write_cache_creates_no_state_dir(tmp_path, parses):
    path = write(PIPEFILE)
    load(path, write_cache=False)
    load(path, write_cache=False)
    assert not (tmp_path / ".dagmake").exists()
    assert len(parses) == 2


def test_invalid_pipefile_is_not_served_from_an_old_cache(tmp_path):
    path = write(PIPEFILE)
    load(path)
    write(PIPEFILE + '\n[tasks.bad]\ncmd = "x"\ninput = []\n')
    with pytest.raises(PipefileError, match="unknown key 'input'"):
        load(path)


def test_graph_error_on_load_is_a_graph_error():
    error = load_error('[tasks.a]\ncmd = "x"\nafter = ["b"]\n')
    assert isinstance(error, GraphError)


@pytest.mark.parametrize(
    "source, line",
    [
        (b'[tasks.a]\ncmd = "echo hi"\n\n[tasks.a.env]\nW = "1"\nX = true\n', 6),
        (b'[tasks.a]\ncmd = "echo hi"\nenv.W = "1"\nenv.X = true\n', 4),
        (b'[tasks.a]\ncmd = "echo hi"\nenv = { W = "1", X = true }\n', 3),
        (b'[tasks.a]\ncmd = "echo hi"\n[tasks.a.env]\nW = "1"\nX = "{{nope}}"\n', 5),
    ],
    ids=["subtable", "dotted keys", "inline table", "placeholder in a subtable"],
)
def test_error_in_an_env_value_names_that_values_line(source, line):
    with pytest.raises(PipefileError) as caught:
        pipefile.parse(source, "/p/Pipefile.toml", {})
    assert caught.value.line == line
    assert "'env.X'" in str(caught.value)


@pytest.mark.parametrize("path", [".", "..", "../..", "/", "/p"])
def test_an_input_containing_the_project_is_refused(path):
    source = f'[tasks.a]\ncmd = "true > out"\ninputs = ["{path}"]\noutputs = ["out"]\n'
    with pytest.raises(PipefileError, match="contains the whole project"):
        pipefile.parse(source.encode(), "/p/Pipefile.toml", {})


@pytest.mark.parametrize("path", ["../../a", "../../a/", "../b/../../a", "../..", "/a/"])
def test_an_input_climbing_to_a_parent_of_the_project_is_refused(path):
    source = f'[tasks.t]\ncmd = "true > out"\ninputs = ["{path}"]\noutputs = ["out"]\n'
    with pytest.raises(PipefileError, match="contains the whole project"):
        pipefile.parse(source.encode(), "/a/b/Pipefile.toml", {})


def test_an_input_beside_the_project_is_not_taken_for_a_parent():
    source = '[tasks.t]\ncmd = "true > out"\ninputs = ["../bc", "../../ab"]\noutputs = ["out"]\n'
    [task] = pipefile.parse(source.encode(), "/a/b/Pipefile.toml", {})[1]
    assert task.inputs == ("../bc", "../../ab")


def test_an_override_of_a_var_the_pipefile_lacks_is_a_usage_error():
    text = '[vars]\nraw = "data/raw"\n\n[tasks.a]\ncmd = "ls {{raw}}"\n'
    with pytest.raises(UsageError) as raised:
        parse(text, overrides={"rwa": "x"})
    message = str(raised.value)
    assert "has no var 'rwa'" in message
    assert "did you mean 'raw'?" in message


def test_a_wrong_boolean_is_shown_as_toml_writes_it():
    with pytest.raises(PipefileError) as raised:
        parse('[tasks.a]\ncmd = "x"\nretries = true\n')
    assert "'retries' must be a whole number, not a boolean (true)" in str(raised.value)


@pytest.mark.parametrize(
    "written, compared",
    [
        ("data/a.csv", "data/a.csv"),
        ("./data/a.csv", "data/a.csv"),
        ("data//a.csv", "data/a.csv"),
        ("data/./a.csv", "data/a.csv"),
        ("data/x/../a.csv", "data/a.csv"),
        ("data/", "data"),
        ("data/x/..", "data"),
        (".hidden/a.csv", ".hidden/a.csv"),
        ("data/.hidden", "data/.hidden"),
    ],
)
def test_paths_are_compared_in_normal_form(written, compared):
    # the graph links an input to its producer by equal strings: both must be normalised
    task = task_of(f'[tasks.a]\ncmd = "x"\ninputs = ["{written}"]\noutputs = ["{written}.out"]\n')
    assert task.inputs == (compared,)
    assert task.outputs == (posixpath.normpath(written + ".out"),)


def test_inputs_and_outputs_placeholders_are_relative_to_the_tasks_cwd():
    task = task_of(
        """
        [tasks.a]
        cwd = "sub"
        cmd = "tool {{inputs}} -o {{outputs}}"
        env = { IN = "{{ inputs }}" }
        inputs = ["sub/in put.txt", "top.txt"]
        outputs = ["sub/out.txt"]
        """
    )
    assert task.action.commands == ("tool 'in put.txt' ../top.txt -o out.txt",)
    assert dict(task.env) == {"IN": "'in put.txt' ../top.txt"}


def test_a_nul_written_as_a_long_escape_is_refused():
    with pytest.raises(PipefileError) as caught:
        parse('[tasks.a]\ncmd = "echo \\U00000000"\n')
    assert "NUL" in str(caught.value)


def test_an_input_that_a_var_makes_empty_is_refused_as_the_whole_project():
    with pytest.raises(PipefileError) as caught:
        parse('[vars]\nraw = ""\n[tasks.a]\ncmd = "x"\ninputs = ["{{ raw }}"]\n')
    assert "contains the whole project" in str(caught.value)


# --- outputs dagmake must not delete or overwrite ----------------------------------------


@pytest.mark.parametrize(
    "written", ["Pipefile.toml", "./Pipefile.toml", "data/../Pipefile.toml", "{root}/Pipefile.toml"]
)
def test_an_output_that_is_the_pipefile_is_refused(written):
    # `dagmake --clean` deletes outputs: it would delete the Pipefile
    written = written.format(root=os.getcwd())
    error = load_error(f'[tasks.a]\ncmd = "x"\noutputs = ["{written}"]\n')
    assert isinstance(error, PipefileError)
    assert error.message == "output 'Pipefile.toml' is the Pipefile itself"
    assert (error.task, error.key, error.line) == ("a", "outputs", 3)
    assert error.hint


def test_the_pipefile_given_with_f_is_the_one_no_task_may_output():
    with open("other.toml", "w") as f:
        f.write('[tasks.a]\ncmd = "x"\noutputs = ["Pipefile.toml"]\n')
    # another file's name: a task may write a Pipefile.toml beside other.toml
    assert load("other.toml", write_cache=False).tasks[0].outputs == ("Pipefile.toml",)
    with open("other.toml", "w") as f:
        f.write('[tasks.a]\ncmd = "x"\noutputs = ["other.toml"]\n')
    with pytest.raises(PipefileError) as caught:
        load("other.toml", write_cache=False)
    assert "output 'other.toml' is the Pipefile itself" in str(caught.value)


def test_an_input_that_is_the_pipefile_is_allowed():
    assert task_of('[tasks.a]\ncmd = "x"\ninputs = ["Pipefile.toml"]\n').inputs == (
        "Pipefile.toml",
    )


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        (".dagmake", ".dagmake"),
        (".dagmake/", ".dagmake"),
        ("./.dagmake/logs", ".dagmake/logs"),
        (".dagmake/logs/a.log", ".dagmake/logs/a.log"),
        ("data/../.dagmake/state", ".dagmake/state"),
    ],
)
def test_an_output_in_the_state_directory_is_refused(written, shown):
    error = load_error(f'[tasks.a]\ncmd = "x"\noutputs = ["{written}"]\n')
    assert isinstance(error, PipefileError)
    assert error.message == f"output '{shown}' is inside .dagmake/, where dagmake keeps its state"
    assert (error.task, error.key) == ("a", "outputs")
    assert error.hint


@pytest.mark.parametrize("written", [".dagmake2", ".dagmake.bak/x", "data/.dagmake"])
def test_an_output_merely_named_like_the_state_directory_is_allowed(written):
    assert task_of(f'[tasks.a]\ncmd = "x"\noutputs = ["{written}"]\n').outputs == (written,)


# --- empty commands ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('cmd = ""', "'cmd' is empty"),
        ('cmd = "   "', "'cmd' is empty"),
        ("cmd = '''\n\n'''", "'cmd' is empty"),
        ('cmd = ["echo a", ""]', "command 2 of 'cmd' is empty"),
        ('cmd = ["\\t", "echo a"]', "command 1 of 'cmd' is empty"),
        ('cmd = [""]', "command 1 of 'cmd' is empty"),
    ],
)
def test_an_empty_command_is_refused(line, message):
    error = load_error(f"[tasks.a]\nhelp = 'h'\n{line}\n")
    assert isinstance(error, PipefileError)
    assert error.message == message
    assert (error.task, error.key, error.line) == ("a", "cmd", 3)
    assert "remove 'cmd' to make the task a group of its 'after' tasks" in error.hint


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        ('[vars]\nx = ""\n[tasks.a]\ncmd = "{{x}}"\n', {}, "'cmd' is empty"),
        ('[vars]\nx = " "\n[tasks.a]\ncmd = "{{ x }} "\n', {}, "'cmd' is empty"),
        ('[vars]\nx = ""\n[tasks.a]\ncmd = ["echo", "{{x}}"]\n', {}, "command 2 of 'cmd' is empty"),
        ('[vars]\nx = "echo"\n[tasks.a]\ncmd = "{{x}}"\n', {"x": ""}, "'cmd' is empty"),
        ('[vars]\nx = "{{y}}"\ny = ""\n[tasks.a]\ncmd = "{{x}}"\n', {}, "'cmd' is empty"),
        ('[tasks.a]\ncmd = "{{inputs}}"\n', {}, "'cmd' is empty"),
    ],
)
def test_a_command_its_placeholders_make_empty_is_refused(text, overrides, message):
    with pytest.raises(PipefileError) as caught:
        parse(text, overrides)
    assert caught.value.message.startswith(message + " once its placeholders are filled in")
    assert (caught.value.task, caught.value.key) == ("a", "cmd")
    assert "remove 'cmd'" in caught.value.hint


def test_a_command_with_placeholders_that_fill_something_is_kept():
    task = task_of('[vars]\nx = "a"\n[tasks.a]\ncmd = ["echo", "{{x}}"]\n')
    assert task.action.commands == ("echo", "a")


# --- task names --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["café", "naïve_join", "данные"])
def test_a_task_name_with_non_ascii_letters_says_ascii(name):
    error = load_error(f'[tasks."{name}"]\ncmd = "x"\n')
    assert isinstance(error, PipefileError)
    assert f"task name '{name}' may only use ASCII letters, digits, '_', '-' and '.'" in str(error)


def test_a_task_name_longer_than_200_bytes_is_refused():
    # its log, .dagmake/logs/<name>.log, must fit the 255 bytes a file name may have
    name = "n" * 201
    error = load_error(f'[tasks.{name}]\ncmd = "x"\n')
    assert isinstance(error, PipefileError)
    assert error.message == "task name is 201 characters long, more than the 200 allowed"
    assert error.line == 1
    assert ".log" in error.hint
    assert name not in str(error)  # shortened in the message
    assert task_of(f'[tasks.{"n" * 200}]\ncmd = "x"\n', "n" * 200).name == "n" * 200


# --- unknown keys ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line", ["zzz = {}", 'zzz = { cmd = "y" }', "zzz = 1", 'zzz.cmd = "y"', "zzz = [{}]"]
)
def test_an_unknown_key_not_from_a_table_header_gets_the_allowed_keys(line):
    error = load_error(f'[tasks.a]\ncmd = "x"\n{line}\n')
    assert error.message == "unknown key 'zzz'"
    assert "must be quoted" not in error.hint
    assert error.hint.startswith("keys allowed in task 'a': help, cmd")


@pytest.mark.parametrize(
    "header",
    ["[tasks.a.zzz]", "[ tasks . a . zzz ]  # a comment", '[tasks."a".zzz]', "[tasks.a.zzz.env]"],
)
def test_an_unknown_table_from_a_dotted_header_is_taken_for_a_dotted_task_name(header):
    error = load_error(f'[tasks.a]\ncmd = "x"\n\n{header}\ncmd = "y"\n')
    assert error.message == "unknown key 'zzz'"
    assert error.hint == 'a task name with a dot must be quoted: [tasks."a.zzz"]'


SYNONYMS = [
    *[(key, "after") for key in ("depends_on", "deps", "needs", "requires", "depends")],
    *[(key, "cwd") for key in ("working_dir", "workdir", "dir", "directory")],
    *[(key, "env") for key in ("environment", "environ")],
    *[(key, "cmd") for key in ("run", "command", "commands", "script", "shell")],
    *[(key, "outputs") for key in ("targets", "produces", "outs")],
    *[(key, "inputs") for key in ("sources", "srcs", "deps_files")],
    *[(key, "help") for key in ("description", "desc", "doc")],
    ("retry", "retries"),
]


@pytest.mark.parametrize(("key", "meant"), SYNONYMS)
def test_another_tools_word_for_a_task_key_suggests_ours(key, meant):
    # with a table value too: `environment = {}` is not a task name with a dot
    for value in ('["x"]', "{}"):
        error = load_error(f"[tasks.a]\nhelp = 'h'\n{key} = {value}\n")
        assert error.message == f"unknown key '{key}', did you mean '{meant}'?"
        assert (error.task, error.key, error.line) == ("a", key, 3)
        assert "must be quoted" not in error.hint


def test_a_synonym_of_after_says_where_a_file_dependency_goes():
    error = load_error('[tasks.a]\ncmd = "x"\ndepends_on = ["data.csv"]\n')
    assert "'inputs'" in error.hint


@pytest.mark.parametrize(
    "key, value, hint",
    [
        ("jobs", "4", "'jobs' is a setting: write it under a [settings] line"),
        ("shell", '"/bin/bash"', "'shell' is a setting: write it under a [settings] line"),
        ("cmd", '"make"', "'cmd' belongs to a task: write it under [tasks.NAME]"),
        ("inputs", '["a"]', "'inputs' belongs to a task: write it under [tasks.NAME]"),
    ],
)
def test_a_setting_or_task_key_at_the_top_level_says_where_it_belongs(key, value, hint):
    error = load_error(f'{key} = {value}\n[tasks.a]\ncmd = "x"\n')
    assert error.message == f"unknown key '{key}'"
    assert (error.line, error.hint) == (1, hint)


def test_a_synonym_is_suggested_only_where_its_key_is_allowed():
    assert str(load_error('[environment]\nA = "1"\n[tasks.a]\ncmd = "x"\n')).startswith(
        "Pipefile.toml:1: unknown key 'environment', did you mean 'env'?"
    )
    # [settings] has no cwd
    assert "did you mean 'cwd'" not in str(
        load_error('[settings]\ndir = "x"\n[tasks.a]\ncmd = "x"\n')
    )


# --- a byte-order mark -------------------------------------------------------------------

BOM = b"\xef\xbb\xbf"


def write_bytes(data: bytes) -> str:
    path = os.path.join(os.getcwd(), "Pipefile.toml")
    with open(path, "wb") as f:
        f.write(data)
    return path


def test_a_pipefile_starting_with_a_byte_order_mark_loads():
    path = write_bytes(BOM + b'[tasks.a]\ncmd = "echo a"\noutputs = ["a.txt"]\n')
    project = load(path, write_cache=False)
    assert project.tasks[0].action.commands == ("echo a",)
    assert project.source.startswith(BOM)  # the bytes as read, which the caches compare


@pytest.mark.parametrize(
    ("text", "start"),
    [
        (b'[tasks.a]\ncmd = "x" y\n', "Pipefile.toml:2:11: invalid TOML"),
        (b'[tasks.a] y\ncmd = "x"\n', "Pipefile.toml:1:11: invalid TOML"),
        (b'[tasks.a]\ncmd = "x"\nzzz = 1\n', "Pipefile.toml:3: task 'a': unknown key"),
        # a graph error, located after parsing; line 1 with the mark is still [tasks.a]
        (b'[tasks.a]\ncmd = "x"\nafter = ["b"]\n', "Pipefile.toml:3: task 'a': 'after'"),
        (b'[settings]\ndefault = ["b"]\n[tasks.a]\ncmd = "x"\n', "Pipefile.toml:2: "),
    ],
)
def test_a_byte_order_mark_moves_no_error(text, start):
    with pytest.raises(DagmakeError) as with_mark:
        load(write_bytes(BOM + text), write_cache=False)
    with pytest.raises(DagmakeError) as without:
        load(write_bytes(text), write_cache=False)
    assert str(with_mark.value) == str(without.value)
    assert str(with_mark.value).startswith(start), str(with_mark.value)


def test_a_byte_order_mark_leaves_the_byte_of_bad_utf8_right():
    path = write_bytes(BOM + b'[tasks.a]\ncmd = "\xff"\n')
    with pytest.raises(PipefileError, match=r"2:8: not valid UTF-8 \(byte 20: ff\)"):
        load(path, write_cache=False)


def test_adding_or_removing_a_byte_order_mark_is_a_change_to_the_cache(tmp_path, parses):
    text = b'[tasks.a]\ncmd = "echo a"\n'
    path = write_bytes(BOM + text)
    load(path)
    load(path)
    assert len(parses) == 1
    write_bytes(text)
    assert load(path).source == text
    assert len(parses) == 2
    write_bytes(BOM + text.replace(b"echo a", b"echo b"))
    assert load(path).tasks[0].action.commands == ("echo b",)
    assert len(parses) == 3


# --- {{inputs}} and {{outputs}} outside cmd and env ---------------------------------------


@pytest.mark.parametrize(
    ("line", "name", "field"),
    [
        ('outputs = ["{{outputs}}"]', "outputs", "outputs"),
        ('outputs = ["{{ inputs }}.bak"]', "inputs", "outputs"),
        ('inputs = ["{{inputs}}"]', "inputs", "inputs"),
        ('inputs = ["x", "{{outputs}}"]', "outputs", "inputs"),
        ('cwd = "{{inputs}}"', "inputs", "cwd"),
        ('outputs = ["{{via_var}}"]', "inputs", "outputs"),  # a var holding {{inputs}}
    ],
)
def test_inputs_and_outputs_placeholders_outside_cmd_and_env_say_where_they_work(line, name, field):
    error = load_error(f'[vars]\nvia_var = "{{{{inputs}}}}.bak"\n[tasks.a]\ncmd = "x"\n{line}\n')
    assert isinstance(error, PipefileError)
    assert error.message == (
        f"'{{{{{name}}}}}' cannot be used in '{field}': "
        "{{inputs}} and {{outputs}} are only available in 'cmd' and 'env'"
    )
    assert (error.task, error.key, error.line) == ("a", field, 5)
    assert "unknown placeholder" not in str(error)


def test_another_unknown_placeholder_beside_outputs_is_still_unknown():
    error = load_error('[tasks.a]\ncmd = "x"\noutputs = ["{{nope}}/{{outputs}}"]\n')
    assert error.message == "unknown placeholder '{{nope}}' in 'outputs'"


def test_inputs_and_outputs_placeholders_work_in_cmd_and_env():
    task = task_of(
        '[tasks.a]\ncmd = "cp {{inputs}} {{outputs}}"\nenv = { OUT = "{{outputs}}" }\n'
        'inputs = ["i"]\noutputs = ["o"]\n'
    )
    assert task.action.commands == ("cp i o",)
    assert dict(task.env)["OUT"] == "o"


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ('[vars]\nx = []\n[tasks.a]\ncmd = "x"\n', "Pipefile.toml:2: 'vars.x' must be a string"),
        ('[env]\nshell = true\n[tasks.a]\ncmd = "x"\n', "Pipefile.toml:2: 'env.shell' must be"),
    ],
)
def test_a_wrong_type_in_vars_or_env_names_the_table(text, start):
    message = str(load_error(text))
    assert message.startswith(start), message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # a line of a multi-line command that looks like a table header, or like the key
        ('[tasks.a]\ncmd = """\n[ -e x ] && echo\n"""\ninputs = "x"\n', 5),
        ('[tasks.a]\ncmd = """\ninputs=foo\n"""\nhelp = "h"\ninputs = "x"\n', 6),
        (
            "[tasks.a]\ncmd = '''\ninputs=foo # \"\"\"\n'''\n"
            "help = \"# '''\" # '''\ninputs = \"x\"\n",
            6,
        ),
        ('[tasks.a]\ncmd = "echo \\" \\"\\"\\" "\ninputs = "x"\n', 3),
    ],
)
def test_an_error_line_skips_what_lies_inside_multi_line_strings(text, line):
    error = load_error(text)
    assert str(error).startswith(f"Pipefile.toml:{line}: task 'a': 'inputs' must be"), error


def test_a_valid_pipefile_is_never_split_into_lines(tmp_path, monkeypatch):
    # finding a line is for errors only: on a 10,000-task Pipefile it costs ~100 ms
    def refuse(text):
        raise AssertionError("split into lines without an error")

    monkeypatch.setattr(pipefile, "_code_lines", refuse)
    (tmp_path / "Pipefile.toml").write_text(
        '[vars]\nd = "data"\n[env]\nA = "1"\n[settings]\ndefault = ["b"]\n'
        '[tasks.a]\ncmd = """\nmkdir -p {{d}}\ntouch {{d}}/a\n"""\noutputs = ["{{d}}/a"]\n'
        '[tasks.b]\npython = "m:f"\ninputs = ["{{d}}/a", "*.txt"]\noutputs = ["b"]\n'
    )
    (tmp_path / "x.txt").write_text("")
    project = load(str(tmp_path), write_cache=False)
    assert [task.name for task in project.tasks] == ["a", "b"]


def test_a_glob_in_a_commands_inputs_keeps_the_definition_it_had_as_a_pattern(tmp_path):
    """Records written when {{inputs}} passed globs to the shell still match: upgrading
    reruns nothing, and a new file matching the glob changes no definition."""
    from dagmake.task import ShellAction, Task

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("a")
    (tmp_path / "Pipefile.toml").write_text(
        '[tasks.t]\ncmd = "cat {{inputs}} > out.txt"\n'
        'inputs = ["data/**/*.csv"]\noutputs = ["out.txt"]\n'
    )
    task = load(str(tmp_path / "Pipefile.toml"), write_cache=False).graph.tasks["t"]
    as_a_pattern = Task(
        "t",
        ShellAction(("cat data/**/*.csv > out.txt",), task.action.shell),
        inputs=task.inputs,
        outputs=task.outputs,
        env=task.env,
        cwd=task.cwd,
    )
    assert task.action.texts() == ("cat data/**/*.csv > out.txt",)
    assert task.fingerprint == as_a_pattern.fingerprint


def test_a_key_set_twice_is_named():
    error = load_error('[tasks.a]\ncmd = "true"\ncmd = "false"\n')
    assert str(error).startswith("Pipefile.toml:3:14: invalid TOML: 'cmd' is set twice"), error


def test_a_shell_whose_path_has_a_space_is_still_a_shell(tmp_path):
    (tmp_path / "my tools").mkdir()
    (tmp_path / "my tools" / "sh").symlink_to("/bin/sh")
    (tmp_path / "Pipefile.toml").write_text(
        '[settings]\nshell = "my tools/sh"\n[tasks.a]\ncmd = "true"\n'
    )
    project = load(str(tmp_path / "Pipefile.toml"), write_cache=False)
    assert project.settings.shell == "my tools/sh"


@pytest.mark.parametrize(
    "text, shown",
    [
        ('[tasks.a]\ncmd = "true"\n[tasks.a]\ncmd = "x"\n', "[tasks.a] is declared twice"),
        ('[tasks."a.b"]\ncmd = "1"\n[tasks."a.b"]\ncmd = "x"\n', '[tasks."a.b"] is declared twice'),
    ],
)
def test_a_table_declared_twice_is_named_as_the_pipefile_writes_it(text, shown):
    error = load_error(text)
    assert str(error).startswith("Pipefile.toml:3:"), error
    assert shown in str(error) and "('tasks'" not in str(error)


def test_a_shell_with_an_option_after_a_tab_is_a_command_line_too():
    error = load_error('[settings]\nshell = "bash\\t-e"\n[tasks.a]\ncmd = "true"\n')
    assert "'shell' must be a program, not a command line" in str(error)
    assert 'write shell = "bash"' in str(error)


def test_a_parse_cache_that_cannot_be_written_leaves_no_temporary_file(tmp_path, monkeypatch):
    from fakes import full_disk

    path = write(PIPEFILE)
    os.mkdir(tmp_path / ".dagmake")
    (tmp_path / ".dagmake" / ".gitignore").write_text("*\n")
    full_disk(monkeypatch)
    project = load(path)  # builds all the same, unremembered
    monkeypatch.undo()
    assert project.tasks
    assert os.listdir(tmp_path / ".dagmake") == [".gitignore"]


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("[tasks.a]\ncmd = echo\n", 'text needs quotes (cmd = "echo hi")'),
        ('[tasks.a]\ncmd = "x"\nalways = True\n', "a boolean is written true or false"),
        ('[tasks.a]\ncmd = "x"\ntimeout = None\n', "TOML has no null: leave the key out"),
        ('[tasks.a]\ncmd = "echo\n', "close the string on the line it starts"),
        ('[tasks.a]\ncmd = "echo', "close the string on the line it starts"),
        ('[tasks.a]\ncmd = \'echo hi\noutputs = ["x"]\n', "close the string on the line"),
        ('[tasks.a]\ncmd = "echo \\d"\n', "write \\\\ for a backslash, or use a 'literal string'"),
        ('[tasks.café]\ncmd = "x"\n', "a name other than ASCII letters, digits, _ and -"),
    ],
    ids=[
        *("unquoted", "True", "None"),
        *("unclosed", "unclosed at the end", "unclosed literal", "backslash", "unicode name"),
    ],
)
def test_common_toml_mistakes_get_a_hint(text, hint):
    message = str(load_error(text))
    assert "invalid TOML" in message
    assert f"hint: {hint}" in message, message


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            '[tasks.a]\ncmd = "x"\nenviroment = {}\n',
            ["unknown key 'enviroment', did you mean 'env'?"],
        ),
        (
            '[extract]\ncmd = "x"\n',
            ["unknown key 'extract'", "hint: a task is declared as [tasks.extract]"],
        ),
        (
            '[tasks.a]\ncmd = "x"\ninputs = ""\n',
            ['hint: write inputs = ["a", "b"], or inputs = [] for none'],
        ),
        ('[tasks.a]\ncmd = "x"\noutputs = "o.csv"\n', ['hint: write outputs = ["o.csv"]']),
        ('[tasks.a]\ncmd = "x"\nsource = []\n', ["unknown key 'source', did you mean 'inputs'?"]),
        ('[tasks.a]\ncmd = "x"\nfile_dep = []\n', ["did you mean 'inputs'?"]),
    ],
    ids=[
        *("misspelt synonym", "task without tasks.", "empty string list", "string list"),
        *("source", "doit's file_dep"),
    ],
)
def test_hints_that_name_the_fix(text, fragments):
    message = str(load_error(text))
    for fragment in fragments:
        assert fragment in message, message
