"""Which codes are reported: ``--select`` / ``--ignore`` prefixes and per-file ignores.

Resolution follows flake8 and ruff: among the explicit select and ignore prefixes that
match a code, the longest wins (a tie goes to ignore). A code no explicit prefix matches
is reported by default unless the catalogue marks it off by default (XG107), or an
explicit ``select`` was given and does not cover it. XG999 (file could not be read or
parsed) is always reported unless explicitly ignored.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from xentguard.catalogue import RULES

ALWAYS_ON = "XG999"


class SelectionError(ValueError):
    """An unknown code or prefix in select/ignore (a usage error, exit 2)."""


def validate_prefixes(prefixes: Iterable[str], where: str) -> tuple[str, ...]:
    """Normalise and check that every prefix matches at least one catalogue code."""
    out: list[str] = []
    for raw in prefixes:
        prefix = raw.strip().upper()
        if not prefix:
            continue
        if not any(code.startswith(prefix) for code in RULES):
            raise SelectionError(
                f"unknown rule code or prefix {raw.strip()!r} in {where} (known codes: {', '.join(RULES)})"
            )
        out.append(prefix)
    return tuple(out)


def _longest(code: str, prefixes: Sequence[str]) -> str | None:
    best: str | None = None
    for prefix in prefixes:
        if code.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


@dataclass(frozen=True)
class Selection:
    """The resolved choice for one file (picklable: it travels to worker processes)."""

    select: tuple[str, ...] | None = None  # None: nothing explicit, use the defaults
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    _cache: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def with_ignores(self, extra: Sequence[str]) -> Selection:
        if not extra:
            return self
        return Selection(self.select, self.extend_select, (*self.ignore, *extra))

    def is_selected(self, code: str) -> bool:
        cached = self._cache.get(code)
        if cached is None:
            cached = self._decide(code)
            self._cache[code] = cached
        return cached

    def _decide(self, code: str) -> bool:
        explicit = (*(self.select or ()), *self.extend_select)
        sel = _longest(code, explicit)
        ign = _longest(code, self.ignore)
        if sel is not None and ign is not None:
            return len(sel) > len(ign)
        if ign is not None:
            return False
        rule = RULES.get(code)
        if code == ALWAYS_ON:
            return True
        if rule is not None and not rule.default_enabled:
            # Off by default: only a prefix as specific as the code itself turns it on.
            return sel is not None and len(sel) >= len(code)
        if sel is not None:
            return True
        return self.select is None


@dataclass(frozen=True)
class PerFileIgnores:
    """``{glob: codes}`` from the config, matched against the path relative to the config."""

    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def codes_for(self, relpath: str) -> tuple[str, ...]:
        base = relpath.rsplit("/", 1)[-1]
        out: list[str] = []
        for pattern, codes in self.entries:
            if fnmatch.fnmatchcase(relpath, pattern) or fnmatch.fnmatchcase(base, pattern):
                out.extend(codes)
        return tuple(out)
