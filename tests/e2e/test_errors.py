"""Load and usage errors: a short `dagmake:` message naming the place, exit 2, no traceback."""

import os
import re
import signal

import pytest

from conftest import Project


def assert_user_error(result, *expected: str) -> str:
    """Exit 2, nothing on stdout, one or two lines on stderr starting `dagmake:`; return line 1."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.output, result
    assert result.stdout == "", result
    lines = result.stderr.splitlines()
    assert 1 <= len(lines) <= 2, result
    assert lines[0].startswith("dagmake: "), result
    if len(lines) == 2:
        assert lines[1].startswith("  hint: "), result
    for text in expected:
        assert text in result.stderr, result
    return lines[0]


CASES = {
    "toml-syntax": (
        """\
        [tasks.a]
        cmd = "echo"
        outputs = [x]
        """,
        ["Pipefile.toml:3:12: invalid TOML"],
    ),
    "unknown-task-key": (
        """\
        [tasks.a]
        cmd = "echo"
        input = ["x"]
        """,
        ["Pipefile.toml:3:", "task 'a'", "unknown key 'input', did you mean 'inputs'?"],
    ),
    "unknown-top-key": (
        """\
        [tasks.a]
        cmd = "echo"

        [setings]
        jobs = 2
        """,
        ["Pipefile.toml:4:", "unknown key 'setings', did you mean 'settings'?"],
    ),
    "unknown-settings-key": (
        """\
        [settings]
        jobz = 2

        [tasks.a]
        cmd = "echo"
        """,
        ["Pipefile.toml:2:", "unknown key 'jobz', did you mean 'jobs'?"],
    ),
    "wrong-type-list": (
        """\
        [tasks.a]
        cmd = "echo"
        inputs = "x.txt"
        """,
        ["Pipefile.toml:3:", "task 'a'", "'inputs' must be a list", 'inputs = ["x.txt"]'],
    ),
    "wrong-type-number": (
        """\
        [tasks.a]
        cmd = "echo"
        retries = "2"
        """,
        ["Pipefile.toml:3:", "task 'a'", "'retries' must be a whole number", "not a string"],
    ),
    "wrong-type-bool": (
        """\
        [tasks.a]
        cmd = "echo"
        always = "yes"
        """,
        ["Pipefile.toml:3:", "task 'a'", "'always' must be true or false"],
    ),
    "cmd-and-python": (
        """\
        [tasks.a]
        cmd = "echo"
        python = "mod:fn"
        """,
        ["task 'a'", "both 'cmd' and 'python'"],
    ),
    "unknown-placeholder": (
        """\
        [vars]
        raw = "data"

        [tasks.a]
        cmd = "ls {{rwa}}"
        """,
        ["task 'a'", "unknown placeholder '{{rwa}}' in 'cmd'", "did you mean 'raw'"],
    ),
    "duplicate-output": (
        """\
        [tasks.first]
        cmd = "touch out.txt"
        outputs = ["out.txt"]

        [tasks.second]
        cmd = "touch out.txt"
        outputs = ["out.txt"]
        """,
        ["output 'out.txt' is declared by both 'first' and 'second'"],
    ),
    "unknown-after": (
        """\
        [tasks.extract]
        cmd = "true"

        [tasks.load]
        cmd = "true"
        after = ["extrcat"]
        """,
        ["Pipefile.toml:6:", "task 'load'", "unknown task 'extrcat', did you mean 'extract'?"],
    ),
    "glob-matches-nothing": (
        """\
        [tasks.a]
        cmd = "cat data/*.csv > all.csv"
        inputs = ["data/*.csv"]
        outputs = ["all.csv"]
        """,
        ["task 'a'", "input glob 'data/*.csv' matches no file and no task's output"],
    ),
    "output-is-a-glob": (
        """\
        [tasks.a]
        cmd = "true"
        outputs = ["out/*.txt"]
        """,
        ["task 'a'", "output 'out/*.txt' is a glob"],
    ),
    "output-outside": (
        """\
        [tasks.a]
        cmd = "true"
        outputs = ["../escape.txt"]
        """,
        ["task 'a'", "outside the project"],
    ),
    "no-tasks": ('[vars]\nx = "1"\n', ["no tasks defined"]),
    "timeout-nan": (
        """\
        [tasks.a]
        cmd = "touch ran.txt"
        timeout = nan
        """,
        ["Pipefile.toml:3:", "task 'a'", "'timeout' must be a finite number of seconds, not nan"],
    ),
    "timeout-inf": (
        """\
        [tasks.a]
        cmd = "touch ran.txt"
        timeout = inf
        """,
        ["Pipefile.toml:3:", "task 'a'", "'timeout' must be a finite number of seconds, not inf"],
    ),
    "retry-delay-nan": (  # it used to retry in a busy loop forever
        """\
        [tasks.a]
        cmd = "touch ran.txt; false"
        retries = 1
        retry_delay = nan
        """,
        ["Pipefile.toml:4:", "task 'a'", "'retry_delay' must be a finite number of seconds"],
    ),
    "retry-delay-inf": (
        """\
        [tasks.a]
        cmd = "touch ran.txt; false"
        retries = 1
        retry_delay = inf
        """,
        ["Pipefile.toml:4:", "task 'a'", "'retry_delay' must be a finite number of seconds"],
    ),
    "env-name-empty": (
        """\
        [tasks.a]
        cmd = "touch ran.txt"
        env = { "" = "x" }
        """,
        ["Pipefile.toml:3:", "task 'a'", "invalid environment variable name '' in 'env'"],
    ),
    "env-name-with-equals": (
        """\
        [env]
        "A=B" = "x"

        [tasks.a]
        cmd = "touch ran.txt"
        """,
        ["Pipefile.toml:2:", "invalid environment variable name 'A=B' in [env]", "'='"],
    ),
    "nul-in-cmd": (
        """\
        [tasks.a]
        cmd = "touch ran.txt a\\u0000b"
        """,
        ["Pipefile.toml:2:", "task 'a'", "'cmd' contains a NUL character"],
    ),
    "nul-in-output": (
        """\
        [tasks.a]
        cmd = "touch ran.txt"
        outputs = ["out\\u0000.txt"]
        """,
        ["Pipefile.toml:3:", "task 'a'", "'outputs' contains a NUL character"],
    ),
    "nul-in-env": (
        """\
        [tasks.a]
        cmd = "touch ran.txt"
        env = { A = "\\u0000" }
        """,
        ["Pipefile.toml:3:", "task 'a'", "'env.A' contains a NUL character"],
    ),
    "output-is-the-pipefile": (
        """\
        [tasks.a]
        cmd = "touch ran.txt"
        outputs = ["Pipefile.toml"]
        """,
        ["Pipefile.toml:3:", "task 'a'", "output 'Pipefile.toml' is the Pipefile itself"],
    ),
    "output-in-the-state-directory": (
        """\
        [tasks.a]
        cmd = "touch ran.txt"
        outputs = [".dagmake"]
        """,
        ["Pipefile.toml:3:", "task 'a'", "output '.dagmake' is inside .dagmake/"],
    ),
    "empty-cmd": (
        """\
        [tasks.a]
        cmd = "  "
        """,
        ["Pipefile.toml:2:", "task 'a'", "'cmd' is empty", "remove 'cmd'"],
    ),
    "empty-command-in-a-list": (
        """\
        [tasks.a]
        cmd = ["touch ran.txt", ""]
        """,
        ["Pipefile.toml:2:", "task 'a'", "command 2 of 'cmd' is empty"],
    ),
    "cmd-a-var-makes-empty": (
        """\
        [vars]
        step = ""

        [tasks.a]
        cmd = "{{step}}"
        """,
        ["Pipefile.toml:5:", "task 'a'", "'cmd' is empty once its placeholders are filled in"],
    ),
    "task-name-too-long": (  # its log's file name would be too long: it failed at run time
        f"""\
        [tasks.{"n" * 300}]
        cmd = "touch ran.txt"
        """,
        ["Pipefile.toml:1:", "task name is 300 characters long, more than the 200 allowed"],
    ),
    "outputs-placeholder-in-outputs": (
        """\
        [tasks.a]
        cmd = "touch ran.txt"
        outputs = ["{{outputs}}"]
        """,
        ["Pipefile.toml:3:", "task 'a'", "only available in 'cmd' and 'env'"],
    ),
    "synonym-of-a-key": (
        """\
        [tasks.a]
        cmd = "touch ran.txt"
        environment = { A = "1" }
        """,
        ["Pipefile.toml:3:", "task 'a'", "unknown key 'environment', did you mean 'env'?"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_pipefile_errors(project, case):
    text, expected = CASES[case]
    project.pipefile(text)
    assert_user_error(project.run(), *expected)
    # the checking commands report the same error
    assert_user_error(project.run("-n"), *expected)
    # found at load time: nothing ran
    assert not project.exists("ran.txt")


@pytest.mark.parametrize("name", ["inputs", "outputs", "task"])
def test_overriding_a_built_in_placeholder_on_the_command_line(project, name):
    project.pipefile(
        """\
        [vars]
        dest = "{{inputs}}.copy"

        [tasks.a]
        cmd = "touch ran.txt"
        """
    )
    assert_user_error(
        project.run(f"{name}=x.txt"),
        f"'{name}' is a built-in placeholder and cannot be set on the command line",
    )
    assert not project.exists("ran.txt")


def test_a_timeout_too_long_for_poll_still_runs(project):
    # 3,000,000 s is more milliseconds than poll() takes: it must wait in steps, not crash
    project.pipefile(
        """\
        [tasks.a]
        cmd = "touch ran.txt"
        timeout = 3000000

        [tasks.b]
        cmd = "true"
        timeout = 1e300
        """
    )
    result = project.run()
    assert result.returncode == 0, result
    assert "Traceback" not in result.output, result
    assert project.exists("ran.txt")


def test_a_retry_delay_too_long_to_sleep_waits_until_interrupted(project):
    from background import Background
    from conftest import wait_until

    project.pipefile(
        """\
        [tasks.a]
        cmd = "false"
        retries = 1
        retry_delay = 1e300
        """
    )
    build = Background(project)
    try:
        assert wait_until(lambda: "retrying in" in build.output or build.process.poll() is not None)
        build.send(signal.SIGINT)
        assert build.wait() == 130, build.output
    finally:
        build.stop()
    assert "attempt 1/2 failed: exit 1; retrying in 1e+300 s" in build.output
    assert "Traceback" not in build.output, build.output


def test_more_retries_than_a_float_can_double(project):
    # 2**1024 does not fit a float: the backoff of the 1026th attempt used to raise
    project.pipefile(
        """\
        [tasks.a]
        cmd = "false"
        retries = 1030
        retry_delay = 0
        """
    )
    result = project.run("-q")
    assert result.returncode == 1, result
    assert "Traceback" not in result.output, result
    assert "--- dagmake: attempt 1031 ---" in project.read(".dagmake/logs/a.log")


def test_a_cycle_is_listed_as_data_flows(project):
    project.pipefile(
        """\
        [tasks.a]
        cmd = "cp c.txt a.txt"
        inputs = ["c.txt"]
        outputs = ["a.txt"]

        [tasks.b]
        cmd = "cp a.txt b.txt"
        inputs = ["a.txt"]
        outputs = ["b.txt"]

        [tasks.c]
        cmd = "cp b.txt c.txt"
        inputs = ["b.txt"]
        outputs = ["c.txt"]
        """
    )
    line = assert_user_error(project.run(), "dependency cycle: ")
    # b reads a, c reads b, a reads c
    assert line.endswith("dependency cycle: a -> b -> c -> a"), line


def test_a_cycle_through_after(project):
    project.pipefile(
        """\
        [tasks.x]
        cmd = "true"
        after = ["y"]

        [tasks.y]
        cmd = "true"
        after = ["x"]
        """
    )
    line = assert_user_error(project.run(), "dependency cycle: ")
    assert line.endswith("dependency cycle: x -> y -> x") or line.endswith("y -> x -> y"), line


def test_a_missing_input_stops_the_build_before_any_task_runs(project):
    project.pipefile(
        """\
        [tasks.marker]
        cmd = "touch marker.txt"
        outputs = ["marker.txt"]

        [tasks.needs]
        cmd = "cp nothere.txt out.txt"
        inputs = ["nothere.txt"]
        outputs = ["out.txt"]
        """
    )
    assert_user_error(
        project.run(), "task 'needs'", "input 'nothere.txt' does not exist and no task produces it"
    )
    assert not project.exists("marker.txt")
    assert not project.exists(".dagmake/logs")


def test_a_missing_input_of_an_unselected_task_does_not_matter(project):
    project.pipefile(
        """\
        [tasks.marker]
        cmd = "touch marker.txt"
        outputs = ["marker.txt"]

        [tasks.needs]
        cmd = "cp nothere.txt out.txt"
        inputs = ["nothere.txt"]
        outputs = ["out.txt"]
        """
    )
    assert project.run("marker").returncode == 0
    assert project.exists("marker.txt")


def test_file_option_naming_a_missing_file(project):
    assert_user_error(project.run("-f", "nope.toml"), "nope.toml")


def test_file_option_naming_a_directory_takes_its_pipefile_never_a_parents(project):
    project.pipefile('[tasks.parent]\ncmd = "touch parent.txt"\noutputs = ["parent.txt"]\n')
    project.write("sub/Pipefile.toml", '[tasks.inner]\ncmd = "touch inner.txt"\n')
    project.path("empty").mkdir()
    result = project.run("-f", "sub")
    assert result.returncode == 0, result
    assert project.exists("sub/inner.txt") and not project.exists("parent.txt")
    first = assert_user_error(project.run("-f", "empty"), "hint: -f names a Pipefile")
    assert first == "dagmake: -f empty: a directory with no Pipefile.toml in it"
    assert_user_error(project.run("-f", "empty", "-l"), "a directory with no Pipefile.toml")
    assert not project.exists("parent.txt")


def test_file_option_naming_a_pipefile_that_cannot_be_used_says_why(project):
    project.path("sub1/Pipefile.toml").mkdir(parents=True)
    project.path("sub2").mkdir()
    os.symlink("nowhere.toml", project.path("sub2/Pipefile.toml"))
    first = assert_user_error(project.run("-f", "sub1"), "make it a file")
    assert first == "dagmake: sub1/Pipefile.toml is a directory"
    first = assert_user_error(project.run("-f", "sub1/Pipefile.toml"), "a directory")
    assert first == "dagmake: -f sub1/Pipefile.toml: a directory, not a Pipefile"
    first = assert_user_error(project.run("-f", "sub2"), "make it a file")
    assert first == "dagmake: sub2/Pipefile.toml is a link to nowhere.toml, which leads to no file"
    assert assert_user_error(project.run("-f", ""), "hint") == "dagmake: -f needs a path"


def test_directory_option_naming_a_missing_directory(project):
    assert_user_error(project.run("-C", "nodir"), "nodir")


def test_no_pipefile_anywhere_up(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = Project(empty).run()
    if (tmp_path.parent / "Pipefile.toml").exists():  # pragma: no cover - odd machine
        pytest.skip("a Pipefile.toml above the temporary directory")
    assert_user_error(result, "no Pipefile.toml in")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--bogus"], ["unknown option '--bogus'"]),
        (["--jbos", "2"], ["unknown option '--jbos'", "did you mean '--jobs'"]),
        (["-j", "0"], ["--jobs needs a whole number of at least 1"]),
        (["-j", "many"], ["--jobs", "'many'"]),
        (["--retries", "-1"], ["--retries"]),
        (["--graph=png"], ["--graph", "png"]),
        (["-j"], ["'-j' needs a value"]),
    ],
)
def test_bad_options(project, args, expected):
    project.pipefile('[tasks.a]\ncmd = "touch ran.txt"\n')
    assert_user_error(project.run(*args), *expected)
    assert not project.exists("ran.txt")


def test_an_error_names_the_pipefile_given_with_f(project):
    project.write("pipes/other.toml", '[tasks.a]\ncmd = "echo"\nouptuts = ["x"]\n')
    line = assert_user_error(project.run("-f", "pipes/other.toml"), "did you mean 'outputs'")
    assert re.match(r"dagmake: \S*pipes/other\.toml:3: ", line), line


def test_missing_input_names_the_line_and_list_still_shows_the_tasks(project):
    project.pipefile(
        """
        [tasks.first]
        cmd = "true"

        [tasks.second]
        cmd = "cp nowhere.csv out.csv"
        inputs = ["nowhere.csv"]
        outputs = ["out.csv"]
        """
    )
    result = project.run()
    assert result.returncode == 2
    assert "Pipefile.toml:7: task 'second': input 'nowhere.csv' does not exist" in result.stderr
    listing = project.run("-l")
    assert listing.returncode == 0, listing
    assert "second" in listing.stdout and "stale" in listing.stdout
    graph = project.run("--graph")
    assert graph.returncode == 0 and '"second"' in graph.stdout


def test_an_override_of_an_unknown_var_is_a_usage_error(project):
    project.pipefile(
        """\
        [vars]
        environment = "dev"

        [tasks.a]
        cmd = "echo {{environment}} > {{outputs}}"
        outputs = ["a.txt"]
        """
    )
    result = project.run("enviroment=prod")
    assert result.returncode == 2, result
    assert "has no var 'enviroment'" in result.stderr
    assert "did you mean 'environment'?" in result.stderr
    assert "./" not in result.stderr  # a misspelt var, not a file name
    assert not project.exists("a.txt")


def test_a_target_with_an_equals_sign_is_shown_how_to_name_it(project):
    project.pipefile(
        """\
        [tasks.a]
        cmd = "touch 'x=1.csv'"
        outputs = ["x=1.csv"]
        """
    )
    result = project.run("x=1.csv")
    assert result.returncode == 2, result
    assert "a target with '=' in it is written ./x=1.csv" in result.stderr
    assert project.run("./x=1.csv").returncode == 0
    assert project.exists("x=1.csv")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("mode={{nope}}", "dagmake: 'mode={{nope}}': unknown placeholder '{{nope}}'"),
        (
            "mode={{mode}}",
            "dagmake: 'mode={{mode}}': vars refer to each other in a cycle: mode -> mode",
        ),
        (
            "mode={{other}}",
            "dagmake: 'mode={{other}}': vars refer to each other in a cycle: mode -> other -> mode",
        ),
    ],
)
def test_a_faulty_override_is_blamed_on_the_command_line_not_the_pipefile(
    project, override, message
):
    project.pipefile('[vars]\nmode = "a"\nother = "{{mode}}"\n[tasks.a]\ncmd = "echo {{other}}"\n')
    first = assert_user_error(project.run("-n", override))
    assert first == message


def test_clean_never_deletes_the_pipefile_or_the_state(project):
    for output in ("Pipefile.toml", ".dagmake"):
        project.pipefile(f'[tasks.a]\ncmd = "true"\noutputs = ["{output}"]\n')
        project.write(".dagmake/keep")
        assert_user_error(project.run("--clean"), "task 'a'", f"output '{output}' is")
        assert project.exists("Pipefile.toml")
        assert project.exists(".dagmake/keep")


def test_a_pipefile_with_a_byte_order_mark_runs(project):
    # as Notepad and other Windows editors save UTF-8
    project.path("Pipefile.toml").write_bytes(
        b'\xef\xbb\xbf[tasks.a]\ncmd = "echo hi > a.txt"\noutputs = ["a.txt"]\n'
    )
    result = project.run()
    assert result.returncode == 0, result
    assert project.read("a.txt") == "hi\n"
    assert project.run().ran() == []  # and from the parse cache, still up to date


def test_a_backwards_range_in_an_input_glob_is_a_load_error_with_its_line(project):
    project.pipefile(
        """\
        [tasks.a]
        cmd = "touch a.out"
        inputs = ["data/[z-a].csv"]
        outputs = ["a.out"]
        """
    )
    for args in ((), ("-n",), ("-l",)):
        first = assert_user_error(project.run(*args), "hint: write a range from low to high")
        assert first == (
            "dagmake: Pipefile.toml:3: task 'a': input glob 'data/[z-a].csv': "
            "the character range 'z-a' is backwards"
        )


def test_vars_that_double_each_other_are_a_load_error_not_a_memory_error(project):
    doubling = [f'v{i} = "{{{{v{i - 1}}}}}{{{{v{i - 1}}}}}"' for i in range(1, 41)]
    project.pipefile(
        "\n".join(["[vars]", 'v0 = "xxxxxxxxxx"', *doubling, "[tasks.a]", 'cmd = "echo {{v40}}"'])
    )
    # 10 bytes doubled 40 times is 10 TiB: the error comes long before memory runs out
    first = assert_user_error(project.run("-n"), "hint: check the [vars] it uses")
    assert first == (
        "dagmake: Pipefile.toml:19: 'vars.v17' grows past 1 MiB once its placeholders are filled in"
    )


@pytest.mark.parametrize("path", ["~/.bashrc", "$HOME/data.csv"])
def test_a_missing_input_written_with_tilde_or_a_variable_says_they_are_not_expanded(project, path):
    project.pipefile(f'[tasks.b]\ncmd = "true"\ninputs = ["{path}"]\n')
    result = project.run()
    assert_user_error(result, f"input '{path}' does not exist")
    assert "dagmake does not expand ~ or $VARIABLES in paths" in result.stderr


def test_a_missing_input_spelt_like_a_file_beside_it_or_an_output_gets_a_suggestion(project):
    project.write("data/users.csv", "u\n")
    project.pipefile(
        """\
        [tasks.make]
        cmd = "touch report.csv"
        outputs = ["report.csv"]

        [tasks.a]
        cmd = "touch data/userz.csv"
        inputs = ["data/user.csv", "reports.csv"]
        outputs = ["data/userz.csv"]
        """
    )
    result = project.run("-n")
    assert result.returncode == 2, result
    assert "input 'data/user.csv' does not exist and no task produces it, did you mean" in (
        result.stderr
    )
    assert "'data/users.csv'?" in result.stderr
    assert "userz" not in result.stderr  # not the task's own output
