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
    """A function that stores its parameter into a registry (``HEADS[key] = cls``)."""

    container: Container
    word: str  # what a registration spells: the module-level function or the method enclosing the store
    owner: ast.ClassDef | None  # the class whose instances hold an "attr" container


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


def _compute(tree: ast.Module) -> ModuleRegistries:
    result = ModuleRegistries()
    stores: dict[tuple[ast.ClassDef | None, Container], list[ast.Subscript]] = {}
    functions: list[tuple[FunctionNode, ast.ClassDef | None, str | None]] = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.append((stmt, None, None))
        elif isinstance(stmt, ast.ClassDef):
            functions.extend((item, stmt, item.args.args[0].arg) for item in stmt.body
                             if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.args.args)
    for fn, owner, self_name in functions:
        _scan(fn, fn.name, owner, self_name, frozenset(), result, stores)
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


def _registered_parameter(fn: FunctionNode, self_name: str | None) -> str | None:
    """The parameter a decorator's call binds the definition to: the first (after ``self``),
    if the body never rebinds it."""
    positional = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
    if self_name is not None:
        positional = positional[1:]
    if not positional:
        return None
    rebound = any(isinstance(n, ast.Name) and n.id == positional[0] and not isinstance(n.ctx, ast.Load)
                  for n in _own_nodes(fn))
    return None if rebound else positional[0]


def _scan(fn: FunctionNode, word: str, owner: ast.ClassDef | None, self_name: str | None,
          outer_locals: frozenset[str], result: ModuleRegistries,
          stores: dict[tuple[ast.ClassDef | None, Container], list[ast.Subscript]]) -> None:
    """Record ``fn``'s store of a parameter into a container, and scan its nested functions
    (a decorator factory: ``def register(name): def add(cls): REG[name] = cls``)."""
    local = body_facts(fn).local_names
    registered: str | None = ""  # not computed yet: most functions store no parameter
    for node in _own_nodes(fn):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _scan(node, word, None, None, outer_locals | local, result, stores)
            continue
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript)
                and isinstance(node.value, ast.Name)):
            continue
        if registered == "":
            registered = _registered_parameter(fn, self_name)
        if node.value.id != registered:
            continue
        target = node.targets[0]
        base = target.value
        container: Container | None = None
        if isinstance(base, ast.Name) and base.id not in local and base.id not in outer_locals:
            container, holder = ("global", base.id), None
        elif (self_name is not None and isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name)
              and base.value.id == self_name):
            container, holder = ("attr", base.attr), owner
        if container is None or fn in result.by_function:
            continue
        result.by_function[fn] = RegistryStore(container, word, holder)
        stores.setdefault((holder, container), []).append(target)


def _hand_overs(functions: list[tuple[FunctionNode, ast.ClassDef | None, str | None]],
                result: ModuleRegistries) -> None:
    """A function that hands its parameter to a registering one registers too:
    ``def register_module(self, cls): self._register_module(cls); return cls``."""
    by_name = {(owner, fn.name): fn for fn, owner, _ in functions}
    changed = True
    while changed:
        changed = False
        for fn, owner, self_name in functions:
            if fn in result.by_function:
                continue
            parameter = None
            for node in _own_nodes(fn):
                if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name)):
                    continue
                func = node.func
                if owner is not None and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                        and func.value.id == self_name:
                    callee = by_name.get((owner, func.attr))
                elif owner is None and isinstance(func, ast.Name) and func.id not in body_facts(fn).local_names:
                    callee = by_name.get((None, func.id))
                else:
                    continue
                store = result.by_function.get(callee) if callee is not None else None
                if store is None or store.owner is not owner:
                    continue
                if parameter is None:
                    parameter = _registered_parameter(fn, self_name) or ""
                if node.args[0].id == parameter:
                    result.by_function[fn] = RegistryStore(store.container, fn.name, owner)
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
