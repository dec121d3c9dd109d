"""Where a loss input came from (autograd provenance) and how close is "close" per dtype.

Provenance is read from the tensor's ``grad_fn`` chain: the producing op's backward node
(``SoftmaxBackward0`` for softmax, ...) reached through view-like nodes that do not change
the values' kind (view, reshape, permute, slicing, dtype casts). It is exact and free, so it
beats any value heuristic. When it is inconclusive (no graph, or a producer it does not know:
``torch.cat``, ``index_select``, ``relu``, ``2 * logits``) the values decide (see checks.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

# Backward nodes of ops that rearrange, copy or cast values without changing what kind of
# numbers they are: a permuted softmax output is still probabilities.
VIEW_LIKE_NODES = frozenset(
    {
        "ViewBackward0",
        "ReshapeAliasBackward0",
        "UnsafeViewBackward0",
        "PermuteBackward0",
        "TransposeBackward0",
        "TransposeBackward1",
        "TBackward0",
        "SliceBackward0",
        "SelectBackward0",
        "SqueezeBackward0",
        "SqueezeBackward1",
        "SqueezeBackward2",
        "SqueezeBackward3",
        "UnsqueezeBackward0",
        "ExpandBackward0",
        "CloneBackward0",
        "ToCopyBackward0",
        "AliasBackward0",
        "AsStridedBackward0",
        "NarrowBackward0",
        "FlattenBackward0",
        "UnflattenBackward0",
        "MovedimBackward0",
        "ContiguousBackward0",
        "IndexBackward0",  # fancy-indexing rows keeps each row's kind
    }
)

# producer node -> (kind, how the user would call it)
PRODUCER_NODES: dict[str, tuple[str, str]] = {
    "SoftmaxBackward0": ("probs", "softmax"),
    "LogSoftmaxBackward0": ("logprobs", "log_softmax"),
    "SigmoidBackward0": ("sigmoid", "sigmoid"),
    "AddmmBackward0": ("linear", "a Linear layer (addmm)"),
    "MmBackward0": ("linear", "a matrix product (mm)"),
    "BmmBackward0": ("linear", "a batched matrix product (bmm)"),
    "LinearBackward0": ("linear", "a Linear layer"),
    "ConvolutionBackward0": ("linear", "a convolution"),
}

MAX_WALK = 64  # a view chain longer than this is not worth following


@dataclass(frozen=True)
class Provenance:
    kind: str  # "probs" | "logprobs" | "sigmoid" | "linear"
    producer: str  # "softmax", "log(softmax)", ...
    node: str  # backward node name that decided it
    via: tuple[str, ...]  # view-like nodes walked through

    def describe(self) -> str:
        text = f"{self.producer} (grad_fn {self.node}"
        if self.via:
            text += " through " + ", ".join(self.via)
        return text + ")"


def _walk_views(fn: object | None, via: list[str]) -> object | None:
    """Follow view-like nodes from ``fn``; return the first node that is not view-like."""
    for _ in range(MAX_WALK):
        if fn is None:
            return None
        name = type(fn).__name__
        if name not in VIEW_LIKE_NODES:
            return fn
        via.append(name)
        nexts = getattr(fn, "next_functions", ())
        fn = nexts[0][0] if nexts else None
    return None


def provenance(tensor: torch.Tensor) -> Provenance | None:
    """The kind of numbers ``tensor`` holds according to its autograd graph, or None if unknown."""
    return provenance_of(tensor.grad_fn)


def provenance_of(grad_fn: object | None) -> Provenance | None:
    return inspect_graph(grad_fn)[0]


def inspect_graph(grad_fn: object | None) -> tuple[Provenance | None, str]:
    """(provenance or None, the backward node the walk stopped at; "" without a graph).

    The node's name words a finding when provenance is inconclusive and values decide
    (``CatBackward0``: a concatenation the walk does not look into).
    """
    if grad_fn is None:
        return None, ""
    via: list[str] = []
    node = _walk_views(grad_fn, via)
    if node is None:
        return None, type(grad_fn).__name__  # a view chain too long to follow
    name = type(node).__name__
    if name in PRODUCER_NODES:
        return _provenance(name, tuple(via)), name
    if name == "LogBackward0":
        # log(softmax(x)): log-probabilities, spelled the fragile way (XG105 in the linter).
        nexts = getattr(node, "next_functions", ())
        inner = _walk_views(nexts[0][0] if nexts else None, [])
        if inner is not None and type(inner).__name__ == "SoftmaxBackward0":
            return _provenance("LogBackward0", tuple(via)), name
    return None, name


@functools.lru_cache(maxsize=1024)
def _provenance(node: str, via: tuple[str, ...]) -> Provenance:
    # Cached: the same few chains recur on every training step.
    if node == "LogBackward0":
        return Provenance("logprobs", "log(softmax)", node, via)
    kind, producer = PRODUCER_NODES[node]
    return Provenance(kind, producer, node, via)


@dataclass(frozen=True)
class Tolerance:
    """How far from an exact identity a row may be and still count as satisfying it."""

    sum: float  # |sum(p) - 1| for probabilities
    lse: float  # |logsumexp(x)| for log-probabilities


# Base tolerance and unit roundoff per dtype. Reductions accumulate in fp32 (at least), so
# the error that matters is the rounding of the stored values: about 2**-9 relative per
# element in bf16, which sums to ~2e-3 for a row of probabilities, and to
# roundoff * entropy (<= log C) for the logsumexp of rounded log-probabilities.
_BASE: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-4, 2.0**-24),  # fp64 often holds values computed in fp32
    torch.float32: (1e-4, 2.0**-24),
    torch.bfloat16: (1e-2, 2.0**-8),
    torch.float16: (1e-2, 2.0**-11),
}


@functools.lru_cache(maxsize=256)
def tolerance(dtype: torch.dtype, classes: int) -> Tolerance:
    base, roundoff = _BASE.get(dtype, (1e-2, 2.0**-8))
    return Tolerance(sum=base, lse=base + roundoff * math.log(max(classes, 2)))


# Value-based calls need this much evidence: random logits satisfy "rows sum to 1, all in
# [0, 1]" or "logsumexp = 0" by coincidence only row by row, and every row must agree.
MIN_CLASSES = 3
MIN_ROWS = 2
MIN_VALUES = 16
