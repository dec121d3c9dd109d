"""Calls: torch's functions and modules, loss objects, models, and the user's functions."""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import TYPE_CHECKING

from xentguard.static import torch_api as api
from xentguard.static.configs import containers_changed, own_container
from xentguard.static.flags import StoredElsewhere, construction_flags, elsewhere_check
from xentguard.static.kinds import (
    EMPTY_TENSOR,
    FRESH,
    MAX_ITEMS,
    SIGNED,
    TORCH_LOSS_ARGUMENTS,
    UNKNOWN,
    Binding,
    Cases,
    ClassRef,
    Const,
    Entry,
    ExpOf,
    Fresh,
    FunctionRef,
    HookRunner,
    Instance,
    Kind,
    Layer,
    LogScalar,
    LossFn,
    Mapping,
    OneOf,
    Origin,
    Ref,
    Sequential,
    SettingRoot,
    SettingsParser,
    Shifted,
    Signed,
    Super,
    Tensor,
    TupleOf,
    Unknown,
    Value,
    informative,
    is_literal_container,
    join,
    map_cases,
    map_members,
)
from xentguard.static.scopes import ClassInfo, FunctionInfo
from xentguard.static.source import SourceFile
from xentguard.static.syntax import (
    NO_LITERAL,
    Fact,
    Frame,
    argument,
    claims_cases,
    describe_case,
    in_case,
    key_of,
    literal,
    log_target_set,
    narrow,
    run_under_settings,
    setting_root,
)

if TYPE_CHECKING:
    from xentguard.static.checks import Checks


class Calls:
    """Mixin of :class:`Analyzer`: what a call returns, and the checks calls trigger."""

    if TYPE_CHECKING:  # provided by Analyzer and Expressions
        checks: Checks
        attribute_stored_elsewhere: StoredElsewhere | None

        def ev(self, node: ast.expr | None, frame: Frame) -> Value: ...
        def container_changed(self, target: ast.expr, changed: Value, frame: Frame) -> None: ...
        def attribute(self, base: Value, attr: str, frame: Frame, node: ast.Attribute | None) -> Value: ...
        def class_member(self, cls: ClassInfo, attr: str, instance: Instance | None,
                         depth: int = 0) -> Value | None: ...
        def compute_attributes(self, cls: ClassInfo) -> None: ...
        def registry_read(self, container_node: ast.expr, frame: Frame) -> Value | None: ...
        def worth_walking(self, fn: FunctionInfo) -> bool: ...
        def literal_parameters(self, fn: FunctionInfo) -> frozenset[str]: ...
        def summary(self, fn: FunctionInfo, bound_self: Value | None, args: tuple[Value, ...],
                    kwargs: tuple[tuple[str, Value], ...], facts: tuple[Fact, ...] = ()) -> Value: ...

    def ev_call(self, node: ast.Call, frame: Frame, discarded: bool = False) -> Value:
        """What the call returns. ``discarded``: a statement of its own, its value unused."""
        func = node.func
        receiver: Value | None = None
        if isinstance(func, ast.Attribute):
            receiver = self.ev(func.value, frame)
            callee = self.attribute(receiver, func.attr, frame, func)
        elif isinstance(func, ast.Name) and func.id == "super" and frame.scope.lookup("super") is None:
            return self.super_of(frame)
        elif isinstance(func, ast.Name) and func.id in api.CONTAINER_BUILTINS and frame.scope.lookup(func.id) is None:
            # ``for t, out in enumerate(outputs)``: the items of a known list, as the builtin yields them.
            items = tuple(self.ev(a, frame) for a in node.args)
            for k in node.keywords:
                self.ev(k.value, frame)
            return _container_builtin(func.id, items) if not node.keywords else UNKNOWN
        else:
            callee = self.ev(func, frame)
        args = tuple(self.ev(a, frame) for a in node.args)
        kwargs = tuple((k.arg, self.ev(k.value, frame)) for k in node.keywords if k.arg is not None)
        for k in node.keywords:
            if k.arg is None:
                self.ev(k.value, frame)
        if isinstance(callee, Unknown) and isinstance(receiver, HookRunner) and isinstance(func, ast.Attribute):
            self.run_hooks(receiver, func.attr, node, args, kwargs, frame)
            return UNKNOWN
        result = self._call_of(callee, receiver, node, args, kwargs, frame, discarded)
        if any(isinstance(v, Mapping) for v in args) or any(isinstance(v, Mapping) for _, v in kwargs):
            # A list or dict the call may have changed holds what is unknown after it.
            for name in containers_changed(callee, node, args, kwargs, frame.scope):
                self.container_changed(name, UNKNOWN, frame)
        return result

    def _call_of(self, callee: Value, receiver: Value | None, node: ast.Call, args: tuple[Value, ...],
                 kwargs: tuple[tuple[str, Value], ...], frame: Frame, discarded: bool) -> Value:
        func = node.func
        if isinstance(callee, Unknown) and receiver is not None and isinstance(func, ast.Attribute):
            result = self.method_call(receiver, func.attr, node, args, kwargs, frame)
            if isinstance(receiver, Mapping) and func.attr in api.CONTAINER_MUTATORS:
                # ``outs.insert(0, det)``, ``outs.pop()``: the items are not where they were.
                self.container_changed(func.value, _mutated(receiver, func.attr, node, args), frame)
            if _overwrites(receiver, func) and isinstance(func.value, ast.Name):
                # ``dist.fill_(eps)``, ``p.scatter_(...)``: the values are no longer of the kind.
                frame.scope.bind(func.value.id, Binding(UNKNOWN))
            return result
        return self.call(callee, node, args, kwargs, frame, discarded)

    def handed_to_user_code(self, node: ast.Call, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...],
                            frame: Frame) -> tuple[tuple[Value, ...], tuple[tuple[str, Value], ...]]:
        """The arguments as user code (a function, a class, a model) gets them: a torch loss
        function passed by name is a loss, made where it is passed (``run(F.nll_loss, ...)``)."""

        def passed(value: Value, arg: ast.expr) -> Value:
            loss = _loss_function(value)
            if loss is None:
                return value
            spelled = frame.file.short(arg)
            return LossFn(loss, spelled, self.checks.origin(spelled, arg, frame.file))

        if not any(isinstance(v, Ref) for v in args) and not any(isinstance(v, Ref) for _, v in kwargs):
            return args, kwargs  # nearly every call: nothing to look up
        values = {k.arg: k.value for k in node.keywords if k.arg is not None}
        return (tuple(passed(v, a) for v, a in zip(args, node.args)),
                tuple((k, passed(v, values[k]) if k in values else v) for k, v in kwargs))

    def method_call(self, receiver: Value, method: str, node: ast.Call, args: tuple[Value, ...],
                    kwargs: tuple[tuple[str, Value], ...], frame: Frame) -> Value:
        """A method of a tensor, a module or a loss object (the callee itself is unknown)."""
        if isinstance(receiver, OneOf):
            return map_members(receiver, lambda member: self.method_call(member, method, node, args, kwargs, frame))
        if isinstance(receiver, Cases):
            return map_cases(receiver, lambda key, member: self.method_call(
                member, method, node, args, kwargs, in_case(frame, receiver, key)))
        if isinstance(receiver, (LossFn, Layer, Sequential, Instance)):
            if method in api.INSTANCE_CALL_METHODS:
                return self.call(receiver, node, args, kwargs, frame)
            if method in api.SELF_RETURNING_METHODS:
                return receiver
            return UNKNOWN
        if isinstance(receiver, Mapping):
            container = node.func.value if isinstance(node.func, ast.Attribute) else None
            if (method == "get" and not receiver.items and not receiver.sequence and _no_default(node)
                    and isinstance(container, (ast.Name, ast.Attribute))):
                # An empty dict read: a registry, filled by decorators (``self._module_dict.get(key)``)?
                registered = self.registry_read(container, frame)
                if registered is not None:
                    return registered
            if method == "get" and node.args:
                key = key_of(args[0], node.args[0])
                if key is NO_LITERAL:
                    return UNKNOWN
                if key in receiver.absent and len(args) > 1:
                    return join(receiver.get(key), args[1])  # the default, where the key is not held
                return receiver.get(key)
            if method == "values" and not receiver.sequence:
                return Mapping(tuple(enumerate(receiver.values())), sequence=True)
            return UNKNOWN
        if isinstance(receiver, SettingsParser):
            return _parsed_settings(receiver, method, node, frame.file)
        if not isinstance(receiver, (Tensor, Unknown, ExpOf, Shifted, Fresh, Signed)):
            return UNKNOWN
        kind = api.PRODUCER_METHODS.get(method)
        if kind is not None:
            return Tensor(kind, self.checks.origin(f"Tensor.{method}", node.func, frame.file))
        fill_at = api.FILL_METHODS.get(method)
        if fill_at is not None:
            filled = _filled_with(args, (), fill_at, node, frame.file, f"Tensor.{method}")
            if filled is not None:
                return filled
        if method in api.LOG1P_METHODS and isinstance(receiver, ExpOf):
            return self.checks.log_of(receiver.plus_one_added(), node, frame.file, node.func.value,  # type: ignore[attr-defined]
                                      frame.scope)
        if method in api.LOG_METHODS:
            return self.checks.log_of(receiver, node, frame.file, node.func.value, frame.scope)  # type: ignore[attr-defined]
        if method in api.EXP_METHODS:
            return self.checks.exp_of(receiver, node, node.func.value, frame.file,  # type: ignore[attr-defined]
                                          lambda n: self.ev(n, frame))
        if method in api.SUM_METHODS and isinstance(receiver, ExpOf) and not receiver.summed:
            return ExpOf(receiver.arg_key, receiver.origin, receiver.unstable, summed=True)
        if method in api.FRESH_BUFFER_METHODS or (isinstance(receiver, Fresh) and method in api.BUFFER_MOVES):
            return FRESH
        reduction = api.SCATTER_REDUCTIONS.get(method)
        if reduction is not None:
            return _scatter_reduced(reduction, args, dict(kwargs))
        source_at = api.SCATTER_SUMS.get(method)
        if source_at is not None and len(args) > source_at:
            source = args[source_at]
            if isinstance(source, ExpOf) and not source.summed:
                return ExpOf(source.arg_key, source.origin, source.unstable, summed=True)
        if isinstance(receiver, Tensor):
            return _kept(receiver, method, node, dim_offset=0)
        return UNKNOWN

    def call(self, callee: Value, node: ast.Call, args: tuple[Value, ...],
             kwargs: tuple[tuple[str, Value], ...], frame: Frame, discarded: bool = False) -> Value:
        if isinstance(callee, OneOf):
            if any(isinstance(member, LossFn) for member in callee.members):
                return UNKNOWN  # which loss is called decides which rule: no claim
            return map_members(callee, lambda member: self.call(member, node, args, kwargs, frame, discarded))
        if isinstance(callee, Cases):
            return self.call_cases(callee, node, args, kwargs, frame, discarded)
        if isinstance(callee, Ref):
            return self.call_torch(api.canonical(callee.qualname), node, args, kwargs, frame)
        if isinstance(callee, LossFn):
            return self.loss_applied(callee, node, args, kwargs, frame)
        if isinstance(callee, Layer):
            if callee.produces is not None:
                return Tensor(callee.produces, callee.origin)
            if callee.preserves and args and isinstance(args[0], Tensor):
                return args[0]
            return UNKNOWN
        if isinstance(callee, Sequential):
            return self.sequential_output(callee, args, node, frame)
        if isinstance(callee, (Instance, ClassRef, FunctionRef)):
            args, kwargs = self.handed_to_user_code(node, args, kwargs, frame)
        if isinstance(callee, Instance):
            return self.model_output(callee, node, args, kwargs, frame)
        if isinstance(callee, ClassRef):
            return self.construct(callee.cls, node, frame, args, kwargs)
        if isinstance(callee, FunctionRef):
            result = self.call_function(callee, node, args, kwargs, frame, discarded)
            if isinstance(result, Tensor):
                fn = callee.fn
                # Through this function, for the report; a part stays a part, a clamp clamped.
                return Tensor(result.kind, result.origin.through(f"{fn.name}()", fn.file.path, *fn.file.start(fn.node)),
                              result.whole, None, result.bounded)
            return result
        return UNKNOWN

    def loss_applied(self, loss: LossFn, node: ast.Call, args: tuple[Value, ...],
                     kwargs: tuple[tuple[str, Value], ...], frame: Frame) -> Value:
        """A loss called here: its rules checked, and what the call tells of its input."""
        self.checks.loss_call(loss, node, args, kwargs, frame)
        _handed_logits(loss, node, args, kwargs, frame)
        return UNKNOWN

    def call_cases(self, callee: Cases, node: ast.Call, args: tuple[Value, ...],
                   kwargs: tuple[tuple[str, Value], ...], frame: Frame, discarded: bool) -> Value:
        """A callee chosen by a setting: each case called with the arguments of that case."""

        def one(key: object, member: Value) -> Value:
            case_frame = in_case(frame, callee, key)
            case_args = tuple(narrow(v, case_frame.facts) for v in args)
            case_kwargs = tuple((k, narrow(v, case_frame.facts)) for k, v in kwargs)
            # Which loss is called depends on the setting: its findings name the setting.
            named = isinstance(member, LossFn)
            if named and not claims_cases(frame, callee.subject):
                return UNKNOWN  # a test around this call may select the cases that are right
            if named:
                self.checks.conditions.append(describe_case(callee, key))
            try:
                return self.call(member, node, case_args, case_kwargs, case_frame, discarded)
            finally:
                if named:
                    self.checks.conditions.pop()

        return map_cases(callee, one)

    def call_function(self, callee: FunctionRef, node: ast.Call, args: tuple[Value, ...],
                      kwargs: tuple[tuple[str, Value], ...], frame: Frame, discarded: bool = False) -> Value:
        """A user function: its summary for these arguments. Findings made only because of
        what this call passes name the call."""
        passes_kind = any(informative(v) for v in args) or any(informative(v) for _, v in kwargs) or (
            _passes_settings(callee.fn, callee.bound_self, args, kwargs))
        set_from_outside = isinstance(callee.bound_self, Instance) and callee.bound_self.cls.informed_from_outside
        if discarded and not passes_kind and not set_from_outside and not self.worth_walking(callee.fn):
            # Nothing of this walk could be seen: the value is unused, nothing informative is
            # passed or was stored on the instance by its users, and the body reaches no sink
            # (see hotness). (Chains such as post_init() -> init_weights() -> tie_weights()
            # ran once per model class.)
            return UNKNOWN
        fn = callee.fn
        tested = self.literal_parameters(fn)
        # ``if args.arch == "log": nll_step(x, y)``: the callee reads the case its caller's test selects.
        facts = frame.facts if frame.facts and not frame.unnamed_setting and run_under_settings(fn) else ()
        if not passes_kind and not (tested and _selects_branch(args, kwargs)):
            return self.summary(fn, callee.bound_self, (), (), facts)
        args, kwargs, entries = self.enter(node, f"{fn.name}()", args, kwargs, frame, tested)
        args, kwargs = _with_settings(fn, callee.bound_self, node, args, kwargs, frame)
        site = self.checks.origin(f"{frame.file.short(node.func)}(...)", node, frame.file)
        self.checks.context.append(site)
        try:
            return _left(self.summary(fn, callee.bound_self, args, kwargs, facts), entries)
        finally:
            self.checks.context.pop()

    def enter(self, node: ast.Call, callee: str, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...],
              frame: Frame, tested: frozenset[str] = frozenset(),
              ) -> tuple[tuple[Value, ...], tuple[tuple[str, Value], ...], set[Entry]]:
        """The arguments as the callee sees them: uninformative ones unknown (one walk for
        all such calls), literals kept where the callee tests them, and tensors marked with
        the caller's argument they entered through."""
        entries: set[Entry] = set()

        def seen(value: Value, arg: ast.expr, keep_literal: bool) -> Value:
            if isinstance(value, Cases):
                return map_cases(value, lambda _, member: seen(member, arg, keep_literal))
            if isinstance(value, Tensor):
                if value.entry is not None:
                    return value  # passed on: the outermost caller's argument is kept
                entry = Entry(arg, frame.file, callee)
                entries.add(entry)
                return value.entered(entry)
            if isinstance(value, Const):
                return value if keep_literal else UNKNOWN
            if type(value) is SettingRoot:
                return value  # a parser's settings (see _passes_settings)
            if is_literal_container(value):
                return value if keep_literal and own_container(arg, frame.fn) else UNKNOWN
            if isinstance(value, (Mapping, TupleOf)) and any(isinstance(v, Tensor) for v in _items_of(value)):
                # ``criterion(outs, targets)`` with ``outs = [det, torch.sigmoid(seg)]``: an
                # item reaching a loss inside is this argument's mistake, as a tensor's is.
                entry = Entry(arg, frame.file, callee)
                entries.add(entry)
                return _items_entered(value, entry)
            return value if informative(value) else UNKNOWN

        spread = next((i for i, a in enumerate(node.args) if isinstance(a, ast.Starred)), len(node.args))
        positional = tuple(seen(v, a, bool(tested)) for v, a in zip(args[:spread], node.args[:spread]))
        keyword_nodes = {k.arg: k.value for k in node.keywords if k.arg is not None}
        named = tuple((k, seen(v, keyword_nodes[k], k in tested)) for k, v in kwargs if k in keyword_nodes)
        # An unknown passed for a parameter whose literal matters is unknown there, not the
        # parameter's default (``scatter(exp, i, reduce=mode)`` may not reduce by "sum").
        named = tuple((k, v) for k, v in named if not isinstance(v, Unknown) or k in tested)
        return positional, named, entries

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
            return self.loss_applied(LossFn(loss, file.short(node.func), None), node, args, kwargs, frame)
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
            return LossFn(loss, spelled, self.checks.origin(spelled, node, file), log_target=log_target_set(node),
                          arguments=api.LOSS_CALL_ARGUMENTS.get(name, TORCH_LOSS_ARGUMENTS))
        if name in api.ORDERED_DICTS:
            return _ordered_dict(node, args)
        if name in api.SEQUENTIAL:
            layers = _named_layers(node, args) or _spread(node, args)
            if layers is None or node.keywords:
                return UNKNOWN
            return Sequential(layers, self.checks.origin(file.short(node.func), node.func, file))
        if name in api.MODULE_LIST:
            first = args[0] if args else UNKNOWN
            return first if isinstance(first, Mapping) and first.sequence else UNKNOWN
        if name in api.MODULE_DICT:
            first = args[0] if args else UNKNOWN
            return first if isinstance(first, Mapping) and not first.sequence else UNKNOWN
        if name in api.HOOK_RUNNERS:
            return HookRunner(name)
        if name in api.SETTINGS_PARSERS:
            return SettingsParser(name)
        trainer = api.TRAINERS.get(name)
        if trainer is not None:
            self.trainer_call(trainer, node, args, kwargs, frame)
            return UNKNOWN
        if name in api.MODEL_WRAPPERS or name in api.COPIES:
            return args[0] if args else UNKNOWN
        if name in api.PARTIAL:
            return _partial(node, args, kwargs, file)
        if name in api.SCALAR_LOG_FUNCTIONS and args:
            return LogScalar(self.checks.origin(file.short(node.func), node.func, file))
        fill_at = api.FILL_FUNCTIONS.get(name)
        if fill_at is not None:
            filled = _filled_with(args, kwargs, fill_at, node, file, file.short(node.func))
            if filled is not None:
                return filled
        if name in api.LOG_FUNCTIONS and args:
            return self.checks.log_of(args[0], node, file, node.args[0], frame.scope)
        if name in api.LOG1P_FUNCTIONS and args:
            plus_one = args[0].plus_one_added() if isinstance(args[0], ExpOf) else UNKNOWN
            return self.checks.log_of(plus_one, node, file, node.args[0], frame.scope)
        if name in api.EXP_FUNCTIONS and args:
            return self.checks.exp_of(args[0], node, node.args[0], file, lambda n: self.ev(n, frame))
        if name in api.SUM_FUNCTIONS and args:
            first = args[0]
            if isinstance(first, ExpOf) and not first.summed:
                return ExpOf(first.arg_key, first.origin, first.unstable, summed=True)
            return UNKNOWN
        if name in api.FRESH_BUFFERS:
            return FRESH
        if name in api.TENSORS_FROM_DATA and node.args and isinstance(node.args[0], (ast.List, ast.Tuple)) and (
                not node.args[0].elts):
            return EMPTY_TENSOR
        if name in api.CONCATENATIONS and args:
            return _joined(name, node, args[0], kwargs)
        reduction = api.SCATTER_REDUCTIONS.get(name)
        if reduction is not None:
            return _scatter_reduced(reduction, args, dict(kwargs))
        choices = api.ELEMENTWISE_CHOICES.get(name)
        if choices is not None:
            return _chosen([args[at] for at in choices if at < len(args)], len(choices), kwargs)
        if name in api.TENSOR_FUNCTIONS and args and isinstance(args[0], Tensor):
            return _kept(args[0], name, node, dim_offset=1)
        return UNKNOWN

    def construct(self, cls: ClassInfo, node: ast.Call, frame: Frame, args: tuple[Value, ...] = (),
                  kwargs: tuple[tuple[str, Value], ...] = ()) -> Value:
        """``Net(...)``: an instance, or a loss object when Net subclasses a torch loss
        without a forward of its own. The constructor is walked with the arguments when
        they carry something (``Trainer(model, nn.NLLLoss())`` stores them)."""
        if "forward" not in cls.methods:
            for base, base_node in zip(cls.bases, cls.node.bases):
                if isinstance(base, Ref):
                    loss = api.LOSS_CLASSES.get(api.canonical(base.qualname))
                    if loss is not None:
                        return LossFn(loss, f"{cls.name} ({cls.file.short(base_node)})",
                                      self.checks.origin(cls.name, node, frame.file))
        init = self.class_member(cls, "__init__", Instance(cls))
        flags: tuple[tuple[str, Const], ...] = ()
        check = None
        if isinstance(init, FunctionRef):
            flags = construction_flags(cls, init.fn, node, args, kwargs)
            check = elsewhere_check(cls, init.fn, self.attribute_stored_elsewhere) if flags else None
        if isinstance(init, FunctionRef) and (any(informative(v) for v in args) or any(
                informative(v) for _, v in kwargs)):
            self.compute_attributes(cls)
            args, kwargs, _ = self.enter(node, f"{cls.name}()", args, kwargs, frame)
            self.summary(init.fn, Instance(cls), args, kwargs)
        return Instance(cls, self.checks.origin(cls.name, node, frame.file), flags, check)

    def model_output(self, model: Instance, node: ast.Call, args: tuple[Value, ...],
                     kwargs: tuple[tuple[str, Value], ...], frame: Frame) -> Value:
        cls = model.cls
        forward = self.class_member(cls, "forward", Instance(cls))
        if not isinstance(forward, FunctionRef):
            forward = self.class_member(cls, "__call__", Instance(cls))
        if not isinstance(forward, FunctionRef):
            return UNKNOWN
        self.compute_attributes(cls)
        fn = forward.fn
        args, kwargs, entries = self.enter(node, fn.name, args, kwargs, frame)
        # A flagged construction is walked as itself: what it finds names where it was built.
        bound = Instance(cls, model.origin, model.flags, model.stored_elsewhere) if model.flags else Instance(cls)
        result = _left(self.summary(fn, bound, args, kwargs), entries)
        if isinstance(result, Tensor):
            return result.with_kind_of(result.kind, result.origin.through(
                f"{fn.name}", fn.file.path, *fn.file.start(fn.node)))
        return result

    def super_of(self, frame: Frame) -> Value:
        """``super()`` in a method: its class and the instance the method runs on."""
        fn = frame.fn
        if fn is None or fn.cls is None or frame.self_name is None:
            return UNKNOWN
        return Super(fn.cls, frame.scope.value(frame.self_name))

    def trainer_call(self, trainer: api.Trainer, node: ast.Call, args: tuple[Value, ...],
                     kwargs: tuple[tuple[str, Value], ...], frame: Frame) -> None:
        """A library entry point that calls ``loss(model(x), y)`` itself: the model's
        output is checked against the loss at the wiring call, at the model argument."""
        model_node, model = argument(node, args, kwargs, *trainer.model)
        loss_node, loss = argument(node, args, kwargs, *trainer.loss)
        if model_node is None:
            return
        if loss_node is None and trainer.default_loss is not None:
            if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                return  # ``**options`` may pass the loss: which one is unknown
            loss = Ref(trainer.default_loss)
        # A loss class is instantiated by the library.
        if isinstance(loss, ClassRef):
            loss = self.construct(loss.cls, node, frame)
        elif isinstance(loss, Ref):
            loss = _loss_object(loss.qualname, loss_node, frame)
        if isinstance(model, ClassRef):
            model = self.construct(model.cls, node, frame)
        if not isinstance(loss, LossFn):
            return
        output = self.call(model, node, (UNKNOWN,), (), frame) if isinstance(
            model, (Instance, Sequential, Layer, OneOf)) else UNKNOWN
        if not isinstance(output, Tensor):
            return
        if loss.loss in trainer.log_of_output_for:
            return  # the library takes log of the output first: probabilities are what it expects
        called = frame.file.short(node.func)
        display = f"{loss.spelled} (called by {called} with the output of {frame.file.short(model_node)})"
        self.checks.loss_input(loss, output, model_node, node, display, frame)

    def run_hooks(self, runner: HookRunner, method: str, node: ast.Call, args: tuple[Value, ...],
                  kwargs: tuple[tuple[str, Value], ...], frame: Frame) -> None:
        """``trainer.fit(model)``: the library calls the model's hooks (``training_step``)
        with batches of its own, so each hook the model's class has is walked for this
        model, as a call with unknown arguments (see torch_api.HOOK_RUNNERS)."""
        run = api.HOOK_RUNNERS[runner.qualname].get(method)
        if run is None:
            return
        _, model = argument(node, args, kwargs, *run.model)
        if not isinstance(model, (Instance, OneOf, Cases)):
            return
        for hook in run.hooks:
            step = self.attribute(model, hook, frame, None)
            if isinstance(step, (FunctionRef, OneOf, Cases)):
                self.call(step, node, (UNKNOWN, UNKNOWN), (), frame, discarded=True)

    def sequential_output(self, seq: Sequential, args: tuple[Value, ...], node: ast.Call, frame: Frame) -> Value:
        value: Value = args[0] if args else UNKNOWN
        for layer in seq.layers:
            value = self.call(layer, node, (value,), (), frame) if isinstance(
                layer, (Layer, Sequential, Instance)) else UNKNOWN
        if isinstance(value, Tensor):
            return Tensor(value.kind, value.origin.through(seq.origin.what, seq.origin.path, seq.origin.line,
                                                           seq.origin.col), value.whole, None, value.bounded)
        return value


def _no_default(node: ast.Call) -> bool:
    """``d.get(key)`` or ``d.get(key, None)``: a default would be one more value it may give."""
    default = node.args[1] if len(node.args) == 2 else None
    return not node.keywords and len(node.args) in (1, 2) and not isinstance(node.args[0], ast.Starred) and (
        default is None or (isinstance(default, ast.Constant) and default.value is None))


def _container_builtin(name: str, args: tuple[Value, ...]) -> Value:
    """What ``enumerate``, ``zip``, ``reversed``, ``list`` or ``tuple`` of known lists holds,
    and ``dict()`` (see torch_api.CONTAINER_BUILTINS); anything else is unknown. ``zip`` of a known list
    and others: the others' items are unknown (zip stops at the shortest: each row it
    yields is one of these)."""
    how = api.CONTAINER_BUILTINS[name]
    if how == "empty":
        return UNKNOWN if args else Mapping(())
    known = [isinstance(a, Mapping) and a.sequence for a in args]
    if not args or not (all(known) or (how == "zip" and any(known))):
        return UNKNOWN
    lists = [a.values() for a, is_list in zip(args, known) if is_list and isinstance(a, Mapping)]
    if how == "enumerate" and len(lists) == 1:
        values: list[Value] = [TupleOf((UNKNOWN, v)) for v in lists[0]]
    elif how == "zip":
        length = min(len(items) for items in lists)
        columns = [a.values() if is_list and isinstance(a, Mapping) else [UNKNOWN] * length
                   for a, is_list in zip(args, known)]
        values = [TupleOf(tuple(column[row] for column in columns)) for row in range(length)]
    elif how == "reversed" and len(lists) == 1:
        values = lists[0][::-1]
    elif how == "same" and len(lists) == 1:
        values = lists[0]
    else:
        return UNKNOWN
    return Mapping(tuple(enumerate(values)), sequence=True)


def _mutated(container: Mapping, method: str, node: ast.Call, args: tuple[Value, ...]) -> Value:
    """What a list or dict holds after ``method`` changed it in place (CONTAINER_MUTATORS)."""
    if method == "clear" and not args and not node.keywords:
        return Mapping((), container.sequence)
    if not container.sequence or node.keywords:
        return UNKNOWN
    values = container.values()
    if method == "reverse" and not args:
        return Mapping(tuple(enumerate(values[::-1])), sequence=True)
    index = literal(node.args[0]) if method == "insert" and len(node.args) == 2 else NO_LITERAL
    if type(index) is int and len(values) < MAX_ITEMS:
        at = max(0, len(values) + index) if index < 0 else min(index, len(values))
        return Mapping(tuple(enumerate([*values[:at], args[1], *values[at:]])), sequence=True)
    return UNKNOWN


def _overwrites(receiver: Value, func: ast.Attribute) -> bool:
    """An in-place tensor method that writes values (``fill_``, ``scatter_``, ``copy_``),
    not one that only reshapes in place (``squeeze_``, ``t_``)."""
    method = func.attr
    return (isinstance(receiver, Tensor) and method.endswith("_") and not method.startswith("_")
            and method not in api.TENSOR_METHODS)


def _with_settings(fn: FunctionInfo, bound_self: Value | None, node: ast.Call, args: tuple[Value, ...],
                   kwargs: tuple[tuple[str, Value], ...], frame: Frame,
                   ) -> tuple[tuple[Value, ...], tuple[tuple[str, Value], ...]]:
    """The arguments with the settings holders a caller passes (``args``) as
    :class:`SettingRoot`, for the parameters whose settings the callee tests."""
    wanted = fn.facts.setting_parameters
    if not wanted:
        return args, kwargs
    params = fn.params[1:] if bound_self is not None and fn.params else fn.params
    positional = list(args)
    for index, (param, arg) in enumerate(zip(params, node.args[:len(positional)])):
        if param.arg in wanted and type(positional[index]) is Unknown:
            positional[index] = setting_root(arg, frame) or positional[index]
    named = {k for k, _ in kwargs}
    added = tuple((k.arg, root) for k in node.keywords
                  if k.arg in wanted and k.arg not in named and (root := setting_root(k.value, frame)) is not None)
    return tuple(positional), kwargs + added


def _parsed_settings(parser: SettingsParser, method: str, node: ast.Call, file: SourceFile) -> Value:
    """What a parser's method returns: the settings the command line holds, read where this
    call is (its position is the settings' name), when no argument list or namespace is
    passed (``parser.parse_args(["--model", "a"])`` fixes them instead); unknown else."""
    methods = api.SETTINGS_PARSERS[parser.qualname]
    if method not in methods or node.args or node.keywords:
        return UNKNOWN
    line, col = file.start(node)
    subject = f"<settings parsed at {file.path}:{line}:{col}>"
    at = methods[method]
    if at is None:
        return SettingRoot(subject, file.short(node))
    items: list[Value] = [UNKNOWN, UNKNOWN]  # every such method returns ``(namespace, extras)``
    items[at] = SettingRoot(subject, f"{file.short(node)}[{at}]")
    return TupleOf(tuple(items))


def _passes_settings(fn: FunctionInfo, bound_self: Value | None, args: tuple[Value, ...],
                     kwargs: tuple[tuple[str, Value], ...]) -> bool:
    """Whether a parser's settings are passed for a parameter the callee tests a setting of
    or hands on to a call (``main(parse_args())`` into ``def main(args): get_model(args)``):
    a walk of its own, where the tests read their cases (kinds.Cases)."""
    if not any(type(v) is SettingRoot for v in args) and not any(type(v) is SettingRoot for _, v in kwargs):
        return False  # nearly every call
    used = fn.facts.setting_parameters | fn.facts.handed_parameters
    params = fn.params[1:] if bound_self is not None and fn.params else fn.params
    return any(type(v) is SettingRoot and p.arg in used for p, v in zip(params, args)) or any(
        type(v) is SettingRoot and k in used for k, v in kwargs)


def _selects_branch(args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...]) -> bool:
    """Whether a literal is passed: a constant, or a dict or list written out of them."""
    return any(isinstance(v, Const) or is_literal_container(v) for v in (*args, *(v for _, v in kwargs)))


def _scatter_reduced(reduction: tuple[int, int], args: tuple[Value, ...], keywords: dict[str, Value]) -> Value:
    """``torch.scatter_reduce(out, dim, index, src, reduce)``: of exps reduced by a sum or a
    mean, their sums (a softmax's denominator); anything else, unknown."""
    source_at, reduce_at = reduction
    source = args[source_at] if len(args) > source_at else keywords.get("src", UNKNOWN)
    reduce = args[reduce_at] if len(args) > reduce_at else keywords.get("reduce", UNKNOWN)
    if isinstance(source, ExpOf) and not source.summed and isinstance(reduce, Const) and (
            reduce.value in api.SUMMING_REDUCTIONS):
        return replace(source, summed=True)
    return UNKNOWN


def _items_of(container: Mapping | TupleOf) -> list[Value]:
    return container.values() if isinstance(container, Mapping) else list(container.items)


def _items_entered(container: Mapping | TupleOf, entry: Entry) -> Value:
    """The container with its tensors marked as entered through ``entry`` (Tensor.entered)."""
    if isinstance(container, Mapping):
        return container.with_tensors(lambda t: t.entered(entry))
    return TupleOf(tuple(t.entered(entry) if isinstance(t, Tensor) else t for t in container.items))


def _left(result: Value, entries: set[Entry]) -> Value:
    """A callee's result as the caller sees it: a tensor that entered through this call's
    arguments and comes back out is the caller's own value again."""
    if entries and isinstance(result, Tensor) and result.entry in entries:
        return result.own()
    return result


def _ordered_dict(node: ast.Call, args: tuple[Value, ...]) -> Value:
    """``OrderedDict([("a", x), ("b", y)])`` (or of no argument): its items in that order,
    when every key is a literal string."""
    if node.keywords or len(args) > 1:
        return UNKNOWN
    if not args:
        return Mapping(())
    pairs = args[0]
    if not (isinstance(pairs, Mapping) and pairs.sequence):
        return UNKNOWN
    items: dict[object, Value] = {}
    for pair in pairs.values():
        if not (isinstance(pair, TupleOf) and len(pair.items) == 2 and isinstance(pair.items[0], Const)
                and isinstance(pair.items[0].value, str)):
            return UNKNOWN
        items[pair.items[0].value] = pair.items[1]  # a repeated key keeps its first place
    return Mapping(tuple(items.items()))


def _named_layers(node: ast.Call, args: tuple[Value, ...]) -> tuple[Value, ...] | None:
    """``nn.Sequential(OrderedDict(...))``: the named layers, in order."""
    if len(args) == 1 and not any(isinstance(a, ast.Starred) for a in node.args) and isinstance(
            args[0], Mapping) and not args[0].sequence and args[0].items:
        return tuple(args[0].values())
    return None


def _spread(node: ast.Call, args: tuple[Value, ...]) -> tuple[Value, ...] | None:
    """``f(a, b)`` or ``f(*layers)`` over a known list: the items, or None when unknown."""
    if len(node.args) == 1 and isinstance(node.args[0], ast.Starred):
        spread = args[0] if args else UNKNOWN
        if isinstance(spread, Mapping) and spread.sequence:
            return tuple(spread.values())
        return None
    if any(isinstance(a, ast.Starred) for a in node.args):
        return None
    return args


def _dim_argument(node: ast.Call, position: int) -> object:
    if len(node.args) > position:
        return literal(node.args[position])
    for keyword in node.keywords:
        if keyword.arg == "dim":
            return literal(keyword.value)
    return NO_LITERAL


def _kept(tensor: Tensor, operation: str, node: ast.Call, dim_offset: int) -> Value:
    """What a tensor operation (``x.view(...)``, ``torch.gather(x, ...)``) keeps of the kind."""
    table = api.TENSOR_FUNCTIONS if dim_offset else api.TENSOR_METHODS
    keeps = table.get(operation)
    if keeps is None:
        return UNKNOWN
    on_batch = api.BATCH_DIM_OPERATIONS.get(operation)
    if on_batch is not None and _dim_argument(node, on_batch[0]) == 0:
        return tensor
    if keeps is api.Keeps.BATCH_MEAN:
        return UNKNOWN
    if keeps is api.Keeps.CLAMPED:
        return tensor.clamped(operation not in api.UPPER_CLAMPS and _positive_lower_bound(node, dim_offset))
    return tensor if keeps is api.Keeps.CLASS_DIM else tensor.part()


def _positive_lower_bound(node: ast.Call, offset: int) -> bool:
    """A clamp's lower bound (``min=`` or the first argument after the tensor) is there and
    is not a literal 0 or below: a name (``eps``) is taken for the small positive it is."""
    bound = next((k.value for k in node.keywords if k.arg == "min"), None)
    if bound is None and len(node.args) > offset:
        bound = node.args[offset]
    if bound is None or (isinstance(bound, ast.Constant) and bound.value is None):
        return False
    value = literal(bound)
    return not (isinstance(value, (int, float)) and value <= 0)


def _joined(name: str, node: ast.Call, pieces: Value, kwargs: tuple[tuple[str, Value], ...]) -> Value:
    """``torch.cat([a, b], dim)``: the kind the pieces share. Each piece's rows stay whole
    when they are not joined along the class dim: a cat along the batch, a stack (a new
    dim), or a cat along a dim each piece was unsqueezed at (``torch.cat((acc,
    p.unsqueeze(-1)), dim=-1)``, a stack grown one piece at a time)."""
    if not isinstance(pieces, (Mapping, TupleOf)):
        return UNKNOWN
    written = pieces.values() if isinstance(pieces, Mapping) else list(pieces.items)
    items = [v for v in written if v != EMPTY_TENSOR]  # ``acc = torch.cat((acc, step))`` from ``torch.tensor([])``
    if not items or not all(isinstance(v, Tensor) for v in items):
        return UNKNOWN
    tensors = [v for v in items if isinstance(v, Tensor)]
    first = tensors[0]
    if any(t.kind is not first.kind for t in tensors):
        return UNKNOWN
    dim = _dim_argument(node, 1)
    on_batch = dim == 0 or (dim is NO_LITERAL and len(node.args) < 2 and not kwargs)
    apart = on_batch or name in api.STACKS or (dim is not NO_LITERAL and _unsqueezed_at(node, written, dim))
    return Tensor(first.kind, first.origin, apart and all(t.whole for t in tensors))


def _chosen(tensors: list[Value], expected: int, kwargs: tuple[tuple[str, Value], ...]) -> Value:
    """``torch.where(cond, a, b)``: a part of the kind ``a`` and ``b`` share (see
    ELEMENTWISE_CHOICES), else unknown."""
    chosen = [t for t in tensors if isinstance(t, Tensor)]
    if len(chosen) != expected or kwargs or any(t.kind is not chosen[0].kind for t in chosen):
        return UNKNOWN
    # A log of the choice stays finite only when every choice is bounded away from 0.
    return replace(chosen[0].part(), bounded=all(t.bounded for t in chosen))


def _unsqueezed_at(node: ast.Call, pieces: list[Value], dim: object) -> bool:
    """Every piece is written ``x.unsqueeze(dim)`` or ``torch.unsqueeze(x, dim)`` in the
    call, or is the empty start of an accumulator (``torch.tensor([])``)."""
    written = node.args[0] if node.args else None
    if not isinstance(written, (ast.Tuple, ast.List)) or len(written.elts) != len(pieces):
        return False
    unsqueezed = 0
    for piece, value in zip(written.elts, pieces):
        if value == EMPTY_TENSOR:
            continue
        if not (isinstance(piece, ast.Call) and isinstance(piece.func, ast.Attribute)
                and piece.func.attr == "unsqueeze"):
            return False
        # torch.unsqueeze(x, dim) or x.unsqueeze(dim)
        given = literal(piece.args[1]) if len(piece.args) == 2 else _dim_argument(piece, 0)
        if given != dim:
            return False
        unsqueezed += 1
    return unsqueezed > 0


def _loss_object(qualname: str, node: ast.expr | None, frame: Frame) -> Value:
    loss = api.LOSS_CLASSES.get(api.canonical(qualname))
    if loss is None:
        return UNKNOWN
    spelled = frame.file.short(node) if node is not None else qualname.rsplit(".", 1)[-1]
    line, col = frame.file.start(node) if node is not None else (1, 0)
    return LossFn(loss, spelled, Origin(spelled, frame.file.path, line, col))


def _filled_with(args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], position: int, node: ast.Call,
                 file: SourceFile, what: str) -> Value | None:
    """A tensor every element of which is the fill value (``torch.full(size, v)``,
    ``t.fill_(v)``; of a method, positional only): log space when ``v`` is (a log-space
    target, XG111); None: no claim (the call is read as any other)."""
    value = args[position] if len(args) > position else dict(kwargs).get("fill_value")
    if isinstance(value, LogScalar):
        return Tensor(Kind.LOGGED, value.origin.through(what, file.path, *file.start(node)))
    return None


def _loss_function(value: Value) -> str | None:
    """The loss a torch loss function named as a value computes (``F.nll_loss`` handed to
    ``functools.partial`` or to a user function), canonical; None for anything else."""
    if isinstance(value, Ref):
        return api.LOSS_FUNCTIONS.get(api.canonical(value.qualname))
    return None


def _partial(node: ast.Call, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...],
             file: SourceFile) -> Value:
    if not args:
        return UNKNOWN
    loss = args[0]
    named = _loss_function(loss)
    if named is not None:
        loss = LossFn(named, file.short(node.args[0]), None)
    if not isinstance(loss, LossFn):
        return UNKNOWN
    if any(name == "input" for name, _ in kwargs):
        return UNKNOWN
    return LossFn(loss.loss, loss.spelled, loss.origin, loss.bound_args + len(args) - 1)


def _handed_logits(loss: LossFn, node: ast.Call, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...],
                   frame: Frame) -> None:
    """After ``F.binary_cross_entropy_with_logits(z, y)``, a local ``z`` of unknown origin is
    what this code treats as raw logits (kinds.Signed): ``exp(-z)`` of it overflows. Only a
    name this function binds, bound to nothing known, and only from here on in this path
    (a branch that did not pass it joins back to unknown)."""
    if loss.loss not in api.LOGITS_INPUT_LOSSES or loss.bound_args:
        return
    input_node, value = argument(node, args, kwargs, *loss.arguments[0])
    if type(input_node) is not ast.Name or type(value) is not Unknown:
        return
    name = input_node.id
    scope = frame.scope
    binding = scope.bindings.get(name)
    if name in scope.local_names and binding is not None and type(binding.value) is Unknown:
        scope.bind(name, Binding(SIGNED, binding.source, binding.assign))

