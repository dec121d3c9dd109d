"""Construction flags: literals a constructor call passes that ``__init__`` stores on the
instance and its methods test (``PileupGRU(..., apply_softmax=True)``, ``self.apply_softmax
= apply_softmax``, ``if self.apply_softmax: x = F.softmax(x, dim=2)``).

The analysis keeps one set of attributes per class, joined over every store, so such a
test is undecided and the two branches' kinds are joined (no claim). For one construction
the test is decided when the attribute provably holds the literal for the instance's whole
life: ``__init__`` stores the parameter unconditionally, at its top level, and never
rebinds it; no other method of the class or its bases stores the attribute; no other code
of the project stores it by name (``net.apply_softmax = False``; a method of an unrelated
class storing it on its own instance, ``self.apply_softmax = ...``, binds that class's
instances only), and the class's module stores nothing by a computed name (``setattr``,
``__dict__``). Only literals the call writes count, not defaults: the default is the
common case every construction shares, and a finding needs no flag there.

Proving "no other code" reads the project's texts, so it is asked only when the flags
decide what a walk finds: a method of a flagged instance is walked both plainly and with
its tests decided, and only when the decided walk returns another kind or reports a
finding is the project read (Analyzer._flagged_summary); when a flag does not hold, the
plain walk's answer stands and what the decided walk reported is withdrawn.

Which attributes count is read off the class's tests, never its names.
"""

from __future__ import annotations

import ast
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from xentguard.static import torch_api as api
from xentguard.static.body_facts import ATTRIBUTE_PREFIX, body_facts
from xentguard.static.kinds import (
    Cases,
    Const,
    Fresh,
    Instance,
    Kind,
    LossFn,
    Mapping,
    OneOf,
    Shifted,
    Tensor,
    TupleOf,
    Unknown,
    Value,
)
from xentguard.static.scopes import ClassInfo, FunctionInfo, class_and_bases
from xentguard.static.source import SourceFile
from xentguard.static.text_facts import TextFacts, attribute_pattern
from xentguard.static.walk import walk

# Whether code outside the class's module may store the attribute on the instance:
# (attribute, the module's path, the (path, name) of the class and its bases) -> bool.
# None: a single file, no other code.
StoredElsewhere = Callable[[str, str, frozenset[tuple[str, str]]], bool]

_MAX_BASES = 20


def construction_flags(cls: ClassInfo, init: FunctionInfo, node: ast.Call, args: tuple[Value, ...],
                       kwargs: tuple[tuple[str, Value], ...]) -> tuple[tuple[str, Const], ...]:
    """The flags of ``cls(...)`` at ``node`` (see the module's docstring), by attribute, but
    for stores outside the class's methods: those are looked for only when the flags
    decide what a walk finds (elsewhere_check)."""
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return ()
    candidates = flag_parameters(cls, init)
    if not candidates:
        return ()
    parameters = [p.arg for p in init.params][1:]  # after self
    passed: dict[str, Value] = dict(zip(parameters, args))
    passed.update(kwargs)
    flags: list[tuple[str, Const]] = []
    for attr, param in sorted(candidates.items()):
        value = passed.get(param)
        if isinstance(value, Const) and value.value is not None:
            flags.append((attr, value))
    return tuple(flags)


def flag_parameters(cls: ClassInfo, init: FunctionInfo) -> dict[str, str]:
    """The parameters of ``init`` whose literal a construction of ``cls`` makes a flag,
    by the attribute that stores it: stored once in the class, unchanged, and tested by its
    methods (a caller's literal for one of them matters: Analyzer.literal_parameters)."""
    tested = tested_attributes(cls)
    if not tested:
        return {}
    # ``training`` is torch's own: ``model.train()`` / ``.eval()`` store it.
    return {attr: param for attr, param in parameter_stores(init).items()
            if attr in tested and attr not in api.MODULE_OWN_ATTRIBUTES and _stores_in_class(cls).get(attr, 0) == 1}


def elsewhere_check(cls: ClassInfo, init: FunctionInfo,
                    stored_elsewhere: StoredElsewhere | None) -> Callable[[str], bool]:
    """What an instance of ``cls`` asks when its flags decide what a walk finds (see
    Instance.stored_elsewhere): whether the constructor's module, or another module of
    the project, may store the attribute on the instance other than by ``__init__``."""
    path = init.file.path
    hierarchy = frozenset((os.path.abspath(info.file.path), info.name) for info in class_and_bases(cls, _MAX_BASES))

    def check(attr: str) -> bool:
        if stored_otherwise_in_module(init, attr):
            return True
        return stored_elsewhere is not None and stored_elsewhere(attr, path, hierarchy)

    return check


def may_store_on(receivers: frozenset[str | None] | set[str | None], path: str,
                 hierarchy: frozenset[tuple[str, str]]) -> bool:
    """Whether stores of an attribute in the module at ``path`` (their store_receivers)
    may reach an instance of the class whose hierarchy is given: any store but one on the
    first parameter of a method of a class outside the hierarchy (``self.apply_softmax =
    ...`` in another class binds that class's instances only)."""
    own = os.path.abspath(path)
    return any(receiver is None or (own, receiver) in hierarchy for receiver in receivers)


def store_receivers(tree: ast.AST, attr: str) -> set[str | None]:
    """What the stores of ``attr`` in ``tree`` store it on: the name of a class, for a
    store on the instance a method of that class binds (``self.flag = ...``, in the
    method's own body); None for any other store."""
    found: set[str | None] = set()
    # node, the class and instance name of the method whose own body it is in
    pending: list[tuple[ast.AST, tuple[str, str] | None]] = [(tree, None)]
    while pending:
        node, method = pending.pop()
        if isinstance(node, ast.ClassDef):
            for child in node.body:
                name = _instance_name(child) if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
                if name is not None:
                    assert isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                    pending.extend((stmt, (node.name, name)) for stmt in child.body)
                    pending.extend((d, None) for d in child.decorator_list)
                    pending.append((child.args, None))
                    if child.returns is not None:
                        pending.append((child.returns, None))
                else:
                    pending.append((child, None))
            pending.extend((d, None) for d in node.decorator_list)
            pending.extend((b, None) for b in (*node.bases, *node.keywords))
            continue
        if isinstance(node, ast.Attribute) and node.attr == attr and isinstance(node.ctx, (ast.Store, ast.Del)):
            own_instance = method is not None and isinstance(node.value, ast.Name) and node.value.id == method[1]
            found.add(method[0] if own_instance and method is not None else None)
        # Nested functions and lambdas bind names of their own: their stores count in full.
        inner = None if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else method
        pending.extend((child, inner) for child in ast.iter_child_nodes(node))
    return found


def _instance_name(method: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The name an instance method binds its instance to, if the body never rebinds it."""
    if any(isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod") for d in method.decorator_list):
        return None
    positional = [*method.args.posonlyargs, *method.args.args]
    if not positional:
        return None
    name = positional[0].arg
    for node in walk(method):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return None
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return None
    return name


def flag_of(instance: Instance, attr: str) -> Const | None:
    """The literal the instance's attribute holds for its whole life, if it is a flag (but
    for stores elsewhere in the project: see flags_hold, asked by the walk's caller)."""
    for name, value in instance.flags:
        if name == attr:
            return value
    return None


def flags_hold(instance: Instance) -> bool:
    """Whether no code but ``__init__`` may store one of the instance's flags."""
    check = instance.stored_elsewhere
    return check is None or not any(check(attr) for attr, _ in instance.flags)


def without_flags(instance: Instance) -> Instance:
    return Instance(instance.cls, instance.origin)


def kinds_shown(value: Value, depth: int = 0) -> object:
    """What of a walk's result can make a finding in a caller: the kinds of its tensors
    (not their origins), through tuples, dicts and unions, and the losses, models, exps
    and literals it holds; anything else (an unknown value, a fresh buffer) shows as
    None. Two results showing the same cannot make different findings but through a
    fresh buffer filled with exps, which the plain walk's answer then does without."""
    if depth > 8:
        return value
    if isinstance(value, Tensor):
        return (Tensor, value.kind, value.whole, value.bounded)
    if isinstance(value, TupleOf):
        return (TupleOf, tuple(kinds_shown(v, depth + 1) for v in value.items))
    if isinstance(value, Mapping):
        return (Mapping, value.sequence, tuple((k, kinds_shown(v, depth + 1)) for k, v in value.items))
    if isinstance(value, LossFn):
        return (LossFn, value.loss, value.bound_args, value.log_target)
    if isinstance(value, (OneOf, Cases)):
        members = value.members if isinstance(value, OneOf) else frozenset(value.values())
        return (OneOf, frozenset(kinds_shown(v, depth + 1) for v in members))
    if isinstance(value, (Unknown, Fresh, Shifted)):
        return None
    return value


_ACTIVATED = frozenset({Kind.PROBS, Kind.LOG_PROBS, Kind.SIGMOID, Kind.LOGGED})


def carries_a_kind(value: Value, depth: int = 0) -> bool:
    """Whether a walk's result holds what the flags of this bug class choose: an
    activation's output (probabilities, log-probabilities, a sigmoid, a log), a loss, a
    model, an exp. A flag that only tells logits from an unknown value (``if
    self.has_bias: bias = ...``, everywhere in large models) is left undecided: logits
    make a finding only where log-probabilities were due, and such a flag would cost a
    read of the project for every construction."""
    if depth > 8:
        return True
    if isinstance(value, Tensor):
        return value.kind in _ACTIVATED
    if isinstance(value, TupleOf):
        return any(carries_a_kind(v, depth + 1) for v in value.items)
    if isinstance(value, Mapping):
        return any(carries_a_kind(v, depth + 1) for _, v in value.items)
    if isinstance(value, OneOf):
        return any(carries_a_kind(v, depth + 1) for v in value.members)
    if isinstance(value, Cases):
        return any(carries_a_kind(v, depth + 1) for v in value.values())
    return not isinstance(value, (Unknown, Fresh, Shifted, Const))


_PARAMETER_STORES: weakref.WeakKeyDictionary[FunctionInfo, dict[str, str]] = weakref.WeakKeyDictionary()
_TESTED: weakref.WeakKeyDictionary[ClassInfo, frozenset[str]] = weakref.WeakKeyDictionary()
_STORES: weakref.WeakKeyDictionary[ClassInfo, dict[str, int]] = weakref.WeakKeyDictionary()


def parameter_stores(init: FunctionInfo) -> dict[str, str]:
    """``self.attr = param`` statements at the top level of ``init``'s body, by attribute,
    for parameters the body never rebinds."""
    found = _PARAMETER_STORES.get(init)
    if found is None:
        found = _PARAMETER_STORES[init] = _parameter_stores(init)
    return found


def _parameter_stores(init: FunctionInfo) -> dict[str, str]:
    return stored_parameters(init.node, [p.arg for p in init.params])


def stored_parameters(node: ast.AST, params: list[str], only: frozenset[str] | None = None) -> dict[str, str]:
    """The ``self.attr = param`` statements at the top level of a constructor's body, by
    attribute, for parameters (after ``self``, the first of ``params``) never rebound;
    ``only``: of these attributes only."""
    body = getattr(node, "body", None)
    if not params or not isinstance(body, list):
        return {}
    self_name = params[0]
    found: dict[str, str] = {}
    for stmt in body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.Name)):
            continue
        target = stmt.targets[0]
        if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                and target.value.id == self_name and stmt.value.id in params[1:]
                and (only is None or target.attr in only)):
            found[target.attr] = stmt.value.id
    if found:  # the walk for rebinding only where a store was found
        rebound = {n.id for n in walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        found = {attr: param for attr, param in found.items() if param not in rebound}
    return found


def construction_flag_tested(cls: ast.ClassDef) -> bool:
    """Whether a method of the class tests an attribute its ``__init__`` stores from a
    parameter: what the class's methods find then depends on the literal a constructor
    call in another file passes (see project.receivers)."""
    return declared_flags(cls) is not None


@dataclass(frozen=True)
class FlagParameters:
    """The parameters of a class's ``__init__`` after ``self``, in order (keyword-only ones
    after), and those a construction's literal makes a flag of."""

    positional: tuple[str, ...]
    flags: frozenset[str]


def declared_flags(cls: ast.ClassDef) -> FlagParameters | None:
    """The parameters of ``cls``'s own ``__init__`` that it stores on an attribute a method
    of the class tests (a literal for one is a flag); None when there are none."""
    methods = [m for m in cls.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
    init = next((m for m in methods if m.name == "__init__"), None)
    if init is None:
        return None
    tested = frozenset(attr for m in methods for attr in body_facts(m).first_attributes_tested)
    if not tested:
        return None
    arguments = init.args
    positional = [a.arg for a in (*arguments.posonlyargs, *arguments.args)]
    flags = frozenset(stored_parameters(init, [*positional, *(a.arg for a in arguments.kwonlyargs)], tested).values())
    if not flags:
        return None
    return FlagParameters(tuple(positional[1:]), flags)


def tested_attributes(cls: ClassInfo) -> frozenset[str]:
    """Attributes of ``self`` a test of a method of the class or its bases reads
    (``if self.flag:``, ``x if self.mode == "a" else y``, ``while self.flag and ...``)."""
    known = _TESTED.get(cls)
    if known is None:
        known = _TESTED[cls] = _tested_attributes(cls)
    return known


def _tested_attributes(cls: ClassInfo) -> frozenset[str]:
    return frozenset(attr for info in class_and_bases(cls, _MAX_BASES) for method in info.methods.values()
                     for attr in method.facts.first_attributes_tested)


def _stores_in_class(cls: ClassInfo) -> dict[str, int]:
    """How many statements of the methods of the class and its bases store each attribute."""
    known = _STORES.get(cls)
    if known is not None:
        return known
    counts: dict[str, int] = _STORES.setdefault(cls, {})
    for info in class_and_bases(cls, _MAX_BASES):
        for method in info.methods.values():
            for attributes, _ in body_facts(method.node).attribute_stores:
                for name in attributes:
                    if name.startswith(ATTRIBUTE_PREFIX):
                        key = name[len(ATTRIBUTE_PREFIX):]
                        counts[key] = counts.get(key, 0) + 1
    return counts


_OTHER_STORES: weakref.WeakKeyDictionary[SourceFile, dict[str, bool]] = weakref.WeakKeyDictionary()


def stored_otherwise_in_module(init: FunctionInfo, attr: str) -> bool:
    """Whether the constructor's module stores ``attr`` other than on a class's own
    instance in that class's methods (those of the hierarchy are counted by
    _stores_in_class), or stores by a computed name."""
    file = init.file
    known = _OTHER_STORES.setdefault(file, {})
    found = known.get(attr)
    if found is None:
        found = known[attr] = TextFacts(file.source).stores_dynamically or None in store_receivers(
            _statements_mentioning(file, attr), attr)
    return found


def _statements_mentioning(file: SourceFile, attr: str) -> ast.Module:
    """The module's top-level statements whose lines spell ``.attr`` (no other one can
    store it), as a module."""
    lines = {file.source.count("\n", 0, m.start()) + 1 for m in attribute_pattern(attr).finditer(file.source)}
    body = [stmt for stmt in file.tree.body
            if any(stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno) for line in lines)]
    return ast.Module(body=body, type_ignores=[])


__all__ = [
    "StoredElsewhere",
    "construction_flag_tested",
    "construction_flags",
    "elsewhere_check",
    "flag_of",
    "flags_hold",
    "kinds_shown",
    "may_store_on",
    "parameter_stores",
    "stored_otherwise_in_module",
    "stored_parameters",
    "tested_attributes",
    "without_flags",
]
