"""The DAG of tasks, inferred from the files they read and write and from `after`."""

from __future__ import annotations

from bisect import bisect_left

from .errors import GraphError, TargetError, did_you_mean
from .files import compile_glob, glob_prefix, is_glob


class Graph:
    """Tasks as vertices; B is downstream of A when B reads what A writes, or lists A in `after`."""

    __slots__ = ("tasks", "order", "upstream", "producers", "_downstream", "_outputs_sorted")

    def __init__(self, tasks, order, upstream) -> None:
        self.tasks = {t.name: t for t in tasks}
        self.order = order  # topological: every task after all of its upstream
        self.upstream = upstream  # name -> tuple of direct upstream names
        self.producers = {output: t.name for t in tasks for output in t.outputs}
        self._downstream = None
        self._outputs_sorted: list[str] | None = None

    @classmethod
    def from_tasks(cls, tasks, *, file: str | None = None, locate=None) -> Graph:
        """Infer the edges and validate: duplicate outputs, unknown `after`, own outputs, cycles."""
        locate = locate or (lambda task, key: None)

        def fail(message, task=None, key=None, hint=None, at=None):
            line = locate(*at) if at else locate(task, key)
            return GraphError(message, file=file, line=line, task=task, key=key, hint=hint)

        producers: dict[str, str] = {}
        for task in tasks:
            for output in task.outputs:
                other = producers.get(output)
                if other is not None and other != task.name:
                    raise fail(
                        f"output '{output}' is declared by both '{other}' and '{task.name}'",
                        hint="each file must have one producer; rename one of the outputs",
                        at=(task.name, "outputs"),
                    )
                producers[output] = task.name
        for output, name in producers.items():
            directory = output.rpartition("/")[0]
            while directory:
                other = producers.get(directory)
                if other is not None and other != name:
                    raise fail(
                        f"output '{output}' lies inside '{directory}', an output of '{other}'",
                        hint="one task owns a directory output and all inside it; "
                        "make the inner file an output of that task, or move it out",
                        at=(name, "outputs"),
                    )
                directory = directory.rpartition("/")[0]
        outputs_sorted = sorted(producers)
        names = {t.name for t in tasks}
        upstream: dict[str, tuple[str, ...]] = {}
        for task in tasks:
            found: dict[str, None] = {}
            for name in task.after:
                if name not in names:
                    producer = producers.get(name.removeprefix("./"))
                    hint = None
                    if producer is not None:  # a file: the dependency is on its producer
                        hint = (
                            f"'{name}' is an output of task '{producer}': put it in 'inputs' "
                            f'(then its producer runs first), or write after = ["{producer}"]'
                        )
                    elif "*" in name or "?" in name or "[" in name:
                        hint = "'after' takes task names, not globs: list the tasks"
                    raise fail(
                        f"'after' names unknown task '{name}'"
                        f"{did_you_mean(name, names) if producer is None else ''}",
                        task=task.name,
                        key="after",
                        hint=hint,
                    )
                if name == task.name:
                    raise fail(
                        f"dependency cycle: {name} -> {name}",
                        task=task.name,
                        key="after",
                        hint="'after' names the task itself; remove it",
                    )
                found[name] = None
            for path in task.inputs:
                for producer in _producers_of(path, producers, outputs_sorted):
                    if producer == task.name:
                        raise fail(
                            f"input '{path}' matches its own output",
                            task=task.name,
                            key="inputs",
                            hint="a task cannot read what it writes; narrow the input or the glob",
                        )
                    found[producer] = None
            found.pop(task.name, None)
            upstream[task.name] = tuple(found)
        order = _topological_order(tasks, upstream, fail)
        return cls(tasks, order, upstream)

    def outputs_matching(self, pattern: str) -> list[str]:
        """The declared outputs that glob pattern matches, in sorted order."""
        return list(_glob_matches(pattern, self._sorted_outputs()))

    def glob_reaches_outputs(self, pattern: str) -> bool:
        """Whether glob pattern matches a declared output or files inside one."""
        return (
            next(_glob_dependencies(pattern, self.producers, self._sorted_outputs()), None)
            is not None
        )

    def is_produced(self, path: str) -> bool:
        """Whether a task writes path: an output, inside an output directory, or a directory
        that holds an output (`data` when a task writes `data/x.csv`)."""
        return next(_producers_of(path, self.producers, self._sorted_outputs()), None) is not None

    def _sorted_outputs(self) -> list[str]:
        if self._outputs_sorted is None:
            self._outputs_sorted = sorted(self.producers)
        return self._outputs_sorted

    def to_data(self) -> tuple:
        return (self.order, tuple(self.upstream.items()))

    @classmethod
    def from_data(cls, tasks, data) -> Graph:
        order, upstream = data
        return cls(tasks, order, dict(upstream))

    @property
    def downstream(self) -> dict[str, tuple[str, ...]]:
        """name -> direct downstream names."""
        if self._downstream is None:
            result: dict[str, list[str]] = {name: [] for name in self.order}
            for name in self.order:
                for up in self.upstream[name]:
                    result[up].append(name)
            self._downstream = {name: tuple(down) for name, down in result.items()}
        return self._downstream

    def upstream_closure(self, names) -> set[str]:
        """names plus everything they (transitively) need."""
        seen = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(self.upstream[name])
        return seen

    def gathered(self, group: str) -> list[str]:
        """The tasks a group gathers: its upstream, and through a nested group that one's
        (not the upstream of the tasks it gathers)."""
        found: dict[str, None] = {}
        stack = list(self.upstream[group])
        while stack:
            name = stack.pop()
            if name not in found:
                found[name] = None
                if self.tasks[name].is_group:
                    stack.extend(self.upstream[name])
        return list(found)

    def downstream_closure(self, names) -> set[str]:
        """names plus everything that (transitively) needs them."""
        downstream = self.downstream
        seen = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(downstream[name])
        return seen

    def match(self, pattern: str, *, root: str | None = None, what: str = "target") -> list[str]:
        """Task names a target names: a task, a glob of task names, or an output path."""
        if pattern in self.tasks:
            return [pattern]
        if is_glob(pattern):
            from fnmatch import fnmatchcase

            matched = [name for name in self.order if fnmatchcase(name, pattern)]
            if matched:
                return matched
        import posixpath

        # relative to where dagmake runs first (the Pipefile may be in a parent directory,
        # as with git), then to the project's directory
        candidates = [posixpath.normpath(pattern)]
        if root is not None:
            import os

            full = os.path.abspath(pattern)
            here = os.path.relpath(full, root).replace(os.sep, "/")
            if here.startswith("../") and os.path.isabs(pattern):
                from .files import under_root_alias

                here = under_root_alias(root, full) or here  # through a symlink to the project
            candidates.insert(0, here)
        for path in candidates:
            # the output itself, or a file inside an output directory
            while path:
                if path in self.producers:
                    return [self.producers[path]]
                path = path.rpartition("/")[0]
        # a source file named as a target: say so, rather than "unknown"
        readers = [
            name
            for name in self.order
            if any(_reads(self.tasks[name].inputs, path) for path in candidates)
        ]
        if readers:
            raise _an_input(pattern, readers, what)
        raise TargetError(
            f"unknown {what} '{pattern}'{did_you_mean(pattern, [*self.tasks, *self.producers])}",
            hint="dagmake -l lists the tasks",
        )

    def select(self, targets, *, root: str | None = None) -> set[str]:
        """The tasks to consider for targets: the tasks they name plus their upstream closure."""
        named = []
        for target in targets:
            named.extend(self.match(target, root=root))
        return self.upstream_closure(named)


def _an_input(pattern: str, readers: list[str], what: str) -> TargetError:
    """The error for a target that is a source: an input of readers that no task writes."""
    tasks = ", ".join(f"'{name}'" for name in readers[:3]) + (", ..." if len(readers) > 3 else "")
    if what == "task to clean":
        hint = "--clean deletes declared outputs only, never a source"
    else:
        command = "dagmake --force" if what == "task to force" else "dagmake"
        hint = f"name the task instead: {command} {readers[0]}"
    return TargetError(
        f"'{pattern}' is an input of task{'s' if len(readers) > 1 else ''} {tasks}, "
        "not an output: no task produces it",
        hint=hint,
    )


def _reads(inputs, path: str) -> bool:
    """Whether a task with these inputs reads path: named, inside a directory input, or
    matched by a glob."""
    for pattern in inputs:
        if pattern == path or path.startswith(pattern.rstrip("/") + "/"):
            return True
        if is_glob(pattern) and compile_glob(pattern).match(path):
            return True
    return False


def _producers_of(path: str, producers: dict[str, str], outputs_sorted: list[str]):
    """Tasks whose outputs an input depends on: equal, a directory containing it,
    a file inside it (when the input is a directory), or a match of its glob."""
    if is_glob(path):
        for output in _glob_dependencies(path, producers, outputs_sorted):
            yield producers[output]
        return
    if path in producers:
        yield producers[path]
    parent = path
    while "/" in parent:
        parent = parent.rsplit("/", 1)[0]
        if parent in producers:
            yield producers[parent]
    for output in _outputs_under(path, outputs_sorted):
        yield producers[output]


def _glob_matches(pattern: str, outputs_sorted: list[str]):
    # Only the outputs under the pattern's literal directory are candidates: with one
    # glob per task, matching each against every output would be quadratic.
    regex = compile_glob(pattern)
    prefix = glob_prefix(pattern)
    for output in _outputs_under(prefix, outputs_sorted) if prefix else outputs_sorted:
        if regex.match(output):
            yield output


def _glob_dependencies(pattern: str, producers, outputs_sorted: list[str]):
    """Outputs a glob input depends on: those it matches, and the directory its literal
    part lies in (`parts/*.csv` reads what the task with output `parts` writes there).

    Whether some other output is a directory a wildcard could reach into (`**/*.csv`
    and an output `report`) cannot be known before it exists; such outputs are not
    guessed at, or every `**` glob would depend on every task.
    """
    directory = glob_prefix(pattern)
    while directory:
        if directory in producers:
            yield directory
        directory = directory.rpartition("/")[0]
    yield from _glob_matches(pattern, outputs_sorted)


def _outputs_under(directory: str, outputs_sorted: list[str]):
    prefix = directory + "/"
    index = bisect_left(outputs_sorted, prefix)
    while index < len(outputs_sorted) and outputs_sorted[index].startswith(prefix):
        yield outputs_sorted[index]
        index += 1


def _topological_order(tasks, upstream, fail) -> tuple[str, ...]:
    from graphlib import CycleError, TopologicalSorter

    sorter = TopologicalSorter()
    for task in tasks:
        sorter.add(task.name, *upstream[task.name])
    try:
        return tuple(sorter.static_order())
    except CycleError as error:
        # graphlib lists the cycle as data flows (each task before the one reading its output);
        # start it at the task defined first, so the message does not depend on hash order.
        members = error.args[1][:-1]
        position = {task.name: index for index, task in enumerate(tasks)}
        first = min(range(len(members)), key=lambda i: position[members[i]])
        cycle = [*members[first:], *members[:first], members[first]]
        raise fail(
            "dependency cycle: " + " -> ".join(cycle),
            task=cycle[0],
            hint="a task cannot (indirectly) need its own outputs; break one of these links",
        )
