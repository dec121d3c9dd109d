"""The rules: what the interpreter reports when a value of some kind reaches a call.

The interpreter (:mod:`analyzer`) decides what values are; this module decides what is
wrong with them, words it from the catalogue, and attaches the evidence chain and, when
the rewrite is certain, the fix.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from xentguard.catalogue import RULES
from xentguard.static import fixes
from xentguard.static import torch_api as api
from xentguard.static.findings import Finding, Fix, Step
from xentguard.static.kinds import (
    OTHERWISE,
    UNKNOWN,
    Cases,
    ClassRef,
    ExpOf,
    FunctionRef,
    Instance,
    Kind,
    LossFn,
    ModuleValue,
    Origin,
    Ref,
    Shifted,
    Signed,
    Tensor,
    Unbound,
    Unknown,
    Value,
)
from xentguard.static.scopes import Scope
from xentguard.static.source import SourceFile
from xentguard.static.syntax import Frame, argument, claims_cases, describe_case, log_target_set
from xentguard.static.walk import attribute_root, walk

# Every finding so far, by position: (finding, its rank among those made there: see report).
Reported = dict[tuple[str, str, int, int], tuple[Finding, tuple[bool, tuple[str, int, int], str]]]


class Checks:
    """Collects findings, by file, deduplicated by position.

    ``context`` is the stack of call sites whose arguments the current walk depends on
    (a loss passed into ``train``): findings made under it name the innermost call.
    """

    def __init__(self, report_paths: set[str] | None = None) -> None:
        self.report_paths = report_paths  # None: every file
        self._found: Reported = {}
        self.context: list[Origin] = []
        # The settings the current walk assumes (a loss chosen by ``args.loss``): named in findings.
        self.conditions: list[str] = []

    @property
    def findings(self) -> list[Finding]:
        return [finding for finding, _ in self._found.values()]

    def findings_for(self, path: str) -> list[Finding]:
        return [finding for finding, _ in self._found.values() if finding.path == path]

    def snapshot(self) -> Reported:
        """What has been reported so far, for ``restore`` (a walk made on an assumption
        that turned out not to hold: see Analyzer._flagged_summary)."""
        return dict(self._found)

    def reported_since(self, snapshot: Reported) -> bool:
        return self._found != snapshot

    def restore(self, snapshot: Reported) -> None:
        self._found = dict(snapshot)

    # ------------------------------------------------------------- reporting
    def origin(self, what: str, node: ast.AST, file: SourceFile) -> Origin:
        line, col = file.start(node)
        return Origin(what, file.path, line, col)

    def report(
        self,
        code: str,
        node: ast.AST,
        file: SourceFile,
        evidence: tuple[Step, ...] = (),
        fix: Fix | None = None,
        at_caller: bool = False,
        **fields: str,
    ) -> None:
        """``at_caller``: the finding is at a caller's argument, which names its own site."""
        if self.report_paths is not None and file.path not in self.report_paths:
            return
        line, col = file.start(node)
        key = (file.path, code, line, col)
        in_context = bool(self.context) and not at_caller
        previous = self._found.get(key)
        if previous is not None and in_context and not previous[1][0]:
            return  # outranked whatever its text: see below
        end_line, end_col = file.end(node)
        message = RULES[code].format(**fields)
        if self.conditions:
            message += f" ({'; '.join(self.conditions)})"
        site_key: tuple[str, int, int] = ("", 0, 0)
        if in_context:
            site = self.context[-1]
            site_key = (site.path, site.line, site.col)
            message += f" (when called from {_where(site, file)})"
            evidence = (*evidence, Step(site.what, site.path, site.line, site.col))
        # Of the findings at one place, one made without a caller's context, else the first
        # caller in the project's order, then the text: the same whichever walk came first
        # (the order of files and workers).
        rank = (in_context, site_key, message)
        if previous is not None and previous[1] <= rank:
            return
        finding = Finding(code, line, col, end_line, end_col, message, file.path, evidence, fix)
        self._found[key] = (finding, rank)

    def describe(self, origin: Origin, file: SourceFile) -> str:
        """``F.softmax at line 21 (through Net.forward at line 15)``: producer first."""
        steps = origin.chain()
        producer = steps[-1]
        text = f"{producer.what} at {_where(producer, file)}"
        wrappers = [f"{step.what} at {_where(step, file)}" for step in reversed(steps[:-1])]
        if wrappers:
            text += f" (through {', '.join(wrappers)})"
        return text

    def _loss_display(self, loss: LossFn, node: ast.Call, file: SourceFile) -> str:
        callee = node.func
        if loss.origin is None or isinstance(callee, ast.Call):
            return loss.spelled
        called_as = file.short(callee)
        if isinstance(callee, ast.Attribute) and callee.attr == "forward":
            called_as = file.short(callee.value)
        if called_as == loss.spelled:
            return loss.spelled
        return f"{called_as} ({loss.spelled} at {_where(loss.origin, file)})"

    # ---------------------------------------------------------------- rules
    def loss_call(
        self,
        loss: LossFn,
        node: ast.Call,
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str, Value], ...],
        frame: Frame,
    ) -> None:
        """XG101-XG104, XG106, XG107, XG110: the wrong kind reaches a loss's input.
        ``frame``: the walk at the call (its tests decide what is claimed for some settings
        only: see ``syntax.claims_cases``)."""
        if loss.bound_args:
            return
        input_node, value = argument(node, args, kwargs, *loss.arguments[0])
        display = self._loss_display(loss, node, frame.file)
        if input_node is not None:
            self.loss_input(loss, value, input_node, node, display, frame)
        self.loss_target(loss, node, args, kwargs, display, frame.file)

    def loss_target(self, loss: LossFn, node: ast.Call, args: tuple[Value, ...],
                    kwargs: tuple[tuple[str, Value], ...], display: str, file: SourceFile) -> None:
        """XG111: a target in log space where the loss reads probabilities (kl_div without
        log_target=True, cross_entropy's soft targets)."""
        if loss.loss not in api.LOG_SPACE_TARGET_LOSSES or loss.bound_args:
            return
        if loss.log_target or log_target_set(node):
            return  # log_target=True (or not a literal False: no claim)
        target_node, target = argument(node, args, kwargs, *loss.arguments[1])
        if target_node is None or not isinstance(target, Tensor) or target.kind not in (Kind.LOG_PROBS, Kind.LOGGED):
            return
        where, at = (target.entry.file, target.entry.node) if target.entry is not None else (file, target_node)
        self.report("XG111", at, where, _steps(target.origin), None, at_caller=target.entry is not None,
                    loss=display, source=self.describe(target.origin, where))

    def loss_input(
        self,
        loss: LossFn,
        value: Value,
        input_node: ast.expr,
        at: ast.AST,
        display: str,
        frame: Frame,
    ) -> None:
        """``value`` reaches the input of ``loss`` (shown as ``display``) at ``at``, in the
        walk ``frame``.

        A tensor that came in through a parameter is reported at the caller's argument
        (its :class:`Entry`), naming the loss reached inside the callee; the callee's own
        loss call stays silent, as it is correct for other callers. An input chosen by a
        setting is checked in each case, and the finding names the case when not all agree;
        under a test of another setting, or of one the walk cannot name, such a finding is no
        claim: that test may select exactly the cases that are right (``claims_cases``).
        """
        if isinstance(value, Cases):
            self._cases_input(loss, value, input_node, at, display, frame)
            return
        file = frame.file
        if not isinstance(value, Tensor) or not value.whole:
            return
        code = api.LOSS_RULES[loss.loss].get(value.kind)
        if code is None:
            return
        evidence = _steps(value.origin)
        if loss.origin is not None:
            evidence = (Step(loss.spelled, loss.origin.path, loss.origin.line, loss.origin.col), *evidence)
        entry = value.entry
        if entry is not None:
            line, col = file.start(at)
            where = Origin(display, file.path, line, col)
            evidence = (Step(f"{display} in {entry.callee}", file.path, line, col), *evidence)
            self.report(
                code,
                entry.node,
                entry.file,
                evidence,
                None,  # the callee may use the argument for more than the loss: no certain fix
                at_caller=True,
                loss=f"{display} at {_where(where, entry.file)} (reached through {entry.callee})",
                source=self.describe(value.origin, entry.file),
            )
            return
        self.report(
            code,
            input_node,
            file,
            evidence,
            fixes.for_loss_input(code, input_node, value, file, frame.scope),
            loss=display,
            source=self.describe(value.origin, file),
        )

    def _cases_input(self, loss: LossFn, value: Cases, input_node: ast.expr, at: ast.AST, display: str,
                     frame: Frame) -> None:
        codes = {_input_code(loss, v) for v in value.values() if not isinstance(v, Unbound)}
        if len(codes) > 1 and not claims_cases(frame, value.subject):
            return  # a test around this call, or around the calls of its function, may select the right cases
        for key, case in [*value.cases, (OTHERWISE, value.otherwise)]:
            if _input_code(loss, case) is None:
                continue
            if len(codes) > 1:
                self.conditions.append(describe_case(value, key))
            try:
                self.loss_input(loss, case, input_node, at, display, frame)
            finally:
                if len(codes) > 1:
                    self.conditions.pop()

    def softmax_without_dim(self, node: ast.Call, file: SourceFile, positional_dim: int) -> None:
        """XG109: the dim is neither a keyword nor in its positional slot."""
        if any(k.arg == "dim" or k.arg is None for k in node.keywords):
            return
        if len(node.args) > positional_dim or any(isinstance(a, ast.Starred) for a in node.args):
            return
        self.report("XG109", node, file, source=f"{file.short(node.func)}(...)")

    def log_of(self, value: Value, node: ast.Call, file: SourceFile, inline_arg: ast.expr, scope: Scope) -> Value:
        """XG105 (log of softmax), XG112 (log of sigmoid), XG108 (log of a sum of exp)."""
        if isinstance(value, Tensor) and value.bounded and value.kind in (Kind.SIGMOID, Kind.PROBS):
            # ``torch.log(p.clamp(min=eps))``: the guard against -inf, nothing to report.
            kind = Kind.LOGGED if value.kind is Kind.SIGMOID else Kind.LOG_PROBS
            return value.with_kind_of(kind, value.origin.through(file.short(node.func), file.path, *file.start(node)))
        if isinstance(value, Tensor) and value.kind is Kind.SIGMOID:
            fix = fixes.log_of_sigmoid(node, inline_arg, value, file, scope) if value.whole else None
            self.report("XG112", node, file, _steps(value.origin), fix, source=self.describe(value.origin, file))
            return Tensor(Kind.LOGGED, value.origin.through(file.short(node.func), file.path, *file.start(node)))
        if isinstance(value, Tensor) and value.kind is Kind.PROBS:
            fix = fixes.log_of_softmax(node, inline_arg, value, file) if value.whole else None
            self.report("XG105", node, file, _steps(value.origin), fix, source=self.describe(value.origin, file))
            return value.with_kind_of(Kind.LOG_PROBS, value.origin.through(file.short(node.func), file.path,
                                                                          *file.start(node)))
        if isinstance(value, ExpOf) and value.summed and value.unstable and value.plus_one:
            # log(1 + exp(-z)) is -log(sigmoid(z)): exp(-z) overflows for large negative z.
            written = Origin(f"the sigmoid written out in {file.short(node)}", file.path, *file.start(node))
            self.report("XG112", node, file, _steps(value.origin), source=self.describe(written, file))
            return UNKNOWN
        if isinstance(value, ExpOf) and value.summed and value.unstable:
            self.report("XG108", node, file, _steps(value.origin), source="log-sum-exp log(sum(exp(x)))")
            return UNKNOWN
        if isinstance(value, (Tensor, Unknown)):
            # log of labels, counts, anything: log space, never probabilities (XG111 as a target).
            return Tensor(Kind.LOGGED, Origin(file.short(node.func), file.path, *file.start(node)))
        return UNKNOWN

    def exp_of(self, value: Value, node: ast.Call, arg: ast.expr, file: SourceFile,
               resolve: Callable[[ast.expr], Value]) -> Value:
        if isinstance(value, Tensor):
            if value.kind is Kind.LOG_PROBS:
                return value.with_kind_of(Kind.PROBS, value.origin.through(file.short(node.func), file.path,
                                                                          *file.start(node)))
            if value.kind is not Kind.LOGITS:
                return UNKNOWN  # probabilities, sigmoid output: in [0, 1], exp cannot overflow
            # A layer's raw output is unbounded: its exp overflows as any value's does.
        # Raw logits are signed: negating them bounds nothing (exp(-z) overflows for z << 0).
        signed = isinstance(value, (Tensor, Signed)) or (
            isinstance(arg, ast.UnaryOp) and isinstance(arg.op, ast.USub) and _is_logits(resolve(arg.operand)))
        shifted = isinstance(value, Shifted) or isinstance(arg, ast.Constant) or _bounded_exponent(
            arg, resolve, negation_bounds=not signed)
        return ExpOf(ast.dump(arg), self.origin(file.short(node), node, file), unstable=not shifted)

    def hand_written_softmax(self, node: ast.AST, numerator: ExpOf, file: SourceFile) -> Value:
        """``exp(x) / exp(x).sum(...)``: probabilities; XG108 when x is not shifted by its max."""
        if numerator.unstable:
            self.report("XG108", node, file, _steps(numerator.origin), source="softmax exp(x) / exp(x).sum()")
        return Tensor(Kind.PROBS, self.origin("hand-written softmax", node, file))


def _bounded_exponent(arg: ast.expr, resolve: Callable[[ast.expr], Value], negation_bounds: bool = True) -> bool:
    """An exponent expression that subtracts something or calls what bounds it (see
    torch_api.EXPONENT_BOUND_FUNCTIONS), or that negates: ``exp(-d / t)`` cannot overflow,
    and whether it underflows everywhere (0 / 0) depends on values (a Gaussian kernel
    ``exp(-0.5 * (x / s) ** 2)`` over a grid through 0 never does). A name, or a tensor only
    scaled (``exp(logits / temperature)``), is not bounded. ``resolve`` evaluates a name or
    an attribute of one where the exponent is: what a call calls is decided by what it
    is, never by how it is spelled. ``negation_bounds``: False for raw logits, which are
    signed."""
    for node in walk(arg):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
            return True
        if negation_bounds and isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return True
        if negation_bounds and isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and (
                node.value < 0):
            return True
        if isinstance(node, ast.Call) and _calls_a_bound(node.func, resolve):
            return True
    return False


def _is_logits(value: Value) -> bool:
    return isinstance(value, Tensor) and value.kind is Kind.LOGITS


def _calls_a_bound(func: ast.expr, resolve: Callable[[ast.expr], Value]) -> bool:
    """``torch.clamp`` / ``torch.clip`` however imported, or a tensor's ``.clamp`` method:
    the method of a receiver the analysis cannot see is taken to be the tensor's (a
    clamped exponent is stable: taking it for one only ever silences)."""
    if isinstance(func, ast.Name):
        callee = resolve(func)
        return isinstance(callee, Ref) and callee.qualname in api.EXPONENT_BOUND_FUNCTIONS
    if not isinstance(func, ast.Attribute):
        return False
    if not isinstance(attribute_root(func.value), ast.Name):
        return func.attr in api.EXPONENT_BOUNDS
    receiver = resolve(func.value)
    if isinstance(receiver, Ref):  # a module or a torch object: what it names
        callee = resolve(func)
        return isinstance(callee, Ref) and callee.qualname in api.EXPONENT_BOUND_FUNCTIONS
    if isinstance(receiver, (Instance, ClassRef, FunctionRef, ModuleValue)):
        return False  # the project's own object: its method, whatever its name
    return func.attr in api.EXPONENT_BOUNDS


def _input_code(loss: LossFn, value: Value) -> str | None:
    if isinstance(value, Tensor) and value.whole:
        return api.LOSS_RULES[loss.loss].get(value.kind)
    return None


def _where(origin: Origin, file: SourceFile) -> str:
    if origin.path == file.path:
        return f"line {origin.line}"
    return f"{origin.path}:{origin.line}"


def _steps(origin: Origin) -> tuple[Step, ...]:
    return tuple(Step(o.what, o.path, o.line, o.col) for o in origin.chain())
