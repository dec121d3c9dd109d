"""Which functions of a file are worth walking with unknown arguments: those that can reach
a loss, an activation, a log or an exp, through the names they use.

A function walked without its callers' arguments can find something only at a sink it
reaches: a torch loss, activation, log or exp (their names are in :mod:`torch_api`'s
tables), or a definition of this file that reaches one (a loss kept in a module-level
name or a ``self`` attribute, a helper, a model class), or a name imported from the
project. So the *hot* names are found as a fixpoint over the file's definitions, from
what each one mentions: never from how anything is spelled (renaming consistently maps
hot names to hot names), and never from comments. Calls with known arguments are walked
whatever this says: what the caller passes is its own hot value.

Measured on the benchmark corpus: walking every function that makes a call took 3x the
time of the whole analysis before this gate.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from xentguard.static import torch_api as api
from xentguard.static.walk import walk

# The torch names that are sinks or make the kinds sinks see: activations, losses, log,
# exp, the library trainers. (Linear layers make logits, which matter only at a loss.)
SINK_WORDS = frozenset(
    qualname.rsplit(".", 1)[-1]
    for table in (
        {q: k for q, k in {**api.PRODUCER_FUNCTIONS, **api.PRODUCER_LAYERS}.items() if k.name != "LOGITS"},
        api.PRODUCER_METHODS, api.LOSS_FUNCTIONS, api.LOSS_CLASSES, api.LOG_FUNCTIONS, api.EXP_FUNCTIONS,
        api.TRAINERS,
    )
    for qualname in table
) | {"log", "exp"}

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def mentions(node: ast.AST) -> set[str]:
    """Every name loaded and every attribute named in ``node``."""
    found: set[str] = set()
    for child in walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
    return found


def hot_names(tree: ast.Module, project_import: Iterable[str] = ()) -> frozenset[str] | None:
    """The names of ``tree`` through which a sink can be reached, or None when they cannot
    be known (a star import from the project binds names the text does not show).
    ``project_import``: the names the file binds by importing project modules."""
    definitions: list[tuple[set[str], set[str]]] = []  # (names defined, names mentioned)
    hot = set(SINK_WORDS) | set(project_import)
    if not _collect(tree.body, definitions, hot, cls=None):
        return None
    changed = True
    while changed:
        changed = False
        for defined, used in definitions:
            if not defined <= hot and used & hot:
                hot |= defined
                changed = True
    return frozenset(hot)


def _collect(body: list[ast.stmt], definitions: list[tuple[set[str], set[str]]], hot: set[str],
             cls: str | None) -> bool:
    for stmt in body:
        owner = {cls} if cls is not None else set()
        if isinstance(stmt, _FUNCTIONS):
            definitions.append(({stmt.name, *owner}, mentions(stmt)))
            for node in walk(stmt):
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    attrs = {t.attr for t in targets if isinstance(t, ast.Attribute)}
                    if attrs:
                        definitions.append((attrs | owner, mentions(node.value)))
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                        "add_module", "register_module", "append", "extend", "update"):
                    # ``self.add_module("head", nn.Softmax())``, ``layers.append(...)``.
                    definitions.append((mentions(node.func.value) | owner, mentions(node)))
        elif isinstance(stmt, ast.ClassDef):
            definitions.append(({stmt.name, *owner}, {name for base in stmt.bases for name in mentions(base)}))
            if not _collect(stmt.body, definitions, hot, cls=stmt.name):
                return False
            definitions.append((owner, {stmt.name}))
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name == "*":
                    if isinstance(stmt, ast.ImportFrom) and (stmt.level or not api.is_torch(stmt.module or "")):
                        return False
                    continue
                leaf = alias.name.rsplit(".", 1)[-1]
                if leaf in SINK_WORDS:
                    hot.add(alias.asname or leaf)
        elif isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)) or (
                type(stmt).__name__ in ("TryStar", "Match")):
            blocks = [getattr(stmt, name, []) for name in ("body", "orelse", "finalbody")]
            blocks += [handler.body for handler in getattr(stmt, "handlers", [])]
            blocks += [case.body for case in getattr(stmt, "cases", [])]
            if isinstance(stmt, (ast.For, ast.AsyncFor)):
                loop_names = {n.id for n in walk(stmt.target) if isinstance(n, ast.Name)}
                definitions.append((loop_names | owner, mentions(stmt.iter)))
            for block in blocks:
                if not _collect(block, definitions, hot, cls):
                    return False
        else:
            bound = {n.id for n in walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            bound |= {n.attr for n in walk(stmt) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)}
            used = mentions(stmt)
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(
                    stmt.value.func, ast.Attribute):
                bound |= mentions(stmt.value.func.value)  # ``layers.append(nn.Softmax())``
            definitions.append((bound | owner, used))
    return True
