"""The kind-tracking interpreter: walks statements in order, evaluates expressions to
abstract values, and hands loss calls and activation calls to :mod:`checks`.

One traversal per function and calling context. Functions are summarised on demand
(``summary``) and memoised on their abstract arguments, so a model's ``forward`` is
walked once however often it is called; recursion yields ``UNKNOWN``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable

from xentguard.static import torch_api as api
from xentguard.static.checks import Checks
from xentguard.static.kinds import (
    UNKNOWN,
    Binding,
    ClassRef,
    ExpOf,
    FunctionRef,
    Instance,
    Kind,
    Layer,
    LossFn,
    Mapping,
    Origin,
    Ref,
    Sequential,
    Shifted,
    Tensor,
    TupleOf,
    Unknown,
    Value,
    join_all,
)
from xentguard.static.scopes import ClassInfo, FunctionInfo, Scope, assigned_names
from xentguard.static.source import SourceFile

# Resolves an import inside the project: (importing file, module, level) -> module value or None.
ImportResolver = Callable[[SourceFile, str, int], "Value | None"]
# An attribute of a project module value: (module, name) -> value or None.
ModuleAttribute = Callable[[Value, str], "Value | None"]

_MAX_CONTEXTS_PER_FUNCTION = 16
_MAX_REWALKS = 2


@dataclass
class Frame:
    """The state of one walk through a function body (or the module body)."""

    file: SourceFile
    scope: Scope
    fn: FunctionInfo | None = None
    self_name: str | None = None
    returns: list[Value] = field(default_factory=list)
    eval_only: bool = False


class Analyzer:
    def __init__(
        self,
        checks: Checks,
        resolve_import: ImportResolver | None = None,
        module_attribute: ModuleAttribute | None = None,
    ) -> None:
        self.checks = checks
        self.resolve_import = resolve_import
        self.module_attribute = module_attribute
        self._summaries: dict[tuple[object, ...], Value] = {}
        self._in_progress: set[tuple[object, ...]] = set()
        self._stack: list[tuple[object, ...]] = []
        self._tainted: set[tuple[object, ...]] = set()
        self._rewalks: dict[tuple[object, ...], int] = {}
        self._contexts: dict[FunctionInfo, int] = {}
        self.functions: list[FunctionInfo] = []
        self._next_generic = 0

    # ----------------------------------------------------------------- modules
    def run_module(self, file: SourceFile, scope: Scope | None = None) -> Scope:
        """Walk a module body; its functions are queued for :meth:`drain`."""
        scope = scope if scope is not None else Scope(local_names=frozenset())
        self.walk_body(file.tree.body, Frame(file, scope))
        return scope

    def drain(self) -> None:
        """Walk every function not walked yet with unknown arguments (after all modules
        of an import cycle are complete, so their names resolve)."""
        while self._next_generic < len(self.functions):
            fn = self.functions[self._next_generic]
            self._next_generic += 1
            self.summary(fn, self._generic_self(fn), (), ())

    def _generic_self(self, fn: FunctionInfo) -> Value | None:
        if fn.cls is None or _is_static(fn):
            return None
        return Instance(fn.cls)

    # -------------------------------------------------------------- summaries
    def summary(
        self,
        fn: FunctionInfo,
        bound_self: Value | None,
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str, Value], ...],
    ) -> Value:
        key = (fn, bound_self, args, kwargs)
        cached = self._summaries.get(key)
        if cached is not None:
            return cached
        if key in self._in_progress:
            # Recursion: cut here, and don't memoise the walks above the cut, which saw an
            # incomplete answer (a later call walks them again, a bounded number of times).
            index = self._stack.index(key)
            self._tainted.update(self._stack[index + 1:])
            return UNKNOWN
        if any(not isinstance(v, Unknown) for v in args) or kwargs:
            count = self._contexts.get(fn, 0)
            if count >= _MAX_CONTEXTS_PER_FUNCTION:
                return self.summary(fn, bound_self, (), ())
            self._contexts[fn] = count + 1
        self._in_progress.add(key)
        self._stack.append(key)
        try:
            result = self._walk_function(fn, bound_self, args, kwargs)
        finally:
            self._in_progress.discard(key)
            self._stack.pop()
        if key in self._tainted:
            self._tainted.discard(key)
            rewalks = self._rewalks.get(key, 0)
            self._rewalks[key] = rewalks + 1
            if rewalks < _MAX_REWALKS:
                return result
        self._summaries[key] = result
        return result

    def _walk_function(
        self,
        fn: FunctionInfo,
        bound_self: Value | None,
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str, Value], ...],
    ) -> Value:
        node = fn.node
        local_names = assigned_names(node.body if isinstance(node.body, list) else [], node.args)
        scope = Scope(fn.closure, local_names | _param_names(node.args))
        frame = Frame(fn.file, scope, fn=fn)
        params = fn.params
        positional = list(args)
        if bound_self is not None and params:
            frame.self_name = params[0].arg
            scope.bind(params[0].arg, Binding(bound_self))
            params = params[1:]
        defaults = fn.defaults
        keyword = dict(kwargs)
        for param in params:
            if positional:
                value = positional.pop(0)
            elif param.arg in keyword:
                value = keyword.pop(param.arg)
            else:
                value = defaults.get(param.arg, UNKNOWN)
            scope.bind(param.arg, Binding(value))
        for param in node.args.kwonlyargs:
            scope.bind(param.arg, Binding(keyword.pop(param.arg, defaults.get(param.arg, UNKNOWN))))
        if node.args.vararg:
            scope.bind(node.args.vararg.arg, Binding(UNKNOWN))
        if node.args.kwarg:
            scope.bind(node.args.kwarg.arg, Binding(UNKNOWN))
        if isinstance(node, ast.Lambda):
            return self.ev(node.body, frame)
        self.walk_body(node.body, frame)
        return join_all(frame.returns)

    # -------------------------------------------------------------- statements
    def walk_body(self, body: list[ast.stmt], frame: Frame) -> bool:
        """Walk statements in order; True when the body always leaves (return/raise/...)."""
        for stmt in body:
            if self.walk_stmt(stmt, frame):
                return True
        return False

    def walk_stmt(self, stmt: ast.stmt, frame: Frame) -> bool:
        if isinstance(stmt, ast.Assign):
            value = self.ev(stmt.value, frame)
            for target in stmt.targets:
                self.assign(target, value, frame, stmt.value, stmt)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.ev(stmt.value, frame), frame, stmt.value, stmt)
        elif isinstance(stmt, ast.AugAssign):
            self.ev(stmt.value, frame)
            self.assign(stmt.target, UNKNOWN, frame, None, stmt)
        elif isinstance(stmt, ast.Expr):
            self.expression_statement(stmt.value, frame)
        elif isinstance(stmt, ast.Return):
            value = self.ev(stmt.value, frame) if stmt.value is not None else UNKNOWN
            if not frame.eval_only:
                frame.returns.append(value)
            return True
        elif isinstance(stmt, ast.If):
            return self.walk_if(stmt, frame)
        elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            self.walk_loop(stmt, frame)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self.ev(item.context_expr, frame)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, UNKNOWN, frame, None, stmt)
            return self.walk_body(stmt.body, frame)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            return self.walk_try(stmt, frame)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.define_function(stmt, frame, None)
        elif isinstance(stmt, ast.ClassDef):
            self.define_class(stmt, frame)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self.walk_import(stmt, frame)
        elif isinstance(stmt, ast.Raise):
            if stmt.exc is not None:
                self.ev(stmt.exc, frame)
            return True
        elif isinstance(stmt, (ast.Break, ast.Continue)):
            return True
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    frame.scope.bind(target.id, Binding(UNKNOWN))
        elif type(stmt).__name__ == "Match":
            self.walk_match(stmt, frame)
        else:
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self.ev(child, frame)
        return False

    def walk_if(self, stmt: ast.If, frame: Frame) -> bool:
        self.ev(stmt.test, frame)
        training_branch = _training_branch(stmt.test)
        body, orelse = frame.scope.fork(), frame.scope.fork()
        body_frame = _subframe(frame, body, eval_only=frame.eval_only or training_branch == "orelse")
        else_frame = _subframe(frame, orelse, eval_only=frame.eval_only or training_branch == "body")
        body_done = self.walk_body(stmt.body, body_frame)
        else_done = self.walk_body(stmt.orelse, else_frame)
        frame.returns.extend(body_frame.returns)
        frame.returns.extend(else_frame.returns)
        if training_branch is not None:
            train_scope, train_done = (body, body_done) if training_branch == "body" else (orelse, else_done)
            eval_scope, eval_done = (orelse, else_done) if training_branch == "body" else (body, body_done)
            if not train_done:
                frame.scope.bindings = train_scope.bindings
                return False
            # Training leaves here: what follows runs in eval mode only.
            frame.eval_only = True
            frame.scope.bindings = eval_scope.bindings
            return eval_done
        live = [s for s, done in ((body, body_done), (orelse, else_done)) if not done]
        if not live:
            return True
        frame.scope.merge(live)
        return False

    def walk_loop(self, stmt: ast.For | ast.AsyncFor | ast.While, frame: Frame) -> None:
        if isinstance(stmt, ast.While):
            self.ev(stmt.test, frame)
        else:
            self.ev(stmt.iter, frame)
        body = frame.scope.fork()
        body_frame = _subframe(frame, body, frame.eval_only)
        if not isinstance(stmt, ast.While):
            self.assign(stmt.target, UNKNOWN, body_frame, None, stmt)
        self.walk_body(stmt.body, body_frame)
        frame.returns.extend(body_frame.returns)
        frame.scope.merge([frame.scope.fork(), body])
        if stmt.orelse:
            self.walk_body(stmt.orelse, frame)

    def walk_try(self, stmt: ast.stmt, frame: Frame) -> bool:
        body_done = self.walk_body(getattr(stmt, "body", []), frame)
        live = [] if body_done else [frame.scope.fork()]
        for handler in getattr(stmt, "handlers", []):
            scope = frame.scope.fork()
            sub = _subframe(frame, scope, frame.eval_only)
            if handler.type is not None:
                self.ev(handler.type, sub)
            if handler.name:
                scope.bind(handler.name, Binding(UNKNOWN))
            if not self.walk_body(handler.body, sub):
                live.append(scope)
            frame.returns.extend(sub.returns)
        if not body_done:
            self.walk_body(getattr(stmt, "orelse", []), frame)
        if live:
            frame.scope.merge(live)
        final_done = self.walk_body(getattr(stmt, "finalbody", []), frame)
        return final_done or not live

    def walk_match(self, stmt: ast.stmt, frame: Frame) -> None:
        self.ev(stmt.subject, frame)  # type: ignore[attr-defined]
        live = [frame.scope.fork()]
        for case in stmt.cases:  # type: ignore[attr-defined]
            scope = frame.scope.fork()
            sub = _subframe(frame, scope, frame.eval_only)
            for node in ast.walk(case.pattern):
                name = getattr(node, "name", None) or getattr(node, "rest", None)
                if isinstance(name, str):
                    scope.bind(name, Binding(UNKNOWN))
            if case.guard is not None:
                self.ev(case.guard, sub)
            if not self.walk_body(case.body, sub):
                live.append(scope)
            frame.returns.extend(sub.returns)
        frame.scope.merge(live)

    def expression_statement(self, node: ast.expr, frame: Frame) -> None:
        """``seq.add_module(name, layer)`` / ``seq.append(layer)`` change what ``seq`` outputs."""
        value = self.ev(node, frame)
        del value
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return
        method = node.func.attr
        target = node.func.value
        if method not in ("add_module", "append", "register_module") or not node.args:
            return
        owner = self.ev(target, frame)
        layer = self.ev(node.args[-1], frame)
        if isinstance(owner, Sequential):
            self.assign(target, Sequential((*owner.layers, layer), owner.origin), frame, None, None)
        elif method != "append" and isinstance(owner, Instance) and len(node.args) == 2:
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                owner.cls.record_assignment(name.value, layer)

    # --------------------------------------------------------------- binding
    def assign(
        self,
        target: ast.expr,
        value: Value,
        frame: Frame,
        source: ast.expr | None,
        stmt: ast.stmt | None,
    ) -> None:
        if isinstance(target, ast.Name):
            frame.scope.bind(target.id, Binding(value, source, stmt))
        elif isinstance(target, (ast.Tuple, ast.List)):
            elts = target.elts
            if (
                isinstance(value, TupleOf)
                and len(value.items) == len(elts)
                and not any(isinstance(e, ast.Starred) for e in elts)
            ):
                for elt, item in zip(elts, value.items):
                    self.assign(elt, item, frame, None, stmt)
            else:
                for elt in elts:
                    self.assign(elt, UNKNOWN, frame, None, stmt)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, UNKNOWN, frame, None, stmt)
        elif isinstance(target, ast.Attribute):
            base = target.value
            if isinstance(base, ast.Name) and base.id == frame.self_name:
                owner = frame.scope.value(base.id)
                if isinstance(owner, Instance):
                    owner.cls.record_assignment(target.attr, value)
            else:
                self.ev(base, frame)
        elif isinstance(target, ast.Subscript):
            self.ev(target.slice, frame)
            container = self.ev(target.value, frame)
            key = _literal(target.slice)
            if isinstance(container, Mapping) and isinstance(target.value, ast.Name) and key is not _NO_LITERAL:
                items = tuple((k, v) for k, v in container.items if k != key) + ((key, value),)
                frame.scope.bind(target.value.id, Binding(Mapping(items)))

    def walk_import(self, stmt: ast.Import | ast.ImportFrom, frame: Frame) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    imported = self._import_module(frame.file, alias.name, 0) or Ref(alias.name)
                    frame.scope.bind(alias.asname, Binding(imported))
                else:
                    top = alias.name.split(".")[0]
                    imported = self._import_module(frame.file, top, 0) or Ref(top)
                    frame.scope.bind(top, Binding(imported))
            return
        module = stmt.module or ""
        base = self._import_module(frame.file, module, stmt.level) if (stmt.level or module) else None
        for alias in stmt.names:
            if alias.name == "*":
                continue
            name = alias.asname or alias.name
            value: Value | None = None
            if base is not None:
                value = self.attribute(base, alias.name, frame, None)
                if isinstance(value, Unknown):
                    sub = self._import_module(frame.file, f"{module}.{alias.name}" if module else alias.name,
                                              stmt.level)
                    value = sub or UNKNOWN
            elif stmt.level == 0:
                value = Ref(f"{module}.{alias.name}")
            frame.scope.bind(name, Binding(value or UNKNOWN))

    def _import_module(self, file: SourceFile, module: str, level: int) -> Value | None:
        if level == 0 and (module == "torch" or module.startswith("torch.")):
            return Ref(module)
        if self.resolve_import is None:
            return Ref(module) if level == 0 else None
        resolved = self.resolve_import(file, module, level)
        if resolved is not None:
            return resolved
        return Ref(module) if level == 0 else None

    # ---------------------------------------------------------- definitions
    def define_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, frame: Frame,
                        cls: ClassInfo | None) -> FunctionInfo:
        for decorator in node.decorator_list:
            self.ev(decorator, frame)
        prefix = f"{cls.name}." if cls is not None else ""
        fn = FunctionInfo(node, prefix + node.name, frame.file, frame.scope if cls is None else cls_scope(frame),
                          cls)
        fn.defaults = self._defaults(node.args, frame)
        self.functions.append(fn)
        if cls is None:
            frame.scope.bind(node.name, Binding(FunctionRef(fn)))
        return fn

    def _defaults(self, args: ast.arguments, frame: Frame) -> dict[str, Value]:
        defaults: dict[str, Value] = {}
        positional = [*args.posonlyargs, *args.args]
        for param, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
            defaults[param.arg] = self.ev(default, frame)
        for param, kw_default in zip(args.kwonlyargs, args.kw_defaults):
            if kw_default is not None:
                defaults[param.arg] = self.ev(kw_default, frame)
        return defaults

    def define_class(self, node: ast.ClassDef, frame: Frame) -> None:
        for decorator in node.decorator_list:
            self.ev(decorator, frame)
        bases = tuple(self.ev(base, frame) for base in node.bases)
        for keyword in node.keywords:
            self.ev(keyword.value, frame)
        cls = ClassInfo(node, node.name, frame.file, bases)
        body_scope = Scope(frame.scope, frozenset())
        body_frame = Frame(frame.file, body_scope)
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                fn = self.define_function(stmt, _with_closure(body_frame, frame.scope), cls)
                cls.methods[stmt.name] = fn
            else:
                self.walk_stmt(stmt, body_frame)
        for name, binding in body_scope.bindings.items():
            cls.class_attrs[name] = binding.value
        frame.scope.bind(node.name, Binding(ClassRef(cls)))

    # ---------------------------------------------------------- expressions
    def ev(self, node: ast.expr | None, frame: Frame) -> Value:
        if node is None:
            return UNKNOWN
        if isinstance(node, ast.Name):
            return frame.scope.value(node.id)
        if isinstance(node, ast.Call):
            return self.ev_call(node, frame)
        if isinstance(node, ast.Attribute):
            return self.attribute(self.ev(node.value, frame), node.attr, frame, node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, frame)
        if isinstance(node, ast.BinOp):
            return self.binop(node, frame)
        if isinstance(node, ast.Tuple):
            return TupleOf(tuple(self.ev(e, frame) for e in node.elts))
        if isinstance(node, (ast.List, ast.Set)):
            items = [self.ev(e, frame) for e in node.elts]
            if isinstance(node, ast.List) and not any(isinstance(e, ast.Starred) for e in node.elts):
                return Mapping(tuple(enumerate(items)))
            return UNKNOWN
        if isinstance(node, ast.Dict):
            pairs: list[tuple[object, Value]] = []
            literal_keys = True
            for k, v in zip(node.keys, node.values):
                value = self.ev(v, frame)
                key = _literal(k) if k is not None else _NO_LITERAL
                if k is not None:
                    self.ev(k, frame)
                if key is _NO_LITERAL:
                    literal_keys = False
                pairs.append((key, value))
            return Mapping(tuple(pairs)) if literal_keys else UNKNOWN
        if isinstance(node, ast.IfExp):
            self.ev(node.test, frame)
            body, orelse = self.ev(node.body, frame), self.ev(node.orelse, frame)
            branch = _training_branch(node.test)
            if branch == "body":
                return body
            if branch == "orelse":
                return orelse
            return join_all([body, orelse])
        if isinstance(node, ast.NamedExpr):
            value = self.ev(node.value, frame)
            self.assign(node.target, value, frame, node.value, None)
            return value
        if isinstance(node, ast.Lambda):
            fn = FunctionInfo(node, "<lambda>", frame.file, frame.scope, None)
            fn.defaults = self._defaults(node.args, frame)
            self.functions.append(fn)
            return FunctionRef(fn)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            sub = _subframe(frame, Scope(frame.scope, frozenset()), frame.eval_only)
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
        if isinstance(node, ast.Starred):
            self.ev(node.value, frame)
            return UNKNOWN
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.ev(child, frame)
        return UNKNOWN

    def subscript(self, node: ast.Subscript, frame: Frame) -> Value:
        base = self.ev(node.value, frame)
        self.ev(node.slice, frame)
        key = _literal(node.slice)
        if isinstance(base, TupleOf) and isinstance(key, int) and -len(base.items) <= key < len(base.items):
            return base.items[key]
        if isinstance(base, Mapping) and key is not _NO_LITERAL:
            return base.get(key)
        if isinstance(base, Tensor):
            return base
        return UNKNOWN

    def binop(self, node: ast.BinOp, frame: Frame) -> Value:
        left = self.ev(node.left, frame)
        right = self.ev(node.right, frame)
        if isinstance(node.op, ast.Sub):
            return Shifted()
        if isinstance(node.op, ast.Div) and isinstance(left, ExpOf) and isinstance(right, ExpOf):
            if not left.summed and right.summed and left.arg_key == right.arg_key:
                return self.checks.hand_written_softmax(node, left, frame.file)
        return UNKNOWN

    def attribute(self, base: Value, attr: str, frame: Frame, node: ast.Attribute | None) -> Value:
        if isinstance(base, Ref):
            if self.resolve_import is not None and not base.qualname.startswith("torch"):
                # `import pkg.models` binds `pkg`; `pkg.models` may be a project module.
                module = self.resolve_import(frame.file, f"{base.qualname}.{attr}", 0)
                if module is not None:
                    return module
            return Ref(f"{base.qualname}.{attr}")
        if self.module_attribute is not None:
            found = self.module_attribute(base, attr)
            if found is not None:
                return found
        if isinstance(base, Instance):
            return self.instance_attribute(base, attr)
        if isinstance(base, ClassRef):
            value = self.class_member(base.cls, attr, None)
            return value if value is not None else UNKNOWN
        if isinstance(base, Tensor) and attr in ("data", "T", "mT"):
            return base
        return UNKNOWN

    def instance_attribute(self, instance: Instance, attr: str) -> Value:
        cls = instance.cls
        self.compute_attributes(cls)
        value = self.class_member(cls, attr, instance)
        return value if value is not None else UNKNOWN

    def class_member(self, cls: ClassInfo, attr: str, instance: Instance | None, depth: int = 0) -> Value | None:
        if depth > 20:
            return None
        if instance is not None:
            assigned = cls.assigned_value(attr)
            if assigned is not None:
                return assigned
        method = cls.methods.get(attr)
        if method is not None:
            if instance is not None and _is_property(method):
                return self.summary(method, Instance(cls), (), ())
            return FunctionRef(method, instance if instance is not None and not _is_static(method) else None)
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
        if cls.attrs_state != 0:
            return
        cls.attrs_state = 1
        methods = sorted(cls.methods.values(), key=lambda m: m.name != f"{cls.name}.__init__")
        for method in methods:
            if not _is_static(method):
                self.summary(method, Instance(cls), (), ())
        cls.attrs_state = 2

    # ----------------------------------------------------------------- calls
    def ev_call(self, node: ast.Call, frame: Frame) -> Value:
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
        return self.call(callee, node, args, kwargs, frame)

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
            key = _literal(node.args[0])
            return receiver.get(key) if key is not _NO_LITERAL else UNKNOWN
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
             kwargs: tuple[tuple[str, Value], ...], frame: Frame) -> Value:
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
            result = self.call_function(callee, node, args, kwargs, frame)
            if isinstance(result, Tensor):
                fn = callee.fn
                return Tensor(result.kind, result.origin.through(
                    f"{fn.name}()", fn.file.path, *fn.file.start(fn.node)))
            return result
        return UNKNOWN

    def call_function(self, callee: FunctionRef, node: ast.Call, args: tuple[Value, ...],
                      kwargs: tuple[tuple[str, Value], ...], frame: Frame) -> Value:
        """A user function: its summary for these arguments. Findings made only because of
        what this call passes name the call."""
        informative = any(_informative(v) for v in args) or any(_informative(v) for _, v in kwargs)
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
                        return LossFn(loss, f"{cls.name} ({frame.file.short(base_node(cls, base))})",
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


# ------------------------------------------------------------------- helpers
class _NoLiteral:
    pass


_NO_LITERAL = _NoLiteral()


def _literal(node: ast.expr | None) -> object:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        if isinstance(node.operand.value, int) and not isinstance(node.operand.value, bool):
            return -node.operand.value
    return _NO_LITERAL


def _param_names(args: ast.arguments) -> frozenset[str]:
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    return frozenset(names)


def _subframe(frame: Frame, scope: Scope, eval_only: bool) -> Frame:
    return Frame(frame.file, scope, frame.fn, frame.self_name, [], eval_only)


def _with_closure(body_frame: Frame, closure: Scope) -> Frame:
    return Frame(body_frame.file, closure, body_frame.fn, body_frame.self_name, [], body_frame.eval_only)


def cls_scope(frame: Frame) -> Scope:
    return frame.scope


def base_node(cls: ClassInfo, base: Value) -> ast.expr:
    for node in cls.node.bases:
        return node
    return ast.Name(id="?")


def _decorator_names(fn: FunctionInfo) -> set[str]:
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


def _is_static(fn: FunctionInfo) -> bool:
    return bool(_decorator_names(fn) & {"staticmethod", "classmethod"})


def _is_property(fn: FunctionInfo) -> bool:
    return bool(_decorator_names(fn) & {"property", "cached_property"})


def _training_branch(test: ast.expr) -> str | None:
    """'body' when the if-body is the training path (``if self.training:``), 'orelse' for
    ``if not self.training:``, None when the test says nothing about training."""
    if isinstance(test, ast.Attribute) and test.attr == "training":
        return "body"
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _training_branch(test.operand)
        if inner is not None:
            return "orelse" if inner == "body" else "body"
    return None


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


__all__ = ["Analyzer", "Frame", "Kind", "Origin"]
