"""Entry point of a `python = "module:function"` task, run in its own process.

Usage: python -m dagmake.pytask ROOT MODULE:FUNCTION N_INPUTS INPUT... OUTPUT...
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    root, target, count, *paths = argv
    inputs, outputs = paths[: int(count)], paths[int(count) :]
    sys.path.insert(0, root)
    module_name, _, function_name = target.partition(":")
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # only the module itself or a package above it; a module that imports a missing
        # `steps_` is not "no module 'steps_extra'"
        if error.name and (error.name == module_name or module_name.startswith(error.name + ".")):
            print(f"dagmake: cannot import module '{module_name}': no such module under {root}")
            return 1
        raise
    function = module
    for part in function_name.split("."):
        function = getattr(function, part, None)
        if function is None:
            print(f"dagmake: module '{module_name}' has no function '{function_name}'")
            return 1
    if not callable(function):
        print(f"dagmake: '{target}' is not a function")
        return 1
    inputs = _expand(inputs)
    function(**_keyword_arguments(function, inputs, outputs))
    return 0  # an exception is the only failure; a return value means nothing


def _expand(inputs: list[str]) -> list[str]:
    from .files import expand_glob, is_glob

    expanded = []
    for path in inputs:
        expanded.extend(expand_glob(".", path) if is_glob(path) else [path])
    return expanded


def _keyword_arguments(function, inputs, outputs) -> dict:
    import inspect

    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    arguments = {}
    if takes_any or "inputs" in parameters:
        arguments["inputs"] = inputs
    if takes_any or "outputs" in parameters:
        arguments["outputs"] = outputs
    return arguments


def _run() -> int:
    try:
        return main(sys.argv[1:])
    except SystemExit:
        raise
    except BaseException as error:
        import traceback

        # Show the user's frames, not this bootstrap's.
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        traceback.print_exception(type(error), error, tb)
        return 1


if __name__ == "__main__":
    sys.exit(_run())
