"""``# noqa`` comments, honoured exactly as flake8 honours them.

flake8 searches the regex below in the "noqa line" of a finding: the physical line, or,
when the line is part of a token that spans several lines (a multi-line string, a
backslash continuation), all the physical lines from the start of that logical chunk to
the next NL/NEWLINE token joined together. A bare ``# noqa`` silences every code; a code
list silences a code that equals or starts with one of the listed items.
"""

from __future__ import annotations

import io
import re
import tokenize

# Same pattern as flake8.defaults.NOQA_INLINE_REGEXP.
NOQA_INLINE = re.compile(
    r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[,\s]")


def noqa_lines(source: str) -> dict[int, str]:
    """Map line number -> the text flake8 searches for ``# noqa`` on that line."""
    lines = source.splitlines(keepends=True)
    mapping: dict[int, str] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return {}
    lo, hi = len(lines) + 2, -1
    for tok in tokens:
        if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT):
            continue
        lo = min(lo, tok.start[0])
        hi = max(hi, tok.end[0])
        if tok.type in (tokenize.NL, tokenize.NEWLINE):
            joined = "".join(lines[lo - 1 : hi])
            for number in range(lo, hi + 1):
                mapping[number] = joined
            lo, hi = len(lines) + 2, -1
    return mapping


class NoqaIndex:
    """Answers "is this code silenced on this line?" for one source text."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._any = "noqa" in source.lower()
        self._physical: list[str] | None = None
        self._mapping: dict[int, str] | None = None

    def _line(self, line: int) -> str:
        if self._mapping is None:
            self._mapping = noqa_lines(self._source)
            self._physical = self._source.splitlines()
        text = self._mapping.get(line)
        if text is None:
            physical = self._physical or []
            text = physical[line - 1] if 0 < line <= len(physical) else ""
        return text

    def suppresses(self, line: int, code: str) -> bool:
        if not self._any:
            return False
        match = NOQA_INLINE.search(self._line(line))
        if match is None:
            return False
        codes_str = match.group("codes")
        if codes_str is None:
            return True
        codes = tuple(item.strip() for item in _SEPARATORS.split(codes_str) if item.strip())
        return code in codes or code.startswith(codes)
