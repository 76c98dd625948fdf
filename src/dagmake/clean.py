"""Delete declared outputs, never anything outside the project directory."""

from __future__ import annotations

import os


def clean(project, names=None, *, dry_run: bool = False) -> tuple[list[str], list[str]]:
    """Remove the outputs of the named tasks (default: every task).

    Returns (removed paths, refused messages). A path whose directory resolves outside the
    project, through `..` or a symlink, is refused; a symlink output loses only the link.
    With dry_run nothing is removed: the paths returned are those that would be.
    """
    import shutil

    root = project.root
    root_real = os.path.realpath(root)
    # what an output may not be even through a symlinked directory (`d -> .`): the
    # Pipefile, and the state in .dagmake/ (the load refuses them as written)
    pipefile_real = os.path.realpath(project.pipefile)
    state_real = os.path.realpath(project.state_dir)
    removed: list[str] = []
    refused: list[str] = []
    for name in project.graph.order if names is None else names:
        for path in project.graph.tasks[name].outputs:
            full = os.path.join(root, path)
            parent = os.path.realpath(os.path.dirname(full))
            if parent != root_real and not parent.startswith(root_real + os.sep):
                refused.append(
                    f"refusing to delete {path}: it resolves outside the project ({parent})"
                )
                continue
            target = os.path.join(parent, os.path.basename(full))
            if target == root_real:
                refused.append(f"refusing to delete {path}: it is the project directory")
                continue
            if target == pipefile_real:
                refused.append(f"refusing to delete {path}: it is the Pipefile")
                continue
            if target == state_real or target.startswith(state_real + os.sep):
                where = "is" if target == state_real else "is in"
                refused.append(f"refusing to delete {path}: it {where} dagmake's state directory")
                continue
            if dry_run:
                if os.path.lexists(target):
                    removed.append(path)
                continue
            try:
                if os.path.islink(target) or not os.path.isdir(target):
                    os.unlink(target)
                else:
                    shutil.rmtree(target)
            except (FileNotFoundError, NotADirectoryError):  # f/x with f a file: nothing there
                continue
            except OSError as error:
                refused.append(f"cannot delete {path}: {error.strerror}")
                continue
            removed.append(path)
    return removed, refused
