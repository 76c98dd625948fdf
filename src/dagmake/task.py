"""Task and its action: the interpolated, validated unit of work that the rest of dagmake sees."""

from __future__ import annotations

from .placeholders import shell_form

# Plain slotted classes rather than dataclasses: `import dataclasses` alone costs
# ~14 ms, more than the whole rest of a no-op run on a small pipeline.


# Most tasks of a Pipefile share their environment and cwd: each part is hashed once
_PART_HASHES: dict[str, str] = {}


def _part_hash(text: str) -> str:
    digest = _PART_HASHES.get(text)
    if digest is None:
        import hashlib  # only when a Pipefile is really parsed; cached afterwards

        digest = _PART_HASHES[text] = hashlib.sha256(text.encode()).hexdigest()[:12]
    return digest


class _Value:
    """Equality, hashing and repr from to_data()."""

    __slots__ = ()

    def __eq__(self, other):
        return type(other) is type(self) and self.to_data() == other.to_data()

    def __hash__(self):
        return hash(self.to_data())

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class _Frozen(_Value):
    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _set(self, **fields) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)


class ShellAction(_Frozen):
    """Shell command lines, run one after another under `shell`; the first failure stops."""

    __slots__ = ("commands", "shell")

    def __init__(self, commands: tuple[str, ...], shell: str = "/bin/sh") -> None:
        self._set(commands=tuple(commands), shell=shell)

    def to_data(self) -> tuple:
        return ("sh", self.shell, self.commands)

    def definition(self) -> tuple:
        """What the fingerprint hashes: each command as the shell would see it written,
        its {{inputs}} globs as patterns, so that a file matching one changes no
        definition (it is an input change)."""
        return ("sh", self.shell, self.texts())

    def texts(self) -> tuple[str, ...]:
        """The commands as shown to people: {{inputs}} globs as patterns."""
        return tuple(map(shell_form, self.commands))

    def describe(self) -> str:
        return " && ".join(self.texts())


class PythonAction(_Frozen):
    """A `module:function` callable, run in a separate Python process."""

    __slots__ = ("target",)

    def __init__(self, target: str) -> None:
        self._set(target=target)

    def to_data(self) -> tuple:
        return ("py", self.target)

    def definition(self) -> tuple:
        return self.to_data()

    def describe(self) -> str:
        return f"python {self.target}"


def action_from_data(data: tuple | None) -> ShellAction | PythonAction | None:
    if data is None:
        return None
    if data[0] == "sh":
        return ShellAction(data[2], data[1])
    return PythonAction(data[1])


class Task(_Value):
    """One task of the pipeline, with every path relative to the project root.

    `action` is None for a group: a task that only aggregates its upstream.
    `env` holds only what dagmake adds to the inherited environment.
    Never changed after construction; not enforced, because a no-op run builds
    thousands of Tasks from the parse cache and a guarded __setattr__ triples that cost.
    """

    __slots__ = (
        "name",
        "action",
        "inputs",
        "outputs",
        "after",
        "env",
        "cwd",
        "retries",
        "retry_delay",
        "timeout",
        "always",
        "help",
        "resources",
        "fingerprint",
    )

    def __init__(
        self,
        name: str,
        action: ShellAction | PythonAction | None = None,
        inputs: tuple[str, ...] = (),
        outputs: tuple[str, ...] = (),
        after: tuple[str, ...] = (),
        env: tuple[tuple[str, str], ...] = (),
        cwd: str = ".",
        retries: int = 0,
        retry_delay: float = 1.0,
        timeout: float | None = None,
        always: bool = False,
        help: str = "",
        resources: tuple[tuple[str, float], ...] = (),
        fingerprint: str | None = None,
    ) -> None:
        self.name = name
        self.action = action
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.after = tuple(after)
        self.env = tuple(env)
        self.cwd = cwd
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.always = always
        self.help = help
        self.resources = tuple(resources)
        self.fingerprint = fingerprint or self._fingerprint()

    @property
    def is_group(self) -> bool:
        return self.action is None

    def _fingerprint(self, env_in_order: bool = False) -> str:
        """Hash what the spec's rule 5 names: a change to any of it reruns the task.

        The environment is hashed sorted: the same variables listed in another order are
        the same environment.
        """
        # One short hash per part, joined by ':', so a change can be named ("its command changed").
        parts = (
            self.action.definition() if self.action else None,
            self.env if env_in_order else tuple(sorted(self.env)),
            self.cwd,
            self.inputs,
            self.outputs,
        )
        return ":".join(_part_hash(repr(part)) for part in parts)

    def has_definition(self, recorded: str) -> bool:
        """Whether a recorded fingerprint is this task's definition.

        Records written before the environment was hashed sorted hold it in file order;
        those still match, so the change reruns nothing.
        """
        return recorded == self.fingerprint or recorded == self._fingerprint(env_in_order=True)

    def to_data(self) -> tuple:
        """Plain tuples and strings, for marshal (the parse cache)."""
        return (
            self.name,
            self.action.to_data() if self.action else None,
            self.inputs,
            self.outputs,
            self.after,
            self.env,
            self.cwd,
            self.retries,
            self.retry_delay,
            self.timeout,
            self.always,
            self.help,
            self.resources,
            self.fingerprint,
        )

    @classmethod
    def from_data(cls, data: tuple) -> Task:
        task = cls.__new__(cls)
        (
            task.name,
            action,
            task.inputs,
            task.outputs,
            task.after,
            task.env,
            task.cwd,
            task.retries,
            task.retry_delay,
            task.timeout,
            task.always,
            task.help,
            task.resources,
            task.fingerprint,
        ) = data
        task.action = action_from_data(action)
        return task
