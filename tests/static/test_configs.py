"""Whether a call may change a literal configuration dict it is handed (static/configs.py)."""

from __future__ import annotations

import ast
import textwrap

from xentguard.static import analyze_source
from xentguard.static.analyzer import Analyzer
from xentguard.static.checks import Checks
from xentguard.static.configs import aliased, may_change
from xentguard.static.kinds import FunctionRef
from xentguard.static.scopes import FunctionInfo
from xentguard.static.source import SourceFile

_PROGRAM = textwrap.dedent(
    """
    import torch

    def reads(cfg):
        return cfg["TASK"], len(cfg)

    def stores(cfg):
        cfg["TASK"] = "cls"

    def updates(cfg):
        cfg.update(task="cls")

    def deletes(cfg):
        del cfg["TASK"]

    def hands_to_reader(cfg):
        return reads(cfg)

    def hands_to_storer(cfg):
        stores(cfg)

    def hands_to_unknown(cfg):
        json.dump(cfg)

    def spreads(cfg):
        return build(**cfg)

    def copies(cfg):
        return dict(**cfg), sorted(cfg)

    def stacks(cfg):
        return torch.stack(cfg), torch.cat(tensors=cfg)
    """)


def _functions() -> dict[str, FunctionInfo]:
    tree = ast.parse(_PROGRAM)
    analyzer = Analyzer(Checks())
    scope = analyzer.run_module(SourceFile("configs.py", _PROGRAM, tree))
    found: dict[str, FunctionInfo] = {}
    for name in ("reads", "stores", "updates", "deletes", "hands_to_reader", "hands_to_storer", "hands_to_unknown",
                 "spreads", "copies", "stacks"):
        binding = scope.lookup(name)
        assert binding is not None and isinstance(binding.value, FunctionRef)
        found[name] = binding.value.fn
    return found


def test_what_may_change_the_dict() -> None:
    changes = {name: may_change(fn, "cfg") for name, fn in _functions().items()}
    assert changes == {"reads": False, "stores": True, "updates": True, "deletes": True, "hands_to_reader": False,
                       "hands_to_storer": True, "hands_to_unknown": True, "spreads": True,
                       "copies": False, "stacks": False}


def test_a_changing_call_leaves_the_dict_unknown() -> None:
    program = textwrap.dedent(
        """
        import torch.nn.functional as F

        def loss(cfg, x, y):
            if cfg["LOG"]:
                x = F.log_softmax(x, dim=1)
            return F.cross_entropy(x, y)

        def run(cfg, x, y, flag):
            {middle}
            return loss(cfg, x, y)

        run({{"LOG": True}}, None, None, False)
        """)
    reading = program.format(middle='print(cfg["LOG"])')
    storing = program.format(middle='cfg["LOG"] = flag')
    assert [f.code for f in analyze_source(reading, "run.py", isolated=True)] == ["XG102"]
    assert analyze_source(storing, "run.py", isolated=True) == []


def test_other_references_are_aliases() -> None:
    functions = _functions()
    assert not aliased(functions["reads"], "cfg")  # cfg["TASK"] and len(cfg)
    tree = ast.parse("def f(cfg):\n    other = cfg\n    return cfg['a']\n")
    scope = Analyzer(Checks()).run_module(SourceFile("alias.py", "", tree))
    binding = scope.lookup("f")
    assert binding is not None and isinstance(binding.value, FunctionRef)
    assert aliased(binding.value.fn, "cfg")
