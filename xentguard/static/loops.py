"""Loops over literal tuples and lists, walked once per element.

``for bucket, item in zip((policies, values), (policy, value)): bucket.append(item)``
fills ``policies`` with ``policy`` and ``values`` with ``value``: the pairs are fixed by
the text, and each ``bucket`` *is* the list the tuple names (the same object, filled in
place). A loop over a list the analysis only knows the items of joins them (one element
stands for all); a loop over a literal of a few elements is walked once per element
instead, in order, its target bound to that element, and a list filled through the loop
variable is the list named there.

Only the shapes below count, and only when the literal is short: the elements written
out (``(a, b)``, ``[a, b]``), or ``zip`` / ``enumerate`` of such literals (the builtins:
a rebound name is someone else's function). A loop variable the body assigns to is not
the named list after that, so then nothing is written back; a loop that can ``break``
runs only some of the rows, so it is walked as any loop is.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from xentguard.static.walk import walk

# More elements than this are joined as any known list is: the body is walked per element.
MAX_UNROLLED = 8
_PAIRING_BUILTINS = frozenset({"zip", "enumerate"})


@dataclass(frozen=True)
class LiteralLoop:
    """A ``for`` over literals: ``columns`` are the literals (one, or zip's arguments, or
    enumerate's one), ``how`` is "items", "zip" or "enumerate"."""

    stmt: ast.For | ast.AsyncFor
    how: str
    columns: tuple[ast.Tuple | ast.List, ...]

    def aliases(self) -> list[list[tuple[str, str]]]:
        """For each row: (loop variable, the name the literal holds there) for each loop
        variable that stands for a named object and is never assigned in the body."""
        rows = min(len(column.elts) for column in self.columns)
        target = self.stmt.target
        variables: list[ast.expr] = []
        if self.how == "items":
            variables = [target]
        elif isinstance(target, (ast.Tuple, ast.List)):
            if self.how == "zip" and len(target.elts) == len(self.columns):
                variables = target.elts
            elif self.how == "enumerate" and len(target.elts) == 2:
                variables = [target.elts[1]]
        assigned = _assigned_names(self.stmt.body) if variables else set()
        found: list[list[tuple[str, str]]] = []
        for row in range(rows):
            pairs = ((name, column.elts[row]) for name, column in zip(variables, self.columns))
            found.append([(name.id, element.id) for name, element in pairs if isinstance(name, ast.Name)
                          and isinstance(element, ast.Name) and name.id not in assigned])
        return found


def literal_loop(stmt: ast.For | ast.AsyncFor, is_builtin: Callable[[str], bool]) -> LiteralLoop | None:
    """The loop as a :class:`LiteralLoop`, or None when its iterable is not one of the
    literal shapes. ``is_builtin``: whether a name still means the builtin where the loop
    is."""
    iterable = stmt.iter
    if _breaks(stmt.body):  # the rows after a break do not run: one walk of joined items
        return None
    if _is_short_literal(iterable):
        assert isinstance(iterable, (ast.Tuple, ast.List))
        return LiteralLoop(stmt, "items", (iterable,))
    if not (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name)
            and iterable.func.id in _PAIRING_BUILTINS and is_builtin(iterable.func.id) and not iterable.keywords
            and iterable.args and all(_is_short_literal(a) for a in iterable.args)):
        return None
    columns = tuple(a for a in iterable.args if isinstance(a, (ast.Tuple, ast.List)))
    if iterable.func.id == "enumerate" and len(columns) != 1:
        return None
    return LiteralLoop(stmt, iterable.func.id, columns)


def _is_short_literal(node: ast.expr) -> bool:
    return isinstance(node, (ast.Tuple, ast.List)) and 0 < len(node.elts) <= MAX_UNROLLED and not any(
        isinstance(e, ast.Starred) for e in node.elts)


def _breaks(body: list[ast.stmt]) -> bool:
    """Whether a ``break`` of this loop is in ``body`` (not one of a nested loop or scope)."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            pending.extend(node.orelse)  # its own body's breaks are its own
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        pending.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
    return False


def _assigned_names(body: list[ast.stmt]) -> set[str]:
    """Every name stored to anywhere in ``body`` (nested scopes too: never fewer)."""
    found: set[str] = set()
    for stmt in body:
        for node in walk(stmt):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                found.add(node.id)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                found.update(node.names)
    return found
