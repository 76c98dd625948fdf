"""dagmake: a Makefile-style build tool for data pipelines.

The Python API mirrors the command line:

    project = dagmake.load("path/to/Pipefile.toml")
    print(dagmake.plan(project, ["join_data"]).steps)
    summary = dagmake.build(project, ["join_data"], jobs=4)
"""

import sys

from ._version import __version__

__all__ = ["DagmakeError", "__version__", "build", "load", "plan"]


class _Package(type(sys)):  # types.ModuleType, without importing types
    """The package object: its API functions load lazily, so `import dagmake` (and the
    CLI's no-op path) costs almost nothing.

    `build` and `plan` are also the names of submodules, and importing a submodule
    binds it on its package; these properties keep the names meaning the functions.
    """

    @property
    def load(self):
        from .api import load

        return load

    @property
    def plan(self):
        from .api import plan

        return plan

    @plan.setter
    def plan(self, submodule):
        pass  # the import system binding dagmake.plan (the module): keep the function

    @property
    def build(self):
        from .api import build

        return build

    @build.setter
    def build(self, submodule):
        pass  # likewise for dagmake.build

    @property
    def DagmakeError(self):
        from .errors import DagmakeError

        return DagmakeError


sys.modules[__name__].__class__ = _Package
