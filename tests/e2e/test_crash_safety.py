"""kill -9 at any moment leaves .dagmake/ readable; the next run reruns at most what was running.
A damaged, truncated or future state file is a warning, never a crash."""

import os
import random
import shutil
import signal
import subprocess
import time

import pytest

from background import Background, kill_leftovers
from conftest import (
    SECOND,
    T0,
    assert_nothing_ran,
    assert_ran,
    dagmake_command,
    process_gone,
    wait_until,
)

TASKS = 200
JOBS = 2
FIRST_LAYER = 20
DONE = "source\n"


def chain_pipefile() -> str:
    """200 tiny tasks in 20 chains of 10: t000..t019 copy src.txt, t(i) copies t(i-20)'s output.

    Each writes a partial output first, so a kill can leave one behind.
    """
    lines = []
    for i in range(TASKS):
        source = "src.txt" if i < FIRST_LAYER else f"out/t{i - FIRST_LAYER:03}.txt"
        lines.append(
            f"[tasks.t{i:03}]\n"
            'cmd = "echo partial > {{outputs}}; sleep 0.002; cat {{inputs}} > {{outputs}}"\n'
            f'inputs = ["{source}"]\noutputs = ["out/t{i:03}.txt"]\n'
        )
    return "\n".join(lines)


def fresh(project) -> None:
    shutil.rmtree(project.path("out"), ignore_errors=True)
    shutil.rmtree(project.path(".dagmake"), ignore_errors=True)
    project.path("out").mkdir()


def outputs_now(project) -> dict[str, str]:
    """Task name -> the content of its output, for the outputs that exist."""
    found = {}
    for name in os.listdir(project.path("out")):
        try:
            found[name[: -len(".txt")]] = project.read(f"out/{name}")
        except FileNotFoundError:
            continue
    return found


def predicted(project) -> set[str]:
    """The tasks `dagmake -n` would run; it must read the state without a warning."""
    result = project.run("-n")
    assert result.returncode == 0, result
    assert result.stderr == "", result  # no "damaged" or "not a state file" warning
    if result.stdout.startswith("dagmake: no work to do"):
        return set()
    return {line.split(":", 1)[0] for line in result.stdout.splitlines()}


def session_members(sid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def kill_session(sid: int) -> None:
    """SIGKILL every process of the session, as a crash of the whole machine's processes would
    (but not of its disk): tasks die too, halfway through their writes."""
    deadline = time.monotonic() + 10
    while members := session_members(sid):
        assert time.monotonic() < deadline, f"processes survive SIGKILL: {members}"
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)


def kill_when(project, ready, *, everything=False, deadline: float = 20):
    """Start a build, SIGKILL it once ready() holds (with everything, its tasks too); return
    (outputs after the kill, whether the build ended on its own first)."""
    build = Background(project, f"-j{JOBS}")
    try:
        end = time.monotonic() + deadline
        while not ready() and build.process.poll() is None:
            assert time.monotonic() < end, "the build made no progress"
            time.sleep(0.001)
        finished = build.process.poll() is not None
        if not finished:
            if everything:
                kill_session(build.pid)
            else:
                build.send(signal.SIGKILL)
        build.wait()
        assert "Traceback" not in build.output, build.output
        return outputs_now(project), finished and build.process.returncode == 0
    finally:
        build.stop()


def check_after_kill(project, existed: dict[str, str], unrecorded=frozenset()) -> set[str]:
    """What the next run will do: every task without a complete output, plus at most the ones
    that were running (complete on disk but not yet recorded), and those an earlier kill left so.
    """
    will_run = predicted(project)
    unfinished = {f"t{i:03}" for i in range(TASKS)} - {
        t for t, text in existed.items() if text == DONE
    }
    assert unfinished <= will_run, (
        f"never rerun although unfinished: {sorted(unfinished - will_run)}"
    )
    extra = will_run - unfinished
    assert len(extra - unrecorded) <= JOBS, f"reruns more than were running: {sorted(extra)}"
    return will_run


def check_complete(project) -> None:
    for i in range(TASKS):
        assert project.read(f"out/t{i:03}.txt") == DONE, f"t{i:03}"
    assert_nothing_ran(project.run())


@pytest.fixture
def chains(project):
    project.pipefile(chain_pipefile())
    project.write("src.txt", "source\n", ns=T0)
    fresh(project)
    return project


def count_outputs(project) -> int:
    return len(os.listdir(project.path("out")))


@pytest.mark.slow
@pytest.mark.parametrize("everything", [False, True], ids=["dagmake", "dagmake-and-tasks"])
def test_kill_9_after_every_few_tasks_until_the_build_is_done(chains, everything):
    project = chains
    rng = random.Random(5)
    kills = 0
    unrecorded: set[str] = set()
    while True:
        target = count_outputs(project) + rng.randint(1, 30)
        existed, finished = kill_when(
            project, lambda t=target: count_outputs(project) >= t, everything=everything
        )
        if finished:
            break
        kills += 1
        unrecorded = check_after_kill(project, existed, unrecorded) & set(existed)
    assert kills >= 5
    check_complete(project)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.04, 0.1, 0.2, 0.4])
def test_kill_9_at_a_moment_then_finish(chains, delay):
    # early delays land in startup, loading, the lock and opening the state; later ones mid-build
    project = chains
    start = time.monotonic()
    existed, _ = kill_when(project, lambda: time.monotonic() - start >= delay)
    will_run = check_after_kill(project, existed)
    result = project.run(f"-j{JOBS}")
    assert result.returncode == 0, result
    assert set(result.ran()) == will_run, "-n after a kill did not predict the run"
    check_complete(project)


# --- damaged state files -----------------------------------------------------------------

SMALL = """\
[tasks.a]
cmd = "cp src.txt a.txt"
inputs = ["src.txt"]
outputs = ["a.txt"]

[tasks.b]
cmd = "cp a.txt b.txt; test ! -e fail"
inputs = ["a.txt"]
outputs = ["b.txt"]
"""


@pytest.fixture
def built(project):
    """a ran and b failed (after writing its output); the state holds both records."""
    project.pipefile(SMALL)
    project.write("src.txt", "x", ns=T0)
    project.write("fail")
    assert project.run().returncode == 1
    project.path("fail").unlink()
    return project


def state(project):
    return project.path(".dagmake/state")


def frame(obj) -> bytes:
    """A frame as dagmake writes them: length, crc32, marshal payload (little endian)."""
    import marshal
    import zlib

    payload = marshal.dumps(obj)
    return len(payload).to_bytes(4, "little") + zlib.crc32(payload).to_bytes(4, "little") + payload


def warned(result) -> bool:
    assert result.returncode in (0, 1), result
    assert "Traceback" not in result.output, result
    return result.stderr.startswith("dagmake: warning: ")


def test_garbage_after_the_records_keeps_them(built):
    # a torn last write, or garbage: each record before it was true when written
    with open(state(built), "ab") as f:
        f.write(b"\x13\x00\x00\x00garbage")
    result = built.run("-n")
    assert warned(result)
    assert "damaged" in result.stderr
    assert result.stdout == "b: its last run failed\n"
    assert_ran(built.run(), ["b"])
    result = built.run()
    assert not warned(result)
    assert_nothing_ran(result)


@pytest.mark.parametrize(
    "damage",
    ["empty-header", "garbage", "truncated", "flipped", "zeros", "future", "older"],
)
def test_an_unreadable_state_file_means_judging_by_file_times(built, damage):
    path = state(built)
    data = path.read_bytes()
    if damage == "empty-header":
        path.write_bytes(data[:3])
    elif damage == "garbage":
        path.write_bytes(os.urandom(300))
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        path.write_bytes(data[:12] + bytes([data[12] ^ 0xFF]) + data[13:])
    elif damage == "zeros":
        path.write_bytes(b"\0" * len(data))
    elif damage == "future":
        path.write_bytes(frame(("dagmake-state", 99)) + frame(["from a newer dagmake"]))
    elif damage == "older":
        path.write_bytes(frame(("dagmake-state", 0)))
    # b's failure is forgotten; by file times its (partial) output is up to date
    built.touch("a.txt", T0 + SECOND)
    built.touch("b.txt", T0 + 2 * SECOND)
    result = built.run("-n")
    assert warned(result), result
    if damage == "future":
        assert "newer dagmake" in result.stderr
    assert "no work to do" in result.stdout
    result = built.run()
    assert warned(result), result
    assert_nothing_ran(result)
    # the next build starts a fresh state file
    built.touch("src.txt", T0 + 3 * SECOND)
    result = built.run()
    assert_ran(result, ["a", "b"])
    result = built.run()
    assert not warned(result)
    assert_nothing_ran(result)


def test_a_directory_in_place_of_the_state_file_is_an_error_not_a_crash(built):
    state(built).unlink()
    state(built).mkdir()
    assert warned(built.run("-n"))
    result = built.run()
    assert result.returncode == 2, result
    assert "Traceback" not in result.output
    assert "cannot write" in result.stderr and "Is a directory" in result.stderr
    assert result.ran() == []


def test_a_file_in_place_of_the_logs_directory_is_an_error_not_a_crash(built):
    logs = built.path(".dagmake/logs")
    for log in logs.iterdir():
        log.unlink()
    logs.rmdir()
    logs.write_text("not a directory\n")
    result = built.run("-B")
    assert result.returncode == 2, result
    assert "Traceback" not in result.output
    assert "dagmake: cannot create .dagmake/logs: File exists\n" in result.stderr
    assert result.ran() == []
    assert logs.read_text() == "not a directory\n"  # nothing of the user's is lost


def test_when_the_state_cannot_be_written_the_build_stops_cleanly(project):
    # A file size limit makes writes fail with EFBIG, as a full disk makes them fail with
    # ENOSPC: dagmake's own state is what fails here, while tasks run.
    import resource

    quick = "".join(
        f'[tasks.q{i:02}]\ncmd = "echo {i} > q{i:02}.txt"\noutputs = ["q{i:02}.txt"]\n'
        for i in range(60)
    )
    project.pipefile(
        """\
        [tasks.hang]
        cmd = "echo $$ > hang.pid; test -e go || sleep 30; touch hang.txt"
        outputs = ["hang.txt"]
        """
    )
    with open(project.path("Pipefile.toml"), "a") as f:
        f.write(quick)

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))

    completed = subprocess.run(
        [*dagmake_command(), "-j2"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=limit_file_size,
        env={**os.environ, "NO_COLOR": "1"},
    )
    leader = int(project.read("hang.pid"))
    try:
        assert completed.returncode == 2, completed
        assert "Traceback" not in completed.stdout + completed.stderr
        assert "cannot write" in completed.stderr, completed.stderr
        assert wait_until(lambda: process_gone(leader), timeout=5), "the running task was left"
    finally:
        kill_leftovers(project, "hang.pid")
    will_run = predicted(project)
    assert "hang" in will_run
    project.write("go")
    result = project.run("-j2")
    assert result.returncode == 0, result
    assert set(result.ran()) == will_run
    assert_nothing_ran(project.run())


def test_state_loading_never_raises_whatever_the_bytes(built):
    from dagmake.state import StateStore

    data = state(built).read_bytes()
    rng = random.Random(7)
    variants = [data[:cut] for cut in range(len(data))]
    for _ in range(300):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        variants.append(bytes(mutated))
    variants += [frame(("dagmake-state", 2)) + frame(obj) for obj in _odd_payloads()]
    for variant in variants:
        state(built).write_bytes(variant)
        store = StateStore(str(built.path(".dagmake")))
        records = store.load()  # must not raise
        assert isinstance(records, dict)
        assert store.warning is None or store.warning


def _odd_payloads():
    return [
        None,
        [],
        [None],
        [("a",)],
        [("a", "fp", "ok", 0.0, 0.0, 1, None)],
        ("a", "fp", "ok", 0.0, 0.0, 1, {"x": None}),
        [("a", "fp", "ok", "when", "long", "many", {})],
        {"a": 1},
        [[1, 2, 3]],
    ]
