"""Both halves, one catalogue: the same wrong program gets the same code from the static
analysis (without running it) and from the runtime guard (running it)."""

from __future__ import annotations

import re
import runpy
import textwrap
import warnings
from pathlib import Path

import pytest

import xentguard
from xentguard.catalogue import RULES, Half
from xentguard.static import analyze_source

PRELUDE = """
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
x = (torch.randn(16, 5) * 3).requires_grad_()  # a graph: provenance decides
s = torch.randn(16, 5) * 3
y = torch.randint(0, 5, (16,))
b = torch.randint(0, 2, (16, 5)).float()
"""

# One wrong program per rule that both halves see.
PROGRAMS = {
    "XG101": "loss = F.cross_entropy(F.softmax(x, dim=1), y)",
    "XG102": "loss = nn.CrossEntropyLoss()(F.log_softmax(x, dim=1), y)",
    "XG103": "loss = F.nll_loss(F.softmax(x, dim=1), y)",
    "XG104": "head = nn.Linear(5, 5)\nloss = nn.NLLLoss()(head(x), y)",
    "XG105": "loss = F.nll_loss(torch.log(F.softmax(x, dim=1)), y)",
    "XG106": "loss = F.binary_cross_entropy_with_logits(torch.sigmoid(x), b)",
    "XG107": "loss = nn.BCELoss()(torch.sigmoid(x), b)",
    "XG110": "loss = F.kl_div(F.softmax(x, dim=1), F.softmax(s, dim=1), reduction='batchmean')",
    "XG111": "loss = F.kl_div(F.log_softmax(x, dim=1), F.log_softmax(s, dim=1), reduction='batchmean')",
}

BOTH = sorted(code for code, rule in RULES.items() if rule.half is Half.BOTH)
_CODE = re.compile(r"^(XG\d{3}) ")


def test_every_rule_of_both_halves_has_a_program() -> None:
    assert sorted(PROGRAMS) == BOTH


@pytest.mark.parametrize("code", BOTH)
def test_same_code_from_both_halves(code: str, tmp_path: Path) -> None:
    source = textwrap.dedent(PRELUDE) + PROGRAMS[code] + "\n"
    program = tmp_path / f"parity_{code.lower()}.py"
    program.write_text(source, encoding="utf-8")
    static = {f.code for f in analyze_source(source, str(program), isolated=True)}
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        with xentguard.guard(mode="warn", once=False, select=[code]):
            runpy.run_path(str(program))
    runtime = {m.group(1) for r in records if (m := _CODE.match(str(r.message)))}
    assert code in static, f"static: {sorted(static)}"
    assert code in runtime, f"runtime: {sorted(runtime)}"


def test_advice_is_off_at_runtime_unless_selected(tmp_path: Path) -> None:
    program = tmp_path / "advice.py"
    program.write_text(textwrap.dedent(PRELUDE) + PROGRAMS["XG107"] + "\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        with xentguard.guard(mode="warn", once=False):
            runpy.run_path(str(program))
    assert not [r for r in records if str(r.message).startswith("XG107 ")]
