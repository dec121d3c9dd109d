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

Names are kept in two namespaces: variables, and attributes (``attribute_name``), since
only an attribute store (``self.head = ...``) defines an attribute and nothing else. A
``def``, a ``class``, an assignment to a name or an import defines both: a function of
the module is reachable as ``module.f`` too, a class-level name as ``self.name``.
``super().m`` and ``Base.__init__`` resolve to the methods of this file's classes they
can be (a qualified name, ``Class.method``, that names nothing else).

What each function mentions comes from :mod:`body_facts` (one pass per function, shared
with the walk). Measured on the benchmark corpus: walking every function that makes a
call took 3x the time of the whole analysis before this gate.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from xentguard.static import torch_api as api
from xentguard.static.body_facts import (
    ATTRIBUTE,
    ATTRIBUTE_PREFIX,
    NAMED,
    SUPER,
    BodyFacts,
    attribute_name,
    body_facts,
    imports_trainer,
    mentions,
)
from xentguard.static.prefilter import leaf_names
from xentguard.static.walk import walk

# The torch names where findings are made: losses (and library trainers, which call them),
# log and exp. A definition that mentions one, or a hot name, is hot, and so are the
# functions that mention it.
# (Library trainers are hot by the names their imports bind: see _Collector.imports.)
CONSUMING_WORDS = leaf_names(api.LOSS_FUNCTIONS, api.LOSS_CLASSES, api.LOG_FUNCTIONS, api.EXP_FUNCTIONS) | (
    api.LOG_METHODS | api.EXP_METHODS)  # ``p.log()``, ``x.exp()``
# Activations are findings where they are written (XG109) and make the kinds consuming
# sinks see, but a definition that only produces probabilities (an attention block, a
# model ending in softmax) causes no finding in its callers unless they consume it:
# a function mentioning one is walked, its callers are not on that account.
SINK_WORDS = CONSUMING_WORDS | leaf_names(api.ACTIVATIONS, api.PRODUCER_METHODS)

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
           *(getattr(ast, name) for name in ("TryStar", "Match") if hasattr(ast, name)))
Definition = tuple[set[str], set[str]]  # (names defined, names mentioned)


def both(names: Iterable[str]) -> set[str]:
    """A definition any code may reach by name or as an attribute: both spellings."""
    found = set(names)
    found.update(attribute_name(name) for name in list(found))
    return found


@dataclass
class Hotness:
    """The hot names of a file (None: unknowable), and what each function mentions and
    whether it makes a call, by function node."""

    names: frozenset[str] | None
    functions: dict[int, tuple[bool, frozenset[str]]] = field(default_factory=dict)
    direct: set[str] = field(default_factory=lambda: both(SINK_WORDS))  # activations, as the file imports them

    def worth_walking(self, node: ast.AST) -> bool | None:
        """None: the function is not one of this file's top-level functions or methods."""
        facts = self.functions.get(id(node))
        if facts is None:
            return None
        makes_calls, used = facts
        return makes_calls and self.reaches(used)

    def reaches(self, used: frozenset[str]) -> bool:
        return self.names is None or not self.names.isdisjoint(used) or not self.direct.isdisjoint(used)


def hotness(tree: ast.Module, project_import: Iterable[str] = (),
            inherited: Callable[[str], frozenset[str]] | None = None) -> Hotness:
    """The names of ``tree`` through which a sink can be reached, or None when they cannot
    be known (a star import from the project binds names the text does not show).
    ``project_import``: the names the file binds by importing project modules;
    ``inherited``: the hot attributes of a class imported as that name from the project,
    from its definition (a name that is no such class: none)."""
    collector = _Collector(both(CONSUMING_WORDS) | both(project_import))
    if not collector.collect(tree.body, None):
        return Hotness(None)
    definitions = collector.definitions + collector.inherited()
    hot = collector.hot
    if inherited is not None:
        # A class deriving from one reads its hot attributes as its own (the base's
        # ``self.criterion = nn.BCEWithLogitsLoss()`` in another file): hot here too, as
        # they would be if the base were defined in this file.
        for name in collector.base_mentions:
            hot.update(attribute_name(attribute) for attribute in inherited(name))
    changed = True
    while changed:
        changed = False
        for defined, used in definitions:
            if not defined <= hot and used & hot:
                hot |= defined
                changed = True
    return Hotness(frozenset(hot), collector.functions, collector.direct)


class _Collector:
    """The definitions of a file and what each mentions, in one pass over its statements
    (each function's facts come from body_facts)."""

    def __init__(self, hot: set[str]) -> None:
        self.hot = hot
        self.definitions: list[Definition] = []
        self.functions: dict[int, tuple[bool, frozenset[str]]] = {}
        self.direct = both(SINK_WORDS)
        self.bases: dict[str, set[str]] = {}  # class of this file -> the leaf names of its bases
        self.base_mentions: set[str] = set()  # the names the bases of this file's classes mention
        self.methods: set[str] = set()  # Class.method for every method of this file
        self.super_called: set[str] = set()  # the m of every super().m

    def inherited(self) -> list[Definition]:
        """A class without a method of its own runs its bases': ``__init__`` (one from
        elsewhere is as hot as its class), and every method some ``super().m`` calls (one
        from elsewhere: as hot as any method of that name)."""
        found: list[Definition] = []
        for name, leaves in self.bases.items():
            elsewhere = leaves - self.bases.keys()
            for method in {"__init__"} | self.super_called:
                if _method_of(name, method) in self.methods:
                    continue
                reached = {_method_of(b, method) for b in leaves}
                if method == "__init__":
                    reached |= elsewhere
                elif elsewhere:
                    reached.add(attribute_name(method))
                found.append(({_method_of(name, method)}, reached))
        return found

    def collect(self, body: list[ast.stmt], cls: str | None) -> bool:
        """False: a star import from the project (the names it binds are unknown)."""
        for stmt in body:
            if isinstance(stmt, _FUNCTIONS):
                self.function(stmt, cls)
            elif isinstance(stmt, ast.ClassDef):
                self.definitions.append((both({stmt.name}), {n for base in stmt.bases for n in mentions(base)}))
                self.bases[stmt.name] = base_leaves(stmt)
                self.base_mentions.update(n for base in stmt.bases for n in mentions(base))
                if not self.collect(stmt.body, stmt.name):
                    return False
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                if not self.imports(stmt):
                    return False
            elif isinstance(stmt, _BLOCKS):
                if isinstance(stmt, (ast.For, ast.AsyncFor)):
                    loop_names = both({n.id for n in walk(stmt.target) if isinstance(n, ast.Name)})
                    self.definitions.append((loop_names, mentions(stmt.iter)))
                if not self.collect(_blocks_of(stmt), cls):
                    return False
            else:
                self.statement(stmt)
        return True

    def function(self, stmt: ast.FunctionDef | ast.AsyncFunctionDef, cls: str | None) -> None:
        # A class is hot when calling its instances reaches a sink (its forward / __call__)
        # or when it derives from a hot name (a torch loss): not for its other methods,
        # which are hot under their own names.
        facts = body_facts(stmt)
        defined = both({stmt.name, *((cls,) if cls is not None and stmt.name in api.INSTANCE_CALL_METHODS else ())})
        if cls is not None:
            self.methods.add(_method_of(cls, stmt.name))
            defined.add(_method_of(cls, stmt.name))
        used = set(facts.mentions) | self.resolved(facts, stmt, cls)
        self.definitions.append((defined, used))
        for attributes, value in facts.attribute_stores:
            self.definitions.append((set(attributes), set(value)))
        self.hot.update(both(facts.trainer_imports))
        self.functions[id(stmt)] = (facts.makes_calls, frozenset(used))

    def resolved(self, facts: BodyFacts, stmt: ast.FunctionDef | ast.AsyncFunctionDef, cls: str | None) -> set[str]:
        """The methods ``<receiver>.__init__`` and ``super().m`` may be: the enclosing
        class's bases' for ``super()``, ``Base``'s for ``Base.__init__``, and any (the
        name every such method defines) for the method's own instance or an expression."""
        found: set[str] = set()
        leaves = self.bases.get(cls) if cls is not None else None
        positional = [*stmt.args.posonlyargs, *stmt.args.args]
        first_parameter = positional[0].arg if positional and cls is not None else None
        for how, leaf in facts.init_calls:
            if how == SUPER:
                found |= {_init_of(b) for b in leaves} if leaves is not None else {"__init__"}
            elif how == ATTRIBUTE or (how == NAMED and leaf != first_parameter):
                found.add(_init_of(leaf))
            else:
                found.add("__init__")
        for method in facts.super_methods:
            self.super_called.add(method)
            if leaves is None:
                found.add(attribute_name(method))
                continue
            found |= {_method_of(b, method) for b in leaves}
            if not leaves <= self.bases.keys():  # a base from elsewhere: any such method
                found.add(attribute_name(method))
        return found

    def imports(self, stmt: ast.Import | ast.ImportFrom) -> bool:
        if imports_trainer(stmt):
            self.hot.update(both((a.asname or a.name).split(".")[0] for a in stmt.names))  # a trainer library
        for alias in stmt.names:
            if alias.name == "*":
                if isinstance(stmt, ast.ImportFrom) and (stmt.level or not api.is_torch(stmt.module or "")):
                    return False
                continue
            leaf = alias.name.rsplit(".", 1)[-1]
            if leaf in CONSUMING_WORDS:
                self.hot.update(both({alias.asname or leaf}))
            elif leaf in SINK_WORDS and alias.asname:
                self.direct.update(both({alias.asname}))  # ``softmax as sm``: sm is an activation
        return True

    def statement(self, stmt: ast.stmt) -> None:
        """Any other statement: the names and attributes it stores are defined by what it
        mentions (``layers.append(nn.Softmax())`` fills ``layers``)."""
        bound = both({n.id for n in walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)})
        bound |= {attribute_name(n.attr) for n in walk(stmt)
                  if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)}
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(
                stmt.value.func, ast.Attribute):
            bound |= mentions(stmt.value.func.value)
        self.definitions.append((bound, mentions(stmt)))


def top_level_classes(tree: ast.Module) -> list[ast.ClassDef]:
    """The classes a module defines at its top level, also under ``if``/``try`` blocks."""
    found: list[ast.ClassDef] = []
    pending = deque(tree.body)
    while pending:
        stmt = pending.popleft()
        if isinstance(stmt, ast.ClassDef):
            found.append(stmt)
        elif isinstance(stmt, _BLOCKS):
            pending.extend(_blocks_of(stmt))
    return found


def class_attributes(node: ast.ClassDef) -> frozenset[str]:
    """The attribute names an instance of the class has from its own body: its methods,
    its class-level names, and every attribute its methods store (``self.loss = ...``)."""
    found: set[str] = set()
    pending = deque(node.body)
    while pending:
        stmt = pending.popleft()
        if isinstance(stmt, _FUNCTIONS):
            found.add(stmt.name)
            for attributes, _ in body_facts(stmt).attribute_stores:
                found.update(a[len(ATTRIBUTE_PREFIX):] for a in attributes if a.startswith(ATTRIBUTE_PREFIX))
        elif isinstance(stmt, ast.ClassDef):
            found.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            found.update(n.id for target in targets for n in walk(target) if isinstance(n, ast.Name))
        elif isinstance(stmt, _BLOCKS):
            pending.extend(_blocks_of(stmt))
    return frozenset(found)


def base_leaves(node: ast.ClassDef) -> set[str]:
    """The last names of a class's bases (``nn.Module``: Module)."""
    return {leaf for base in node.bases if (leaf := _leaf(base)) is not None}


def _blocks_of(stmt: ast.stmt) -> list[ast.stmt]:
    blocks = [getattr(stmt, name, []) for name in ("body", "orelse", "finalbody")]
    blocks += [handler.body for handler in getattr(stmt, "handlers", [])]
    blocks += [case.body for case in getattr(stmt, "cases", [])]
    return [inner for block in blocks for inner in block]


def _method_of(cls: str, method: str) -> str:
    """The hot name of a method of a class of this file (neither an identifier nor an
    attribute name: it names nothing else)."""
    return f"{cls}.{method}"


def _init_of(cls: str) -> str:
    return _method_of(cls, "__init__")


def _leaf(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


__all__ = ["CONSUMING_WORDS", "SINK_WORDS", "Hotness", "base_leaves", "both", "class_attributes", "hotness",
           "top_level_classes"]
