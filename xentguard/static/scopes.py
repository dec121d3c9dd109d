"""Scopes, functions and classes of the analysed code (pyflakes' model, plus kinds)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Callable

from xentguard.static.body_facts import BodyFacts, FunctionNode, body_facts
from xentguard.static.kinds import UNBOUND, UNKNOWN, Binding, ClassRef, Deferred, Value, informative, join, join_all

if TYPE_CHECKING:
    from xentguard.static.source import SourceFile


class Scope:
    """Names bound in one function, class body or module, in program order.

    ``local_names`` are the names the function assigns anywhere: before their binding
    they are unknown, never the global of the same name (Python's rule, and the reason a
    local ``softmax = my_softmax`` shadows torch's for the whole function).
    """

    __slots__ = ("bindings", "local_names", "parent")

    def __init__(
        self,
        parent: Scope | None = None,
        local_names: frozenset[str] = frozenset(),
        bindings: dict[str, Binding] | None = None,
    ) -> None:
        self.parent = parent
        self.local_names = local_names
        self.bindings: dict[str, Binding] = bindings if bindings is not None else {}

    def lookup(self, name: str) -> Binding | None:
        scope: Scope | None = self
        while scope is not None:
            binding = scope.bindings.get(name)
            if binding is not None:
                if isinstance(binding.value, Deferred) and isinstance(binding.value.scope, Scope):
                    target = binding.value.scope
                    resolved = target.lookup(binding.value.name) if target is not self else None
                    return resolved if resolved is not None and not isinstance(resolved.value, Deferred) else None
                return binding
            if name in scope.local_names:
                return None
            scope = scope.parent
        return None

    def value(self, name: str) -> Value:
        binding = self.lookup(name)
        return binding.value if binding is not None else UNKNOWN

    def bind(self, name: str, binding: Binding) -> None:
        self.bindings[name] = binding

    def fork(self) -> Scope:
        return Scope(self.parent, self.local_names, dict(self.bindings))

    def enclosing_binder(self, name: str) -> Scope | None:
        """The enclosing function's scope that binds ``name``, a variable of its that this
        scope's function uses (``outputs.append(step)`` in a nested ``record()``); None for
        a module's name, or one this scope binds itself."""
        if name in self.local_names:
            return None
        holder = self.parent
        while holder is not None:
            if name in holder.local_names:
                return holder if name in holder.bindings else None
            holder = holder.parent
        return None

    def branch(self) -> dict[str, Binding]:
        """Walk a branch in this very scope (see end_branch): what a function called in it,
        or defined in it, reads of this scope is what the branch has bound so far, as in
        Python (``if __name__ == "__main__": model = Net(); train()``). Returns the
        bindings to come back to."""
        saved = self.bindings
        self.bindings = dict(saved)
        return saved

    def end_branch(self, saved: dict[str, Binding]) -> Scope:
        """The scope the branch ended with (a copy to merge), and this one back at ``saved``."""
        ended = Scope(self.parent, self.local_names, self.bindings)
        self.bindings = saved
        return ended

    def merge(self, others: list[Scope], choose: Callable[[list[Value]], Value] | None = None) -> None:
        """Make this scope the join of ``others`` (branches that did not terminate).

        ``choose`` combines differing values instead of the join (the branches of a test on
        a module-level setting make :class:`Cases`). A name bound on some branches only is
        unbound on the others, where reading it raises: those add nothing (except in a
        class body, where the enclosing scope's name shows through).
        """
        if not others:
            return
        if len(others) == 1:
            self.bindings = dict(others[0].bindings)
            return
        # Branches are forks of one scope: most names hold the very same binding in all of
        # them. Only the names some branch changed (or lacks) are joined; the rest is one
        # dict copy. (A notebook's module scope holds every global of the session, and each
        # module-level loop or if merges it.)
        base = others[0].bindings
        changed: set[str] = set()
        for other in others[1:]:
            bindings = other.bindings
            changed.update(name for name, binding in bindings.items() if base.get(name) is not binding)
            if len(bindings) != len(base) or changed:
                changed.update(base.keys() - bindings.keys())
        merged = dict(base)
        for name in changed:
            found = [other.bindings.get(name) for other in others]
            present = [b for b in found if b is not None]
            if len(present) != len(found) and self.parent is not None and name not in self.local_names:
                merged[name] = Binding(UNKNOWN)
                continue
            first = present[0]
            if len(present) == len(found) and all(b is first for b in present):
                merged[name] = first
            elif choose is not None:
                merged[name] = Binding(choose([b.value if b is not None else UNBOUND for b in found]))
            else:
                merged[name] = Binding(join_all([b.value for b in present]))
        self.bindings = merged


@dataclass(eq=False)
class FunctionInfo:
    node: FunctionNode
    name: str  # "train", "Net.forward", "<lambda>"
    file: SourceFile
    closure: Scope  # the scope the function was defined in
    cls: ClassInfo | None = None
    defaults: dict[str, Value] = field(default_factory=dict)

    @property
    def params(self) -> list[ast.arg]:
        a = self.node.args
        return [*a.posonlyargs, *a.args]

    def __repr__(self) -> str:
        return f"FunctionInfo({self.name})"

    @cached_property
    def facts(self) -> BodyFacts:
        return body_facts(self.node)


    @property
    def assigns_attributes(self) -> bool:
        """The body assigns ``self.<name>`` or registers a submodule."""
        return self.facts.assigns_attributes

    @property
    def local_names(self) -> frozenset[str]:
        """Parameters and every name the body assigns (computed once, walked many times)."""
        return self.facts.local_names


class AttributesState(Enum):
    NOT_COMPUTED = 0
    COMPUTING = 1
    DONE = 2


@dataclass(eq=False)
class ClassInfo:
    node: ast.ClassDef
    name: str
    file: SourceFile
    bases: tuple[Value, ...]
    methods: dict[str, FunctionInfo] = field(default_factory=dict)
    class_attrs: dict[str, Value] = field(default_factory=dict)
    # self.X = value assignments seen in any method (and by the class's users), joined.
    assigned: dict[str, Value] = field(default_factory=dict)
    attrs_state: AttributesState = field(default_factory=lambda: AttributesState.NOT_COMPUTED)
    # Set when an attribute gets a new kind, loss or model after the class's own methods
    # were walked for them (a setter called, ``model.criterion = ...`` by a user): a method
    # that reaches no sink by its own names may then reach one through ``self``.
    informed_from_outside: bool = False

    def __repr__(self) -> str:
        return f"ClassInfo({self.name})"

    def record_assignment(self, attr: str, value: Value, outside: bool = True) -> None:
        """``outside``: stored by the class's user, a setter called with an argument, or a
        constructor walked with its arguments, not by a method's own body."""
        before = self.assigned.get(attr)
        # An attribute's lists are not grown by joins: every walk of a method appending to
        # ``self.items`` would store a longer list, which walks the readers again.
        after = value if before is None else join(before, value, grown_lists=False)
        if after == before:
            return  # what reads see is unchanged
        self.assigned[attr] = after
        if outside and self.attrs_state is AttributesState.DONE and not self.informed_from_outside:
            self.informed_from_outside = informative(after)

    def assigned_value(self, attr: str) -> Value | None:
        return self.assigned.get(attr)

def class_and_bases(cls: ClassInfo, limit: int) -> list[ClassInfo]:
    """``cls`` and its project bases, nearest first, at most ``limit`` of them."""
    found: list[ClassInfo] = []
    pending = [cls]
    while pending and len(found) < limit:
        current = pending.pop(0)
        if current in found:
            continue
        found.append(current)
        pending.extend(base.cls for base in current.bases if isinstance(base, ClassRef))
    return found

