"""Answer "no work to do" without parsing or planning when nothing changed since the last time.

After a full plan finds nothing to do, dagmake saves every path it looked at with its
stamp, keyed by the Pipefile's bytes, the overrides, the targets and the state file's
own stamp. The next run with the same key only re-stats those paths: if every stamp is
the same, the plan would be the same, so it is "no work to do" again. Anything else
(a changed stamp, a directory, a missing file, another dagmake holding the lock) falls
back to the full path, which gives the authoritative answer.
"""

import marshal
import os

FORMAT = 3
FILENAME = "noop.cache"


def _key(pipefile: str, source: bytes, overrides, targets, state_stamp):
    from ._version import __version__

    return (
        FORMAT,
        __version__,
        pipefile,
        source,
        tuple(sorted(overrides.items())),
        tuple(targets),
        # a target like `x.txt` names a file relative to where dagmake runs
        os.getcwd() if targets else None,
        state_stamp,
    )


def _state_stamp(state_dir: str):
    try:
        st = os.stat(os.path.join(state_dir, "state"))
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def check(pipefile: str, overrides, targets, fresh: dict | None = None) -> int | None:
    """The number of up-to-date tasks if nothing changed since the last "no work", else None.

    When some stamp changed, the stamps just taken are left in `fresh` (path -> stamp),
    when given: the full plan that follows need not stat those paths again.
    """
    root = os.path.dirname(pipefile)
    state_dir = os.path.join(root, ".dagmake")
    try:
        with open(os.path.join(state_dir, FILENAME), "rb") as f:
            saved = marshal.loads(f.read())
        with open(pipefile, "rb") as f:
            source = f.read()
        key, paths, stamps, up_to_date, resolutions = saved
        if key != _key(pipefile, source, overrides, targets, _state_stamp(state_dir)):
            return None
        if resolutions:  # a symlinked cwd re-pointed: the commands' paths change
            from .files import still_resolve

            if not still_resolve(resolutions):
                return None
        from .lock import is_held

        if is_held(state_dir) or not os.path.lexists(os.path.join(state_dir, ".gitignore")):
            return None  # (the full path puts a deleted .gitignore back)
        root_fd = os.open(root, os.O_RDONLY)
        try:
            current = []
            append = current.append
            stat = os.stat
            for path in paths:
                st = stat(path, dir_fd=root_fd)
                if st.st_mode & 0o170000 == 0o040000:
                    return None  # a directory's stamp is the newest file inside: full path
                append(st.st_mtime_ns)
                append(st.st_size)
        finally:
            os.close(root_fd)
    except Exception:
        return None
    if current == stamps:
        return up_to_date
    if fresh is not None:
        fresh.update(zip(paths, zip(current[::2], current[1::2], strict=True), strict=True))
    return None


def save(project, targets, seen: dict, up_to_date: int) -> None:
    """Remember a "no work" answer: every path the plan looked at (path -> stamp) and the key."""
    if any(value is None for value in seen.values()):
        return
    state_dir = project.state_dir
    try:
        paths = tuple(seen)
        stamps = [number for path in paths for number in seen[path]]
        # the bytes that were planned, not the file now: an edit meanwhile must not match
        key = _key(
            project.pipefile,
            project.source,
            dict(project.overrides),
            targets,
            _state_stamp(state_dir),
        )
        from .files import replace_file

        replace_file(
            os.path.join(state_dir, FILENAME),
            marshal.dumps((key, paths, stamps, up_to_date, project.resolutions)),
        )
    except OSError:
        pass
