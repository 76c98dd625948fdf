"""Show the pipeline without running it: --list and --graph (dot or mermaid)."""

from __future__ import annotations


def list_tasks(project, the_plan) -> str:
    """One line per task in file order: name, up to date or stale (and why), help text."""
    reasons = {step.name: step.reason.text for step in the_plan.steps}
    width = max(len(t.name) for t in project.tasks)
    lines = []
    for task in project.tasks:
        if task.name in reasons:
            state = f"stale: {reasons[task.name]}"
        elif task.name in the_plan.up_to_date:
            state = "up to date"
        else:
            state = "not selected"
        lines.append(
            f"{task.name:<{width}}  {_one_line(task.help) or '-'}\n{'':<{width}}  ({state})"
        )
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    """A help text as the one line --list gives it: a multi-line string joined, and any
    other control character (a terminal's escape sequence) shown escaped."""
    from .errors import printable

    return printable(" ".join(text.split()))


def _selected(project, the_plan) -> list[str]:
    """The tasks the plan looked at (the targets and their upstream), in graph order."""
    looked_at = {step.name for step in the_plan.steps}.union(the_plan.up_to_date)
    return [name for name in project.graph.order if name in looked_at]


def graph_dot(project, the_plan) -> str:
    """The selected part of the DAG in Graphviz dot; stale tasks are filled and say why in
    their tooltip."""
    stale = {step.name: step.reason.text for step in the_plan.steps}
    names = _selected(project, the_plan)
    lines = ["digraph dagmake {", "  rankdir=LR;", '  node [shape=box, fontname="sans-serif"];']
    for name in names:
        attributes = [f"label={_dot_string(name)}"]
        if name in stale:
            attributes += [
                "style=filled",
                'fillcolor="#ffd8a8"',
                f"tooltip={_dot_string(stale[name])}",
            ]
        lines.append(f"  {_dot_string(name)} [{', '.join(attributes)}];")
    for name in names:
        for up in project.graph.upstream[name]:
            lines.append(f"  {_dot_string(up)} -> {_dot_string(name)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_mermaid(project, the_plan) -> str:
    """The selected part of the DAG as a Mermaid flowchart; stale tasks get the `stale` class."""
    stale = {step.name for step in the_plan.steps}
    names = _selected(project, the_plan)
    ids = {name: f"t{index}" for index, name in enumerate(project.graph.order)}
    lines = ["flowchart LR"]
    for name in names:
        lines.append(f'  {ids[name]}["{name}"]')
    for name in names:
        for up in project.graph.upstream[name]:
            lines.append(f"  {ids[up]} --> {ids[name]}")
    if stale:
        lines.append("  classDef stale fill:#ffd8a8,stroke:#e8590c")
        lines.append("  class " + ",".join(ids[n] for n in names if n in stale) + " stale")
    return "\n".join(lines) + "\n"


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
