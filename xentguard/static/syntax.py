"""What the analysis reads straight off the syntax: literals, parameters, decorators,
and tests on ``self.training``; plus the walk state (:class:`Frame`)."""

from __future__ import annotations

import ast
import weakref
from dataclasses import dataclass, field
from typing import Callable

from xentguard.static.body_facts import compared_subject, literal_item_of, tested_subject
from xentguard.static.flags import flag_of
from xentguard.static.kinds import (
    OTHERWISE,
    TRUTHY,
    UNKNOWN,
    Cases,
    Const,
    Instance,
    Mapping,
    SettingFlag,
    SettingRoot,
    Value,
    cases,
    is_literal_container,
)
from xentguard.static.scopes import FunctionInfo, Scope
from xentguard.static.source import SourceFile
from xentguard.static.walk import attribute_root


@dataclass
class Frame:
    """The state of one walk through a function body (or the module body)."""

    file: SourceFile
    scope: Scope
    fn: FunctionInfo | None = None
    self_name: str | None = None
    returns: list[Value] = field(default_factory=list)
    eval_only: bool = False
    # This walk is for one call, whose literal arguments select branches (``if train:``).
    literals: bool = False
    # What the enclosing tests say about module-level settings: (subject, key, holds).
    facts: tuple[Fact, ...] = ()
    # Inside a branch of a test that names no setting the walk knows (``if self.cfg.loss ==
    # "nll"``, ``opts.loss == "nll"`` with ``opts`` unknown, ``args.loss in (...)``, a
    # ``match`` case): it may still depend on the setting a value's cases are chosen by, so
    # a finding that holds in some cases only is no claim here (see ``claims_cases``).
    unnamed_setting: bool = False
    # ``facts`` came from the caller: a function its module runs only under tests of
    # settings, walked for one such call (see ``claims_cases``).
    callers_facts: bool = False


# A test on a setting: ``args.arch == "a"`` is (dump of args.arch, "a", True); ``not
# args.cnn`` is (dump of args.cnn, TRUTHY, False).
Fact = tuple[str, object, bool]


def negated(fact: Fact) -> Fact:
    subject, key, holds = fact
    return subject, key, not holds


def argument(node: ast.Call, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...],
             position: int | None, keyword: str) -> tuple[ast.expr | None, Value]:
    """The expression and value of a call's argument at ``position`` or named ``keyword``
    (position None: keyword only); (None, UNKNOWN) when it is not passed or sits behind a
    ``*args``."""
    if position is not None and len(node.args) > position and not any(
            isinstance(a, ast.Starred) for a in node.args[:position + 1]):
        return node.args[position], args[position]
    for k in node.keywords:
        if k.arg == keyword:
            return k.value, dict(kwargs).get(keyword, UNKNOWN)
    return None, UNKNOWN


def log_target_set(node: ast.Call) -> bool:
    """``log_target=...`` passed and not a literal False: the target may be log space."""
    return any(k.arg == "log_target" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
               for k in node.keywords)


def subframe(frame: Frame, scope: Scope, eval_only: bool, fact: Fact | None = None,
             unnamed_setting: bool = False) -> Frame:
    """A branch of ``frame``'s walk with its own scope and returns (and one more fact, or
    a test on a setting it cannot name)."""
    facts = frame.facts if fact is None else (*frame.facts, fact)
    return Frame(frame.file, scope, frame.fn, frame.self_name, [], eval_only, frame.literals, facts,
                 frame.unnamed_setting or unnamed_setting, frame.callers_facts)


def setting_test(test: ast.expr, frame: Frame) -> tuple[Fact, str] | None:
    """The fact a test states about a module-level setting, and how the setting is written:
    ``args.model == "Transformer"``, ``cfg.arch != "mlp"``, ``args.cnn``, ``not DEBUG``. The
    setting is a name (or its attributes) that is not local to the function walked, or
    read from a parameter its caller passed settings to (a :class:`SettingRoot`)."""
    tested = tested_subject(test)
    if tested is None:
        return None
    subject, root, key, holds = tested
    if subject is root and key is TRUTHY and isinstance(root, ast.Name):
        flag = frame.scope.value(root.id)
        if isinstance(flag, SettingFlag):  # ``if use_nll:`` after ``use_nll = args.loss == "nll"``
            flag_subject, flag_key, flag_holds = flag.fact
            return (flag_subject, flag_key, flag_holds == holds), flag.shown
    if not isinstance(root, ast.Name) or (subject is root and key is TRUTHY and frame.fn is None):
        return None  # a bare module-level flag tested at module level is just a branch
    setting = setting_root(subject, frame)
    if setting is None:
        return None
    return (setting.subject, key, holds), setting.shown


def setting_root(expr: ast.expr, frame: Frame) -> SettingRoot | None:
    """What a caller's argument is as a holder of module-level settings: a name that is not
    local to the walk, or attributes of one (``args``, ``cfg.train``), or of a name that
    holds settings itself (a parameter, a parser's result); None for anything else."""
    root = attribute_root(expr)
    if not isinstance(root, ast.Name):
        return None
    passed = frame.scope.value(root.id)
    if isinstance(passed, SettingRoot):
        return setting_over(passed, expr, root)
    if frame.fn is not None and root.id in frame.fn.local_names:
        return None
    return SettingRoot(ast.dump(expr), ast.unparse(expr))


def setting_over(holder: SettingRoot, expr: ast.expr, root: ast.Name) -> SettingRoot:
    """``expr``, an attribute chain over the name ``root`` that holds ``holder``'s settings,
    as the setting it reads, written the holder's way: ``opts.loss`` is ``args.loss``.
    ``root`` occurs once in the dump of an attribute chain over it."""
    return SettingRoot(ast.dump(expr).replace(ast.dump(root), holder.subject, 1),
                       holder.shown + ast.unparse(expr)[len(root.id):])


def setting_attribute(holder: SettingRoot, attr: str) -> SettingRoot:
    """``holder.attr`` read off a value (``kind = args.unet_type``): the setting a test
    of ``args.unet_type`` names (see setting_over)."""
    root = ast.Name(id="_", ctx=ast.Load())
    return setting_over(holder, ast.Attribute(value=root, attr=attr, ctx=ast.Load()), root)


def setting_flag(expr: ast.expr, frame: Frame) -> SettingFlag | None:
    """What a name bound to ``expr`` holds when ``expr`` is a test on a setting
    (``args.loss == "nll"``, ``not args.cnn``, ``args.use_nll``), else None."""
    if not isinstance(expr, (ast.Compare, ast.UnaryOp, ast.Attribute)):
        return None
    setting = setting_test(expr, frame)
    return SettingFlag(*setting) if setting is not None else None


def claims_cases(frame: Frame, subject: str) -> bool:
    """Whether a finding that holds only in some cases of the setting ``subject`` is a
    claim at the walk's current point. Not under a test of another setting or of one the
    walk cannot name (it may select exactly the right cases), and not in a function its
    module calls only under tests of settings (``if args.arch == "log": nll_step(x, y)``:
    which cases reach it is its callers' to say), unless this walk is for one of those calls
    and knows what its tests select."""
    if frame.unnamed_setting or any(tested != subject for tested, _, _ in frame.facts):
        return False
    return frame.callers_facts or not run_under_settings(frame.fn)


def run_under_settings(fn: FunctionInfo | None) -> bool:
    """A module-level function its module calls only under tests of settings."""
    return fn is not None and fn.cls is None and id(fn.node) in _run_under_settings(fn.file)


_RUN_UNDER_SETTINGS: weakref.WeakKeyDictionary[SourceFile, frozenset[int]] = weakref.WeakKeyDictionary()


def _run_under_settings(file: SourceFile) -> frozenset[int]:
    found = _RUN_UNDER_SETTINGS.get(file)
    if found is None:
        found = _RUN_UNDER_SETTINGS[file] = _functions_run_under_settings(file.tree)
    return found


def _functions_run_under_settings(tree: ast.Module) -> frozenset[int]:
    """The module-level functions (as ``id`` of their nodes) that the module uses only by
    calling them by name under a test on a setting (the shape of ``setting_test``:
    ``args.arch == "log"``, ``use_nll``): in a branch of it, or after it in the same block
    when one of its branches always leaves. Any other use of the name (an unguarded call,
    a reference) keeps a function out; so does a module that never calls it."""
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if not functions:
        return frozenset()
    guarded: set[str] = set()
    elsewhere: set[str] = set()
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, under = stack.pop()
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
            (guarded if under else elsewhere).add(node.func.id)
            stack.extend((child, under) for child in [*node.args, *node.keywords])
            continue
        if isinstance(node, ast.Name) and node.id in functions:
            elsewhere.add(node.id)  # handed on as a value: called from anywhere
            continue
        shaped = isinstance(node, (ast.If, ast.IfExp)) and _setting_shaped(node.test)
        for name, value in ast.iter_fields(node):
            branch = under or (shaped and name in ("body", "orelse"))
            if isinstance(value, list):
                stack.extend(_block(value, branch))
            elif isinstance(value, ast.AST):
                stack.append((value, branch))
    return frozenset(id(functions[name]) for name in guarded - elsewhere)


def _block(items: list[object], under: bool) -> list[tuple[ast.AST, bool]]:
    """The nodes of a field's list; in a block of statements, what follows an ``if`` on a
    setting one of whose branches always leaves runs under that test too."""
    found: list[tuple[ast.AST, bool]] = []
    for item in items:
        if not isinstance(item, ast.AST):
            continue
        found.append((item, under))
        if isinstance(item, ast.If) and _setting_shaped(item.test) and (_leaves(item.body) or _leaves(item.orelse)):
            under = True
    return found


def runs_as_script(test: ast.expr) -> bool:
    """``__name__ == "__main__"``: true when the module runs as the program, which is no
    setting a user chooses (a script's block calling ``main()`` is the program's run)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = (test.left, test.comparators[0])
    return any(isinstance(a, ast.Name) and a.id == "__name__" and isinstance(b, ast.Constant) and b.value == "__main__"
               for a, b in (sides, sides[::-1]))


def _setting_shaped(test: ast.expr) -> bool:
    if runs_as_script(test):
        return False
    tested = tested_subject(test)
    return tested is not None and isinstance(tested[1], ast.Name)


def _leaves(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break))


def narrow(value: Value, facts: tuple[Fact, ...]) -> Value:
    """The case of ``value`` that the facts of this walk select (as far as they decide)."""
    if not isinstance(value, Cases) or not facts:
        return value
    remaining = list(value.cases)
    for subject, key, holds in facts:
        if subject != value.subject:
            continue
        if holds and key is not TRUTHY:
            return dict(value.cases).get(key, value.otherwise)  # the setting is known
        if key is TRUTHY:
            truthy = [(k, v) for k, v in remaining if k is TRUTHY]
            if truthy:
                return truthy[0][1] if holds else value.otherwise
            continue
        remaining = [(k, v) for k, v in remaining if k != key]
    if len(remaining) == len(value.cases):
        return value
    return cases(value.subject, value.shown, tuple(remaining), value.otherwise)


def case_facts(value: Cases, key: object) -> tuple[Fact, ...]:
    """The facts under which ``value`` is its case ``key`` (``OTHERWISE``: none of them)."""
    if key is OTHERWISE:
        return tuple((value.subject, k, False) for k, _ in value.cases)
    return ((value.subject, key, True),)


def branch_cases(fact: Fact, shown: str) -> Callable[[list[Value]], Value]:
    """How the two branches of a test on a setting combine: a value for each case."""
    subject, key, holds = fact

    def choose(values: list[Value]) -> Value:
        body, orelse = values
        taken, other = (body, orelse) if holds else (orelse, body)
        return cases(subject, shown, ((key, taken),), other)

    return choose


def in_case(frame: Frame, value: Cases, key: object) -> Frame:
    """``frame`` knowing that ``value`` is its case ``key``."""
    return Frame(frame.file, frame.scope, frame.fn, frame.self_name, frame.returns, frame.eval_only,
                 frame.literals, (*frame.facts, *case_facts(value, key)), frame.unnamed_setting, frame.callers_facts)


def describe_case(value: Cases, key: object) -> str:
    if key is TRUTHY:
        return f"when {value.shown} is true"
    if key is OTHERWISE:
        keys = [k for k, _ in value.cases]
        if keys == [TRUTHY]:
            return f"when {value.shown} is false"
        return f"when {value.shown} is not {' or '.join(repr(k) for k in keys)}"
    return f"when {value.shown} == {key!r}"



def branch_taken(test: ast.expr, frame: Frame) -> str | None:
    """'body' or 'orelse' when the test is decided here: by ``self.training`` (the training
    path is the one walked) or by a literal a caller passed for a tested parameter."""
    branch = training_branch(test)
    if branch is not None:
        return branch
    if frame.fn is None and runs_as_script(test):
        return "body"  # the module is walked as the program it is: run, not imported
    if not frame.literals or frame.fn is None:
        return None
    truth = _truth(test, frame, frame.fn.facts.tested_parameters)
    if truth is None:
        return None
    return "body" if truth else "orelse"


def _truth(test: ast.expr, frame: Frame, tested: frozenset[str]) -> bool | None:
    if isinstance(test, (ast.Name, ast.Attribute, ast.Subscript)):
        value = _literal_parameter(test, frame, tested)
        return None if value is _UNDECIDED else bool(value)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _truth(test.operand, frame, tested)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        truths = [_truth(v, frame, tested) for v in test.values]
        decisive = isinstance(test.op, ast.Or)  # True decides an or, False an and
        if decisive in truths:
            return decisive
        return None if None in truths else not decisive
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.comparators[0], ast.Constant):
        subject, method = compared_subject(test.left)
        if subject is None:
            return None
        value = _literal_parameter(subject, frame, tested)
        if value is _UNDECIDED:
            return None
        if method is not None:  # ``kind.upper() == "CL"``
            if not isinstance(value, str):
                return None
            value = getattr(value, method)()
        other, op = test.comparators[0].value, test.ops[0]
        if isinstance(op, (ast.Eq, ast.NotEq)) and type(value) is type(other):
            return (value == other) == isinstance(op, ast.Eq)
        if isinstance(op, (ast.Is, ast.IsNot)) and other is None:
            return (value is None) == isinstance(op, ast.Is)
    return None


_UNDECIDED = object()


def _literal_parameter(name: ast.Name | ast.Attribute | ast.Subscript, frame: Frame, tested: frozenset[str]) -> object:
    """The literal a tested parameter holds in this call, an item of a literal dict (or
    list) one holds (``cfg["MODEL_NAME"]``), or one the instance the method runs on was built
    with (``self.apply_softmax``: see Instance.flags)."""
    if isinstance(name, ast.Subscript):
        item_of = literal_item_of(name)
        if item_of is None or item_of.id not in tested:
            return _UNDECIDED
        held = frame.scope.value(item_of.id)
        item = held.get(literal(name.slice)) if isinstance(held, Mapping) and is_literal_container(held) else None
        return item.value if isinstance(item, Const) else _UNDECIDED
    if isinstance(name, ast.Attribute):
        if not isinstance(name.value, ast.Name) or name.value.id != frame.self_name:
            return _UNDECIDED
        instance = frame.scope.value(name.value.id)
        flag = flag_of(instance, name.attr) if isinstance(instance, Instance) and instance.flags else None
        return flag.value if flag is not None else _UNDECIDED
    if name.id not in tested:
        return _UNDECIDED
    value = frame.scope.value(name.id)
    return value.value if isinstance(value, Const) else _UNDECIDED


def key_of(value: Value, node: ast.expr | None) -> object:
    """The literal key ``node`` is: written there (see literal), or held by a parameter as a
    caller's literal (``BACKENDS.get(backend)`` with ``backend="pytorch"``); NO_LITERAL else."""
    if isinstance(value, Const) and isinstance(value.value, (str, int)) and not isinstance(value.value, bool):
        return value.value
    return literal(node)


class NoLiteral:
    """Marks an expression that is not a str/int literal."""


NO_LITERAL = NoLiteral()


def literal(node: ast.expr | None) -> object:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        if isinstance(node.operand.value, int) and not isinstance(node.operand.value, bool):
            return -node.operand.value
    return NO_LITERAL


def decorator_names(fn: FunctionInfo) -> set[str]:
    node = fn.node
    if isinstance(node, ast.Lambda):
        return set()
    names = set()
    for d in node.decorator_list:
        if isinstance(d, ast.Name):
            names.add(d.id)
        elif isinstance(d, ast.Attribute):
            names.add(d.attr)
    return names


def is_static(fn: FunctionInfo) -> bool:
    return bool(decorator_names(fn) & {"staticmethod", "classmethod"})


def is_property(fn: FunctionInfo) -> bool:
    return bool(decorator_names(fn) & {"property", "cached_property"})


def training_branch(test: ast.expr) -> str | None:
    """'body' when the if-body is the training path (``if self.training:``), 'orelse' for
    ``if not self.training:``, None when the test says nothing about training."""
    if isinstance(test, ast.Attribute) and test.attr == "training":
        return "body"
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = training_branch(test.operand)
        if inner is not None:
            return "orelse" if inner == "body" else "body"
    return None
