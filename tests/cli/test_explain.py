"""``xentguard explain``: the rule's page from the catalogue."""

from __future__ import annotations

import pytest
from conftest import run_cli

from xentguard.catalogue import RULES


@pytest.mark.parametrize("code", ["XG101", "XG107", "xg105"])
def test_explain_prints_why_wrong_right(code: str) -> None:
    rule = RULES[code.upper()]
    proc = run_cli("explain", code)
    assert proc.returncode == 0
    out = proc.stdout
    assert out.startswith(f"{rule.code} {rule.name}\n")
    assert " ".join(rule.why.split()) in " ".join(out.split())
    for example in (rule.wrong, rule.right):
        for line in example.strip().splitlines():
            assert line.strip() in out
    assert out.index("Wrong") < out.index("Right")
    if not rule.default_enabled:
        assert "off by default" in out


def test_explain_unknown_code() -> None:
    proc = run_cli("explain", "XG777")
    assert proc.returncode == 2
    assert proc.stderr.startswith("xentguard: error: unknown rule 'XG777'")


def test_explain_lists_rules() -> None:
    proc = run_cli("explain")
    assert proc.returncode == 0
    assert [line.split()[0] for line in proc.stdout.splitlines()] == list(RULES)
