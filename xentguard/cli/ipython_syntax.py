"""A code cell's IPython-only syntax blanked out, line for line, as IPython itself recognises it.

Facts taken from IPython's ``IPython.core.inputtransformer2`` (the cell transformer of
IPython 7+), reimplemented here, not imported:

* a cell whose first line starts with ``%%`` is a cell magic: not Python at all
  (``%%name?`` is help on the magic, and the rest of the cell is Python);
* if the first line (here: of code) is indented, that indentation is removed from every
  line having it;
* at the start of a *logical* line only: ``%magic``, ``!cmd``, ``!!cmd``, ``?obj``,
  ``??obj`` and the autocall escapes ``/f a``, ``,f a b``, ``;f a b``; the escape's line
  and its backslash continuations are IPython's;
* ``x = %magic ...`` and ``x = !cmd`` (the logical line's first ``=`` outside brackets);
* a logical line ending in ``name?`` or ``name??`` (``np.sum?``, ``torch.*Tensor?``) is a
  help request, the whole logical line.

Blanked lines keep their number: an indented one becomes ``pass`` (the block it stands in
stays non-empty), the right-hand side of an assignment becomes ``None`` (the name is still
bound, to something of no known kind), the rest become empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xentguard.cli.logical_lines import LogicalLines

_ESCAPES = frozenset("%!?/,;")
_CELL_MAGIC_HELP = re.compile(r"%%\w+\?\??\s*$")
# IPython's help target: names and attributes, '*' as a wildcard, optionally a magic.
_HELP_END = re.compile(r"%{0,2}[A-Za-z_*][\w*]*(?:\.[A-Za-z_*][\w*]*)*\?\??$")
_ASSIGNED_ESCAPE = re.compile(r"\s*(?:!|%[A-Za-z_])")


@dataclass(frozen=True)
class CellPython:
    lines: tuple[str, ...]  # as many as the cell has
    indent: int  # columns removed from the start of each line by the leading-indent rule
    dedented: tuple[bool, ...]  # which lines lost ``indent`` columns


def cell_python(lines: list[str]) -> CellPython:
    """The cell's lines (without line endings) with IPython syntax blanked out."""
    if lines and lines[0].lstrip().startswith("%%"):
        if not _CELL_MAGIC_HELP.match(lines[0].lstrip()):
            return CellPython(tuple("" for _ in lines), 0, tuple(False for _ in lines))
        lines = ["", *lines[1:]]
    lines, indent, dedented = _leading_indent(lines)
    return CellPython(tuple(_blank(lines)), indent, dedented)


def _leading_indent(lines: list[str]) -> tuple[list[str], int, tuple[bool, ...]]:
    # IPython looks at the first line; the first line of code is what it means (blank lines
    # and comments before it may be indented any way without the cell being indented).
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    prefix = first[: len(first) - len(first.lstrip(" \t"))]
    if not prefix:
        return lines, 0, tuple(False for _ in lines)
    dedented = tuple(line.startswith(prefix) for line in lines)
    return [line[len(prefix) :] if cut else line for line, cut in zip(lines, dedented)], len(prefix), dedented


def _blank(lines: list[str]) -> list[str]:
    out: list[str] = []
    pending: list[str] = []  # the physical lines of the logical line being read
    scanner = LogicalLines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if scanner.at_start and line.lstrip()[:1] in _ESCAPES:
            end = _continued_to(lines, i)
            out.append(_placeholder(line))
            out.extend("" for _ in range(i + 1, end + 1))
            i = end + 1
            continue
        facts = scanner.feed(line)
        pending.append(line)
        if facts.assign is not None and _ASSIGNED_ESCAPE.match(line, facts.assign + 1):
            end = _continued_to(lines, i)
            pending[-1] = line[: facts.assign + 1] + " None"
            out.extend(pending)
            out.extend("" for _ in range(i + 1, end + 1))
            pending = []
            scanner.reset()  # what followed the '=' was not Python
            i = end + 1
            continue
        if scanner.at_start:
            if not facts.comment and _HELP_END.search(line.rstrip()):
                out.append(_placeholder(pending[0]))
                out.extend("" for _ in pending[1:])
            else:
                out.extend(pending)
            pending = []
        i += 1
    out.extend(pending)  # the cell ends inside brackets or a string: the parser says so
    return out


def _continued_to(lines: list[str], i: int) -> int:
    """The last line of the backslash-continued run starting at ``i``."""
    while lines[i].endswith("\\") and i + 1 < len(lines):
        i += 1
    return i


def _placeholder(line: str) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    return f"{indent}pass" if indent else ""
