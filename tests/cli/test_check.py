"""``xentguard check``: text output, exit codes, discovery, output options."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import BAD, CLEAN, REPO_ROOT, run_cli, write


def test_clean_file_exits_0(project: Path) -> None:
    write(project / "ok.py", CLEAN)
    proc = run_cli("check", "ok.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


def test_finding_text_format_like_flake8(project: Path) -> None:
    write(project / "bad.py", BAD)
    proc = run_cli("check", "bad.py", cwd=project)
    assert proc.returncode == 1
    # col is 1-based as flake8 prints it: F.softmax starts at 0-based col 27
    expected = "bad.py:5:28: XG101 F.cross_entropy applies log_softmax itself"
    assert proc.stdout.startswith(expected), proc.stdout
    assert proc.stdout.count("\n") == 1


def test_exit_zero_and_output_file(project: Path) -> None:
    write(project / "bad.py", BAD)
    proc = run_cli("check", "--exit-zero", "-o", "report.txt", "bad.py", cwd=project)
    assert proc.returncode == 0
    assert proc.stdout == ""
    assert "XG101" in (project / "report.txt").read_text()


def test_statistics(project: Path) -> None:
    write(project / "a.py", BAD)
    write(project / "b.py", BAD)
    proc = run_cli("check", "--statistics", ".", cwd=project)
    assert proc.returncode == 1
    assert "2     XG101 probabilities-into-cross-entropy" in proc.stdout


def test_directory_recursion_and_skipped_dirs(project: Path) -> None:
    write(project / "pkg" / "deep" / "m.py", BAD)
    write(project / "nb" / "n.ipynb", '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    for skipped in (".git", "build", "dist", "node_modules", ".tox", "__pycache__", "x.egg-info", ".venv"):
        write(project / skipped / "bad.py", BAD)
    write(project / "myenv" / "pyvenv.cfg", "home = /usr\n")
    write(project / "myenv" / "lib" / "bad.py", BAD)
    write(project / "notes.txt", BAD)
    proc = run_cli("check", ".", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [line for line in proc.stdout.splitlines() if line.startswith("pkg/")]
    assert len(proc.stdout.splitlines()) == 1


def test_explicit_file_in_skipped_dir_is_checked(project: Path) -> None:
    write(project / "build" / "gen.py", BAD)
    proc = run_cli("check", "build/gen.py", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout.startswith("build/gen.py:5:28: XG101")


def test_usage_errors_exit_2_with_one_line(project: Path) -> None:
    for args in (["check", "--format", "xml", "."], ["check", "--select", "XG9X", "."], ["nonsense"],
                 ["check", "--jobs", "0", "."]):
        proc = run_cli(*args, cwd=project)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("xentguard: error: "), proc.stderr
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert "Traceback" not in proc.stderr


def test_parallel_output_is_deterministic(project: Path) -> None:
    for i in range(60):
        write(project / f"pkg{i % 3}" / f"m{i:02d}.py", BAD if i % 2 else CLEAN)
    serial = run_cli("check", "--jobs", "1", ".", cwd=project)
    parallel = run_cli("check", "--jobs", "4", ".", cwd=project)
    assert serial.returncode == parallel.returncode == 1
    assert serial.stdout == parallel.stdout
    lines = serial.stdout.splitlines()
    assert len(lines) == 30 and lines == sorted(lines)


HUB = """import torch.nn.functional as F


def run(loss_fn, scores, target):
    return loss_fn(F.softmax(scores, dim=1), target)
"""

HUB_USER = """from a_hub import run as run_a
from z_hub import run as run_z
import torch.nn.functional as F


def step(scores, target):
    run_a(F.cross_entropy, scores, target)
    run_z(F.nll_loss, scores, target)
"""


def test_findings_made_by_importer_walks_do_not_depend_on_the_worker(project: Path) -> None:
    # Two modules whose findings come from walking the same 12 importers: checking the
    # second one may be handed to the worker that walked them for the first (cli.parallel).
    # Each finding names one caller, the same whichever worker walked which caller first
    # (12: every caller is walked in its own context; past 16 a function is walked once for
    # all further callers, and which ones got a context depends on the order).
    write(project / "a_hub.py", HUB)
    write(project / "z_hub.py", HUB)
    for i in range(12):
        write(project / f"m{i:02d}.py", HUB_USER)
    serial = run_cli("check", "--jobs", "1", ".", cwd=project)
    for jobs in ("2", "3"):
        parallel = run_cli("check", "--jobs", jobs, ".", cwd=project)
        assert parallel.stdout == serial.stdout, jobs
    found = {line.split(":")[0] + " " + line.split()[1] for line in serial.stdout.splitlines()}
    assert found == {"a_hub.py XG101", "z_hub.py XG103"}, serial.stdout


def test_check_does_not_import_torch(project: Path) -> None:
    write(project / "bad.py", BAD)
    code = (
        "import sys; from xentguard.cli import main; rc = main(['check', '--jobs', '1', 'bad.py']);"
        "assert 'torch' not in sys.modules, 'torch imported'; main(['explain', 'XG101']);"
        "assert 'torch' not in sys.modules; raise SystemExit(rc)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "XG101" in proc.stdout


def test_version_and_help() -> None:
    assert run_cli("--version").stdout.startswith("xentguard ")
    proc = run_cli("check", "--help")
    assert proc.returncode == 0 and "--select" in proc.stdout
