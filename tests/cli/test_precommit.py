"""The ``xentguard`` pre-commit hook, for real: ``pre-commit try-repo`` against this checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BAD, REPO_ROOT, notebook, write

pytestmark = pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit is not installed")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _hook_repo(tmp_path: Path) -> Path:
    """This checkout, or, when parts of it are not committed yet, a snapshot of its working tree.

    ``pre-commit try-repo`` only sees tracked files; files not yet added to git (say, a new
    hook definition under review) would be missing from its shadow copy.
    """
    untracked = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "--", ".pre-commit-hooks.yaml", "xentguard",
         "pyproject.toml"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    if not untracked:
        return REPO_ROOT
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    snapshot = tmp_path / "checkout"
    for name in filter(None, files):
        source = REPO_ROOT / name
        if source.is_file():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / name)
    _git(snapshot, "init", "-q")
    _git(snapshot, "add", "-A")
    identity = ["-c", "user.name=xentguard tests", "-c", "user.email=tests@invalid"]
    _git(snapshot, *identity, "commit", "-qm", "snapshot")
    return snapshot


def test_try_repo_hook_fails_on_bad_file(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    write(repo / "train.py", BAD)
    write(repo / "ok.py", "x = 1\n")
    write(repo / "nb.ipynb", notebook("import torch.nn.functional as F\n",
                                      "def f(o, y):\n    return F.nll_loss(F.softmax(o, dim=1), y)\n"))
    _git(repo, "add", ".")
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "cache"), PRE_COMMIT_COLOR="never")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        ["pre-commit", "try-repo", str(_hook_repo(tmp_path)), "xentguard", "--all-files", "--verbose"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "train.py:5:28: XG101" in out, out
    assert "nb.ipynb:cell 2:2:23: XG103" in out, out
    assert "Traceback" not in out
