"""Helpers for the CLI tests: every test runs ``python -m xentguard`` in a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
FIXES = REPO_ROOT / "fixtures" / "fixes"

BAD = """\
import torch.nn.functional as F


def step(out, y):
    return F.cross_entropy(F.softmax(out, dim=1), y)
"""

CLEAN = """\
import torch.nn.functional as F


def step(out, y):
    return F.cross_entropy(out, y)
"""


def run_cli(
    *args: str, cwd: Path | str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # Import this checkout, whatever the virtualenv's editable install points at.
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run(
        [sys.executable, "-m", "xentguard", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_json(*args: str, cwd: Path | str | None = None) -> tuple[int, list[dict[str, Any]]]:
    proc = run_cli("check", "--format", "json", *args, cwd=cwd)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def notebook(*cells: str | tuple[str, str], **extra: Any) -> str:
    """nbformat 4 JSON; a plain string is a code cell, ("markdown", text) another kind."""
    out = []
    for cell in cells:
        kind, text = ("code", cell) if isinstance(cell, str) else cell
        entry: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
        if kind == "code":
            entry.update(execution_count=None, outputs=[])
        out.append(entry)
    doc = {"cells": out, "metadata": extra.get("metadata", {}), "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(doc, indent=1)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty directory with a pyproject.toml, so configs above tmp_path never apply."""
    write(tmp_path / "pyproject.toml", "[project]\nname = 'demo'\n")
    return tmp_path
