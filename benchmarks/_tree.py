"""Running another checkout's xentguard: ``python -m xentguard`` with that tree first on the path.

    tree_env(tree) -> {"PYTHONPATH": ...}     added to the environment of each run
    imported_from(tree, env) -> Path          where that environment imports xentguard from (checked)
    commit_of(tree) -> str                    the tree's short commit, for the report

Shared by the benchmarks that compare checkouts (``cli_vs_ruff.py``, ``realworld_survey.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def tree_env(tree: Path) -> dict[str, str]:
    """The environment that makes ``python -m xentguard`` import the package in ``tree``.

    Run from a directory without a ``xentguard`` folder (``-m`` puts the working directory
    first on ``sys.path``); an editable install elsewhere comes after ``PYTHONPATH``."""
    rest = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": os.pathsep.join([str(tree), rest]) if rest else str(tree)}


def imported_from(tree: Path, env: dict[str, str]) -> Path:
    """The package ``env`` imports; exits when it is not the one in ``tree``."""
    proc = subprocess.run(
        [sys.executable, "-c", "import xentguard; print(xentguard.__file__)"],
        env={**os.environ, **env}, cwd=tree, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"cannot import xentguard from {tree}: {proc.stderr.strip()[-300:]}")
    where = Path(proc.stdout.strip()).resolve().parent
    if tree.resolve() not in where.parents:
        raise SystemExit(f"xentguard is imported from {where}, not from {tree}")
    return where


def commit_of(tree: Path) -> str:
    proc = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() or "no git commit"
