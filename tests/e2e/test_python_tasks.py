"""`python = "module:function"` tasks: arguments, output, exceptions, missing names, parallelism."""

import json
import textwrap

import pytest

from conftest import T0, Project, assert_ran

MODULE = """\
import json
import os
import time


def both(inputs, outputs):
    print("called with", json.dumps({"inputs": inputs, "outputs": outputs}))
    with open(outputs[0], "w") as f:
        f.write("".join(open(p).read() for p in inputs))


def only_outputs(outputs):
    open(outputs[0], "w").write("only outputs\\n")


def no_arguments():
    print("no arguments, cwd", os.getcwd())
    open("plain.txt", "w").write("plain\\n")


def anything(**kwargs):
    print("keywords", sorted(kwargs))


def boom():
    helper = 1
    raise ValueError(f"kaboom {helper}")


def handshake(me, other):
    open(me + ".started", "w").close()
    deadline = time.monotonic() + 10
    while not os.path.exists(other + ".started"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{other} never started")
        time.sleep(0.01)
    open(me + ".txt", "w").close()


def left():
    handshake("left", "right")


def right():
    handshake("right", "left")
"""


def pipeline(project: Project, tasks: str) -> None:
    project.write("steps/__init__.py", "")
    project.write("steps/work.py", MODULE)
    project.pipefile(tasks)


def test_inputs_and_outputs_arrive_as_lists_of_paths(project):
    pipeline(
        project,
        """\
        [tasks.join]
        python = "steps.work:both"
        inputs = ["data/a.txt", "data/b.txt"]
        outputs = ["joined.txt"]
        """,
    )
    project.write("data/a.txt", "a\n", ns=T0)
    project.write("data/b.txt", "b\n", ns=T0)
    result = project.run()
    assert_ran(result, ["join"])
    line = '{"inputs": ["data/a.txt", "data/b.txt"], "outputs": ["joined.txt"]}'
    assert f"called with {line}" in result.stdout.splitlines()
    assert project.read("joined.txt") == "a\nb\n"
    assert f"called with {line}" in project.read(".dagmake/logs/join.log")


@pytest.mark.parametrize(
    "inputs, given",
    [
        ('["data/*.txt"]', ["data/a.txt", "data/b.txt"]),
        # a path named and matched by a glob too arrives once
        ('["data/b.txt", "data/*.txt"]', ["data/b.txt", "data/a.txt"]),
    ],
)
def test_glob_inputs_arrive_expanded(project, inputs, given):
    pipeline(
        project,
        f"""\
        [tasks.join]
        python = "steps.work:both"
        inputs = {inputs}
        outputs = ["joined.txt"]
        """,
    )
    project.write("data/a.txt", "a\n", ns=T0)
    project.write("data/b.txt", "b\n", ns=T0)
    result = project.run()
    assert_ran(result, ["join"])
    assert f'"inputs": {json.dumps(given)}' in result.stdout
    assert project.read("joined.txt") == "".join(project.read(path) for path in given)


def test_paths_are_relative_to_the_task_cwd(project):
    pipeline(
        project,
        """\
        [tasks.join]
        python = "steps.work:both"
        inputs = ["data/a.txt"]
        outputs = ["data/out.txt"]
        cwd = "data"
        """,
    )
    project.write("data/a.txt", "a\n", ns=T0)
    result = project.run()
    assert_ran(result, ["join"])
    assert '{"inputs": ["a.txt"], "outputs": ["out.txt"]}' in result.stdout
    assert project.read("data/out.txt") == "a\n"


def test_functions_get_only_the_arguments_they_take(project):
    pipeline(
        project,
        """\
        [tasks.plain]
        python = "steps.work:no_arguments"
        outputs = ["plain.txt"]

        [tasks.outs]
        python = "steps.work:only_outputs"
        outputs = ["outs.txt"]

        [tasks.any]
        python = "steps.work:anything"
        """,
    )
    result = project.run()
    assert_ran(result, ["plain", "outs", "any"])
    assert f"no arguments, cwd {project.root}" in result.stdout
    assert project.read("outs.txt") == "only outputs\n"
    assert "keywords ['inputs', 'outputs']" in result.stdout


def test_an_exception_fails_the_task_and_shows_the_users_traceback(project):
    pipeline(project, '[tasks.boom]\npython = "steps.work:boom"\n')
    result = project.run()
    assert result.returncode == 1, result
    assert "FAILED boom (exit 1" in result.stdout
    assert 'raise ValueError(f"kaboom {helper}")' in result.stdout
    assert "ValueError: kaboom 1" in result.stdout
    assert "steps/work.py" in result.stdout
    assert "dagmake/pytask.py" not in result.output
    assert "runpy" not in result.output
    assert "dagmake/pytask.py" not in project.read(".dagmake/logs/boom.log")
    assert "dagmake: first failure: boom (exit 1)" in result.stdout


def test_a_missing_module_is_a_one_line_failure(project):
    pipeline(project, '[tasks.lost]\npython = "steps.nowhere:main"\n')
    result = project.run()
    assert result.returncode == 1, result
    log = project.read(".dagmake/logs/lost.log")
    assert log.count("\n") == 1, log
    assert "steps.nowhere" in log and "Traceback" not in log
    assert "  " + log.strip() in result.stdout


def test_a_missing_function_is_a_one_line_failure(project):
    pipeline(project, '[tasks.lost]\npython = "steps.work:nowhere"\n')
    result = project.run()
    assert result.returncode == 1, result
    log = project.read(".dagmake/logs/lost.log")
    assert log == "dagmake: module 'steps.work' has no function 'nowhere'\n"
    assert "Traceback" not in result.output


def test_a_name_bound_to_none_is_not_a_function_rather_than_missing(project):
    project.write("hooks.py", "main = None  # filled in by a plugin, or not\n")
    project.pipefile('[tasks.none]\npython = "hooks:main"\n')
    result = project.run()
    assert result.returncode == 1, result
    assert project.read(".dagmake/logs/none.log") == "dagmake: 'hooks:main' is not a function\n"


def test_a_module_whose_own_import_fails_shows_that_import(project):
    pipeline(project, '[tasks.broken]\npython = "stepsmore:main"\n')
    # the module exists; what it imports does not
    project.write("stepsmore.py", "import steps_missing_dependency\n\ndef main():\n    pass\n")
    result = project.run()
    assert result.returncode == 1, result
    log = project.read(".dagmake/logs/broken.log")
    assert "steps_missing_dependency" in log, log


def test_a_module_importing_a_missing_package_with_a_prefix_name(project):
    # the missing package's name is a prefix of the module's own name
    pipeline(project, '[tasks.broken]\npython = "steps_extra:main"\n')
    project.write("steps_extra.py", "import steps_\n\ndef main():\n    pass\n")
    result = project.run()
    assert result.returncode == 1, result
    log = project.read(".dagmake/logs/broken.log")
    assert "No module named 'steps_'" in log, log
    assert "cannot import module 'steps_extra'" not in log, log


def test_two_python_tasks_run_in_parallel(project):
    pipeline(
        project,
        """\
        [tasks.left]
        python = "steps.work:left"
        outputs = ["left.txt"]

        [tasks.right]
        python = "steps.work:right"
        outputs = ["right.txt"]
        """,
    )
    assert_ran(project.run("-j2"), ["left", "right"])


def test_editing_the_module_reruns_the_task_when_it_is_an_input(project):
    pipeline(
        project,
        """\
        [tasks.plain]
        python = "steps.work:no_arguments"
        inputs = ["steps/work.py"]
        outputs = ["plain.txt"]
        """,
    )
    assert_ran(project.run(), ["plain"])
    project.write("steps/work.py", MODULE + "\n# edited\n")
    assert_ran(project.run(), ["plain"])


def test_print_output_is_not_buffered_away(project):
    pipeline(project, '[tasks.any]\npython = "steps.work:anything"\n')
    project.write(
        "steps/work.py",
        MODULE
        + textwrap.dedent(
            """
            def crash_after_print():
                import os, sys
                print("printed before the crash")
                sys.stderr.write("on stderr\\n")
                os._exit(3)
            """
        ),
    )
    project.pipefile('[tasks.crash]\npython = "steps.work:crash_after_print"\n')
    result = project.run()
    assert result.returncode == 1, result
    log = project.read(".dagmake/logs/crash.log")
    assert "printed before the crash" in log and "on stderr" in log
    assert "FAILED crash (exit 3" in result.stdout


def test_an_error_at_import_shows_the_users_line_not_the_import_machinery(project):
    project.write("rt.py", "x = 1 / 0\n\ndef f():\n    pass\n")
    project.write("bad.py", "def f(:\n    pass\n")
    project.pipefile('[tasks.rt]\npython = "rt:f"\n\n[tasks.bad]\npython = "bad:f"\n')
    result = project.run("-k")
    assert result.returncode == 1, result
    runtime = project.read(".dagmake/logs/rt.log")
    assert 'File "' in runtime and 'rt.py", line 1' in runtime
    assert "ZeroDivisionError" in runtime
    syntax = project.read(".dagmake/logs/bad.log")
    assert "SyntaxError" in syntax and "bad.py" in syntax
    for log in (runtime, syntax):
        assert "importlib" not in log, log
        assert "dagmake" not in log, log


def test_a_project_module_named_like_a_standard_one_is_the_one_called(project):
    project.write("inspect.py", "def run(outputs):\n    open(outputs[0], 'w').write('mine')\n")
    project.pipefile('[tasks.t]\npython = "inspect:run"\noutputs = ["o.txt"]\n')
    result = project.run()
    assert result.returncode == 0, result
    assert project.read("o.txt") == "mine"


def test_a_function_needing_other_arguments_says_what_it_is_given(project):
    project.write(
        "extra.py",
        "def needs(outputs, x):\n    pass\n\n"
        "def fine(outputs, x=1):\n    open(outputs[0], 'w').write(str(x))\n",
    )
    project.pipefile(
        '[tasks.needs]\npython = "extra:needs"\noutputs = ["n.txt"]\n\n'
        '[tasks.fine]\npython = "extra:fine"\noutputs = ["f.txt"]\n'
    )
    result = project.run("-k")
    assert result.returncode == 1, result
    log = project.read(".dagmake/logs/needs.log")
    assert log.startswith("dagmake: extra:needs needs argument 'x'"), log
    assert "only `inputs` and `outputs`" in log
    assert project.read("f.txt") == "1"


def test_a_positional_only_inputs_parameter_is_not_passed_by_keyword(project):
    project.write(
        "posonly.py",
        "def defaulted(inputs=None, /, outputs=()):\n"
        "    open(outputs[0], 'w').write(repr(inputs))\n\n"
        "def required(inputs, /):\n    pass\n",
    )
    project.write("i.txt", "i")
    project.pipefile(
        '[tasks.defaulted]\npython = "posonly:defaulted"\ninputs = ["i.txt"]\n'
        'outputs = ["d.txt"]\n\n'
        '[tasks.required]\npython = "posonly:required"\ninputs = ["i.txt"]\n'
    )
    result = project.run("-k")
    assert result.returncode == 1, result
    assert project.read("d.txt") == "None"  # its default: `inputs` cannot be given by keyword
    log = project.read(".dagmake/logs/required.log")
    assert log.startswith("dagmake: posonly:required takes 'inputs' positional-only"), log
    assert "remove the '/'" in log


def test_a_method_of_an_object_and_a_class_callable_get_their_arguments(project):
    project.write(
        "objs.py",
        "class Step:\n"
        "    def run(self, outputs):\n"
        "        open(outputs[0], 'w').write('method')\n\n"
        "step = Step()\n\n"
        "class Build:\n"
        "    def __init__(self, outputs):\n"
        "        open(outputs[0], 'w').write('class')\n",
    )
    project.pipefile(
        '[tasks.m]\npython = "objs:step.run"\noutputs = ["m.txt"]\n\n'
        '[tasks.c]\npython = "objs:Build"\noutputs = ["c.txt"]\n'
    )
    result = project.run()
    assert result.returncode == 0, result
    assert project.read("m.txt") == "method" and project.read("c.txt") == "class"


SHAPES = """\
import functools


def logged(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        print("calling", function.__name__)
        return function(*args, **kwargs)

    return wrapper


@logged
def decorated(outputs):
    open(outputs[0], "w").write("decorated")


class Callable:
    def __call__(self, inputs, outputs):
        open(outputs[0], "w").write(f"callable {len(inputs)}")


instance = Callable()


async def fetch(outputs):
    open(outputs[0], "w").write("awaited")


async def fetch_fails():
    raise ValueError("async kaboom")


def chained():
    try:
        int("abc")
    except ValueError as error:
        raise RuntimeError("could not read the count") from error
"""


def test_decorated_callable_and_async_functions_get_their_arguments(project):
    project.write("shapes.py", SHAPES)
    project.write("in.txt", "x\n")
    project.pipefile(
        '[tasks.decorated]\npython = "shapes:decorated"\noutputs = ["d.txt"]\n\n'
        '[tasks.instance]\npython = "shapes:instance"\ninputs = ["in.txt"]\noutputs = ["i.txt"]\n\n'
        '[tasks.fetch]\npython = "shapes:fetch"\noutputs = ["f.txt"]\n'
    )
    assert_ran(project.run(), ["decorated", "instance", "fetch"])
    assert project.read("d.txt") == "decorated"  # the wrapper's **kwargs got outputs only
    assert project.read("i.txt") == "callable 1"
    assert project.read("f.txt") == "awaited"  # run to its end, not a coroutine dropped


GENERATORS = """\
def steps(outputs):
    with open(outputs[0], "w") as f:
        for part in ("one", "two"):
            f.write(part)
            yield part


async def async_steps(outputs):
    with open(outputs[0], "w") as f:
        f.write("async")
        yield 1


def fails_halfway():
    yield 1
    raise ValueError("halfway")
"""


def test_a_generator_function_runs_to_its_end(project):
    project.write("gens.py", GENERATORS)
    project.pipefile(
        '[tasks.steps]\npython = "gens:steps"\noutputs = ["s.txt"]\n\n'
        '[tasks.async_steps]\npython = "gens:async_steps"\noutputs = ["a.txt"]\n\n'
        '[tasks.fails_halfway]\npython = "gens:fails_halfway"\n'
    )
    result = project.run("-k")
    assert result.returncode == 1, result
    assert project.read("s.txt") == "onetwo"
    assert project.read("a.txt") == "async"
    assert "ValueError: halfway" in project.read(".dagmake/logs/fails_halfway.log")


def test_a_failing_async_function_and_a_chained_exception_show_the_whole_story(project):
    project.write("shapes.py", SHAPES)
    project.pipefile(
        '[tasks.fetch_fails]\npython = "shapes:fetch_fails"\n\n'
        '[tasks.chained]\npython = "shapes:chained"\n'
    )
    result = project.run("-k")
    assert result.returncode == 1, result
    failed = project.read(".dagmake/logs/fetch_fails.log")
    assert failed.endswith("ValueError: async kaboom\n"), failed
    assert "asyncio" not in failed and "dagmake" not in failed, failed
    chained = project.read(".dagmake/logs/chained.log")
    cause = chained.index("ValueError: invalid literal for int()")
    link = chained.index("The above exception was the direct cause of the following exception:")
    assert cause < link < chained.index("RuntimeError: could not read the count"), chained


def test_project_modules_named_traceback_inspect_or_dagmake_break_nothing(project):
    project.write("traceback.py", "def extract_tb():\n    pass\n")
    project.write("inspect.py", "def signature():\n    pass\n")
    project.write("sub/dagmake.py", "raise ImportError('the project, not dagmake')\n")
    project.write(
        "steps.py",
        "def fails():\n    raise ValueError('the users error')\n\n"
        "class Build:\n    def __init__(self, outputs):\n"
        "        open(outputs[0], 'w').write('ok')\n",
    )
    project.pipefile(
        '[tasks.fails]\npython = "steps:fails"\n\n'
        '[tasks.build]\npython = "steps:Build"\ncwd = "sub"\noutputs = ["b.txt"]\n'
    )
    result = project.run("-k")
    assert result.returncode == 1, result
    log = project.read(".dagmake/logs/fails.log")
    assert 'steps.py", line 2, in fails' in log and log.endswith("ValueError: the users error\n")
    assert project.read("b.txt") == "ok"


def test_project_modules_named_inspect_or_asyncio_break_no_class_nor_async_task(project):
    # dagmake needs the standard ones where a callable's arguments are not in its code
    # (a class without its own __init__), and to run an `async def`
    project.write("inspect.py", "raise SystemExit('the project inspect.py')\n")
    project.write("asyncio.py", "raise SystemExit('the project asyncio.py')\n")
    project.write(
        "steps.py",
        "class NoInit:\n    def __new__(cls, outputs):\n"
        "        open(outputs[0], 'w').write('new')\n        return super().__new__(cls)\n\n"
        "async def later(outputs):\n    open(outputs[0], 'w').write('awaited')\n",
    )
    project.pipefile(
        '[tasks.cls]\npython = "steps:NoInit"\noutputs = ["c.txt"]\n\n'
        '[tasks.coro]\npython = "steps:later"\noutputs = ["a.txt"]\n'
    )
    assert_ran(project.run(), ["cls", "coro"])
    assert project.read("c.txt") == "new" and project.read("a.txt") == "awaited"


def test_each_error_of_an_exception_group_is_shown(project):
    project.write(
        "fetch.py",
        "import asyncio\n\nasync def one(n):\n"
        "    raise ValueError(f'fetch {n} failed: HTTP 503')\n\n"
        "async def main():\n    async with asyncio.TaskGroup() as group:\n"
        "        group.create_task(one(1))\n        group.create_task(one(2))\n",
    )
    project.pipefile('[tasks.fetch]\npython = "fetch:main"\n')
    result = project.run()
    assert result.returncode == 1, result
    log = project.read(".dagmake/logs/fetch.log")
    assert "ExceptionGroup: unhandled errors in a TaskGroup (2 sub-exceptions)" in log
    assert "| ValueError: fetch 1 failed: HTTP 503" in log, log
    assert "| ValueError: fetch 2 failed: HTTP 503" in log, log
    assert 'fetch.py", line 4, in one' in log


def test_a_python_task_named_by_its_file_says_to_name_the_module(project):
    project.write("mod.py", "def f():\n    pass\n")
    project.pipefile('[tasks.a]\npython = "mod.py:f"\n')
    result = project.run()
    assert result.returncode == 1, result
    assert 'name the module, not its file: python = "mod:f"' in result.stdout
    project.pipefile('[tasks.a]\npython = "pipeline/clean.py:f"\n')
    result = project.run()
    assert result.returncode == 2, result
    assert 'hint: name the module, not its file: python = "pipeline.clean:f"' in result.stderr
