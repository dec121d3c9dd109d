"""The textual pre-filter: a file none of whose rules can fire is never parsed or walked."""

from __future__ import annotations

import re

# Every rule needs one of these words in the code: an activation, a loss, or exp
# (a hand-written softmax). A file without them can still matter through its imports
# (see Project.imports_relevant_module).
_TRIGGERS = re.compile(
    r"softmax|Softmax|sigmoid|Sigmoid|expit|cross_entropy|CrossEntropy|nll_loss|NLLLoss|kl_div|KLDiv|BCE|"
    r"binary_cross_entropy|exp\("
)
# A loss rule needs a loss somewhere: in the file, or in a project module it imports or
# that imports it. Activations alone in other files cannot make a finding here.
_LOSSES = re.compile(r"cross_entropy|CrossEntropy|nll_loss|NLLLoss|kl_div|KLDiv|BCE|binary_cross_entropy")
IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import|import[ \t]+([\w.]+))", re.MULTILINE)


def might_have_findings(source: str) -> bool:
    return _TRIGGERS.search(source) is not None


def mentions_loss(source: str) -> bool:
    return _LOSSES.search(source) is not None


def loss_mention_offsets(source: str) -> list[int]:
    return [match.start() for match in _LOSSES.finditer(source)]


# A function worth walking with unknown arguments mentions one of these (activation, loss,
# exp/log, or a name that usually holds a loss object).
FUNCTION_TRIGGERS = re.compile(_TRIGGERS.pattern + r"|loss|Loss|criterion|crit\b|\blog\(|\.log\(")
