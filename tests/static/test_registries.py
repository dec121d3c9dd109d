"""The syntax of registries (see xentguard/static/registries.py): which functions store
their parameter into a dict that only they write."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from xentguard.static.registries import module_registries, only_read_in


def registering(source: str) -> set[tuple[str, str, str]]:
    """(word, container kind, container name) of every registering function."""
    tree = ast.parse(textwrap.dedent(source))
    found = module_registries(tree)
    return {(store.word, *store.container) for fn, store in found.by_function.items() if found.store_of(fn)}


GLOBAL = """
    HEADS = {}

    def register(cls):
        HEADS[cls.__name__] = cls
        return cls

    def build(name):
        return HEADS[name]() if name in HEADS else sorted(HEADS)
"""


def test_a_module_dict_filled_by_a_decorator_is_a_registry() -> None:
    assert registering(GLOBAL) == {("register", "global", "HEADS")}


def test_a_registry_class_and_a_decorator_factory() -> None:
    assert registering("""
        class Registry:
            def __init__(self):
                self.entries = dict()

            def register_module(self, cls):
                self.entries[cls.__name__] = cls
                return cls

            def build(self, spec):
                return self.entries.get(spec["type"])

        CRITERIA = {}

        def register_criterion(name):
            def add(cls):
                CRITERIA[name] = cls
                return cls
            return add
    """) == {("register_module", "attr", "entries"), ("register_criterion", "global", "CRITERIA")}


@pytest.mark.parametrize("other_write", [
    "HEADS = {'plain': object}",  # not created empty
    "HEADS.update(extra)",  # written by a method
    "HEADS['plain'] = object",  # written by another statement
    "hand_over(HEADS)",  # handed to code that may write it
    "ALIAS = HEADS",  # another name for it
    "def reset():\n    global HEADS\n    HEADS = {}",  # rebound
])
def test_a_dict_written_otherwise_is_no_registry(other_write: str) -> None:
    assert registering(textwrap.dedent(GLOBAL) + "\n" + other_write + "\n") == set()


def test_a_store_of_something_else_than_the_first_parameter_registers_nothing() -> None:
    assert registering("""
        HEADS = {}

        def register(cls, name):
            HEADS[name] = cls.__name__
            return cls

        def keep(cls, other):
            HEADS[cls.__name__] = other
    """) == set()


def test_a_local_dict_is_no_registry() -> None:
    assert registering("""
        def register(cls):
            heads = {}
            heads[cls.__name__] = cls
            return heads
    """) == set()


@pytest.mark.parametrize(("source", "untouched"), [
    ("from registry import HEADS\nnet = HEADS['a']()\nnames = list(HEADS)\n", True),
    ("import registry\nregistry.HEADS['plain'] = object\n", False),
    ("from registry import HEADS\nHEADS.setdefault('plain', object)\n", False),
    ("from registry import HEADS\nHEADS['plain'] = object\n", False),
])
def test_other_files_must_only_read_the_registry(source: str, untouched: bool) -> None:
    assert only_read_in(ast.parse(source), ("global", "HEADS")) is untouched


# The registry classes of the fixture project (the mmdetection and fvcore shapes), one at a time.
REGISTRY_FIXTURE = (FIXTURES / "projects" / "registries" / "registry.py").read_text(encoding="utf-8")


def fixture_class(name: str) -> str:
    """The source of one class of the fixture's registry.py."""
    tree = ast.parse(REGISTRY_FIXTURE)
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
    return ast.get_source_segment(REGISTRY_FIXTURE, node) or ""


MODULE_REGISTRY = fixture_class("ModuleRegistry")


def test_a_method_handing_its_parameter_to_a_registering_one_registers() -> None:
    assert registering(MODULE_REGISTRY) == {("_add", "attr", "_modules"), ("register_module", "attr", "_modules")}
    assert "self._add(cls)" in MODULE_REGISTRY  # the hand-over the test below takes away


def test_a_property_returning_the_dict_is_another_name_every_file_must_only_read() -> None:
    tree = ast.parse(textwrap.dedent(MODULE_REGISTRY))
    found = module_registries(tree)
    aliases = next(iter(found.aliases.values()))
    assert aliases == frozenset({"module_dict"})
    assert only_read_in(ast.parse("names = sorted(NETS.module_dict)\n"), ("attr", "_modules"), aliases)
    assert not only_read_in(ast.parse("NETS.module_dict['plain'] = object\n"), ("attr", "_modules"), aliases)
    # In the registry's own module too.
    cleared = MODULE_REGISTRY + "\nNETS = ModuleRegistry('nets')\nNETS.module_dict.clear()\n"
    assert registering(cleared) == set()


def test_handing_over_something_else_registers_nothing() -> None:
    assert registering(MODULE_REGISTRY.replace("self._add(cls)", "self._add(type(cls))")) == {
        ("_add", "attr", "_modules")}


REGISTRY_PY = MODULE_REGISTRY + "\n\n\nNETS = ModuleRegistry('nets')\n"
MODELS_PY = """
from torch import nn
import torch.nn.functional as F

from registry import NETS


class Logits(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(x)


class Probs(Logits):
    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)


def as_logits(cls):
    return Logits


@NETS.register_module
class ProbNet(Probs):
    pass
"""
TRAIN_PY = """
from torch import nn

import models  # noqa: F401
import extra  # noqa: F401
from registry import NETS


def step(x, y, name):
    return nn.CrossEntropyLoss()(NETS.get(name)()(x), y)
"""


def registry_findings(tmp_path: Path, extra: str = "", **replaced: str) -> set[tuple[int, str]]:
    """The findings in train.py of a project with one registry of one softmax model, and
    ``extra`` (a module train.py imports for its registrations)."""
    from xentguard.static import analyze_source
    from xentguard.static.project import forget_projects

    (tmp_path / "setup.cfg").write_text("")
    sources = {"registry.py": REGISTRY_PY, "models.py": MODELS_PY, "train.py": TRAIN_PY, "extra.py": extra}
    for name, source in sources.items():
        for old, new in replaced.items():
            source = source.replace(old, new)
        (tmp_path / name).write_text(textwrap.dedent(source))
    forget_projects()
    train = tmp_path / "train.py"
    found = {(f.line, f.code) for f in analyze_source(train.read_text(), str(train), project_root=str(tmp_path))}
    forget_projects()
    return found


def test_a_registry_of_one_softmax_model_feeds_the_loss_probabilities(tmp_path: Path) -> None:
    assert registry_findings(tmp_path) == {(10, "XG101")}


@pytest.mark.parametrize("extra", [
    # A file of imports and statements only (read for its imports alone): its registration
    # is one the walk did not resolve.
    "from models import Logits\nfrom registry import NETS\n\nNETS.register_module(Logits)\n",
    # The same with a definition: walked, so the registry holds both models.
    "from models import Logits\nfrom registry import NETS\n\n\ndef f():\n    pass\n\n\nNETS.register_module(Logits)\n",
    # The dict reached by a string.
    "from models import Logits\nfrom registry import NETS\n\ngetattr(NETS, '_modules').update(plain=Logits)\n",
    # Registered through what another decorator returns.
    "from models import Probs, as_logits\nfrom registry import NETS\n\n\n@NETS.register_module\n@as_logits\n"
    "class Replaced(Probs):\n    pass\n",
])
def test_registrations_the_walk_cannot_count_leave_the_registry_unknown(tmp_path: Path, extra: str) -> None:
    assert registry_findings(tmp_path, extra) == set()


def test_a_get_with_a_default_may_give_the_default(tmp_path: Path) -> None:
    with_default = {"self._modules.get(key, None)": "self._modules.get(key, Fallback)",
                    "class ModuleRegistry:": "Fallback = None\n\n\nclass ModuleRegistry:"}
    assert registry_findings(tmp_path, **with_default) == set()
    assert registry_findings(tmp_path, **{"self._modules.get(key, None)": "self._modules.get(key)"}) == {
        (10, "XG101")}


def test_the_fvcore_shape_registers_through_a_decorator_a_method_returns() -> None:
    source = fixture_class("ObjectRegistry")
    # _do_register stores its second parameter; register (bare) and its deco hand theirs over.
    assert registering(source) == {("_do_register", "attr", "_obj_map"), ("register", "attr", "_obj_map")}
    stores = module_registries(ast.parse(source)).by_function.values()
    assert {(s.word, s.position, s.closure_self) for s in stores} == {
        ("_do_register", 1, None), ("register", 0, None), ("register", 0, "self")}
