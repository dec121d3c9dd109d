"""Multi-file fixture projects: findings across modules and calls, through real flake8
and through ``xentguard check``; both must report exactly the inline expectations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.static.expectations import Expectation, expectations
from tests.static.test_fixtures_flake8 import reported

PROJECTS = sorted(p for p in (FIXTURES / "projects").iterdir() if p.is_dir() and any(p.rglob("*.py")))


def expected_in(project: Path) -> set[Expectation]:
    found = set()
    for path in project.rglob("*.py"):
        for _, line, col, code in expectations(path):
            found.add((os.path.relpath(path, project), line, col, code))
    return found


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_flake8_over_a_project(project: Path, jobs: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "XG", "--jobs", jobs, "."],
        cwd=project, capture_output=True, text=True, check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    found = {(os.path.normpath(p), line, col, code) for p, line, col, code in reported(result.stdout)}
    assert found == expected_in(project)


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_cli_over_a_project(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "xentguard", "check", "--format", "json", "."],
        cwd=project, capture_output=True, text=True, check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    items = json.loads(result.stdout)
    found = {
        (os.path.normpath(item["path"]), item["line"], item["col"], item["code"])
        for item in items
        if not item["path"].endswith(".ipynb")
    }
    assert found == expected_in(project)


def test_notebook_importing_a_project_module() -> None:
    project = FIXTURES / "projects" / "notebook_import"
    result = subprocess.run(
        [sys.executable, "-m", "xentguard", "check", "--format", "json", "."],
        cwd=project, capture_output=True, text=True, check=False,
    )
    items = [item for item in json.loads(result.stdout) if item["path"].endswith(".ipynb")]
    assert [(item["code"], item["cell"], item["line"]) for item in items] == [("XG106", 3, 2)]
    assert "nets.py" in items[0]["message"]
