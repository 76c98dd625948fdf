"""Retries with backoff, timeouts that kill the whole process group, [vars], [env], cwd, quoting."""

import os
import subprocess

import pytest

from conftest import (
    T0,
    assert_nothing_ran,
    assert_ran,
    dagmake_command,
    process_gone,
    wait_until,
)

FLAKY = """\
[tasks.flaky]
# fails on its first two attempts, counting them in a file
cmd = ["echo attempt >> attempts.txt", "n=$(wc -l < attempts.txt); echo try $n; test $n -ge 3",
       "touch flaky.txt"]
outputs = ["flaky.txt"]
retries = 2
retry_delay = 0.01
"""


def test_a_flaky_task_succeeds_on_its_third_attempt(project):
    project.pipefile(FLAKY)
    result = project.run()
    assert_ran(result, ["flaky"])
    assert project.read("attempts.txt") == "attempt\n" * 3
    lines = result.stdout.splitlines()
    assert lines[0] == "flaky: attempt 1/3 failed: exit 1; retrying in 0.01 s"
    assert lines[1] == "flaky: attempt 2/3 failed: exit 1; retrying in 0.02 s"
    assert "after 3 attempts" in lines[2]
    # every attempt is in the log
    log = project.read(".dagmake/logs/flaky.log")
    assert "try 1" in log and "try 2" in log and "try 3" in log
    assert_nothing_ran(project.run())


def test_retries_option_overrides_the_pipefile(project):
    project.pipefile(FLAKY)
    result = project.run("--retries", "0")
    assert result.returncode == 1, result
    assert project.read("attempts.txt") == "attempt\n"
    assert "attempt 1/" not in result.stdout
    assert "FAILED flaky (exit 1" in result.stdout
    # and the other way: more retries than the Pipefile gives
    project.path("attempts.txt").unlink()
    project.pipefile(FLAKY.replace("retries = 2", "retries = 0"))
    assert_ran(project.run("--retries", "5"), ["flaky"])
    assert project.read("attempts.txt") == "attempt\n" * 3


def test_a_task_that_fails_every_attempt(project):
    project.pipefile(FLAKY.replace("test $n -ge 3", "test $n -ge 9"))
    result = project.run()
    assert result.returncode == 1, result
    assert project.read("attempts.txt") == "attempt\n" * 3
    assert "FAILED flaky (exit 1" in result.stdout
    assert "dagmake: first failure: flaky (exit 1)" in result.stdout


def test_a_timeout_kills_the_whole_process_group(project):
    project.pipefile(
        """\
        [tasks.hang]
        cmd = "sh -c 'sleep 30 & echo $! > sleeper.pid; wait'"
        outputs = ["hang.txt"]
        timeout = 1
        """
    )
    result = project.run(timeout=25)
    assert result.returncode == 1, result
    assert "FAILED hang (timed out after 1 s" in result.stdout
    assert "dagmake: first failure: hang (timed out after 1 s)" in result.stdout
    sleeper = int(project.read("sleeper.pid"))
    # the grandchild, not only the shell dagmake started
    assert wait_until(lambda: process_gone(sleeper), timeout=5), f"pid {sleeper} survived"


@pytest.mark.slow  # SIGKILL comes after a grace period of about two seconds
def test_a_timeout_that_ignores_sigterm_is_killed(project):
    project.pipefile(
        """\
        [tasks.stubborn]
        cmd = "trap '' TERM; echo $$ > shell.pid; while :; do sleep 0.05; done"
        timeout = 0.5
        """
    )
    result = project.run(timeout=25)
    assert result.returncode == 1, result
    assert "timed out" in result.stdout
    shell = int(project.read("shell.pid"))
    assert wait_until(lambda: process_gone(shell), timeout=5), f"pid {shell} survived"


def test_a_timed_out_attempt_is_retried(project):
    project.pipefile(
        """\
        [tasks.slow_once]
        # hangs on its first attempt only
        cmd = "if [ ! -e once ]; then touch once; sleep 30; fi; touch done.txt"
        outputs = ["done.txt"]
        timeout = 0.5
        retries = 1
        retry_delay = 0
        """
    )
    result = project.run(timeout=25)
    assert_ran(result, ["slow_once"])
    assert "slow_once: attempt 1/2 failed: timed out after 0.5 s" in result.stdout


VARS = """\
[vars]
greeting = "hello"
dir = "out"

[tasks.greet]
cmd = "echo {{greeting}} > {{outputs}}"
outputs = ["{{dir}}/greeting.txt"]
"""


def test_vars_fill_commands_and_paths(project):
    project.pipefile(VARS)
    project.path("out").mkdir()
    assert_ran(project.run(), ["greet"])
    assert project.read("out/greeting.txt") == "hello\n"


def test_a_command_line_var_override_changes_the_command_and_reruns(project):
    project.pipefile(VARS)
    project.path("out").mkdir()
    assert_ran(project.run(), ["greet"])
    result = project.run("-n", "greeting=bye")
    assert result.stdout == "greet: its command changed since its last successful run\n"
    assert_ran(project.run("greeting=bye"), ["greet"])
    assert project.read("out/greeting.txt") == "bye\n"
    assert_nothing_ran(project.run("greeting=bye"))
    assert_ran(project.run(), ["greet"])
    assert project.read("out/greeting.txt") == "hello\n"


def test_an_override_with_spaces_and_a_target(project):
    project.pipefile(VARS + '\n[tasks.other]\ncmd = "touch other.txt"\noutputs = ["other.txt"]\n')
    project.path("out").mkdir()
    assert_ran(project.run("greet", "greeting=good day"), ["greet"])
    assert project.read("out/greeting.txt") == "good day\n"
    assert not project.exists("other.txt")


def test_a_var_named_with_a_dash_or_a_leading_digit_can_be_overridden(project):
    project.pipefile(
        """\
        [vars]
        my-var = "a"
        1x = "b"

        [tasks.t]
        cmd = "echo {{my-var}} {{1x}} > t.txt"
        outputs = ["t.txt"]
        """
    )
    assert_ran(project.run("my-var=A", "1x=B"), ["t"])
    assert project.read("t.txt") == "A B\n"


def test_an_override_of_a_path_var(project):
    project.pipefile(VARS)
    project.path("elsewhere").mkdir()
    assert_ran(project.run("dir=elsewhere"), ["greet"])
    assert project.read("elsewhere/greeting.txt") == "hello\n"
    assert not project.exists("out/greeting.txt")


def test_env_global_and_per_task(project):
    project.pipefile(
        """\
        [vars]
        level = "debug"

        [env]
        SHARED = "from-env-table"
        MODE = "global"

        [tasks.show]
        cmd = 'echo "$SHARED $MODE $LEVEL $DAGMAKE_TASK" > env.txt'
        outputs = ["env.txt"]
        env = { MODE = "task", LEVEL = "{{level}}" }

        [tasks.plain]
        cmd = 'echo "$SHARED $MODE" > plain.txt'
        outputs = ["plain.txt"]
        """
    )
    assert_ran(project.run(), ["show", "plain"])
    assert project.read("env.txt") == "from-env-table task debug show\n"
    assert project.read("plain.txt") == "from-env-table global\n"


def test_the_inherited_environment_is_kept(project):
    project.pipefile(
        """[tasks.show]\ncmd = 'echo "$FROM_CALLER" > env.txt'\noutputs = ["env.txt"]\n"""
    )
    assert_ran(project.run(env={"FROM_CALLER": "inherited"}), ["show"])
    assert project.read("env.txt") == "inherited\n"


def test_cwd_is_respected_and_paths_follow_it(project):
    project.pipefile(
        """\
        [tasks.here]
        # {{inputs}} is relative to cwd: ../data/in.txt
        cmd = "pwd > here.txt; cat {{inputs}} > copy.txt"
        inputs = ["data/in.txt"]
        outputs = ["sub/copy.txt", "sub/here.txt"]
        cwd = "sub"
        """
    )
    project.write("data/in.txt", "data\n", ns=T0)
    project.path("sub").mkdir()
    assert_ran(project.run(), ["here"])
    assert os.path.samefile(project.read("sub/here.txt").strip(), project.path("sub"))
    assert project.read("sub/copy.txt") == "data\n"
    assert_nothing_ran(project.run())


def test_a_missing_cwd_fails_the_task(project):
    project.pipefile('[tasks.lost]\ncmd = "true"\ncwd = "nowhere"\n')
    result = project.run()
    assert result.returncode == 1, result
    assert "Traceback" not in result.output
    assert "nowhere" in project.read(".dagmake/logs/lost.log")


def test_placeholders_quote_spaces_quotes_and_unicode(project):
    names = ["my file.txt", 'it\'s "quoted".txt', "données é.txt", "$HOME;rm -rf x.txt"]
    for index, name in enumerate(names):
        project.write(name, f"{index}\n", ns=T0)
    inputs = ", ".join('"' + n.replace("\\", "\\\\").replace('"', '\\"') + '"' for n in names)
    project.pipefile(
        f"""\
        [tasks.gather]
        cmd = "cat {{{{inputs}}}} > {{{{outputs}}}}; echo {{{{task}}}} >> {{{{outputs}}}}"
        inputs = [{inputs}]
        outputs = ["out put ü's.txt"]
        """
    )
    result = project.run()
    assert_ran(result, ["gather"])
    assert project.read("out put ü's.txt") == "0\n1\n2\n3\ngather\n"
    assert_nothing_ran(project.run())


def test_a_task_waiting_to_retry_leaves_its_slot_to_others(project):
    project.pipefile(
        """\
        [tasks.flaky]
        cmd = "if [ -e tried ]; then touch retried flaky.txt; else touch tried; exit 1; fi"
        outputs = ["flaky.txt"]
        retries = 1
        retry_delay = 1.0

        [tasks.other]
        cmd = "[ ! -e retried ] && touch other.txt"
        outputs = ["other.txt"]
        """
    )
    result = project.run("-j1")
    assert result.returncode == 0, result
    # with one slot, other ran during flaky's delay, before its second attempt
    assert result.ran() == ["other", "flaky"]


def test_a_go_template_in_a_command_passes_through(project):
    project.pipefile(
        """\
        [vars]
        out = "report.txt"

        [tasks.a]
        cmd = "printf '%s' '{{.Name}} {{ json .Config }}' > {{out}}"
        outputs = ["{{out}}"]
        """
    )
    result = project.run()
    assert result.returncode == 0, result
    assert project.read("report.txt") == "{{.Name}} {{ json .Config }}"


def test_a_relative_shell_is_the_pipefiles_also_for_a_task_with_its_own_cwd(project):
    shell = project.write("tools/mysh", '#!/bin/sh\necho "mysh: $2"\n')
    shell.chmod(0o755)
    project.write("sub/.keep")
    project.pipefile(
        """\
        [settings]
        shell = "tools/mysh"

        [tasks.here]
        cmd = "echo a; echo b"

        [tasks.there]
        cmd = "echo a; echo b"
        cwd = "sub"
        """
    )
    result = project.run("-j1", "-C", "sub")  # run from elsewhere than the Pipefile's directory
    assert result.returncode == 0, result
    assert result.stdout.count("mysh: echo a; echo b") == 2, result.stdout


def test_every_command_sees_its_working_directory_as_pwd(project):
    # with a shell or without one (a simple command runs directly), and in Python tasks
    project.path("sub").mkdir()
    project.write("pwd_task.py", "import os\ndef main():\n    print(os.environ['PWD'])\n")
    project.pipefile(
        """\
        [tasks.direct]
        cmd = "printenv PWD"
        cwd = "sub"

        [tasks.shell]
        cmd = "printenv PWD;"
        cwd = "sub"

        [tasks.here]
        cmd = "printenv PWD"

        [tasks.py]
        python = "pwd_task:main"
        cwd = "sub"
        """
    )
    elsewhere = project.path("sub")
    completed = subprocess.run(
        [*dagmake_command(), "-C", str(project.root), "-v", "-j1"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "PWD": "/somewhere/else"},
    )
    assert completed.returncode == 0, completed.stderr
    lines = dict(line.split("| ", 1) for line in completed.stdout.splitlines() if "| " in line)
    root = os.path.realpath(project.root)
    assert {name.strip(): value for name, value in lines.items()} == {
        "direct": f"{root}/sub",
        "shell": f"{root}/sub",
        "here": root,
        "py": f"{root}/sub",
    }
