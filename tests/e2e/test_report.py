"""Seeing the pipeline: --history, --json, --trace, --timings (rendered in Chromium) and hooks."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import tempfile
import threading
import zlib

import pytest

from conftest import Project, dagmake_command

PIPELINE = """
[settings]
jobs = 2

[tasks.extract]
cmd = "echo raw > raw.txt"
outputs = ["raw.txt"]

[tasks.flaky]
# fails on its first attempt of each run that starts without flaky.seen
cmd = "if [ -e flaky.seen ]; then echo ok > flaky.txt; else touch flaky.seen; exit 3; fi"
outputs = ["flaky.txt"]
retries = 1
retry_delay = 0

[tasks.clean]
cmd = "cat raw.txt > clean.txt"
inputs = ["raw.txt"]
outputs = ["clean.txt"]

[tasks.load]
cmd = "test ! -e broken || exit 4; cat clean.txt flaky.txt > db.txt"
inputs = ["clean.txt", "flaky.txt"]
outputs = ["db.txt"]
"""
ALL = ["extract", "flaky", "clean", "load"]


@pytest.fixture
def pipeline(project: Project) -> Project:
    project.pipefile(PIPELINE)
    return project


def utc(**env):
    return {"TZ": "UTC", **env}


# --- history ---------------------------------------------------------------------------


def test_history_of_runs_with_a_failed_and_a_retried_task(pipeline):
    pipeline.write("broken")
    first = pipeline.run("-k")
    assert first.returncode == 1, first
    pipeline.path("broken").unlink()
    second = pipeline.run()
    assert second.returncode == 0, second
    assert "no work to do" in pipeline.run().stdout  # a run with nothing to do is not recorded

    result = pipeline.run("--history", env=utc())
    assert result.returncode == 0, result
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["started", "wall", "ran", "up", "to", "date", "failed", "exit"]
    assert len(rows) == 2
    date = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert re.fullmatch(
        date + r"  +\d+\.\d\ds +3 +0 +1 +1  failed: load \(exit 4\); retried: flaky", rows[0]
    ), rows[0]
    assert re.fullmatch(date + r"  +\d+\.\d\ds +1 +3 +0 +0", rows[1]), rows[1]

    flaky = pipeline.run("--history", "flaky")
    assert flaky.returncode == 0, flaky
    lines = flaky.stdout.splitlines()
    assert lines[0].startswith("flaky: 1 run in the history, 1 ok; median ")
    assert [line.split()[2:] for line in lines[2:]] == [
        ["1/2", lines[2].split()[3], "exit", "3"],
        ["2/2", lines[3].split()[3], "ok"],
    ]

    load = pipeline.run("--history", "load", "--limit", "1")
    assert load.stdout.splitlines()[0].startswith("load: 2 runs in the history, 1 ok, 1 failed")
    assert [line.split()[-1] for line in load.stdout.splitlines()[2:]] == ["ok"]

    as_json = pipeline.run("--history", "--json")
    runs = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(r["ran"], r["up_to_date"], r["failed"], r["exit_code"]) for r in runs] == [
        (3, 0, 1, 1),
        (1, 3, 0, 0),
    ]
    assert runs[0]["failed_tasks"] == ["load"]

    # each attempt's own status, beside how the task ended in that run
    flaky_json = pipeline.run("--history", "flaky", "--json")
    attempts = [json.loads(line) for line in flaky_json.stdout.splitlines()]
    assert [(a["attempt"], a["status"], a["task_status"], a["result"]) for a in attempts] == [
        (1, "failed", "ok", "exit 3"),
        (2, "ok", "ok", "ok"),
    ]


def test_history_before_any_run_and_for_an_unknown_task(pipeline):
    assert pipeline.run("--history").stdout == "dagmake: no runs recorded yet\n"
    assert pipeline.run("extract").returncode == 0
    result = pipeline.run("--history", "extrakt")
    assert result.returncode == 2
    assert "unknown task 'extrakt', did you mean 'extract'?" in result.stderr
    # a task of the Pipefile that has not run yet is no error, as no runs at all is none
    result = pipeline.run("--history", "load")
    assert result.returncode == 0, result
    assert result.stdout == "dagmake: no recorded attempts of task 'load' yet\n"


def test_history_works_while_the_pipefile_is_broken(pipeline):
    assert pipeline.run("extract").returncode == 0
    pipeline.write("Pipefile.toml", "[tasks.x\n")
    result = pipeline.run("--history", "extract")
    assert result.returncode == 0, result
    assert result.stdout.startswith("extract: 1 run in the history, 1 ok")


# --- --json ----------------------------------------------------------------------------


def test_json_event_stream_field_by_field(pipeline):
    pipeline.write("broken")
    result = pipeline.run("--json", "-j1", "-k")
    assert result.returncode == 1, result
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["event"], e.get("task")) for e in events] == [
        ("run_started", None),
        ("task_started", "extract"),
        ("task_finished", "extract"),
        ("task_started", "flaky"),
        ("attempt_failed", "flaky"),
        ("task_finished", "flaky"),
        ("task_started", "clean"),
        ("task_finished", "clean"),
        ("task_started", "load"),
        ("task_finished", "load"),
        ("run_finished", None),
    ]
    for event in events:
        assert isinstance(event["time"], float)
    started = events[0]
    assert started["schema"] == 1
    assert started["jobs"] == 1
    assert sorted(started["tasks"]) == sorted(ALL)
    assert started["up_to_date"] == []

    assert events[1]["reason"] == "output raw.txt is missing"
    assert events[1]["reason_kind"] == "output-missing"
    assert events[1]["attempt"] == 1

    retry = events[4]
    assert (retry["attempt"], retry["attempts"], retry["exit_code"]) == (1, 2, 3)
    assert (retry["error"], retry["timed_out"], retry["retry_in"]) == ("exit 3", False, 0.0)

    flaky = events[5]
    assert (flaky["status"], flaky["attempts"], flaky["exit_code"], flaky["error"]) == (
        "ok",
        2,
        0,
        None,
    )
    assert flaky["seconds"] >= 0
    assert flaky["log"] == str(pipeline.path(".dagmake/logs/flaky.log"))

    load = events[9]
    assert (load["status"], load["exit_code"], load["error"]) == ("failed", 4, "exit 4")
    assert load["reason"] == "output db.txt is missing"

    finished = events[-1]
    assert (finished["status"], finished["exit_code"]) == ("failed", 1)
    assert sorted(finished["ran"]) == ["clean", "extract", "flaky"]
    assert finished["failed"] == ["load"]
    assert finished["totals"] == {
        "ran": 3,
        "failed": 1,
        "interrupted": 0,
        "skipped": 0,
        "up_to_date": 0,
        "not_run": 0,
    }
    # no human text on stdout; the failure's text goes nowhere but the log
    assert "FAILED" not in result.stdout


def test_json_with_verbose_streams_output_lines(project):
    project.pipefile(
        """
        [tasks.talk]
        cmd = "echo hello; echo world"
        """
    )
    result = project.run("--json", "-v")
    assert result.returncode == 0, result
    events = [json.loads(line) for line in result.stdout.splitlines()]
    output = [(e["task"], e["line"]) for e in events if e["event"] == "task_output"]
    assert output == [("talk", "hello"), ("talk", "world")]
    kinds = [e["event"] for e in events]
    assert kinds.index("task_started") < kinds.index("task_output") < kinds.index("task_finished")


def test_json_nothing_to_do(pipeline):
    assert pipeline.run().returncode == 0
    events = [json.loads(line) for line in pipeline.run("--json").stdout.splitlines()]
    assert [e["event"] for e in events] == ["run_started", "run_finished"]
    assert events[0]["tasks"] == []
    assert events[1]["status"] == "ok"
    assert events[1]["totals"]["up_to_date"] == 4


def test_json_error_ends_stdout_with_an_error_line(project):
    project.pipefile("[tasks.a]\ncmd = 'true'\ninptus = []\n")
    result = project.run("--json")
    assert result.returncode == 2
    (line,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert line["event"] == "error"
    assert line["exit_code"] == 2
    assert "unknown key 'inptus'" in line["message"]
    assert "unknown key 'inptus'" in result.stderr


# --- --trace ---------------------------------------------------------------------------


def test_trace_is_chrome_trace_json_matching_the_tasks_run(pipeline):
    pipeline.path("out").mkdir()
    result = pipeline.run("--trace", "out/trace.json")
    assert result.returncode == 0, result
    assert "dagmake: trace written to out/trace.json" in result.stdout
    document = json.loads(pipeline.read("out/trace.json"))
    spans = [e for e in document["traceEvents"] if e["ph"] == "X" and e["cat"] == "task"]
    assert sorted(e["args"]["task"] for e in spans) == sorted([*ALL, "flaky"])
    assert sorted(e["name"] for e in spans if e["args"]["task"] == "flaky") == [
        "flaky (attempt 1)",
        "flaky (attempt 2)",
    ]
    by_task = {e["args"]["task"]: e for e in spans}
    for event in spans:
        assert event["ts"] >= 0 and event["dur"] >= 0
        assert event["tid"] in (1, 2)  # -j 2: two slots at most
    clean, load = by_task["clean"], by_task["load"]
    assert load["ts"] >= clean["ts"] + clean["dur"] - 5_000  # µs; load waited for clean
    assert by_task["load"]["args"]["critical"] is True


def test_a_trace_in_a_missing_directory_is_refused_before_the_build(pipeline):
    result = pipeline.run("--trace", "no/such/dir/trace.json")
    assert result.returncode == 2
    assert "--trace no/such/dir/trace.json: its directory does not exist" in result.stderr
    assert not pipeline.exists("raw.txt")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_trace_that_cannot_be_written_is_a_warning(pipeline):
    pipeline.write("broken")
    result = pipeline.run("--trace", "/dev/full")
    assert result.returncode == 1  # the build's own result
    assert "dagmake: warning: cannot write trace /dev/full: " in result.stderr
    # written to, not replaced by a renamed file
    assert not os.path.isfile("/dev/full")


def test_a_trace_into_a_directory_is_refused_before_the_build(pipeline):
    pipeline.path("traces").mkdir()
    result = pipeline.run("--trace", "traces")
    assert result.returncode == 2, result
    assert "--trace traces is a directory" in result.stderr
    assert not pipeline.exists("raw.txt")


# --- --timings, rendered -------------------------------------------------------------------


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB or RGBA PNG with the standard library: (width, height, rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + guess) & 255
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def headless(browser: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--window-size=1200,800",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )


@pytest.mark.slow
def test_timings_page_renders_in_headless_chromium(pipeline, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    result = pipeline.run("--timings")
    assert result.returncode == 0, result
    assert "dagmake: timings written to .dagmake/timings.html" in result.stdout
    url = pipeline.path(".dagmake/timings.html").as_uri()
    screenshot = tmp_path / "timings.png"

    shown = headless(browser, f"--screenshot={screenshot}", "--dump-dom", url)
    assert shown.returncode == 0, shown.stderr
    dom = shown.stdout
    if "<html" not in dom:  # an older Chromium does one thing per launch
        dom = headless(browser, "--dump-dom", url).stdout
    bars = re.findall(r'<rect class="bar ([a-z-]+)[^"]*" data-task="([^"]+)"', dom)
    assert sorted({task for _, task in bars}) == sorted(ALL)  # every task has a bar
    assert len(bars) == len(ALL) + 1  # and each attempt its own: flaky made two
    assert ("failed", "flaky") in bars
    assert 'class="bar ok critical" data-task="load"' in dom

    assert screenshot.exists(), shown.stderr
    _, channels, rows = png_pixels(screenshot.read_bytes())
    colors = set()
    bar_pixels = 0
    for row in rows[::2]:  # every other pixel of every other row is plenty, and 4x faster
        for x in range(0, len(row), 2 * channels):
            red, green, blue = pixel = row[x : x + 3]
            colors.add(pixel)
            # the ok bars' fill, #43a047, give or take colour management
            if abs(red - 0x43) < 12 and abs(green - 0xA0) < 12 and abs(blue - 0x47) < 12:
                bar_pixels += 1
    assert len(colors) > 20, "the screenshot is blank"
    assert bar_pixels > 500, f"only {bar_pixels} pixels of bar green: the chart did not draw"


# --- hooks -------------------------------------------------------------------------------


def test_on_failure_hook_gets_the_run_in_its_environment(pipeline):
    pipeline.write(
        "Pipefile.toml",
        '[settings]\non_failure = "env | grep ^DAGMAKE_ | sort > hook.env; exit 5"\n'
        + PIPELINE.replace("[settings]\n", ""),
    )
    pipeline.write("broken")
    result = pipeline.run("-k")
    assert result.returncode == 1, result  # the hook's own failure changes nothing
    assert "dagmake: warning: on_failure hook failed: exit 5" in result.stderr
    env = dict(line.split("=", 1) for line in pipeline.read("hook.env").splitlines() if "=" in line)
    assert env["DAGMAKE_EXIT_CODE"] == "1"
    assert env["DAGMAKE_FAILED_TASKS"] == "load"
    assert env["DAGMAKE_FAILED_LOGS"] == ".dagmake/logs/load.log"
    assert sorted(env["DAGMAKE_RAN"].split()) == ["clean", "extract", "flaky"]
    assert env["DAGMAKE_PROJECT"] == str(pipeline.root)
    assert env["DAGMAKE_SUMMARY"].startswith("dagmake: 3 ran, 0 up to date, 1 failed in ")
    assert os.path.exists(pipeline.path(env["DAGMAKE_FAILED_LOGS"]))


def test_on_success_hook_runs_after_every_successful_build(pipeline):
    pipeline.write(
        "Pipefile.toml",
        '[settings]\non_success = "echo ran=$DAGMAKE_RAN; echo $DAGMAKE_EXIT_CODE >> hook.log"\n'
        + PIPELINE.replace("[settings]\n", ""),
    )
    first = pipeline.run("extract")
    assert first.returncode == 0, first
    assert "ran=extract" in first.stderr  # a hook's output goes to stderr, not stdout
    assert "ran=" not in first.stdout
    second = pipeline.run("extract")  # nothing to do is a success too
    assert "no work to do" in second.stdout
    assert pipeline.read("hook.log") == "0\n0\n"


def test_a_dagmake_run_by_the_projects_own_hook_runs_no_hook(project):
    # on_success = "dagmake publish" must not start itself again without end (the hook
    # stops at 4 levels by itself, should it recurse)
    dagmake = " ".join(shlex.quote(word) for word in dagmake_command())
    project.pipefile(
        f"""\
        [settings]
        on_success = "echo hook >> hook.log; test $(wc -l < hook.log) -ge 4 || {dagmake} -q publish"

        [tasks.publish]
        cmd = "echo published >> published.log"
        """
    )
    result = project.run()
    assert result.returncode == 0, result
    assert project.read("hook.log") == "hook\n"
    assert project.read("published.log") == "published\npublished\n"


@pytest.mark.parametrize(
    ("trace", "message"),
    [
        (".dagmake/state", "--trace .dagmake/state is inside .dagmake/"),
        ("./.dagmake/history", "is inside .dagmake/, which dagmake keeps for itself"),
        (".dagmake/logs/extract.log", "is inside .dagmake/"),
        (".dagmake/timings.html", "is inside .dagmake/"),  # the --timings report's
        (".dagmake/trace.json", "is inside .dagmake/"),  # a name dagmake may take later
        ("Pipefile.toml", "--trace Pipefile.toml is the Pipefile"),
    ],
)
def test_a_trace_never_replaces_the_pipefile_or_dagmakes_own_files(pipeline, trace, message):
    pipeline.write("broken")
    assert pipeline.run("load").returncode == 1  # a failure the state must keep
    pipeline.write("db.txt", "half written\n")
    pipefile = pipeline.read("Pipefile.toml")
    state = pipeline.path(".dagmake/state").read_bytes()
    result = pipeline.run("extract", "--timings", "--trace", trace)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert pipeline.read("Pipefile.toml") == pipefile
    assert pipeline.path(".dagmake/state").read_bytes() == state
    assert "load: its last run failed" in pipeline.run("-n", "load").stdout


def test_a_trace_elsewhere_goes_beside_the_timings_report(pipeline):
    result = pipeline.run("extract", "--timings", "--trace", "run.json")
    assert result.returncode == 0, result
    assert json.loads(pipeline.read("run.json"))["traceEvents"]
    assert pipeline.read(".dagmake/timings.html").startswith("<!DOCTYPE html>")


# --- what does not go together -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "3"], "--limit goes with --history"),
        (["--history", "a", "b"], "--history takes at most one task"),
        (["--history", "--timings"], "--history cannot be combined with --timings"),
        (["--json", "-n"], "--json reports on a build; it cannot be combined with -n/--dry-run"),
        (["--timings", "-l"], "--timings reports on a build; it cannot be combined with -l/--list"),
        # --clean -n is a mode of its own; --json is what does not go with it
        (
            ["--json", "--clean", "-n"],
            "--json reports on a build; it cannot be combined with --clean",
        ),
        (["--history", "--limit", "0"], "--limit needs a whole number of at least 1, not '0'"),
    ],
)
def test_usage_errors(pipeline, args, message):
    result = pipeline.run(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_trace_to_a_pipe_is_written_through_it(pipeline, tmp_path):
    fifo = tmp_path / "trace.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    result = pipeline.run("--trace", str(fifo))
    reader.join(timeout=30)
    assert result.returncode == 0, result
    assert json.loads(received[0])["traceEvents"]
    assert not fifo.is_file()


def test_a_trace_to_a_symlink_replaces_what_it_leads_to_and_keeps_the_link(pipeline):
    pipeline.write("traces/real.json", "old")
    os.symlink("traces/real.json", pipeline.path("trace.json"))
    result = pipeline.run("--trace", "trace.json")
    assert result.returncode == 0, result
    assert os.path.islink(pipeline.path("trace.json"))
    assert json.loads(pipeline.read("traces/real.json"))["traceEvents"]


@pytest.mark.skipif(not os.path.exists("/dev/fd/1"), reason="needs /dev/fd")
@pytest.mark.parametrize("quiet", [False, True], ids=["text", "quiet"])
def test_a_trace_to_stdout_follows_the_output_in_the_file_stdout_goes_to(pipeline, tmp_path, quiet):
    # /dev/fd/1 rather than /dev/stdout: were this broken, a rename could not replace it
    out = tmp_path / "out.txt"
    with open(out, "w") as stdout:
        completed = subprocess.run(
            [*dagmake_command(), "--trace", "/dev/fd/1", *(["-q"] if quiet else [])],
            cwd=pipeline.root,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert completed.returncode == 0, completed.stderr
    lines = out.read_text().splitlines()
    assert json.loads(lines[-1])["traceEvents"]  # the trace, whole, on the last line
    if quiet:
        assert len(lines) == 1
    else:
        assert any(line.startswith("dagmake: ") and " ran, " in line for line in lines[:-1])


@pytest.mark.parametrize(
    ("path", "number"),
    [("/dev/stdout", 1), ("/dev/stderr", 2), ("/dev/fd/1", 1), ("/proc/self/fd/7", 7)],
)
def test_the_paths_of_standard_streams_are_written_through_their_descriptor(path, number):
    from dagmake.report import stream_of

    assert stream_of(path) == number
    assert stream_of("out/stdout") is None


def test_history_of_a_task_in_a_pipefile_that_does_not_load_shows_the_pipefile_error(project):
    project.pipefile('[tasks.a]\ncmd = "echo\n')
    result = project.run("--history", "a")
    assert result.returncode == 2, result
    assert result.stderr.startswith("dagmake: Pipefile.toml:2:12: invalid TOML"), result.stderr
    assert "unknown task" not in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/fd/1"), reason="needs /dev/fd")
def test_a_trace_to_a_link_to_stdout_is_written_through_it(pipeline, tmp_path):
    os.symlink("/dev/fd/1", pipeline.path("t.json"))
    out = tmp_path / "out.txt"
    out.write_text("before\n")
    with open(out, "a") as stdout:
        completed = subprocess.run(
            [*dagmake_command(), "--trace", "t.json"],
            cwd=pipeline.root,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert completed.returncode == 0, completed.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "before"  # the file stdout goes to is written to, not replaced
    assert json.loads(lines[-1])["traceEvents"]
    assert os.path.islink(pipeline.path("t.json"))
