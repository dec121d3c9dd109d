"""The walking gate (static/hotness.py) only skips what cannot matter: every fixture gives
the same findings with the gate as with every function walked."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.static.realworld import cases, found
from xentguard.static import analyze_source
from xentguard.static.analyzer import Analyzer
from xentguard.static.hotness import hotness
from xentguard.static.scopes import FunctionInfo

RULE_FIXTURES = sorted((FIXTURES / "rules").glob("*.py"))


def _walk_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Analyzer, "worth_walking", lambda self, fn: True)


@pytest.mark.parametrize("fixture", RULE_FIXTURES, ids=lambda p: p.name)
def test_rule_fixture_same_with_and_without_the_gate(fixture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = fixture.read_text(encoding="utf-8")
    gated = {(f.line, f.col, f.code) for f in analyze_source(source, str(fixture), isolated=True)}
    _walk_everything(monkeypatch)
    assert {(f.line, f.col, f.code) for f in analyze_source(source, str(fixture), isolated=True)} == gated


@pytest.mark.parametrize("case", cases("bugs") + cases("correct"), ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_realworld_same_with_and_without_the_gate(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gated = found(case)
    _walk_everything(monkeypatch)
    assert found(case) == gated


def _hot_functions(code: str) -> set[str]:
    tree = ast.parse(textwrap.dedent(code))
    result = hotness(tree)
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and result.worth_walking(node)}


def test_hot_functions_reach_a_consuming_sink() -> None:
    hot = _hot_functions(
        """
        import torch.nn as nn
        import torch.nn.functional as F

        class Attention(nn.Module):
            def forward(self, q, k):
                return F.softmax(q @ k.T, dim=-1)

        class Block(nn.Module):
            def __init__(self):
                self.attn = Attention()
                self.criterion = nn.CrossEntropyLoss()

            def features(self, q, k):
                return self.attn(q, k)

            def step(self, out, y):
                return self.criterion(out, y)

        def train(block, x, y):
            return block.step(block.features(x, x), y)

        def log_sizes(x):
            print(len(x))
        """
    )
    # forward is walked for its own softmax; features only produces probabilities (an
    # activation does not make its callers hot); step and train reach the loss.
    assert hot == {"forward", "step", "train", "__init__"}


def test_hotness_does_not_depend_on_names() -> None:
    named = _hot_functions("import torch.nn as nn\nloss_fn = nn.NLLLoss()\ndef run(a):\n    return loss_fn(a)\n")
    renamed = _hot_functions("import torch.nn as nn\nq1 = nn.NLLLoss()\ndef q2(a):\n    return q1(a)\n")
    assert named == {"run"} and renamed == {"q2"}


def test_a_star_import_from_the_project_walks_everything() -> None:
    tree = ast.parse("from .models import *\ndef f(x):\n    return helper(x)\n")
    assert hotness(tree).names is None


def test_nested_functions_use_their_own_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[str] = []
    original = Analyzer._walk_function

    def recording(self: Analyzer, fn: FunctionInfo, *rest: object) -> object:
        walked.append(fn.name)
        return original(self, fn, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(Analyzer, "_walk_function", recording)
    findings = analyze_source(textwrap.dedent(
        """
        import torch.nn.functional as F

        def outer(x, y):
            def inner(z):
                return F.cross_entropy(F.softmax(z, dim=1), y)
            return inner(x)
        """), "m.py", isolated=True)
    assert [f.code for f in findings] == ["XG101"]
    assert "inner" in walked


def test_one_hot_constructor_does_not_make_every_constructor_hot() -> None:
    tree = ast.parse(textwrap.dedent(
        """
        import torch.nn as nn

        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.loss = nn.CrossEntropyLoss()

        class Plain(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(4, 4)

        class Derived(Head):
            def __init__(self):
                super().__init__()

        class Again(Plain):
            def __init__(self):
                Plain.__init__(self)

        class Inherits(Head):
            pass

        class Grandchild(Inherits):
            def __init__(self):
                super().__init__()

        class Restart(Plain):
            def reset(self):
                self.__init__()
        """))
    result = hotness(tree)
    walked = {f"{cls.name}.{fn.name}": result.worth_walking(fn) for cls in tree.body if isinstance(cls, ast.ClassDef)
              for fn in cls.body if isinstance(fn, ast.FunctionDef)}
    # super().__init__() and Base.__init__ reach their bases' constructors (through a base
    # without one of its own); an __init__ called on the instance itself may be any one.
    assert walked == {"Head.__init__": True, "Plain.__init__": False, "Derived.__init__": True,
                      "Again.__init__": False, "Grandchild.__init__": True, "Restart.reset": True}



def test_a_container_call_fills_the_attribute_not_the_instance() -> None:
    tree = ast.parse(textwrap.dedent(
        """
        import torch.nn as nn

        class Heads(nn.Module):
            def __init__(self):
                self.losses = []
                self.losses.append(nn.CrossEntropyLoss())
                self.add_module("extra", nn.NLLLoss())

            def score(self, x, y):
                return self.losses[0](x, y)

            def other(self, x, y):
                return self.extra(x, y)

            def size(self):
                return len(self.names())
        """))
    result = hotness(tree)
    walked = {fn.name: result.worth_walking(fn) for fn in tree.body[1].body if isinstance(fn, ast.FunctionDef)}
    # ``self`` is mentioned by every method: only what the calls filled is hot.
    assert walked == {"__init__": True, "score": True, "other": True, "size": False}
