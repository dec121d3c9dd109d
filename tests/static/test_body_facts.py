"""One pass over a function: its local names, whether it calls a parameter, whether it
assigns attributes."""

from __future__ import annotations

import ast
import textwrap

from xentguard.static.body_facts import BodyFacts, body_facts


def facts(code: str) -> BodyFacts:
    function = ast.parse(textwrap.dedent(code)).body[0]
    assert isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
    return body_facts(function)


def test_local_names_are_parameters_and_bindings_of_this_scope_only() -> None:
    found = facts(
        """
        def f(a, /, b, *args, c, **kw):
            global g
            g = 1
            x, [y, *z] = pair
            for i in range(3):
                pass
            with open(p) as handle:
                pass
            import os.path, numpy as np
            from torch import nn
            if (w := 2):
                pass

            @decorate(v := 3)
            def inner(q):
                hidden = q
            class Inner:
                member = 1
            square = lambda t: (u := t)
            del x
        """
    )
    assert found.local_names == {"a", "b", "args", "c", "kw", "x", "y", "z", "i", "handle", "os", "np", "nn",
                                 "w", "v", "inner", "Inner", "square"}


def test_calls_of_parameters_other_than_self_are_seen_in_nested_code_too() -> None:
    assert facts("def f(self, loss_fn):\n    return [loss_fn(o) for o in self.outs]\n").calls_parameters
    assert facts("def f(model, x):\n    return model.forward(x)\n").calls_parameters
    assert facts("def f(model, x):\n    def g():\n        return model(x)\n    return g\n").calls_parameters
    assert not facts("def f(self, x):\n    return self(x) + x.sum()\n").calls_parameters
    assert not facts("def f(model, x):\n    return helper(model, x)\n").calls_parameters


def test_attribute_assignments_and_registered_submodules() -> None:
    assert facts("def f(self):\n    self.head: nn.Module = nn.Linear(2, 2)\n").assigns_attributes
    assert facts("def f(self):\n    self.add_module('act', nn.Softmax(1))\n").assigns_attributes
    assert facts("def f(self):\n    x[0] = 1\n    self.head(x)\n").assigns_attributes is False


def test_what_the_gate_and_the_receivers_need_comes_from_the_same_pass() -> None:
    found = facts(
        """
        def __init__(self, loss, width):
            super().__init__()
            Base.__init__(self)
            self.loss = loss
            self.head = Head(width)
            self.layers.append(Block())
            self.add_module("act", nn.Softmax(1))
            self.criterion(self.head.forward(x))
            y = super().forward(x)
        """
    )
    assert found.init_calls == {("super()", ""), ("name", "Base")}
    assert found.super_methods == {"forward"}
    assert ".__init__" not in found.mentions and ".forward" in found.mentions  # self.head.forward
    assert ".__init__" in found.reachable_names()
    assert set(found.attribute_stores) == {
        (frozenset({".loss"}), frozenset({"loss"})),
        (frozenset({".head"}), frozenset({"Head", "width"})),
        (frozenset({".layers"}), frozenset({"self", ".layers", ".append", "Block"})),
        (frozenset({".act"}), frozenset({"self", ".add_module", "nn", ".Softmax"})),
    }
    assert found.calls_on_first == {"criterion", "head", "add_module"}  # self.head.forward(...): head
    assert found.stored_from_parameters == {"loss"} and found.stored_otherwise == {"head"}


def test_facts_are_computed_once_per_node() -> None:
    function = ast.parse("def f(x):\n    return g(x)\n").body[0]
    assert isinstance(function, ast.FunctionDef)
    assert body_facts(function) is body_facts(function)


def test_a_dict_unpacking_and_a_keyword_only_parameter_without_default_are_walked_through() -> None:
    found = facts(
        """
        def f(*, options, scale=2):
            merged = {**options, "scale": scale, "head": nn.Softmax(dim=1)}
            return merged
        """
    )
    assert {"options", "scale", "nn", ".Softmax"} <= found.mentions
    assert found.makes_calls


def test_setting_parameters_are_the_tested_parameters_and_roots_of_tested_attributes() -> None:
    found = facts(
        """
        def f(out, opts, flag, cfg, rebound, other):
            if opts.loss == "nll" and not cfg.model.use_softmax:
                pass
            x = out if flag else None
            rebound = make()
            if rebound.loss:
                pass
            if other.loss > 2 or out is None:
                pass
        """
    )
    assert found.setting_parameters == {"opts", "flag", "cfg"}
    assert found.tested_parameters == {"flag", "out"}


def test_handed_parameters_are_those_passed_as_they_are_to_any_call() -> None:
    found = facts(
        """
        def main(args, loader, model, rebound, unused):
            net = trainer.get_model(args).to(args.device)
            run(loader, epochs=model)
            rebound = make()
            use(rebound, args.lr, loader.dataset)

            def inner():
                return unused
        """
    )
    assert found.handed_parameters == {"args", "loader", "model"}
