"""What dagmake remembers in .dagmake/: a record per task, and a history of every attempt.

Both files are append-only logs of framed records (length, crc32, marshal payload):
a crash or kill at any moment leaves at worst one torn frame at the end, which the
next load drops. Compaction rewrites the file to a temporary name and renames it
over the old one (the black cache pattern), so no reader ever sees half a file.
"""

from __future__ import annotations

import errno
import marshal
import os
import zlib
from operator import itemgetter

from .errors import DagmakeError
from .files import replace_file

STATE_FORMAT = 2
_MAGIC = "dagmake-state"
_HISTORY_MAGIC = "dagmake-history"

# a load decodes each appended frame on its own (~3 us); past this many, compact
_MOST_APPENDED_FRAMES = 64

OK = "ok"
FAILED = "failed"
INTERRUPTED = "interrupted"


_NUMBERS = (int, float)


class Record(tuple):
    """The last run of one task: definition fingerprint, status, when, and input stamps.

    A tuple, so that loading thousands of them on a no-op run is one C call each.
    `stamps` maps each input path to its stamp (files.stamp) as seen when the run started.
    """

    __slots__ = ()

    def __new__(cls, name, fingerprint, status, started, seconds, attempts, stamps=None):
        if not isinstance(stamps, dict):
            stamps = {path: (mtime, size) for path, mtime, size in stamps or ()}
        return tuple.__new__(cls, (name, fingerprint, status, started, seconds, attempts, stamps))

    name = property(itemgetter(0))
    fingerprint = property(itemgetter(1))
    status = property(itemgetter(2))
    started = property(itemgetter(3))
    seconds = property(itemgetter(4))
    attempts = property(itemgetter(5))
    stamps = property(itemgetter(6))

    @classmethod
    def from_data(cls, data) -> Record:
        if (
            type(data) is not tuple
            or len(data) != 7
            or type(data[0]) is not str
            or type(data[1]) is not str
            or type(data[2]) is not str
            or type(data[3]) not in _NUMBERS
            or type(data[4]) not in _NUMBERS
            or type(data[5]) is not int
            or type(data[6]) is not dict
        ):
            raise TypeError("not a state record")
        return tuple.__new__(cls, data)

    def to_data(self) -> tuple:
        return tuple(self)

    def stamp_map(self) -> dict:
        return self[6]

    def __repr__(self) -> str:
        return f"Record({self.name!r}, {self.status!r}, attempts={self.attempts})"


def ensure_state_dir(state_dir: str) -> None:
    """Create .dagmake/ with a .gitignore of `*`, so it never ends up in version control.

    A .dagmake/ without one (made by hand, or its .gitignore deleted) gets it too. Costs
    one stat when both are in place.
    """
    gitignore = os.path.join(state_dir, ".gitignore")
    if os.path.lexists(gitignore):
        return
    existed = os.path.isdir(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    try:
        with open(gitignore, "w") as f:
            f.write("*\n")
    except OSError:
        if not existed:
            raise
        # a full disk or a read-only .dagmake/: the build goes on without it


def _frame(obj) -> bytes:
    payload = marshal.dumps(obj)
    return len(payload).to_bytes(4, "little") + zlib.crc32(payload).to_bytes(4, "little") + payload


def _read_frames(data: bytes, *, resync: bool = False, sizes=None) -> tuple[list, bool]:
    """Decode frames until the data ends or stops making sense; return (objects, clean).

    sizes, when given, gets each decoded frame's size in bytes.

    With resync, a damaged stretch is skipped instead: the reading goes on at the next
    byte where a whole frame with a matching checksum starts (an append-only file keeps
    growing after a torn write, and what came after it is still good).
    """

    objects = []
    clean = True
    position = 0
    end = len(data)
    while position < end:
        frame = None
        if position + 8 <= end:
            length = int.from_bytes(data[position : position + 4], "little")
            checksum = int.from_bytes(data[position + 4 : position + 8], "little")
            if position + 8 + length <= end:
                payload = data[position + 8 : position + 8 + length]
                if zlib.crc32(payload) == checksum:
                    try:
                        frame = marshal.loads(payload)
                    except (ValueError, EOFError, TypeError):
                        pass
        if frame is None:
            clean = False
            if not resync:
                break
            position += 1
            continue
        objects.append(frame)
        position += 8 + length
        if sizes is not None:
            sizes.append(8 + length)
    return objects, clean


class StateStore:
    """The per-task records in .dagmake/state."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, "state")
        self.warning: str | None = None
        # bytes of the header and the compacted records; frames and bytes appended since
        self.compacted_bytes = 0
        self.appended_frames = 0
        self.appended_bytes = 0
        self.needs_rewrite = False
        self._fd: int | None = None
        self._pending: list[bytes] = []

    def load(self) -> dict[str, Record]:
        """All records, last one per task wins. Unreadable state is a warning, never an error."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return {}
        except OSError as error:
            self.warning = f"cannot read {self.path} ({error.strerror}); judging by file times only"
            self.needs_rewrite = True
            return {}
        if not data:
            return {}  # killed between creating the file and writing its header: nothing lost
        sizes: list[int] = []
        objects, clean = _read_frames(data, sizes=sizes)
        if not objects or not _is_header(objects[0], _MAGIC):
            self.warning = f"{self.path} is not a dagmake state file; judging by file times only"
            self.needs_rewrite = True
            return {}
        version = objects[0][1]
        if version != STATE_FORMAT:
            newer = isinstance(version, int) and version > STATE_FORMAT
            self.warning = (
                f"{self.path} was written by a {'newer' if newer else 'different'} dagmake "
                f"(format {version}); judging by file times only"
            )
            self.needs_rewrite = True
            return {}
        records: dict[str, Record] = {}
        from_data = Record.from_data
        try:
            for obj in objects[1:]:
                # a compacted file holds all records in one frame: one loads() instead of thousands
                for data in obj if type(obj) is list else (obj,):
                    record = from_data(data)
                    records[record[0]] = record
        except TypeError:
            clean = False
        compacted = 2 if len(objects) > 1 and type(objects[1]) is list else 1
        self.compacted_bytes = sum(sizes[:compacted])
        self.appended_frames = len(objects) - compacted
        self.appended_bytes = sum(sizes[compacted:])
        if not clean:
            # Keep the records before the damage (each was true when written); rewrite the
            # file before appending, so new frames never follow garbage.
            self.needs_rewrite = True
            self.warning = (
                f"{self.path} was damaged; kept the {len(records)} task records before the damage"
            )
        return records

    def open_for_append(self, records: dict[str, Record]) -> None:
        """Start writing: rewrite the file first when it is damaged or mostly superseded records."""
        ensure_state_dir(self.state_dir)
        if self.needs_rewrite:
            self.rewrite(records)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            empty = os.fstat(self._fd).st_size == 0
        except OSError as error:
            raise _cannot_write(self.path, error) from None
        if empty:
            header = _frame((_MAGIC, STATE_FORMAT))
            _write(self._fd, header, self.path)
            self.compacted_bytes = len(header)

    def append(self, record: Record) -> None:
        """Add one record; it reaches the file at the next flush() or close()."""
        if self._fd is None:
            raise RuntimeError("StateStore.open_for_append() was not called")
        self._pending.append(_frame(record.to_data()))

    def flush(self) -> None:
        """Write the records appended since the last flush with a single write(2): a kill
        leaves every frame whole except, at worst, a torn last one."""
        if self._pending:
            frames, self._pending = self._pending, []
            try:
                _write(self._fd, b"".join(frames), self.path)
            except StateWriteError:
                self.needs_rewrite = True  # the file may end in a torn frame: compact() mends it
                raise
            self.appended_frames += len(frames)
            self.appended_bytes += sum(map(len, frames))

    def compact(self, records: dict[str, Record]) -> None:
        """Fold appended records into one frame, so the next load is a single loads() call.

        Not after every build: rewriting (and fsyncing) every record costs more than a load
        pays for a few small frames. The file is compacted once the appended frames are
        many, or as big as half the compacted ones: a load then never reads more than
        about 1.5 times the live records, and a build of a few tasks rewrites nothing.
        """
        if self.needs_rewrite or (
            self.appended_frames > _MOST_APPENDED_FRAMES
            or self.appended_bytes * 2 > self.compacted_bytes
        ):
            try:
                self.rewrite(records)
            except StateWriteError:
                pass  # the appended file is as good, only slower to load

    def rewrite(self, records: dict[str, Record]) -> None:
        ensure_state_dir(self.state_dir)
        header = _frame((_MAGIC, STATE_FORMAT))
        body = _frame([record.to_data() for record in records.values()])
        try:
            replace_file(self.path, header + body, sync=True)
        except OSError as error:
            raise _cannot_write(self.path, error) from None
        self.needs_rewrite = False
        self.compacted_bytes = len(header) + len(body)
        self.appended_frames = self.appended_bytes = 0

    def close(self) -> None:
        if self._fd is not None:
            try:
                self.flush()
            finally:
                os.close(self._fd)
                self._fd = None


class StateWriteError(DagmakeError):
    """.dagmake/state cannot be written (disk full, permissions, a directory in its place)."""


def _cannot_write(path: str, error: OSError) -> StateWriteError:
    return StateWriteError(
        f"cannot write {path}: {error.strerror or error}",
        hint="check the space and permissions there: dagmake cannot build safely unrecorded",
    )


def _write(fd: int, data: bytes, path: str) -> None:
    try:
        written = os.write(fd, data)
    except OSError as error:
        raise _cannot_write(path, error) from None
    if written != len(data):  # the disk filled up mid-frame: the next load drops the torn end
        raise _cannot_write(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))


def _is_header(obj, magic: str) -> bool:
    return isinstance(obj, tuple) and len(obj) == 2 and obj[0] == magic


class History:
    """Every run and attempt, in .dagmake/history; pruned to the most recent runs."""

    MAX_BYTES = 4 * 1024 * 1024
    KEEP_RUNS = 200

    def __init__(self, state_dir: str) -> None:
        self.path = os.path.join(state_dir, "history")
        self.state_dir = state_dir
        self._fd: int | None = None
        self._pending: list[bytes] = []

    def open(self) -> None:
        ensure_state_dir(self.state_dir)
        try:
            size = os.path.getsize(self.path)
        except OSError:
            size = 0
        # Best effort: the history only informs reports, so a full disk must not stop a build.
        try:
            if size > self.MAX_BYTES:
                self._prune()
            elif size and not self._starts_with_header():
                os.unlink(self.path)  # not a history of this format: start a new one
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if os.fstat(self._fd).st_size == 0:
                os.write(self._fd, _frame((_HISTORY_MAGIC, STATE_FORMAT)))
        except OSError:
            self.close()

    def _starts_with_header(self) -> bool:
        header = _frame((_HISTORY_MAGIC, STATE_FORMAT))
        with open(self.path, "rb") as f:
            return f.read(len(header)) == header

    def append(self, entry: tuple) -> None:
        """Add one entry; it reaches the file at the next flush() or close()."""
        if self._fd is not None:
            self._pending.append(_frame(entry))

    def flush(self) -> None:
        if self._fd is not None and self._pending:
            entries, self._pending = self._pending, []
            try:
                os.write(self._fd, b"".join(entries))
            except OSError:
                self.close()

    def close(self) -> None:
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._pending = []

    def read(self) -> list[tuple]:
        """All entries, oldest first: ("run", ...) and ("attempt", ...) tuples."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            return []
        objects, _ = _read_frames(data, resync=True)
        if not objects or not _is_header(objects[0], _HISTORY_MAGIC):
            return []
        return [obj for obj in objects[1:] if isinstance(obj, tuple) and obj]

    def _prune(self) -> None:
        """Keep the newest whole runs that fit in half of MAX_BYTES (at most KEEP_RUNS).

        Half, so that the next prune is many runs away: pruning to just under the limit
        would rewrite the file on every run of a pipeline whose runs are large. The
        newest run is kept even when it alone is larger.
        """
        framed = [(entry, _frame(entry)) for entry in self.read()]
        sizes: dict = {}
        for entry, frame in framed:
            sizes[entry[1]] = sizes.get(entry[1], 0) + len(frame)
        runs = [entry[1] for entry, _ in framed if entry[0] == "run"]
        keep = set()
        kept_bytes = 0
        for run in reversed(runs[-self.KEEP_RUNS :]):
            kept_bytes += sizes[run]
            if keep and kept_bytes > self.MAX_BYTES // 2:
                break
            keep.add(run)
        kept = b"".join(frame for entry, frame in framed if entry[1] in keep)
        replace_file(self.path, _frame((_HISTORY_MAGIC, STATE_FORMAT)) + kept)
