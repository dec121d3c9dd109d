"""What the text of one project module tells without parsing it, each fact computed once.

Deciding which files to walk reads the project's texts: whether one spells a trigger or
a loss (:mod:`prefilter`), what it imports, which attributes it assigns, which names its
classes derive from. Every one of those questions was a scan of the whole text, and some
were asked once per (importer, receiver) pair with a pattern compiled for the name: a
tenth of the analysis' time on the benchmark corpus. Here each is one scan per text,
answered from sets afterwards.
"""

from __future__ import annotations

import re
from functools import cached_property, lru_cache

from xentguard.static.prefilter import (
    WordSet,
    import_statement_matches,
    mentions_loss,
    might_have_findings,
    statements_of,
)

_WORD = re.compile(r"\w+")
_LOG_OR_EXP = re.compile(r"\b(?:log|exp)\(")
# ``.criterion = ...`` (not ``==``): an attribute a module's code stores, on anything.
_ASSIGNED_ATTRIBUTE = re.compile(r"\.(\w+)\s*=(?!=)")
# A store by a computed name: ``setattr(...)``, ``__dict__``, ``vars(...)``.
_DYNAMIC_STORE = re.compile(r"\bsetattr\s*\(|__dict__|\bvars\s*\(")
# The base list of a class statement: ``class Net(Base, nn.Module):``.
_CLASS_BASES = re.compile(r"^[ \t]*class[ \t]+\w+[ \t]*\(([^)]*)", re.MULTILINE)


@lru_cache(maxsize=256)
def attribute_pattern(attr: str) -> re.Pattern[str]:
    """``.attr`` as an attribute (spaces allowed after the dot), not a longer name."""
    return re.compile(rf"\.\s*{re.escape(attr)}\b")


class TextFacts:
    """The facts of one text. Computed on first use and kept with the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._spelled: dict[str, bool] = {}

    @cached_property
    def triggers(self) -> bool:
        """It spells a name that can make a finding (see prefilter.might_have_findings)."""
        return might_have_findings(self.text)

    @cached_property
    def losses(self) -> bool:
        """It spells a loss or a library trainer (see prefilter.mentions_loss). Loss words
        are triggers: a text without a trigger needs no second scan."""
        return self.triggers and mentions_loss(self.text)

    @cached_property
    def consumes(self) -> bool:
        """It spells a loss, or calls a log or an exp."""
        text = self.text
        return self.losses or (("log(" in text or "exp(" in text) and _LOG_OR_EXP.search(text) is not None)

    def spells(self, word: str) -> bool:
        """Whether ``word`` occurs in the text as a whole word (``\\bword\\b``: comments and
        strings included). Asked for a few names per text: a search each is far cheaper
        than the set of all its words (most of the time of the importers' text facts)."""
        known = self._spelled.get(word)
        if known is None:
            known = self._spelled[word] = WordSet((word,)).search(self.text)
        return known

    @cached_property
    def _import_matches(self) -> list[re.Match[str]]:
        return import_statement_matches(self.text)

    @cached_property
    def statements(self) -> list[tuple[str, str, int]]:
        """(statement, module, level) of each import statement (prefilter.import_statements)."""
        return statements_of(self._import_matches)

    @cached_property
    def imported_words(self) -> frozenset[str]:
        """Every identifier on the text's import statements (module parts and names)."""
        return frozenset(word for match in self._import_matches for word in _WORD.findall(match.group(0)))

    @cached_property
    def assigned_attributes(self) -> frozenset[str]:
        """The attribute names the text stores to (``x.criterion = ...``)."""
        return frozenset(_ASSIGNED_ATTRIBUTE.findall(self.text))

    def mentions_attribute(self, attr: str) -> bool:
        """Whether the text reads or stores ``attr`` on anything (``x.attr``, ``x . attr``):
        no store of it by name can be elsewhere (see flags.store_receivers)."""
        return attr in self.text and attribute_pattern(attr).search(self.text) is not None

    @cached_property
    def stores_dynamically(self) -> bool:
        """It may store attributes by a computed name."""
        text = self.text
        return ("setattr" in text or "__dict__" in text or "vars" in text) and _DYNAMIC_STORE.search(text) is not None

    @cached_property
    def _base_lists(self) -> list[str]:
        """The base list of every class statement, as written."""
        return _CLASS_BASES.findall(self.text)

    @cached_property
    def base_words(self) -> frozenset[str]:
        """The words of every class statement's base list (``class N(pkg.Base)``: pkg, Base)."""
        return frozenset(word for bases in self._base_lists for word in _WORD.findall(bases))

    @cached_property
    def shared_base_words(self) -> frozenset[str]:
        """The words of the base lists that name more than one thing (``class N(Mixin,
        Base)``, ``class N(Base, metaclass=M)``): where a class's methods may come from
        another base first."""
        return frozenset(word for bases in self._base_lists if "," in bases for word in _WORD.findall(bases))


__all__ = ["TextFacts", "attribute_pattern"]
