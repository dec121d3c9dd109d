"""What the analysis knows about PyTorch (and libraries that call its losses), by qualified
name. Data, plus ``canonical()`` to normalise the names it is looked up by."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

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
    # Convolutions are linear maps too: their raw output into nll_loss is XG104 (the
    # 2-d NLLLoss example of PyTorch's own docs once did it).
    "torch.nn.Conv1d": Kind.LOGITS,
    "torch.nn.Conv2d": Kind.LOGITS,
    "torch.nn.Conv3d": Kind.LOGITS,
    "torch.nn.LazyConv1d": Kind.LOGITS,
    "torch.nn.LazyConv2d": Kind.LOGITS,
    "torch.nn.LazyConv3d": Kind.LOGITS,
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
    # NeMo 0.x neural-module losses, nn.CrossEntropyLoss / nn.BCEWithLogitsLoss of their
    # ``logits`` (nemo/backends/pytorch/common/losses.py).
    **{f"nemo.backends.pytorch.common{module}.{name}": loss
       for module in ("", ".losses")
       for name, loss in (("CrossEntropyLossNM", "cross_entropy"),
                          ("BCEWithLogitsLossNM", "binary_cross_entropy_with_logits"))},
}
# Loss classes whose call does not take (input, target) as torch's do: (position, keyword) of
# each, position None for keyword only. NeMo's neural modules are called with keywords only.
LOSS_CALL_ARGUMENTS: dict[str, tuple[tuple[int | None, str], tuple[int | None, str]]] = {
    qualname: ((None, "logits"), (None, "labels")) for qualname in LOSS_CLASSES if qualname.startswith("nemo.")
}

SEQUENTIAL = frozenset({"torch.nn.Sequential"})
# What calling an nn.Module instance runs (``model(x)``): its forward, through __call__.
INSTANCE_CALL_METHODS = frozenset({"forward", "__call__"})
# What nn.Sequential also takes, a single argument of named layers in order:
# ``nn.Sequential(OrderedDict([("fc", nn.Linear(84, 10)), ("out", nn.LogSoftmax(-1))]))``.
ORDERED_DICTS = frozenset({"collections.OrderedDict"})
# Containers of modules, indexed like a list / a dict.
MODULE_LIST = frozenset({"torch.nn.ModuleList"})
MODULE_DICT = frozenset({"torch.nn.ModuleDict"})
# The containers that hold the layers they are built from, as they are.
CONTAINER_MODULES = MODULE_LIST | MODULE_DICT

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
# Copies: the same model, loss or tensor kind as the original (``copy.deepcopy(global_net)``
# handed to each client of a federated round).
COPIES = frozenset({"copy.deepcopy", "copy.copy"})

# Command-line parsers: the methods that read the run's settings from the command line, by
# where the namespace is in what they return (None: it is the result; 0: its first item).
# Read from the command line (no argument list passed), the settings are the user's to
# choose: a value picked by one of them is a case of it (kinds.Cases), as for a module-level
# ``args``.
SETTINGS_PARSERS: dict[str, dict[str, int | None]] = {
    "argparse.ArgumentParser": {
        "parse_args": None,
        "parse_intermixed_args": None,
        "parse_known_args": 0,
        "parse_known_intermixed_args": 0,
    },
}

# New buffers, filled later (a hand-written softmax writes exp values into one).
FRESH_BUFFERS = frozenset({"torch.zeros", "torch.empty", "torch.zeros_like", "torch.empty_like"})
FRESH_BUFFER_METHODS = frozenset({"new_zeros", "new_empty"})
# Tensors built from their data: with a literal empty list (``torch.tensor([])``), an empty
# accumulator that ``torch.cat`` grows in a loop.
TENSORS_FROM_DATA = frozenset({"torch.tensor", "torch.Tensor", "torch.FloatTensor", "torch.as_tensor"})
# Python builtins making containers whose items the analysis follows (unless the name is
# rebound): ``for t, out in enumerate(outputs)``. What each yields of its arguments' items
# ("empty": only called without arguments, ``dict()``, as a registry starts).
CONTAINER_BUILTINS: dict[str, str] = {"enumerate": "enumerate", "zip": "zip", "reversed": "reversed",
                                     "list": "same", "tuple": "same", "dict": "empty"}
# Methods of a str that take no argument and return a new str, so that a literal's result is
# a literal too: ``kind.upper() == "CL"`` with ``kind`` a caller's "cl" decides the test.
PURE_STR_METHODS = frozenset({"upper", "lower", "casefold", "strip", "lstrip", "rstrip", "title", "capitalize",
                              "swapcase"})
# Methods that move a new buffer (to a device, a dtype) without writing into it.
BUFFER_MOVES = frozenset({"to", "type", "type_as", "cuda", "cpu", "float", "double", "half", "bfloat16", "detach",
                          "requires_grad_", "pin_memory"})
# Methods that sum a source tensor into the receiver: position of the source argument.
SCATTER_SUMS: dict[str, int] = {"scatter_add": 2, "scatter_add_": 2, "index_add": 2, "index_add_": 2}
# Scatter reductions, which sum the source into the result for the reductions that sum (a
# mean is a sum over a count): (position of the source, position of the reduction's name),
# after the tensor a method is called on. ``scatter(exp, index, reduce="mean")`` of a
# project helper handing its ``reduce`` on to one keeps the caller's literal (see
# LITERAL_ARGUMENTS).
SCATTER_REDUCTIONS: dict[str, tuple[int, int]] = {
    "torch.scatter_reduce": (3, 4), "scatter_reduce": (2, 3), "scatter_reduce_": (2, 3)}
SUMMING_REDUCTIONS = frozenset({"sum", "mean"})
# Arguments of torch calls whose literal decides what the analysis reads of the call, by
# the call's leaf name: (positions, keyword). A parameter handed on as it is to one keeps
# its caller's literal (Analyzer.literal_parameters), whichever object the call is on.
LITERAL_ARGUMENTS: dict[str, tuple[frozenset[int], str]] = {
    leaf: (frozenset(at for name, (_, at) in SCATTER_REDUCTIONS.items() if name.rsplit(".", 1)[-1] == leaf), "reduce")
    for leaf in {name.rsplit(".", 1)[-1] for name in SCATTER_REDUCTIONS}}

LOG_FUNCTIONS = frozenset({"torch.log"})
# The natural log of a Python number, and what fills a tensor with one number: the position
# of the fill value (it is also the keyword ``fill_value``; method positions exclude self).
SCALAR_LOG_FUNCTIONS = frozenset({"math.log", "numpy.log"})
FILL_FUNCTIONS: dict[str, int] = {"torch.full": 1, "torch.full_like": 1}
FILL_METHODS: dict[str, int] = {"fill_": 0, "new_full": 1}
EXP_FUNCTIONS = frozenset({"torch.exp"})
# The tensor methods of the same: ``p.log()``, ``x.exp()``, and the sums that make a
# hand-written softmax's denominator (``e.sum(dim=1)``).
LOG_METHODS = frozenset({"log"})
EXP_METHODS = frozenset({"exp"})
# log(1 + x): of exp(z), the log of sigmoid(-z) written out (XG112).
LOG1P_FUNCTIONS = frozenset({"torch.log1p"})
LOG1P_METHODS = frozenset({"log1p"})
SUM_METHODS = frozenset({"sum", "nansum"})
SUM_FUNCTIONS = frozenset({"torch.sum"})
# What bounds an exponent: torch's functions, and the tensor methods of those names
# (``x.clamp(max=30)``, ``torch.clip(x, -30, 30)``; a method of an object the project
# defines is its own): an exp of an expression that calls one, subtracts anything (``x -
# x.max()``) or negates, is taken to be stabilised (see checks.exp_of); one that only
# scales a tensor (``x / temperature``) or takes its max (``exp(max(x))``) is not.
EXPONENT_BOUND_FUNCTIONS = frozenset({"torch.clamp", "torch.clamp_", "torch.clip", "torch.clip_"})
EXPONENT_BOUNDS = frozenset(name.rsplit(".", 1)[-1] for name in EXPONENT_BOUND_FUNCTIONS)

class Keeps(Enum):
    """What a tensor operation keeps of its input's kind.

    ``CLASS_DIM``: the result still holds whole rows over the class dimension, as a loss
    reads them (reshapes, moves of dims, dtype/device changes, picking samples along the
    batch). ``ELEMENTWISE``: each value is still of the kind, but rows are no longer whole
    distributions (picking classes: ``gather``, ``narrow``/``index_select`` along a dim
    that may be the classes). Such a part is still probabilities for ``log`` (XG105), but
    is no claim about a loss input.
    """

    CLASS_DIM = "class-dim"
    ELEMENTWISE = "elementwise"
    # Reductions: the mean of probability rows over the batch is a distribution; over any
    # other dim it is no kind at all.
    BATCH_MEAN = "batch-mean"
    # Clamps: the kind and the class dim; a lower bound above 0 also keeps a log of the
    # values finite (``torch.log(p.clamp(min=1e-8))`` is not XG105).
    CLAMPED = "clamped"


# Tensor methods (``x.view(...)``) and what they keep of the receiver's kind. In-place
# variants keep what their out-of-place form keeps.
TENSOR_METHODS: dict[str, Keeps] = {
    **dict.fromkeys(
        (
            "view", "view_as", "reshape", "reshape_as", "resize", "resize_", "resize_as", "resize_as_",
            "permute", "transpose", "transpose_", "t", "t_", "contiguous", "squeeze", "squeeze_",
            "unsqueeze", "unsqueeze_", "flatten", "unflatten", "ravel", "movedim", "moveaxis", "swapaxes",
            "swapdims", "expand", "expand_as", "repeat", "float", "double", "half", "bfloat16", "to", "type",
            "type_as", "cuda", "cpu", "detach", "detach_", "clone", "requires_grad_", "pin_memory",
        ),
        Keeps.CLASS_DIM,
    ),
    **dict.fromkeys(("gather", "take_along_dim", "select", "narrow", "index_select", "masked_select", "take"),
                    Keeps.ELEMENTWISE),
    **dict.fromkeys(("clamp", "clamp_", "clip", "clip_", "clamp_min", "clamp_min_", "clamp_max", "clamp_max_"),
                    Keeps.CLAMPED),
    "mean": Keeps.BATCH_MEAN,
}
# torch functions ``torch.f(x, ...)`` and what they keep of their first argument's kind.
TENSOR_FUNCTIONS: dict[str, Keeps] = {
    **dict.fromkeys(
        (
            "torch.flatten", "torch.reshape", "torch.squeeze", "torch.unsqueeze", "torch.permute",
            "torch.transpose", "torch.movedim", "torch.moveaxis", "torch.swapaxes", "torch.swapdims",
            "torch.ravel", "torch.t", "torch.clone", "torch.detach",
            # ``Variable(t)`` has been ``t`` itself since PyTorch 0.4 (old code still wraps).
            "torch.autograd.Variable", "torch.autograd.variable.Variable",
        ),
        Keeps.CLASS_DIM,
    ),
    **dict.fromkeys(("torch.gather", "torch.take_along_dim", "torch.select", "torch.narrow", "torch.index_select",
                     "torch.masked_select", "torch.take"), Keeps.ELEMENTWISE),
    **dict.fromkeys(("torch.clamp", "torch.clip", "torch.clamp_min", "torch.clamp_max"), Keeps.CLAMPED),
    "torch.mean": Keeps.BATCH_MEAN,
}
# The clamps that take no lower bound.
UPPER_CLAMPS = frozenset({"clamp_max", "clamp_max_", "torch.clamp_max"})
# Operations that keep the class dim when they act on the batch dim (a literal 0 as
# their dim argument), elementwise otherwise: (dim's position, dim's keyword).
BATCH_DIM_OPERATIONS: dict[str, tuple[int, str]] = {
    "narrow": (0, "dim"), "index_select": (0, "dim"), "select": (0, "dim"),
    "torch.narrow": (1, "dim"), "torch.index_select": (1, "dim"), "torch.select": (1, "dim"),
    "mean": (0, "dim"), "torch.mean": (1, "dim"),
}
# Attributes nn.Module's own methods store on every module (``train()`` / ``eval()``).
MODULE_OWN_ATTRIBUTES = frozenset({"training"})
# Tensor attributes that are the tensor itself (or a transposed view of it).
TENSOR_ATTRIBUTES: dict[str, Keeps] = {"data": Keeps.CLASS_DIM, "T": Keeps.CLASS_DIM, "mT": Keeps.CLASS_DIM}
# Joining functions: a list of tensors of one kind, joined along a dim (default 0: the
# batch). Along the batch the class dim is kept; along any other dim only elementwise.
CONCATENATIONS = frozenset({"torch.cat", "torch.concat", "torch.concatenate", "torch.stack"})
STACKS = frozenset({"torch.stack"})  # joined along a new dim: the pieces' rows stay whole

# Elementwise choices: each value of the result is the value of one of the tensors at these
# argument positions (``torch.where(labels == 1, p, 1 - p)``). When they share a kind, each
# value is of that kind, but rows are mixed from several tensors: elementwise only.
ELEMENTWISE_CHOICES: dict[str, tuple[int, ...]] = {"torch.where": (1, 2)}

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

# Losses whose target must be probabilities (or class indices), never log space (XG111);
# kl_div's log_target=True is the one explicit exception.
LOG_SPACE_TARGET_LOSSES = frozenset({"kl_div", "cross_entropy"})

# Losses whose input is raw logits and nothing else: they apply sigmoid themselves, so a
# value of unknown origin the code hands them is taken as signed, unbounded scores from
# there on (kinds.Signed: ``-z`` of it bounds no exponent). cross_entropy is not here: its
# input may as well be log-probabilities (log_softmax is idempotent), which are bounded.
LOGITS_INPUT_LOSSES = frozenset({"binary_cross_entropy_with_logits"})

# torch.nn.modules.loss.CrossEntropyLoss and friends are the same classes.
_SUBMODULE = re.compile(r"^torch\.nn\.modules\.[a-z_]+\.")


# What the conventional names mean in a file that star-imports a module from outside the
# project (``from fastai.vision import *`` re-exports them) and never binds them itself.
CONVENTIONAL_NAMES: dict[str, str] = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional"}


def is_torch(module: str) -> bool:
    """``torch`` or one of its submodules (not ``torchvision``)."""
    return module == "torch" or module.startswith("torch.")


def star_names(module: str) -> dict[str, str]:
    """What ``from module import *`` binds that the tables know: ``softmax`` for
    ``torch.nn.functional``, ``CrossEntropyLoss`` for ``torch.nn``."""
    names: dict[str, str] = {}
    prefix = f"{module}."
    for table in _NAMED_TABLES:
        for qualname in table:
            if qualname.startswith(prefix) and "." not in qualname[len(prefix):]:
                names[qualname[len(prefix):]] = qualname
    return names


def canonical(qualname: str) -> str:
    """``torch.nn.modules.loss.CrossEntropyLoss`` -> ``torch.nn.CrossEntropyLoss``."""
    if qualname.startswith("torch.nn.modules."):
        return _SUBMODULE.sub("torch.nn.", qualname)
    return qualname


@dataclass(frozen=True)
class Trainer:
    """A library entry point that computes ``loss(model(x), y)`` for the user.

    Arguments are (position, keyword); position None: keyword only.
    """

    model: tuple[int | None, str]
    loss: tuple[int | None, str]
    default_loss: str | None = None  # the loss class used when none is passed
    # Losses before which the library takes log of the model's output itself (skorch's
    # NeuralNetClassifier with NLLLoss expects probabilities from the module).
    log_of_output_for: frozenset[str] = frozenset()


_SKORCH_NET = Trainer(model=(0, "module"), loss=(1, "criterion"))
_SKORCH_CLASSIFIER = Trainer(model=(0, "module"), loss=(None, "criterion"), default_loss="torch.nn.NLLLoss",
                             log_of_output_for=frozenset({"nll_loss"}))
_SKORCH_BINARY = Trainer(model=(0, "module"), loss=(None, "criterion"), default_loss="torch.nn.BCEWithLogitsLoss")
_POUTYNE = Trainer(model=(0, "network"), loss=(2, "loss_function"))


def _skada(position: int) -> Trainer:
    return Trainer(model=(0, "module"), loss=(position, "base_criterion"), default_loss="torch.nn.CrossEntropyLoss")


TRAINERS: dict[str, Trainer] = {
    "ignite.engine.create_supervised_trainer": Trainer(model=(0, "model"), loss=(2, "loss_fn")),
    "ignite.engine.supervised_training_step": Trainer(model=(0, "model"), loss=(2, "loss_fn")),
    "skorch.NeuralNet": _SKORCH_NET,
    "skorch.net.NeuralNet": _SKORCH_NET,
    "skorch.NeuralNetClassifier": _SKORCH_CLASSIFIER,
    "skorch.classifier.NeuralNetClassifier": _SKORCH_CLASSIFIER,
    "skorch.NeuralNetBinaryClassifier": _SKORCH_BINARY,
    "skorch.classifier.NeuralNetBinaryClassifier": _SKORCH_BINARY,
    "poutyne.Model": _POUTYNE,
    "poutyne.framework.Model": _POUTYNE,
    "torchbearer.Trial": Trainer(model=(0, "model"), loss=(2, "criterion")),
    # ray_skorch: skorch's NeuralNet trained on Ray workers, same module/criterion contract.
    "ray_skorch.RayTrainNeuralNet": Trainer(model=(0, "module"), loss=(None, "criterion")),
    # skada's deep domain adaptation (skorch nets): the module's output on source samples goes
    # to ``base_criterion``, nn.CrossEntropyLoss() when none is passed (skada/deep/_divergence.py,
    # _adversarial.py, _baseline.py; the position is each function's).
    **{f"skada.deep.{name}": _skada(position) for name, position in (
        ("DeepCoral", 3), ("DAN", 4), ("DANN", 5), ("CDAN", 7), ("SourceOnly", 2), ("TargetOnly", 2))},
}


@dataclass(frozen=True)
class HookRun:
    """What one method of a library object runs of the model it is given: Lightning's
    ``trainer.fit(model)`` calls ``model.training_step`` and ``model.validation_step``
    (the model's own methods, so their losses are the user's code: walked for that model,
    with what its construction and its setters stored)."""

    model: tuple[int | None, str]  # (position, keyword) of the model argument
    hooks: tuple[str, ...]


# Lightning's Trainer (pytorch_lightning/trainer/trainer.py: fit, validate, test and predict
# take the LightningModule first, as ``model``; fit runs the validation loop too).
_LIGHTNING_TRAINER = {
    "fit": HookRun(model=(0, "model"), hooks=("training_step", "validation_step")),
    "validate": HookRun(model=(0, "model"), hooks=("validation_step",)),
    "test": HookRun(model=(0, "model"), hooks=("test_step",)),
    "predict": HookRun(model=(0, "model"), hooks=("predict_step",)),
}

# Library classes whose instances run a model's hooks, by qualified name: method -> run.
HOOK_RUNNERS: dict[str, dict[str, HookRun]] = {
    qualname: _LIGHTNING_TRAINER for qualname in (
        "pytorch_lightning.Trainer", "pytorch_lightning.trainer.Trainer", "pytorch_lightning.trainer.trainer.Trainer",
        "lightning.Trainer", "lightning.pytorch.Trainer", "lightning.pytorch.trainer.Trainer",
        "lightning.pytorch.trainer.trainer.Trainer")
}

_NAMED_TABLES: tuple[Collection[str], ...] = (
    PRODUCER_FUNCTIONS, PRODUCER_LAYERS, PRESERVING_LAYERS, LOSS_FUNCTIONS, LOSS_CLASSES, SEQUENTIAL, MODULE_LIST,
    MODULE_DICT, LOG_FUNCTIONS, LOG1P_FUNCTIONS, EXP_FUNCTIONS, SUM_FUNCTIONS, TENSOR_FUNCTIONS, CONCATENATIONS,
    FILL_FUNCTIONS, SCALAR_LOG_FUNCTIONS,
)

# The packages the trainers live in: a file using one imports (and so spells) its package.
TRAINER_PACKAGES = frozenset(qualname.split(".", 1)[0] for qualname in TRAINERS)

# Functions and layers that make a kind other than raw logits (activations): where findings
# are made or fed. Linear layers make logits, which matter only at a loss.
ACTIVATIONS = frozenset(q for q, k in {**PRODUCER_FUNCTIONS, **PRODUCER_LAYERS}.items() if k is not Kind.LOGITS)

# Methods that fill their receiver (a module registering a submodule, a list, a dict),
# with their number of positional arguments; the first two name the submodule.
SUBMODULE_REGISTRATIONS = ("add_module", "register_module")
FILLING_METHODS = {"add_module": 2, "register_module": 2, "append": 1, "extend": 1, "update": 1}
# The other methods of Python's list and dict that change the container in place: after
# one, what a known list held at each index is known only for ``insert`` at a literal
# index, ``clear`` and ``reverse`` (``outs.insert(0, det)`` shifts every item by one).
CONTAINER_MUTATORS = frozenset({"insert", "pop", "remove", "reverse", "sort", "clear", "popitem", "setdefault"})
