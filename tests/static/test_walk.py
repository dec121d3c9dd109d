"""The fast tree walk must see exactly the nodes ``ast.walk`` sees (less the singletons of
the Load/Store contexts and of the operators: checks read ``node.op``, never walk to it)."""

from __future__ import annotations

import ast
import sysconfig
from collections import Counter
from pathlib import Path

import pytest

from xentguard.static.walk import child_nodes, walk

NEWEST_SYNTAX = '''
match command:
    case {"go": [x, *rest], **others} if x > 0:
        pass
    case Point(x=0, y=None) | [1, 2, *_]:
        pass
    case str() as name:
        pass
global g
lambda *a, k=1, **kw: (yield from a)
f"{value!r:>{width}}"
async def f():
    async with a as b, c:
        [i async for i in b if await i]
try:
    pass
except* ValueError as error:
    del error
x: int = (y := 3)
'''


_SINGLETONS = (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)


def nodes_seen_by_ast_walk(tree: ast.AST) -> Counter[int]:
    return Counter(id(node) for node in ast.walk(tree) if not isinstance(node, _SINGLETONS))


def stdlib_files() -> list[Path]:
    return sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:120]


@pytest.mark.parametrize("path", stdlib_files(), ids=lambda p: p.name)
def test_walk_sees_every_node_of_stdlib_modules(path: Path) -> None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        pytest.skip("not parsable by this Python")
    assert Counter(id(node) for node in walk(tree)) == nodes_seen_by_ast_walk(tree)


def test_walk_sees_every_node_of_newest_syntax() -> None:
    try:
        tree = ast.parse(NEWEST_SYNTAX)
    except SyntaxError:
        pytest.skip("this Python predates match / except*")
    assert Counter(id(node) for node in walk(tree)) == nodes_seen_by_ast_walk(tree)


def test_child_nodes_are_the_direct_children_in_field_order() -> None:
    tree = ast.parse("f(a, *b, k=c)[d] = {e: g, **h}")
    for node in walk(tree):
        expected = [child for child in ast.iter_child_nodes(node) if not isinstance(child, _SINGLETONS)]
        assert child_nodes(node) == expected


def test_lists_that_may_hold_none_yield_only_nodes() -> None:
    # ``{**extra}`` has a None key and ``*, k`` a None default: the only lists of the
    # grammar holding something besides nodes. Seen first here, in either order.
    for code in ("def f(*, k, m=1):\n    return {**k, 'a': m}", "{**k, 'a': m}\ndef f(*, k, m=1): pass"):
        tree = ast.parse(code)
        seen = list(walk(tree))
        assert all(isinstance(node, ast.AST) for node in seen)
        assert Counter(id(node) for node in seen) == nodes_seen_by_ast_walk(tree)
