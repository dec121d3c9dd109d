"""Expressions: names, attributes, subscripts and operators evaluated to abstract values."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from xentguard.static import torch_api as api
from xentguard.static.inherited import inherited_rewalks
from xentguard.static.kinds import (
    NONE,
    SIGNED,
    UNKNOWN,
    Cases,
    ClassRef,
    Const,
    ExpOf,
    FunctionRef,
    Instance,
    Kind,
    Layer,
    LazyImport,
    LossFn,
    Mapping,
    OneOf,
    Ref,
    SettingRoot,
    Shifted,
    Signed,
    Super,
    Tensor,
    TupleOf,
    Value,
    join_all,
    map_cases,
    map_members,
)
from xentguard.static.scopes import AttributesState, ClassInfo, FunctionInfo, Scope
from xentguard.static.syntax import (
    NO_LITERAL,
    Fact,
    Frame,
    branch_cases,
    branch_taken,
    in_case,
    is_property,
    is_static,
    key_of,
    literal,
    narrow,
    negated,
    setting_attribute,
    setting_test,
    subframe,
)
from xentguard.static.walk import child_nodes

if TYPE_CHECKING:
    from xentguard.static.analyzer import ImportResolver, ModuleAttribute
    from xentguard.static.checks import Checks
    from xentguard.static.flags import StoredElsewhere


class Expressions:
    """Mixin of :class:`Analyzer`: evaluation of every expression that is not a call."""

    if TYPE_CHECKING:  # provided by Analyzer and Calls
        checks: Checks

        def queue(self, fn: FunctionInfo) -> None: ...
        def resolve_lazy(self, lazy: LazyImport) -> Value: ...
        resolve_import: ImportResolver | None
        module_attribute: ModuleAttribute | None
        attribute_stored_elsewhere: StoredElsewhere | None

        def ev_call(self, node: ast.Call, frame: Frame, discarded: bool = False) -> Value: ...
        def summary(self, fn: FunctionInfo, bound_self: Value | None, args: tuple[Value, ...],
                    kwargs: tuple[tuple[str, Value], ...], facts: tuple[Fact, ...] = ()) -> Value: ...
        def assign(self, target: ast.expr, value: Value, frame: Frame, source: ast.expr | None,
                   stmt: ast.stmt | None) -> None: ...
        def _defaults(self, args: ast.arguments, frame: Frame) -> dict[str, Value]: ...
        def read_attribute(self, cls: ClassInfo, attr: str) -> Value | None: ...
        def registry_read(self, container_node: ast.expr, frame: Frame) -> Value | None: ...

    def ev(self, node: ast.expr | None, frame: Frame) -> Value:
        if node is None:
            return UNKNOWN
        if isinstance(node, ast.Name):
            value = frame.scope.value(node.id)
            if isinstance(value, LazyImport):
                return self.resolve_lazy(value)
            return narrow(value, frame.facts) if isinstance(value, Cases) else value
        if isinstance(node, ast.Call):
            result = self.ev_call(node, frame)
            # ``F.nll_loss(model(x), y)`` under ``if args.loss == "nll":`` reads that case.
            return narrow(result, frame.facts) if isinstance(result, Cases) else result
        if isinstance(node, ast.Constant):  # common: before the long chain below
            constant = node.value
            if constant is None:
                return NONE
            return Const(constant) if isinstance(constant, (bool, str)) else UNKNOWN
        if isinstance(node, ast.Attribute):
            result = self.attribute(self.ev(node.value, frame), node.attr, frame, node)
            return narrow(result, frame.facts) if isinstance(result, Cases) else result
        if isinstance(node, ast.Subscript):
            result = self.subscript(node, frame)
            return narrow(result, frame.facts) if isinstance(result, Cases) else result
        if isinstance(node, ast.BinOp):
            return self.binop(node, frame)
        if isinstance(node, ast.Tuple):
            return TupleOf(tuple(self.ev(e, frame) for e in node.elts))
        if isinstance(node, (ast.List, ast.Set)):
            items = [self.ev(e, frame) for e in node.elts]
            if isinstance(node, ast.List) and not any(isinstance(e, ast.Starred) for e in node.elts):
                return Mapping(tuple(enumerate(items)), sequence=True)
            return UNKNOWN
        if isinstance(node, ast.Dict):
            pairs: list[tuple[object, Value]] = []
            literal_keys = True
            for k, v in zip(node.keys, node.values):
                value = self.ev(v, frame)
                key = literal(k) if k is not None else NO_LITERAL
                if k is not None:
                    self.ev(k, frame)
                if key is NO_LITERAL:
                    literal_keys = False
                pairs.append((key, value))
            return Mapping(tuple(pairs)) if literal_keys else UNKNOWN
        if isinstance(node, ast.IfExp):
            self.ev(node.test, frame)
            branch = branch_taken(node.test, frame)
            setting = setting_test(node.test, frame) if branch is None else None
            if setting is not None:
                fact = setting[0]
                body = self.ev(node.body, subframe(frame, frame.scope, frame.eval_only, fact))
                orelse = self.ev(node.orelse, subframe(frame, frame.scope, frame.eval_only, negated(fact)))
                return branch_cases(*setting)([body, orelse])
            if branch is None:  # a test naming no known setting
                branch_frame = subframe(frame, frame.scope, frame.eval_only, unnamed_setting=True)
                return join_all([self.ev(node.body, branch_frame), self.ev(node.orelse, branch_frame)])
            body, orelse = self.ev(node.body, frame), self.ev(node.orelse, frame)
            if branch == "body":
                return body
            if branch == "orelse":
                return orelse
            return join_all([body, orelse])
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            return self.either(node, frame)
        if isinstance(node, ast.NamedExpr):
            value = self.ev(node.value, frame)
            self.assign(node.target, value, frame, node.value, None)
            return value
        if isinstance(node, ast.Lambda):
            fn = FunctionInfo(node, "<lambda>", frame.file, frame.scope, None)
            fn.defaults = self._defaults(node.args, frame)
            self.queue(fn)
            return FunctionRef(fn)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            sub = subframe(frame, Scope(frame.scope, frozenset()), frame.eval_only)
            for comp in node.generators:
                self.ev(comp.iter, sub)
                self.assign(comp.target, UNKNOWN, sub, None, None)
                for cond in comp.ifs:
                    self.ev(cond, sub)
            if isinstance(node, ast.DictComp):
                self.ev(node.key, sub)
                self.ev(node.value, sub)
            else:
                self.ev(node.elt, sub)
            return UNKNOWN
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return _negated(self.ev(node.operand, frame))
        if isinstance(node, ast.Starred):
            # ``f(*layers)``: the list itself; callers bind no parameter past a starred one.
            return self.ev(node.value, frame)
        for child in child_nodes(node):
            if isinstance(child, ast.expr):
                self.ev(child, frame)
        return UNKNOWN

    def either(self, node: ast.BoolOp, frame: Frame) -> Value:
        """``loss or nn.BCEWithLogitsLoss()``: the first operand that is not false. None is
        false and adds nothing (see kinds.join); a loss, a layer, a function or a class is
        true and ends the chain; anything else may be either."""
        values: list[Value] = []
        for operand in node.values:
            value = self.ev(operand, frame)
            values.append(value)
            if isinstance(value, (LossFn, Layer, FunctionRef, ClassRef)):
                break
        return join_all(values)

    def subscript(self, node: ast.Subscript, frame: Frame) -> Value:
        base = self.ev(node.value, frame)
        index = self.ev(node.slice, frame)
        if (isinstance(base, Mapping) and not base.items and not base.sequence and isinstance(node.ctx, ast.Load)
                and isinstance(node.value, (ast.Name, ast.Attribute))):
            # An empty dict read: a registry, filled by decorators (``MODELS[cfg["type"]]``)?
            registered = self.registry_read(node.value, frame)
            if registered is not None:
                return registered
        key = key_of(index, node.slice)
        if isinstance(base, Cases):
            return map_cases(base, lambda _, member: self.item(member, key))
        return self.item(base, key)

    def item(self, base: Value, key: object) -> Value:
        """The item of ``base`` at ``key`` (a literal, or NO_LITERAL: decided at run time)."""
        if isinstance(base, ExpOf):
            return base  # the sums of exp at each index: ``denom.scatter_add_(...)[index]``
        if isinstance(base, TupleOf) and isinstance(key, int) and -len(base.items) <= key < len(base.items):
            return base.items[key]
        if isinstance(base, Mapping):
            # A runtime key (``MODELS[name]``): any of the items.
            return base.get(key) if key is not NO_LITERAL else join_all(base.values())
        if isinstance(base, Tensor):
            return base
        return UNKNOWN

    def binop(self, node: ast.BinOp, frame: Frame) -> Value:
        left = self.ev(node.left, frame)
        right = self.ev(node.right, frame)
        if isinstance(node.op, ast.Sub):
            if (isinstance(right, Tensor) and right.kind is Kind.SIGMOID and isinstance(node.left, ast.Constant)
                    and node.left.value == 1):
                # 1 - sigmoid(x) is sigmoid(-x): log of it is XG112 too (F.logsigmoid(-x)).
                return right.with_kind_of(Kind.SIGMOID, right.origin.through("1 - sigmoid", frame.file.path,
                                                                            *frame.file.start(node)))
            return Shifted()
        if isinstance(node.op, ast.Mult):
            # ``-1.0 * x``: negated, as ``-x`` is (see _negated). Before the scaling below,
            # which would take the literal ``-1.0`` itself for a negated value.
            for factor, other in ((node.left, right), (node.right, left)):
                if _negative_number(factor):
                    return _negated(other)
        if isinstance(node.op, (ast.Mult, ast.Div)) and (isinstance(left, Shifted) or isinstance(right, Shifted)):
            # ``(x - m) / t``, ``-d / t``: scaled, still taken as bounded (as inline, see
            # checks._bounded_exponent).
            return Shifted()
        if isinstance(node.op, ast.Div):
            return self.divided(node, left, right, frame)
        if isinstance(node.op, ast.Add):
            # ``1 + exp(z)``: exp(z) + exp(0), whose log is -log(sigmoid(-z)) written out.
            for one, other in ((node.left, right), (node.right, left)):
                if isinstance(one, ast.Constant) and type(one.value) in (int, float) and one.value == 1 and (
                        isinstance(other, ExpOf)):
                    return other.plus_one_added()
        return UNKNOWN

    def divided(self, node: ast.AST, left: Value, right: Value, frame: Frame) -> Value:
        """``exp(x) / exp(x).sum()`` (or ``e /= e.sum()``): a hand-written softmax."""
        if isinstance(left, ExpOf) and isinstance(right, ExpOf):
            if not left.summed and right.summed and not right.plus_one and left.arg_key == right.arg_key:
                return self.checks.hand_written_softmax(node, left, frame.file)
        return UNKNOWN

    def attribute(self, base: Value, attr: str, frame: Frame, node: ast.Attribute | None) -> Value:
        if isinstance(base, OneOf):
            return map_members(base, lambda member: self.attribute(member, attr, frame, node))
        if isinstance(base, Cases):
            return map_cases(base, lambda key, member: self.attribute(member, attr, in_case(frame, base, key), node))
        if isinstance(base, Super):
            return self.super_attribute(base, attr, frame)
        if isinstance(base, Ref):
            if self.resolve_import is not None and not api.is_torch(base.qualname):
                # `import pkg.models` binds `pkg`; `pkg.models` may be a project module.
                module = self.resolve_import(frame.file, f"{base.qualname}.{attr}", 0)
                if module is not None:
                    return module
            return Ref(f"{base.qualname}.{attr}")
        if self.module_attribute is not None:
            found = self.module_attribute(base, attr)
            if found is not None:
                return self.resolve_lazy(found) if isinstance(found, LazyImport) else found
        if isinstance(base, Instance):
            return self.instance_attribute(base, attr)
        if isinstance(base, ClassRef):
            value = self.class_member(base.cls, attr, None)
            return value if value is not None else UNKNOWN
        if isinstance(base, Tensor) and attr in api.TENSOR_ATTRIBUTES:
            return base
        if type(base) is SettingRoot:
            return setting_attribute(base, attr)  # ``kind = args.unet_type``: one of the settings
        return UNKNOWN

    def super_attribute(self, sup: Super, attr: str, frame: Frame) -> Value:
        """``super().forward`` in a subclass of a torch loss is that loss; in a subclass of
        a user class, the base's member bound to the same instance."""
        instance = sup.instance if isinstance(sup.instance, Instance) else None
        for base, base_node in zip(sup.cls.bases, sup.cls.node.bases):
            if isinstance(base, ClassRef):
                found = self.class_member(base.cls, attr, instance)
                if found is not None:
                    return found
            elif isinstance(base, Ref) and attr in api.INSTANCE_CALL_METHODS:
                loss = api.LOSS_CLASSES.get(api.canonical(base.qualname))
                if loss is not None:
                    spelled = f"{sup.cls.name} ({frame.file.short(base_node)})" if frame.file is sup.cls.file else (
                        sup.cls.name)
                    origin = instance.origin if instance is not None else None
                    return LossFn(loss, spelled, origin)
        return UNKNOWN

    def instance_attribute(self, instance: Instance, attr: str) -> Value:
        cls = instance.cls
        self.compute_attributes(cls)
        value = self.class_member(cls, attr, instance)
        return value if value is not None else UNKNOWN

    def class_member(
        self, cls: ClassInfo, attr: str, instance: Instance | None, depth: int = 0
    ) -> Value | None:
        if depth > 20:
            return None
        if instance is not None:
            assigned = self.read_attribute(cls, attr)
            if assigned is not None:
                return assigned
        method = cls.methods.get(attr)
        if method is not None:
            if instance is not None and is_property(method):
                return self.summary(method, Instance(cls), (), ())
            return FunctionRef(method, instance if instance is not None and not is_static(method) else None)
        if attr in cls.class_attrs:
            return cls.class_attrs[attr]
        for base in cls.bases:
            if isinstance(base, ClassRef):
                if instance is not None:
                    self.compute_attributes(base.cls)
                found = self.class_member(base.cls, attr, instance, depth + 1)
                if found is not None:
                    return found
        return None

    def compute_attributes(self, cls: ClassInfo) -> None:
        """Walk the methods once so that every ``self.x = ...`` is recorded."""
        if cls.attrs_state is not AttributesState.NOT_COMPUTED:
            return
        cls.attrs_state = AttributesState.COMPUTING
        methods = sorted(cls.methods.values(), key=lambda m: m.name != f"{cls.name}.__init__")
        for method in methods:
            if method.assigns_attributes and not is_static(method):
                self.summary(method, Instance(cls), (), ())
        for method in inherited_rewalks(cls, self.attribute_stored_elsewhere):  # a base's, reading our literal
            self.summary(method, Instance(cls), (), ())
        cls.attrs_state = AttributesState.DONE


def _negated(value: Value) -> Value:
    """``-x``: of anything but raw logits (signed, see kinds.Signed), what an exponent takes as bounded, as
    ``x - m`` (Shifted): ``exp(-d)`` of a distance cannot overflow, also through a name
    (``flipped = -d; exp(flipped)``), as checks._bounded_exponent reads ``exp(-d)``."""
    if isinstance(value, Tensor) and value.kind is Kind.LOGITS:
        return UNKNOWN
    if isinstance(value, Signed):
        return SIGNED  # ``-z`` of scores handed to a logits loss: as signed as z
    return Shifted()


def _negative_number(node: ast.expr) -> bool:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node, sign = node.operand, -1
    if not isinstance(node, ast.Constant):
        return False
    number = node.value
    return isinstance(number, (int, float)) and not isinstance(number, bool) and sign * number < 0
