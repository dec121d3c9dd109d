"""What the analysis reads straight off the syntax: literals, parameters, decorators,
and tests on ``self.training``; plus the walk state (:class:`Frame`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from xentguard.static.kinds import Const, Value
from xentguard.static.scopes import FunctionInfo, Scope
from xentguard.static.source import SourceFile


@dataclass
class Frame:
    """The state of one walk through a function body (or the module body)."""

    file: SourceFile
    scope: Scope
    fn: FunctionInfo | None = None
    self_name: str | None = None
    returns: list[Value] = field(default_factory=list)
    eval_only: bool = False
    # This walk is for one call, whose literal arguments select branches (``if train:``).
    literals: bool = False


def subframe(frame: Frame, scope: Scope, eval_only: bool) -> Frame:
    """A branch of ``frame``'s walk with its own scope and returns."""
    return Frame(frame.file, scope, frame.fn, frame.self_name, [], eval_only, frame.literals)


def branch_taken(test: ast.expr, frame: Frame) -> str | None:
    """'body' or 'orelse' when the test is decided here: by ``self.training`` (the training
    path is the one walked) or by a literal a caller passed for a tested parameter."""
    branch = training_branch(test)
    if branch is not None:
        return branch
    if not frame.literals or frame.fn is None:
        return None
    truth = _truth(test, frame, frame.fn.facts.tested_parameters)
    if truth is None:
        return None
    return "body" if truth else "orelse"


def _truth(test: ast.expr, frame: Frame, tested: frozenset[str]) -> bool | None:
    if isinstance(test, ast.Name):
        value = _literal_parameter(test, frame, tested)
        return None if value is _UNDECIDED else bool(value)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _truth(test.operand, frame, tested)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        truths = [_truth(v, frame, tested) for v in test.values]
        decisive = isinstance(test.op, ast.Or)  # True decides an or, False an and
        if decisive in truths:
            return decisive
        return None if None in truths else not decisive
    if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Name)
            and isinstance(test.comparators[0], ast.Constant)):
        value = _literal_parameter(test.left, frame, tested)
        if value is _UNDECIDED:
            return None
        other, op = test.comparators[0].value, test.ops[0]
        if isinstance(op, (ast.Eq, ast.NotEq)) and type(value) is type(other):
            return (value == other) == isinstance(op, ast.Eq)
        if isinstance(op, (ast.Is, ast.IsNot)) and other is None:
            return (value is None) == isinstance(op, ast.Is)
    return None


_UNDECIDED = object()


def _literal_parameter(name: ast.Name, frame: Frame, tested: frozenset[str]) -> object:
    if name.id not in tested:
        return _UNDECIDED
    value = frame.scope.value(name.id)
    return value.value if isinstance(value, Const) else _UNDECIDED


class NoLiteral:
    """Marks an expression that is not a str/int literal."""


NO_LITERAL = NoLiteral()


def literal(node: ast.expr | None) -> object:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        if isinstance(node.operand.value, int) and not isinstance(node.operand.value, bool):
            return -node.operand.value
    return NO_LITERAL


def decorator_names(fn: FunctionInfo) -> set[str]:
    node = fn.node
    if isinstance(node, ast.Lambda):
        return set()
    names = set()
    for d in node.decorator_list:
        if isinstance(d, ast.Name):
            names.add(d.id)
        elif isinstance(d, ast.Attribute):
            names.add(d.attr)
    return names


def is_static(fn: FunctionInfo) -> bool:
    return bool(decorator_names(fn) & {"staticmethod", "classmethod"})


def is_property(fn: FunctionInfo) -> bool:
    return bool(decorator_names(fn) & {"property", "cached_property"})


def training_branch(test: ast.expr) -> str | None:
    """'body' when the if-body is the training path (``if self.training:``), 'orelse' for
    ``if not self.training:``, None when the test says nothing about training."""
    if isinstance(test, ast.Attribute) and test.attr == "training":
        return "body"
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = training_branch(test.operand)
        if inner is not None:
            return "orelse" if inner == "body" else "body"
    return None
