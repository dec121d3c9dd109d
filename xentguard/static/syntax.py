"""What the analysis reads straight off the syntax: literals, parameters, decorators,
and tests on ``self.training``; plus the walk state (:class:`Frame`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from xentguard.static.kinds import Value
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


def subframe(frame: Frame, scope: Scope, eval_only: bool) -> Frame:
    """A branch of ``frame``'s walk with its own scope and returns."""
    return Frame(frame.file, scope, frame.fn, frame.self_name, [], eval_only)


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
