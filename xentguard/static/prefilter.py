"""The textual pre-filter: a file none of whose rules can fire is never parsed or walked.

Every finding needs a value that only the torch names in :mod:`torch_api`'s tables (or a
library trainer of its ``TRAINERS``) create: an activation, a loss, exp/log, a Linear
layer. The words are generated from those tables, so a name added there is never missed
here; a file that spells none of them can still matter through the project modules it
imports (see ``Project.imports_relevant_module``), never through its own identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from xentguard.static import torch_api as api


def leaf_names(*tables: Iterable[str]) -> frozenset[str]:
    """The last component of every qualified name of the tables (``softmax``, ``NLLLoss``)."""
    return frozenset(qualname.rsplit(".", 1)[-1] for table in tables for qualname in table)


def _is_word_character(character: str) -> bool:
    """What ``\\w`` matches in a str pattern: a Unicode letter or digit, or ``_``."""
    return character.isalnum() or character == "_"


class WordSet:
    """Whether a text spells one of ``words`` as a whole word: what the regular
    expression ``\\b(?:w1|w2|...)\\b`` finds, by ``str.find``.

    Python's ``re`` tries every alternative at every position: over the benchmark
    corpus's texts the trigger expression took 0.54 s a pass, and each worker makes
    about one pass (the importers' and the imported modules' facts). Here only the
    *anchors* are searched, the words that contain no other word of the set (an
    occurrence of ``log_softmax`` contains one of ``softmax``); each occurrence is grown
    to the whole word around it, which must be one of the set.
    """

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(words)
        self.anchors = tuple(sorted(w for w in self.words if not any(o != w and o in w for o in self.words)))

    def search(self, text: str) -> bool:
        words, size = self.words, len(text)
        for anchor in self.anchors:
            at = text.find(anchor)
            while at != -1:
                start, end = at, at + len(anchor)
                while start and _is_word_character(text[start - 1]):
                    start -= 1
                while end < size and _is_word_character(text[end]):
                    end += 1
                if text[start:end] in words:
                    return True
                at = text.find(anchor, end)  # the next word: this one held no other
        return False


# What can make a finding in a file: an activation, a loss, exp (a hand-written softmax), a
# library trainer. Linear layers only make logits, and a log alone finds nothing: both need
# one of these too.
TRIGGER_WORDS = leaf_names(api.ACTIVATIONS, api.PRODUCER_METHODS, api.LOSS_FUNCTIONS, api.LOSS_CLASSES,
                           api.EXP_FUNCTIONS, api.TRAINER_PACKAGES)
# A file that spells none of the triggers matters only through a loss it imports. Every loss
# word is a trigger too (text_facts looks for a loss only where a trigger is spelled).
LOSS_WORDS = leaf_names(api.LOSS_FUNCTIONS, api.LOSS_CLASSES, api.TRAINER_PACKAGES)
_TRIGGERS = WordSet(TRIGGER_WORDS)
_LOSSES = WordSet(LOSS_WORDS)


def might_have_findings(source: str) -> bool:
    return _TRIGGERS.search(source)


def mentions_loss(source: str) -> bool:
    return _LOSSES.search(source)


# Whole import statements, parenthesised names included.
_IMPORT_STATEMENT = re.compile(
    r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]*(?:\([^)]*\)|[^\n]*)|import[ \t]+([^\n]*))", re.MULTILINE)


def import_statement_matches(source: str) -> list[re.Match[str]]:
    """Every import statement's match, in order. The first line of each spells
    ``import``, so only the lines where ``str.find`` sees it are tried (a scan of every
    line start was most of the cost of reading a project's imports)."""
    found: list[re.Match[str]] = []
    end = 0  # where the last statement ended: nothing inside it starts another
    at = source.find("import")
    while at != -1:
        start = source.rfind("\n", 0, at) + 1
        if start >= end:
            match = _IMPORT_STATEMENT.match(source, start)
            if match is not None:
                found.append(match)
                end = match.end()
        newline = source.find("\n", at)
        if newline == -1:
            break
        at = source.find("import", max(newline, end))
    return found


def import_statement_texts(source: str) -> list[str]:
    """The text of every import statement, each one parseable alone once stripped."""
    return [match.group(0) for match in import_statement_matches(source)]


def import_statements(source: str) -> list[tuple[str, str, int]]:
    """(statement text, module, level) of every import statement; ``import a, b`` gives
    one entry per module."""
    return statements_of(import_statement_matches(source))


def statements_of(matches: list[re.Match[str]]) -> list[tuple[str, str, int]]:
    """What :func:`import_statements` says of the statements ``matches`` found."""
    found: list[tuple[str, str, int]] = []
    for match in matches:
        if match.group(1) is not None:
            spec = match.group(1)
            found.append((match.group(0), spec.lstrip("."), len(spec) - len(spec.lstrip("."))))
        else:
            for part in match.group(2).split("#")[0].split(","):
                words = part.split()
                if words:
                    found.append((part, words[0], 0))
    return found
