"""Lists and dicts handed to calls: whether a call may change one, and which literal
configuration dicts are followed.

A list known item by item (``outs = [probs, logits]``) or a dict written out of literals
(``cfg = {"MODEL_NAME": "pointnet", "TASK": "cls_trans"}``, which decides the tests of the
functions it is passed to, ``if cfg["MODEL_NAME"] == "mv":``, as a literal argument does:
kinds.is_literal_container) holds its items only while nothing has changed it. A call
that may store into it (``random.shuffle(outs)``, ``merge_args(cfg, args)`` doing
``cfg["TASK"] = args.task``) leaves its items unknown to the code after the call. A
project function may change what it gets when its body stores an item of the parameter,
calls one of a container's changing methods on it, or hands it on to a call that may (to
a bounded depth); torch's functions and reading builtins (``len``, ``print``) do not; any
other callee (a library's, an unknown one) may. Facts of the syntax only.
"""

from __future__ import annotations

import ast
import weakref

from xentguard.static import torch_api as api
from xentguard.static.kinds import UNKNOWN, FunctionRef, Mapping, Ref, Value
from xentguard.static.scopes import FunctionInfo, Scope
from xentguard.static.torch_api import is_torch
from xentguard.static.walk import attribute_root, walk

_MAX_DEPTH = 4
# Methods of dict and list that change the container in place.
CHANGING_METHODS = frozenset({*api.FILLING_METHODS, *api.CONTAINER_MUTATORS})

# Builtins that read a container they are handed and never change it (when the module
# does not bind the name itself).
READING_BUILTINS = frozenset({"len", "print", "str", "repr", "format", "sorted", "list", "tuple", "dict", "set",
                              "frozenset", "iter", "any", "all", "bool", "isinstance", "hash", "id", "type",
                              "enumerate", "zip", "min", "max", "sum", "reversed"})

_KNOWN: weakref.WeakKeyDictionary[FunctionInfo, dict[str, bool]] = weakref.WeakKeyDictionary()
_ALIASED: weakref.WeakKeyDictionary[FunctionInfo, dict[str, bool]] = weakref.WeakKeyDictionary()


def may_change(fn: FunctionInfo, parameter: str, depth: int = 0) -> bool:
    """Whether a call of ``fn`` may change the container passed as ``parameter``."""
    known = _KNOWN.setdefault(fn, {})
    if parameter not in known:
        known[parameter] = True  # a cycle of calls: assumed to change it
        known[parameter] = depth >= _MAX_DEPTH or _changes(fn, parameter, depth)
    return known[parameter]


def _changes(fn: FunctionInfo, parameter: str, depth: int) -> bool:
    for node in walk(fn.node):
        if isinstance(node, (ast.Subscript, ast.Attribute)) and not isinstance(node.ctx, ast.Load) and _names(
                node.value, parameter):
            return True  # ``cfg["TASK"] = ...``, ``del cfg["TASK"]``, ``cfg.task = ...``
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and _names(func.value, parameter) and func.attr in CHANGING_METHODS:
            return True
        if isinstance(func, ast.Name) and func.id in READING_BUILTINS and func.id not in fn.facts.local_names and (
                fn.closure.lookup(func.id) is None):
            continue
        handed = [index for index, argument in enumerate(node.args) if _names(argument, parameter)]
        keywords = [k.arg for k in node.keywords if _names(k.value, parameter)]
        if any(isinstance(a, ast.Starred) and _names(a.value, parameter) for a in node.args) or None in keywords:
            return True
        if (handed or keywords) and not _torch_function(fn, func):
            callee = _project_function(fn, func)
            if callee is None:
                return True
            params = [p.arg for p in callee.params]
            names = [params[i] if i < len(params) else None for i in handed] + list(keywords)
            if any(name is None or may_change(callee, name, depth + 1) for name in names):
                return True
    return False


def aliased(fn: FunctionInfo, name: str) -> bool:
    """Whether the body of ``fn`` reads ``name`` other than as the container of an item
    (``cfg["TASK"]``) or as a call's argument (which may_change answers for): ``alias =
    cfg``, ``self.cfg = cfg``, ``for key in cfg``, a nested function reading it. Another
    reference could change it unseen."""
    known = _ALIASED.setdefault(fn, {})
    if name not in known:
        allowed: set[int] = set()
        loads: list[ast.Name] = []
        for node in walk(fn.node):
            if isinstance(node, ast.Subscript) and _names(node.value, name):
                allowed.add(id(node.value))
            elif isinstance(node, ast.Call):
                allowed.update(id(a) for a in node.args if _names(a, name))
                allowed.update(id(k.value) for k in node.keywords if _names(k.value, name))
            elif isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
                loads.append(node)
        known[name] = any(id(load) not in allowed for load in loads)
    return known[name]


def own_container(argument: ast.expr, caller: FunctionInfo | None) -> bool:
    """Whether a dict or list handed on is one only the calling code can change: written at
    the call, or a local of the calling function (a parameter holding its caller's) that no
    other name reads. A module-level one may be changed by any function storing into it by
    name before it is read (``CFG["LOG"] = flag`` in another function), which no walk of
    this call sees."""
    if isinstance(argument, (ast.Dict, ast.List)):
        return True
    return (isinstance(argument, ast.Name) and caller is not None and argument.id in caller.facts.local_names
            and not aliased(caller, argument.id))


def containers_changed(callee: Value, node: ast.Call, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...],
                       scope: Scope) -> list[ast.Name]:
    """The names of the dicts and lists the call hands on by name and may change, whose
    items are unknown after it (``random.shuffle(outs)``, ``merge(cfg, args)``); ``print(cfg)``
    and torch's functions change none, a project function only if may_change says so."""
    func = node.func
    if isinstance(func, ast.Name) and func.id in READING_BUILTINS and scope.lookup(func.id) is None:
        return []
    handed: list[tuple[int | str, ast.Name]] = [(i, a) for i, (a, v) in enumerate(zip(node.args, args))
                                                if isinstance(a, ast.Name) and isinstance(v, Mapping)]
    values = dict(kwargs)
    handed += [(k.arg, k.value) for k in node.keywords if k.arg is not None and isinstance(k.value, ast.Name)
               and isinstance(values.get(k.arg, UNKNOWN), Mapping)]
    if not handed:
        return []
    if isinstance(callee, Ref) and is_torch(callee.qualname):
        return []  # torch.cat(outs), torch.stack(outs)
    if not isinstance(callee, FunctionRef):
        return [name for _, name in handed]  # a library's, a class's, an unknown callee
    params = [p.arg for p in callee.fn.params][1 if callee.bound_self is not None else 0:]
    changed: list[ast.Name] = []
    for at, name in handed:
        parameter = at if isinstance(at, str) else params[at] if at < len(params) else None
        if parameter is None or may_change(callee.fn, parameter):
            changed.append(name)
    return changed


def _names(node: ast.expr, parameter: str) -> bool:
    return isinstance(node, ast.Name) and node.id == parameter


def _torch_function(fn: FunctionInfo, func: ast.expr) -> bool:
    """Whether the call is of a torch function (``torch.cat(outs)``, ``F.softmax``): torch's
    functions read the lists they are handed."""
    root = attribute_root(func)
    if not isinstance(root, ast.Name) or root.id in fn.facts.local_names:
        return False
    binding = fn.closure.lookup(root.id)
    return binding is not None and isinstance(binding.value, Ref) and is_torch(binding.value.qualname)


def _project_function(fn: FunctionInfo, func: ast.expr) -> FunctionInfo | None:
    """The project function a call in ``fn`` names, when its scope binds the name to one
    already (an import not yet resolved is a LazyImport: unknown)."""
    if not isinstance(func, ast.Name) or func.id in fn.facts.local_names:
        return None
    binding = fn.closure.lookup(func.id)
    value = binding.value if binding is not None else None
    if isinstance(value, FunctionRef) and value.bound_self is None:
        return value.fn
    return None
