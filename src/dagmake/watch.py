"""Watch mode: build, then rebuild what a change made stale, until Ctrl-C."""

from __future__ import annotations

import os
import queue
import re
import sys
import time

from . import files
from .errors import DagmakeError, LockError, TargetError, printable

DEBOUNCE = 0.1  # seconds without a new change before a round starts (--debounce)
MAX_WAIT = 2.0  # a steady stream of changes still starts a round after this long
# Rounds in a row started only by changes a build made to its own tasks' inputs, after
# which such changes start no more rounds (a task that writes its own input would loop).
SELF_CHANGED_ROUNDS = 3
DURING_THE_BUILD = 0.15  # a change taken this soon after a round was made during it
POLL_INTERVAL = 0.25
# Never inputs, and busy: version control, dagmake's own state and logs, bytecode.
IGNORED_DIRS = frozenset({".dagmake", ".git", ".hg", ".svn", "__pycache__"})
# Changes made on another machine never reach inotify here; 9p and drvfs are how WSL
# sees Windows drives.
NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "afs", "ceph"})
NETWORK_FILESYSTEMS |= {"glusterfs", "fuse.sshfs", "9p", "drvfs"}
# Reads change nothing, yet on inotify every task opening an input fires them;
# a directory's "modified" only repeats the events of the files inside it.
_READ_EVENTS = frozenset({"opened", "closed_no_write"})


def watch(project, options, *, warn, source=None) -> int:
    """Build, then rebuild after every relevant change until Ctrl-C or SIGTERM; return 0.

    Args:
        source: where changed paths come from (start/update/get/stop); default watchdog.
    """
    from .sig import sigterm_as_interrupt

    with sigterm_as_interrupt():
        if source is None:
            source = WatchdogSource(polling=_use_polling(project, options, warn), warn=warn)
        try:
            _loop(project, options, source, warn)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how watching ends; a running build already stopped its tasks
        finally:
            source.stop()
    return 0


def _loop(project, options, source, warn) -> None:
    debounce = DEBOUNCE if options.debounce is None else options.debounce
    tasks = _watched_tasks(project, options)
    # Events from here on queue up, so an edit during the first build starts a second one.
    source.start(watch_roots(project, tasks))
    debounce = quiet_period(debounce, source)
    relevant = relevance(project, tasks)
    links = symlinked_inputs(project, tasks)
    go_on, ran = _round(project, options, warn, first=True)
    if not go_on:
        return
    _say_watching(project, source, options, tasks)
    self_changed = 0  # rounds in a row that only a build's changes to its own inputs started
    # (polling sees a change up to an interval late)
    during = DURING_THE_BUILD + (source.interval if getattr(source, "polling", False) else 0.0)
    while True:
        ended = time.monotonic()
        first_change: list[float] = []

        def noting(path: str, relevant=relevant, first_change=first_change) -> bool:
            if not relevant(path):
                return False
            if not first_change:
                first_change.append(time.monotonic())
            return True

        changed = collect(source.get, noting, debounce)
        if first_change[0] - ended < during and _inputs_of(project, ran) >= set(changed):
            self_changed += 1
        else:
            self_changed = 0
        if self_changed > SELF_CHANGED_ROUNDS:
            if self_changed == SELF_CHANGED_ROUNDS + 1:
                warn(
                    f"the last {SELF_CHANGED_ROUNDS} rounds each changed an input of a task "
                    f"they ran ({_describe(changed, project.root)}): a task that writes its "
                    "own input would rebuild forever, so such changes start no more rounds "
                    "until another edit"
                )
            continue
        if not options.quiet:
            print(printable(f"changed: {_describe(changed, project.root)}"), flush=True)
        reloaded = False
        if not _pipefile_paths(project).isdisjoint(changed):
            from .project import load

            try:
                project = load(project.pipefile, overrides=options.overrides)
            except DagmakeError as error:
                if options.file is None and not os.path.exists(project.pipefile):
                    error.hint = None  # deleted: no -f PATH to check
                _error(f"{error}\ndagmake: still watching with the last good Pipefile")
                if len(changed) == 1:
                    continue
            else:
                reloaded = True
                tasks = _watched_tasks(project, options)
        if reloaded or _relinked(changed, links):
            # a symlinked input's target is watched: a new Pipefile or link, a new target
            relevant = relevance(project, tasks)
            links = symlinked_inputs(project, tasks)
            source.update(watch_roots(project, tasks))
        go_on, ran = _round(project, options, warn, first=False)
        if not go_on:
            return
        if reloaded:
            _say_watching(project, source, options, tasks)


def quiet_period(debounce: float, source) -> float:
    """How long changes must pause before a round starts.

    Polling reports changes in clumps, one per interval (later when a poll of a large
    tree runs long): a quiet period of one interval cut a burst of saves into 3-4 rounds.
    """
    if getattr(source, "polling", False):
        return max(debounce, 2 * source.interval)
    return debounce


def _inputs_of(project, names) -> set[str]:
    """The absolute paths of the declared inputs of the tasks named."""
    return {
        _absolute(project.root, path)
        for task in project.tasks
        if task.name in names
        for path in task.inputs
    }


def _round(project, options, warn, *, first: bool) -> tuple[bool, frozenset]:
    """Build once, exactly as a plain `dagmake` would: (False when Ctrl-C interrupted it,
    the names of the tasks that ran)."""
    from .build import build
    from .console import ConsoleReporter

    try:
        summary = build(
            project,
            options.targets,
            # --force and -B apply to the first build; later rounds are for what changed.
            force=options.force if first else (),
            force_all=options.force_all and first,
            jobs=options.jobs,
            keep_going=options.keep_going,
            retries=options.retries,
            reporter=ConsoleReporter(quiet=options.quiet, verbose=options.verbose),
            stream=options.verbose,
            # Later rounds queue behind another dagmake rather than drop the change.
            wait=options.wait or not first,
            warn=warn,
            # -q: nothing while all is well, and waiting is no failure
            notice=(lambda message: None) if options.quiet else None,
            # on_success/on_failure are for unattended runs, not each save while editing
            hooks=False,
        )
    except (TargetError, LockError) as error:
        if first:
            raise  # a wrong target or a second watcher: nothing to watch for
        _error(str(error))
        return True, frozenset()
    except DagmakeError as error:
        # A missing input is often an edit in progress (git checkout, a save): keep watching.
        _error(str(error))
        return True, frozenset()
    ran = frozenset(o.name for o in (*summary.ran, *summary.failed))
    return not summary.interrupted, ran


def collect(get, relevant, quiet: float, *, limit: float = MAX_WAIT, clock=time.monotonic):
    """Wait for a relevant changed path, then until `quiet` seconds pass with no new one.

    Returns the relevant paths, sorted and without repeats.

    Args:
        get: get(timeout) -> path, raising queue.Empty after timeout seconds (None: forever).
        relevant: path -> bool; other paths neither start nor prolong the wait.
        limit: the most seconds to keep collecting after the first relevant path.
    """
    batch: set[str] = set()
    while not batch:
        path = get(None)
        if relevant(path):
            batch.add(path)
    first = last = clock()
    while True:
        now = clock()
        if now >= first + limit:
            break
        try:
            # A timeout of 0 still takes what has already arrived.
            path = get(max(0.0, min(last + quiet, first + limit) - now))
        except queue.Empty:
            break
        if relevant(path):
            batch.add(path)
            last = clock()
    return sorted(batch)


def _watched_tasks(project, options) -> list:
    """The tasks a round builds (the targets and their upstream): only their inputs count."""
    from .build import selection

    try:
        names, _ = selection(project, options.targets)
    except TargetError:
        return list(project.tasks)  # the first round reports the unknown target
    return [task for task in project.tasks if task.name in names]


def relevance(project, tasks=None):
    """A filter on absolute paths: True when a change there can make a task stale.

    Relevant: the Pipefile, declared inputs, files inside input directories, files matching
    input globs, and the directories holding inputs (except those that hold outputs).
    Never relevant, even when another task reads them: declared outputs and files inside
    output directories (the build writes them; they must not start a round of their own),
    files under .dagmake/, .git/ or __pycache__/, editor swap and backup files, and a
    file matching a glob that came and went without ever being seen.
    """
    root = project.root
    pipefiles = _pipefile_paths(project)
    outputs = {_absolute(root, path) for path in project.graph.producers}
    inputs: set[str] = set()
    holders: set[str] = set()
    patterns = []
    matched: set[str] = set()  # what the globs matched: its deletion is a change
    held: set[str] = set()  # what input directories hold: likewise
    aliases: dict[str, str] = {}  # a symlinked directory in a glob's tree: real -> as linked
    for task in project.tasks if tasks is None else tasks:
        for path in task.inputs:
            if files.is_glob(path):
                patterns.append((files.compile_glob(path), os.path.isabs(path)))
                matched.update(_absolute(root, match) for match in files.expand_glob(root, path))
                prefix = files.glob_prefix(path)
                directory = _absolute(root, prefix)
                real = os.path.realpath(directory)
                if prefix and real != directory:
                    # through a symlinked directory: events come under the real path
                    rest = path[len(prefix) :]
                    patterns.append((files.compile_glob(real + rest), True))
                linked = _linked_directories(directory)
                aliases.update(linked)
                inputs.update(linked.values())  # re-pointing one changes what the glob sees
            else:
                full = _absolute(root, path)
                real = os.path.realpath(full)
                inputs.add(full)
                inputs.add(real)  # a symlink's events come from its target
                inputs.update(_link_chain(full))  # re-pointing a link on the way changes it
                directory = os.path.dirname(full)
                if os.path.isdir(real):
                    held.update(_held_in(real, (full, real)))
            # Renaming or deleting a directory removes its inputs without an event for each.
            holders.update(_parents(directory, root))
    # ...but not the directories the build itself may create to hold its outputs.
    for path in outputs:
        holders.difference_update(_parents(os.path.dirname(path), root))
    # A directory moved out of the project gives one event, for itself, and none for what
    # it held: once gone, a directory that held a source (an input or a glob's match that
    # no task writes) counts. (Losing outputs alone starts nothing, as an output's edit.)
    vanished: set[str] = set()
    for path in (*inputs, *matched):
        if not _covered(path, outputs):
            vanished.update(_parents(os.path.dirname(path), root))

    def relevant(path: str) -> bool:
        if path in pipefiles:
            return True
        if is_editor_file(os.path.basename(path)):
            return False
        relative = os.path.relpath(path, root)
        if not IGNORED_DIRS.isdisjoint(relative.split(os.sep)):
            return False
        if _covered(path, outputs):
            return False
        if path in inputs or path in holders:
            return True
        if path in vanished and not os.path.lexists(path):
            return True
        if _covered(path, inputs):
            # Inside an input directory, as for a glob below: a file that came and went
            # (a task's temporary file, renamed elsewhere) changed nothing.
            if os.path.lexists(path):
                held.add(path)
                return True
            return path in held
        if not any(regex.match(path if whole else relative) for regex, whole in patterns):
            linked = _as_linked(path, aliases)
            if linked is None or not any(
                regex.match(linked if whole else os.path.relpath(linked, root))
                for regex, whole in patterns
            ):
                return False
        # A file that matches a glob counts while it exists, or when it was a match
        # before; one created and removed meanwhile (a task's temporary file, renamed
        # into its output) changed nothing.
        if os.path.lexists(path):
            if path not in matched:  # (an output never gets this far)
                matched.add(path)
                vanished.update(_parents(os.path.dirname(path), root))
            return True
        return path in matched

    return relevant


def symlinked_inputs(project, tasks=None) -> set[str]:
    """Absolute paths of the symlinks the inputs (not globs) lead through now."""
    root = project.root
    return {
        link
        for task in (project.tasks if tasks is None else tasks)
        for path in task.inputs
        if not files.is_glob(path)
        for link in _link_chain(_absolute(root, path))
    }


def _relinked(changed, links: set[str]) -> bool:
    """Whether a changed path is a symlink, or was one: what an input leads to may differ."""
    return any(path in links or os.path.islink(path) for path in changed)


def is_editor_file(name: str) -> bool:
    """Vim's .x.swp/.x.swx and its 4913 write test, emacs' x~, .#x and #x#."""
    return (
        name.endswith("~")
        or name.startswith(".#")
        or (name.startswith("#") and name.endswith("#"))
        or name == "4913"
        or (name.startswith(".") and name[-4:-1] == ".sw")
    )


def watch_roots(project, tasks=None) -> list[tuple[str, bool]]:
    """(directory, recursive) pairs to watch: the project tree, plus inputs that lie outside it.

    Watching directories, never single files: an editor's atomic save replaces the file,
    and a watch on the old one would see nothing after that.
    """
    root = project.root
    real_root = os.path.realpath(root)
    roots = {(root, True)}
    for pipefile in _pipefile_paths(project):  # a symlinked Pipefile: where it really is
        if not _inside(pipefile, real_root) and not _inside(pipefile, root):
            roots.add((os.path.dirname(pipefile), False))
    for task in project.tasks if tasks is None else tasks:
        for path in task.inputs:
            if files.is_glob(path):
                directory, recursive = _absolute(root, files.glob_prefix(path)), True
                # inotify does not follow a symlinked directory inside the tree either
                for real in _linked_directories(directory):
                    if not _inside(real, real_root):
                        roots.add((real, True))
            else:
                full = os.path.realpath(_absolute(root, path))  # a symlink: watch its target
                recursive = os.path.isdir(full)
                directory = full if recursive else os.path.dirname(full)
                for link in _link_chain(_absolute(root, path)):  # the links on the way too
                    parent = os.path.realpath(os.path.dirname(link))
                    if not _inside(parent, real_root) and os.path.isdir(parent):
                        roots.add((parent, False))
            # inotify does not follow a symlinked directory inside the tree: watch its target
            directory = os.path.realpath(directory)
            if not _inside(directory, real_root) and os.path.isdir(directory):
                roots.add((directory, recursive))
    return sorted(roots)


def _pipefile_paths(project) -> set[str]:
    """The Pipefile's path, and the file it leads to when it is a symlink."""
    return {project.pipefile, os.path.realpath(project.pipefile)}


def source_inputs(project, tasks=None) -> list[str]:
    """Absolute paths of the inputs that no task writes (globs expanded): what a person edits."""
    root = project.root
    outputs = {_absolute(root, path) for path in project.graph.producers}
    found = set()
    for task in project.tasks if tasks is None else tasks:
        for path in task.inputs:
            for match in files.expand_glob(root, path) if files.is_glob(path) else (path,):
                full = _absolute(root, match)
                if not _covered(full, outputs):
                    found.add(full)
    return sorted(found)


def _say_watching(project, source, options, tasks) -> None:
    if options.quiet:
        return
    inputs = source_inputs(project, tasks)
    directories = {path if os.path.isdir(path) else os.path.dirname(path) for path in inputs}
    how = f" (polling every {source.interval:g} s)" if getattr(source, "polling", False) else ""
    print(
        f"watching {_count(len(inputs), 'input')} in "
        f"{_count(len(directories), 'directory', 'directories')}{how}; Ctrl-C to stop",
        flush=True,
    )


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _describe(paths, root: str, shown: int = 5) -> str:
    names = [os.path.relpath(path, root) for path in paths]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _absolute(root: str, path: str) -> str:
    return os.path.normpath(os.path.join(root, path))


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _parents(directory: str, root: str) -> list[str]:
    """directory and its ancestors, up to but not including root (none outside root)."""
    found = []
    while _inside(directory, root) and directory != root:
        found.append(directory)
        directory = os.path.dirname(directory)
    return found


def _linked_directories(directory: str) -> dict[str, str]:
    """The symlinked directories inside directory's tree: real path -> path as linked."""
    found: dict[str, str] = {}
    for current, directories, _ in os.walk(directory):
        directories[:] = [name for name in directories if name not in IGNORED_DIRS]
        for name in directories:
            linked = os.path.join(current, name)
            if os.path.islink(linked):
                found.setdefault(os.path.realpath(linked), linked)
    return found


def _as_linked(path: str, aliases: dict[str, str]) -> str | None:
    """path, which lies under a symlinked directory's real path, as seen through the link."""
    for real, linked in aliases.items():
        if path.startswith(real + os.sep):
            return linked + path[len(real) :]
    return None


def _link_chain(path: str) -> list[str]:
    """The symlinks a path leads through to its file, each as an absolute path (path
    itself included when it is one): `link -> mid -> file` gives [link, mid]."""
    chain = []
    while os.path.islink(path) and len(chain) < 40:
        chain.append(path)
        path = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
    return chain


def _held_in(directory: str, prefixes) -> set[str]:
    """Every path under directory (files and directories), as seen through each prefix
    (the input as written, and its real path when a symlink leads there)."""
    found = set()
    for current, directories, names in os.walk(directory):
        directories[:] = [name for name in directories if name not in IGNORED_DIRS]
        relative = os.path.relpath(current, directory)
        for name in (*directories, *names):
            tail = name if relative == "." else os.path.join(relative, name)
            found.update(os.path.join(prefix, tail) for prefix in prefixes)
    return found


def _covered(path: str, paths) -> bool:
    """Whether path is one of paths, or lies inside one of them (a directory)."""
    while path not in paths:
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return True


def _error(message: str) -> None:
    sys.stdout.flush()
    print(f"dagmake: {message}", file=sys.stderr, flush=True)


# --- where changes come from ----------------------------------------------------------------


class WatchdogSource:
    """Changed paths from watchdog's native observer (inotify, FSEvents, ...) or from polling."""

    def __init__(self, *, polling: bool = False, interval: float = POLL_INTERVAL, warn) -> None:
        self.polling = polling
        self.interval = interval
        self.warn = warn
        self.changes: queue.SimpleQueue = queue.SimpleQueue()
        self.observer = None
        self.watches: dict[tuple[str, bool], object] = {}

    def start(self, roots) -> None:
        try:
            self._start(roots)
        except OSError as error:
            # No inotify instance left (max_user_instances), or no native backend at all.
            if self.polling:
                raise
            self.stop()
            self.polling = True
            self.warn(
                f"native file events are unavailable ({error.strerror or error}); "
                f"polling every {self.interval:g} s instead"
            )
            self._start(roots)

    def _start(self, roots) -> None:
        import logging  # already imported by watchdog

        # watchdog logs races of its own threads at shutdown ("called when the thread is
        # inactive"); with no handler configured they would reach stderr on Ctrl-C.
        logging.getLogger("watchdog").addHandler(logging.NullHandler())
        logging.getLogger("watchdog").propagate = False
        if self.polling:
            from watchdog.observers.polling import PollingObserverVFS

            self.observer = PollingObserverVFS(os.stat, _listdir, polling_interval=self.interval)
        else:
            from watchdog.observers import Observer

            self.observer = Observer()
        self.handler = _handler(self.changes.put)
        self.watches = {}
        self.update(roots)
        self.observer.start()

    def update(self, roots) -> None:
        """Watch exactly these (directory, recursive) pairs, keeping those already watched."""
        for key in set(self.watches) - set(roots):
            self.observer.unschedule(self.watches.pop(key))
        for directory, recursive in roots:
            if (directory, recursive) not in self.watches:
                watch = self.observer.schedule(self.handler, directory, recursive=recursive)
                self.watches[(directory, recursive)] = watch

    def get(self, timeout: float | None) -> str:
        return self.changes.get(timeout=timeout)

    def stop(self) -> None:
        observer, self.observer = self.observer, None
        if observer is not None:
            observer.stop()
            if observer.is_alive():
                observer.join(timeout=2.0)  # its threads are daemons: never hang the exit


def _handler(push):
    from watchdog.events import FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event) -> None:
            # Runs on watchdog's thread: only hand the paths over, the main thread decides.
            if event.event_type in _READ_EVENTS:
                return
            if event.is_directory and event.event_type == "modified":
                return
            push(os.fsdecode(event.src_path))
            if event.dest_path:  # an atomic save is a move onto the input: only dest names it
                push(os.fsdecode(event.dest_path))

    return Handler()


def _listdir(path):
    # Polling re-reads the whole tree every interval; .git alone can hold thousands of entries.
    with os.scandir(path) as entries:
        return [entry for entry in entries if entry.name not in IGNORED_DIRS]


def _use_polling(project, options, warn) -> bool:
    if options.poll or os.environ.get("DAGMAKE_WATCH_POLL", "") not in ("", "0"):
        return True
    why = why_poll(project.root, watch_roots(project))
    if why:
        warn(f"{why}; polling every {POLL_INTERVAL:g} s instead")
    return bool(why)


def why_poll(root: str, roots) -> str | None:
    """Why native events would miss changes here (a network filesystem, the inotify limit)."""
    if not sys.platform.startswith("linux"):
        return None
    filesystem = network_filesystem(_read("/proc/mounts"), os.path.realpath(root))
    if filesystem:
        return f"the project is on a network filesystem ({filesystem}) that sends no change events"
    try:
        limit = int(_read("/proc/sys/fs/inotify/max_user_watches"))
    except ValueError:
        return None
    # One inotify watch per directory, shared by every program of the user; past the limit
    # watchdog 7 silently leaves directories unwatched, so stay well below it.
    budget = limit // 2
    if count_directories(roots, stop=budget) > budget:
        return (
            f"the project has more than {budget} directories, over half the inotify "
            f"watch limit (fs.inotify.max_user_watches = {limit})"
        )
    return None


def network_filesystem(mounts: str, path: str) -> str | None:
    """The type of the network filesystem path lies on, from /proc/mounts text; else None."""
    best, best_type = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts escapes spaces and tabs in mount points as octal (\040).
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[1])
        if _inside(path, point) and len(point) >= len(best):
            best, best_type = point, fields[2]
    return best_type if best_type in NETWORK_FILESYSTEMS else None


def count_directories(roots, *, stop: int) -> int:
    """How many directories watching roots takes (what inotify needs), counting up to stop + 1."""
    count = 0
    for directory, recursive in roots:
        if not recursive:
            count += 1
            continue
        for _ in os.walk(directory):
            count += 1
            if count > stop:
                return count
    return count


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
