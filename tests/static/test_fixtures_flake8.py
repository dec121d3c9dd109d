"""Every fixture through real flake8 (a subprocess), compared with its inline expectations."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.static.expectations import Expectation, expectations
from xentguard.catalogue import RULES, Half

RULE_FIXTURES = sorted((FIXTURES / "rules").glob("*.py"))
_FLAKE8_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>XG\d+) ")


def run_flake8(paths: list[Path], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--no-show-source", *extra, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def reported(output: str) -> set[Expectation]:
    found = set()
    for line in output.splitlines():
        match = _FLAKE8_LINE.match(line)
        if match:
            found.add((match["path"], int(match["line"]), int(match["col"]), match["code"]))
    return found


@pytest.fixture(scope="module")
def flake8_findings() -> set[Expectation]:
    result = run_flake8(RULE_FIXTURES, "--select", "XG")
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return reported(result.stdout)


@pytest.mark.parametrize("fixture", RULE_FIXTURES, ids=lambda p: p.name)
def test_fixture_matches_expectations(fixture: Path, flake8_findings: set[Expectation]) -> None:
    expected = expectations(fixture)
    actual = {item for item in flake8_findings if item[0] == str(fixture)}
    missing = sorted(expected - actual)
    unexpected = sorted(actual - expected)
    assert not missing and not unexpected, f"missing: {missing}\nunexpected: {unexpected}"


def test_every_static_rule_has_wrong_and_right_fixtures() -> None:
    codes_expected = {item[3] for path in RULE_FIXTURES for item in expectations(path)}
    static_rules = {code for code, rule in RULES.items() if rule.half is not Half.RUNTIME and code != "XG999"}
    assert static_rules <= codes_expected
    for code in static_rules:
        files = [p for p in RULE_FIXTURES if p.name.startswith(code.lower())]
        assert files, f"no fixture file for {code}"
        assert "right code" in files[0].read_text(), f"{files[0].name} has no right-code section"


def test_xg107_is_off_by_default_and_on_when_selected() -> None:
    fixture = FIXTURES / "rules" / "xg107_bce_sigmoid.py"
    default = reported(run_flake8([fixture]).stdout)
    selected = reported(run_flake8([fixture], "--extend-select", "XG107").stdout)
    assert not {f for f in default if f[3] == "XG107"}
    assert {f for f in selected if f[3] == "XG107"} == expectations(fixture)


def test_noqa_and_ignore(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import torch.nn.functional as F\n"
        "a = F.cross_entropy(F.softmax(x, dim=1), y)  # noqa: XG101\n"
        "b = F.cross_entropy(F.softmax(x, dim=1), y)  # noqa: E501\n"
        "c = F.cross_entropy(F.softmax(x, dim=1), y)  # noqa\n"
        "d = F.nll_loss(F.softmax(x, dim=1), y)\n"
    )
    found = reported(run_flake8([bad], "--select", "XG").stdout)
    assert {(f[1], f[3]) for f in found} == {(3, "XG101"), (5, "XG103")}
    ignored = reported(run_flake8([bad], "--select", "XG", "--extend-ignore", "XG103").stdout)
    assert {(f[1], f[3]) for f in ignored} == {(3, "XG101")}
    only = reported(run_flake8([bad], "--select", "XG103").stdout)
    assert {(f[1], f[3]) for f in only} == {(5, "XG103")}


def test_plugin_is_registered_under_xg() -> None:
    result = subprocess.run([sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True, check=True)
    assert "xentguard" in result.stdout


def test_column_agrees_with_pyflakes(tmp_path: Path) -> None:
    """Our column for a name is the column pyflakes gives the same (undefined) name."""
    source = tmp_path / "cols.py"
    source.write_text(
        "import torch.nn.functional as F\n\n\ndef f(y):\n    return F.cross_entropy(probz.softmax(1), y)\n"
    )
    out = run_flake8([source], "--select", "XG,F821").stdout
    cols = {line.split(":")[3].split()[0]: int(line.split(":")[2]) for line in out.splitlines()}
    assert cols["XG101"] == cols["F821"]
