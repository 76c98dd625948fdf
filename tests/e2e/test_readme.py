"""The README's first pipeline does what the README shows, on the example it points to."""

import os
import shutil
from pathlib import Path

from conftest import SECOND, Project, assert_nothing_ran, assert_ran

REPOSITORY = Path(__file__).parents[2]


def test_the_first_pipeline_of_the_readme_runs_as_shown_on_examples_etl(tmp_path):
    readme = (REPOSITORY / "README.md").read_text()
    pipefile = readme.split("```toml\n# Pipefile.toml\n", 1)[1].split("```", 1)[0]
    shown = readme.split("```console\n$ dagmake\n", 1)[1].split("```", 1)[0]
    root = tmp_path / "etl"
    shutil.copytree(
        REPOSITORY / "examples" / "etl", root, ignore=shutil.ignore_patterns("data", ".dagmake")
    )
    (root / "Pipefile.toml").write_text(pipefile)
    project = Project(root)
    first = project.run()
    assert_ran(first, ["extract_users", "clean_users"])
    # the task output lines the README shows (the timings differ)
    printed = [line for line in shown.splitlines() if line.startswith(("extract_", "clean_"))]
    for line in printed[:2]:
        assert line in first.stdout.splitlines(), (line, first.stdout)
    assert_nothing_ran(project.run())
    newer = (root / "data" / "raw" / "users.csv").stat().st_mtime_ns + SECOND
    os.utime(root / "exports" / "users.csv", ns=(newer, newer))  # the README's `touch`
    assert (
        project.run("-n").stdout.splitlines()
        == [
            line
            for line in shown.splitlines()
            if line.startswith(("extract_users:", "clean_users:"))
        ][-2:]
    )
