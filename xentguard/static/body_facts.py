"""What one pass over a function's tree tells: the names it binds, whether it makes calls
or calls one of its parameters, whether it assigns attributes, which parameters its
branches test, what it mentions (for the walking gate, :mod:`hotness`) and which
attributes of its instance it calls and stores (for :func:`project.receivers`).

Each function walked needs its local names, deciding whether a function is worth walking
needs what it mentions, and deciding which importers can inform a module needs what its
methods call and store: separate walks of every function for each were a sixth of the
analysis' time on the benchmark corpus, so one pass computes them all, once per node
(the facts are kept while the tree lives).
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from xentguard.static import torch_api as api
from xentguard.static.kinds import TRUTHY
from xentguard.static.walk import SPLIT_FIELDS, attribute_root, child_nodes, split_fields, walk

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda]
_DEFINITIONS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})
# The node classes the pass below looks at, besides names; any other only holds nodes.
_SPECIAL = frozenset({ast.Attribute, ast.Call, ast.Assign, ast.AnnAssign, ast.If, ast.IfExp, ast.While, ast.Lambda,
                      ast.Subscript, ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, *_DEFINITIONS})
# Attributes and variables are two namespaces for the walking gate: ``self.self = ...``
# (an attribute named ``self``) must not make every method mentioning ``self`` hot.
ATTRIBUTE_PREFIX = "."
# How ``<receiver>.__init__`` was written (see hotness._inits_reached).
SUPER, NAMED, ATTRIBUTE, OTHER = "super()", "name", "attribute", "other"


def attribute_name(attr: str) -> str:
    """The gate's spelling of an attribute name (see ATTRIBUTE_PREFIX)."""
    return ATTRIBUTE_PREFIX + attr


@dataclass(frozen=True)
class BodyFacts:
    local_names: frozenset[str]  # parameters and the names the body binds (not nested scopes)
    calls_parameters: bool  # ``loss_fn(...)``, ``model(x)``, ``model.forward(x)`` (self/cls aside)
    assigns_attributes: bool  # ``self.<name> = ...`` or a registered submodule
    makes_calls: bool  # any call: without one, no loss, activation or log is reached
    # Parameters an ``if`` or a conditional expression tests and the body never rebinds:
    # a literal a caller passes for one (``train=True``) selects the branch.
    tested_parameters: frozenset[str] = frozenset()
    parameters: frozenset[str] = frozenset()
    # Every name loaded and attribute named (attributes as attribute_name() spells them),
    # but ``<receiver>.__init__`` and ``super().<method>``, which are init_calls and
    # super_methods: the gate resolves those to the methods they can be.
    mentions: frozenset[str] = frozenset()
    init_calls: frozenset[tuple[str, str]] = frozenset()  # (SUPER|NAMED|ATTRIBUTE|OTHER, leaf)
    super_methods: frozenset[str] = frozenset()
    # (attributes stored, what the stored value mentions): ``self.head = Attention()``, and
    # what a container call fills: ``self.layers.append(x)``, ``self.add_module("h", x)``.
    attribute_stores: tuple[tuple[frozenset[str], frozenset[str]], ...] = ()
    trainer_imports: frozenset[str] = frozenset()  # names bound by imports of trainer libraries
    # For receivers: attributes of the first parameter called (``self.criterion(...)``), and
    # attribute targets stored from a parameter (``self.loss = loss``) or otherwise.
    calls_on_first: frozenset[str] = frozenset()
    stored_from_parameters: frozenset[str] = frozenset()
    stored_otherwise: frozenset[str] = frozenset()
    # Names called with one of the parameters as an argument (``step(model, batch, loss)``).
    passes_parameters_to: frozenset[str] = frozenset()
    # Parameters a test reads a setting from, never rebound: ``opts.loss == "nll"``,
    # ``if opts.use_nll``, ``if use_nll`` (a caller passing ``args`` passes its settings).
    setting_parameters: frozenset[str] = frozenset()
    # Attributes of the first parameter a test reads (``if self.apply_softmax:``): see flags.
    first_attributes_tested: frozenset[str] = frozenset()
    # Parameters handed on as they are to a function called by name, with the callee's name
    # and the argument's position or keyword (``get_loss(task, out)``: ("task", "get_loss",
    # 0)): a literal for one matters where the callee tests it (Analyzer.literal_parameters).
    forwarded: tuple[tuple[str, str, int | str], ...] = ()
    # Parameters used as the key of a read of a container the function did not get from its
    # caller (``BACKENDS[backend]``, ``MODELS.get(name)``): a literal selects the entry, as
    # a tested parameter selects a branch.
    keyed_parameters: frozenset[str] = frozenset()
    # Parameters handed on as they are to an argument of a torch call whose literal decides
    # what is read of it (torch_api.LITERAL_ARGUMENTS: ``x.scatter_reduce(0, i, src, reduce)``).
    torch_literal_parameters: frozenset[str] = frozenset()
    # Parameters handed on as they are to any call (``train(loader, model, args)``,
    # ``trainer.get_model(args)``), never rebound: a parser's settings passed for one may
    # reach a test in a callee (Calls.call_function).
    handed_parameters: frozenset[str] = frozenset()

    def reachable_names(self) -> frozenset[str]:
        """What the function mentions, with ``.__init__`` and ``super().m`` taken as any
        method of that name (for a function the gate did not resolve them in)."""
        extra = {attribute_name(m) for m in self.super_methods}
        if self.init_calls:
            extra.add(attribute_name("__init__"))
        return self.mentions | extra if extra else self.mentions


def param_names(args: ast.arguments) -> frozenset[str]:
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    return frozenset(names)


def callable_parameters(args: ast.arguments) -> frozenset[str]:
    """Named parameters a caller may pass a loss or a model in (``self`` and ``cls`` aside)."""
    return frozenset(a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)) - {"self", "cls"}


_KNOWN: weakref.WeakKeyDictionary[ast.AST, BodyFacts] = weakref.WeakKeyDictionary()


def body_facts(function: FunctionNode) -> BodyFacts:
    """The facts of ``function``, computed once per node."""
    found = _KNOWN.get(function)
    if found is None:
        found = _KNOWN[function] = _compute(function)
    return found


def _compute(function: FunctionNode) -> BodyFacts:
    args = function.args
    parameters = param_names(args)
    all_parameters = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    names = set(parameters)
    callable_params = callable_parameters(args)
    first = args.args[0].arg if args.args else None
    declared_elsewhere: set[str] = set()  # global / nonlocal
    calls_parameters = assigns_attributes = makes_calls = False
    stored: set[str] = set()
    tested: set[str] = set()
    mentioned: set[str] = set()
    init_calls: set[tuple[str, str]] = set()
    super_methods: set[str] = set()
    attribute_stores: list[tuple[frozenset[str], frozenset[str]]] = []
    trainer_imports: set[str] = set()
    calls_on_first: set[str] = set()
    from_parameters: set[str] = set()
    otherwise: set[str] = set()
    passes_to: set[str] = set()
    forwarded: list[tuple[str, str, int | str]] = []
    setting_roots: set[str] = set()
    first_tested: set[str] = set()
    keyed: set[str] = set()
    torch_literals: set[str] = set()
    handed_on: set[str] = set()

    # Nodes of this function's own scope first, then those of nested scopes (lambdas,
    # nested functions and classes: they bind nothing here). Children are pushed inline
    # (child_nodes' list per node was a fifth of this pass).
    body = function.body if isinstance(function.body, list) else []
    in_body = {id(stmt) for stmt in body}
    own: list[ast.AST] = []
    nested: list[ast.AST] = []
    for child in child_nodes(function):
        (own if id(child) in in_body else nested).append(child)
    split = SPLIT_FIELDS.get
    for local, stack in ((True, own), (False, nested)):
        pop = stack.pop
        while stack:
            node = pop()
            kind = type(node)
            if kind is ast.Name:
                mentioned.add(node.id)  # type: ignore[attr-defined]
                if local and type(node.ctx) is ast.Store:  # type: ignore[attr-defined]
                    names.add(node.id)  # type: ignore[attr-defined]
                    stored.add(node.id)  # type: ignore[attr-defined]
                continue
            into = stack
            if kind in _SPECIAL:  # the others (constants, operators, subscripts...) only hold nodes
                if kind is ast.Attribute:
                    assert isinstance(node, ast.Attribute)
                    receiver = node.value
                    if node.attr == "__init__":
                        init_calls.add(_init_receiver(receiver))
                    elif _is_super(receiver):
                        super_methods.add(node.attr)
                    else:
                        mentioned.add(attribute_name(node.attr))
                elif kind is ast.Call:
                    assert isinstance(node, ast.Call)
                    makes_calls = True
                    func = node.func
                    if isinstance(func, ast.Attribute):
                        if func.attr in api.FILLING_METHODS:
                            attribute_stores.append((frozenset(_filled(node)), frozenset(mentions(node))))
                        if func.attr in api.SUBMODULE_REGISTRATIONS:
                            assigns_attributes = True
                        elif func.attr == "forward":
                            func = func.value
                    if local:
                        handed_on.update(a.id for a in node.args if type(a) is ast.Name and a.id in all_parameters)
                        handed_on.update(k.value.id for k in node.keywords
                                      if type(k.value) is ast.Name and k.value.id in all_parameters)
                    if isinstance(func, ast.Name):
                        if func.id in callable_params:
                            calls_parameters = True
                        elif local:
                            for i, a in enumerate(node.args):
                                handed = _handed_parameter(a)
                                if handed is not None and handed in all_parameters:
                                    forwarded.append((handed, func.id, i))
                            for k in node.keywords:
                                handed = _handed_parameter(k.value)
                                if k.arg is not None and handed is not None and handed in all_parameters:
                                    forwarded.append((handed, func.id, k.arg))
                        if any(type(a) is ast.Name and a.id in callable_params for a in node.args) or any(
                                type(k.value) is ast.Name and k.value.id in callable_params for k in node.keywords):
                            passes_to.add(func.id)
                    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == first:
                        calls_on_first.add(func.attr)
                    if local and isinstance(func, ast.Attribute) and func.attr in api.LITERAL_ARGUMENTS:
                        torch_literals.update(_handed_at(node, *api.LITERAL_ARGUMENTS[func.attr], all_parameters))
                    if (local and isinstance(func, ast.Attribute) and func.attr == "get" and node.args
                            and type(node.args[0]) is ast.Name and node.args[0].id in all_parameters
                            and type(func.value) is ast.Name and func.value.id not in all_parameters):
                        keyed.add(node.args[0].id)
                elif kind is ast.Subscript:
                    assert isinstance(node, ast.Subscript)
                    if (local and type(node.slice) is ast.Name and node.slice.id in all_parameters
                            and type(node.value) is ast.Name and node.value.id not in all_parameters):
                        keyed.add(node.slice.id)
                elif kind is ast.Assign or kind is ast.AnnAssign:
                    assert isinstance(node, (ast.Assign, ast.AnnAssign))
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    attributes = frozenset(t.attr for t in _unpacked(targets) if isinstance(t, ast.Attribute))
                    if attributes:
                        assigns_attributes = True
                        value = node.value
                        if value is not None:
                            attribute_stores.append(
                                (frozenset(map(attribute_name, attributes)), frozenset(mentions(value))))
                        if isinstance(value, ast.Name) and value.id in all_parameters:
                            from_parameters.update(attributes)
                        else:
                            otherwise.update(attributes)
                elif kind is ast.If or kind is ast.IfExp or kind is ast.While:
                    if local:
                        tested.update(n.id for n in _tested_names(node.test))  # type: ignore[attr-defined]
                        setting_roots.update(n.id for n in _tested_roots(node.test))  # type: ignore[attr-defined]
                        if first is not None and type(node.test) is not ast.Name:  # type: ignore[attr-defined]
                            first_tested.update(_attributes_of(first, node.test))  # type: ignore[attr-defined]
                elif kind in _DEFINITIONS:
                    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                    if local:
                        names.add(node.name)
                        # Decorators run in this scope; the rest is the nested scope's own.
                        decorators = {id(d) for d in node.decorator_list}
                        for child in child_nodes(node):
                            (own if id(child) in decorators else nested).append(child)
                        continue
                elif kind is ast.Lambda:
                    into = nested
                elif kind is ast.Import or kind is ast.ImportFrom:
                    assert isinstance(node, (ast.Import, ast.ImportFrom))
                    bound = [(alias.asname or alias.name).split(".")[0] for alias in node.names]
                    if local:
                        names.update(bound)
                    if imports_trainer(node):
                        trainer_imports.update(bound)
                    continue
                elif kind is ast.Global or kind is ast.Nonlocal:
                    if local:
                        declared_elsewhere.update(node.names)  # type: ignore[attr-defined]
                    continue
            # Children, inline (a call per node was a fifth of this pass).
            fields = split(kind) or split_fields(node)
            for field_name in fields[0]:
                into.extend(getattr(node, field_name))
            for field_name in fields[1]:
                value = getattr(node, field_name, None)
                if value is None:
                    continue
                if type(value) is list:
                    into.extend([item for item in value if isinstance(item, ast.AST)])
                elif isinstance(value, ast.AST):
                    into.append(value)
    tested_parameters = frozenset(tested & parameters - stored - declared_elsewhere)
    setting_parameters = frozenset(setting_roots & parameters - stored - declared_elsewhere)
    return BodyFacts(frozenset(names - declared_elsewhere), calls_parameters, assigns_attributes, makes_calls,
                     tested_parameters, parameters, frozenset(mentioned), frozenset(init_calls),
                     frozenset(super_methods), tuple(attribute_stores), frozenset(trainer_imports),
                     frozenset(calls_on_first), frozenset(from_parameters), frozenset(otherwise),
                     frozenset(passes_to), setting_parameters, frozenset(first_tested),
                     tuple((p, callee, at) for p, callee, at in forwarded if p not in stored),
                     frozenset(keyed - stored - declared_elsewhere),
                     frozenset(torch_literals - stored - declared_elsewhere),
                     frozenset(handed_on - stored - declared_elsewhere))


def _attributes_of(name: str, test: ast.expr) -> list[str]:
    """The attributes of ``name`` a branch test decides on, in the forms a literal decides
    (``syntax.branch_taken``): ``self.flag``, ``not self.flag``, ``self.mode == "a"``, and
    ``and`` / ``or`` of those."""
    if isinstance(test, ast.Attribute):
        return [test.attr] if isinstance(test.value, ast.Name) and test.value.id == name else []
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _attributes_of(name, test.operand)
    if isinstance(test, ast.BoolOp):
        return [attr for value in test.values for attr in _attributes_of(name, value)]
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        subject, _ = compared_subject(test.left)
        return _attributes_of(name, subject if subject is not None else test.left)
    return []


def _unpacked(targets: Sequence[ast.expr]) -> list[ast.expr]:
    """Assignment targets with tuples and lists opened (``self.a, (self.b, *rest) = ...``):
    each item is stored to, by the whole value as far as the gate can tell."""
    found: list[ast.expr] = []
    pending = list(targets)
    while pending:
        target = pending.pop()
        if isinstance(target, (ast.Tuple, ast.List)):
            pending.extend(target.elts)
        elif isinstance(target, ast.Starred):
            pending.append(target.value)
        else:
            found.append(target)
    return found


def mentions(node: ast.AST) -> set[str]:
    """Every name loaded and every attribute named in ``node`` (see attribute_name)."""
    found: set[str] = set()
    for child in walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(attribute_name(child.attr))
    return found


def _filled(call: ast.Call) -> set[str]:
    """The names a container call fills: the attribute ``self.layers.append(x)`` fills (not
    ``self``, which every method mentions), the named submodule of ``add_module("head",
    x)``, every name of the receiver otherwise."""
    assert isinstance(call.func, ast.Attribute)
    receiver = call.func.value
    if call.func.attr in api.SUBMODULE_REGISTRATIONS and call.args and isinstance(
            call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return {attribute_name(call.args[0].value)}
    if isinstance(receiver, ast.Attribute):
        return {attribute_name(receiver.attr)}
    return mentions(receiver)


def _is_super(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _init_receiver(receiver: ast.expr) -> tuple[str, str]:
    if _is_super(receiver):
        return SUPER, ""
    if isinstance(receiver, ast.Name):
        return NAMED, receiver.id
    if isinstance(receiver, ast.Attribute):
        return ATTRIBUTE, receiver.attr
    return OTHER, ""


def imports_trainer(node: ast.Import | ast.ImportFrom) -> bool:
    """An import from a library whose entry points call losses (``torch_api.TRAINERS``)."""
    packages = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
    return any(package.split(".", 1)[0] in api.TRAINER_PACKAGES for package in packages)


def _tested_roots(test: ast.expr) -> list[ast.Name]:
    """The names a test reads a setting from (see ``syntax.setting_test``): ``opts.loss ==
    "nll"``, ``not cfg.model.use_softmax``, ``use_nll``, and ``and`` / ``or`` of those."""
    if isinstance(test, ast.BoolOp):
        return [name for value in test.values for name in _tested_roots(value)]
    tested = tested_subject(test)
    return [tested[1]] if tested is not None and isinstance(tested[1], ast.Name) else []


def tested_subject(test: ast.expr) -> tuple[ast.expr, ast.expr, object, bool] | None:
    """(subject, root of its attribute chain, key, holds) of a test on one value: ``x.a ==
    "k"``, ``x.a != 3``, ``x.a``, ``not x.a`` (key ``TRUTHY``); None for any other test."""
    holds = True
    while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, holds = test.operand, not holds
    key: object = TRUTHY
    subject = test
    if isinstance(test, ast.Compare):
        if len(test.ops) != 1 or not isinstance(test.ops[0], (ast.Eq, ast.NotEq)):
            return None
        constant = test.comparators[0]
        if not (isinstance(constant, ast.Constant) and isinstance(constant.value, (str, int, bool))):
            return None
        subject, key = test.left, constant.value
        holds = holds == isinstance(test.ops[0], ast.Eq)
    return subject, attribute_root(subject), key, holds


def _tested_names(test: ast.expr) -> list[ast.Name]:
    """Names a branch test decides on: ``p``, ``not p``, ``p == "train"``, ``p is None``, an
    item of one read by a literal key (``cfg["MODEL_NAME"] == "mv"``: a caller's literal
    dict decides it too), and ``and`` / ``or`` of those."""
    if isinstance(test, ast.Name):
        return [test]
    if isinstance(test, ast.Subscript):
        item_of = literal_item_of(test)
        return [item_of] if item_of is not None else []
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _tested_names(test.operand)
    if isinstance(test, ast.BoolOp):
        return [name for value in test.values for name in _tested_names(value)]
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        subject, _ = compared_subject(test.left)
        if isinstance(subject, ast.Name):
            return [subject]
        if isinstance(subject, ast.Subscript):
            item_of = literal_item_of(subject)
            return [item_of] if item_of is not None else []
    return []


def compared_subject(left: ast.expr) -> tuple[ast.Name | ast.Attribute | ast.Subscript | None, str | None]:
    """What a comparison with a literal decides on: a name, an attribute or an item read by a
    literal key, as it is or through one of str's argument-free methods (``kind.upper()``),
    with that method."""
    method = None
    if (isinstance(left, ast.Call) and isinstance(left.func, ast.Attribute) and not left.args and not left.keywords
            and left.func.attr in api.PURE_STR_METHODS):
        method, left = left.func.attr, left.func.value
    if isinstance(left, (ast.Name, ast.Attribute, ast.Subscript)):
        return left, method
    return None, None


def literal_item_of(node: ast.Subscript) -> ast.Name | None:
    """``cfg`` of ``cfg["TASK"]`` (or ``cfg[0]``): a name's item read by a literal key."""
    key = node.slice
    if isinstance(node.value, ast.Name) and isinstance(key, ast.Constant) and isinstance(key.value, (str, int)) and (
            not isinstance(key.value, bool)):
        return node.value
    return None


def _handed_at(call: ast.Call, positions: frozenset[int], keyword: str, parameters: set[str]) -> set[str]:
    """The parameters ``call`` hands on as they are at one of ``positions`` or as ``keyword``."""
    handed = [a for i, a in enumerate(call.args) if i in positions]
    handed += [k.value for k in call.keywords if k.arg == keyword]
    return {a.id for a in handed if type(a) is ast.Name and a.id in parameters}


def _handed_parameter(argument: ast.expr) -> str | None:
    """The name an argument hands on as it is, or an item of by a literal key
    (``train(cfg["TASK"], ...)``: a caller's literal dict holds the literal it passes)."""
    if type(argument) is ast.Name:
        return argument.id
    if type(argument) is ast.Subscript:
        item_of = literal_item_of(argument)
        return item_of.id if item_of is not None else None
    return None


__all__ = ["ATTRIBUTE_PREFIX", "BodyFacts", "FunctionNode", "attribute_name", "body_facts", "callable_parameters",
           "imports_trainer", "mentions", "param_names"]
