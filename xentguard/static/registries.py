"""Registries: dicts a decorator fills with the classes (or functions) it decorates, and
that a builder indexes with a runtime key (issue 9, item 3: several classes, one value).

    NETS = Registry("net")                      HEADS = {}
    @NETS.register_module                       def register_head(cls):
    class LaneNet(nn.Module): ...                   HEADS[cls.__name__] = cls
    net = NETS.build(cfg.net)                   head = HEADS[spec["type"]](**spec)

Reading such a dict with any key gives one of the definitions registered into it. That is
a claim about every registration in the program, so it is made only when the set is
known to be complete (see ``RegistryReads.registry_read``): the registry is a dict
written only by its registering functions' ``container[key] = parameter`` (or by a
method handing its parameter to one: ``self._register(cls)``; :func:`module_registries`,
and :func:`only_read_in` for the other files naming it or a property returning it), and
every use of those functions' names in the project is a module-level decorator or call
that the walk resolved to a registration (``@NETS.register_module``, ``@register_head``,
``@register_model("name")``, ``NETS.register_module(Net)``). A registration by a helper,
through an alias or from code outside the project is not seen: any such use of the name
leaves the registry's reads unknown.

Only syntax is read here; :class:`~xentguard.static.analyzer.Analyzer` records what the
decorators resolve to, and reads the registry.
"""

from __future__ import annotations

import ast
import weakref
from dataclasses import dataclass, field

from xentguard.static.body_facts import body_facts
from xentguard.static.walk import child_nodes

# Methods of a dict that leave it as it is (what a builder or a listing calls).
_READS = frozenset({"get", "keys", "values", "items", "copy", "__contains__", "__getitem__"})
# Builtins that read a dict passed to them and keep no reference to it.
_READING_BUILTINS = frozenset({"len", "sorted", "list", "tuple", "set", "iter", "any", "all", "repr", "str"})

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
# A registry's container: ("global", name) in the registering function's module, or
# ("attr", name) of the instance whose method registers.
Container = tuple[str, str]


@dataclass(frozen=True)
class RegistryStore:
    """A function that stores one of its parameters into a registry (``HEADS[key] = cls``)."""

    container: Container
    word: str  # what a registration spells: the module-level function or the method enclosing the store
    owner: ast.ClassDef | None  # the class whose instances hold an "attr" container
    position: int = 0  # of the parameter stored, among the positional ones (after ``self``)
    # A function nested in a method (a decorator a method returns: ``def register(self):
    # def deco(cls): self._do_register(cls.__name__, cls)``): the method's ``self`` it reads.
    closure_self: str | None = None


@dataclass
class ModuleRegistries:
    """The registering functions of one module, and which of their containers are
    registries (written by those stores only)."""

    by_function: dict[ast.AST, RegistryStore] = field(default_factory=dict)
    registries: set[tuple[ast.ClassDef | None, Container]] = field(default_factory=set)
    # Properties returning a registry's dict (``def module_dict(self): return self._module_dict``):
    # other names for it, which every file must only read too.
    aliases: dict[tuple[ast.ClassDef | None, Container], frozenset[str]] = field(default_factory=dict)
    # The names of the calls by which one registering function hands over to another
    # (``self._register_module(cls)``): uses of its name that register nothing of their own.
    handing_over: set[int] = field(default_factory=set)

    def store_of(self, fn: ast.AST) -> RegistryStore | None:
        store = self.by_function.get(fn)
        return store if store is not None and (store.owner, store.container) in self.registries else None

    def registering_words(self, owner: ast.ClassDef | None, container: Container) -> frozenset[str]:
        """The names the registrations into ``container`` may spell, when it is a registry."""
        if (owner, container) not in self.registries:
            return frozenset()
        return frozenset(store.word for store in self.by_function.values()
                         if store.owner is owner and store.container == container)


_KNOWN: weakref.WeakKeyDictionary[ast.Module, ModuleRegistries] = weakref.WeakKeyDictionary()


def module_registries(tree: ast.Module) -> ModuleRegistries:
    found = _KNOWN.get(tree)
    if found is None:
        found = _KNOWN[tree] = _compute(tree)
    return found


@dataclass(frozen=True)
class _Function:
    node: FunctionNode
    owner: ast.ClassDef | None  # the class of the method it is or is nested in
    self_name: str | None  # the name of that method's instance, when the function reads it
    method: bool  # its own first parameter is the instance
    word: str  # the module-level function or method it is, or is nested in
    outer_locals: frozenset[str]  # the names its enclosing functions bind


def _compute(tree: ast.Module) -> ModuleRegistries:
    result = ModuleRegistries()
    stores: dict[tuple[ast.ClassDef | None, Container], list[ast.Subscript]] = {}
    functions: list[_Function] = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _collect(_Function(stmt, None, None, False, stmt.name, frozenset()), functions)
        elif isinstance(stmt, ast.ClassDef):
            for item in stmt.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.args.args:
                    _collect(_Function(item, stmt, item.args.args[0].arg, True, item.name, frozenset()), functions)
    for fn in functions:
        _scan(fn, result, stores)
    if not stores:
        return result
    _hand_overs(functions, result)
    for (owner, container), targets in stores.items():
        kind, name = container
        allowed = {id(t) for t in targets}
        aliases: frozenset[str] | None
        if kind == "global":
            aliases = frozenset() if _global_only_registered(tree, name, allowed) else None
        else:
            aliases = _attribute_only_registered(tree, owner, name, allowed) if owner is not None else None
        if aliases is not None and not _named_by_string(tree, aliases | {name}):
            result.registries.add((owner, container))
            result.aliases[(owner, container)] = aliases
    return result


def _collect(fn: _Function, functions: list[_Function]) -> None:
    """``fn`` and the functions nested in it (a decorator factory's decorator)."""
    functions.append(fn)
    local = body_facts(fn.node).local_names
    for node in _own_nodes(fn.node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            reads_self = fn.self_name is not None and fn.self_name not in body_facts(node).local_names
            _collect(_Function(node, fn.owner if reads_self else None, fn.self_name if reads_self else None, False,
                               fn.word, fn.outer_locals | local), functions)


def _positions(fn: _Function) -> dict[str, int]:
    """The positional parameters a caller binds (after ``self``) that the body never
    rebinds, by position."""
    positional = [a.arg for a in (*fn.node.args.posonlyargs, *fn.node.args.args)]
    if fn.method:
        positional = positional[1:]
    rebound = {n.id for n in _own_nodes(fn.node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    return {name: position for position, name in enumerate(positional) if name not in rebound}


def _store(fn: _Function, container: Container, position: int) -> RegistryStore:
    return RegistryStore(container, fn.word, fn.owner if container[0] == "attr" else None, position,
                         None if fn.method else fn.self_name)


def _scan(fn: _Function, result: ModuleRegistries,
          stores: dict[tuple[ast.ClassDef | None, Container], list[ast.Subscript]]) -> None:
    """Record ``fn``'s store of one of its parameters into a container."""
    local = body_facts(fn.node).local_names
    positions: dict[str, int] | None = None  # computed at the first store: most functions make none
    for node in _own_nodes(fn.node):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript)
                and isinstance(node.value, ast.Name)):
            continue
        if positions is None:
            positions = _positions(fn)
        position = positions.get(node.value.id)
        if position is None:
            continue
        target = node.targets[0]
        base = target.value
        container: Container | None = None
        if isinstance(base, ast.Name) and base.id not in local and base.id not in fn.outer_locals:
            container = ("global", base.id)
        elif (fn.self_name is not None and isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name)
              and base.value.id == fn.self_name):
            container = ("attr", base.attr)
        if container is None or fn.node in result.by_function:
            continue
        store = result.by_function[fn.node] = _store(fn, container, position)
        stores.setdefault((store.owner, container), []).append(target)


def _hand_overs(functions: list[_Function], result: ModuleRegistries) -> None:
    """A function that hands one of its parameters to a registering one, where that one
    stores it, registers too: ``def register_module(self, cls): self._register(cls)``,
    fvcore's ``def deco(obj): self._do_register(obj.__name__, obj)``."""
    by_name = {(fn.owner if fn.method else None, fn.node.name): fn.node for fn in functions
               if fn.method or (fn.owner is None and not fn.outer_locals)}
    changed = True
    while changed:
        changed = False
        for fn in functions:
            if fn.node in result.by_function:
                continue
            positions: dict[str, int] | None = None
            for node in _own_nodes(fn.node):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                if (fn.self_name is not None and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                        and func.value.id == fn.self_name):
                    callee = by_name.get((fn.owner, func.attr))
                elif isinstance(func, ast.Name) and func.id not in body_facts(fn.node).local_names \
                        and func.id not in fn.outer_locals:
                    callee = by_name.get((None, func.id))
                else:
                    continue
                store = result.by_function.get(callee) if callee is not None else None
                if store is None or store.closure_self is not None or (
                        store.container[0] == "attr" and store.owner is not fn.owner):
                    continue
                handed = node.args[store.position] if len(node.args) > store.position and not any(
                    isinstance(a, ast.Starred) for a in node.args[:store.position + 1]) else None
                if not isinstance(handed, ast.Name):
                    continue
                if positions is None:
                    positions = _positions(fn)
                position = positions.get(handed.id)
                if position is not None:
                    result.by_function[fn.node] = _store(fn, store.container, position)
                    result.handing_over.add(id(func))
                    changed = True
                    break


def _own_nodes(fn: FunctionNode) -> list[ast.AST]:
    """The nodes of ``fn``'s body, nested functions and classes included as nodes but not
    entered (their bodies are their own scopes)."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = list(fn.body)
    while stack:
        node = stack.pop()
        found.append(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(child_nodes(node))
    return found


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    return parents


def _read_use(node: ast.expr, parent: ast.AST | None, registering: set[int]) -> bool:
    """Whether this use of a container (a Name or an Attribute) leaves it unchanged, or is
    one of the registering stores."""
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return not isinstance(parent.ctx, ast.Store) or id(parent) in registering
    if isinstance(parent, ast.Attribute) and parent.value is node:
        return parent.attr in _READS
    if isinstance(parent, ast.Compare) and any(c is node for c in parent.comparators):
        return all(isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops)
    if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)) and parent.iter is node:
        return True
    if isinstance(parent, ast.Call) and any(a is node for a in parent.args):
        return isinstance(parent.func, ast.Name) and parent.func.id in _READING_BUILTINS
    return False


def _is_empty_dict(value: ast.expr | None) -> bool:
    if isinstance(value, ast.Dict):
        return not value.keys
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict"
            and not value.args and not value.keywords)


def _global_only_registered(tree: ast.Module, name: str, registering: set[int]) -> bool:
    """The module binds ``name`` once, to an empty dict, and only reads it or registers."""
    created = 0
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
            if len(stmt.targets) != 1 or not _is_empty_dict(stmt.value):
                return False
            created += 1
        elif (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name):
            if not _is_empty_dict(stmt.value):
                return False
            created += 1
    if created != 1:
        return False
    parents = _parents(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name:
            parent = parents.get(id(node))
            if isinstance(node.ctx, ast.Store):
                if parent not in tree.body:
                    return False  # rebound in a function (``global``) or a loop
            elif not _read_use(node, parent, registering):
                return False
        elif isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return False
    return True


def _attribute_only_registered(tree: ast.Module, owner: ast.ClassDef, attr: str,
                               registering: set[int]) -> frozenset[str] | None:
    """The properties returning ``self.<attr>`` when it is set once, to an empty dict in
    ``owner.__init__``, and the module only reads it (or them), or registers; else None."""
    init = next((item for item in owner.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and item.name == "__init__"), None)
    if init is None:
        return None
    created = [stmt for stmt in init.body if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
               and isinstance(stmt.targets[0], ast.Attribute) and stmt.targets[0].attr == attr
               and _is_empty_dict(stmt.value)]
    if len(created) != 1:
        return None
    allowed_store = created[0].targets[0]
    properties = {id(stmt.body[-1]): stmt.name for stmt in owner.body
                  if isinstance(stmt, ast.FunctionDef) and stmt.body and isinstance(stmt.body[-1], ast.Return)
                  and any(isinstance(d, ast.Name) and d.id == "property" for d in stmt.decorator_list)}
    aliases: set[str] = set()
    parents = _parents(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == attr:
            parent = parents.get(id(node))
            if isinstance(node.ctx, ast.Store):
                if node is not allowed_store:
                    return None
            elif isinstance(parent, ast.Return) and id(parent) in properties:
                aliases.add(properties[id(parent)])
            elif not _read_use(node, parent, registering):
                return None
    if aliases and not only_read_in(tree, ("attr", ""), frozenset(aliases)):
        return None
    return frozenset(aliases)


def only_read_in(tree: ast.Module, container: Container, aliases: frozenset[str] = frozenset()) -> bool:
    """Whether a file other than the registry's own leaves the container unchanged: it
    names it (the global, imported; the attribute or a property returning it, of a
    registry instance) only to read."""
    kind, name = container
    attributes = aliases | {name}  # ``registry.HEADS`` for a global
    parents = _parents(tree)
    if _named_by_string(tree, attributes):
        return False
    for node in ast.walk(tree):
        if (kind == "global" and isinstance(node, ast.Name) and node.id == name) or (
                isinstance(node, ast.Attribute) and node.attr in attributes):
            assert isinstance(node, (ast.Name, ast.Attribute))
            # ``registry.HEADS[...] = other``, ``NETS.module_dict.update(...)``
            if isinstance(node.ctx, ast.Store) or not _read_use(node, parents.get(id(node)), set()):
                return False
    return True


def _named_by_string(tree: ast.AST, names: frozenset[str] | set[str]) -> bool:
    """``getattr(NETS, "_module_dict")``, ``setattr(registry, "HEADS", ...)``: the container
    reached by a string, which the checks of its uses do not see."""
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
               and node.func.id in ("getattr", "setattr", "delattr") and len(node.args) >= 2
               and isinstance(node.args[1], ast.Constant) and node.args[1].value in names
               for node in ast.walk(tree))


def decorator_leaf(decorator: ast.expr) -> ast.Name | ast.Attribute | None:
    """The name node a decorator spells: ``@reg``, ``@NETS.register_module``, ``@reg("k")``."""
    node = decorator.func if isinstance(decorator, ast.Call) else decorator
    return node if isinstance(node, (ast.Name, ast.Attribute)) else None


def uses_of(tree: ast.Module, word: str) -> list[ast.Name | ast.Attribute]:
    """Every name or attribute spelling ``word`` (the text of imports, strings and comments
    aside: an import binds, it registers nothing)."""
    return [node for node in ast.walk(tree) if (isinstance(node, ast.Name) and node.id == word)
            or (isinstance(node, ast.Attribute) and node.attr == word)]


def module_level_registrations(tree: ast.Module) -> set[int]:
    """The ids of the name nodes that the decorators of module-level definitions spell,
    and the functions of module-level calls of one argument (``NETS.register_module(Net)``)."""
    found: set[int] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in stmt.decorator_list:
                leaf = decorator_leaf(decorator)
                if leaf is not None:
                    found.add(id(leaf))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            leaf = decorator_leaf(stmt.value.func)
            if leaf is not None:
                found.add(id(leaf))
    return found
