"""What a build prints: a block per task, logs in .dagmake/logs, failure tails, summary, -q, -v."""

import os
import re
import subprocess

import pytest

from conftest import assert_nothing_ran, assert_ran, dagmake_command, sh_wait_for

SUMMARY = re.compile(r"^dagmake: (\d+) ran, (\d+) up to date, (\d+) failed in \d+\.\d\ds$")


def chatty(name: str, other: str, lines: int = 40) -> str:
    """A task that waits until `other` runs too, then prints many lines, slowly."""
    talk = f"for i in $(seq 1 {lines}); do echo {name} line $i; sleep 0.002; done"
    return f"""\
[tasks.{name}]
cmd = "touch {name}.started; {sh_wait_for(other + ".started")}; {talk}; touch {name}.txt"
outputs = ["{name}.txt"]
"""


def test_each_task_output_goes_to_its_log(project):
    project.pipefile(
        """\
        [tasks.talk]
        cmd = ["echo to stdout", "echo to stderr >&2", "touch talk.txt"]
        outputs = ["talk.txt"]
        """
    )
    result = project.run()
    assert_ran(result, ["talk"])
    assert project.read(".dagmake/logs/talk.log") == "to stdout\nto stderr\n"
    lines = result.stdout.splitlines()
    assert re.match(r"^\[1/1\] talk \d+\.\d\ds: output talk\.txt is missing$", lines[0])
    assert lines[1:3] == ["to stdout", "to stderr"]
    assert SUMMARY.match(lines[3]), lines


def test_concurrent_output_is_never_interleaved(project):
    project.pipefile(chatty("left", "right") + "\n" + chatty("right", "left"))
    result = project.run("-j2")
    assert_ran(result, ["left", "right"])
    lines = result.stdout.splitlines()
    for name in ("left", "right"):
        header = next(i for i, line in enumerate(lines) if re.match(rf"^\[\d/2\] {name} ", line))
        block = lines[header + 1 : header + 41]
        assert block == [f"{name} line {i}" for i in range(1, 41)], result.stdout
        assert project.read(f".dagmake/logs/{name}.log").splitlines() == block


def test_a_failure_shows_the_task_the_exit_code_and_the_tail(project):
    project.pipefile(
        """\
        [tasks.crash]
        cmd = "for i in $(seq 1 100); do echo out $i; done; echo last words >&2; exit 7"
        outputs = ["crash.txt"]
        """
    )
    result = project.run()
    assert result.returncode == 1, result
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("FAILED crash"))
    assert re.match(r"^FAILED crash \(exit 7, \d+\.\d\ds\)$", lines[start])
    block = lines[start + 1 :]
    log_line = block.index("  log: .dagmake/logs/crash.log")
    tail = block[:log_line]
    # the end of the output, with a note saying where the rest is
    assert tail[-1] == "  last words"
    assert tail[-2] == "  out 100"
    assert "  out 1" not in tail
    assert "crash.log" in tail[0]
    assert len(tail) <= 30
    assert "dagmake: first failure: crash (exit 7), log .dagmake/logs/crash.log" in result.stdout
    assert project.read(".dagmake/logs/crash.log").startswith("out 1\nout 2\n")


def test_no_escape_codes_off_a_terminal(project):
    project.pipefile(
        """\
        [tasks.good]
        cmd = "echo fine; touch good.txt"
        outputs = ["good.txt"]

        [tasks.bad]
        cmd = "echo oops; exit 1"
        """
    )
    env = {"NO_COLOR": "", "TERM": "xterm-256color", "FORCE_COLOR": "1"}
    for args in ([], ["-v"], ["-q"], ["-k"], ["-n"], ["-l"]):
        result = project.run(*args, env=env)
        assert "\x1b" not in result.output, (args, result)
        assert "\r" not in result.output, (args, result)


def test_summary_counts(project):
    project.pipefile(
        """\
        [tasks.a]
        cmd = "touch a.txt"
        outputs = ["a.txt"]

        [tasks.b]
        cmd = "touch b.txt"
        outputs = ["b.txt"]

        [tasks.c]
        cmd = "touch c.txt"
        outputs = ["c.txt"]
        """
    )
    assert_ran(project.run("a"), ["a"])
    result = project.run()
    assert_ran(result, ["b", "c"])
    assert SUMMARY.match(result.stdout.splitlines()[-1]).groups() == ("2", "1", "0")
    assert_nothing_ran(project.run())


def test_quiet_prints_only_failures(project):
    project.pipefile(
        """\
        [tasks.good]
        cmd = "echo chatter; touch good.txt"
        outputs = ["good.txt"]

        [tasks.bad]
        cmd = "echo trouble; exit 2"
        outputs = ["bad.txt"]
        """
    )
    result = project.run("-q", "good")
    assert result.returncode == 0, result
    assert result.stdout == ""
    assert project.read(".dagmake/logs/good.log") == "chatter\n"
    result = project.run("-q", "good")
    assert result.returncode == 0, result
    assert result.stdout == ""
    result = project.run("-q", "bad")
    assert result.returncode == 1, result
    assert "chatter" not in result.stdout
    assert "FAILED bad (exit 2" in result.stdout
    assert "  trouble" in result.stdout
    assert "dagmake: first failure: bad (exit 2)" in result.stdout


def test_quiet_says_nothing_of_a_failed_attempt_that_a_retry_made_good(project):
    project.pipefile(
        """\
        [tasks.flaky]
        cmd = "if [ -e tried ]; then touch flaky.txt; else touch tried; exit 3; fi"
        outputs = ["flaky.txt"]
        retries = 1
        retry_delay = 0
        """
    )
    result = project.run("-q")
    assert result.returncode == 0, result
    assert result.stdout == ""
    assert project.exists("flaky.txt")


def test_quiet_shows_every_attempt_of_a_task_that_failed_in_the_end(project):
    project.pipefile(
        """\
        [tasks.broken]
        cmd = "echo nope; exit 3"
        outputs = ["broken.txt"]
        retries = 1
        retry_delay = 0
        """
    )
    result = project.run("-q")
    assert result.returncode == 1, result
    assert "FAILED broken (exit 3 after 2 attempts" in result.stdout
    assert "--- dagmake: attempt 2 ---" in result.stdout


def test_verbose_streams_lines_prefixed_by_the_task_name(project):
    project.pipefile(chatty("left", "right", lines=5) + "\n" + chatty("right", "left", lines=5))
    result = project.run("-v", "-j2")
    assert_ran(result, ["left", "right"])
    lines = result.stdout.splitlines()
    for name in ("left", "right"):
        assert [line for line in lines if line.startswith(f"{name}| ")] == [
            f"{name}| {name} line {i}" for i in range(1, 6)
        ]
        # streamed, so not repeated as a block
        assert f"{name} line 1" not in lines
        assert project.read(f".dagmake/logs/{name}.log").count("line") == 5


def test_quiet_and_verbose_together_are_a_usage_error(project):
    project.pipefile('[tasks.a]\ncmd = "touch a.txt"\noutputs = ["a.txt"]\n')
    for args in (["-q", "-v"], ["-qv"], ["--verbose", "--quiet"]):
        result = project.run(*args)
        assert result.returncode == 2, result
        assert result.stderr == "dagmake: -q/--quiet and -v/--verbose contradict each other\n"
    assert not project.exists("a.txt")


def test_a_task_that_prints_nothing_prints_just_its_header(project):
    project.pipefile('[tasks.silent]\ncmd = "touch s.txt"\noutputs = ["s.txt"]\n')
    lines = project.run().stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[1/1] silent ")
    assert SUMMARY.match(lines[1])


def test_a_command_that_is_not_found(project):
    project.pipefile('[tasks.typo]\ncmd = "no-such-command-dagmake-test --flag"\n')
    result = project.run()
    assert result.returncode == 1, result
    assert "FAILED typo (exit 127" in result.stdout
    assert "no-such-command-dagmake-test" in project.read(".dagmake/logs/typo.log")


CHATTY_SIX = "\n".join(
    f'[tasks.t{i}]\ncmd = "{sh_wait_for("go") + "; " if i >= 2 else ""}seq 1 3000; touch o{i}"\n'
    f'outputs = ["o{i}"]\n'
    for i in range(6)
)


@pytest.mark.parametrize("flags", [[], ["--json"]], ids=["text", "json"])
def test_a_reader_that_goes_away_does_not_stop_the_build(project, flags):
    """`dagmake | head -1`: the build finishes, unseen, with its own exit code."""
    project.pipefile(CHATTY_SIX)
    build = subprocess.Popen(
        [*dagmake_command(), "-j2", *flags],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    build.stdout.readline()
    build.stdout.close()  # the reader is gone before most tasks have run
    project.write("go")
    _, stderr = build.communicate(timeout=60)
    assert build.returncode == 0, stderr
    assert b"Traceback" not in stderr
    assert all(project.exists(f"o{i}") for i in range(6))
    assert_nothing_ran(project.run())


def _to_dev_full(project, *args: str, buffered: bool = False) -> tuple[int, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    if buffered:
        env.pop("PYTHONUNBUFFERED", None)
    with open("/dev/full", "w") as full:
        completed = subprocess.run(
            [*dagmake_command(), *args],
            cwd=project.root,
            stdout=full,
            stderr=subprocess.PIPE,
            env=env,
        )
    stderr = completed.stderr.decode()
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    return completed.returncode, stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("flags", [[], ["--json"]], ids=["text", "json"])
def test_output_that_cannot_be_written_is_reported_once_and_the_build_goes_on(project, flags):
    project.write("go")
    project.pipefile(CHATTY_SIX)
    code, stderr = _to_dev_full(project, "-j2", *flags)
    assert code == 0, stderr
    assert stderr.count("cannot write the build's output (No space left on device)") == 1
    assert all(project.exists(f"o{i}") for i in range(6))
    # a no-op is a build too: its line lost is no failure
    assert _to_dev_full(project)[0] == 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("buffered", [False, True], ids=["unbuffered", "buffered"])
@pytest.mark.parametrize(
    "args", [["-l"], ["-n"], ["--graph"], ["--history"], ["--version"], ["--clean", "-n"]], ids=str
)
def test_a_mode_whose_output_cannot_be_written_says_so_and_exits_1(project, args, buffered):
    project.pipefile('[tasks.a]\ncmd = "touch a.txt"\noutputs = ["a.txt"]\n')
    assert_ran(project.run(), ["a"])
    code, stderr = _to_dev_full(project, *args, buffered=buffered)
    assert code == 1, stderr
    assert stderr == "dagmake: cannot write the output: No space left on device\n"


def _closed(project, *args: str, close: str = ">&-") -> tuple[int, str]:
    completed = subprocess.run(
        ["/bin/sh", "-c", f'exec "$@" {close}', "sh", *dagmake_command(), *args],
        cwd=project.root,
        stdout=subprocess.DEVNULL if "2" in close else None,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    stderr = completed.stderr.decode()
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    return completed.returncode, stderr


@pytest.mark.parametrize("args", [["-l"], ["-n"], ["--graph"], ["--history"]], ids=str)
def test_a_mode_started_with_stdout_closed_says_so_and_exits_1(project, args):
    project.pipefile('[tasks.a]\ncmd = "touch a.txt"\noutputs = ["a.txt"]\n')
    assert_ran(project.run(), ["a"])
    code, stderr = _closed(project, *args)
    assert code == 1, stderr
    assert stderr == "dagmake: cannot write the output: Bad file descriptor\n"


@pytest.mark.parametrize("args", [["-B"], ["-B", "--json"], ["-B", "--timings"]], ids=str)
def test_a_build_started_with_stdout_closed_goes_on_unseen(project, args):
    project.pipefile('[tasks.a]\ncmd = "echo hi; touch a.txt"\noutputs = ["a.txt"]\n')
    code, stderr = _closed(project, *args)
    assert code == 0, stderr
    assert "cannot write the build's output (Bad file descriptor)" in stderr
    assert project.exists("a.txt")
    project.pipefile('[tasks.a]\ncmd = "exit 3"\n')
    assert _closed(project)[0] == 1  # the exit code still tells


def test_a_build_started_with_stderr_closed_runs_and_keeps_its_exit_code(project):
    project.pipefile('[tasks.a]\ncmd = "echo oops >&2; exit 3"\n')
    assert _closed(project, close="2>&-")[0] == 1
    project.pipefile("[tasks.a]\ncmd = [\n")
    assert _closed(project, close="2>&-")[0] == 2


def test_a_closed_stdout_is_no_crash(project):
    project.write("go")
    project.pipefile(CHATTY_SIX)
    completed = subprocess.run(
        ["/bin/sh", "-c", 'exec "$@" >&-', "sh", *dagmake_command(), "-j2"],
        cwd=project.root,
        capture_output=False,
        stderr=subprocess.PIPE,
    )
    assert completed.returncode == 0, completed.stderr
    assert b"Traceback" not in completed.stderr
    assert all(project.exists(f"o{i}") for i in range(6))


def test_verbose_still_prints_a_failures_tail_as_one_block(project):
    project.pipefile(
        """\
        [tasks.bad]
        cmd = "echo first; echo last; exit 3"
        outputs = ["bad.txt"]
        """
    )
    result = project.run("-v")
    assert result.returncode == 1, result
    assert "bad| first\nbad| last\n" in result.stdout
    assert "FAILED bad (exit 3" in result.stdout
    block = result.stdout.split("FAILED bad", 1)[1]
    assert "  first\n  last\n" in block


def test_a_failing_command_of_a_cmd_list_is_named_and_stops_the_list(project):
    project.pipefile(
        """\
        [tasks.a]
        cmd = ["echo one > out", "exit 3", "echo three >> out"]
        outputs = ["out"]

        [tasks.b]
        cmd = "exit 4"
        outputs = ["b.txt"]
        """
    )
    result = project.run("-k")
    assert result.returncode == 1, result
    assert "FAILED a (exit 3, " in result.stdout  # the failing command's exit code
    assert "  dagmake: command 2 of 3 failed (exit 3): exit 3\n" in result.stdout
    assert (
        project.read(".dagmake/logs/a.log") == "dagmake: command 2 of 3 failed (exit 3): exit 3\n"
    )
    assert project.read("out") == "one\n"  # the list stopped there
    # a single command needs no saying which one failed
    assert "FAILED b (exit 4, " in result.stdout
    assert project.read(".dagmake/logs/b.log") == ""


def test_output_the_terminal_encoding_cannot_show_is_escaped_and_the_build_goes_on(project):
    project.pipefile(
        r"""
        [tasks.a]
        cmd = "echo 'caf\u00e9 \u2713'; printf '\\377\\n'; touch a.out"
        outputs = ["a.out"]

        [tasks.b]
        cmd = "touch b.out"
        outputs = ["b.out"]
        after = ["a"]
        """
    )
    result = project.run(env={"PYTHONIOENCODING": "ascii"})
    assert_ran(result, ["a", "b"])
    assert "caf\\xe9 \\u2713\n\\ufffd\n" in result.stdout
    assert "Traceback" not in result.output


def test_a_missing_output_with_an_escape_in_its_name_is_shown_escaped(project):
    project.pipefile('[tasks.u]\noutputs = ["u\\u001bQ2J.txt"]\ncmd = "true"\n')
    result = project.run()
    assert result.returncode == 1, result
    assert "FAILED u (did not create output u\\x1bQ2J.txt" in result.stdout
    assert "\x1b" not in result.output
    project.write("u\x1bQ2J.txt", "x")
    cleaned = project.run("--clean", "-n")
    assert cleaned.stdout == "would remove u\\x1bQ2J.txt\n", cleaned


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ("head -c 100000 /dev/zero | tr '\\\\0' x; echo; echo -n end", 0),
        ("head -c 3000000 /dev/zero | tr '\\\\0' x; echo -n end; exit 1", 1),
    ],
    ids=["one long line", "a failure's one huge line"],
)
def test_a_line_longer_than_what_is_read_of_the_log_shows_its_end(project, command, code):
    project.pipefile(f'[tasks.long]\ncmd = "{command}"\n')
    result = project.run()
    assert result.returncode == code, result
    shown = result.stdout if code == 0 else result.output
    assert "(earlier lines in .dagmake/logs/long.log)" in shown
    ends = [line.strip() for line in shown.splitlines() if line.strip().startswith("...x")]
    assert ends, shown
    assert ends[0].endswith("x" * 900 + ("" if code == 0 else "end"))
    assert len(ends[0]) < 1100  # the end of the line, not all of it


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize(
    ("args", "code"),
    [(["-B", "a"], 0), (["-B", "-q", "a"], 0), (["warns"], 0), (["nosuch"], 2), (["fails"], 1)],
    ids=["build", "quiet", "a warning", "usage error", "failure"],
)
def test_stderr_that_cannot_be_written_leaves_the_exit_code_alone(project, args, code):
    project.pipefile(
        '[tasks.a]\ncmd = "echo hi >&2; touch a.txt"\noutputs = ["a.txt"]\n\n'
        '[tasks.fails]\ncmd = "exit 3"\n\n'
        '[tasks.warns]\ncmd = "true"\nresources = { gpu = 1 }\n'  # ignored here: a warning
    )
    with open("/dev/full", "w") as full:
        completed = subprocess.run(
            [*dagmake_command(), *args], cwd=project.root, stdout=subprocess.PIPE, stderr=full
        )
    assert completed.returncode == code, completed.stdout
