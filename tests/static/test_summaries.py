"""Summaries are memoised on their arguments and hold while the instance attributes they
read still read the same: storing an attribute a method never reads does not walk it
again; storing one it reads does, and the new value is seen."""

from __future__ import annotations

import ast
import textwrap
from collections import Counter

import pytest

from xentguard.static import analyze_source
from xentguard.static.analyzer import Analyzer
from xentguard.static.scopes import FunctionInfo

CODE = textwrap.dedent(
    """
    import torch.nn as nn
    import torch.nn.functional as F

    class Trainer:
        def __init__(self):
            self.criterion = None
            self.note = None

        def step(self, x, y):
            return self.criterion(F.softmax(x, dim=1), y)

    trainer = Trainer()
    trainer.step(a, b)
    trainer.note = nn.Linear(2, 2)
    trainer.step(a, b)
    {store}
    trainer.step(a, b)
    """
)


_WALK = Analyzer._walk_function


def _walks(source: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Counter[str], list[str]]:
    walked: Counter[str] = Counter()

    def counting(self: Analyzer, fn: FunctionInfo, *rest: object) -> object:
        walked[fn.name] += 1
        return _WALK(self, fn, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(Analyzer, "_walk_function", counting)
    codes = [f.code for f in analyze_source(source, "m.py", isolated=True)]
    return walked, codes


def test_a_store_the_method_never_reads_keeps_its_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    without, _ = _walks(CODE.format(store="pass"), monkeypatch)
    walked, codes = _walks(CODE.format(store="trainer.note = nn.Dropout()"), monkeypatch)
    assert walked["Trainer.step"] == without["Trainer.step"]
    assert codes == []  # criterion is None: no loss is called


def test_a_store_the_method_reads_walks_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    without, _ = _walks(CODE.format(store="pass"), monkeypatch)
    walked, codes = _walks(CODE.format(store="trainer.criterion = nn.CrossEntropyLoss()"), monkeypatch)
    assert walked["Trainer.step"] == without["Trainer.step"] + 1
    assert codes == ["XG101"]


ENCODER = textwrap.dedent(
    """
    import torch.nn as nn
    import torch.nn.functional as F

    class Encoder(nn.Module):
        def forward(self, ids, mask{default}):
            return F.log_softmax(ids, -1)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()

        def forward(self, ids, mask):
            return F.nll_loss(self.encoder(ids, mask), mask)
    """
)


def test_uninformative_arguments_share_the_walk_without_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    walked, codes = _walks(ENCODER.format(default=""), monkeypatch)
    # ``self.encoder(ids, mask)`` passes nothing informative: the walk with no arguments.
    assert walked["Encoder.forward"] == 1
    assert codes == []
    # A parameter with a default binds something else when left out: its own walk.
    walked, _ = _walks(ENCODER.format(default="=None"), monkeypatch)
    assert walked["Encoder.forward"] == 2


def test_lists_do_not_grow_without_bound() -> None:
    # A list grown on one path joins as the longer one for a walk's own names, but not for
    # what an attribute holds: there, each walk of a method appending to ``self.items``
    # stored a longer list, which re-walked every reader (xentguard's own code never ended).
    from xentguard.static.kinds import MAX_ITEMS, UNKNOWN, Mapping, join
    from xentguard.static.scopes import ClassInfo

    one, two = Mapping(((0, UNKNOWN),), sequence=True), Mapping(((0, UNKNOWN), (1, UNKNOWN)), sequence=True)
    assert join(one, two) == two
    assert join(one, two, grown_lists=False) == UNKNOWN
    holder = ClassInfo(ast.parse("class Registry: pass").body[0], "Registry", None, ())  # type: ignore[arg-type]
    holder.record_assignment("items", one)
    holder.record_assignment("items", two)
    assert holder.assigned_value("items") == UNKNOWN
    long_list = Mapping(tuple((i, UNKNOWN) for i in range(MAX_ITEMS)), sequence=True)
    assert long_list.appended(UNKNOWN) == UNKNOWN
    assert long_list.extended(one) == UNKNOWN


def test_a_method_appending_to_an_attribute_in_a_loop_ends() -> None:
    source = textwrap.dedent(
        """
        import torch.nn.functional as F

        class Registry:
            def __init__(self):
                self.items = []

            def add(self, x):
                self.items.append(x)
                for item in self.items:
                    self.last = item
                return self.items

            def first(self):
                return self.items[0]

        def fill(registry, xs):
            for x in xs:
                registry.add(F.softmax(x, dim=1))
                registry.add(registry.first())
            return F.cross_entropy(registry.first(), xs)

        def run(xs):
            return fill(Registry(), xs)
        """
    )
    assert analyze_source(source, "registry.py", isolated=True) == []  # no claim on a list an attribute grows


def test_a_finding_made_under_several_callers_names_the_same_one_whatever_the_order() -> None:
    # A helper's finding, made while walking it for each caller: which caller's walk came
    # first depends on the order files are checked in (and on the worker), its text must not.
    from xentguard.static.checks import Checks
    from xentguard.static.kinds import Origin
    from xentguard.static.source import SourceFile

    source = "import torch.nn.functional as F\nF.softmax(x)\n"
    file = SourceFile("helper.py", source, ast.parse(source))
    call = file.tree.body[1].value  # type: ignore[attr-defined]
    sites = [Origin("run(...)", "m07.py", 8, 4), Origin("run(...)", "m02.py", 8, 4), Origin("run(...)", "m10.py", 3, 0)]
    messages = set()
    for order in (sites, sites[::-1], sites[1:] + sites[:1]):
        checks = Checks()
        for site in order:
            checks.context.append(site)
            checks.report("XG109", call, file, source="F.softmax(...)")
            checks.context.pop()
        [finding] = checks.findings_for("helper.py")
        messages.add(finding.message)
    assert len(messages) == 1 and "m02.py:8" in messages.pop()
    # A finding made without a caller's context is kept over one made under a caller.
    checks = Checks()
    checks.context.append(sites[0])
    checks.report("XG109", call, file, source="F.softmax(...)")
    checks.context.pop()
    checks.report("XG109", call, file, source="F.softmax(...)")
    [finding] = checks.findings_for("helper.py")
    assert "when called from" not in finding.message
