"""Inherited methods walked again for a subclass's constructor literal (static/inherited.py):
each right-code class of the fixtures is silent because of one guard, and is reported
once the code loses that guard, so every guard is shown to matter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from xentguard.static import analyze_source
from xentguard.static.body_facts import compared_subject
from xentguard.static.project import forget_projects

FIXTURE = FIXTURES / "rules" / "reach_inherited_literals.py"
USER_STORE = FIXTURES / "rules" / "reach_inherited_literals_user_store.py"


def _xg106_lines(source: str, tmp_path: Path) -> set[int]:
    path = tmp_path / "case.py"
    path.write_text(source, encoding="utf-8")
    forget_projects()
    try:
        return {f.line for f in analyze_source(source, str(path), isolated=True) if f.code == "XG106"}
    finally:
        forget_projects()


def _step_line(source: str, cls: str) -> int:
    """The line of ``cls.step``'s loss call."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            step = next(m for m in node.body if isinstance(m, ast.FunctionDef) and m.name == "step")
            return step.body[-1].lineno
    raise AssertionError(cls)


def _replaced(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, old
    return source.replace(old, new)


def test_the_wrong_subclass_is_reported_and_no_right_one(tmp_path: Path) -> None:
    source = FIXTURE.read_text(encoding="utf-8")
    assert _xg106_lines(source, tmp_path) == {_step_line(source, "PairScorer")}


@pytest.mark.parametrize(("cls", "old", "new"), [
    # The literal picks the logits loss.
    ("RatingScorer", '        self.score = nn.Linear(8, 1)\n        self.loss_type = "sl"\n',
     '        self.score = nn.Linear(8, 1)\n        self.loss_type = "cl"\n'),
    # The literal stored after the base's constructor, not before it.
    ("EarlyScorer", '        self.loss_type = "cl"\n        super().__init__()\n        self.score = nn.Linear(8, 1)\n',
     '        super().__init__()\n        self.loss_type = "cl"\n        self.score = nn.Linear(8, 1)\n'),
    # No reset() storing the attribute again.
    ("ResetScorer", "    def reset(self):\n        self.loss_type = None\n\n", ""),
    # No setter storing another loss into the attribute prepare() stores.
    ("SettingScorer", "    def use_probabilities(self):\n        self.criterion = nn.BCELoss()\n\n", ""),
])
def test_each_right_subclass_is_reported_without_its_guard(cls: str, old: str, new: str, tmp_path: Path) -> None:
    source = FIXTURE.read_text(encoding="utf-8")
    line = _step_line(source, cls)
    assert line not in _xg106_lines(source, tmp_path)
    mutated = _replaced(source, old, new)
    assert _step_line(mutated, cls) in _xg106_lines(mutated, tmp_path)


def test_a_user_storing_another_literal_keeps_it_silent(tmp_path: Path) -> None:
    source = USER_STORE.read_text(encoding="utf-8")
    line = _step_line(source, "TunedScorer")
    assert _xg106_lines(source, tmp_path) == set()
    assert _xg106_lines(_replaced(source, '    model.loss_kind = "sl"\n', ""), tmp_path) == {line}


def test_a_str_method_of_a_literal_decides_a_comparison() -> None:
    call = ast.parse('kind.upper() == "CL"', mode="eval").body
    assert isinstance(call, ast.Compare)
    subject, method = compared_subject(call.left)
    assert isinstance(subject, ast.Name) and subject.id == "kind" and method == "upper"
    assert compared_subject(ast.parse("kind.split()", mode="eval").body) == (None, None)
    assert compared_subject(ast.parse('kind.upper("x")', mode="eval").body) == (None, None)


def test_a_test_through_upper_is_decided_by_the_subclass_literal(tmp_path: Path) -> None:
    source = FIXTURE.read_text(encoding="utf-8")
    # Without .upper() the literal "cl" would not equal "CL": the squared error, no finding.
    assert _xg106_lines(_replaced(source, 'if kind.upper() == "CL":', 'if kind == "CL":'), tmp_path) == set()
