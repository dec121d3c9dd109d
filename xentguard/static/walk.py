"""Fast traversal of stdlib ``ast`` trees.

``ast.walk`` asks every node for every field through two generator layers
(``iter_child_nodes`` over ``iter_fields``); on a real corpus that was the single largest
cost of the analysis. Here each node class's fields that can hold nodes are computed once,
names, contexts, operators and constants are skipped, and the walk is a plain stack (depth first:
no caller depends on ``ast.walk``'s breadth-first order).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

# Fields that never hold a node (identifiers, flags), or only the singletons of the
# Load/Store contexts and of the operators (``node.op`` is read where it matters).
_LEAF_FIELDS = frozenset({
    "ctx", "id", "attr", "arg", "name", "asname", "module", "level", "kind", "type_comment", "conversion",
    "is_async", "simple", "tag", "rest", "kwd_attrs", "op", "ops",
})
# Node classes whose remaining fields hold plain values (constants, lists of identifiers).
# (``match`` patterns exist from Python 3.10 on.)
_LEAF_CLASSES: tuple[type, ...] = (ast.Constant, ast.Global, ast.Nonlocal, *(
    getattr(ast, name) for name in ("MatchSingleton",) if hasattr(ast, name)))

_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    fields = () if issubclass(cls, _LEAF_CLASSES) else tuple(
        name for name in getattr(cls, "_fields", ()) if name not in _LEAF_FIELDS)
    _CHILD_FIELDS[cls] = fields
    return fields


def child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that can hold nodes."""
    fields = _CHILD_FIELDS.get(cls)
    return fields if fields is not None else _child_fields(cls)


def child_nodes(node: ast.AST) -> list[ast.AST]:
    """The direct children of ``node`` that are nodes, in field order."""
    children: list[ast.AST] = []
    fields = _CHILD_FIELDS.get(type(node))
    if fields is None:
        fields = _child_fields(type(node))
    for name in fields:
        value = getattr(node, name, None)
        if value is None:
            continue
        if type(value) is list:
            children.extend(item for item in value if isinstance(item, ast.AST))
        elif isinstance(value, ast.AST):
            children.append(value)
    return children


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """``node`` and every node below it (like ``ast.walk``, depth first)."""
    # child_nodes() inlined: a call and a list per node made this walk 1.7x slower.
    stack = [node]
    pop = stack.pop
    extend = stack.extend
    get_fields = _CHILD_FIELDS.get
    while stack:
        current = pop()
        yield current
        fields = get_fields(type(current))
        if fields is None:
            fields = _child_fields(type(current))
        for name in fields:
            value = getattr(current, name, None)
            if value is None:
                continue
            if type(value) is list:
                extend([item for item in value if isinstance(item, ast.AST)])
            elif isinstance(value, ast.AST):
                stack.append(value)


__all__ = ["child_fields", "child_nodes", "walk"]
