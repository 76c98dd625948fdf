"""Stale tasks run concurrently up to -j; a failure stops new starts unless -k."""

import json
import subprocess
import sys

from conftest import assert_ran, dagmake_command, sh_wait_for

# Each task can only finish if the other one started meanwhile: success proves they overlapped.
HANDSHAKE = f"""\
[tasks.left]
cmd = "touch left.started; {sh_wait_for("right.started")}; touch left.txt"
outputs = ["left.txt"]

[tasks.right]
cmd = "touch right.started; {sh_wait_for("left.started")}; touch right.txt"
outputs = ["right.txt"]
"""

# Each task holds a directory as a mutex (mkdir is atomic) and logs start/end to a shared file.
EXCLUSIVE = "\n".join(
    f"""\
[tasks.{name}]
cmd = ["mkdir held", "echo start {name} >> trace", "sleep 0.05", "echo end {name} >> trace",
       "rmdir held", "touch {name}.txt"]
outputs = ["{name}.txt"]
"""
    for name in ("t1", "t2", "t3", "t4")
)

# bad fails; down needs bad; slow runs beside bad and finishes after it; later needs slow.
FAILING = f"""\
[tasks.bad]
cmd = "echo working; echo broken >&2; touch bad.finished; exit 3"
outputs = ["bad.txt"]

[tasks.down]
cmd = "touch down.txt"
inputs = ["bad.txt"]
outputs = ["down.txt"]

[tasks.slow]
cmd = "{sh_wait_for("bad.finished")}; sleep 0.5; touch slow.txt"
outputs = ["slow.txt"]

[tasks.later]
cmd = "touch later.txt"
inputs = ["slow.txt"]
outputs = ["later.txt"]
"""


def test_independent_tasks_overlap_at_j2(project):
    project.pipefile(HANDSHAKE)
    assert_ran(project.run("-j2"), ["left", "right"])


def test_jobs_option_wins_over_settings(project):
    project.pipefile("[settings]\njobs = 1\n\n" + HANDSHAKE)
    assert_ran(project.run("-j", "2"), ["left", "right"])


def check_never_overlapped(project, names):
    lines = project.read("trace").splitlines()
    assert len(lines) == 2 * len(names)
    for start, end in zip(lines[::2], lines[1::2], strict=True):
        assert start.startswith("start ") and end == "end " + start.split()[1], lines
    assert sorted(line.split()[1] for line in lines[::2]) == sorted(names)


def test_j1_never_overlaps(project):
    project.pipefile(EXCLUSIVE)
    assert_ran(project.run("-j1"), ["t1", "t2", "t3", "t4"])
    check_never_overlapped(project, ["t1", "t2", "t3", "t4"])


def test_settings_jobs_limits_parallelism(project):
    project.pipefile("[settings]\njobs = 1\n\n" + EXCLUSIVE)
    assert_ran(project.run(), ["t1", "t2", "t3", "t4"])
    check_never_overlapped(project, ["t1", "t2", "t3", "t4"])


def test_after_orders_tasks_without_a_file_between_them(project):
    project.pipefile(
        """\
        [tasks.first]
        cmd = "sleep 0.1; echo first >> order.txt"

        [tasks.second]
        cmd = "echo second >> order.txt"
        after = ["first"]
        """
    )
    assert_ran(project.run("-j4"), ["first", "second"])
    assert project.read("order.txt") == "first\nsecond\n"


def test_a_failure_starts_nothing_new_and_running_tasks_finish(project):
    project.pipefile(FAILING)
    result = project.run("-j2")
    assert result.returncode == 1, result
    # slow was running when bad failed: it finished; nothing started after the failure
    assert result.ran() == ["slow"]
    assert project.exists("slow.txt")
    assert not project.exists("down.txt")
    assert not project.exists("later.txt")
    summary = result.stdout[result.stdout.index("dagmake: 1 ran") :].splitlines()
    assert summary[0].startswith("dagmake: 1 ran, 0 up to date, 1 failed in "), result
    assert summary[1] == "dagmake: first failure: bad (exit 3), log .dagmake/logs/bad.log"
    assert summary[2].startswith("dagmake: not started: ")
    assert sorted(summary[2].split(": ", 2)[2].split(", ")) == ["down", "later"]


def test_keep_going_runs_everything_not_downstream_of_the_failure(project):
    project.pipefile(FAILING)
    result = project.run("-j2", "-k")
    assert result.returncode == 1, result
    assert sorted(result.ran()) == ["later", "slow"]
    assert not project.exists("down.txt")
    assert "dagmake: first failure: bad (exit 3), log .dagmake/logs/bad.log" in result.stdout
    assert "dagmake: not started: down\n" in result.stdout


def test_keep_going_with_two_failures_names_the_first(project):
    project.pipefile(
        f"""\
        [tasks.one]
        cmd = "exit 4"

        [tasks.two]
        cmd = "{sh_wait_for(".dagmake/logs/one.log")}; sleep 0.3; exit 5"
        """
    )
    result = project.run("-k", "-j2")
    assert result.returncode == 1, result
    assert "FAILED one (exit 4" in result.stdout
    assert "FAILED two (exit 5" in result.stdout
    assert "dagmake: first failure: one (exit 4)" in result.stdout
    assert "0 ran, 0 up to date, 2 failed" in result.stdout


def test_after_a_failure_the_next_run_resumes_where_it_stopped(project):
    project.pipefile(FAILING.replace("exit 3", "test -e fixed.flag && touch bad.txt"))
    result = project.run("-j2", "-k")
    assert result.returncode == 1, result
    assert sorted(result.ran()) == ["later", "slow"]
    project.write("fixed.flag")
    assert_ran(project.run("-j2"), ["bad", "down"])


def test_more_jobs_than_open_files_allow_run_fewer_at_once_and_all_succeed(project):
    # Each running task holds three files open; at `ulimit -n 120` only 24 fit beside
    # dagmake's own. Asking for 40 at once must not run out of descriptors mid-build.
    import resource
    import subprocess

    from conftest import dagmake_command

    project.write(
        "Pipefile.toml",
        "\n".join(
            f'[tasks.t{i}]\ncmd = "echo start; sleep 0.3; touch o{i}"\noutputs = ["o{i}"]\n'
            for i in range(40)
        ),
    )

    def low_limit():
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (120, hard))

    completed = subprocess.run(
        [*dagmake_command(), "-j", "40"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=low_limit,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    assert "running at most 24 tasks at once, not 40" in completed.stderr
    assert all((project.root / f"o{i}").exists() for i in range(40))


def test_the_default_jobs_are_the_cpus_dagmake_may_run_on(project):
    # as `taskset -c 0 dagmake` or a container's cpuset limits them, not every CPU present
    project.pipefile(EXCLUSIVE)
    one_cpu = (
        "import os, sys; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    command = dagmake_command()
    if command[0] != sys.executable:
        command = [sys.executable, *command]  # (the launcher is a Python script)
    completed = subprocess.run(
        [sys.executable, "-c", one_cpu, *command, "--json"],
        cwd=project.root,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    started = json.loads(completed.stdout.splitlines()[0])
    assert started["jobs"] == 1, started
    check_never_overlapped(project, ["t1", "t2", "t3", "t4"])
