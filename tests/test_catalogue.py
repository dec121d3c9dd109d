"""The catalogue is the single source of truth: unique, complete, and equal to the README."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from xentguard.catalogue import DEFAULT_OFF, RULES, Half, readme_table, rule
from xentguard.static import analyze_source

STATIC_RULES = [r for r in RULES.values() if r.half is not Half.RUNTIME and r.code != "XG999"]


def test_codes_and_names_are_unique_and_well_formed() -> None:
    names = [r.name for r in RULES.values()]
    assert len(set(names)) == len(names)
    for code, r in RULES.items():
        assert code == r.code
        assert re.fullmatch(r"XG\d{3}", code)
        assert re.fullmatch(r"[a-z0-9-]+", r.name)
        assert r.why and r.instead and r.wrong and r.right and r.summary


def test_readme_rule_table_is_the_catalogue() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme


def test_only_xg107_is_off_by_default() -> None:
    assert DEFAULT_OFF == ("XG107",)


def test_unknown_rule_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="XG101"):
        rule("XG000")


@pytest.mark.parametrize("r", STATIC_RULES, ids=lambda r: r.code)
def test_wrong_example_is_flagged_and_right_example_is_not(r) -> None:  # type: ignore[no-untyped-def]
    wrong = {f.code for f in analyze_source(r.wrong, "wrong.py")}
    right = {f.code for f in analyze_source(r.right, "right.py")}
    assert r.code in wrong
    assert r.code not in right


@pytest.mark.parametrize("r", STATIC_RULES, ids=lambda r: r.code)
def test_messages_start_with_their_code(r) -> None:  # type: ignore[no-untyped-def]
    findings = [f for f in analyze_source(r.wrong, "wrong.py") if f.code == r.code]
    assert findings and all(f.message.startswith(f"{r.code} ") for f in findings)
