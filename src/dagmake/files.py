"""A read-only view of the disk: stamps of files and directories, glob patterns, project bounds."""

from __future__ import annotations

import os

# A file's stamp is (mtime_ns, size); None means the path does not exist. st_mtime_ns, not
# st_mtime: float seconds make two writes within a microsecond or so look equal.
# A directory's stamp is (newest mtime_ns of the files inside, number of files, checksum
# of every file's path, mtime_ns and size), so adding, editing or deleting a file inside
# it changes the stamp, also a file restored with an older time (`cp -p`, an archive).

PIPEFILE = "Pipefile.toml"
_SKIPPED_DIRS = frozenset({".dagmake", ".git", "__pycache__"})


def is_glob(path: str) -> bool:
    return "*" in path or "?" in path or "[" in path


def stamp(root: str, path: str, root_fd: int | None = None) -> tuple[int, ...] | None:
    """The stamp of path (relative to root, or absolute), following symlinks.

    With root_fd (an open descriptor of root) the path is resolved relative to it,
    which saves joining strings on every stat of a no-op run.
    """
    try:
        st = (
            os.stat(path, dir_fd=root_fd)
            if root_fd is not None
            else os.stat(os.path.join(root, path))
        )
    except OSError:
        return None
    if st.st_mode & 0o170000 == 0o040000:
        return directory_stamp(os.path.join(root, path), st.st_mtime_ns)
    return (st.st_mtime_ns, st.st_size)


def directory_stamp(full: str, own_mtime_ns: int) -> tuple[int, int, int]:
    import zlib

    newest = 0
    files = []
    start = len(full) + 1
    stack = [(full, _identity(full, frozenset()) or frozenset())]
    while stack:
        current, ancestors = stack.pop()
        try:
            entries = os.scandir(current)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir():
                        if entry.name not in _SKIPPED_DIRS:
                            inside = _identity(entry.path, ancestors)
                            if inside is not None:
                                stack.append((entry.path, inside))
                        continue
                    st = entry.stat()
                except OSError:
                    continue
                files.append(f"{entry.path[start:]}\0{st.st_mtime_ns}\0{st.st_size}")
                if st.st_mtime_ns > newest:
                    newest = st.st_mtime_ns
    files.sort()  # the order scandir gives is the filesystem's
    checksum = zlib.crc32("\n".join(files).encode("utf-8", "surrogateescape"))
    return (newest if files else own_mtime_ns, len(files), checksum)


def _identity(directory: str, ancestors: frozenset):
    """ancestors plus directory's (device, inode), or None when directory is one of them:
    a symlink to a parent (`d/up -> ..`) is then not followed round and round forever."""
    try:
        st = os.stat(directory)
    except OSError:
        return None
    key = (st.st_dev, st.st_ino)
    return None if key in ancestors else ancestors | {key}


def glob_prefix(pattern: str) -> str:
    """The literal directory part of a glob, before its first wildcard segment ('' for none)."""
    literal = []
    for segment in pattern.split("/")[:-1]:
        if is_glob(segment):
            break
        literal.append(segment)
    return "/".join(literal)


def glob_may_match_under(directory: str, pattern: str) -> bool:
    """Whether files under directory could match glob pattern: the directory's parts
    match the pattern's first parts, and the pattern goes deeper (any depth after `**`)."""
    from fnmatch import fnmatchcase

    parts = pattern.split("/")
    for depth, name in enumerate(directory.split("/")):
        if depth >= len(parts) - 1:  # the pattern's last part names files, not directories
            return False
        if parts[depth] == "**":
            return True
        if not fnmatchcase(name, parts[depth]):
            return False
    return True


_COMPILED_GLOBS: dict = {}


def compile_glob(pattern: str):
    """A compiled regex matching whole relative paths: `*` and `?` stay in one segment,
    `**` spans any number of directories, and wildcards never match a leading dot."""
    regex = _COMPILED_GLOBS.get(pattern)
    if regex is None:
        regex = _COMPILED_GLOBS[pattern] = _compile_glob(pattern)
    return regex


class GlobError(ValueError):
    """A glob pattern that can match nothing as written: a character range set backwards."""


def _compile_glob(pattern: str):
    import re  # only for Pipefiles that use globs

    out = []
    segments = pattern.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            out.append(r"(?:(?!\.)[^/]+/)*" if not last else r"(?:(?!\.)[^/]+(?:/|$))*")
            continue
        piece = ""
        if segment[:1] in ("*", "?", "["):
            piece = r"(?!\.)"
        i = 0
        while i < len(segment):
            c = segment[i]
            if c == "*":
                piece += "[^/]*"
            elif c == "?":
                piece += "[^/]"
            elif c == "[" and (bracket := _bracket(segment, i, re.escape)) is not None:
                members, i = bracket
                piece += members
            else:
                piece += re.escape(c)
            i += 1
        out.append(piece + ("" if last else "/"))
    return re.compile("".join(out) + r"\Z")


def _bracket(segment: str, start: int, escape) -> tuple[str, int] | None:
    """The regex class for the bracket expression at segment[start] and the index of its
    `]`; None without a closing `]`, when the `[` is an ordinary character (as in sh)."""
    first = start + 1
    negated = segment[first : first + 1] in ("!", "^")
    if negated:
        first += 1
    end = segment.find("]", first + 1)  # a `]` first in the brackets is one of the members
    if end == -1:
        return None
    body = segment[first:end]
    members = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if low > high:
                raise GlobError(f"the character range '{low}-{high}' is backwards")
            members.append(f"{escape(low)}-{escape(high)}")
            i += 3
        else:
            members.append(escape(body[i]))
            i += 1
    # a negated class must not match the `/` between directories either
    return ("[^/" if negated else "[") + "".join(members) + "]", end


def expand_glob(root: str, pattern: str) -> list[str]:
    """Existing files matching pattern, relative to root (or absolute if pattern is), sorted."""
    regex = compile_glob(pattern)
    prefix = glob_prefix(pattern)
    recursive = "**" in pattern.split("/")
    depth_limit = (
        None if recursive else pattern.count("/") - (prefix.count("/") + 1 if prefix else 0)
    )
    start = os.path.join(root, prefix) if prefix else root
    found = []
    stack = [(start, prefix, 0, _identity(start, frozenset()) or frozenset())]
    while stack:
        directory, relative, depth, ancestors = stack.pop()
        try:
            entries = os.scandir(directory)
        except OSError:
            continue
        with entries:
            for entry in entries:
                path = f"{relative}/{entry.name}" if relative else entry.name
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                if is_dir:
                    if entry.name in _SKIPPED_DIRS:
                        continue
                    if depth_limit is None or depth < depth_limit:
                        inside = _identity(entry.path, ancestors)
                        if inside is not None:
                            stack.append((entry.path, path, depth + 1, inside))
                    continue
                if regex.match(path) and not (
                    entry.is_symlink() and not os.path.exists(entry.path)
                ):
                    found.append(path)  # a file: a link that leads nowhere is none
    found.sort()
    return found


def is_inside(root_real: str, root: str, path: str) -> bool:
    """Whether path, with every symlink resolved, lies strictly inside the project root."""
    real = os.path.realpath(os.path.join(root, path))
    return real.startswith(root_real + os.sep)


def replace_file(path: str, data: bytes, *, sync: bool = False) -> None:
    """Write data to path through a temporary file and a rename: no reader ever sees half
    a file, and a failure (a full disk) leaves neither half a file nor the temporary one.

    sync: put the data on disk before the rename (what a crash must not lose).
    Raises OSError.
    """
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def relative_to_cwd(root: str, path: str, cwd: str) -> str:
    """path (relative to root) as a command running in cwd (relative to root) names it.

    Worked out from the names, unless cwd leads through a symlink and path lies outside
    it: `..` then leaves the directory the link points to, not the link, so the path is
    worked out from where cwd really is.
    """
    if cwd == "." or os.path.isabs(path):
        return path
    relative = os.path.relpath(path, cwd)
    if not relative.startswith(".."):
        return relative  # inside cwd: down from it, through a link or not
    real_cwd = _real_cwds.get((root, cwd))
    if real_cwd is None:
        real_root = resolved(root)
        real = resolved(os.path.join(root, cwd))
        named = os.path.normpath(os.path.join(real_root, cwd))
        real_cwd = _real_cwds[(root, cwd)] = (real_root, None if real == named else real)
    real_root, real = real_cwd
    if real is None:
        return relative  # no symlink on the way
    return os.path.relpath(os.path.join(real_root, path), real)


_real_cwds: dict[tuple[str, str], tuple[str, str | None]] = {}
# Where the paths resolved since forget_resolved() lead (path -> real path): a parse that
# worked out paths through symlinks holds only while each still leads there.
_resolved: dict[str, str] = {}


def resolved(path: str) -> str:
    """os.path.realpath(path), noted among resolutions()."""
    real = _resolved[path] = os.path.realpath(path)
    return real


def resolutions() -> tuple[tuple[str, str], ...]:
    """The paths resolved since forget_resolved(), with where each led."""
    return tuple(sorted(_resolved.items()))


def forget_resolved() -> None:
    """Start noting afresh, and resolve every path again: links may have been re-pointed."""
    _resolved.clear()
    _real_cwds.clear()


def still_resolve(resolutions) -> bool:
    """Whether each path still leads where it led (see resolutions())."""
    realpath = os.path.realpath
    return all(realpath(path) == real for path, real in resolutions)


def under_root_alias(root: str, full: str) -> str | None:
    """full (absolute, normalised) relative to root when it lies inside root reached
    another way: a symlink to the project (`/srv/proj` for `/data/proj`), or the
    project's real path when root is a symlink's. None otherwise.

    Only the part of full that names the project is resolved: a symlink inside the
    project stays as written, as it does in a relative path.
    """
    try:
        root_real = resolved(root)
        ancestor = os.path.dirname(full)
        while True:
            if resolved(ancestor) == root_real:
                relative = os.path.relpath(full, ancestor)
                return relative.replace(os.sep, "/")
            parent = os.path.dirname(ancestor)
            if parent == ancestor:
                return None
            ancestor = parent
    except (OSError, ValueError):
        return None


def find_pipefile(start: str | None = None) -> str:
    """The nearest Pipefile.toml in start or one of its parents (like git finds .git).

    Here rather than in pipefile.py: a no-op run finds the Pipefile without importing
    what parses it.
    """
    directory = os.path.abspath(start or os.getcwd())
    while True:
        candidate = os.path.join(directory, PIPEFILE)
        if os.path.isfile(candidate):
            return candidate
        if os.path.lexists(candidate):
            # a directory, a dangling link: using a parent's Pipefile instead would build
            # another project without a word
            raise unusable_pipefile(candidate)
        parent = os.path.dirname(directory)
        if parent == directory:
            from .errors import PipefileError

            raise PipefileError(
                f"no {PIPEFILE} in {os.path.abspath(start or os.getcwd())} or any parent directory",
                hint="create one, or name it with -f PATH",
            )
        directory = parent


def unusable_pipefile(path: str):
    """The PipefileError for a Pipefile.toml that is there but is no file to read."""
    from .errors import PipefileError

    what = "a directory" if os.path.isdir(path) else "not a readable file"
    if os.path.islink(path) and not os.path.exists(path):
        what = f"a link to {os.readlink(path)}, which leads to no file"
    return PipefileError(
        f"{shown(path)} is {what}", hint="make it a file, or name the Pipefile to use with -f PATH"
    )


def shown(path: str) -> str:
    """A path as messages show it: relative to the current directory unless that is far off."""
    relative = os.path.relpath(path)
    return path if relative.startswith("../..") else relative
