"""Inherited methods walked again for a subclass whose own literal they read.

A class's attributes are what its methods store, each method walked once for the class
that defines it. A base method that builds an attribute from another one
(``self.criterion = self.make_criterion(self.loss_type)``) then stores what it builds from
the *base's* value of that attribute (``self.loss_type = None``), while an instance of a
subclass that stores its own literal (``self.loss_type = "CL"`` after ``super().__init__``)
gets what the literal builds. So for such a subclass the base methods reading one of its
literal attributes are walked again on its instances, and what they store is the
subclass's.

Only for a literal the instance holds for its whole life: the subclass's ``__init__`` stores
it once, unconditionally at its top level, after any call of a base's ``__init__``; no other
method of the hierarchy but a base's ``__init__`` (run before it) stores it, and no other
code of the project (``model.loss_type = "SL"`` by its user: see flags.may_store_on).
And only when that is the whole story of each attribute the methods store: every other
inherited method storing one of them is walked again with them, and no ``__init__`` of a
base stores one (a constructor's stores are not walked for the subclass: they would stay
joined with the base's). Otherwise nothing is walked again and the base's joined values
stand.
"""

from __future__ import annotations

import ast

from xentguard.static.body_facts import ATTRIBUTE_PREFIX, attribute_name
from xentguard.static.flags import StoredElsewhere, stored_otherwise_in_module
from xentguard.static.kinds import Const
from xentguard.static.scopes import ClassInfo, FunctionInfo, class_and_bases
from xentguard.static.syntax import is_static

_MAX_BASES = 20


def inherited_rewalks(cls: ClassInfo, stored_elsewhere: StoredElsewhere | None) -> list[FunctionInfo]:
    """The inherited methods to walk on instances of ``cls`` (see the module's docstring),
    given what its own methods stored (``cls.assigned``)."""
    init = cls.methods.get("__init__")
    if init is None or not cls.bases:
        return []
    candidates = {attr for attr, value in cls.assigned.items() if isinstance(value, Const)}
    stores = _top_level_literal_stores(init) if candidates else {}
    literals = {attribute_name(attr) for attr in candidates if attr in stores}
    if not literals:
        return []
    hierarchy = class_and_bases(cls, _MAX_BASES)
    inherited: dict[str, FunctionInfo] = {}
    inits: list[FunctionInfo] = []
    for owner in hierarchy:
        for name, method in owner.methods.items():
            if name == "__init__":
                if owner is not cls:
                    inits.append(method)
            elif name not in cls.methods and name not in inherited:
                inherited[name] = method  # the nearest base's: what the instance calls
    storing = [m for m in inherited.values() if m.assigns_attributes and not is_static(m)]
    chosen = [m for m in storing if not m.facts.mentions.isdisjoint(literals)]
    if not chosen:
        return []
    read = {name for m in chosen for name in m.facts.mentions & literals}
    others = [m for owner in hierarchy for m in owner.methods.values() if m is not init and m not in inits]
    if not _stored(others).isdisjoint(read) or any(
            sum(1 for attrs, _ in init.facts.attribute_stores if name in attrs) != 1 for name in read):
        return []  # another method may change the literal (a base's reset, a setter)
    if any(_stored_outside_methods(init, name[len(ATTRIBUTE_PREFIX):], stored_elsewhere) for name in read):
        return []  # its user may store another one (``model.loss_type = "SL"``)
    stored = _stored(chosen)
    while True:  # every method storing what the chosen ones store is walked with them
        more = [m for m in storing if m not in chosen and not _stored([m]).isdisjoint(stored)]
        if not more:
            break
        chosen.extend(more)
        stored |= _stored(more)
    if any(not _stored([init]).isdisjoint(stored) for init in inits):
        return []
    return chosen


def _stored(methods: list[FunctionInfo]) -> set[str]:
    return {attr for m in methods for attrs, _ in m.facts.attribute_stores for attr in attrs}


def _stored_outside_methods(init: FunctionInfo, attr: str, stored_elsewhere: StoredElsewhere | None) -> bool:
    """Whether code other than a class's own methods on its own instance may store ``attr``:
    in the constructor's module or any other (the hierarchy's methods are read above)."""
    if stored_otherwise_in_module(init, attr):
        return True
    return stored_elsewhere is not None and stored_elsewhere(attr, init.file.path, frozenset())


def _top_level_literal_stores(init: FunctionInfo) -> set[str]:
    """The attributes ``init`` stores a literal into at its top level (``self.loss_type =
    "CL"``), after every statement calling a base's ``__init__``."""
    body = getattr(init.node, "body", None)
    params = init.params
    if not isinstance(body, list) or not params:
        return set()
    self_name = params[0].arg
    found: set[str] = set()
    for stmt in body:
        if _calls_an_init(stmt):
            found.clear()  # what the base's constructor stores comes after what was before it
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.targets[0], ast.Attribute) and isinstance(stmt.targets[0].value, ast.Name)
                and stmt.targets[0].value.id == self_name):
            found.add(stmt.targets[0].attr)
    return found


def _calls_an_init(stmt: ast.stmt) -> bool:
    return any(isinstance(node, ast.Attribute) and node.attr == "__init__" for node in ast.walk(stmt))
