"""``--select`` / ``--ignore`` prefixes and ``[tool.xentguard]`` in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BAD, run_cli, run_json, write

MIXED = """\
import torch
import torch.nn.functional as F


def step(out, y, t):
    a = F.cross_entropy(F.softmax(out, dim=1), y)
    b = F.nll_loss(F.softmax(out, dim=1), y)
    c = F.binary_cross_entropy(torch.sigmoid(out), t)
    return a + b + c
"""


def codes(*args: str, cwd: Path) -> list[str]:
    _, data = run_json(*args, cwd=cwd)
    return sorted(item["code"] for item in data)


def test_defaults_leave_xg107_off(project: Path) -> None:
    write(project / "m.py", MIXED)
    assert codes("m.py", cwd=project) == ["XG101", "XG103"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--select", "XG107"], ["XG107"]),
        (["--select", "XG101,XG107"], ["XG101", "XG107"]),
        (["--extend-select", "XG107"], ["XG101", "XG103", "XG107"]),
        (["--select", "XG1"], ["XG101", "XG103"]),  # a shorter prefix does not turn XG107 on
        (["--ignore", "XG10"], []),
        (["--ignore", "XG101"], ["XG103"]),
        (["--select", "XG103", "--ignore", "XG1"], ["XG103"]),  # the longer prefix wins
        (["--select", "XG1", "--ignore", "XG103"], ["XG101"]),
        (["--select", "xg101"], ["XG101"]),
    ],
)
def test_select_ignore(project: Path, args: list[str], expected: list[str]) -> None:
    write(project / "m.py", MIXED)
    assert codes(*args, "m.py", cwd=project) == expected


def test_pyproject_config_found_walking_up(project: Path) -> None:
    write(
        project / "pyproject.toml",
        '[project]\nname = "demo"\n\n[tool.xentguard]\nselect = ["XG1"]\nextend-select = ["XG107"]\n'
        'ignore = ["XG101"]\nexclude = ["generated/*", "scratch"]\n\n'
        '[tool.xentguard.per-file-ignores]\n"tests/*" = ["XG103"]\n',
    )
    write(project / "src" / "m.py", MIXED)
    write(project / "tests" / "t.py", MIXED)
    write(project / "generated" / "g.py", BAD)
    write(project / "scratch" / "s.py", BAD)
    sub = project / "src"
    assert codes(".", cwd=sub) == ["XG103", "XG107"]
    _, data = run_json(".", cwd=project)
    by_path = sorted((d["path"], d["code"]) for d in data)
    assert by_path == [
        ("src/m.py", "XG103"), ("src/m.py", "XG107"), ("tests/t.py", "XG107"),
    ]
    # the command line replaces the config's select/ignore
    assert codes("--select", "XG101", "--ignore", "XG107", "src/m.py", cwd=project) == ["XG101"]
    # an explicitly named file is checked even when excluded
    assert codes("generated/g.py", cwd=project) == []  # XG101 is ignored by the config
    assert codes("--isolated", "generated/g.py", cwd=project) == ["XG101"]


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ('selct = ["XG1"]', "unknown key(s) in [tool.xentguard]: selct"),
        ('select = ["XG3"]', "'XG3'"),
        ('ignore = "XG1X"', "'XG1X'"),
        ('select = [1]', "'select' must be a list of strings"),
        ('[tool.xentguard.per-file-ignores]\n"a.py" = ["E501"]', "'E501'"),
    ],
)
def test_config_errors_exit_2(project: Path, table: str, needle: str) -> None:
    header = "" if table.startswith("[tool") else "[tool.xentguard]\n"
    write(project / "pyproject.toml", f"{header}{table}\n")
    write(project / "m.py", BAD)
    proc = run_cli("check", "m.py", cwd=project)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("xentguard: error: ") and proc.stderr.count("\n") == 1
    assert needle in proc.stderr, proc.stderr
    assert "pyproject.toml" in proc.stderr


def test_invalid_toml_exit_2(project: Path) -> None:
    write(project / "pyproject.toml", "[tool.xentguard\n")
    write(project / "m.py", BAD)
    proc = run_cli("check", "m.py", cwd=project)
    assert proc.returncode == 2 and "invalid TOML" in proc.stderr


def test_explicit_config_option(project: Path, tmp_path: Path) -> None:
    write(project / "m.py", MIXED)
    cfg = write(tmp_path / "other" / "pyproject.toml", '[tool.xentguard]\nselect = ["XG103"]\n')
    assert codes("--config", str(cfg), "m.py", cwd=project) == ["XG103"]
