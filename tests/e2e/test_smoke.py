"""The example pipeline builds end to end, then has nothing to do."""

import shutil
from pathlib import Path

from conftest import Project, assert_nothing_ran, assert_ran

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "etl"
TASKS = [
    "extract_users",
    "extract_orders",
    "clean_users",
    "clean_orders",
    "join_data",
    "upload_to_warehouse",
]


def test_example_builds_then_no_work(tmp_path):
    shutil.copytree(
        EXAMPLE, tmp_path / "etl", ignore=shutil.ignore_patterns("data", "warehouse", ".dagmake")
    )
    project = Project(tmp_path / "etl")
    assert_ran(project.run(), TASKS)
    assert project.exists("warehouse/warehouse.db")
    assert_nothing_ran(project.run())


def test_touching_an_export_reruns_exactly_its_chain(tmp_path):
    shutil.copytree(
        EXAMPLE, tmp_path / "etl", ignore=shutil.ignore_patterns("data", "warehouse", ".dagmake")
    )
    project = Project(tmp_path / "etl")
    assert_ran(project.run(), TASKS)
    project.make_newer("exports/users.csv", than="warehouse/warehouse.db")
    assert_ran(project.run(), ["extract_users", "clean_users", "join_data", "upload_to_warehouse"])
