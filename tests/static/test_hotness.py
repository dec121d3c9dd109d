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
from xentguard.static.hotness import base_leaves, class_attributes, hotness, top_level_classes
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


def _walked_methods(code: str) -> dict[str, bool | None]:
    tree = ast.parse(textwrap.dedent(code))
    result = hotness(tree)
    return {f"{cls.name}.{fn.name}": result.worth_walking(fn) for cls in tree.body if isinstance(cls, ast.ClassDef)
            for fn in cls.body if isinstance(fn, ast.FunctionDef)}


def test_attributes_and_variables_are_two_namespaces() -> None:
    walked = _walked_methods(
        """
        import torch
        import torch.nn as nn

        class Scores(nn.Module):
            def forward(self, x):
                return torch.log(x)

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.self = Scores()

            def shape(self, x):
                return x.view(self.width)

            def run(self, x):
                return self.self(x)
        """)
    # The attribute named ``self`` is hot; the parameter every method names is not.
    assert walked == {"Scores.forward": True, "Block.__init__": True, "Block.shape": False, "Block.run": True}


def test_super_calls_reach_the_bases_method_not_every_method_of_that_name() -> None:
    walked = _walked_methods(
        """
        import torch.nn as nn
        import torch.nn.functional as F

        class Plain(nn.Module):
            def forward(self, x):
                return x * 2

        class Fused(Plain):
            def forward(self, x):
                return super().forward(x)

        class Head(nn.Module):
            def forward(self, x, y):
                return F.cross_entropy(x, y)

        class Inherits(Head):
            def tag(self):
                return 1

        class Scaled(Inherits):
            def forward(self, x, y):
                return super().forward(x * 2, y)

        class Own(Head):
            def forward(self, x, y):
                return x

        class AfterOwn(Own):
            def forward(self, x, y):
                return super().forward(x, y)

        class FromTorch(nn.CrossEntropyLoss):
            def forward(self, x, y):
                return super().forward(x.permute(0, 2, 1), y)
        """)
    # Plain's forward reaches nothing, Head's a loss (through Inherits, which has none of
    # its own); Own's forward overrides Head's. A base from elsewhere may be any forward.
    assert walked == {"Plain.forward": False, "Fused.forward": False, "Head.forward": True, "Inherits.tag": False,
                      "Scaled.forward": True, "Own.forward": False, "AfterOwn.forward": False,
                      "FromTorch.forward": True}


def test_a_class_with_its_own_constructor_does_not_inherit_its_bases_hotness() -> None:
    walked = _walked_methods(
        """
        import torch.nn as nn

        class Base(nn.Module):
            def __init__(self):
                super().__init__()
                self.criterion = nn.NLLLoss()

        class Own(Base):
            def __init__(self):
                self.width = 3

        class Child(Own):
            def __init__(self):
                super().__init__()

        class Inherits(Base):
            pass

        class Grandchild(Inherits):
            def __init__(self):
                super().__init__()
        """)
    assert walked == {"Base.__init__": True, "Own.__init__": False, "Child.__init__": False,
                      "Grandchild.__init__": True}


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


PROJECTS = sorted(p for p in (FIXTURES / "projects").iterdir() if p.is_dir() and any(p.rglob("*.py")))


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_projects_same_with_and_without_the_gate(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gated = found(project)
    _walk_everything(monkeypatch)
    assert found(project) == gated


def test_a_subclass_reads_the_hot_attributes_of_a_base_from_elsewhere() -> None:
    tree = ast.parse(textwrap.dedent(
        """
        from trainers import Base, Plain

        class Scorer(Base):
            def step(self, x, y):
                return self.criterion(self.forward(x), y)

            def size(self):
                return self.width(3)

        class Other(Plain):
            def step(self, x, y):
                return self.criterion(self.forward(x), y)
        """))
    stored = {"Base": frozenset({"criterion"})}
    asked: list[str] = []

    def inherited(name: str) -> frozenset[str]:
        asked.append(name)
        return stored.get(name, frozenset())

    result = hotness(tree, (), inherited)
    walked = {f"{cls.name}.{fn.name}": result.worth_walking(fn) for cls in tree.body if isinstance(cls, ast.ClassDef)
              for fn in cls.body if isinstance(fn, ast.FunctionDef)}
    # Base's criterion is hot in every class of the file (an attribute name is one name);
    # without the base's attributes nothing here reaches a sink.
    assert walked == {"Scorer.step": True, "Scorer.size": False, "Other.step": True}
    assert sorted(asked) == ["Base", "Plain"]
    assert not any(hotness(tree).worth_walking(fn) for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef))


def test_class_attributes_are_what_an_instance_has_from_the_class_body() -> None:
    tree = ast.parse(textwrap.dedent(
        """
        import torch.nn as nn

        class Trainer(nn.Module):
            scale = 2
            if True:
                label: str = "x"

            def __init__(self):
                self.criterion, self.head = nn.NLLLoss(), nn.Linear(2, 2)
                self.parts = []
                self.parts.append(nn.Softmax(dim=1))
                local = 3

            def fit(self):
                self.epoch = 0

        if True:
            class Guarded(Trainer):
                pass

        def build():
            class Inner:
                pass
        """))
    classes = top_level_classes(tree)
    assert [c.name for c in classes] == ["Trainer", "Guarded"]
    assert class_attributes(classes[0]) == {"scale", "label", "__init__", "fit", "criterion", "head", "parts",
                                            "epoch"}
    assert base_leaves(classes[1]) == {"Trainer"} and base_leaves(classes[0]) == {"Module"}
