"""Watch mode without an observer: relevance filter, debounce, polling choice, the loop."""

from __future__ import annotations

import queue
import textwrap
from types import SimpleNamespace

import pytest

from dagmake import watch as watch_module
from dagmake.cli import Options
from dagmake.project import load
from dagmake.watch import (
    collect,
    count_directories,
    is_editor_file,
    network_filesystem,
    relevance,
    watch,
)

# --- the relevance filter: a pure function of the project, no files needed -------------------


def fake_project(tasks, root="/proj"):
    """A project as relevance() sees it: tasks with inputs and outputs, relative to root."""
    tasks = [SimpleNamespace(name=n, inputs=tuple(i), outputs=tuple(o)) for n, i, o in tasks]
    producers = {output: t.name for t in tasks for output in t.outputs}
    return SimpleNamespace(
        root=root,
        pipefile=f"{root}/Pipefile.toml",
        tasks=tasks,
        graph=SimpleNamespace(producers=producers),
    )


PROJECT = fake_project(
    [
        ("a", ["in/a.txt", "src", "data/*.csv", "../shared/lookup.csv"], ["out/a.txt"]),
        ("gen", ["in/gen.txt"], ["data/gen.csv", "build"]),
        ("b", ["out/a.txt", "raw/**/*.json"], ["out/b.txt", "raw/made.json"]),
    ]
)


@pytest.mark.parametrize(
    "path",
    [
        "/proj/Pipefile.toml",
        "/proj/in/a.txt",  # a literal input
        "/proj/src",  # an input directory (what it holds: see the test below on real files)
        "/shared/lookup.csv",  # an input outside the project
        "/proj/in",  # a directory holding inputs: renaming it removes them
    ],
)
def test_relevant(path):
    assert relevance(PROJECT)(path)


@pytest.mark.parametrize(
    "path",
    [
        "/proj/out/a.txt",  # a declared output, even though task b reads it
        "/proj/data/gen.csv",  # an output matching an input glob
        "/proj/raw/made.json",
        "/proj/build/part-0001",  # inside an output directory
        "/proj/in/b.txt",  # beside an input, not one
        "/proj/data/.hidden.csv",  # wildcards never match a leading dot
        "/proj/data/sub/x.csv",  # * stays in one directory
        "/proj/data/notes.txt",
        "/proj/raw",  # holds an output too: the build may create it
        "/proj/out",
        "/proj/.dagmake/logs/a.log",
        "/proj/.git/index.lock",
        "/proj/src/.git/HEAD",
        "/proj/src/__pycache__/x.cpython-311.pyc",
        "/proj/src/.x.py.swp",
        "/proj/src/.x.py.swx",
        "/proj/src/x.py~",
        "/proj/src/.#x.py",
        "/proj/src/#x.py#",
        "/proj/src/4913",
        "/proj/Pipefile.toml.swp",
        "/elsewhere/a.txt",
    ],
)
def test_not_relevant(path):
    assert not relevance(PROJECT)(path)


def test_a_directory_of_sources_moved_out_of_the_project_counts(tmp_path):
    # inotify reports the move of a directory out of the tree once, for the directory
    root = tmp_path / "proj"
    (root / "src/old").mkdir(parents=True)
    (root / "src/old/a.txt").write_text("a")
    (root / "src/keep.txt").write_text("k")
    (root / "data").mkdir()
    (root / "data/in.csv").write_text("1")  # a declared input beside an output
    (root / "out").mkdir()
    trash = tmp_path / "trash"
    trash.mkdir()
    project = fake_project(
        [
            ("list", ["src/**/*.txt"], ["list.out"]),
            ("load", ["data/in.csv"], ["data/out.csv"]),
            ("gen", [], ["out/gen.txt"]),
            ("use", ["out/gen.txt"], ["use.txt"]),
        ],
        root=str(root),
    )
    relevant = relevance(project)
    (root / "src/new").mkdir()
    assert not relevant(str(root / "src/new"))  # a new, empty directory changes nothing
    for name in ("src/old", "data", "out"):
        (root / name).rename(trash / name.replace("/", "-"))
    assert relevant(str(root / "src/old"))
    assert relevant(str(root / "data"))
    assert not relevant(str(root / "out"))  # it held only what the build writes


def test_a_file_matching_a_glob_counts_while_it_exists_or_once_it_was_a_match(tmp_path):
    root = str(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/old.csv").write_text("old")
    project = fake_project([("a", ["data/*.csv", "raw/**/*.json"], ["out.txt"])], root=root)
    relevant = relevance(project)
    (tmp_path / "data/new.csv").write_text("new")  # a new file matching the glob
    (tmp_path / "raw/2024/01").mkdir(parents=True)
    (tmp_path / "raw/2024/01/day.json").write_text("{}")  # ** spans directories
    assert relevant(f"{root}/data/new.csv")
    assert relevant(f"{root}/raw/2024/01/day.json")
    (tmp_path / "data/old.csv").unlink()
    assert relevant(f"{root}/data/old.csv")  # a match deleted: the glob's files changed
    (tmp_path / "data/new.csv").unlink()
    assert relevant(f"{root}/data/new.csv")  # seen before it went
    # a task's temporary file, written and renamed away before anyone looked
    assert not relevant(f"{root}/data/tmp.partial.csv")


def test_a_file_inside_an_input_directory_counts_while_it_exists_or_once_it_was_there(tmp_path):
    root = str(tmp_path)
    (tmp_path / "data/sub").mkdir(parents=True)
    (tmp_path / "data/old.csv").write_text("old")
    (tmp_path / "data/sub/deep.csv").write_text("deep")
    project = fake_project([("a", ["data"], ["out.txt"])], root=root)
    relevant = relevance(project)
    assert relevant(f"{root}/data")
    (tmp_path / "data/new.csv").write_text("new")
    assert relevant(f"{root}/data/new.csv")
    (tmp_path / "data/old.csv").unlink()
    assert relevant(f"{root}/data/old.csv")  # there when watching began: a real change
    (tmp_path / "data/sub/deep.csv").unlink()
    (tmp_path / "data/sub").rmdir()
    assert relevant(f"{root}/data/sub") and relevant(f"{root}/data/sub/deep.csv")
    (tmp_path / "data/new.csv").unlink()
    assert relevant(f"{root}/data/new.csv")  # seen before it went
    # a task's temporary file, written and renamed away before anyone looked
    assert not relevant(f"{root}/data/new.csv.tmp")


@pytest.mark.parametrize(
    "name", [".a.txt.swp", ".a.txt.swo", "a.txt~", ".#a.txt", "#a.txt#", "4913"]
)
def test_editor_files(name):
    assert is_editor_file(name)


@pytest.mark.parametrize("name", ["a.txt", "swp", "a.swp.csv", ".env", "49130", "#tag"])
def test_not_editor_files(name):
    assert not is_editor_file(name)


# --- the debounce, on a fake clock ---------------------------------------------------------


class Timeline:
    """Changes arriving at given times; get() advances a fake clock instead of waiting."""

    def __init__(self, changes):
        self.changes = sorted(changes)
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def get(self, timeout):
        if self.changes and (timeout is None or self.changes[0][0] <= self.now + timeout):
            at, path = self.changes.pop(0)
            self.now = max(self.now, at)
            return path
        assert timeout is not None, "would wait forever"
        self.now += timeout
        raise queue.Empty

    def collect(self, quiet=0.1, relevant=lambda path: not path.startswith("noise"), **kw):
        return collect(self.get, relevant, quiet, clock=self.clock, **kw)


def test_changes_close_together_make_one_batch():
    timeline = Timeline([(1.0, "a"), (1.05, "a"), (1.12, "b"), (1.5, "c")])
    assert timeline.collect() == ["a", "b"]
    assert timeline.now == pytest.approx(1.22)  # 0.1 s after the last change
    assert timeline.collect() == ["c"]


def test_irrelevant_paths_neither_start_nor_prolong_a_batch():
    timeline = Timeline([(0.5, "noise1"), (1.0, "a"), (1.05, "noise2"), (1.09, "noise3")])
    assert timeline.collect() == ["a"]
    assert timeline.now == pytest.approx(1.1)


def test_a_steady_stream_is_cut_after_the_limit():
    names = [f"f{i:03}" for i in range(100)]
    timeline = Timeline([(i * 0.05, name) for i, name in enumerate(names)])  # 5 s of changes
    first = timeline.collect(limit=2.0)
    assert timeline.now == pytest.approx(2.0)
    assert first == names[: len(first)] and 40 <= len(first) <= 41
    rest = timeline.collect(limit=2.0) + timeline.collect(limit=2.0)
    assert first + rest == names  # nothing lost, nothing twice


def test_zero_debounce_still_takes_what_has_already_arrived():
    timeline = Timeline([(1.0, "a"), (1.0, "b"), (1.001, "c")])
    assert timeline.collect(quiet=0) == ["a", "b"]
    assert timeline.collect(quiet=0) == ["c"]


# --- choosing polling ------------------------------------------------------------------------

MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
server:/export /mnt/data nfs4 rw,relatime 0 0
//nas/share /mnt/my\\040share cifs rw 0 0
tmpfs /mnt/data/scratch tmpfs rw 0 0
C:\\134 /mnt/c 9p rw 0 0
"""


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/home/me/project", None),
        ("/mnt/data/project", "nfs4"),
        ("/mnt/data", "nfs4"),
        ("/mnt/my share/project", "cifs"),
        ("/mnt/data/scratch/project", None),  # the deepest mount point wins
        ("/mnt/datax/project", None),
        ("/mnt/c/Users/me", "9p"),
    ],
)
def test_network_filesystem(path, expected):
    assert network_filesystem(MOUNTS, path) == expected


def test_count_directories_stops_early(tmp_path):
    for index in range(10):
        (tmp_path / f"d{index}" / "sub").mkdir(parents=True)
    assert count_directories([(str(tmp_path), True)], stop=1000) == 21
    assert count_directories([(str(tmp_path), True)], stop=5) == 6
    assert count_directories([(str(tmp_path), False), ("/elsewhere", False)], stop=5) == 2


@pytest.mark.parametrize("value, polls", [("1", True), ("0", False), ("", False)])
def test_environment_forces_polling(monkeypatch, tmp_path, value, polls):
    monkeypatch.setenv("DAGMAKE_WATCH_POLL", value)
    monkeypatch.setattr(watch_module, "why_poll", lambda root, roots: None)
    project = fake_project([("a", ["in/a.txt"], ["out/a.txt"])], root=str(tmp_path))
    assert watch_module._use_polling(project, Options(), warn=print) is polls


def test_why_poll_names_the_network_filesystem_and_the_watch_limit(monkeypatch, tmp_path):
    for index in range(10):
        (tmp_path / f"d{index}").mkdir()
    proc = {"/proc/mounts": MOUNTS, "/proc/sys/fs/inotify/max_user_watches": "8192\n"}
    monkeypatch.setattr(watch_module, "_read", lambda path: proc[path])
    monkeypatch.setattr(watch_module.sys, "platform", "linux")
    roots = [(str(tmp_path), True)]
    assert watch_module.why_poll(str(tmp_path), roots) is None
    assert "network filesystem (nfs4)" in watch_module.why_poll("/mnt/data/project", roots)
    proc["/proc/sys/fs/inotify/max_user_watches"] = "16\n"
    why = watch_module.why_poll(str(tmp_path), roots)
    assert "more than 8 directories" in why and "max_user_watches = 16" in why


def test_falls_back_to_polling_when_native_events_fail(tmp_path):
    class NoInotify(watch_module.WatchdogSource):
        def _start(self, roots):
            if not self.polling:
                raise OSError(24, "Too many open files")
            super()._start(roots)

    warnings = []
    source = NoInotify(warn=warnings.append)
    source.start([(str(tmp_path), True)])
    try:
        assert source.polling
        assert warnings == [
            "native file events are unavailable (Too many open files); polling every 0.25 s instead"
        ]
        (tmp_path / "new.txt").write_text("x")
        assert source.get(timeout=10) == str(tmp_path / "new.txt")
    finally:
        source.stop()


def test_polling_waits_for_two_poll_intervals_of_quiet():
    # changes arrive once per poll: one interval of quiet split a burst of saves into rounds
    polling = watch_module.WatchdogSource(polling=True, warn=print)
    native = watch_module.WatchdogSource(polling=False, warn=print)
    assert watch_module.quiet_period(0.1, polling) == 2 * polling.interval == 0.5
    assert watch_module.quiet_period(2.0, polling) == 2.0
    assert watch_module.quiet_period(0.1, native) == 0.1


# --- the loop, fed by a fake event source ----------------------------------------------------


class FakeSource:
    """Scripted batches of changes; each batch may first run a function (an edit on disk).

    When the script is used up, get() raises KeyboardInterrupt, as Ctrl-C would.
    """

    def __init__(self, *batches):
        self.batches = list(batches)
        self.current: list[str] = []
        self.roots = None
        self.stopped = False

    def start(self, roots):
        self.roots = roots

    def update(self, roots):
        self.roots = roots

    def get(self, timeout):
        if timeout is not None:
            if not self.current:
                raise queue.Empty
            return self.current.pop(0)
        if not self.batches:
            raise KeyboardInterrupt
        edit, *paths = self.batches.pop(0)
        edit()
        self.current = list(paths)
        return self.current.pop(0)

    def stop(self):
        self.stopped = True


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "Pipefile.toml").write_text(
        textwrap.dedent(
            """\
            [tasks.a]
            cmd = "cp in.txt out.txt"
            inputs = ["in.txt"]
            outputs = ["out.txt"]
            """
        )
    )
    (tmp_path / "in.txt").write_text("one\n")
    return tmp_path


def test_loop_rebuilds_after_each_batch_and_stops_on_ctrl_c(tiny, capsys, monkeypatch):
    monkeypatch.chdir(tiny)
    source = FakeSource(
        (lambda: (tiny / "in.txt").write_text("two, longer\n"), str(tiny / "in.txt")),
        # Only an output changed: no round.
        (lambda: (tiny / "out.txt").write_text("tampered\n"), str(tiny / "out.txt")),
    )
    assert watch(load(str(tiny)), Options(), warn=print, source=source) == 0
    assert source.stopped
    assert source.roots == [(str(tiny), True)]
    out = capsys.readouterr().out
    assert (tiny / "out.txt").read_text() == "tampered\n"
    assert out.count("] a ") == 2, out
    assert "watching 1 input in 1 directory; Ctrl-C to stop" in out
    assert out.count("changed: ") == 1
    assert "changed: in.txt\n" in out


def test_loop_keeps_the_last_good_pipefile(tiny, capsys, monkeypatch):
    monkeypatch.chdir(tiny)
    pipefile = tiny / "Pipefile.toml"
    good = pipefile.read_text()
    source = FakeSource(
        (lambda: pipefile.write_text(good + "[tasks.b\n"), str(pipefile)),
        (lambda: (tiny / "in.txt").write_text("three, longer\n"), str(tiny / "in.txt")),
        (lambda: pipefile.write_text(good.replace("out.txt", "copy.txt")), str(pipefile)),
    )
    assert watch(load(str(tiny)), Options(), warn=print, source=source) == 0
    captured = capsys.readouterr()
    assert "still watching with the last good Pipefile" in captured.err
    assert "Pipefile.toml:" in captured.err  # the load error, with its place
    assert (tiny / "copy.txt").read_text() == "three, longer\n"
    assert captured.out.count("] a ") == 3
    assert captured.out.count("watching 1 input in") == 2  # again after the good reload


@pytest.mark.parametrize("given", [False, True], ids=["found", "-f"])
def test_a_deleted_pipefile_mentions_f_only_when_it_was_given(tiny, capsys, monkeypatch, given):
    monkeypatch.chdir(tiny)
    pipefile = tiny / "Pipefile.toml"
    options = Options()
    if given:
        options.file = str(pipefile)
    source = FakeSource((pipefile.unlink, str(pipefile)))
    assert watch(load(str(tiny)), options, warn=print, source=source) == 0
    err = capsys.readouterr().err
    assert f"{pipefile} does not exist" in err
    assert "still watching with the last good Pipefile" in err
    assert ("-f PATH" in err) == given, err
