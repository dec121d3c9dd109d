"""The one rule catalogue shared by the static checker, the runtime guard, the CLI and the docs.

Each rule carries everything a user-facing surface needs: the message template used by
both halves, the four answers of a rule page (what, why, wrong example, right example),
whether it is on by default and how serious it is. Adding a rule touches this file and
its fixtures only: flake8, ``xentguard explain``, SARIF help text and the README table
are all generated from here.

Message templates are formatted with ``str.format`` and these fields:

``loss``    the loss as the user spelled it (``F.cross_entropy``, ``CrossEntropyLoss``)
``source``  where the wrong kind came from (``F.softmax at line 12``)
``where``   runtime only: the user's ``file:line`` that called the loss
``detail``  runtime only: the measured evidence (``rows sum to 1``)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"  # training is silently wrong
    WARNING = "warning"  # numerically fragile, or wrong in a way that may bite later
    NOTICE = "notice"  # harmless but wasted work


class Half(str, Enum):
    STATIC = "static"
    RUNTIME = "runtime"
    BOTH = "both"


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str  # one line: what it flags (README table, SARIF shortDescription)
    message: str  # static message template, starts with nothing: the code is prefixed
    why: str  # why it is wrong
    instead: str  # what to write instead
    wrong: str  # example that triggers the rule
    right: str  # the corrected example
    severity: Severity = Severity.ERROR
    default_enabled: bool = True
    half: Half = Half.BOTH
    fixable: bool = False

    def format(self, **fields: str) -> str:
        """The full message, code first, as every surface prints it."""
        return f"{self.code} {self.message.format(**fields)}"


_RULES: tuple[Rule, ...] = (
    Rule(
        code="XG101",
        name="probabilities-into-cross-entropy",
        summary="probabilities (softmax output) reach the input of CrossEntropyLoss / F.cross_entropy",
        message=(
            "{loss} applies log_softmax itself, but its input is probabilities from {source}; "
            "pass the raw logits"
        ),
        why=(
            "CrossEntropyLoss computes log_softmax(input). Softmax output squashed into [0, 1] "
            "gives log_softmax(softmax(x)): the loss cannot go below about log(C) - 1, its "
            "gradients shrink, and training stalls without any error."
        ),
        instead="Pass the logits; apply softmax only where probabilities are needed (metrics, inference).",
        wrong=(
            "import torch.nn.functional as F\n\n"
            "def step(model, x, y):\n"
            "    probs = F.softmax(model(x), dim=1)\n"
            "    return F.cross_entropy(probs, y)\n"
        ),
        right=(
            "import torch.nn.functional as F\n\n"
            "def step(model, x, y):\n"
            "    logits = model(x)\n"
            "    return F.cross_entropy(logits, y)\n"
        ),
        fixable=True,
    ),
    Rule(
        code="XG102",
        name="log-softmax-into-cross-entropy",
        summary="log_softmax output reaches CrossEntropyLoss, which applies log_softmax itself",
        message=(
            "{loss} applies log_softmax itself, but its input is already log-probabilities from "
            "{source}; pass the logits (or use nll_loss)"
        ),
        why=(
            "log_softmax is idempotent, so the loss value is right, but the model pays for a second "
            "log_softmax over the whole logits tensor, and readers are misled about what the model outputs."
        ),
        instead="Pass the logits to cross_entropy, or keep the log_softmax and use nll_loss.",
        wrong=(
            "import torch.nn.functional as F\n\n"
            "def step(logits, y):\n"
            "    return F.cross_entropy(F.log_softmax(logits, dim=1), y)\n"
        ),
        right=(
            "import torch.nn.functional as F\n\n"
            "def step(logits, y):\n"
            "    return F.cross_entropy(logits, y)\n"
        ),
        severity=Severity.NOTICE,
        fixable=True,
    ),
    Rule(
        code="XG103",
        name="probabilities-into-nll-loss",
        summary="probabilities reach the input of NLLLoss / F.nll_loss, which expects log-probabilities",
        message=(
            "{loss} expects log-probabilities, but its input is probabilities from {source}; "
            "use log_softmax instead of softmax"
        ),
        why=(
            "nll_loss just picks -input[target]. With probabilities the loss lives in [-1, 0], "
            "its gradient ignores how confident the model already is, and it trains badly."
        ),
        instead="Produce log-probabilities with log_softmax (or pass logits to cross_entropy).",
        wrong=(
            "import torch.nn.functional as F\n\n"
            "def step(logits, y):\n"
            "    return F.nll_loss(F.softmax(logits, dim=1), y)\n"
        ),
        right=(
            "import torch.nn.functional as F\n\n"
            "def step(logits, y):\n"
            "    return F.nll_loss(F.log_softmax(logits, dim=1), y)\n"
        ),
        fixable=True,
    ),
    Rule(
        code="XG104",
        name="logits-into-nll-loss",
        summary="provably raw logits (a Linear/head output with no log_softmax) reach NLLLoss / F.nll_loss",
        message=(
            "{loss} expects log-probabilities, but its input is raw logits from {source}; "
            "apply log_softmax first, or use cross_entropy"
        ),
        why=(
            "nll_loss just picks -input[target]. With raw logits the loss is unbounded below: the "
            "model lowers it by inflating one logit, and no probability is learned."
        ),
        instead="Use cross_entropy on the logits, or nll_loss(log_softmax(logits, dim=1), y).",
        wrong=(
            "import torch.nn as nn\nimport torch.nn.functional as F\n\n"
            "head = nn.Linear(128, 10)\n\n"
            "def step(x, y):\n"
            "    return F.nll_loss(head(x), y)\n"
        ),
        right=(
            "import torch.nn as nn\nimport torch.nn.functional as F\n\n"
            "head = nn.Linear(128, 10)\n\n"
            "def step(x, y):\n"
            "    return F.cross_entropy(head(x), y)\n"
        ),
    ),
    Rule(
        code="XG105",
        name="log-of-softmax",
        summary="log(softmax(x)) in any spelling: underflows to -inf, use log_softmax",
        message=(
            "log of probabilities from {source} underflows to -inf for confident predictions; "
            "use log_softmax"
        ),
        why=(
            "softmax rounds small probabilities to 0 in float32 (and much earlier in bf16/fp16); "
            "log(0) = -inf, and the loss or its gradient becomes inf/nan. log_softmax computes "
            "x - logsumexp(x) without ever forming the tiny probability."
        ),
        instead="F.log_softmax(x, dim=d), or x.log_softmax(d).",
        wrong=(
            "import torch\nimport torch.nn.functional as F\n\n"
            "def log_probs(logits):\n"
            "    return torch.log(F.softmax(logits, dim=-1))\n"
        ),
        right=(
            "import torch\nimport torch.nn.functional as F\n\n"
            "def log_probs(logits):\n"
            "    return F.log_softmax(logits, dim=-1)\n"
        ),
        fixable=True,
    ),
    Rule(
        code="XG106",
        name="sigmoid-into-bce-with-logits",
        summary="sigmoid output reaches BCEWithLogitsLoss / F.binary_cross_entropy_with_logits (double sigmoid)",
        message=(
            "{loss} applies sigmoid itself, but its input is sigmoid output from {source}; "
            "pass the raw logits"
        ),
        why=(
            "BCEWithLogitsLoss computes sigmoid(input). A second sigmoid maps every prediction into "
            "[0.5, 0.73]: the loss cannot reach its minimum and gradients vanish."
        ),
        instead="Pass the logits; keep torch.sigmoid for predictions and metrics.",
        wrong=(
            "import torch\nimport torch.nn.functional as F\n\n"
            "def step(logits, y):\n"
            "    return F.binary_cross_entropy_with_logits(torch.sigmoid(logits), y)\n"
        ),
        right=(
            "import torch.nn.functional as F\n\n"
            "def step(logits, y):\n"
            "    return F.binary_cross_entropy_with_logits(logits, y)\n"
        ),
        fixable=True,
    ),
    Rule(
        code="XG107",
        name="sigmoid-into-bce",
        summary="sigmoid output into BCELoss / F.binary_cross_entropy: prefer the with-logits loss",
        message=(
            "{loss} on sigmoid output from {source} loses precision for confident predictions; "
            "pass the logits to binary_cross_entropy_with_logits"
        ),
        why=(
            "BCELoss takes log(p) and log(1 - p); sigmoid saturates to exactly 0 or 1 and PyTorch "
            "clamps the log at -100, flattening the gradient. The with-logits loss fuses both steps "
            "with the log-sum-exp trick."
        ),
        instead="F.binary_cross_entropy_with_logits(logits, y), or nn.BCEWithLogitsLoss().",
        wrong=(
            "import torch\nimport torch.nn.functional as F\n\n"
            "def step(logits, y):\n"
            "    return F.binary_cross_entropy(torch.sigmoid(logits), y)\n"
        ),
        right=(
            "import torch.nn.functional as F\n\n"
            "def step(logits, y):\n"
            "    return F.binary_cross_entropy_with_logits(logits, y)\n"
        ),
        severity=Severity.WARNING,
        default_enabled=False,
    ),
    Rule(
        code="XG108",
        name="unstable-hand-written-softmax",
        summary="hand-rolled softmax or log-sum-exp without subtracting the max",
        message=(
            "hand-written {source} overflows for large inputs (exp(1000) = inf, inf/inf = nan); "
            "use torch.softmax / torch.logsumexp, or subtract the max first"
        ),
        why=(
            "exp overflows float32 above about 88 (bf16/fp16 far sooner). exp(x) / exp(x).sum() then "
            "yields inf/inf = nan, and log(sum(exp(x))) yields inf."
        ),
        instead="torch.softmax(x, dim) / torch.logsumexp(x, dim), or exp(x - x.amax(dim, keepdim=True)).",
        wrong=(
            "import torch\n\n"
            "def my_softmax(x):\n"
            "    return torch.exp(x) / torch.exp(x).sum(dim=-1, keepdim=True)\n"
        ),
        right=(
            "import torch\n\n"
            "def my_softmax(x):\n"
            "    z = x - x.amax(dim=-1, keepdim=True)\n"
            "    return torch.exp(z) / torch.exp(z).sum(dim=-1, keepdim=True)\n"
        ),
        severity=Severity.WARNING,
        half=Half.STATIC,
    ),
    Rule(
        code="XG109",
        name="softmax-without-dim",
        summary="softmax / log_softmax / nn.Softmax / nn.LogSoftmax without an explicit dim",
        message=(
            "{source} has no explicit dim: PyTorch guesses it from the number of dimensions "
            "(deprecated, and wrong for batched 1-D or 3-D inputs); pass dim="
        ),
        why=(
            "Without dim, PyTorch picks dim 0 for 0-, 1- and 3-D inputs and dim 1 otherwise, with a "
            "deprecation warning. A batch of sequences then normalises across the batch."
        ),
        instead="Always pass dim (usually dim=-1 for features, dim=1 for (N, C, ...) class scores).",
        wrong=(
            "import torch.nn as nn\n\n"
            "head = nn.Sequential(nn.Linear(16, 4), nn.Softmax())\n"
        ),
        right=(
            "import torch.nn as nn\n\n"
            "head = nn.Sequential(nn.Linear(16, 4), nn.Softmax(dim=1))\n"
        ),
        severity=Severity.WARNING,
        half=Half.STATIC,
    ),
    Rule(
        code="XG110",
        name="probabilities-into-kl-div",
        summary="probabilities reach the input of KLDivLoss / F.kl_div, which must be log-probabilities",
        message=(
            "{loss} expects its input as log-probabilities, but it is probabilities from {source}; "
            "use log_softmax for the input (the target may stay probabilities)"
        ),
        why=(
            "kl_div(input, target) computes target * (log(target) - input). With probabilities as "
            "input the result is not a divergence: it can be negative and its minimum is not at "
            "input = target."
        ),
        instead="F.kl_div(F.log_softmax(student, dim=1), F.softmax(teacher, dim=1), reduction='batchmean').",
        wrong=(
            "import torch.nn.functional as F\n\n"
            "def distill(student, teacher):\n"
            "    return F.kl_div(F.softmax(student, dim=1), F.softmax(teacher, dim=1), reduction='batchmean')\n"
        ),
        right=(
            "import torch.nn.functional as F\n\n"
            "def distill(student, teacher):\n"
            "    return F.kl_div(F.log_softmax(student, dim=1), F.softmax(teacher, dim=1), reduction='batchmean')\n"
        ),
        fixable=True,
    ),
    Rule(
        code="XG111",
        name="log-space-target",
        summary=(
            "the target of KLDivLoss / F.kl_div is log-probabilities while log_target is not True, "
            "or a cross_entropy soft target is in log space"
        ),
        message=(
            "{loss} target is log-probabilities from {source}, but {loss} reads its target as probabilities; "
            "pass probabilities (softmax, not log_softmax), or for kl_div keep them and set log_target=True"
        ),
        why=(
            "kl_div(input, target) computes target * (log(target) - input) unless log_target=True: with "
            "log-probabilities as target, log of a negative number is NaN, and the loss is NaN or meaningless. "
            "cross_entropy with soft targets computes -sum(target * log_softmax(input)): log-space targets "
            "are negative weights, so the loss rewards putting probability on the wrong classes."
        ),
        instead=(
            "F.kl_div(log_p, F.softmax(t, dim=1)) or F.kl_div(log_p, F.log_softmax(t, dim=1), log_target=True); "
            "for cross_entropy, soft targets that are probabilities (rows summing to 1)."
        ),
        wrong=(
            "import torch.nn.functional as F\n\n"
            "def distill(student, teacher):\n"
            "    return F.kl_div(F.log_softmax(student, dim=1), F.log_softmax(teacher, dim=1), reduction='batchmean')\n"
        ),
        right=(
            "import torch.nn.functional as F\n\n"
            "def distill(student, teacher):\n"
            "    return F.kl_div(F.log_softmax(student, dim=1), F.softmax(teacher, dim=1), reduction='batchmean')\n"
        ),
    ),
    Rule(
        code="XG112",
        name="log-of-sigmoid",
        summary="log(sigmoid(x)) in any spelling: underflows to -inf, use F.logsigmoid",
        message=(
            "log of sigmoid output from {source} underflows to -inf for large negative inputs; "
            "use F.logsigmoid(x) (and F.logsigmoid(-x) for log(1 - sigmoid(x)))"
        ),
        why=(
            "sigmoid(x) rounds to 0 in float32 below about x = -88 (much earlier in bf16/fp16), and "
            "log(0) = -inf; 1 - sigmoid(x) rounds to 0 for x above about 17. The loss or its gradient "
            "becomes inf/nan. F.logsigmoid computes -softplus(-x) without forming the tiny value."
        ),
        instead="F.logsigmoid(x); log(1 - sigmoid(x)) is F.logsigmoid(-x).",
        wrong=(
            "import torch\n\n"
            "def log_p(logits):\n"
            "    return torch.log(torch.sigmoid(logits))\n"
        ),
        right=(
            "import torch.nn.functional as F\n\n"
            "def log_p(logits):\n"
            "    return F.logsigmoid(logits)\n"
        ),
        severity=Severity.WARNING,
        half=Half.STATIC,
        fixable=True,
    ),
    Rule(
        code="XG201",
        name="non-finite-loss-input",
        summary="runtime: NaN or +inf in the loss input (a fully -inf row counts too)",
        message="{loss} input contains {detail}; find where it became non-finite (anomaly mode helps)",
        why=(
            "One NaN in the logits makes the loss and every gradient NaN; the optimizer then writes "
            "NaN into the weights and the run is lost. -inf is legal masking unless a whole row is -inf."
        ),
        instead="Fix the producer: clamp, mask with a large negative value instead of -inf, check the data.",
        wrong="loss = F.cross_entropy(torch.tensor([[float('nan'), 0.0]]), torch.tensor([0]))\n",
        right="loss = F.cross_entropy(torch.tensor([[1.0, 0.0]]), torch.tensor([0]))\n",
        half=Half.RUNTIME,
    ),
    Rule(
        code="XG202",
        name="invalid-target",
        summary="runtime: class index out of range, NaN targets, or soft targets that are not probabilities",
        message="{loss} target is invalid: {detail}",
        why=(
            "An out-of-range class index triggers a device-side assert on CUDA that kills the "
            "process; soft targets must be probabilities (never -inf; log-probabilities are XG111)."
        ),
        instead="Targets are class indices in [0, C) (or ignore_index), or rows of probabilities summing to 1.",
        wrong="loss = F.cross_entropy(torch.randn(2, 3), torch.tensor([0, 3]))\n",
        right="loss = F.cross_entropy(torch.randn(2, 3), torch.tensor([0, 2]))\n",
        half=Half.RUNTIME,
    ),
    Rule(
        code="XG203",
        name="non-finite-loss",
        summary="runtime: the loss value itself is NaN or inf",
        message="{loss} returned {detail}",
        why="A NaN/inf loss poisons every gradient and, after one optimizer step, the weights.",
        instead="Check inputs and targets (XG201/XG202), the learning rate, and mixed-precision scaling.",
        wrong="loss = F.nll_loss(torch.tensor([[float('-inf'), 0.0]]), torch.tensor([0]))\n",
        right="loss = F.nll_loss(torch.tensor([[-1.0, -0.5]]), torch.tensor([0]))\n",
        half=Half.RUNTIME,
    ),
    Rule(
        code="XG999",
        name="cannot-analyse",
        summary="the file could not be read or parsed, so it was not checked",
        message="{detail}",
        why="A file that cannot be parsed cannot be checked; the rest of the run goes on.",
        instead="Fix the syntax error or the encoding, or exclude the file.",
        wrong="def f(:\n",
        right="def f():\n    pass\n",
        half=Half.STATIC,
    ),
)

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}

# Codes flake8 must not report unless selected (flake8's extend-default-ignore).
DEFAULT_OFF: tuple[str, ...] = tuple(rule.code for rule in _RULES if not rule.default_enabled)


def rule(code: str) -> Rule:
    """The rule for ``code``; raises KeyError with the known codes when it does not exist."""
    try:
        return RULES[code]
    except KeyError:
        raise KeyError(f"unknown rule {code!r}; known: {', '.join(RULES)}") from None


def format_message(code: str, **fields: str) -> str:
    return RULES[code].format(**fields)


def readme_table() -> str:
    """The Markdown rule table the README must contain verbatim (a test keeps them equal)."""
    lines = ["| code | name | what it flags | default |", "|---|---|---|---|"]
    for r in _RULES:
        default = "on" if r.default_enabled else "off (select it)"
        lines.append(f"| {r.code} | {r.name} | {r.summary} | {default} |")
    return "\n".join(lines)
