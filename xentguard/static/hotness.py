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
from dataclasses import dataclass, field

from xentguard.static import torch_api as api
from xentguard.static.prefilter import leaf_names
from xentguard.static.walk import walk

# The torch names where findings are made: losses (and library trainers, which call them),
# log and exp. A definition that mentions one, or a hot name, is hot, and so are the
# functions that mention it.
CONSUMING_WORDS = leaf_names(api.LOSS_FUNCTIONS, api.LOSS_CLASSES, api.LOG_FUNCTIONS, api.EXP_FUNCTIONS) | {
    "log", "exp"}  # library trainers: the names their packages' imports bind (see _collect)
# Activations are findings where they are written (XG109) and make the kinds consuming
# sinks see, but a definition that only produces probabilities (an attention block, a
# model ending in softmax) causes no finding in its callers unless they consume it:
# a function mentioning one is walked, its callers are not on that account.
SINK_WORDS = CONSUMING_WORDS | leaf_names(api.ACTIVATIONS, api.PRODUCER_METHODS)

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_CALLED_AS_INSTANCE = frozenset({"forward", "__call__"})


def mentions(node: ast.AST) -> set[str]:
    """Every name loaded and every attribute named in ``node``."""
    found: set[str] = set()
    for child in walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
    return found


@dataclass
class Hotness:
    """The hot names of a file (None: unknowable), and what each function mentions and
    whether it makes a call, by function node (from the same pass)."""

    names: frozenset[str] | None
    functions: dict[int, tuple[bool, frozenset[str]]] = field(default_factory=dict)
    direct: set[str] = field(default_factory=lambda: set(SINK_WORDS))  # activations, as the file imports them

    def worth_walking(self, node: ast.AST) -> bool | None:
        """None: the function is not one of this file's top-level functions or methods."""
        facts = self.functions.get(id(node))
        if facts is None:
            return None
        makes_calls, used = facts
        return makes_calls and self.reaches(used)

    def reaches(self, used: frozenset[str]) -> bool:
        return self.names is None or not self.names.isdisjoint(used) or not self.direct.isdisjoint(used)


def hotness(tree: ast.Module, project_import: Iterable[str] = ()) -> Hotness:
    """The names of ``tree`` through which a sink can be reached, or None when they cannot
    be known (a star import from the project binds names the text does not show).
    ``project_import``: the names the file binds by importing project modules."""
    definitions: list[tuple[set[str], set[str]]] = []  # (names defined, names mentioned)
    hot = set(CONSUMING_WORDS) | set(project_import)
    result = Hotness(None)
    bases: dict[str, set[str]] = {}
    if not _collect(tree.body, definitions, hot, None, result.functions, result.direct, bases):
        return result
    for name, leaves in bases.items():
        # A class without an ``__init__`` of its own runs its bases' (one from elsewhere is
        # as hot as its class).
        definitions.append(({_init_of(name)}, {_init_of(b) for b in leaves} | (leaves - bases.keys())))
    changed = True
    while changed:
        changed = False
        for defined, used in definitions:
            if not defined <= hot and used & hot:
                hot |= defined
                changed = True
    result.names = frozenset(hot)
    return result


def _collect(body: list[ast.stmt], definitions: list[tuple[set[str], set[str]]], hot: set[str],
             cls: str | None, functions: dict[int, tuple[bool, frozenset[str]]], direct: set[str],
             bases: dict[str, set[str]]) -> bool:
    for stmt in body:
        # A class is hot when calling its instances reaches a sink (its forward / __call__)
        # or when it derives from a hot name (a torch loss): not for its other methods,
        # which are hot under their own names.
        owner = {cls} if cls is not None else set()
        if isinstance(stmt, _FUNCTIONS):
            used: set[str] = set()
            defined = {stmt.name, *(owner if stmt.name in _CALLED_AS_INSTANCE else ())}
            if stmt.name == "__init__" and cls is not None:
                defined.add(_init_of(cls))
            definitions.append((defined, used))
            positional = [*stmt.args.posonlyargs, *stmt.args.args]
            first_parameter = positional[0].arg if positional and cls is not None else None
            makes_calls = False
            for node in walk(stmt):
                if isinstance(node, ast.Name):
                    used.add(node.id)
                    continue
                if isinstance(node, ast.Attribute):
                    if node.attr == "__init__":
                        used.update(_inits_reached(node.value, bases.get(cls) if cls is not None else None,
                                                   first_parameter))
                    else:
                        used.add(node.attr)
                elif isinstance(node, ast.Call):
                    makes_calls = True
                elif isinstance(node, (ast.Import, ast.ImportFrom)) and _imports_trainer(node):
                    hot.update((a.asname or a.name).split(".")[0] for a in node.names)
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    attrs = {t.attr for t in targets if isinstance(t, ast.Attribute)}
                    if attrs:
                        definitions.append((attrs, mentions(node.value)))
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                        node.func.attr in api.FILLING_METHODS):
                    # ``self.add_module("head", nn.Softmax())``, ``layers.append(...)``.
                    definitions.append((_filled(node), mentions(node)))
            functions[id(stmt)] = (makes_calls, frozenset(used))
        elif isinstance(stmt, ast.ClassDef):
            definitions.append(({stmt.name}, {name for base in stmt.bases for name in mentions(base)}))
            bases[stmt.name] = {leaf for base in stmt.bases if (leaf := _leaf(base)) is not None}
            if not _collect(stmt.body, definitions, hot, stmt.name, functions, direct, bases):
                return False
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            if _imports_trainer(stmt):
                hot.update((a.asname or a.name).split(".")[0] for a in stmt.names)  # a trainer library
            for alias in stmt.names:
                if alias.name == "*":
                    if isinstance(stmt, ast.ImportFrom) and (stmt.level or not api.is_torch(stmt.module or "")):
                        return False
                    continue
                leaf = alias.name.rsplit(".", 1)[-1]
                if leaf in CONSUMING_WORDS:
                    hot.add(alias.asname or leaf)
                elif leaf in SINK_WORDS and alias.asname:
                    direct.add(alias.asname)  # ``softmax as sm``: sm is an activation
        elif isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)) or (
                type(stmt).__name__ in ("TryStar", "Match")):
            blocks = [getattr(stmt, name, []) for name in ("body", "orelse", "finalbody")]
            blocks += [handler.body for handler in getattr(stmt, "handlers", [])]
            blocks += [case.body for case in getattr(stmt, "cases", [])]
            if isinstance(stmt, (ast.For, ast.AsyncFor)):
                loop_names = {n.id for n in walk(stmt.target) if isinstance(n, ast.Name)}
                definitions.append((loop_names, mentions(stmt.iter)))
            for block in blocks:
                if not _collect(block, definitions, hot, cls, functions, direct, bases):
                    return False
        else:
            bound = {n.id for n in walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            bound |= {n.attr for n in walk(stmt) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)}
            used = mentions(stmt)
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(
                    stmt.value.func, ast.Attribute):
                bound |= mentions(stmt.value.func.value)  # ``layers.append(nn.Softmax())``
            definitions.append((bound, used))
    return True


def _filled(call: ast.Call) -> set[str]:
    """The names a container call fills: the attribute ``self.layers.append(x)`` fills (not
    ``self``, which every method mentions), the named submodule of ``add_module("head",
    x)``, every name of the receiver otherwise."""
    assert isinstance(call.func, ast.Attribute)
    receiver = call.func.value
    if call.func.attr in api.SUBMODULE_REGISTRATIONS and call.args and isinstance(
            call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return {call.args[0].value}
    if isinstance(receiver, ast.Attribute):
        return {receiver.attr}
    return mentions(receiver)


def _init_of(cls: str) -> str:
    """The hot name of a class's ``__init__`` (not an identifier: it names no other thing)."""
    return f"{cls}.__init__"


def _inits_reached(receiver: ast.expr, bases: set[str] | None, first_parameter: str | None) -> set[str]:
    """The ``__init__`` methods ``receiver.__init__`` may be: the enclosing class's bases'
    for ``super().__init__``, ``Base``'s for ``Base.__init__``, and any (the bare name,
    which every ``__init__`` defines) for the method's own instance or an expression."""
    if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name) and receiver.func.id == "super":
        return {_init_of(b) for b in bases} if bases is not None else {"__init__"}
    leaf = _leaf(receiver)
    if leaf is None or (isinstance(receiver, ast.Name) and receiver.id == first_parameter):
        return {"__init__"}
    return {_init_of(leaf)}


def _leaf(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _imports_trainer(node: ast.Import | ast.ImportFrom) -> bool:
    """An import from a library whose entry points call losses (``torch_api.TRAINERS``)."""
    packages = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
    return any(package.split(".", 1)[0] in api.TRAINER_PACKAGES for package in packages)
