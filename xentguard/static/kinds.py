"""The analysis' model of values: what kind of numbers a tensor holds, and where that came from.

Like pyflakes' bindings, with one more fact per binding: the *kind of value*. Every
abstract value is immutable and hashable, so function summaries can be memoised on
their arguments. ``UNKNOWN`` is the safe answer: whenever two paths disagree on a
tensor's kind, the join is ``UNKNOWN`` and the analysis stays silent. Paths that agree on
what *kind of object* a value is but not on which one (``ConvNet() if cnn else MLP()``)
join to a :class:`OneOf`, as pyright's unions do: every operation is spread over the
members (:func:`map_members`) and the results joined again.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from xentguard.static.scopes import ClassInfo, FunctionInfo, Scope
    from xentguard.static.source import SourceFile


class Kind(Enum):
    LOGITS = "raw logits"
    PROBS = "probabilities"
    LOG_PROBS = "log-probabilities"
    SIGMOID = "sigmoid output"
    LOGGED = "log of a tensor"  # log(labels), log(sigmoid): log space, but no distribution


@dataclass(frozen=True)
class Origin:
    """One step of provenance. ``via`` points one step further toward the producer."""

    what: str  # "F.softmax", "nn.Softmax", "Net.forward", "criterion (nn.CrossEntropyLoss)"
    path: str
    line: int
    col: int  # character column, 0-based
    via: Origin | None = None

    def producer(self) -> Origin:
        step = self
        while step.via is not None:
            step = step.via
        return step

    def chain(self) -> tuple[Origin, ...]:
        steps: list[Origin] = []
        step: Origin | None = self
        while step is not None:
            steps.append(step)
            step = step.via
        return tuple(steps)

    def through(self, what: str, path: str, line: int, col: int) -> Origin:
        """This origin seen through one more step (a return, a model call)."""
        return Origin(what, path, line, col, via=self)


class Value:
    """Base of the abstract values. Subclasses are frozen dataclasses."""

    __slots__ = ()


@dataclass(frozen=True)
class Unknown(Value):
    pass


UNKNOWN = Unknown()


@dataclass(frozen=True)
class SettingRoot(Unknown):
    """An unknown object that holds module-level settings, passed by a caller to a
    parameter the callee tests (``loss_fn(out, y, args)`` into ``def loss_fn(out, y,
    opts)``): there, ``opts.loss == "nll"`` is a test of ``args.loss``, and a value chosen
    by that setting reads the case the test selects. Unknown in every other respect.
    What a command-line parser returns is one too, wherever it is read (``args =
    parser.parse_args()`` in ``main``), and so is each of its attributes (``args.model``).

    ``subject`` is the caller's expression (``args``) as ``ast.dump`` (for a parser's
    result, a name no source can spell: where it was parsed), ``shown`` as written.
    """

    subject: str
    shown: str


@dataclass(frozen=True)
class SettingsParser(Unknown):
    """A command-line parser (``argparse.ArgumentParser()``; ``qualname`` is its key in
    ``torch_api.SETTINGS_PARSERS``): what its ``parse_args()`` returns is a
    :class:`SettingRoot`."""

    qualname: str


@dataclass(frozen=True)
class SettingFlag(Unknown):
    """The truth of a test on a module-level setting, kept in a name: ``use_nll =
    args.loss == "nll"``. ``if use_nll:`` is that test (``fact``: subject, key, holds, as
    ``syntax.Fact``), so values chosen by the setting read their case under it; ``shown``
    is how the setting is written (``args.loss``)."""

    fact: tuple[str, object, bool]
    shown: str


@dataclass(frozen=True, eq=False)
class Entry:
    """Where a tensor entered the function being walked: a caller's argument.

    A wrong kind that reaches a loss through a parameter is the caller's mistake, so the
    finding goes to this argument (pyright reports a contract violation at the argument,
    not inside the callee). Compared by identity: one entry per call site and argument.
    """

    node: ast.expr  # the caller's argument expression
    file: SourceFile
    callee: str  # "auxiliary_loss()", "SeqCE.forward"


@dataclass(frozen=True)
class Tensor(Value):
    kind: Kind
    origin: Origin
    # Rows are whole distributions over the class dim (a gather or a narrow of
    # probabilities is still probabilities elementwise, but no longer a loss input).
    whole: bool = True
    entry: Entry | None = None
    # Clamped away from 0 (``p.clamp(min=eps)``): its log cannot underflow to -inf.
    bounded: bool = False

    def entered(self, entry: Entry) -> Tensor:
        """This tensor passed as an argument: the outermost caller's argument is kept."""
        return self if self.entry is not None else replace(self, entry=entry)

    def own(self) -> Tensor:
        """This tensor as the code holding it sees it: no caller's argument (see entered)."""
        return replace(self, entry=None) if self.entry is not None else self

    def with_kind_of(self, kind: Kind, origin: Origin) -> Tensor:
        """Another kind made of this tensor (``log`` of probabilities): a new value, unbounded."""
        return Tensor(kind, origin, self.whole, self.entry)

    def part(self) -> Tensor:
        """An elementwise part of this tensor (``gather``, ``narrow`` along the classes)."""
        return replace(self, whole=False) if self.whole else self

    def clamped(self, bounded: bool) -> Tensor:
        """This tensor clamped (its kind kept); ``bounded``: from below, by more than 0."""
        return replace(self, bounded=True) if bounded and not self.bounded else self


@dataclass(frozen=True)
class Const(Value):
    """A literal the analysis can test: ``True``, ``"train"``, ``None`` (an argument that
    selects a branch, ``if train:``)."""

    value: object


NONE = Const(None)


@dataclass(frozen=True)
class ExpOf(Value):
    """``exp(x)`` (``summed``: its sum over some dim), for hand-written softmax / logsumexp."""

    arg_key: str  # ast.dump of the exponent, to match numerator and denominator
    origin: Origin
    unstable: bool  # the exponent is not shifted by its max
    summed: bool = False
    # ``1 + exp(x)``: the sum of exp(x) and exp(0), whose log is -log(sigmoid(-x)) written out.
    plus_one: bool = False

    def plus_one_added(self) -> Value:
        """``1 + exp(x)`` (or what ``log1p`` adds): of a lone exp, its sum with exp(0)."""
        return replace(self, summed=True, plus_one=True) if not self.summed else UNKNOWN


@dataclass(frozen=True)
class LogScalar(Value):
    """A Python number in log space (``np.log(1 / k)``, ``math.log(p)``): a tensor filled
    with it holds log-space values (``torch.full(size, v)``, ``t.fill_(v)``)."""

    origin: Origin


@dataclass(frozen=True)
class Fresh(Value):
    """A new buffer (``torch.zeros(n)``): filled with exp values it is an exp, for a
    hand-written softmax (``buf[i] = exp(s_i)``, then ``buf /= buf.sum()``). ``empty``:
    ``torch.tensor([])``, the start of an accumulator that ``torch.cat`` grows; it adds
    nothing to what it is concatenated with."""

    empty: bool = False


FRESH = Fresh()
EMPTY_TENSOR = Fresh(empty=True)


@dataclass(frozen=True)
class Shifted(Value):
    """``x - something``: exp of it is taken to be stabilised."""


@dataclass(frozen=True)
class Signed(Value):
    """A value of unknown origin that the code itself hands to a loss as raw logits
    (``F.binary_cross_entropy_with_logits(z, y)``, see torch_api.LOGITS_INPUT_LOSSES):
    signed and unbounded, so its negation bounds nothing and ``exp(-z)`` overflows for
    z << 0. Only exponents read it; it is no tensor kind a loss rule could report."""


SIGNED = Signed()


@dataclass(frozen=True)
class TupleOf(Value):
    items: tuple[Value, ...]


# The most items a known list or dict holds (layers of a model, a decoder's steps as one
# walk appends them); past it, the list is unknown.
MAX_ITEMS = 64


@dataclass(frozen=True)
class Mapping(Value):
    """A dict or list whose keys are literals (losses kept in dicts, layers in lists,
    ``nn.ModuleList`` / ``nn.ModuleDict``). ``sequence``: a list, keys 0..n-1."""

    items: tuple[tuple[object, Value], ...]
    sequence: bool = False
    # Keys of a dict held on some paths only (``if self.exist: out.update(self.exist(x))``):
    # a read that finds one gets its item, and ``.get(key, default)`` may get the default.
    absent: frozenset[object] = frozenset()

    def values(self) -> list[Value]:
        return [v for _, v in self.items]

    def appended(self, value: Value) -> Value:
        """This list with ``value`` at its end (unknown past MAX_ITEMS: no walk makes lists
        grow without bound)."""
        if len(self.items) >= MAX_ITEMS:
            return UNKNOWN
        return Mapping((*self.items, (len(self.items), value)), sequence=True)

    def owned(self) -> Mapping:
        """This container with its tensors as the code holding it sees them (Tensor.own)."""
        return self.with_tensors(Tensor.own)

    def with_tensors(self, change: Callable[[Tensor], Tensor]) -> Mapping:
        """This container with ``change`` applied to each of its tensors."""
        return Mapping(tuple((k, change(v) if isinstance(v, Tensor) else v) for k, v in self.items), self.sequence,
                       self.absent)

    def extended(self, other: Value) -> Value:
        """This list followed by ``other`` when it is a known list too, else unknown."""
        if not (isinstance(other, Mapping) and other.sequence) or len(self.items) + len(other.items) > MAX_ITEMS:
            return UNKNOWN
        return Mapping(tuple(enumerate(self.values() + other.values())), sequence=True)

    def updated(self, other: Mapping) -> Mapping:
        keys = {k for k, _ in other.items}
        return Mapping(tuple((k, v) for k, v in self.items if k not in keys) + other.items, self.sequence,
                       (self.absent - keys) | other.absent)

    def get(self, key: object) -> Value:
        for k, v in self.items:
            if k == key:
                return v
        return UNKNOWN


@dataclass(frozen=True)
class Ref(Value):
    """A name from outside the analysed code, by qualified name: ``torch.nn.functional.softmax``."""

    qualname: str


# (position, keyword) of a loss call's input and of its target; position None: keyword only.
LossArguments = tuple[tuple[int | None, str], tuple[int | None, str]]
TORCH_LOSS_ARGUMENTS: LossArguments = ((0, "input"), (1, "target"))


@dataclass(frozen=True)
class LossFn(Value):
    """Something that, called, computes a loss: ``F.cross_entropy``, ``nn.CrossEntropyLoss()``."""

    loss: str  # canonical functional name: "cross_entropy", "nll_loss", ...
    spelled: str  # as written where it was created: "nn.CrossEntropyLoss", "F.cross_entropy"
    origin: Origin | None  # where the loss object was created (None for a plain function)
    bound_args: int = 0  # positional arguments bound by functools.partial
    log_target: bool = False  # nn.KLDivLoss(log_target=True): the target is log-probabilities
    # How a call passes the input and the target (torch_api.LOSS_CALL_ARGUMENTS).
    arguments: LossArguments = TORCH_LOSS_ARGUMENTS


@dataclass(frozen=True)
class HookRunner(Value):
    """An instance of a library class that calls a model's own methods (a Lightning
    ``Trainer``): ``qualname`` is its class's key in ``torch_api.HOOK_RUNNERS``."""

    qualname: str


@dataclass(frozen=True)
class Layer(Value):
    """An activation or layer module instance: called, it produces or preserves a kind."""

    produces: Kind | None  # nn.Softmax -> PROBS, nn.Linear -> LOGITS
    preserves: bool  # nn.Dropout, nn.Identity, nn.Flatten
    origin: Origin


@dataclass(frozen=True)
class Sequential(Value):
    layers: tuple[Value, ...]
    origin: Origin


@dataclass(frozen=True)
class Instance(Value):
    cls: ClassInfo
    origin: Origin | None = None
    # Literals this construction passed that ``__init__`` stores, unchanged for the
    # instance's life, on attributes its methods test (``Net(apply_softmax=True)``, ``if
    # self.apply_softmax:``): (attribute, literal), by attribute. See calls.construction_flags.
    flags: tuple[tuple[str, Const], ...] = ()
    # Whether code elsewhere may store a flag's attribute (then it is no flag): asked only
    # when the flags decide what a walk finds (see Analyzer._flagged_summary).
    stored_elsewhere: Callable[[str], bool] | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class ClassRef(Value):
    cls: ClassInfo


@dataclass(frozen=True)
class FunctionRef(Value):
    fn: FunctionInfo
    bound_self: Value | None = None


@dataclass(frozen=True)
class Super(Value):
    """``super()`` in a method of ``cls``: attributes are looked up in its bases."""

    cls: ClassInfo
    instance: Value


@dataclass(frozen=True)
class Unbound(Value):
    """A name not bound on some path: reading it there raises, so that path adds nothing."""


UNBOUND = Unbound()
TRUTHY = "<truthy>"  # the key of the case where a setting tested for truth is true


@dataclass(frozen=True)
class Cases(Value):
    """A value chosen by a module-level setting: ``model = A() if args.arch == "a" else B()``.

    ``subject`` is the setting (``args.arch``, as ``ast.dump``), ``shown`` how it is written;
    ``cases`` map a literal it equals (or ``TRUTHY``) to the value then, ``otherwise`` is
    the value on every other setting. Code that tests the same setting reads the case it
    is in (``Frame.facts``); a loss reached with a wrong kind in one case is reported for
    that setting. Only module-level settings make cases: a parameter's value is its
    callers' (literal arguments select branches instead).
    """

    subject: str
    shown: str
    cases: tuple[tuple[object, Value], ...]
    otherwise: Value

    def values(self) -> list[Value]:
        return [v for _, v in self.cases] + [self.otherwise]


def cases(subject: str, shown: str, pairs: tuple[tuple[object, Value], ...], otherwise: Value) -> Value:
    """Cases, flattened (an ``elif`` on the same setting) and collapsed when all agree."""
    if isinstance(otherwise, Cases) and otherwise.subject == subject:
        known = {k for k, _ in pairs}
        pairs = pairs + tuple((k, v) for k, v in otherwise.cases if k not in known)
        otherwise = otherwise.otherwise
    values = [v for _, v in pairs] + [otherwise]
    first = values[0]
    if all(v == first for v in values[1:]):
        return first
    if any(isinstance(v, Unknown) for v in values) or len(pairs) > _MAX_MEMBERS:
        return UNKNOWN
    return Cases(subject, shown, pairs, otherwise)


def map_cases(value: Cases, operation: Callable[[object, Value], Value]) -> Value:
    """``operation(key, case_value)`` for every case; ``otherwise``'s key is ``OTHERWISE``.
    A case where the value is unbound stays unbound (that path raised before)."""

    def apply(key: object, case: Value) -> Value:
        return case if isinstance(case, Unbound) else operation(key, case)

    pairs = tuple((k, apply(k, v)) for k, v in value.cases)
    return cases(value.subject, value.shown, pairs, apply(OTHERWISE, value.otherwise))


OTHERWISE = "<otherwise>"


@dataclass(frozen=True)
class OneOf(Value):
    """One of several objects (models, classes, losses), chosen at run time."""

    members: frozenset[Value]


_MAX_MEMBERS = 8


@dataclass(frozen=True, eq=False)
class ModuleValue(Value):
    """A project module: its attributes are its module-level bindings."""

    name: str
    scope: Scope
    path: str


@dataclass(frozen=True, eq=False)
class Deferred(Value):
    """A name imported from a module still being walked (an import cycle): looked up in
    that module's scope when it is read, by which time the module is complete."""

    scope: object  # scopes.Scope
    name: str


@dataclass(frozen=True, eq=False)
class LazyImport(Value):
    """A name imported from the project, resolved (the module parsed and walked) only when
    the analysis reads it: most imported names never matter to a loss."""

    importer: object  # source.SourceFile
    module: str
    level: int
    name: str | None  # None: the module itself


@dataclass(frozen=True)
class Binding:
    """A name bound in a scope: its value and the expression it was assigned from."""

    value: Value
    source: ast.expr | None = field(default=None, compare=False, hash=False)
    assign: ast.stmt | None = field(default=None, compare=False, hash=False)


# Values that are objects a program chooses between (a union of them is still precise):
# models, model classes, functions, losses, layers.
_OBJECTS = (Instance, ClassRef, FunctionRef, LossFn, Layer, Sequential)


def join(a: Value, b: Value, grown_lists: bool = True) -> Value:
    """The value that holds on both paths.

    Equal values survive. Tensors of the same kind survive with the first origin, so a
    value that is softmax on both branches of an ``if`` is still reported; tensors of
    different kinds are unknown. ``None`` on one path does not erase the other (calling
    a loss on None fails loudly). Different objects make a :class:`OneOf`. A list grown on
    one path is the longer list, unless ``grown_lists`` is off (what an attribute holds,
    which every walk of a method appending to it would grow again).
    """
    if a == b:
        return a
    if a in (NONE, UNBOUND) and not isinstance(b, Unknown):
        return b
    if b in (NONE, UNBOUND) and not isinstance(a, Unknown):
        return a
    if isinstance(a, Fresh) and isinstance(b, (ExpOf, Tensor)):
        return b  # a buffer filled with exp values, or with a decoder's steps, in a loop
    if isinstance(b, Fresh) and isinstance(a, (ExpOf, Tensor)):
        return a
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.kind is not b.kind:
            return UNKNOWN
        # Whole, and bounded, only if so on both paths.
        joined = a if b.whole else a.part()
        return replace(joined, bounded=False) if joined.bounded and not b.bounded else joined
    if isinstance(a, Mapping) and isinstance(b, Mapping) and a.sequence and b.sequence and grown_lists:
        # A list grown by appends on one path (a loop's body: ``outputs.append(step)``) is
        # the longer list: the shorter one's items are its first ones.
        shorter, longer = (a, b) if len(a.items) <= len(b.items) else (b, a)
        if longer.items[:len(shorter.items)] == shorter.items:
            return longer
    if isinstance(a, Mapping) and isinstance(b, Mapping) and not a.sequence and not b.sequence:
        return _joined_dicts(a, b, grown_lists)
    if isinstance(a, TupleOf) and isinstance(b, TupleOf) and len(a.items) == len(b.items):
        return TupleOf(tuple(join(x, y) for x, y in zip(a.items, b.items)))
    if isinstance(a, LossFn) and isinstance(b, LossFn) and a.loss == b.loss and a.bound_args == b.bound_args:
        return a
    if isinstance(a, Instance) and isinstance(b, Instance) and a.cls is b.cls:
        return a  # the same class created in two places
    members = _members(a) | _members(b) if _is_object(a) and _is_object(b) else None
    if members is None or len(members) > _MAX_MEMBERS:
        return UNKNOWN
    return OneOf(members)


def _joined_dicts(a: Mapping, b: Mapping, grown_lists: bool) -> Value:
    """Two dicts, one per path: each key's items joined; a key only one path holds is
    held on some paths (``absent``): a read finding it gets that path's item."""
    first, second = dict(a.items), dict(b.items)
    keys = [*first, *(k for k in second if k not in first)]
    if len(keys) > MAX_ITEMS:
        return UNKNOWN
    items: list[tuple[object, Value]] = []
    absent = set(a.absent | b.absent)
    for key in keys:
        if key in first and key in second:
            items.append((key, join(first[key], second[key], grown_lists)))
        else:
            items.append((key, first[key] if key in first else second[key]))
            absent.add(key)
    return Mapping(tuple(items), absent=frozenset(absent))


def _is_object(value: Value) -> bool:
    return isinstance(value, (*_OBJECTS, OneOf))


def _members(value: Value) -> frozenset[Value]:
    return value.members if isinstance(value, OneOf) else frozenset((value,))


def map_members(value: Value, operation: Callable[[Value], Value]) -> Value:
    """``operation`` on every member of a :class:`OneOf` (or on the value itself), joined."""
    if not isinstance(value, OneOf):
        return operation(value)
    return join_all([operation(member) for member in sorted(value.members, key=_member_order)])


def _member_order(value: Value) -> tuple[int, int]:
    """Members in source order, so that the walk and its origins are deterministic."""
    origin = getattr(value, "origin", None)
    if isinstance(origin, Origin):
        return origin.line, origin.col
    for attr in ("cls", "fn"):
        info = getattr(value, attr, None)
        node = getattr(info, "node", None)
        if node is not None:
            return node.lineno, node.col_offset
    return 0, 0


def join_all(values: list[Value]) -> Value:
    if not values:
        return UNKNOWN
    result = values[0]
    for value in values[1:]:
        result = join(result, value)
    return result


def is_literal_container(value: Value, depth: int = 0) -> bool:
    """A dict or list of literals (``{"MODEL_NAME": "pointnet", "TASK": "cls", "EPOCHS":
    n}``): a caller's configuration, whose literal items decide tests as literal arguments
    do. Some items may be unknown; none is a tensor, a loss or a model (those are passed as
    what they are: see informative)."""
    if not isinstance(value, Mapping) or depth >= 3:
        return False
    items = [item for _, item in value.items]
    return any(isinstance(item, Const) for item in items) and all(
        isinstance(item, (Const, Unknown)) or is_literal_container(item, depth + 1) for item in items)


def informative(value: Value) -> bool:
    """Arguments worth a context-specific walk of the callee: kinds, losses, models."""
    if isinstance(value, TupleOf):
        return any(informative(v) for v in value.items)
    if isinstance(value, Mapping):
        return any(informative(v) for _, v in value.items)
    if isinstance(value, Cases):
        return any(informative(v) for v in value.values())
    if isinstance(value, Tensor):
        # log of an arbitrary tensor matters only as a target written at the loss call
        # (XG111); passing one on does not earn the callee a walk of its own.
        return value.kind is not Kind.LOGGED
    # exps matter to the callee that sums or divides them (a scatter helper's denominator).
    return isinstance(value, (LossFn, Layer, Sequential, Instance, FunctionRef, ClassRef, OneOf, ExpOf))
