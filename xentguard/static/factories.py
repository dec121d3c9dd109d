"""Factories: module-level functions that build a class of another module from their own
parameters, so that their caller's literal becomes the construction's flag (flags):
``ResNet18V2(include_top=True)`` in a script, where ``ResNet18V2`` returns
``ResNetV2PT(include_top=include_top)`` and ``ResNetV2PT.forward`` tests ``self.include_top``.

A finding in the class's module then depends on a file that imports the factory, not the
class: the project walks the factory's callers when that module is checked (see
Project._factory_callers). A parameter counts only where it lands, as it is, on a
parameter the class's ``__init__`` stores on an attribute its methods test: a factory that
passes computed values or ``**kwargs`` on makes no flag (timm's ``build_model_with_cfg``,
which every model file calls). Facts of trees only: renaming consistently changes nothing.
"""

from __future__ import annotations

import ast

from xentguard.static.body_facts import body_facts, callable_parameters, mentions
from xentguard.static.flags import FlagParameters
from xentguard.static.walk import walk


def factories(tree: ast.Module, classes: dict[str, FlagParameters]) -> set[str]:
    """The module-level functions of ``tree`` that pass one of their parameters at a flag
    parameter of one of ``classes`` (by the name the module binds it to), calling the class
    by name, through a module-level table naming it (``BACKENDS = {"pytorch": ResNetV2PT}``,
    ``BACKENDS[key](...)``), or through a local assigned from an expression naming either
    (``model_class = BACKENDS.get(backend)``)."""
    tables: dict[str, set[str]] = {}
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for top in tree.body:
        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.append(top)
        elif isinstance(top, ast.Assign):
            named = mentions(top.value) & classes.keys()
            if named:
                for target in top.targets:
                    if isinstance(target, ast.Name):
                        tables[target.id] = named
    return {function.name for function in functions if _passes_a_flag(function, classes, tables)}


def _passes_a_flag(function: ast.FunctionDef | ast.AsyncFunctionDef, classes: dict[str, FlagParameters],
                   tables: dict[str, set[str]]) -> bool:
    parameters = callable_parameters(function.args)
    if not parameters or body_facts(function).mentions.isdisjoint({*classes, *tables}):
        return False
    held: dict[str, set[str]] = {}  # local -> the classes it may hold
    for node in walk(function):
        if isinstance(node, ast.Assign):
            named = set()
            for word in mentions(node.value):
                named |= {word} & classes.keys() or tables.get(word, set())
            if named:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        held.setdefault(target.id, set()).update(named)
    for node in walk(function):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func
        if isinstance(callee, ast.Subscript):
            callee = callee.value  # ``BACKENDS[backend](...)``
        if not isinstance(callee, ast.Name):
            continue
        called = {callee.id} & classes.keys() or tables.get(callee.id) or held.get(callee.id, set())
        for name in called:
            if _lands_on_a_flag(node, parameters, classes[name]):
                return True
    return False


def _lands_on_a_flag(call: ast.Call, parameters: frozenset[str], target: FlagParameters) -> bool:
    for index, argument in enumerate(call.args):
        if isinstance(argument, ast.Starred):
            break
        if (isinstance(argument, ast.Name) and argument.id in parameters and index < len(target.positional)
                and target.positional[index] in target.flags):
            return True
    return any(k.arg in target.flags and isinstance(k.value, ast.Name) and k.value.id in parameters
               for k in call.keywords)
