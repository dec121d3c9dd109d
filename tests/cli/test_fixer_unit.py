"""The fixer's mechanics on hand-made findings (independent of the analysis)."""

from __future__ import annotations

from pathlib import Path

from xentguard.fixer import apply_fixes, fix_source, write_atomic
from xentguard.static.findings import Finding, Fix, TextEdit


def finding(*edits: TextEdit, imports: tuple[tuple[str, str], ...] = ()) -> Finding:
    return Finding("XG101", edits[0].line, edits[0].col, edits[0].end_line, edits[0].end_col, "XG101 x",
                   "m.py", (), Fix("fix", edits, imports))


def test_right_to_left_and_overlap_skipped() -> None:
    source = "a = f(g(x))\nb = h(y)\n"
    first = finding(TextEdit(1, 4, 1, 11, "x"))
    overlapping = finding(TextEdit(1, 6, 1, 10, "x"))
    second = finding(TextEdit(2, 4, 2, 8, "y"))
    text, applied = apply_fixes(source, [first, overlapping, second])
    assert text == "a = x\nb = y\n"
    assert applied == [first, second]


def test_bad_positions_are_skipped() -> None:
    source = "a = 1\n"
    bad = [finding(TextEdit(1, 4, 1, 99, "2")), finding(TextEdit(9, 0, 9, 1, ""))]
    text, applied = apply_fixes(source, bad)
    assert (text, applied) == (source, [])


def test_imports_added_with_alias() -> None:
    source = "import torch\n\nx = torch.log(p)\n"
    fix = finding(TextEdit(3, 4, 3, 16, "F.log_softmax(q, 1)"), imports=(("torch.nn", "functional as F"),))
    text, _ = apply_fixes(source, [fix])
    assert "from torch.nn import functional as F\n" in text
    assert text.endswith("x = F.log_softmax(q, 1)\n")


def test_fix_that_breaks_syntax_leaves_source() -> None:
    source = "x = f(a)\n"
    outcome = fix_source(source, lambda s: [finding(TextEdit(1, 4, 1, 8, "f(("))] if s == source else [])
    assert outcome.source == source and not outcome.fixed
    assert outcome.error and "would not parse" in outcome.error


def test_passes_until_nothing_fixable() -> None:
    calls: list[str] = []

    def analyze(s: str) -> list[Finding]:
        calls.append(s)
        if "g(" in s:
            return [finding(TextEdit(1, s.index("g("), 1, s.index("g(") + 4, "x"))]
        return []

    outcome = fix_source("a = g(x) + g(x)\n", analyze)
    assert outcome.source == "a = x + x\n" and len(outcome.fixed) == 2


def test_write_atomic(tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    target.write_text("old\n")
    write_atomic(str(target), "new\n", "utf-8")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]
