"""Which physical lines start a logical line, fed one line at a time, the way Python's tokenizer decides.

A line continues the previous one when that one ended inside brackets, inside a string
(triple-quoted, or single-quoted with a backslash before the newline), inside an f-string
replacement field, or with a backslash continuation. IPython recognises ``%magic``,
``!cmd`` and ``obj?`` only at the start of a logical line, so a notebook cell has to be
read with this state in hand: ``'%s: %d' \\`` followed by ``%(name, value)`` is Python.

A small state machine instead of ``tokenize``: the lines handed over may be IPython syntax
that tokenize chokes on (a shell escape's lone quote ends tokenize for the whole cell on
3.12+), and tokenize's f-string handling differs across the Pythons we support. Nested
f-strings follow PEP 701 (3.12), a superset of what earlier Pythons accept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

_PREFIXES = frozenset({"r", "u", "b", "f", "t", "br", "rb", "fr", "rf", "tr", "rt"})
# In code, only these characters change the state; the rest is skipped in one regex step.
_CODE_STOP = re.compile(r"[#'\"()\[\]{}\\=:]")
# An '=' is an assignment unless it is part of ==, !=, <=, >=, :=, +=, //= ...
_NOT_PLAIN_BEFORE = frozenset("=!<>:+-*/%&|^@")


@dataclass
class _String:
    quote: str  # ', ", ''' or """
    raw: bool
    fmt: bool  # f-string (or t-string): braces open replacement fields
    stop: re.Pattern[str]

    @property
    def triple(self) -> bool:
        return len(self.quote) == 3


@dataclass
class _Field:
    """Code inside an f-string's ``{...}``: ends at a ``}`` outside brackets."""

    depth: int = 0


@dataclass
class _Spec:
    """A replacement field's format spec (after ``:``): literal text, nested ``{...}``, ends at ``}``."""

    owner: _String


_Frame = Union[_String, _Field, _Spec]  # Union: a runtime alias, and 3.9 has no '|' for types


def _string_stop(quote: str, fmt: bool) -> re.Pattern[str]:
    return re.compile(r"\\|" + re.escape(quote) + (r"|[{}]" if fmt else ""))


@dataclass(frozen=True)
class LineFacts:
    """What :meth:`LogicalLines.feed` saw on one physical line."""

    comment: bool  # the line ends in a comment
    assign: int | None  # column of the logical line's first plain '=' outside brackets, if on this line


class LogicalLines:
    """Feed physical lines (without their line ending) in order; ``at_start`` says whether
    the next line begins a new logical line."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the current logical line (after IPython syntax the state is meaningless)."""
        self._stack: list[_Frame] = []
        self._depth = 0  # open brackets outside any string
        self._continued = False  # backslash continuation
        self._assigned = False  # the logical line already had its first plain '='

    @property
    def at_start(self) -> bool:
        return not self._stack and self._depth == 0 and not self._continued

    def feed(self, line: str) -> LineFacts:
        self._continued = False
        comment, assign = False, None
        i, n = 0, len(line)
        while i < n:
            top = self._stack[-1] if self._stack else None
            if isinstance(top, _String):
                i = self._in_string(line, i, top)
                continue
            if isinstance(top, _Spec):
                i = self._in_spec(line, i, top)
                continue
            match = _CODE_STOP.search(line, i)
            if match is None:
                break
            i = match.start()
            c = line[i]
            if c == "#":
                comment = True
                break
            if c in "'\"":
                i = self._open_string(line, i)
                continue
            if c in "([{":
                self._add_depth(top, 1)
            elif c == "}" and isinstance(top, _Field) and top.depth == 0:
                self._stack.pop()  # end of the replacement field: back in the f-string
            elif c in ")]}":
                self._add_depth(top, -1)
            elif c == ":" and isinstance(top, _Field) and top.depth == 0:
                outer = self._stack[-2]  # the f-string, or the spec this field is nested in
                owner = outer.owner if isinstance(outer, _Spec) else outer
                assert isinstance(owner, _String)
                self._stack[-1] = _Spec(owner)
            elif c == "\\" and i == n - 1:
                self._continued = True
            elif c == "=" and top is None and self._depth == 0 and not self._assigned and _plain_equals(line, i):
                self._assigned = True
                assign = i
            i += 1
        self._end_of_line(line)
        if self.at_start:
            self._assigned = False
        return LineFacts(comment, assign)

    def _add_depth(self, top: _Frame | None, delta: int) -> None:
        if isinstance(top, _Field):
            top.depth = max(0, top.depth + delta)
        else:
            self._depth = max(0, self._depth + delta)  # an unmatched closer is the parser's to report

    def _open_string(self, line: str, i: int) -> int:
        start = i
        while start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_"):
            start -= 1
        prefix = line[start:i].lower()
        if prefix not in _PREFIXES:
            prefix = ""  # a name right before a quote: not a prefix (and not valid Python)
        quote = line[i] * 3 if line.startswith(line[i] * 3, i) else line[i]
        fmt = "f" in prefix or "t" in prefix
        self._stack.append(_String(quote, "r" in prefix, fmt, _string_stop(quote, fmt)))
        return i + len(quote)

    def _in_string(self, line: str, i: int, string: _String) -> int:
        while True:
            match = string.stop.search(line, i)
            if match is None:
                return len(line)
            i = match.start()
            c = line[i]
            if c == "\\":
                i = _after_escape(line, i, string)
                continue
            if c == "{":
                if line.startswith("{{", i):
                    i += 2
                    continue
                self._stack.append(_Field())
                return i + 1
            if c == "}":
                i += 2 if line.startswith("}}", i) else 1
                continue
            self._stack.pop()  # the closing quote
            return i + len(string.quote)

    def _in_spec(self, line: str, i: int, spec: _Spec) -> int:
        while i < len(line):
            c = line[i]
            if c == "{":
                self._stack.append(_Field())
                return i + 1
            if c == "}":
                self._stack.pop()  # ends the spec and its replacement field
                return i + 1
            if line.startswith(spec.owner.quote, i):  # broken: the string ends inside the spec
                self._stack.pop()
                self._stack.pop()
                return i + len(spec.owner.quote)
            i += 1
        return i

    def _end_of_line(self, line: str) -> None:
        # A single-quoted string (or a spec in one) ends at the newline unless a backslash
        # escapes it; without one it is unterminated, which the parser reports. A replacement
        # field may span lines (PEP 701), a triple-quoted string always does.
        escaped = _ends_in_odd_backslashes(line)
        while self._stack:
            top = self._stack[-1]
            owner = top.owner if isinstance(top, _Spec) else top
            if not isinstance(owner, _String) or owner.triple:
                return
            if escaped and top is owner:
                return
            self._stack.pop()
            escaped = False


def _after_escape(line: str, i: int, string: _String) -> int:
    """Past the backslash at ``i``: it escapes a quote, a backslash or the newline (raw
    strings too), never an f-string brace; ``\\N{NAME}`` is one escape outside raw strings."""
    following = line[i + 1 : i + 2]
    if string.fmt and following in ("{", "}"):
        return i + 1
    if string.fmt and not string.raw and following == "N" and line.startswith("{", i + 2):
        end = line.find("}", i + 3)
        return len(line) if end < 0 else end + 1
    return i + 2


def _plain_equals(line: str, i: int) -> bool:
    before = line[i - 1] if i > 0 else ""
    return before not in _NOT_PLAIN_BEFORE and not line.startswith("=", i + 1)


def _ends_in_odd_backslashes(line: str) -> bool:
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1
