"""The kind-tracking interpreter: walks statements in order, evaluates expressions to
abstract values, and hands loss calls and activation calls to :mod:`checks`.

One traversal per function and calling context. Functions are summarised on demand
(``summary``) and memoised on their abstract arguments, so a model's ``forward`` is
walked once however often it is called; a summary holds while the instance attributes
it read still read the same (a setter or a class's user may store more later);
recursion yields ``UNKNOWN``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Callable

from xentguard.static import torch_api as api
from xentguard.static.body_facts import ATTRIBUTE_PREFIX
from xentguard.static.calls import Calls
from xentguard.static.checks import Checks
from xentguard.static.expressions import Expressions
from xentguard.static.flags import (
    StoredElsewhere,
    carries_a_kind,
    flag_parameters,
    flags_hold,
    kinds_shown,
    without_flags,
)
from xentguard.static.hotness import Hotness, hotness
from xentguard.static.kinds import (
    UNBOUND,
    UNKNOWN,
    Binding,
    Cases,
    ClassRef,
    ExpOf,
    Fresh,
    FunctionRef,
    Instance,
    LazyImport,
    Mapping,
    Ref,
    Sequential,
    Tensor,
    TupleOf,
    Unbound,
    Unknown,
    Value,
    cases,
    join,
    join_all,
    map_cases,
)
from xentguard.static.loops import LiteralLoop, literal_loop
from xentguard.static.prefilter import import_statements
from xentguard.static.registry_reads import RegistryFiles, RegistryReads
from xentguard.static.scopes import ClassInfo, FunctionInfo, Scope
from xentguard.static.source import SourceFile
from xentguard.static.syntax import (
    NO_LITERAL,
    Fact,
    Frame,
    branch_cases,
    branch_taken,
    is_static,
    literal,
    negated,
    setting_flag,
    setting_test,
    subframe,
    training_branch,
)
from xentguard.static.torch_api import is_torch
from xentguard.static.walk import child_nodes, walk

# Resolves an import inside the project: (importing file, module, level) -> module value or None.
ImportResolver = Callable[[SourceFile, str, int], "Value | None"]
# An attribute of a project module value: (module, name) -> value or None.
ModuleAttribute = Callable[[Value, str], "Value | None"]
# What ``from module import *`` binds, read off the project file's text without walking it:
# (importing file, module, level) -> names, or None when the module is not the project's.
PublicNames = Callable[[SourceFile, str, int], "list[str] | None"]
# Whether a name imported from a project module may reach a loss, a log or an exp:
# (importing file, module, level, name) -> bool.
ImportedNameConsumes = Callable[[SourceFile, str, int, str], bool]
# The hot attributes (see hotness) instances of a class imported from a project module carry
# from its definition and its bases: (importing file, module, level, name) -> names.
InheritedAttributes = Callable[[SourceFile, str, int, str], frozenset[str]]

_MAX_CONTEXTS_PER_FUNCTION = 16
# The instance attributes a walk read, with what each read gave (None: nothing assigned).
AttributeReads = dict[tuple[ClassInfo, str], "Value | None"]
_MAX_REWALKS = 2


@dataclass(frozen=True)
class _Conditional(Value):
    """A return under tests of settings (``facts``; ``unnamed``: or of a test naming none):
    only in a function's own list of returns, which _returned reads."""

    value: Value
    facts: tuple[Fact, ...]
    unnamed: bool


class Analyzer(Expressions, Calls, RegistryReads):
    def __init__(
        self,
        checks: Checks,
        resolve_import: ImportResolver | None = None,
        module_attribute: ModuleAttribute | None = None,
        public_names: PublicNames | None = None,
        imported_name_consumes: ImportedNameConsumes | None = None,
        registry_files: RegistryFiles | None = None,
        inherited_attributes: InheritedAttributes | None = None,
        attribute_stored_elsewhere: StoredElsewhere | None = None,
    ) -> None:
        self.checks = checks
        self.resolve_import = resolve_import
        self.module_attribute = module_attribute
        self.public_names = public_names
        self.imported_name_consumes = imported_name_consumes
        self.inherited_attributes = inherited_attributes
        self.attribute_stored_elsewhere = attribute_stored_elsewhere
        self.init_registries(registry_files)
        # key -> (result, the attributes the walk read: (class, name) -> what it read).
        self._summaries: dict[tuple[object, ...], tuple[Value, AttributeReads]] = {}
        self._setting_shown: dict[str, str] = {}  # a setting's subject -> how a test wrote it
        # Whether an instance's construction flags hold (see _flagged_summary): asked once.
        self._flag_verdicts: dict[Instance, bool] = {}
        self._literal_parameters: dict[FunctionInfo, frozenset[str]] = {}  # see literal_parameters
        self._reads: list[AttributeReads] = []  # one per walk in progress, innermost last
        self._in_progress: set[tuple[object, ...]] = set()
        self._stack: list[tuple[object, ...]] = []
        self._tainted: set[tuple[object, ...]] = set()
        self._rewalks: dict[tuple[object, ...], int] = {}
        self._contexts: dict[FunctionInfo, int] = {}
        self._lazy_values: dict[LazyImport, Value] = {}
        self._hot: dict[SourceFile, Hotness] = {}
        self._hot_in_progress: set[SourceFile] = set()
        # Functions not walked yet with unknown arguments, by file.
        self.pending: dict[str, list[FunctionInfo]] = {}

    # ----------------------------------------------------------------- modules
    def run_module(self, file: SourceFile, scope: Scope | None = None) -> Scope:
        """Walk a module body; its functions are queued for :meth:`drain`."""
        scope = scope if scope is not None else Scope(local_names=frozenset())
        self.walk_body(file.tree.body, Frame(file, scope))
        return scope

    def drain(self, path: str) -> None:
        """Walk the functions of ``path`` not walked yet, with unknown arguments (after all
        modules of an import cycle are complete, so their names resolve). Functions of
        modules that were only imported are summarised on demand, never walked whole.

        Only functions that reach a sink are walked (:meth:`worth_walking`, see hotness):
        the gate is a fact of the tree, never of its names or comments.
        """
        queue = self.pending.get(path)
        while queue:
            fn = queue.pop(0)
            if self.worth_walking(fn):
                self.summary(fn, self._generic_self(fn), (), ())

    def literal_parameters(self, fn: FunctionInfo) -> frozenset[str]:
        """The parameters a caller's literal for matters in ``fn``: those it tests, and those
        it hands on as they are to a function of its scope that tests the parameter they
        land on, to any depth (``train(task, ...)`` calling ``get_loss(task, ...)``, which
        tests ``task == "cls"``): the literal selects the callee's branch too."""
        known = self._literal_parameters.get(fn)
        if known is not None:
            return known
        tested = fn.facts.tested_parameters | fn.facts.keyed_parameters | fn.facts.torch_literal_parameters
        self._literal_parameters[fn] = tested  # a cycle of calls reads what is known so far
        found = set(tested)
        for param, callee_name, at in fn.facts.forwarded:
            if param in found:
                continue
            if callee_name in fn.facts.local_names:
                # ``model_class = BACKENDS.get(backend)``, then ``model_class(include_top=...)``.
                if any(self._constructor_flag_parameter(cls, at) for cls in self._classes_read(fn, callee_name)):
                    found.add(param)
                continue
            binding = fn.closure.lookup(callee_name)
            callee = binding.value if binding is not None else None
            if isinstance(callee, LazyImport):
                callee = self.resolve_lazy(callee)
            if isinstance(callee, ClassRef):
                # ``return Net(include_top=include_top)``: the literal may be a construction flag.
                if self._constructor_flag_parameter(callee.cls, at):
                    found.add(param)
                continue
            if not isinstance(callee, FunctionRef) or callee.bound_self is not None:
                continue
            params = callee.fn.params
            name = at if isinstance(at, str) else params[at].arg if at < len(params) else None
            if name is not None and name in self.literal_parameters(callee.fn):
                found.add(param)
        result = self._literal_parameters[fn] = frozenset(found)
        return result

    def _classes_read(self, fn: FunctionInfo, name: str) -> list[ClassInfo]:
        """The classes a local of ``fn`` may hold when every assignment to it reads an entry of
        a container of its scope by a key (``model_class = BACKENDS.get(backend)``, or
        ``BACKENDS[backend]``): the container's classes."""
        containers: set[str] = set()
        for node in walk(fn.node):
            if not isinstance(node, ast.Assign) or not any(isinstance(t, ast.Name) and t.id == name
                                                            for t in node.targets):
                continue
            value = node.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "get":
                value = value.func.value
            elif isinstance(value, ast.Subscript):
                value = value.value
            if not isinstance(value, ast.Name):
                return []
            containers.add(value.id)
        classes: list[ClassInfo] = []
        for container in sorted(containers):
            binding = fn.closure.lookup(container)
            held = binding.value if binding is not None else None
            if isinstance(held, Mapping):
                for item in held.values():
                    if isinstance(item, LazyImport):
                        item = self.resolve_lazy(item)
                    if isinstance(item, ClassRef):
                        classes.append(item.cls)
        return classes

    def _constructor_flag_parameter(self, cls: ClassInfo, at: int | str) -> bool:
        """Whether the argument at ``at`` (a position after ``self``, or a keyword) of a
        construction of ``cls`` lands on a parameter a literal makes a flag of (flags)."""
        init = self.class_member(cls, "__init__", None)
        if not isinstance(init, FunctionRef):
            return False
        params = init.fn.params
        name = at if isinstance(at, str) else params[at + 1].arg if at + 1 < len(params) else None
        return name is not None and name in flag_parameters(cls, init.fn).values()

    def worth_walking(self, fn: FunctionInfo) -> bool:
        """Whether a walk with unknown arguments can find anything: the function makes a
        call and mentions a name through which a sink is reached (see :mod:`hotness`)."""
        if isinstance(fn.node, ast.Lambda):
            return True
        hot = self.hotness_of(fn.file)
        known = hot.worth_walking(fn.node)
        if known is not None:
            return known
        # A function nested in another one: its own facts, the file's hot names.
        return fn.facts.makes_calls and hot.reaches(fn.facts.reachable_names())

    def hotness_of(self, file: SourceFile) -> Hotness:
        hot = self._hot.get(file)
        if hot is None:
            self._hot_in_progress.add(file)
            try:
                names, origins = self._project_imports(file)
                attributes_of: Callable[[str], frozenset[str]] | None = None
                inherited = self.inherited_attributes
                if inherited is not None:
                    def attributes_of(base: str) -> frozenset[str]:
                        origin = origins.get(base)
                        return inherited(file, *origin) if origin is not None else frozenset()

                hot = self._hot[file] = hotness(file.tree, names, attributes_of)
            finally:
                self._hot_in_progress.discard(file)
        return hot

    def hot_attributes(self, file: SourceFile) -> frozenset[str] | None:
        """The attribute names through which the file's definitions reach a sink (see
        hotness); None when they cannot be known, or while they are being computed (an
        import cycle of base classes)."""
        if file in self._hot_in_progress:
            return None
        names = self.hotness_of(file).names
        if names is None:
            return None
        return frozenset(n[len(ATTRIBUTE_PREFIX):] for n in names if n.startswith(ATTRIBUTE_PREFIX))

    def _project_imports(self, file: SourceFile) -> tuple[set[str], dict[str, tuple[str, int, str]]]:
        """Names the file binds from project modules that may reach a sink, read off the
        text (imports inside functions included): for ``from m import a as b``, a and b when
        a's definition reaches a loss, a log or an exp; for ``import pkg.m``, every word.
        With, for every ``b`` a ``from`` import of the project binds, where it comes from:
        (m, level, a) (a base class defined elsewhere may store a loss for its subclasses)."""
        names: set[str] = set()
        origins: dict[str, tuple[str, int, str]] = {}
        if self.public_names is None:
            return names, origins
        for statement, module, level in import_statements(file.source):
            if level == 0 and is_torch(module):
                continue
            words = set(re.findall(r"\w+", statement)) - {"from", "import", "as"}
            if self.imported_name_consumes is not None and statement.lstrip().startswith("from"):
                # Only the names whose definition reaches a consuming sink (and their aliases).
                hot = {w for w in words if self.imported_name_consumes(file, module, level, w)}
                aliases = dict(re.findall(r"(\w+)\s+as\s+(\w+)", statement))
                for name in words - set(aliases.values()):
                    origins.setdefault(aliases.get(name, name), (module, level, name))
                hot |= {alias for name, alias in aliases.items() if name in hot}
                names.update(hot)
            elif self.public_names(file, module, level) is not None or any(
                    self.public_names(file, f"{module}.{w}" if module else w, level) is not None for w in words):
                names.update(words)
        return names, origins

    def queue(self, fn: FunctionInfo) -> None:
        self.pending.setdefault(fn.file.path, []).append(fn)

    def _generic_self(self, fn: FunctionInfo) -> Value | None:
        if fn.cls is None or is_static(fn):
            return None
        return Instance(fn.cls)

    # -------------------------------------------------------------- summaries
    def summary(
        self,
        fn: FunctionInfo,
        bound_self: Value | None,
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str, Value], ...],
        facts: tuple[Fact, ...] = (),
        decided: bool = False,
    ) -> Value:
        """What ``fn`` returns for these arguments; ``facts``: the settings its caller's
        tests select, for a function its module runs only under such tests. A method of
        an instance with construction flags is walked by _flagged_summary (``decided``:
        this is its walk)."""
        if not decided and isinstance(bound_self, Instance) and bound_self.flags:
            return self._flagged_summary(fn, bound_self, args, kwargs, facts)
        args = _without_unknown_tail(fn, bound_self, args)
        key: tuple[object, ...] = (fn, bound_self, args, kwargs, facts) if facts else (fn, bound_self, args, kwargs)
        cached = self._summaries.get(key)
        # What a walk sees of an instance grows when a setter or the class's user stores a
        # loss or a model on it: a summary holds while every attribute it read (through
        # any callee) still reads the same, and is walked anew otherwise.
        if cached is not None and _still_reads(cached[1]):
            self._note_reads(cached[1])
            return cached[0]
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
        reads: AttributeReads = {}
        self._reads.append(reads)
        try:
            result = self._walk_function(fn, bound_self, args, kwargs, facts)
        finally:
            self._in_progress.discard(key)
            self._stack.pop()
            self._reads.pop()
            self._note_reads(reads)  # what the callee read, its caller's result depends on
        if key in self._tainted:
            self._tainted.discard(key)
            rewalks = self._rewalks.get(key, 0)
            self._rewalks[key] = rewalks + 1
            if rewalks < _MAX_REWALKS:
                return result
        self._summaries[key] = (result, reads)
        return result

    def _flagged_summary(self, fn: FunctionInfo, instance: Instance, args: tuple[Value, ...],
                         kwargs: tuple[tuple[str, Value], ...], facts: tuple[Fact, ...]) -> Value:
        """A method of an instance built with construction flags (see flags): walked with
        its tests of the flags decided. Whether some other code of the project stores one
        of them is a read of the project's texts, so it is asked only when the decided
        walk tells something the plain one does not (another kind returned, or a finding
        made: see flags.kinds_shown, flags.carries_a_kind); otherwise, and when other code
        may store a flag, the plain walk's answer stands, and what the decided walk
        reported is withdrawn."""
        plain = self.summary(fn, without_flags(instance), args, kwargs, facts, decided=True)
        verdict = self._flag_verdicts.get(instance)
        if verdict is False:
            return plain
        before = self.checks.snapshot()
        # What the decided walk finds, it finds because of the construction: it names it.
        if instance.origin is not None:
            self.checks.context.append(instance.origin)
        try:
            walked = self.summary(fn, instance, args, kwargs, facts, decided=True)
        finally:
            if instance.origin is not None:
                self.checks.context.pop()
        if verdict is None:
            if not self.checks.reported_since(before) and (
                    not carries_a_kind(walked) or kinds_shown(walked) == kinds_shown(plain)):
                return plain  # the flags change nothing a finding can come from
            verdict = self._flag_verdicts[instance] = flags_hold(instance)
            if not verdict:
                self.checks.restore(before)
                return plain
        return walked

    def read_attribute(self, cls: ClassInfo, attr: str) -> Value | None:
        """What is assigned to ``attr`` on instances of ``cls``, noted as read by the walks
        in progress."""
        value = cls.assigned_value(attr)
        if self._reads:
            self._reads[-1].setdefault((cls, attr), value)
        return value

    def _note_reads(self, reads: AttributeReads) -> None:
        if self._reads and reads:
            outer = self._reads[-1]
            for read, value in reads.items():
                outer.setdefault(read, value)

    def _walk_function(
        self,
        fn: FunctionInfo,
        bound_self: Value | None,
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str, Value], ...],
        facts: tuple[Fact, ...] = (),
    ) -> Value:
        node = fn.node
        scope = Scope(fn.closure, fn.local_names)
        flagged = isinstance(bound_self, Instance) and bool(bound_self.flags)  # ``if self.flag:`` is decided
        frame = Frame(fn.file, scope, fn=fn, literals=bool(args or kwargs) or flagged, facts=facts,
                      callers_facts=bool(facts))
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
        return self._returned(frame.returns, facts)

    def _returned(self, returns: list[Value], entry: tuple[Fact, ...]) -> Value:
        """What a function returns: its returns joined, or, when every return is under tests
        of one setting only (``if opts.arch == "log": return A()`` ... ``return B()``), the
        cases of that setting, as an ``if`` assigning in each branch makes them."""
        if not any(isinstance(r, _Conditional) for r in returns):
            return join_all(returns)
        values = [r.value if isinstance(r, _Conditional) else r for r in returns]
        subject: str | None = None
        chosen: dict[object, Value] = {}
        otherwise: list[Value] = []
        excluded: list[set[object]] = []  # the settings each of ``otherwise`` is known not to be
        for r in returns:
            if not isinstance(r, _Conditional) or r.unnamed:
                return join_all(values)  # unconditional, or under a test naming no setting
            extra = r.facts[len(entry):]
            if not extra or any(f[0] != extra[0][0] for f in extra) or subject not in (None, extra[0][0]):
                return join_all(values)  # under the caller's tests only, or of another setting
            subject = extra[0][0]
            keys = [key for _, key, holds in extra if holds]
            if len(keys) > 1:
                return join_all(values)
            if keys:
                chosen[keys[0]] = join(chosen[keys[0]], r.value) if keys[0] in chosen else r.value
            else:
                otherwise.append(r.value)
                excluded.append({key for _, key, _ in extra})
        shown = self._setting_shown.get(subject) if subject is not None else None
        if subject is None or shown is None or not otherwise:  # no return for the others: falls off the end
            return join_all(values)
        if any(not set(chosen) <= keys for keys in excluded):
            return join_all(values)  # a return reached before some case's test: order decides
        return cases(subject, shown, tuple(chosen.items()), join_all(otherwise))

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
            if type(value) is Unknown:
                value = setting_flag(stmt.value, frame) or value
            for target in stmt.targets:
                self.assign(target, value, frame, stmt.value, stmt)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.ev(stmt.value, frame), frame, stmt.value, stmt)
        elif isinstance(stmt, ast.AugAssign):
            added = self.ev(stmt.value, frame)
            before = self.ev(stmt.target, frame) if isinstance(stmt.target, ast.Name) else UNKNOWN
            extended: Value = UNKNOWN
            if isinstance(stmt.op, ast.Div):  # ``e /= e.sum()``: a hand-written softmax in place
                extended = self.divided(stmt.target, before, added, frame)
            if isinstance(stmt.op, ast.Add) and isinstance(before, Mapping) and before.sequence:
                extended = before.extended(added)
            self.assign(stmt.target, extended, frame, None, stmt)
        elif isinstance(stmt, ast.Expr):
            self.expression_statement(stmt.value, frame)
        elif isinstance(stmt, ast.Return):
            value = self.ev(stmt.value, frame) if stmt.value is not None else UNKNOWN
            if not frame.eval_only:
                # Under tests of settings, with the facts they state (see _returned).
                frame.returns.append(_Conditional(value, frame.facts, frame.unnamed_setting)
                                     if frame.facts or frame.unnamed_setting else value)
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
            self.define_function(stmt, frame, None, closure=frame.scope)
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
                elif isinstance(target, ast.Subscript) and isinstance(self.ev(target.value, frame), Mapping):
                    # ``del outs[0]``: the items after it moved (a dict's other keys did not,
                    # but one rule for both is simpler and only forgets).
                    self.container_changed(target.value, UNKNOWN, frame)
        elif type(stmt).__name__ == "Match":
            self.walk_match(stmt, frame)
        else:
            for child in child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self.ev(child, frame)
        return False

    def walk_if(self, stmt: ast.If, frame: Frame) -> bool:
        self.ev(stmt.test, frame)
        taken = branch_taken(stmt.test, frame)
        if taken is not None and training_branch(stmt.test) is None:
            # A literal argument decides the test: the other branch never runs in this call.
            return self.walk_body(stmt.body if taken == "body" else stmt.orelse, frame)
        train_path = training_branch(stmt.test)
        setting = setting_test(stmt.test, frame) if train_path is None else None
        fact = setting[0] if setting is not None else None
        if setting is not None:
            self._setting_shown[setting[0][0]] = setting[1]
        unnamed = setting is None and train_path is None  # a test naming no known setting
        saved = frame.scope.branch()
        body_frame = subframe(frame, frame.scope, frame.eval_only or train_path == "orelse", fact, unnamed)
        body_done = self.walk_body(stmt.body, body_frame)
        body = frame.scope.end_branch(saved)
        saved = frame.scope.branch()
        else_frame = subframe(frame, frame.scope, frame.eval_only or train_path == "body",
                              negated(fact) if fact is not None else None, unnamed)
        else_done = self.walk_body(stmt.orelse, else_frame)
        orelse = frame.scope.end_branch(saved)
        frame.returns.extend(body_frame.returns)
        frame.returns.extend(else_frame.returns)
        if train_path is not None:
            train_scope, train_done = (body, body_done) if train_path == "body" else (orelse, else_done)
            eval_scope, eval_done = (orelse, else_done) if train_path == "body" else (body, body_done)
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
        if len(live) == 1:
            # One branch always leaves: what follows runs only when the other was taken.
            if fact is not None:
                # What the live branch's walk knows, its own leaving tests' facts too (the
                # ``elif`` chain's: after ``if a: return`` / ``elif b: return``, neither).
                frame.facts = body_frame.facts if else_done else else_frame.facts
            frame.unnamed_setting = frame.unnamed_setting or unnamed
        if setting is not None and len(live) == 2:
            # Each branch's values for its setting: code testing it again reads its case.
            frame.scope.merge(live, branch_cases(*setting))
        else:
            frame.scope.merge(live)
        return False

    def walk_loop(self, stmt: ast.For | ast.AsyncFor | ast.While, frame: Frame) -> None:
        if not isinstance(stmt, ast.While):
            loop = literal_loop(stmt, lambda name: frame.scope.lookup(name) is None)
            if loop is not None:
                self.walk_literal_loop(loop, frame)
                return
        items = self.ev(stmt.test if isinstance(stmt, ast.While) else stmt.iter, frame)
        saved = frame.scope.branch()
        body_frame = subframe(frame, frame.scope, frame.eval_only)
        if not isinstance(stmt, ast.While):
            # Each element of a known list (``for layer in self.layers``): one of its items;
            # of a tensor, a slice along its first dim, as ``outputs[i]`` is.
            element = join_all(items.values()) if isinstance(items, Mapping) and items.sequence else UNKNOWN
            if isinstance(items, Tensor):
                element = items
            self.assign(stmt.target, element, body_frame, None, stmt)
        self.walk_body(stmt.body, body_frame)
        body = frame.scope.end_branch(saved)
        frame.returns.extend(body_frame.returns)
        frame.scope.merge([frame.scope.fork(), body])
        if stmt.orelse:
            self.walk_body(stmt.orelse, frame)

    def walk_literal_loop(self, loop: LiteralLoop, frame: Frame) -> None:
        """A loop over a short literal (see loops): the body once per element, in order;
        a named list filled through the loop variable is filled."""
        stmt = loop.stmt
        values = [[self.ev(element, frame) for element in column.elts] for column in loop.columns]
        saved = frame.scope.branch()
        body_frame = subframe(frame, frame.scope, frame.eval_only)
        for row, named_here in enumerate(loop.aliases()):
            element = values[0][row] if loop.how == "items" else TupleOf(tuple(v[row] for v in values)) if (
                loop.how == "zip") else TupleOf((UNKNOWN, values[0][row]))
            self.assign(stmt.target, element, body_frame, None, stmt)
            aliases = [(variable, named, frame.scope.value(variable)) for variable, named in named_here]
            self.walk_body(stmt.body, body_frame)
            for variable, named, before in aliases:
                after = frame.scope.value(variable)
                if after != before:  # filled in place: the named object is
                    frame.scope.bind(named, Binding(after))
        body = frame.scope.end_branch(saved)
        frame.returns.extend(body_frame.returns)
        frame.scope.merge([frame.scope.fork(), body])
        if stmt.orelse:
            self.walk_body(stmt.orelse, frame)

    def walk_try(self, stmt: ast.stmt, frame: Frame) -> bool:
        before = frame.facts
        body_done = self.walk_body(getattr(stmt, "body", []), frame)
        after_body = frame.facts
        # A handler runs wherever the body raised: what the body learnt past an early exit
        # (``if args.loss == "nll": raise``) does not hold there, nor after a handled one.
        frame.facts = before
        live = [] if body_done else [frame.scope.fork()]
        for handler in getattr(stmt, "handlers", []):
            saved = frame.scope.branch()
            sub = subframe(frame, frame.scope, frame.eval_only)
            if handler.type is not None:
                self.ev(handler.type, sub)
            if handler.name:
                frame.scope.bind(handler.name, Binding(UNKNOWN))
            handled = self.walk_body(handler.body, sub)
            scope = frame.scope.end_branch(saved)
            if not handled:
                live.append(scope)
            frame.returns.extend(sub.returns)
        handled_live = len(live) > (0 if body_done else 1)
        if not body_done:
            frame.facts = after_body
            self.walk_body(getattr(stmt, "orelse", []), frame)
            if handled_live:
                frame.facts = before
        if live:
            frame.scope.merge(live)
        final_done = self.walk_body(getattr(stmt, "finalbody", []), frame)
        return final_done or not live

    def walk_match(self, stmt: ast.stmt, frame: Frame) -> None:
        self.ev(stmt.subject, frame)  # type: ignore[attr-defined]
        live = [frame.scope.fork()]
        for case in stmt.cases:  # type: ignore[attr-defined]
            saved = frame.scope.branch()
            sub = subframe(frame, frame.scope, frame.eval_only, unnamed_setting=True)
            for node in walk(case.pattern):
                name = getattr(node, "name", None) or getattr(node, "rest", None)
                if isinstance(name, str):
                    frame.scope.bind(name, Binding(UNKNOWN))
            if case.guard is not None:
                self.ev(case.guard, sub)
            matched = self.walk_body(case.body, sub)
            scope = frame.scope.end_branch(saved)
            if not matched:
                live.append(scope)
            frame.returns.extend(sub.returns)
        frame.scope.merge(live)

    def expression_statement(self, node: ast.expr, frame: Frame) -> None:
        """Calls made for their effect: ``seq.add_module(name, layer)``, ``layers.append(layer)``,
        ``out.update({...})`` change what ``seq``, ``layers``, ``out`` hold."""
        if isinstance(node, ast.Call):
            self.ev_call(node, frame, discarded=True)
            if (len(node.args) == 1 and not node.keywords and isinstance(node.args[0], (ast.Name, ast.Attribute))
                    and frame.fn is None and frame.scope.parent is None):
                # ``NETS.register_module(LaneNet)`` registers as the decorator does.
                self.note_decorators([node.func], [self.ev(node.func, frame)], self.ev(node.args[0], frame), frame)
        else:
            self.ev(node, frame)
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return
        method = node.func.attr
        target = node.func.value
        if method not in api.FILLING_METHODS or len(node.args) != api.FILLING_METHODS[method]:
            return
        owner = self.ev(target, frame)
        item = self.ev(node.args[-1], frame)
        changed: Value | None = None
        if isinstance(owner, Sequential) and method in ("add_module", "append", "register_module"):
            changed = Sequential((*owner.layers, item), owner.origin)
        elif isinstance(owner, Mapping) and owner.sequence and method == "append":
            changed = owner.appended(item)
        elif isinstance(owner, Mapping) and owner.sequence and method == "extend":
            changed = owner.extended(item)
        elif isinstance(owner, Mapping) and not owner.sequence and method == "update":
            changed = owner.updated(item) if isinstance(item, Mapping) and not item.sequence else UNKNOWN
        elif isinstance(owner, Instance) and method in api.SUBMODULE_REGISTRATIONS:
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                owner.cls.record_assignment(name.value, item, outside=not _own_store(node.func, frame))
        if changed is not None:
            self.container_changed(target, changed, frame)

    def container_changed(self, target: ast.expr, changed: Value, frame: Frame) -> None:
        """``target`` (a list, a dict, a module) now holds ``changed``: filled or reordered in
        place, by its own method."""
        holder = frame.scope.enclosing_binder(target.id) if isinstance(target, ast.Name) and (
            frame.fn is not None) else None
        if holder is None or not isinstance(target, ast.Name):
            self.assign(target, changed, frame, None, None)
            return
        # A nested function filling its enclosing function's list: that list changes, and
        # holds the enclosing function's own values (a module's lists are not changed by the
        # functions that fill them: the order functions are walked in would decide).
        holder.bind(target.id, Binding(changed.owned() if isinstance(changed, Mapping) else changed))

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
            if isinstance(value, Cases) and not any(isinstance(e, ast.Starred) for e in elts):
                # ``out, hidden = model(x)`` with a model per setting: each name per setting.
                for index, elt in enumerate(elts):
                    self.assign(elt, map_cases(value, _item_getter(index, len(elts))), frame, None, stmt)
                return
            # ``a, b = pair``, and ``seg, det = self.losses`` of a known list or ModuleList.
            unpacked = value.items if isinstance(value, TupleOf) else tuple(value.values()) if isinstance(
                value, Mapping) and value.sequence else None
            if unpacked is not None and len(unpacked) == len(elts) and not any(
                    isinstance(e, ast.Starred) for e in elts):
                for elt, item in zip(elts, unpacked):
                    self.assign(elt, item, frame, None, stmt)
            else:
                for elt in elts:
                    self.assign(elt, UNKNOWN, frame, None, stmt)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, UNKNOWN, frame, None, stmt)
        elif isinstance(target, ast.Attribute):
            # ``self.loss_op = fn`` in a method, or ``model.criterion = nn.NLLLoss()`` by the
            # class's user: what the attribute holds for every instance of the class.
            owner = self.ev(target.value, frame)
            if isinstance(owner, Instance) and not self._callers_decide(source, frame):
                owner.cls.record_assignment(target.attr, value, outside=not _own_store(target, frame))
        elif isinstance(target, ast.Subscript):
            self.ev(target.slice, frame)
            container = self.ev(target.value, frame)
            key = literal(target.slice)
            if isinstance(container, Tensor) and isinstance(target.value, ast.Name):
                # ``dist[:, pad] = 0``: a tensor written into is no longer of its kind, unless
                # what is written is of that kind too (``probs[i] = other_probs``).
                kept = join(container, _stored_rows(value, target.slice)) if isinstance(
                    value, Tensor) and value.kind is container.kind else UNKNOWN
                frame.scope.bind(target.value.id, Binding(kept))
            elif isinstance(container, (Fresh, ExpOf)) and isinstance(target.value, ast.Name):
                # ``buf[i] = exp(s)``: the buffer holds exp values; ``outputs[t] = log_probs``
                # (a decoder's steps): it holds their kind; else it is no longer known.
                if isinstance(value, ExpOf) and not value.summed and (
                        not isinstance(container, ExpOf) or container == value):
                    filled: Value = value
                elif isinstance(container, Fresh) and isinstance(value, Tensor):
                    filled = _stored_rows(value, target.slice)
                else:
                    filled = UNKNOWN
                frame.scope.bind(target.value.id, Binding(filled))
            elif isinstance(container, Mapping) and isinstance(target.value, ast.Name) and key is not NO_LITERAL:
                items = tuple((k, v) for k, v in container.items if k != key) + ((key, value),)
                frame.scope.bind(target.value.id, Binding(Mapping(items)))
            elif isinstance(container, Mapping) and isinstance(target.value, ast.Name):
                frame.scope.bind(target.value.id, Binding(UNKNOWN))  # ``outs[i] = x``, ``outs[1:] = []``

    def _callers_decide(self, source: ast.expr | None, frame: Frame) -> bool:
        """A parameter stored as is, in a walk made without its callers' arguments: what it
        holds is decided by the calls that pass it (each walked with its argument), so this
        walk's unknown is no information about the attribute. So is a torch container
        wrapping it (``self.parts = nn.ModuleList(parts)``), which holds the parameter's items."""
        if (isinstance(source, ast.Call) and len(source.args) == 1 and not source.keywords
                and isinstance(source.args[0], ast.Name)):
            callee = self.ev(source.func, frame)
            if isinstance(callee, Ref) and api.canonical(callee.qualname) in api.CONTAINER_MODULES:
                source = source.args[0]
        return (not frame.literals and isinstance(source, ast.Name) and frame.fn is not None
                and source.id in frame.fn.facts.parameters and isinstance(frame.scope.value(source.id), Unknown))

    def walk_import(self, stmt: ast.Import | ast.ImportFrom, frame: Frame) -> None:
        """torch names bind eagerly; the project's names bind lazily (see LazyImport)."""
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                module = alias.name if alias.asname else alias.name.split(".")[0]
                frame.scope.bind(alias.asname or module, Binding(self._module_ref(frame.file, module, 0, None)))
            return
        module = stmt.module or ""
        for alias in stmt.names:
            if alias.name == "*":
                self.star_import(module, stmt.level, frame)
            else:
                value = self._module_ref(frame.file, module, stmt.level, alias.name)
                frame.scope.bind(alias.asname or alias.name, Binding(value))

    def star_import(self, module: str, level: int, frame: Frame) -> None:
        """``from m import *``: m's ``__all__``, or its public names. A module outside the
        project binds the torch names the tables know under it, and the conventional
        ``torch``/``nn``/``F`` where the file has not bound them."""
        scope = frame.scope
        names = None
        if self.public_names is not None and not (level == 0 and is_torch(module)):
            names = self.public_names(frame.file, module, level)
        if names is not None:
            # Bound lazily, like any project import: most of them never matter to a loss.
            for name in names:
                scope.bind(name, Binding(LazyImport(frame.file, module, level, name)))
            return
        for name, qualname in api.star_names(module).items():
            scope.bind(name, Binding(Ref(qualname)))
        for name, qualname in api.CONVENTIONAL_NAMES.items():
            if scope.lookup(name) is None and name not in scope.bindings:
                scope.bind(name, Binding(Ref(qualname)))

    def _module_ref(self, file: SourceFile, module: str, level: int, name: str | None) -> Value:
        qualname = f"{module}.{name}" if name and module else (name or module)
        if level == 0 and (is_torch(module) or self.resolve_import is None):
            return Ref(qualname)
        return LazyImport(file, module, level, name)

    def resolve_lazy(self, lazy: LazyImport) -> Value:
        resolved = self._lazy_values.get(lazy)
        if resolved is None:
            # A cycle of re-exports (``from .b import x`` in a, ``from .a import x`` in b)
            # binds nothing: unknown, not a recursion to the interpreter's limit.
            self._lazy_values[lazy] = UNKNOWN
            resolved = self._lazy_values[lazy] = self._resolve_lazy(lazy)
        return resolved

    def _resolve_lazy(self, lazy: LazyImport) -> Value:
        file = lazy.importer
        assert isinstance(file, SourceFile)
        module, level, name = lazy.module, lazy.level, lazy.name
        base = self._import_module(file, module, level) if (level or module) else None
        if name is None:
            return base if base is not None else (Ref(module) if level == 0 else UNKNOWN)
        value: Value = UNKNOWN
        if base is not None:
            value = self.attribute(base, name, Frame(file, Scope()), None)
            if isinstance(value, LazyImport):
                value = self.resolve_lazy(value)
            if isinstance(value, Unknown):
                sub = self._import_module(file, f"{module}.{name}" if module else name, level)
                value = sub or UNKNOWN
        elif level == 0:
            value = Ref(f"{module}.{name}")
        return value

    def _import_module(self, file: SourceFile, module: str, level: int) -> Value | None:
        if level == 0 and is_torch(module):
            return Ref(module)
        if self.resolve_import is None:
            return Ref(module) if level == 0 else None
        resolved = self.resolve_import(file, module, level)
        if resolved is not None:
            return resolved
        return Ref(module) if level == 0 else None

    # ---------------------------------------------------------- definitions
    def define_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, frame: Frame,
                        cls: ClassInfo | None, closure: Scope) -> FunctionInfo:
        decorators = [self.ev(decorator, frame) for decorator in node.decorator_list]
        prefix = f"{cls.name}." if cls is not None else ""
        fn = FunctionInfo(node, prefix + node.name, frame.file, closure, cls)
        fn.defaults = self._defaults(node.args, frame)
        self.queue(fn)
        if cls is None:
            frame.scope.bind(node.name, Binding(FunctionRef(fn)))
            if decorators:
                self.note_decorators(node.decorator_list, decorators, FunctionRef(fn), frame)
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
        decorators = [self.ev(decorator, frame) for decorator in node.decorator_list]
        bases = tuple(self.ev(base, frame) for base in node.bases)
        for keyword in node.keywords:
            self.ev(keyword.value, frame)
        cls = ClassInfo(node, node.name, frame.file, bases)
        body_scope = Scope(frame.scope, frozenset())
        body_frame = Frame(frame.file, body_scope)
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                fn = self.define_function(stmt, body_frame, cls, closure=frame.scope)
                cls.methods[stmt.name] = fn
            else:
                self.walk_stmt(stmt, body_frame)
        for name, binding in body_scope.bindings.items():
            cls.class_attrs[name] = binding.value
        frame.scope.bind(node.name, Binding(ClassRef(cls)))
        if decorators:
            self.note_decorators(node.decorator_list, decorators, ClassRef(cls), frame)


def _item_getter(index: int, count: int) -> Callable[[object, Value], Value]:
    def item(_key: object, value: Value) -> Value:
        if isinstance(value, TupleOf) and len(value.items) == count:
            return value.items[index]
        return UNBOUND if isinstance(value, Unbound) else UNKNOWN

    return item


def _still_reads(reads: AttributeReads) -> bool:
    return all(cls.assigned_value(attr) == value for (cls, attr), value in reads.items())


def _stored_rows(value: Tensor, index: ast.expr) -> Tensor:
    """What a buffer holds where ``value`` is written at ``index``: whole rows when one index
    or slice picks them along the first dim (``outputs[t] = step``), else parts of rows
    (``buf[:, k] = p``: a column is no distribution over the classes)."""
    return value if not isinstance(index, ast.Tuple) else value.part()


def _own_store(target: ast.Attribute, frame: Frame) -> bool:
    """A store on ``self`` in a method walked without its callers' arguments: what it
    stores comes from the method's own body, which its file's hotness sees."""
    return (frame.fn is not None and not frame.literals and frame.self_name is not None
            and isinstance(target.value, ast.Name) and target.value.id == frame.self_name)


def _without_unknown_tail(fn: FunctionInfo, bound_self: Value | None, args: tuple[Value, ...]) -> tuple[Value, ...]:
    """``args`` without the trailing unknowns that bind what leaving them out binds (a
    parameter without a default, or an unknown one): ``self.encoder(ids, mask)`` passing
    nothing informative is the walk with no arguments, not a second one."""
    count = len(args)
    if not count or type(args[-1]) is not Unknown:
        return args
    params = fn.params[1:] if bound_self is not None and fn.params else fn.params
    while count and type(args[count - 1]) is Unknown and (
            count > len(params) or isinstance(fn.defaults.get(params[count - 1].arg, UNKNOWN), Unknown)):
        count -= 1
    return args[:count]
