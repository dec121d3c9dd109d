"""What one pass over a function's tree tells: the names it binds, whether it makes calls
or calls one of its parameters, whether it assigns attributes, which parameters its
branches test.

Each function walked needs its local names, and deciding whether a function is worth
walking needs the other two; three separate walks of every function were a sixth of the
analysis' time on the benchmark corpus.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Union

from xentguard.static import torch_api as api
from xentguard.static.walk import child_nodes

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda]
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class BodyFacts:
    local_names: frozenset[str]  # parameters and the names the body binds (not nested scopes)
    calls_parameters: bool  # ``loss_fn(...)``, ``model(x)``, ``model.forward(x)`` (self/cls aside)
    assigns_attributes: bool  # ``self.<name> = ...`` or a registered submodule
    makes_calls: bool  # any call: without one, no loss, activation or log is reached
    # Parameters an ``if`` or a conditional expression tests and the body never rebinds:
    # a literal a caller passes for one (``train=True``) selects the branch.
    tested_parameters: frozenset[str] = frozenset()
    parameters: frozenset[str] = frozenset()
    mentions: frozenset[str] = frozenset()  # every name loaded and attribute named (see hotness)


def param_names(args: ast.arguments) -> frozenset[str]:
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    return frozenset(names)


def callable_parameters(args: ast.arguments) -> frozenset[str]:
    """Named parameters a caller may pass a loss or a model in (``self`` and ``cls`` aside)."""
    return frozenset(a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)) - {"self", "cls"}


def body_facts(function: FunctionNode) -> BodyFacts:
    names = set(param_names(function.args))
    callable_params = callable_parameters(function.args)
    declared_elsewhere: set[str] = set()  # global / nonlocal
    calls_parameters = assigns_attributes = makes_calls = False
    stored: set[str] = set()
    tested: set[str] = set()
    mentioned: set[str] = set()

    # (node, whether names it binds belong to this function's scope)
    body = function.body if isinstance(function.body, list) else []
    in_body = {id(stmt) for stmt in body}
    stack: list[tuple[ast.AST, bool]] = [(child, id(child) in in_body) for child in child_nodes(function)]
    while stack:
        node, local = stack.pop()
        if isinstance(node, ast.Name):
            mentioned.add(node.id)
            if local and isinstance(node.ctx, ast.Store):
                names.add(node.id)
                stored.add(node.id)
            continue
        if isinstance(node, ast.Attribute):
            mentioned.add(node.attr)
        if isinstance(node, (ast.If, ast.IfExp, ast.While)) and local:
            tested.update(n.id for n in _tested_names(node.test))
        if isinstance(node, ast.Call):
            makes_calls = True
            func = node.func
            if isinstance(func, ast.Attribute):
                if func.attr in api.SUBMODULE_REGISTRATIONS:
                    assigns_attributes = True
                elif func.attr == "forward":
                    func = func.value
            if isinstance(func, ast.Name) and func.id in callable_params:
                calls_parameters = True
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) for t in targets):
                assigns_attributes = True
        elif isinstance(node, _DEFINITIONS):
            if local:
                names.add(node.name)
            # Decorators run in this scope; the rest is the nested scope's own.
            decorators = {id(d) for d in node.decorator_list}
            stack.extend((child, local and id(child) in decorators) for child in child_nodes(node))
            continue
        elif isinstance(node, ast.Lambda):
            stack.extend((child, False) for child in child_nodes(node))
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if local:
                names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            continue
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            if local:
                declared_elsewhere.update(node.names)
            continue
        stack.extend((child, local) for child in child_nodes(node))
    tested_parameters = frozenset(tested & param_names(function.args) - stored - declared_elsewhere)
    return BodyFacts(frozenset(names - declared_elsewhere), calls_parameters, assigns_attributes, makes_calls,
                     tested_parameters, param_names(function.args), frozenset(mentioned))


def _tested_names(test: ast.expr) -> list[ast.Name]:
    """Names a branch test decides on: ``p``, ``not p``, ``p == "train"``, ``p is None``, and
    ``and`` / ``or`` of those."""
    if isinstance(test, ast.Name):
        return [test]
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _tested_names(test.operand)
    if isinstance(test, ast.BoolOp):
        return [name for value in test.values for name in _tested_names(value)]
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Name):
        return [test.left]
    return []


__all__ = ["BodyFacts", "FunctionNode", "body_facts", "callable_parameters", "param_names"]
