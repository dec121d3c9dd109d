"""Calls: torch's functions and modules, loss objects, models, and the user's functions."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from xentguard.static import torch_api as api
from xentguard.static.kinds import (
    UNKNOWN,
    ClassRef,
    ExpOf,
    FunctionRef,
    Instance,
    Layer,
    LossFn,
    Mapping,
    Ref,
    Sequential,
    Shifted,
    Tensor,
    TupleOf,
    Unknown,
    Value,
)
from xentguard.static.scopes import ClassInfo, FunctionInfo
from xentguard.static.source import SourceFile
from xentguard.static.syntax import NO_LITERAL, Frame, literal

if TYPE_CHECKING:
    from xentguard.static.checks import Checks


class Calls:
    """Mixin of :class:`Analyzer`: what a call returns, and the checks calls trigger."""

    if TYPE_CHECKING:  # provided by Analyzer and Expressions
        checks: Checks

        def ev(self, node: ast.expr | None, frame: Frame) -> Value: ...
        def attribute(self, base: Value, attr: str, frame: Frame, node: ast.Attribute | None) -> Value: ...
        def class_member(self, cls: ClassInfo, attr: str, instance: Instance | None,
                         depth: int = 0) -> Value | None: ...
        def compute_attributes(self, cls: ClassInfo) -> None: ...
        def summary(self, fn: FunctionInfo, bound_self: Value | None, args: tuple[Value, ...],
                    kwargs: tuple[tuple[str, Value], ...]) -> Value: ...

    def ev_call(self, node: ast.Call, frame: Frame, discarded: bool = False) -> Value:
        """What the call returns. ``discarded``: a statement of its own, its value unused."""
        func = node.func
        receiver: Value | None = None
        if isinstance(func, ast.Attribute):
            receiver = self.ev(func.value, frame)
            callee = self.attribute(receiver, func.attr, frame, func)
        else:
            callee = self.ev(func, frame)
        args = tuple(self.ev(a, frame) for a in node.args)
        kwargs = tuple((k.arg, self.ev(k.value, frame)) for k in node.keywords if k.arg is not None)
        for k in node.keywords:
            if k.arg is None:
                self.ev(k.value, frame)
        if isinstance(callee, Unknown) and receiver is not None and isinstance(func, ast.Attribute):
            return self.method_call(receiver, func.attr, node, args, frame)
        return self.call(callee, node, args, kwargs, frame, discarded)

    def method_call(self, receiver: Value, method: str, node: ast.Call, args: tuple[Value, ...],
                    frame: Frame) -> Value:
        """A method of a tensor, a module or a loss object (the callee itself is unknown)."""
        if isinstance(receiver, (LossFn, Layer, Sequential, Instance)):
            if method == "forward":
                kwargs = tuple((k.arg, self.ev(k.value, frame)) for k in node.keywords if k.arg)
                return self.call(receiver, node, args, kwargs, frame)
            if method in api.SELF_RETURNING_METHODS:
                return receiver
            return UNKNOWN
        if isinstance(receiver, Mapping) and method == "get" and node.args:
            key = literal(node.args[0])
            return receiver.get(key) if key is not NO_LITERAL else UNKNOWN
        if not isinstance(receiver, (Tensor, Unknown, ExpOf, Shifted)):
            return UNKNOWN
        kind = api.PRODUCER_METHODS.get(method)
        if kind is not None:
            return Tensor(kind, self.checks.origin(f"Tensor.{method}", node.func, frame.file))
        if method == "log":
            return self.checks.log_of(receiver, node, frame.file, inline_arg=node.func.value)  # type: ignore[attr-defined]
        if method == "exp":
            return self.checks.exp_of(receiver, node, node.func.value, frame.file)  # type: ignore[attr-defined]
        if method in ("sum", "nansum") and isinstance(receiver, ExpOf) and not receiver.summed:
            return ExpOf(receiver.arg_key, receiver.origin, receiver.unstable, summed=True)
        if method in api.VIEW_METHODS and isinstance(receiver, Tensor):
            return receiver
        return UNKNOWN

    def call(self, callee: Value, node: ast.Call, args: tuple[Value, ...],
             kwargs: tuple[tuple[str, Value], ...], frame: Frame, discarded: bool = False) -> Value:
        if isinstance(callee, Ref):
            return self.call_torch(api.canonical(callee.qualname), node, args, kwargs, frame)
        if isinstance(callee, LossFn):
            self.checks.loss_call(callee, node, args, kwargs, frame.file, frame.scope)
            return UNKNOWN
        if isinstance(callee, Layer):
            if callee.produces is not None:
                return Tensor(callee.produces, callee.origin)
            if callee.preserves and args and isinstance(args[0], Tensor):
                return args[0]
            return UNKNOWN
        if isinstance(callee, Sequential):
            return self.sequential_output(callee, args, node, frame)
        if isinstance(callee, Instance):
            return self.model_output(callee, node, args, kwargs, frame)
        if isinstance(callee, ClassRef):
            return self.construct(callee.cls, node, frame)
        if isinstance(callee, FunctionRef):
            result = self.call_function(callee, node, args, kwargs, frame, discarded)
            if isinstance(result, Tensor):
                fn = callee.fn
                return Tensor(result.kind, result.origin.through(
                    f"{fn.name}()", fn.file.path, *fn.file.start(fn.node)))
            return result
        return UNKNOWN

    def call_function(self, callee: FunctionRef, node: ast.Call, args: tuple[Value, ...],
                      kwargs: tuple[tuple[str, Value], ...], frame: Frame, discarded: bool = False) -> Value:
        """A user function: its summary for these arguments. Findings made only because of
        what this call passes name the call."""
        informative = any(_informative(v) for v in args) or any(_informative(v) for _, v in kwargs)
        if discarded and not informative and not callee.fn.worth_walking:
            # Nothing of this walk could be seen: the value is unused, and a body without an
            # activation, a loss or a call of its parameters holds no finding. (Chains such
            # as post_init() -> init_weights() -> tie_weights() ran once per model class.)
            return UNKNOWN
        if not informative:
            return self.summary(callee.fn, callee.bound_self, (), ())
        args = tuple(v if _informative(v) else UNKNOWN for v in args)
        kwargs = tuple((k, v) for k, v in kwargs if _informative(v))
        site = self.checks.origin(f"{frame.file.short(node.func)}(...)", node, frame.file)
        self.checks.context.append(site)
        try:
            return self.summary(callee.fn, callee.bound_self, args, kwargs)
        finally:
            self.checks.context.pop()

    def call_torch(self, name: str, node: ast.Call, args: tuple[Value, ...],
                   kwargs: tuple[tuple[str, Value], ...], frame: Frame) -> Value:
        file = frame.file
        kind = api.PRODUCER_FUNCTIONS.get(name)
        if kind is not None:
            if name in api.SOFTMAX_FUNCTIONS:
                self.checks.softmax_without_dim(node, file, positional_dim=1)
            return Tensor(kind, self.checks.origin(file.short(node.func), node.func, file))
        loss = api.LOSS_FUNCTIONS.get(name)
        if loss is not None:
            fn = LossFn(loss, file.short(node.func), None)
            self.checks.loss_call(fn, node, args, kwargs, file, frame.scope)
            return UNKNOWN
        kind = api.PRODUCER_LAYERS.get(name)
        if kind is not None:
            if name in api.SOFTMAX_LAYERS:
                self.checks.softmax_without_dim(node, file, positional_dim=0)
            return Layer(kind, False, self.checks.origin(file.short(node.func), node.func, file))
        if name in api.PRESERVING_LAYERS:
            return Layer(None, True, self.checks.origin(file.short(node.func), node.func, file))
        loss = api.LOSS_CLASSES.get(name)
        if loss is not None:
            spelled = file.short(node.func)
            return LossFn(loss, spelled, self.checks.origin(spelled, node, file))
        if name in api.SEQUENTIAL:
            if any(isinstance(a, ast.Starred) for a in node.args) or node.keywords:
                return UNKNOWN
            return Sequential(args, self.checks.origin(file.short(node.func), node.func, file))
        if name in api.MODEL_WRAPPERS:
            return args[0] if args else UNKNOWN
        if name in api.PARTIAL:
            return _partial(node, args, kwargs, file)
        if name in api.LOG_FUNCTIONS and args:
            return self.checks.log_of(args[0], node, file, inline_arg=node.args[0])
        if name in api.EXP_FUNCTIONS and args:
            return self.checks.exp_of(args[0], node, node.args[0], file)
        if name in api.SUM_FUNCTIONS and args:
            first = args[0]
            if isinstance(first, ExpOf) and not first.summed:
                return ExpOf(first.arg_key, first.origin, first.unstable, summed=True)
            return UNKNOWN
        if name in api.VIEW_FUNCTIONS and args and isinstance(args[0], Tensor):
            return args[0]
        return UNKNOWN

    def construct(self, cls: ClassInfo, node: ast.Call, frame: Frame) -> Value:
        """``Net(...)``: an instance, or a loss object when Net subclasses a torch loss."""
        if "forward" not in cls.methods:
            for base in cls.bases:
                if isinstance(base, Ref):
                    loss = api.LOSS_CLASSES.get(api.canonical(base.qualname))
                    if loss is not None:
                        return LossFn(loss, f"{cls.name} ({frame.file.short(cls.node.bases[0])})",
                                      self.checks.origin(cls.name, node, frame.file))
        return Instance(cls, self.checks.origin(cls.name, node, frame.file))

    def model_output(self, model: Instance, node: ast.Call, args: tuple[Value, ...],
                     kwargs: tuple[tuple[str, Value], ...], frame: Frame) -> Value:
        cls = model.cls
        forward = self.class_member(cls, "forward", Instance(cls))
        if not isinstance(forward, FunctionRef):
            forward = self.class_member(cls, "__call__", Instance(cls))
        if not isinstance(forward, FunctionRef):
            return UNKNOWN
        self.compute_attributes(cls)
        result = self.summary(forward.fn, Instance(cls), args, kwargs)
        if isinstance(result, Tensor):
            fn = forward.fn
            return Tensor(result.kind, result.origin.through(
                f"{fn.name}", fn.file.path, *fn.file.start(fn.node)))
        return result

    def sequential_output(self, seq: Sequential, args: tuple[Value, ...], node: ast.Call, frame: Frame) -> Value:
        value: Value = args[0] if args else UNKNOWN
        for layer in seq.layers:
            value = self.call(layer, node, (value,), (), frame) if isinstance(
                layer, (Layer, Sequential, Instance)) else UNKNOWN
        if isinstance(value, Tensor):
            return Tensor(value.kind, value.origin.through(seq.origin.what, seq.origin.path, seq.origin.line,
                                                           seq.origin.col))
        return value


def _informative(value: Value) -> bool:
    """Arguments worth a context-specific walk of the callee: kinds, losses, models."""
    if isinstance(value, TupleOf):
        return any(_informative(v) for v in value.items)
    if isinstance(value, Mapping):
        return any(_informative(v) for _, v in value.items)
    return isinstance(value, (Tensor, LossFn, Layer, Sequential, Instance, FunctionRef))


def _partial(node: ast.Call, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...],
             file: SourceFile) -> Value:
    if not args:
        return UNKNOWN
    loss = args[0]
    if isinstance(loss, Ref) and api.canonical(loss.qualname) in api.LOSS_FUNCTIONS:
        loss = LossFn(api.LOSS_FUNCTIONS[api.canonical(loss.qualname)], file.short(node.args[0]), None)
    if not isinstance(loss, LossFn):
        return UNKNOWN
    if any(name == "input" for name, _ in kwargs):
        return UNKNOWN
    return LossFn(loss.loss, loss.spelled, loss.origin, loss.bound_args + len(args) - 1)


