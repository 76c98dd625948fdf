"""Entry point of a `python = "module:function"` task, run in its own process.

Usage: python -m dagmake.pytask ROOT MODULE:FUNCTION N_INPUTS INPUT... OUTPUT...
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    root, target, count, *paths = argv
    inputs, outputs = paths[: int(count)], paths[int(count) :]
    import importlib

    from .files import expand_glob, is_glob

    # From here on a module of the project may shadow a standard one (inspect.py,
    # traceback.py): dagmake imports nothing more of its own before the task's function.
    sys.path.insert(0, root)
    module_name, _, function_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # only the module itself or a package above it; a module that imports a missing
        # `steps_` is not "no module 'steps_extra'"
        if error.name and (error.name == module_name or module_name.startswith(error.name + ".")):
            print(f"dagmake: cannot import module '{module_name}': no such module under {root}")
            if module_name.endswith(".py"):  # a file name: mod.py is module py of package mod
                named = f"{module_name[:-3]}:{function_name}"
                print(f'dagmake: name the module, not its file: python = "{named}"')
            return 1
        raise
    function = module
    missing = object()
    for part in function_name.split("."):
        function = getattr(function, part, missing)
        if function is missing:
            print(f"dagmake: module '{module_name}' has no function '{function_name}'")
            return 1
    if not callable(function):
        print(f"dagmake: '{target}' is not a function")
        return 1
    expanded = {}  # each path once, in order: "in.txt" and "*.txt" both give in.txt
    for path in inputs:
        expanded.update(dict.fromkeys(expand_glob(".", path) if is_glob(path) else [path]))
    expanded = list(expanded)
    parameters = _parameters(function)
    if parameters is not None:
        names, takes_any, required = parameters
        # (a positional-only one, before `/`, cannot be passed by keyword)
        missing = [name for name in required if name not in ("inputs", "outputs")]
        by_position = [name for name in required if name not in names]
        if by_position and not missing:
            print(
                f"dagmake: {target} takes '{by_position[0]}' positional-only (before '/'), "
                "but a task's function is called with `inputs` and `outputs` as keyword "
                "arguments: remove the '/'"
            )
            return 1
        if missing:
            print(
                f"dagmake: {target} needs argument '{missing[0]}', but a task's function "
                "is called with only `inputs` and `outputs` (keyword arguments): give the "
                "others a default"
            )
            return 1
    else:
        names, takes_any = _signature(function, _standard("inspect", root))
    arguments = {}
    if takes_any or "inputs" in names:
        arguments["inputs"] = expanded
    if takes_any or "outputs" in names:
        arguments["outputs"] = outputs
    result = function(**arguments)
    kind = type(result).__name__
    if kind == "coroutine" and hasattr(result, "send"):  # an `async def`
        _standard("asyncio", root).run(result)
    elif kind == "generator" and hasattr(result, "send"):  # a `yield` in it: run it through
        for _ in result:
            pass
    elif kind == "async_generator" and hasattr(result, "asend"):
        _standard("asyncio", root).run(_drain(result))
    return 0  # an exception is the only failure; a return value means nothing


async def _drain(generator) -> None:
    async for _ in generator:
        pass


def _parameters(function):
    """(parameter names, whether it takes **kwargs, required names) of a function, a method,
    a class (its __init__) or a callable object (its __call__), read off the code object
    (importing inspect would take a project's inspect.py); None for other callables.

    A decorator's wrapper (functools.wraps) is seen through, as inspect.signature does.
    """
    for _ in range(100):  # a __wrapped__ chain that loops ends somewhere
        if not hasattr(function, "__wrapped__"):
            break
        function = function.__wrapped__
    bound = hasattr(function, "__func__")  # a method: its first parameter is given
    if isinstance(function, type):
        function, bound = function.__init__, True  # self is given
    elif not hasattr(function, "__code__") and not bound and callable(function):
        function, bound = function.__call__, True
    function = getattr(function, "__func__", function)
    code = getattr(function, "__code__", None)
    if code is None:
        return None
    positional = code.co_varnames[: code.co_argcount]
    keyword_only = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    defaults = len(function.__defaults__ or ())
    required = list(positional[: len(positional) - defaults])
    required += [name for name in keyword_only if name not in (function.__kwdefaults__ or {})]
    by_keyword = positional[code.co_posonlyargcount :]  # not those before a `/`
    if bound:
        required = required[1:]
    takes_any = bool(code.co_flags & 0x08)  # CO_VARKEYWORDS
    return (*by_keyword, *keyword_only), takes_any, required


def _standard(name: str, root: str):
    """The standard module `name`, though the project has a module of that name
    (inspect.py, asyncio.py) on sys.path before it. What the task's code has already
    imported under that name stays the project's."""
    import os

    project = os.path.abspath(root) + os.sep
    found = sys.modules.get(name)
    if found is not None and not (getattr(found, "__file__", None) or "").startswith(project):
        return found
    path, shadow = sys.path[:], sys.modules.pop(name, None)
    sys.path[:] = _outside(project)
    try:
        import importlib

        return importlib.import_module(name)
    finally:
        sys.path[:] = path
        if shadow is not None:  # the project's, which the task's code imported
            sys.modules[name] = shadow


def _outside(project: str | None) -> list[str]:
    """sys.path without the project's directory (project: its path ending in os.sep)."""
    import os

    return [p for p in sys.path if p and os.path.abspath(p) + os.sep != project]


def _signature(function, inspect):
    """(parameter names, whether it takes **kwargs) of another callable (a class, say)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return (), False
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    by_keyword = (n for n, p in parameters.items() if p.kind is not p.POSITIONAL_ONLY)
    return tuple(by_keyword), takes_any


def _run() -> int:
    try:
        return main(sys.argv[1:])
    except SystemExit:
        raise
    except BaseException as error:
        _forget_shadows(sys.argv[1] if len(sys.argv) > 1 else "")
        import traceback

        print(_user_traceback(error, traceback), end="", file=sys.stderr)
        return 1


def _forget_shadows(root: str) -> None:
    """Let the standard traceback module (and what it imports) be imported to report the
    error, though the project has a traceback.py or re.py: the task's code is done."""
    import os

    project = os.path.abspath(root) + os.sep if root else None
    sys.path[:] = _outside(project)
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None) or ""
        if project and where.startswith(project) and name.split(".")[0] in sys.stdlib_module_names:
            del sys.modules[name]


def _user_traceback(error: BaseException, traceback) -> str:
    """The error as Python shows it, chained causes included, with the user's frames only:
    not this bootstrap's, nor the import machinery's."""
    chain = []
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if error.__cause__ is not None:
            link, following = error.__cause__, _CAUSE
        elif error.__context__ is not None and not error.__suppress_context__:
            link, following = error.__context__, _CONTEXT
        else:
            link, following = None, ""
        chain.append((error, following))  # following: what leads from link to error
        error = link
    # an `async def` task runs under asyncio.run(): its frames are the bootstrap's too
    asyncio = sys.modules.get("asyncio")
    bootstrap = (getattr(asyncio, "__file__", None) or "").rpartition("__init__.py")[0] or None
    parts = []
    for error, following in reversed(chain):
        parts.append(following)  # (after its cause, printed just before)
        frames = [
            frame
            for frame in traceback.extract_tb(error.__traceback__)
            if frame.filename != __file__
            and not (bootstrap and frame.filename.startswith(bootstrap))
            and not frame.filename.startswith("<frozen importlib")
            and not frame.filename.endswith(("importlib/__init__.py", "importlib\\__init__.py"))
        ]
        if frames:
            parts.append("Traceback (most recent call last):\n")
            parts.append("".join(traceback.format_list(frames)))
        parts.append("".join(traceback.format_exception_only(type(error), error)))
        if isinstance(error, BaseExceptionGroup):
            # each error of the group (asyncio.TaskGroup's, say), as Python shows them
            for number, inner in enumerate(error.exceptions, 1):
                parts.append(f"  +---------------- {number} ----------------\n")
                inner_text = _user_traceback(inner, traceback)
                parts.append("".join(f"  | {line}" for line in inner_text.splitlines(True)))
    return "".join(parts)


_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


if __name__ == "__main__":
    sys.exit(_run())
