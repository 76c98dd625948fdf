"""A loaded project (settings, tasks, graph) and the parse cache that spares most runs
the Pipefile's parsing: the parser itself (pipefile.py) is imported only when needed."""

from __future__ import annotations

import os

from .errors import PipefileError
from .files import find_pipefile as find
from .files import forget_resolved, replace_file, resolutions, still_resolve
from .task import Task

CACHE_FORMAT = 13  # 5, 8, 9: stricter validation; 6: relative paths; 7: env sorted; 10: 3.10
# 11: globs in a command's {{inputs}} marked; 12: paths through symlinks (to the project, in
# a cwd) worked out from where they lead; 13: and the cache checks they still lead there


class Settings:
    """The [settings] table, validated."""

    __slots__ = ("jobs", "shell", "default", "on_failure", "on_success")

    def __init__(self, jobs=None, shell="/bin/sh", default=(), on_failure=None, on_success=None):
        self.jobs = jobs
        self.shell = shell
        self.default = tuple(default)
        self.on_failure = on_failure
        self.on_success = on_success

    def to_data(self) -> tuple:
        return (self.jobs, self.shell, self.default, self.on_failure, self.on_success)


class Project:
    """A loaded pipeline: where it lives, its settings, its tasks and their graph.

    `source` is the Pipefile's bytes as loaded, which the no-op cache is keyed on.
    `resolutions`: the symlinked paths the loading worked paths out through, with where
    each led (a cwd, a link to the project); the caches hold only while they lead there.
    """

    __slots__ = (
        "root",
        "pipefile",
        "settings",
        "tasks",
        "graph",
        "overrides",
        "source",
        "resolutions",
    )

    def __init__(
        self, root, pipefile, settings, tasks, graph, overrides=(), source=b"", resolutions=()
    ):
        self.source = source
        self.resolutions = resolutions
        self.root = root
        self.pipefile = pipefile
        self.settings = settings
        self.tasks = tasks
        self.graph = graph
        self.overrides = overrides

    @property
    def state_dir(self) -> str:
        return os.path.join(self.root, ".dagmake")


def load(
    path: str | None = None,
    *,
    overrides: dict[str, str] | None = None,
    write_cache: bool = True,
) -> Project:
    """Load the Pipefile at path (default: the nearest one), from the parse cache when current.

    Args:
        path: a Pipefile, or a directory to search upward from; None means the current directory.
        overrides: `NAME=value` vars from the command line; they win over [vars].
        write_cache: False for read-only commands, which must not create .dagmake/.
    """
    pipefile = find(path) if path is None or os.path.isdir(path) else os.path.abspath(path)
    try:
        with open(pipefile, "rb") as f:
            source = f.read()
    except FileNotFoundError:
        raise PipefileError(f"{path} does not exist", hint="check the -f PATH")
    except OSError as error:
        raise PipefileError(f"cannot read {pipefile}: {error.strerror}")
    root = os.path.dirname(pipefile)
    override_items = tuple(sorted((overrides or {}).items()))
    cache_path = os.path.join(root, ".dagmake", "pipefile.cache")
    key = (CACHE_FORMAT, _version(), pipefile, override_items)
    project = _read_cache(cache_path, key, source, root, pipefile)
    if project is not None:
        return project
    from .pipefile import parse_graph  # the parser only when the cache cannot answer

    forget_resolved()
    settings, tasks, graph = parse_graph(source, pipefile, dict(override_items))
    project = Project(root, pipefile, settings, tasks, graph, override_items, source, resolutions())
    if write_cache:
        _write_cache(cache_path, key, source, project)
    return project


def _version() -> str:
    from ._version import __version__

    return __version__


def _read_cache(cache_path, key, source, root, pipefile):
    import marshal

    try:
        with open(cache_path, "rb") as f:
            # loads(read()), not load(f): load() reads a file object in tiny pieces, 10x slower
            data = marshal.loads(f.read())
        if data[0] != key or data[1] != source or not still_resolve(data[3]):
            return None
        settings_data, task_data, graph_data = data[2]
        from .graph import Graph

        tasks = tuple(Task.from_data(t) for t in task_data)
        graph = Graph.from_data(tasks, graph_data)
        settings = Settings(*settings_data)
        return Project(root, pipefile, settings, tasks, graph, key[3], source, data[3])
    except Exception:
        # Any doubt about the cache (missing, truncated, another version) means a real parse.
        return None


def _write_cache(cache_path, key, source, project) -> None:
    import marshal

    payload = (
        project.settings.to_data(),
        tuple(t.to_data() for t in project.tasks),
        project.graph.to_data(),
    )
    try:
        from .state import ensure_state_dir

        ensure_state_dir(os.path.dirname(cache_path))
        replace_file(cache_path, marshal.dumps((key, source, payload, project.resolutions)))
    except OSError:
        pass  # a read-only project still builds; it just parses every time
