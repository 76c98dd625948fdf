"""`dagmake -n`: one line per stale task with the spec's reason; runs nothing, changes nothing."""

import os

from conftest import T0, Project, assert_ran

PIPEFILE = """\
[tasks.extract]
cmd = "cp export.csv raw.csv"
inputs = ["export.csv"]
outputs = ["raw.csv"]

[tasks.clean]
cmd = "cp raw.csv clean.csv"
inputs = ["raw.csv"]
outputs = ["clean.csv"]

[tasks.report]
cmd = "cp clean.csv report.txt; test ! -e fail.flag"
inputs = ["clean.csv"]
outputs = ["report.txt"]

[tasks.side]
cmd = "cp side_in.txt side.txt"
inputs = ["side_in.txt"]
outputs = ["side.txt"]
"""
OUTPUTS = ["raw.csv", "clean.csv", "report.txt", "side.txt"]


def pipeline(project: Project) -> None:
    project.pipefile(PIPEFILE)
    project.write("export.csv", "id\n1\n", ns=T0)
    project.write("side_in.txt", "s\n", ns=T0)


def dry_run(project: Project, *args: str) -> list[str]:
    result = project.run("-n", *args)
    assert result.returncode == 0, result
    assert result.stderr == "", result
    return sorted(result.stdout.splitlines())


def state_files(project: Project) -> dict[str, tuple[bytes, int]]:
    """Every file under .dagmake/ with its bytes and time."""
    found = {}
    for directory, _, names in os.walk(project.path(".dagmake")):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, project.root)] = (f.read(), os.stat(path).st_mtime_ns)
    return found


def test_fresh_project_every_output_missing_and_nothing_created(project):
    pipeline(project)
    before = sorted(os.listdir(project.root))
    assert dry_run(project) == [
        "clean: output clean.csv is missing",
        "extract: output raw.csv is missing",
        "report: output report.txt is missing",
        "side: output side.txt is missing",
    ]
    assert sorted(os.listdir(project.root)) == before
    assert not project.exists(".dagmake")


def test_lines_are_in_an_order_a_build_could_run(project):
    pipeline(project)
    lines = project.run("-n").stdout.splitlines()
    names = [line.split(":", 1)[0] for line in lines]
    assert names.index("extract") < names.index("clean") < names.index("report")


def test_up_to_date_says_no_work_to_do(project):
    pipeline(project)
    assert_ran(project.run(), ["extract", "clean", "report", "side"])
    result = project.run("-n")
    assert result.returncode == 0, result
    assert result.stdout == "dagmake: no work to do (4 up to date)\n"


def test_input_newer_and_upstream_will_run(project):
    pipeline(project)
    assert_ran(project.run(), ["extract", "clean", "report", "side"])
    project.make_newer("export.csv", than="report.txt")
    assert dry_run(project) == [
        "clean: upstream task extract will run",
        "extract: input export.csv is newer than output raw.csv",
        "report: upstream task clean will run",
    ]


def test_forced_reasons(project):
    pipeline(project)
    assert_ran(project.run(), ["extract", "clean", "report", "side"])
    assert dry_run(project, "--force", "clean") == [
        "clean: forced (--force)",
        "report: upstream task clean will run",
    ]
    assert dry_run(project, "-B", "side") == ["side: forced (-B)"]


def test_last_run_failed_and_definition_changed(project):
    pipeline(project)
    project.write("fail.flag")
    result = project.run("-k")
    assert result.returncode == 1, result
    project.path("fail.flag").unlink()
    project.pipefile(PIPEFILE.replace("cp side_in.txt side.txt", "cp -f side_in.txt side.txt"))
    assert dry_run(project) == [
        "report: its last run failed",
        "side: its command changed since its last successful run",
    ]


def test_always_and_no_outputs(project):
    project.pipefile(
        """\
        [tasks.fetch]
        cmd = "touch fetched"
        outputs = ["fetched"]
        always = true

        [tasks.check]
        cmd = "true"
        """
    )
    assert dry_run(project) == [
        "check: it has no outputs, so it always runs",
        "fetch: always = true",
    ]


def test_dry_run_on_a_built_project_changes_no_byte_of_the_state(project):
    pipeline(project)
    project.write("fail.flag")
    assert project.run("-k").returncode == 1
    before = state_files(project)
    outputs_before = {name: project.mtime(name) for name in OUTPUTS}
    # stale for many reasons, and a Pipefile the parse cache has not seen
    project.path("fail.flag").unlink()
    project.make_newer("side_in.txt", than="side.txt")
    project.pipefile(PIPEFILE.replace("cp raw.csv clean.csv", "cp -f raw.csv clean.csv"))
    for args in (["-n"], ["-n", "-B"], ["-n", "--force", "side"], ["--dry-run", "-v"]):
        result = project.run(*args)
        assert result.returncode == 0, result
        assert result.stdout.strip(), result
    assert state_files(project) == before
    assert {name: project.mtime(name) for name in OUTPUTS} == outputs_before


def test_dry_run_predicts_what_the_build_runs(project):
    pipeline(project)
    assert_ran(project.run(), ["extract", "clean", "report", "side"])
    project.make_newer("raw.csv", than="report.txt", by=1)
    predicted = [line.split(":", 1)[0] for line in project.run("-n").stdout.splitlines()]
    assert sorted(predicted) == ["clean", "report"]
    assert_ran(project.run(), predicted)
