"""Generate one equivalent benchmark project per build tool: generate.py WORKLOAD N DIR."""

import argparse
import json
import math
import os
import shutil
import sys
from dataclasses import dataclass, field

WORKLOADS = ("chain", "wide", "layered", "skewed")

# Subdirectory of DIR -> the file that tool reads.
TOOL_FILES = {
    "make": "Makefile",
    "ninja": "build.ninja",
    "doit": "dodo.py",
    "task": "Taskfile.yml",
    "dagmake": "Pipefile.toml",
}

# The skewed workload: a chain of LONG_STEPS x LONG_SECONDS declared after the short tasks.
LONG_STEPS = 4
LONG_SECONDS = 0.5
SHORT_SECONDS = 0.1

# A single shell argument may not exceed 128 KiB (MAX_ARG_STRLEN) on Linux.
MAX_COMMAND_CHARS = 100_000


@dataclass
class Task:
    name: str
    cmd: str
    inputs: list
    outputs: list


@dataclass
class Workload:
    kind: str
    size: int
    tasks: list
    sources: dict = field(default_factory=dict)  # path -> initial content

    def outputs(self):
        return [out for task in self.tasks for out in task.outputs]

    def expected_contents(self, read_source):
        """What every output must contain, given a function returning a source's current bytes."""
        contents = {}
        for task in self.tasks:
            parts = [contents[i] if i in contents else read_source(i) for i in task.inputs]
            if task.cmd.startswith("sort -u"):
                data = b"".join(
                    sorted({line for part in parts for line in part.splitlines(keepends=True)})
                )
            else:  # cp and cat
                data = b"".join(parts)
            for out in task.outputs:
                contents[out] = data
        return contents

    def downstream(self, path):
        """The outputs rebuilt when `path` changes: those of every task reading it, transitively."""
        dirty = {path}
        affected = set()
        for task in self.tasks:  # tasks are listed in a topological order
            if dirty.intersection(task.inputs):
                dirty.update(task.outputs)
                affected.update(task.outputs)
        return affected

    def ideal_seconds(self, jobs):
        """Lower bounds of the skewed workload: (critical-path-first, FIFO in declaration order)."""
        if self.kind != "skewed":
            return None
        shorts = len(self.tasks) - LONG_STEPS
        chain = LONG_STEPS * LONG_SECONDS
        short_total = shorts * SHORT_SECONDS
        critical_first = max(chain, (chain + short_total) / jobs)
        fifo = short_total / jobs + chain
        return critical_first, fifo


def source_text(path):
    return f"{path}\n"


def chain(n):
    src = "src/s0.txt"
    tasks = []
    prev = src
    for i in range(n):
        out = f"out/t{i}.txt"
        tasks.append(Task(f"t{i}", f"cp {prev} {out}", [prev], [out]))
        prev = out
    return Workload("chain", n, tasks, {src: source_text(src)})


def wide(n):
    tasks, sources = [], {}
    for i in range(n):
        src, out = f"src/s{i}.txt", f"out/t{i}.txt"
        sources[src] = source_text(src)
        tasks.append(Task(f"t{i}", f"cp {src} {out}", [src], [out]))
    parts = [t.outputs[0] for t in tasks]
    cmd = f"cat {' '.join(parts)} > out/all.txt"
    if len(cmd) > MAX_COMMAND_CHARS:
        parts.sort()  # the shell expands the glob in byte order
        cmd = "cat out/t*.txt > out/all.txt"
    tasks.append(Task("all", cmd, parts, ["out/all.txt"]))
    return Workload("wide", n, tasks, sources)


def layered(n):
    # `cat a b` would double the content per layer (2**sqrt(N) bytes); `sort -u` merges the two
    # inputs into the union of their lines, so sizes stay bounded and it is still one plain exec.
    width = max(1, round(math.sqrt(n)))
    tasks, sources, prev = [], {}, []
    index = 0
    layer = 0
    while index < n:
        current = []
        for j in range(min(width, n - index)):
            name, out = f"t{index}", f"out/t{index}.txt"
            if layer == 0:
                src = f"src/s{j}.txt"
                sources[src] = source_text(src)
                tasks.append(Task(name, f"cp {src} {out}", [src], [out]))
            else:
                w = len(prev)
                a = (7 * j + layer) % w
                b = (a + 1 + (3 * j + layer) % (w - 1)) % w if w > 1 else a
                ins = [prev[a]] if a == b else [prev[a], prev[b]]
                tasks.append(Task(name, f"sort -u -o {out} {' '.join(ins)}", ins, [out]))
            current.append(out)
            index += 1
        prev = current
        layer += 1
    return Workload("layered", n, tasks, sources)


def skewed(n):
    # The short tasks come first, so a tool taking ready tasks in declaration order starts the
    # long chain last and leaves a core idle while it runs; critical-path-first starts it at once.
    shorts = max(n - LONG_STEPS, 0)
    tasks, sources = [], {}
    for i in range(shorts):
        src, out = f"src/s{i}.txt", f"out/short{i}.txt"
        sources[src] = source_text(src)
        tasks.append(Task(f"short{i}", f"sleep {SHORT_SECONDS} && cp {src} {out}", [src], [out]))
    prev = "src/long.txt"
    sources[prev] = source_text(prev)
    for i in range(LONG_STEPS):
        out = f"out/long{i}.txt"
        tasks.append(Task(f"long{i}", f"sleep {LONG_SECONDS} && cp {prev} {out}", [prev], [out]))
        prev = out
    return Workload("skewed", shorts + LONG_STEPS, tasks, sources)


def build_workload(kind, n):
    if n < 1:
        raise ValueError("N must be at least 1")
    return {"chain": chain, "wide": wide, "layered": layered, "skewed": skewed}[kind](n)


def incremental_source(workload):
    """The source the incremental measure edits: one in the middle, whose downstream is small."""
    if workload.kind == "skewed":
        return "src/long.txt"
    sources = sorted(workload.sources, key=lambda p: int("".join(c for c in p if c.isdigit()) or 0))
    return sources[len(sources) // 2]


def q(text):
    """A double-quoted string valid in TOML, YAML and Python alike (JSON string syntax)."""
    return json.dumps(text)


def render_make(w):
    lines = [
        f"# {w.kind} N={w.size}, generated by benchmarks/generate.py",
        "# No built-in rules: make would search them for every source (a 7x slower no-op).",
        "MAKEFLAGS += --no-builtin-rules",
        ".SUFFIXES:",
        ".PHONY: all",
    ]
    lines.append("all: " + " ".join(w.outputs()))
    for t in w.tasks:
        lines += ["", f"{' '.join(t.outputs)}: {' '.join(t.inputs)}", f"\t{t.cmd}"]
    return "\n".join(lines) + "\n"


def render_ninja(w):
    lines = [
        f"# {w.kind} N={w.size}, generated by benchmarks/generate.py",
        "rule run",
        "  command = $cmd",
        "",
    ]
    for t in w.tasks:
        lines += [f"build {' '.join(t.outputs)}: run {' '.join(t.inputs)}", f"  cmd = {t.cmd}"]
    return "\n".join(lines) + "\n"


def render_doit(w):
    rows = ",\n".join(
        f"    ({q(t.name)}, {q(t.cmd)}, {t.inputs!r}, {t.outputs!r})" for t in w.tasks
    )
    return f'''"""{w.kind} N={w.size}, generated by benchmarks/generate.py."""

# Timestamps like the other tools (doit's default md5 check would skip a touched, unchanged file).
DOIT_CONFIG = {{"check_file_uptodate": "timestamp", "verbosity": 0}}

TASKS = [
{rows},
]


def task_build():
    for name, cmd, inputs, outputs in TASKS:
        yield {{"name": name, "actions": [cmd], "file_dep": inputs, "targets": outputs}}
'''


def render_task(w):
    producer = {out: t.name for t in w.tasks for out in t.outputs}
    lines = [
        f"# {w.kind} N={w.size}, generated by benchmarks/generate.py",
        "version: '3'",
        "run: once",  # without it a task needed by two others runs twice
        "method: timestamp",
        "tasks:",
        "  default:",
        f"    deps: [{', '.join(q(t.name) for t in w.tasks)}]",
    ]
    for t in w.tasks:
        deps = sorted({producer[i] for i in t.inputs if i in producer})
        lines += [
            f"  {t.name}:",
            f"    deps: [{', '.join(q(d) for d in deps)}]",
            f"    cmds: [{q(t.cmd)}]",
            f"    sources: [{', '.join(q(i) for i in t.inputs)}]",
            f"    generates: [{', '.join(q(o) for o in t.outputs)}]",
        ]
    return "\n".join(lines) + "\n"


def render_dagmake(w):
    lines = [f"# {w.kind} N={w.size}, generated by benchmarks/generate.py"]
    for t in w.tasks:
        lines += [
            "",
            f"[tasks.{t.name}]",
            f"cmd = {q(t.cmd)}",
            f"inputs = [{', '.join(q(i) for i in t.inputs)}]",
            f"outputs = [{', '.join(q(o) for o in t.outputs)}]",
        ]
    return "\n".join(lines) + "\n"


RENDERERS = {
    "make": render_make,
    "ninja": render_ninja,
    "doit": render_doit,
    "task": render_task,
    "dagmake": render_dagmake,
}


def write_project(workload, root, tool):
    """Write DIR/<tool>/ with its build file, its own src/ and an empty out/."""
    project = os.path.join(root, tool)
    if os.path.exists(project):
        shutil.rmtree(project)
    os.makedirs(os.path.join(project, "out"))
    for path, text in workload.sources.items():
        full = os.path.join(project, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    with open(os.path.join(project, TOOL_FILES[tool]), "w") as f:
        f.write(RENDERERS[tool](workload))
    return project


def generate(kind, n, root, tools=tuple(TOOL_FILES)):
    workload = build_workload(kind, n)
    os.makedirs(root, exist_ok=True)
    for tool in tools:
        write_project(workload, root, tool)
    return workload


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("n", type=int)
    parser.add_argument("dir")
    parser.add_argument(
        "--tools",
        default=",".join(TOOL_FILES),
        help="comma-separated subset of " + ",".join(TOOL_FILES),
    )
    args = parser.parse_args(argv)
    tools = [t for t in args.tools.split(",") if t]
    unknown = sorted(set(tools) - set(TOOL_FILES))
    if unknown:
        parser.error(f"unknown tools: {', '.join(unknown)}")
    try:
        workload = generate(args.workload, args.n, args.dir, tools)
    except ValueError as e:
        parser.error(str(e))
    print(
        f"{args.workload}: {len(workload.tasks)} tasks, {len(workload.sources)} sources -> "
        + ", ".join(os.path.join(args.dir, t) for t in tools)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
