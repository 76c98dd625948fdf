"""`dagmake --watch` as a subprocess: each kind of change leads to the right rounds, no more.

Synchronisation is by polling with deadlines, never by sleeping. To show that a change caused
no extra round, a test calls `settle()`: it edits probe.txt, the input of a task of its own, and
waits for that round to finish. Rounds run one at a time in the order of the changes, so by
then every round an earlier change could cause has run; the probe's round must report
`changed: probe.txt` and nothing else.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from dagmake.watch import SELF_CHANGED_ROUNDS

DEADLINE = 20.0  # generous: the suite must pass on a loaded 2-core machine

# Runs dagmake with a stack dump on SIGUSR1 (for a watcher that does not stop), and with
# Ctrl-C enabled even when the tests were started from a shell that ignores SIGINT.
LAUNCH = (
    "import faulthandler, signal, sys; "
    "faulthandler.register(signal.SIGUSR1, all_threads=True); "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from dagmake.cli import main; sys.exit(main())"
)

PIPEFILE = """\
[tasks.a]
cmd = "cp in/a.txt out/a.txt && echo run >> counts/a"
inputs = ["in/a.txt"]
outputs = ["out/a.txt"]

[tasks.d]   # reads what a writes
cmd = "cp out/a.txt out/d.txt && echo run >> counts/d"
inputs = ["out/a.txt"]
outputs = ["out/d.txt"]

[tasks.b]   # a directory input
cmd = "cat src/*.txt > out/b.txt && echo run >> counts/b"
inputs = ["src"]
outputs = ["out/b.txt"]

[tasks.c]   # a glob input
cmd = "cat glob/*.csv > out/c.txt && echo run >> counts/c"
inputs = ["glob/*.csv"]
outputs = ["out/c.txt"]

[tasks.probe]
cmd = "cp probe.txt out/probe.txt && echo run >> counts/probe"
inputs = ["probe.txt"]
outputs = ["out/probe.txt"]
"""

SUMMARY = r"^dagmake: (\d+ ran|no work to do)"


class Watcher:
    """A running `dagmake --watch`, its output collected line by line by a reader thread."""

    def __init__(self, root: Path, args=(), env=None) -> None:
        self.root = root
        self.lines: list[str] = []
        self.probes = 0
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", LAUNCH, "--watch", *args],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def mark(self) -> int:
        return len(self.lines)

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, since: int = 0, timeout: float = DEADLINE) -> int:
        """Wait for a line matching pattern at index `since` or later; return the index after it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(since, len(self.lines)):
                if regex.search(self.lines[index]):
                    return index + 1
            if self.process.poll() is not None:
                time.sleep(0.1)  # let the reader take the last lines
                break
            time.sleep(0.01)
        raise AssertionError(f"no line matching {pattern!r} after line {since}:\n{self.output()}")

    def wait_round(self, since: int) -> int:
        """Wait for the summary line of a round that started after `since`."""
        return self.wait_for(SUMMARY, self.wait_for(r"^changed: ", since))

    def changed(self, since: int = 0) -> list[list[str]]:
        """The paths of each `changed:` line from `since` on."""
        return [
            line.removeprefix("changed: ").split(", ")
            for line in self.lines[since:]
            if line.startswith("changed: ")
        ]

    def settle(self) -> int:
        """A barrier: change probe.txt and wait until its round is over (see the module doc)."""
        self.probes += 1
        since = self.mark()
        write(self.root / "probe.txt", "probe\n" * self.probes)  # a new size every time
        return self.wait_for(SUMMARY, self.wait_for(r"^\[\d+/\d+\] probe ", since))

    def stop(self, signum=signal.SIGINT, timeout: float = DEADLINE) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # faulthandler: dump every thread's stack
            time.sleep(1)
            self.process.kill()
            self.process.wait()
            time.sleep(0.1)
            raise AssertionError(f"dagmake --watch did not exit:\n{self.output()}")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def atomic_write(path: Path, text: str) -> None:
    """Save as editors do: write a temporary file beside it, rename it over the original."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(temporary, path)


def runs(root: Path, task: str) -> int:
    try:
        return len((root / "counts" / task).read_text().splitlines())
    except FileNotFoundError:
        return 0


def make_project(root: Path, pipefile: str = PIPEFILE) -> Path:
    write(root / "Pipefile.toml", textwrap.dedent(pipefile))
    write(root / "in/a.txt", "a1\n")
    write(root / "src/x.txt", "x1\n")
    write(root / "glob/one.csv", "one\n")
    write(root / "probe.txt", "")
    (root / "out").mkdir()
    (root / "counts").mkdir()
    return root


@pytest.fixture
def start(tmp_path):
    """start(root, *args, polling=False) -> a Watcher that has built once and is watching."""
    watchers = []

    def start(root: Path, *args: str, polling: bool = False) -> Watcher:
        watcher = Watcher(root, [*args, "--poll"] if polling else args)
        watchers.append(watcher)
        watcher.wait_for(r"^watching \d+ inputs? in \d+ director(y|ies)")
        return watcher

    yield start
    for watcher in watchers:
        assert watcher.stop() == 0, watcher.output()


@pytest.fixture(params=["inotify", "polling"])
def watching(request, start, tmp_path):
    """The standard project, built once and watched, with native events or by polling."""
    root = make_project(tmp_path / "project")
    return root, start(root, polling=request.param == "polling")


# --- what triggers a round, and how many ---------------------------------------------------


def test_first_build_then_the_ready_line(watching):
    root, w = watching
    ready = [line for line in w.lines if line.startswith("watching")]
    # in/a.txt, src, glob/one.csv, probe.txt; out/a.txt is an output, not counted.
    assert re.fullmatch(
        r"watching 4 inputs in 4 directories( \(polling every [\d.]+ s\))?; Ctrl-C to stop",
        ready[0],
    )
    assert [runs(root, t) for t in "abcd"] == [1, 1, 1, 1]
    w.settle()
    assert w.changed() == [["probe.txt"]]  # the build's own writes started nothing


def test_an_edit_rebuilds_the_task_and_its_downstream_once(watching):
    root, w = watching
    since = w.mark()
    write(root / "in/a.txt", "a2, longer\n")
    w.wait_round(since)
    assert (root / "out/d.txt").read_text() == "a2, longer\n"
    w.settle()
    assert w.changed(since) == [["in/a.txt"], ["probe.txt"]]
    assert [runs(root, t) for t in "abcd"] == [2, 1, 1, 2]


def test_an_atomic_save_is_one_change(watching):
    root, w = watching
    since = w.mark()
    atomic_write(root / "in/a.txt", "a2 saved atomically\n")
    w.wait_round(since)
    w.settle()
    assert w.changed(since) == [["in/a.txt"], ["probe.txt"]]
    assert runs(root, "a") == 2
    assert (root / "out/a.txt").read_text() == "a2 saved atomically\n"


def test_touch_is_a_change(watching):
    root, w = watching
    since = w.mark()
    os.utime(root / "in/a.txt")
    w.wait_round(since)
    w.settle()
    assert w.changed(since) == [["in/a.txt"], ["probe.txt"]]
    assert runs(root, "a") == 2


@pytest.fixture(params=["inotify", "polling"])
def watching_slowly(request, start, tmp_path):
    """The standard project, watched with a longer quiet period than the default: on a loaded
    machine the test itself may pause for longer than 0.1 s in the middle of a burst."""
    root = make_project(tmp_path / "project")
    return root, start(root, "--debounce", "0.5", polling=request.param == "polling")


def test_a_burst_of_writes_is_one_round(watching_slowly):
    root, w = watching_slowly
    since = w.mark()
    for index in range(20):
        write(root / "in/a.txt", "a" * (index + 10) + "\n")
    w.wait_round(since)
    w.settle()
    assert w.changed(since) == [["in/a.txt"], ["probe.txt"]]
    assert runs(root, "a") == 2
    assert (root / "out/a.txt").read_text() == "a" * 29 + "\n"


def test_many_new_files_in_a_burst_are_one_round(watching_slowly):
    root, w = watching_slowly
    since = w.mark()
    for index in range(20):
        write(root / f"glob/new{index:02}.csv", f"{index}\n")
    w.wait_round(since)
    w.settle()
    shown = [f"glob/new{i:02}.csv" for i in range(4)] + ["glob/new04.csv and 15 more"]
    assert w.changed(since) == [shown, ["probe.txt"]]
    assert runs(root, "c") == 2
    assert (root / "out/c.txt").read_text().count("\n") == 21


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_checkout_of_several_files_is_one_round(start, tmp_path):
    root = make_project(tmp_path / "project")
    (root / ".gitignore").write_text("out/\ncounts/\n.dagmake/\n")

    def git(*args):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=root,
            check=True,
            capture_output=True,
        )

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "one")
    git("checkout", "-q", "-b", "two")
    write(root / "in/a.txt", "a on branch two\n")
    write(root / "src/x.txt", "x on branch two\n")
    write(root / "glob/one.csv", "one on branch two\n")
    git("commit", "-q", "-am", "two")
    git("checkout", "-q", "main")
    w = start(root)
    since = w.mark()
    git("checkout", "-q", "two")
    w.wait_round(since)
    w.settle()
    assert w.changed(since) == [["glob/one.csv", "in/a.txt", "src/x.txt"], ["probe.txt"]]
    assert [runs(root, t) for t in "abcd"] == [2, 2, 2, 2]


def test_outputs_and_noise_trigger_nothing(watching):
    root, w = watching
    since = w.mark()
    write(root / "out/a.txt", "edited by hand\n")  # an output, though task d reads it
    write(root / "out/b.txt", "edited by hand\n")
    write(root / ".dagmake/junk", "x\n")
    write(root / ".git/index.lock", "x\n")
    write(root / "src/__pycache__/m.cpython-311.pyc", "x\n")
    for name in [".x.txt.swp", "x.txt~", ".#x.txt", "#x.txt#", "4913"]:
        write(root / "src" / name, "x\n")  # inside the input directory src/
    write(root / "in/b.txt", "beside an input\n")
    write(root / "glob/readme.txt", "does not match glob/*.csv\n")
    w.settle()
    assert w.changed(since) == [["probe.txt"]]
    # Only the probe's round ran; in it, b counts as stale, because its input directory now
    # holds new files: the swap files started no round, but they are in src/ all the same.
    assert [runs(root, t) for t in "ac"] == [1, 1]


def test_a_new_file_matching_an_input_glob_is_built(watching):
    root, w = watching
    since = w.mark()
    write(root / "glob/two.csv", "two\n")
    w.wait_round(since)
    assert (root / "out/c.txt").read_text() == "one\ntwo\n"
    assert runs(root, "c") == 2


def test_a_new_file_in_an_input_directory_is_built(watching):
    root, w = watching
    since = w.mark()
    write(root / "src/y.txt", "y1\n")
    w.wait_round(since)
    assert (root / "out/b.txt").read_text() == "x1\ny1\n"


# --- errors do not stop watching -------------------------------------------------------------


def test_a_deleted_input_is_an_error_then_watching_goes_on(watching):
    root, w = watching
    since = w.mark()
    (root / "in/a.txt").unlink()
    after = w.wait_for(r"input 'in/a\.txt' does not exist and no task produces it", since)
    write(root / "in/a.txt", "a is back\n")
    w.wait_round(after)
    assert (root / "out/d.txt").read_text() == "a is back\n"
    assert runs(root, "a") == 2


def test_a_task_that_writes_its_own_input_does_not_rebuild_forever(start, tmp_path):
    root = make_project(tmp_path / "project")
    write(
        root / "Pipefile.toml",
        '[tasks.fmt]\ncmd = "cat in/a.txt > out/f.txt; echo >> in/a.txt"\n'
        'inputs = ["in/a.txt"]\noutputs = ["out/f.txt"]\n\n'
        '[tasks.probe]\ncmd = "cp probe.txt out/probe.txt"\n'
        'inputs = ["probe.txt"]\noutputs = ["out/probe.txt"]\n',
    )
    w = start(root)
    w.wait_for(r"such changes start no more rounds until another edit")
    time.sleep(1.0)  # (it used to start ~9 rounds a second)
    rounds = len(w.changed())
    assert rounds == 3, w.output()
    w.settle()  # another edit still builds
    assert len(w.changed()) == rounds + 1
    since = w.mark()
    write(root / "in/a.txt", "edited\n")  # and an edit of that input, by someone, too
    w.wait_round(since)
    assert (root / "out/f.txt").read_text().startswith("edited\n")


def test_the_same_input_saved_again_and_again_rebuilds_each_time(start, tmp_path):
    root = make_project(tmp_path / "project")
    w = start(root)
    for n in range(SELF_CHANGED_ROUNDS + 2):
        since = w.mark()
        time.sleep(0.5)  # a person, between two saves
        write(root / "in/a.txt", f"a{n}\n")
        w.wait_round(since)
    assert (root / "out/a.txt").read_text() == f"a{SELF_CHANGED_ROUNDS + 1}\n"
    assert "no more rounds" not in w.output()


def test_a_failing_task_then_the_fixing_edit(start, tmp_path):
    root = make_project(tmp_path / "project")
    write(
        root / "Pipefile.toml",
        '[tasks.f]\ncmd = "sh step.sh > out/f.txt"\n'
        'inputs = ["step.sh"]\noutputs = ["out/f.txt"]\n',
    )
    write(root / "step.sh", "echo broken; exit 3\n")
    w = start(root)
    assert any(line.startswith("FAILED f (exit 3") for line in w.lines), w.output()
    since = w.mark()
    write(root / "step.sh", "echo fixed\n")
    w.wait_for(
        r"^dagmake: 1 ran, 0 up to date, 0 failed", w.wait_for(r"^changed: step\.sh$", since)
    )
    assert (root / "out/f.txt").read_text() == "fixed\n"


def test_pipefile_edits_reload_it_and_a_bad_one_is_survived(start, tmp_path):
    root = make_project(tmp_path / "project")
    w = start(root)
    pipefile = root / "Pipefile.toml"

    since = w.mark()
    with_e = PIPEFILE + '\n[tasks.e]\ncmd = "cp in/a.txt out/e.txt"\ninputs = ["in/a.txt"]\n'
    atomic_write(pipefile, with_e + 'outputs = ["out/e.txt"]\n')
    since = w.wait_for(r"^watching 4 inputs", w.wait_for(r"^\[1/1\] e ", since))
    assert (root / "out/e.txt").read_text() == "a1\n"

    write(pipefile, with_e + "outputs = [\n")  # a TOML syntax error
    since = w.wait_for(
        r"still watching with the last good Pipefile", w.wait_for(r"Pipefile\.toml:\d+", since)
    )

    write(root / "in/a.txt", "a2, longer\n")  # built with the last good graph, e included
    w.wait_round(since)
    assert (root / "out/e.txt").read_text() == "a2, longer\n"

    since = w.mark()
    write(pipefile, with_e.replace("out/e.txt", "out/e2.txt") + 'outputs = ["out/e2.txt"]\n')
    w.wait_for(r"^watching 4 inputs", w.wait_round(since))
    assert (root / "out/e2.txt").read_text() == "a2, longer\n"


# --- a change during a build -----------------------------------------------------------------

GATED = """\
[tasks.a]
# Copy the input as the task starts, then wait for the test to open the gate.
cmd = [
    "cp in/a.txt out/a.tmp && echo run >> counts/a",
    "while [ ! -e gate ]; do sleep 0.01; done; rm gate",
    "mv out/a.tmp out/a.txt",
]
inputs = ["in/a.txt"]
outputs = ["out/a.txt"]

[tasks.probe]
cmd = "cp probe.txt out/probe.txt && echo run >> counts/probe"
inputs = ["probe.txt"]
outputs = ["out/probe.txt"]
"""


def test_a_change_during_a_build_gets_another_round(start, tmp_path):
    root = make_project(tmp_path / "project", GATED)
    write(root / "gate", "")  # the first build passes straight through
    w = start(root)
    since = w.mark()
    write(root / "in/a.txt", "a2, longer\n")
    wait_until(lambda: runs(root, "a") == 2, w)  # task a is running, holding a2
    write(root / "in/a.txt", "a3, longer still\n")
    write(root / "gate", "")
    since = w.wait_round(since)  # the build in progress finishes with what it had...
    assert (root / "out/a.txt").read_text() == "a2, longer\n"
    wait_until(lambda: runs(root, "a") == 3, w)  # ...and another round follows
    write(root / "gate", "")
    w.wait_for(SUMMARY, since)
    assert (root / "out/a.txt").read_text() == "a3, longer still\n"
    w.settle()
    assert runs(root, "a") == 3


def wait_until(predicate, watcher: Watcher, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, watcher.output()
        time.sleep(0.01)


# --- stopping --------------------------------------------------------------------------------

SLOW = """\
[tasks.slow]
cmd = "if [ -e go-slow ]; then sleep 60 & echo $! > sleep.pid; wait; fi; cp in/a.txt out/slow.txt"
inputs = ["in/a.txt"]
outputs = ["out/slow.txt"]
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("gap", [0.0, 0.002, 0.005], ids=["at-once", "2ms", "5ms"])
def test_two_interrupts_in_a_row_still_end_watching_with_exit_0(tmp_path, gap):
    # a terminal's Ctrl-C passed on a moment later by a wrapper (`uv run`, `npm run`)
    root = make_project(tmp_path / "project", PIPEFILE)
    w = Watcher(root)
    try:
        w.wait_for(r"^watching ")
        w.process.send_signal(signal.SIGINT)
        time.sleep(gap)
        assert w.stop() == 0, w.output()
    finally:
        if w.process.poll() is None:
            w.process.kill()
    time.sleep(0.1)  # the reader takes the last lines
    assert "Traceback" not in w.output() and "Exception" not in w.output(), w.output()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_running_tasks_and_exits_0(tmp_path, signum):
    root = make_project(tmp_path / "project", SLOW)
    w = Watcher(root)
    try:
        w.wait_for(r"^watching ")
        write(root / "go-slow", "")
        write(root / "in/a.txt", "a2, longer\n")
        pid_file = root / "sleep.pid"
        wait_until(lambda: pid_file.exists() and pid_file.read_text().endswith("\n"), w)
        sleeper = int((root / "sleep.pid").read_text())
        assert alive(sleeper)
        signalled = time.monotonic()
        assert w.stop(signum) == 0, w.output()
        # The runner gives tasks 2 s to stop after SIGTERM; the deadline allows for load.
        assert time.monotonic() - signalled < 6.0
    finally:
        if w.process.poll() is None:
            w.process.kill()
    w.wait_for(r"^dagmake: interrupted after .*stopped slow")
    while alive(sleeper):  # init reaps the orphan: give it a moment
        assert time.monotonic() - signalled < DEADLINE, "the task's child outlived dagmake"
        time.sleep(0.01)
    dry_run = subprocess.run(
        [sys.executable, "-m", "dagmake", "-n"], cwd=root, capture_output=True, text=True
    )
    assert "slow: its last run was interrupted" in dry_run.stdout


SYMLINKED = """\
[tasks.linked_file]
cmd = "cat link.txt > out/l.txt"
inputs = ["link.txt"]
outputs = ["out/l.txt"]

[tasks.linked_dir]
cmd = "cat data/*.txt > out/d.txt"
inputs = ["data"]
outputs = ["out/d.txt"]

[tasks.linked_glob]
cmd = "cat data/*.txt > out/g.txt"
inputs = ["data/*.txt"]
outputs = ["out/g.txt"]

[tasks.probe]
cmd = "cp probe.txt out/probe.txt"
inputs = ["probe.txt"]
outputs = ["out/probe.txt"]
"""


@pytest.mark.parametrize("polling", [False, True], ids=["inotify", "polling"])
def test_an_edit_behind_a_symlinked_input_is_seen(start, tmp_path, polling):
    root = tmp_path / "project"
    outside = tmp_path / "outside"
    write(root / "Pipefile.toml", SYMLINKED)
    write(root / "real/r.txt", "r1\n")
    write(outside / "d.txt", "d1\n")
    write(root / "probe.txt", "")
    (root / "out").mkdir()
    os.symlink("real/r.txt", root / "link.txt")  # a file link to a file inside the project
    os.symlink(outside, root / "data")  # a directory link to one outside it
    w = start(root, polling=polling)
    since = w.mark()
    write(root / "real/r.txt", "r2, longer\n")
    w.wait_round(since)
    assert (root / "out/l.txt").read_text() == "r2, longer\n"
    since = w.mark()
    write(outside / "d.txt", "d2, longer\n")
    w.wait_for(SUMMARY, w.wait_for(r"^\[\d+/\d+\] linked_glob ", since))
    assert (root / "out/d.txt").read_text() == "d2, longer\n"
    assert (root / "out/g.txt").read_text() == "d2, longer\n"


RELINKED = """\
[tasks.linked]
cmd = "cat link.txt > out/l.txt"
inputs = ["link.txt"]
outputs = ["out/l.txt"]

[tasks.linked_dir]
cmd = "cat linkdir/*.txt > out/d.txt"
inputs = ["linkdir"]
outputs = ["out/d.txt"]

[tasks.probe]
cmd = "cp probe.txt out/probe.txt"
inputs = ["probe.txt"]
outputs = ["out/probe.txt"]
"""


@pytest.mark.parametrize("polling", [False, True], ids=["inotify", "polling"])
def test_a_symlinked_input_pointed_elsewhere_is_watched_at_its_new_target(start, tmp_path, polling):
    root = tmp_path / "project"
    outside = tmp_path / "outside"
    write(root / "Pipefile.toml", RELINKED)
    write(root / "v/one.txt", "one\n")
    write(root / "v/two.txt", "two\n")
    write(outside / "a/x.txt", "a\n")
    write(outside / "b/x.txt", "b\n")
    write(root / "probe.txt", "")
    (root / "out").mkdir()
    os.symlink("v/one.txt", root / "link.txt")
    os.symlink(outside / "a", root / "linkdir")
    w = start(root, polling=polling)
    # ln -sfn, done atomically: a file link and a directory link get new targets
    os.symlink("v/two.txt", root / "new-link")
    os.replace(root / "new-link", root / "link.txt")
    os.symlink(outside / "b", root / "new-dir-link")
    os.replace(root / "new-dir-link", root / "linkdir")
    w.settle()
    assert (root / "out/l.txt").read_text() == "two\n"
    assert (root / "out/d.txt").read_text() == "b\n"
    # the new targets are watched...
    write(root / "v/two.txt", "two, edited\n")
    write(outside / "b/x.txt", "b, edited\n")
    w.settle()
    assert (root / "out/l.txt").read_text() == "two, edited\n"
    assert (root / "out/d.txt").read_text() == "b, edited\n"
    # ...and the old ones are inputs no more
    since = w.mark()
    write(root / "v/one.txt", "one, edited\n")
    write(outside / "a/x.txt", "a, edited\n")
    w.settle()
    assert w.changed(since) == [["probe.txt"]]


LINKED_DEEPER = """\
[tasks.globbed]
cmd = "cat {{inputs}} > out/g.txt"
inputs = ["src/**/*.csv"]
outputs = ["out/g.txt"]

[tasks.chained]
cmd = "cat link.txt > out/c.txt"
inputs = ["link.txt"]
outputs = ["out/c.txt"]

[tasks.probe]
cmd = "cp probe.txt out/probe.txt"
inputs = ["probe.txt"]
outputs = ["out/probe.txt"]
"""


@pytest.mark.parametrize("polling", [False, True], ids=["inotify", "polling"])
def test_a_link_inside_a_glob_tree_and_a_link_in_the_middle_of_a_chain_are_followed(
    start, tmp_path, polling
):
    root = tmp_path / "project"
    outside = tmp_path / "outside"
    write(root / "Pipefile.toml", LINKED_DEEPER)
    write(root / "src/in/b.csv", "b\n")
    write(outside / "k.csv", "k1\n")
    write(root / "t1.txt", "t1\n")
    write(root / "t2.txt", "t2\n")
    write(root / "probe.txt", "")
    (root / "out").mkdir()
    os.symlink(outside, root / "src/link")  # a directory outside, inside the glob's tree
    os.symlink("t1.txt", root / "mid")
    os.symlink("mid", root / "link.txt")  # link.txt -> mid -> t1.txt
    w = start(root, polling=polling)
    assert (root / "out/g.txt").read_text() == "b\nk1\n"
    since = w.mark()
    write(outside / "k.csv", "k2\n")
    w.wait_round(since)
    assert (root / "out/g.txt").read_text() == "b\nk2\n"
    # that directory link pointed elsewhere: its new target is watched, the old one not
    write(tmp_path / "outside2/q.csv", "q1\n")
    os.symlink(tmp_path / "outside2", root / "src/new-link")
    os.replace(root / "src/new-link", root / "src/link")
    w.settle()
    assert (root / "out/g.txt").read_text() == "b\nq1\n"
    since = w.mark()
    write(tmp_path / "outside2/q.csv", "q2\n")
    w.wait_round(since)
    assert (root / "out/g.txt").read_text() == "b\nq2\n"
    # the middle link pointed elsewhere: the new target is the input now
    os.symlink("t2.txt", root / "new-mid")
    os.replace(root / "new-mid", root / "mid")
    w.settle()
    assert (root / "out/c.txt").read_text() == "t2\n"
    write(root / "t2.txt", "t2, edited\n")
    w.settle()
    assert (root / "out/c.txt").read_text() == "t2, edited\n"


def test_with_a_target_only_its_inputs_are_watched(start, tmp_path):
    root = make_project(tmp_path / "project")
    w = start(root, "probe")
    assert any(re.match(r"watching 1 input in 1 directory;", line) for line in w.lines), w.output()
    since = w.mark()
    write(root / "in/a.txt", "a2, not for this target\n")
    w.settle()
    assert w.changed(since) == [["probe.txt"]]
    assert runs(root, "a") == 0


def test_quiet_watch_prints_nothing_while_all_is_well(tmp_path):
    root = make_project(tmp_path / "project")
    w = Watcher(root, ["-q"])
    try:
        deadline = time.monotonic() + DEADLINE
        while not (root / "out/probe.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        write(root / "probe.txt", "edited\n")
        while (root / "out/probe.txt").read_text() != "edited\n":
            assert time.monotonic() < deadline, w.output()
            time.sleep(0.01)
        # A barrier: a plain run queues on the project lock until the round is over.
        barrier = subprocess.run(
            [sys.executable, "-c", "from dagmake.cli import main; main()", "--wait", "-q"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=DEADLINE,
        )
        assert barrier.returncode == 0, barrier
    finally:
        assert w.stop() == 0, w.output()
    assert w.output() == ""


def test_quiet_watch_says_nothing_while_a_round_waits_for_another_dagmake(tmp_path):
    import fcntl

    root = make_project(tmp_path / "project")
    w = Watcher(root, ["-q"])
    try:
        wait_until(lambda: (root / "out/probe.txt").exists(), w)
        lock = os.open(root / ".dagmake/lock", os.O_RDWR)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another dagmake, as far as the lock can tell
            inode = os.fstat(lock).st_ino
            write(root / "probe.txt", "edited\n")
            # the round is queued behind the lock: /proc/locks shows it blocked (`->`)
            wait_until(lambda: _blocked_on(inode), w)
        finally:
            os.close(lock)
        wait_until(lambda: (root / "out/probe.txt").read_text() == "edited\n", w)
    finally:
        assert w.stop() == 0, w.output()
    assert w.output() == ""


def _blocked_on(inode: int) -> bool:
    with open("/proc/locks") as f:
        return any("->" in line and f":{inode} " in line for line in f)


def test_an_edit_of_a_symlinked_pipefile_reloads_it(start, tmp_path):
    root = tmp_path / "project"
    write(root / "conf/pipe.toml", '[tasks.a]\ncmd = "echo v1 > a.out"\noutputs = ["a.out"]\n')
    (root / "Pipefile.toml").symlink_to("conf/pipe.toml")
    w = start(root)
    since = w.mark()
    write(root / "conf/pipe.toml", '[tasks.a]\ncmd = "echo v2 > a.out"\noutputs = ["a.out"]\n')
    w.wait_round(since)
    assert (root / "a.out").read_text() == "v2\n"


def test_a_tasks_temporary_file_inside_a_directory_input_starts_no_round(start, tmp_path):
    # `always` reruns fetch on every round: a round its own temporary file started would
    # start the next one, and so on forever
    root = tmp_path / "project"
    write(
        root / "Pipefile.toml",
        """\
[tasks.fetch]
cmd = "cat src.txt > data/new.csv.tmp && mv data/new.csv.tmp data/new.csv"
outputs = ["data/new.csv"]
always = true

[tasks.report]
cmd = "ls data > report.txt"
inputs = ["data"]
outputs = ["report.txt"]

[tasks.probe]
cmd = "cp probe.txt probe.out"
inputs = ["probe.txt"]
outputs = ["probe.out"]
""",
    )
    write(root / "src.txt", "s1\n")
    write(root / "data/kept.csv", "d\n")
    write(root / "probe.txt", "")
    w = start(root)
    since = w.mark()
    w.settle()
    w.settle()
    assert w.changed(since) == [["probe.txt"], ["probe.txt"]]


def test_a_tasks_temporary_file_matching_a_glob_starts_no_round(start, tmp_path):
    root = tmp_path / "project"
    write(
        root / "Pipefile.toml",
        """\
[tasks.a]
cmd = "cat src.txt > data/tmp.partial.csv && mv data/tmp.partial.csv data/a.csv"
inputs = ["src.txt"]
outputs = ["data/a.csv"]

[tasks.b]
cmd = "cat data/*.csv > b.out"
inputs = ["data/*.csv"]
outputs = ["b.out"]

[tasks.probe]
cmd = "cp probe.txt probe.out"
inputs = ["probe.txt"]
outputs = ["probe.out"]
""",
    )
    write(root / "src.txt", "s1\n")
    write(root / "data/in.csv", "d\n")
    write(root / "probe.txt", "")
    w = start(root)
    since = w.mark()
    write(root / "src.txt", "s2, longer\n")
    w.wait_round(since)
    w.settle()
    assert w.changed(since) == [["src.txt"], ["probe.txt"]]
