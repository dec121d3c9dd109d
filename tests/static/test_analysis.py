"""The analysis' behaviour on shapes the fixtures don't isolate: positions, evidence,
fixes, parse errors, and what it must never do (import torch, raise)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

from xentguard.static import analyze_source
from xentguard.static.analyzer import Analyzer
from xentguard.static.findings import Finding
from xentguard.static.kinds import Value
from xentguard.static.scopes import FunctionInfo


def findings(code: str) -> list[Finding]:
    return analyze_source(textwrap.dedent(code), "m.py")


def codes(code: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in findings(code)]


def test_columns_count_characters_not_bytes() -> None:
    (f,) = findings(
        """
        import torch.nn.functional as F
        é = F.cross_entropy(F.softmax(x, dim=1), y)
        """
    )
    assert (f.line, f.col) == (3, 20)


def test_evidence_chain_runs_from_loss_object_to_producer() -> None:
    (f,) = findings(
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.act = nn.Softmax(dim=1)

            def forward(self, x):
                return self.act(x)

        criterion = nn.CrossEntropyLoss()
        loss = criterion(Net()(x), y)
        """
    )
    assert f.code == "XG101"
    assert [step.description for step in f.evidence] == ["nn.CrossEntropyLoss", "Net.forward", "nn.Softmax"]
    assert [step.line for step in f.evidence] == [12, 9, 7]
    assert "nn.Softmax at line 7" in f.message and "Net.forward at line 9" in f.message


def test_unparsable_source_is_one_xg999_finding_with_position() -> None:
    (f,) = analyze_source("import torch\ndef f(:\n    softmax(x)\n", "bad.py")
    assert f.code == "XG999" and f.line == 2
    assert "bad.py" in f.message and f.message.startswith("XG999 ")


def test_files_without_trigger_words_are_not_walked() -> None:
    assert analyze_source("def f(:\n", "clean.py") == []


def test_recursion_and_mutual_recursion_terminate() -> None:
    result = codes(
        """
        import torch.nn.functional as F

        def a(x):
            return b(x) if x else F.softmax(x, dim=1)

        def b(x):
            return a(x)

        def rec(x):
            return rec(x)

        loss = F.cross_entropy(rec(1), y) + F.cross_entropy(a(1), y)
        """
    )
    # Terminates; through the recursion the kind is unknown, so nothing is claimed.
    assert result == []


def test_join_of_same_kind_on_both_branches_is_kept() -> None:
    assert codes(
        """
        import torch.nn.functional as F
        if flag:
            p = F.softmax(x, dim=1)
        else:
            p = x.softmax(1)
        loss = F.cross_entropy(p, y)
        """
    ) == [(7, "XG101")]


def test_statement_calls_are_walked_when_the_callee_can_find_something(monkeypatch: pytest.MonkeyPatch) -> None:
    # A call whose value is unused is skipped only when its callee makes no call (it can
    # reach no loss, activation or log) and gets nothing informative: here the base class
    # computes the loss.
    code = """
        import torch.nn as nn

        class Base(nn.Module):
            def fit_step(self, x, y):
                self.criterion(self(x), y).backward()

            def log_sizes(self, x):
                return x.shape[0] + 1

        class Net(Base):
            def __init__(self):
                super().__init__()
                self.criterion = nn.CrossEntropyLoss()
                self.body = nn.Sequential(nn.Linear(4, 2), nn.Softmax(dim=1))

            def forward(self, x):
                return self.body(x)

            def train_epoch(self, x, y):
                self.losses = []
                self.log_sizes(x)
                self.fit_step(x, y)
        """
    walked: list[str] = []
    walk_function = Analyzer._walk_function

    def recording(self: Analyzer, fn: FunctionInfo, *rest: Any) -> Value:
        walked.append(fn.name)
        return walk_function(self, fn, *rest)

    monkeypatch.setattr(Analyzer, "_walk_function", recording)
    assert codes(code) == [(6, "XG101")]
    assert "Base.fit_step" in walked
    assert "Base.log_sizes" not in walked  # its value is unused and it makes no call


def test_loss_in_dict_with_literal_key() -> None:
    assert codes(
        """
        import torch.nn as nn
        losses = {"ce": nn.CrossEntropyLoss(), "mse": nn.MSELoss()}
        loss = losses["ce"](x.softmax(1), y) + losses["mse"](x.softmax(1), y)
        """
    ) == [(4, "XG101")]


def test_fix_for_inline_activation_is_exact_text_edits() -> None:
    (f,) = findings(
        """
        import torch.nn.functional as F
        loss = F.cross_entropy(F.softmax(out, 1), y)
        """
    )
    assert f.fix is not None
    (edit,) = f.fix.edits
    assert (edit.line, edit.col, edit.end_line, edit.end_col, edit.text) == (3, 23, 3, 40, "out")


def test_no_fix_when_the_probabilities_are_used_elsewhere() -> None:
    (f,) = [
        f
        for f in findings(
            """
            import torch.nn.functional as F
            probs = F.softmax(out, 1)
            loss = F.nll_loss(probs, y)
            acc = probs.argmax(1)
            """
        )
        if f.code == "XG103"
    ]
    assert f.fix is None


def test_linting_never_imports_torch() -> None:
    script = (
        "import sys\n"
        "import xentguard, xentguard.flake8_plugin, xentguard.static, xentguard.catalogue\n"
        "from xentguard.static import analyze_source\n"
        "analyze_source('import torch.nn.functional as F\\nF.cross_entropy(F.softmax(x, 1), y)\\n', 'x.py')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
