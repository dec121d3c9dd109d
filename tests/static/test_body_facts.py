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
