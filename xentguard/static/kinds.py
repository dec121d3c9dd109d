"""The analysis' model of values: what kind of numbers a tensor holds, and where that came from.

Like pyflakes' bindings, with one more fact per binding: the *kind of value*. Every
abstract value is immutable and hashable, so function summaries can be memoised on
their arguments. ``UNKNOWN`` is the safe answer: whenever two paths disagree, the join
is ``UNKNOWN`` and the analysis stays silent.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xentguard.static.scopes import ClassInfo, FunctionInfo


class Kind(Enum):
    LOGITS = "raw logits"
    PROBS = "probabilities"
    LOG_PROBS = "log-probabilities"
    SIGMOID = "sigmoid output"


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
class Tensor(Value):
    kind: Kind
    origin: Origin


@dataclass(frozen=True)
class ExpOf(Value):
    """``exp(x)`` (``summed``: its sum over some dim), for hand-written softmax / logsumexp."""

    arg_key: str  # ast.dump of the exponent, to match numerator and denominator
    origin: Origin
    unstable: bool  # the exponent is not shifted by its max
    summed: bool = False


@dataclass(frozen=True)
class Shifted(Value):
    """``x - something``: exp of it is taken to be stabilised."""


@dataclass(frozen=True)
class TupleOf(Value):
    items: tuple[Value, ...]


@dataclass(frozen=True)
class Mapping(Value):
    """A dict or list literal whose keys are literals (losses kept in dicts/lists)."""

    items: tuple[tuple[object, Value], ...]

    def get(self, key: object) -> Value:
        for k, v in self.items:
            if k == key:
                return v
        return UNKNOWN


@dataclass(frozen=True)
class Ref(Value):
    """A name from outside the analysed code, by qualified name: ``torch.nn.functional.softmax``."""

    qualname: str


@dataclass(frozen=True)
class LossFn(Value):
    """Something that, called, computes a loss: ``F.cross_entropy``, ``nn.CrossEntropyLoss()``."""

    loss: str  # canonical functional name: "cross_entropy", "nll_loss", ...
    spelled: str  # as written where it was created: "nn.CrossEntropyLoss", "F.cross_entropy"
    origin: Origin | None  # where the loss object was created (None for a plain function)
    bound_args: int = 0  # positional arguments bound by functools.partial


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


@dataclass(frozen=True)
class ClassRef(Value):
    cls: ClassInfo


@dataclass(frozen=True)
class FunctionRef(Value):
    fn: FunctionInfo
    bound_self: Value | None = None


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


def join(a: Value, b: Value) -> Value:
    """The value that holds on both paths: equal values survive, anything else is unknown.

    Tensors of the same kind survive with the first origin, so a value that is softmax
    on both branches of an ``if`` is still reported.
    """
    if a == b:
        return a
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.kind is b.kind:
        return a
    if isinstance(a, TupleOf) and isinstance(b, TupleOf) and len(a.items) == len(b.items):
        return TupleOf(tuple(join(x, y) for x, y in zip(a.items, b.items)))
    if isinstance(a, LossFn) and isinstance(b, LossFn) and a.loss == b.loss and a.bound_args == b.bound_args:
        return a
    return UNKNOWN


def join_all(values: list[Value]) -> Value:
    if not values:
        return UNKNOWN
    result = values[0]
    for value in values[1:]:
        result = join(result, value)
    return result
