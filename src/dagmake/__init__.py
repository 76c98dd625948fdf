"""dagmake: a Makefile-style build tool for data pipelines.

The Python API mirrors the command line:

    project = dagmake.load("path/to/Pipefile.toml")
    print(dagmake.plan(project, ["join_data"]).steps)
    summary = dagmake.build(project, ["join_data"], jobs=4)
"""

from ._version import __version__

__all__ = ["DagmakeError", "__version__", "build", "load", "plan"]


def __getattr__(name: str):
    # Lazy, so `import dagmake` (and the CLI's no-op path) loads only what it uses.
    if name == "load":
        from .pipefile import load

        return load
    if name == "plan":
        from .build import make_plan

        return make_plan
    if name == "build":
        from .build import build

        return build
    if name == "DagmakeError":
        from .errors import DagmakeError

        return DagmakeError
    raise AttributeError(f"module 'dagmake' has no attribute {name!r}")
