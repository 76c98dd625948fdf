"""Glob inputs: edges to producers, new matching files, and {{inputs}} in the shell."""

import os

import pytest

from conftest import SECOND, T0, assert_nothing_ran, assert_ran

PIPEFILE = """
[tasks.make_b]
cmd = "echo b > parts/b.csv"
outputs = ["parts/b.csv"]

[tasks.combine]
cmd = "cat {{inputs}} > all.csv"
inputs = ["parts/*.csv"]
outputs = ["all.csv"]
"""


def test_glob_input_depends_on_producer_and_expands_in_the_shell(project):
    project.pipefile(PIPEFILE)
    project.write("parts/a.csv", "a\n", ns=T0)
    result = project.run()
    assert_ran(result, ["make_b", "combine"])
    assert result.stdout.index("make_b") < result.stdout.index("combine")
    assert project.read("all.csv") == "a\nb\n"
    assert_nothing_ran(project.run())


def test_new_file_matching_the_glob_makes_the_task_stale(project):
    project.pipefile(PIPEFILE)
    project.write("parts/a.csv", "a\n", ns=T0)
    assert_ran(project.run(), ["make_b", "combine"])
    # older than the output, so only the recorded stamps can tell it is new
    project.write("parts/c.csv", "c\n", ns=T0)
    dry = project.run("-n")
    assert "combine: input parts/c.csv is new since the last run" in dry.stdout
    assert_ran(project.run(), ["combine"])
    assert project.read("all.csv") == "a\nb\nc\n"


def test_glob_matching_nothing_is_an_error(project):
    project.pipefile(
        """
        [tasks.combine]
        cmd = "cat {{inputs}} > all.csv"
        inputs = ["parts/*.csv"]
        outputs = ["all.csv"]
        """
    )
    result = project.run()
    assert result.returncode == 2
    assert "input glob 'parts/*.csv' matches no file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_glob_matching_only_its_own_tasks_output_says_so(project):
    project.pipefile(
        """
        [tasks.t]
        cmd = "mkdir -p out && cp in.csv out/a.csv"
        inputs = ["*/*.csv", "in.csv"]
        outputs = ["out"]
        """
    )
    project.write("in.csv", "a\n")
    project.write("out/a.csv", "a\n")
    result = project.run()
    assert result.returncode == 2, result
    assert (
        "task 't': input glob '*/*.csv' matches only what the task itself writes (out/a.csv)"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_a_glob_inside_an_output_directory_waits_for_and_follows_its_producer(project):
    project.write("seed.txt", "1")
    project.pipefile(
        """\
        [tasks.gen]
        cmd = "mkdir -p parts && for i in 1 2 3; do cat seed.txt > parts/p$i.csv; done"
        inputs = ["seed.txt"]
        outputs = ["parts"]

        [tasks.join]
        cmd = "cat parts/*.csv > joined.csv"
        inputs = ["parts/*.csv"]
        outputs = ["joined.csv"]
        """
    )
    result = project.run("-j2")
    assert result.returncode == 0, result
    assert result.ran() == ["gen", "join"]
    assert project.read("joined.csv") == "111"
    assert_nothing_ran(project.run())
    project.write("seed.txt", "2", ns=T0 + 100 * SECOND)
    result = project.run("-j2")
    assert result.ran() == ["gen", "join"]
    assert project.read("joined.csv") == "222"


def test_a_recursive_glob_ignores_what_its_task_wrote_into_its_own_output_directory(project):
    project.write("src/a.txt", "1")
    project.pipefile(
        """\
        [tasks.copy]
        cmd = "mkdir -p out && cp src/*.txt out/"
        inputs = ["**/*.txt"]
        outputs = ["out"]
        """
    )
    assert project.run().ran() == ["copy"]
    assert project.read("out/a.txt") == "1"
    assert_nothing_ran(project.run())
    project.write("src/b.txt", "2", ns=T0 + 100 * SECOND)
    assert project.run().ran() == ["copy"]
    assert_nothing_ran(project.run())


RECURSIVE_AFTER = """\
[tasks.parts]
cmd = "mkdir -p parts && echo {{what}} > parts/a.{{ext}}"
outputs = ["parts"]

[tasks.rglob]
cmd = "cat {{inputs}} > rglob.txt"
inputs = ["**/*.csv"]
outputs = ["rglob.txt"]
after = ["parts"]

[vars]
what = "1"
ext = "csv"
"""


def test_a_glob_that_only_an_after_task_can_feed_waits_for_it_on_a_fresh_checkout(project):
    # `**/*.csv` makes no edge to `parts` (it may be a file); `after` orders them, and the
    # glob may match nothing until `parts` has run
    project.pipefile(RECURSIVE_AFTER)
    dry = project.run("-n")
    assert dry.returncode == 0, dry
    assert dry.stdout == "parts: output parts is missing\nrglob: output rglob.txt is missing\n"
    result = project.run()
    assert_ran(result, ["parts", "rglob"])
    assert project.read("rglob.txt") == "1\n"
    assert_nothing_ran(project.run())


def test_a_glob_still_matching_nothing_once_its_after_tasks_ran_fails_its_task(project):
    project.pipefile(RECURSIVE_AFTER)
    result = project.run("ext=txt")
    assert result.returncode == 1, result
    assert "input glob '**/*.csv' matches no file" in result.stdout
    assert project.exists("parts/a.txt")  # `parts` ran first
    assert not project.exists("rglob.txt")


def test_a_glob_matching_nothing_where_no_after_task_writes_is_still_an_error(project):
    project.pipefile(RECURSIVE_AFTER.replace('"**/*.csv"', '"data/**/*.csv"'))
    result = project.run()
    assert result.returncode == 2, result
    assert "input glob 'data/**/*.csv' matches no file" in result.stderr
    assert not project.exists("parts")  # nothing ran


def test_a_glob_inside_an_output_directory_that_its_producer_left_empty_fails_its_task(project):
    # `parts/*.csv` lies in `parts`, so the plan cannot call it empty; once `split` ran
    # and wrote no .csv, the command must not run with the pattern itself
    project.pipefile(
        """\
        [tasks.split]
        cmd = "mkdir -p parts && echo 1 > parts/a.txt"
        outputs = ["parts"]

        [tasks.merge]
        cmd = "cat {{inputs}} > merged.txt"
        inputs = ["parts/*.csv"]
        outputs = ["merged.txt"]
        """
    )
    result = project.run()
    assert result.returncode == 1, result
    assert "input glob 'parts/*.csv' matches no file, also now that the tasks" in result.stdout
    assert project.exists("parts/a.txt")
    assert not project.exists("merged.txt")


def test_a_top_level_glob_is_not_waited_for_because_of_an_after_task_writing_a_directory(
    project,
):
    # `*.csv` cannot reach into `parts/`: still an error before anything runs
    project.pipefile(RECURSIVE_AFTER.replace('"**/*.csv"', '"*.csv"'))
    result = project.run()
    assert result.returncode == 2, result
    assert "input glob '*.csv' matches no file" in result.stderr
    assert not project.exists("parts")


def test_a_recursive_glob_gives_the_command_every_matching_file_at_any_depth(project):
    # sh would read `**` as `*` and find only data/x/b.csv; each file is one word
    for path in ("data/a.csv", "data/x/b.csv", "data/x/y z/c.csv", "data/x/$it's.csv"):
        project.write(path, path)
    project.write("data/x/skip.txt", "no")
    project.pipefile(
        """\
        [tasks.list]
        cmd = "printf '%s\\\\n' {{inputs}} > list.txt"
        inputs = ["data/**/*.csv", "other.txt"]
        outputs = ["list.txt"]
        """
    )
    project.write("other.txt", "o")
    assert_ran(project.run(), ["list"])
    assert project.read("list.txt").splitlines() == [
        "data/a.csv",
        "data/x/$it's.csv",
        "data/x/b.csv",
        "data/x/y z/c.csv",
        "other.txt",
    ]
    assert_nothing_ran(project.run())
    # the next build reads the Pipefile from its cache: the glob must still expand
    project.write("data/x/new/d.csv", "d", ns=T0 + 100 * SECOND)
    assert_ran(project.run(), ["list"])
    assert "data/x/new/d.csv" in project.read("list.txt").splitlines()
    assert len(project.read("list.txt").splitlines()) == 6


def test_a_glob_in_a_task_cwd_expands_relative_to_it(project):
    project.write("data/a.csv", "a\n")
    project.write("data/deep/b.csv", "b\n")
    project.pipefile(
        """\
        [tasks.cat]
        cmd = "cat {{inputs}} > ../all.csv"
        cwd = "work"
        inputs = ["data/**/*.csv"]
        outputs = ["all.csv"]
        """
    )
    project.write("work/.keep", "")
    assert_ran(project.run(), ["cat"])
    assert project.read("all.csv") == "a\nb\n"


def test_a_failing_command_is_named_with_its_glob_as_written(project):
    project.write("data/a.csv", "a")
    project.pipefile(
        """\
        [tasks.check]
        cmd = ["test -n {{inputs}}", "test -z {{inputs}}"]
        inputs = ["data/**/*.csv"]
        """
    )
    result = project.run()
    assert result.returncode == 1, result
    assert "command 2 of 2 failed (exit 1): test -z data/**/*.csv" in result.stdout


def test_a_glob_matching_only_directories_says_so_and_how_to_reach_their_files(project):
    project.write("dirs/d1/f.csv", "f")
    project.path("dirs/d2").mkdir()
    project.pipefile(
        """\
        [tasks.a]
        cmd = "cat {{inputs}} > o"
        inputs = ["dirs/d*"]
        outputs = ["o"]
        """
    )
    result = project.run()
    assert result.returncode == 2, result
    assert "input glob 'dirs/d*' matches no file and no task's output" in result.stderr
    assert "it matches directories (dirs/d1, dirs/d2)" in result.stderr
    assert "'dirs/d*/**'" in result.stderr
    # the glob the hint suggests works
    project.pipefile(project.read("Pipefile.toml").replace('"dirs/d*"', '"dirs/d*/**"'))
    assert_ran(project.run(), ["a"])
    assert project.read("o") == "f"


def _many_files(project, directory, count):
    # long names: together they pass Linux's 128 KiB limit on one argument (sh -c ...)
    for i in range(count):
        project.write(
            f"{directory}/a_rather_long_file_name_to_fill_the_command_{i:05d}.csv", f"{i}\n"
        )


def test_a_glob_matching_thousands_of_files_still_reaches_the_command(project):
    _many_files(project, "data/two/deep", 3000)  # where sh's `**` (read as `*`) cannot reach
    project.pipefile(
        """\
        [tasks.all]
        cmd = "cat {{inputs}} > all.txt"
        inputs = ["data/**/*.csv"]
        outputs = ["all.txt"]
        """
    )
    assert_ran(project.run(), ["all"])
    assert sorted(map(int, project.read("all.txt").split())) == list(range(3000))


def test_a_large_glob_beside_a_recursive_one_loses_no_file(project):
    _many_files(project, "big", 3000)
    project.write("small/top.csv", "top\n")
    project.write("small/deep/er/n.csv", "deep\n")
    project.pipefile(
        """\
        [tasks.all]
        cmd = "cat {{inputs}} > all.txt"
        inputs = ["big/*.csv", "small/**/*.csv"]
        outputs = ["all.txt"]
        """
    )
    assert_ran(project.run(), ["all"])
    words = project.read("all.txt").split()
    assert len(words) == 3002 and "deep" in words and "top" in words


def test_a_large_glob_means_the_same_inside_functions_after_set_and_twice(project):
    """The files are written into the command (from a script file when that is long),
    never passed as "$@", which a function or `set --` would change."""
    _many_files(project, "d", 3000)
    project.pipefile(
        """\
        [tasks.all]
        cmd = [
            "count() { printf '%s\\n' {{inputs}} | wc -l; }; count > n.txt",
            "set -- -e; printf '%s\\n' {{inputs}} | wc -l >> n.txt",
            "printf '%s\\n' {{inputs}} {{inputs}} | wc -l >> n.txt",
        ]
        inputs = ["d/*.csv"]
        outputs = ["n.txt"]
        """
    )
    assert_ran(project.run(), ["all"])
    assert project.read("n.txt").split() == ["3000", "3000", "6000"]
    assert_nothing_ran(project.run())


@pytest.mark.parametrize("count", [1, 3000], ids=["short command", "long command"])
def test_a_file_name_that_is_not_utf8_reaches_the_command_as_its_bytes(project, count):
    _many_files(project, "d", count - 1)
    project.path("d").mkdir(exist_ok=True)
    with open(os.path.join(os.fsencode(project.path("d")), b"bad\xff.csv"), "w") as file:
        file.write("bad\n")
    project.pipefile(
        """\
        [tasks.all]
        cmd = "for f in {{inputs}}; do echo \\"$f\\"; done > names.txt"
        inputs = ["d/*.csv"]
        outputs = ["names.txt"]
        """
    )
    result = project.run()
    assert_ran(result, ["all"])
    with open(project.path("names.txt"), "rb") as file:
        names = file.read().splitlines()
    assert b"d/bad\xff.csv" in names and len(names) == count


def test_the_files_a_task_wrote_into_its_own_output_directory_are_not_in_its_inputs(project):
    project.write("src/a.c", "a")
    project.pipefile(
        """\
        [tasks.c]
        cmd = ["printf '%s\\n' {{inputs}} > list.txt", "mkdir -p gen && touch gen/x.c"]
        inputs = ["**/*.c"]
        outputs = ["gen", "list.txt"]
        """
    )
    assert_ran(project.run(), ["c"])
    assert_ran(project.run("--force", "c"), ["c"])
    assert project.read("list.txt").splitlines() == ["src/a.c"]


def test_a_link_that_leads_nowhere_is_no_file_for_a_glob(project):
    project.write("d/a.txt", "a\n")
    os.symlink("nowhere", project.path("d/dangling.txt"))
    project.pipefile(
        """\
        [tasks.c]
        cmd = "cat {{inputs}} > c.txt"
        inputs = ["d/*.txt"]
        outputs = ["c.txt"]
        """
    )
    assert_ran(project.run(), ["c"])
    assert project.read("c.txt") == "a\n"
    assert_nothing_ran(project.run())


def test_a_file_name_with_an_escape_sequence_is_shown_escaped(project):
    project.write("data/esc\x1b[31mred.txt", "x")
    project.pipefile(
        """\
        [tasks.c]
        cmd = "cat {{inputs}} > c.txt"
        inputs = ["data/*.txt"]
        outputs = ["c.txt"]
        """
    )
    assert_ran(project.run(), ["c"])
    project.write("data/esc\x1b[31mred.txt", "y", ns=T0 + 10**6 * SECOND)
    dry = project.run("-n")
    assert dry.stdout == "c: input data/esc\\x1b[31mred.txt changed since the last run\n"


def test_a_long_list_of_inputs_written_out_runs_like_a_glob(project):
    # 2,500 names of ~80 bytes: over the 128 KiB one argument may have
    names = [f"many/{'f' * 70}_{i:05}.txt" for i in range(2500)]
    for name in names[:3]:
        project.write(name, "x\n")
    for name in names[3:]:
        project.path(name).touch()
    listed = ", ".join(f'"{name}"' for name in names)
    project.pipefile(
        f"""\
        [tasks.lit]
        cmd = "cat {{{{inputs}}}} | wc -l > {{{{outputs}}}}; echo $0 > zero.txt"
        inputs = [{listed}]
        outputs = ["n.txt"]
        """
    )
    assert_ran(project.run(), ["lit"])
    assert project.read("n.txt").strip() == "3"
    assert project.read("zero.txt").strip() == "/bin/sh"  # $0 as with any command
    assert_nothing_ran(project.run())
