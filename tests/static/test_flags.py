"""Construction flags (static/flags.py): which stores in other modules can change a flag,
which classes make their importers worth walking, and that the project-wide question is
asked only when a flag decides what a walk finds."""

from __future__ import annotations

import ast
import os
import textwrap
from pathlib import Path

import pytest

from xentguard.static import analyze_source
from xentguard.static.flags import construction_flag_tested, may_store_on, store_receivers
from xentguard.static.project import Project, forget_projects

HIERARCHY = frozenset({(os.path.abspath("heads.py"), "Head"), (os.path.abspath("base.py"), "Base")})


def _stores(code: str, path: str = "other.py") -> bool:
    return may_store_on(store_receivers(ast.parse(textwrap.dedent(code)), "flag"), path, HIERARCHY)


@pytest.mark.parametrize("code", [
    "def off(net):\n    net.flag = False\n",
    "def off(net):\n    net.flag |= True\n",
    "def off(net):\n    net.flag: bool = False\n",
    "def off(net):\n    net.flag, net.other = False, 1\n",
    "def off(net):\n    del net.flag\n",
    "def off(nets):\n    for nets[0].flag in (True, False):\n        pass\n",
    # Not an instance method: the first parameter is any object.
    "class Other:\n    @staticmethod\n    def off(net):\n        net.flag = False\n",
    # The method rebinds its first parameter, or a nested function stores on another name.
    "class Other:\n    def off(self, net):\n        self = net\n        self.flag = False\n",
    "class Other:\n    def off(self, nets):\n        def each(n):\n            n.flag = False\n        return each\n",
    "class Other:\n    def off(self):\n        def each(self):\n            self.flag = False\n        return each\n",
    "class Other:\n    def off(self, net):\n        net.flag = False\n",
])
def test_a_store_that_may_reach_the_instance_counts(code: str) -> None:
    assert _stores(code)


def test_a_method_of_a_class_of_the_hierarchy_stores_on_the_instance() -> None:
    base = "class Base:\n    def off(self):\n        self.flag = False\n"
    assert _stores(base, "base.py")
    assert not _stores(base, "other.py")  # another module's class of that name


@pytest.mark.parametrize("code", [
    "def on(net):\n    return net.flag\n",
    # Another class's own instances: not an instance of the hierarchy's class.
    "class Other:\n    def __init__(self, flag):\n        self.flag = flag\n",
    "class Other:\n    def toggle(this):\n        this.flag = not this.flag\n",
    # A subclass defined elsewhere stores on its own instances: a Head built as Head keeps its flag.
    "class Muted(Head):\n    def mute(self):\n        self.flag = False\n",
    "def off(net):\n    net.other_flag = False\n",
])
def test_stores_that_cannot_reach_the_instance_do_not(code: str) -> None:
    assert not _stores(code)


def test_a_construction_flag_is_a_parameter_init_stores_and_a_method_tests() -> None:
    def cls(code: str) -> ast.ClassDef:
        node = ast.parse(textwrap.dedent(code)).body[0]
        assert isinstance(node, ast.ClassDef)
        return node

    flagged = cls("""
        class Head:
            def __init__(self, width, squash=False):
                self.squash = squash
            def forward(self, x):
                return x.softmax(-1) if self.squash else x
        """)
    assert construction_flag_tested(flagged)
    assert not construction_flag_tested(cls("""
        class Head:
            def __init__(self, width, squash=False):
                self.squash = squash
            def forward(self, x):
                return x.softmax(-1)
        """))
    assert not construction_flag_tested(cls("""
        class Head:
            def __init__(self, width, squash=False):
                squash = not squash
                self.squash = squash
            def forward(self, x):
                return x.softmax(-1) if self.squash else x
        """))


HEADS = """
import torch.nn as nn
import torch.nn.functional as F


class Head(nn.Module):
    def __init__(self, width, squash=False, verbose=False):
        super().__init__()
        self.squash = squash
        self.verbose = verbose
        self.fc = nn.Linear(width, 3)

    def forward(self, x):
        if self.verbose:
            print(x.shape)
        x = self.fc(x)
        if self.squash:
            x = F.softmax(x, dim=-1)
        return x
"""


def _write(tmp_path: Path, train: str) -> Path:
    (tmp_path / "setup.cfg").write_text("")
    (tmp_path / "heads.py").write_text(HEADS)
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(train))
    forget_projects()
    return script


def _check(tmp_path: Path, train: str, monkeypatch: pytest.MonkeyPatch) -> tuple[set[tuple[int, str]], list[str]]:
    asked: list[str] = []
    original = Project.attribute_stored_elsewhere

    def counted(self: Project, attr: str, path: str, hierarchy: frozenset[tuple[str, str]]) -> bool:
        asked.append(attr)
        return original(self, attr, path, hierarchy)

    monkeypatch.setattr(Project, "attribute_stored_elsewhere", counted)
    script = _write(tmp_path, train)
    found = {(f.line, f.code) for f in analyze_source(script.read_text(), str(script))}
    return found, asked


def test_the_project_is_read_only_when_a_flag_decides_a_finding(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # ``verbose`` decides a test whose branches return the same: no question asked.
    found, asked = _check(tmp_path, """
        import torch.nn as nn
        from heads import Head

        def fit(x, y):
            return nn.CrossEntropyLoss()(Head(4, verbose=True)(x), y)
        """, monkeypatch)
    assert found == set() and asked == []
    found, asked = _check(tmp_path, """
        import torch.nn as nn
        from heads import Head

        def fit(x, y):
            return nn.CrossEntropyLoss()(Head(4, squash=True, verbose=True)(x), y)
        """, monkeypatch)
    assert found == {(6, "XG101")} and sorted(set(asked)) == ["squash", "verbose"]


def test_a_flag_another_module_stores_decides_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tune.py").write_text("def logits(net):\n    net.squash = False\n    return net\n")
    found, asked = _check(tmp_path, """
        import torch.nn as nn
        from heads import Head

        def fit(x, y):
            return nn.CrossEntropyLoss()(Head(4, squash=True)(x), y)
        """, monkeypatch)
    assert found == set() and asked == ["squash"]
