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

# Fields of a list that may hold None besides nodes (``expr?*`` in the grammar):
# ``{**extra}``'s key, a keyword-only parameter without a default.
_LISTS_WITH_NONE = frozenset({(ast.Dict, "keys"), (ast.arguments, "kw_defaults")})

_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def attribute_root(node: ast.expr) -> ast.expr:
    """The expression an attribute chain starts from: ``cfg`` of ``cfg.model.name``."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node
# Per node class: (fields holding a list of nodes only, the other fields that can hold nodes).
SPLIT_FIELDS: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # filled by split_fields


def _child_fields(cls: type) -> tuple[str, ...]:
    fields = () if issubclass(cls, _LEAF_CLASSES) else tuple(
        name for name in getattr(cls, "_fields", ()) if name not in _LEAF_FIELDS)
    _CHILD_FIELDS[cls] = fields
    return fields


def child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that can hold nodes."""
    fields = _CHILD_FIELDS.get(cls)
    return fields if fields is not None else _child_fields(cls)


def split_fields(node: ast.AST) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The fields of ``node``'s class that hold a list of nodes only (``extend`` a stack
    with them as they are), and the others that can hold nodes (a node, None, or a list
    that may hold None). A field is a list in every node of a class, or in none."""
    cls = type(node)
    found = SPLIT_FIELDS.get(cls)
    if found is None:
        lists = tuple(name for name in child_fields(cls)
                      if type(getattr(node, name, None)) is list and (cls, name) not in _LISTS_WITH_NONE)
        found = SPLIT_FIELDS[cls] = (lists, tuple(name for name in child_fields(cls) if name not in lists))
    return found


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
    get_split = SPLIT_FIELDS.get
    while stack:
        current = pop()
        yield current
        lists, others = get_split(type(current)) or split_fields(current)
        for name in lists:
            extend(getattr(current, name))
        for name in others:
            value = getattr(current, name, None)
            if value is None:
                continue
            if type(value) is list:
                extend([item for item in value if isinstance(item, ast.AST)])
            elif isinstance(value, ast.AST):
                stack.append(value)


__all__ = ["SPLIT_FIELDS", "child_fields", "child_nodes", "split_fields", "walk"]
