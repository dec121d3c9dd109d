"""What the analysis knows about PyTorch, by qualified name. Data only, no logic."""

from __future__ import annotations

import re

from xentguard.static.kinds import Kind

# Functions whose result is of a known kind.
PRODUCER_FUNCTIONS: dict[str, Kind] = {
    "torch.softmax": Kind.PROBS,
    "torch.nn.functional.softmax": Kind.PROBS,
    "torch.special.softmax": Kind.PROBS,
    "torch.log_softmax": Kind.LOG_PROBS,
    "torch.nn.functional.log_softmax": Kind.LOG_PROBS,
    "torch.special.log_softmax": Kind.LOG_PROBS,
    "torch.sigmoid": Kind.SIGMOID,
    "torch.nn.functional.sigmoid": Kind.SIGMOID,
    "torch.special.expit": Kind.SIGMOID,
    "torch.nn.functional.linear": Kind.LOGITS,
}

# Tensor methods whose result is of a known kind, whatever the receiver.
PRODUCER_METHODS: dict[str, Kind] = {
    "softmax": Kind.PROBS,
    "log_softmax": Kind.LOG_PROBS,
    "sigmoid": Kind.SIGMOID,
}

# Functions/methods that take a dim as their second positional argument (XG109).
SOFTMAX_FUNCTIONS = frozenset(
    name for name, kind in PRODUCER_FUNCTIONS.items() if kind in (Kind.PROBS, Kind.LOG_PROBS)
)

# Module classes: called, their instances produce a kind.
PRODUCER_LAYERS: dict[str, Kind] = {
    "torch.nn.Softmax": Kind.PROBS,
    "torch.nn.LogSoftmax": Kind.LOG_PROBS,
    "torch.nn.Sigmoid": Kind.SIGMOID,
    "torch.nn.Linear": Kind.LOGITS,
    "torch.nn.LazyLinear": Kind.LOGITS,
    "torch.nn.Bilinear": Kind.LOGITS,
}
SOFTMAX_LAYERS = frozenset({"torch.nn.Softmax", "torch.nn.LogSoftmax"})

# Module classes whose output has the kind of their input.
PRESERVING_LAYERS = frozenset(
    {
        "torch.nn.Dropout",
        "torch.nn.Dropout1d",
        "torch.nn.Dropout2d",
        "torch.nn.Dropout3d",
        "torch.nn.AlphaDropout",
        "torch.nn.Identity",
        "torch.nn.Flatten",
        "torch.nn.Unflatten",
    }
)

# Functional losses: canonical name -> (display class name, what its input must be).
LOSS_FUNCTIONS: dict[str, str] = {
    "torch.nn.functional.cross_entropy": "cross_entropy",
    "torch.nn.functional.nll_loss": "nll_loss",
    "torch.nn.functional.kl_div": "kl_div",
    "torch.kl_div": "kl_div",
    "torch.nn.functional.binary_cross_entropy_with_logits": "binary_cross_entropy_with_logits",
    "torch.binary_cross_entropy_with_logits": "binary_cross_entropy_with_logits",
    "torch.nn.functional.binary_cross_entropy": "binary_cross_entropy",
}

LOSS_CLASSES: dict[str, str] = {
    "torch.nn.CrossEntropyLoss": "cross_entropy",
    "torch.nn.NLLLoss": "nll_loss",
    "torch.nn.NLLLoss2d": "nll_loss",
    "torch.nn.KLDivLoss": "kl_div",
    "torch.nn.BCEWithLogitsLoss": "binary_cross_entropy_with_logits",
    "torch.nn.BCELoss": "binary_cross_entropy",
}

SEQUENTIAL = frozenset({"torch.nn.Sequential"})

# Wrappers that return something called like their argument.
MODEL_WRAPPERS = frozenset(
    {
        "torch.nn.DataParallel",
        "torch.nn.parallel.DataParallel",
        "torch.nn.parallel.DistributedDataParallel",
        "torch.compile",
        "torch.jit.script",
    }
)

PARTIAL = frozenset({"functools.partial"})

LOG_FUNCTIONS = frozenset({"torch.log"})
EXP_FUNCTIONS = frozenset({"torch.exp"})
SUM_FUNCTIONS = frozenset({"torch.sum"})

# Tensor methods and torch functions that keep the kind of their (first) argument.
VIEW_METHODS = frozenset(
    {
        "view", "view_as", "reshape", "reshape_as", "permute", "transpose", "t", "contiguous",
        "squeeze", "unsqueeze", "flatten", "unflatten", "movedim", "moveaxis", "swapaxes",
        "swapdims", "float", "double", "half", "bfloat16", "to", "cuda", "cpu", "detach",
        "clone", "type_as", "expand", "expand_as", "narrow", "select",
    }
)
VIEW_FUNCTIONS = frozenset(
    {
        "torch.flatten", "torch.reshape", "torch.squeeze", "torch.unsqueeze", "torch.permute",
        "torch.transpose", "torch.movedim", "torch.narrow", "torch.select",
    }
)
# Methods of a module or loss object that return the object itself.
SELF_RETURNING_METHODS = frozenset(
    {"to", "cuda", "cpu", "train", "eval", "float", "half", "double", "bfloat16", "requires_grad_", "type"}
)

# What a loss needs in its input, and the rule for each wrong kind it may receive.
LOSS_RULES: dict[str, dict[Kind, str]] = {
    "cross_entropy": {Kind.PROBS: "XG101", Kind.LOG_PROBS: "XG102"},
    "nll_loss": {Kind.PROBS: "XG103", Kind.LOGITS: "XG104"},
    "kl_div": {Kind.PROBS: "XG110"},
    "binary_cross_entropy_with_logits": {Kind.SIGMOID: "XG106"},
    "binary_cross_entropy": {Kind.SIGMOID: "XG107"},
}

# torch.nn.modules.loss.CrossEntropyLoss and friends are the same classes.
_SUBMODULE = re.compile(r"^torch\.nn\.modules\.[a-z_]+\.")


def canonical(qualname: str) -> str:
    """``torch.nn.modules.loss.CrossEntropyLoss`` -> ``torch.nn.CrossEntropyLoss``."""
    if qualname.startswith("torch.nn.modules."):
        return _SUBMODULE.sub("torch.nn.", qualname)
    return qualname
