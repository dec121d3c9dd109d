"""What a registry holds (see :mod:`registries`): the walk records what each module-level
decorator registers, and a read of the registry with any key is one of those definitions
once every registration in the project is known."""

from __future__ import annotations

import ast
from typing import Callable

from xentguard.static.kinds import ClassRef, FunctionRef, Instance, OneOf, Value
from xentguard.static.registries import (
    Container,
    ModuleRegistries,
    RegistryStore,
    decorator_leaf,
    module_level_registrations,
    module_registries,
    uses_of,
)
from xentguard.static.scopes import class_and_bases
from xentguard.static.source import SourceFile
from xentguard.static.syntax import Frame

# The project files whose text spells one of a registry's registering functions' names,
# walked, when no other file writes its container: (names, container, the properties
# returning it, the registry's file) -> files, or None when that cannot be known yet (one
# of them is being walked) or another file writes it.
RegistryFiles = Callable[[frozenset[str], Container, frozenset[str], SourceFile], "list[SourceFile] | None"]

# A registry read: (its key, its module's registries, the class holding it (None: a
# global), its container, its module's file).
_Found = tuple[tuple[object, ...], ModuleRegistries, "ast.ClassDef | None", Container, SourceFile]
_MAX_REGISTERED = 8  # as many as a OneOf holds: past it, no member's kind is a claim
_MAX_BASES = 8


class RegistryReads:
    """Mixin of :class:`Analyzer`."""

    registry_files: RegistryFiles | None

    def init_registries(self, registry_files: RegistryFiles | None) -> None:
        self.registry_files = registry_files
        # registry key -> the definitions its decorators registered, in walk order
        self._registered: dict[tuple[object, ...], list[Value]] = {}
        self._registering_leaves: set[int] = set()  # decorator name nodes resolved to a registration
        self._read_registries: dict[tuple[object, ...], Value | None] = {}  # registry key -> what a read gives

    def note_decorators(self, decorators: list[ast.expr], values: list[Value], defined: Value, frame: Frame) -> None:
        """Record the registrations among a definition's decorators, or the registering
        function a module-level call makes (module level only: in a function body, a
        registration happens once per call, if at all)."""
        if frame.fn is not None or frame.scope.parent is not None or not isinstance(defined, (ClassRef, FunctionRef)):
            return
        stores = [_store(value) for value in values]
        for position, (decorator, value, store) in enumerate(zip(decorators, values, stores)):
            if store is None or store.position != 0 or not isinstance(value, FunctionRef):
                continue  # a decorator's call passes the definition first
            if any(below is None for below in stores[position + 1:]):
                continue  # it registers what the decorators below it return: unresolved
            kind, name = store.container
            instance = value.bound_self if store.closure_self is None else value.fn.closure.value(store.closure_self)
            if kind == "attr" and not isinstance(instance, Instance):
                continue
            key = (kind, id(value.fn.file.tree), name, instance if kind == "attr" else None)
            self._registered.setdefault(key, []).append(defined)
            leaf = decorator_leaf(decorator)
            if leaf is not None:
                self._registering_leaves.add(id(leaf))

    def registry_read(self, container_node: ast.expr, frame: Frame) -> Value | None:
        """``HEADS[k]`` or ``self.classes.get(k)`` on a registry: one of what was registered
        into it; None when the container is not a registry or its contents are not known."""
        found = self._registry_of(container_node, frame)
        if found is None or self.registry_files is None:
            return None
        key, registries, owner, container, file = found
        if key in self._read_registries:
            return self._read_registries[key]
        words = registries.registering_words(owner, container)
        files = self.registry_files(words, container, registries.aliases.get((owner, container), frozenset()), file)
        if files is None:
            return None  # not known yet: asked again at the next read
        # Every registering file is walked now: what the registry holds is final.
        result = self._read_registries[key] = self._registered_value(key, registries, words, files, file)
        return result

    def _registered_value(self, key: tuple[object, ...], registries: ModuleRegistries, words: frozenset[str],
                          files: list[SourceFile], file: SourceFile) -> Value | None:
        members = self._registered.get(key, [])
        if not members or len(members) > _MAX_REGISTERED:
            return None
        for other in files:
            if other.tree is None:
                continue
            registrations = module_level_registrations(other.tree)
            internal = registries.handing_over if other is file else set()
            for word in words:
                if any(id(use) not in internal and (id(use) not in registrations
                                                    or id(use) not in self._registering_leaves)
                       for use in uses_of(other.tree, word)):
                    return None  # a call, an alias, or a decorator the walk could not resolve
        return members[0] if len(set(members)) == 1 else OneOf(frozenset(members))

    def _registry_of(self, node: ast.expr, frame: Frame) -> _Found | None:
        if isinstance(node, ast.Name):
            module = frame.scope
            while module.parent is not None:
                module = module.parent
            binding = frame.scope.lookup(node.id)
            tree = frame.file.tree
            if binding is None or module.bindings.get(node.id) is not binding or tree is None:
                return None
            container: Container = ("global", node.id)
            registries = module_registries(tree)
            if (None, container) not in registries.registries:
                return None
            return ("global", id(tree), node.id, None), registries, None, container, frame.file
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and frame.self_name is not None
                and node.value.id == frame.self_name):
            instance = frame.scope.value(frame.self_name)
            if not isinstance(instance, Instance):
                return None
            container = ("attr", node.attr)
            for cls in class_and_bases(instance.cls, _MAX_BASES):
                tree = cls.file.tree
                registries = module_registries(tree) if tree is not None else None
                if registries is not None and (cls.node, container) in registries.registries:
                    return ("attr", id(tree), node.attr, instance), registries, cls.node, container, cls.file
        return None


def _store(value: Value) -> RegistryStore | None:
    if not isinstance(value, FunctionRef) or value.fn.file.tree is None:
        return None
    return module_registries(value.fn.file.tree).store_of(value.fn.node)


