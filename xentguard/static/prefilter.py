"""The textual pre-filter: a file none of whose rules can fire is never parsed or walked.

Every finding needs a value that only the torch names in :mod:`torch_api`'s tables (or a
library trainer of its ``TRAINERS``) create: an activation, a loss, exp/log, a Linear
layer. The words are generated from those tables, so a name added there is never missed
here; a file that spells none of them can still matter through the project modules it
imports (see ``Project.imports_relevant_module``), never through its own identifiers.
"""

from __future__ import annotations

import re

from xentguard.static import torch_api as api


def _leaf_names() -> list[str]:
    tables: list[object] = [
        api.PRODUCER_FUNCTIONS, api.PRODUCER_METHODS, api.PRODUCER_LAYERS, api.LOSS_FUNCTIONS, api.LOSS_CLASSES,
        api.EXP_FUNCTIONS, api.TRAINERS,
    ]
    names = {str(qualname).rsplit(".", 1)[-1] for table in tables for qualname in table}  # type: ignore[attr-defined]
    # A log alone finds nothing: log of softmax needs the softmax, log-sum-exp the exp.
    return sorted(names, key=lambda n: (-len(n), n))


_TRIGGERS = re.compile(r"\b(?:" + "|".join(map(re.escape, _leaf_names())) + r")\b")
# Import statements, the first line of each (``import a, b`` and ``from a import (b, c``).
IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import|import[ \t]+([\w.]+(?:[ \t]*,[ \t]*[\w.]+)*))",
                         re.MULTILINE)


def might_have_findings(source: str) -> bool:
    return _TRIGGERS.search(source) is not None


def imported_modules(source: str) -> list[tuple[str, int]]:
    """(module, level) of every import statement, by text: ``import a, b`` gives both."""
    found: list[tuple[str, int]] = []
    for match in IMPORT_LINE.finditer(source):
        if match.group(2):
            found.extend((part.strip(), 0) for part in match.group(2).split(","))
        else:
            spec = match.group(1) or ""
            found.append((spec.lstrip("."), len(spec) - len(spec.lstrip("."))))
    return found
