"""How findings read under a cell: ``XG101 line 4: ...``, cells named as the user sees them.

The static messages name other files ``path:line``; a cell's path is ``<cell [N]>``, which
reads better as ``cell [N], line L`` (the ``In [N]`` the notebook shows; ``xentguard check``
words positions in notebooks the same way, with the code cell's index).
"""

from __future__ import annotations

import re

from xentguard.static.findings import Finding

_CELL_PATH = re.compile(r"<cell \[(\d+)\](?: #\d+)?>")
_CELL_POSITION = re.compile(r"<cell \[(\d+)\](?: #\d+)?>:(\d+)")
_SAME_FILE_LINE = re.compile(r"\bat line (\d+)")


def cell_label(path: str) -> str:
    """``<cell [7]>`` -> ``cell [7]`` (any other path unchanged)."""
    return _CELL_PATH.sub(r"cell [\1]", path)


def describe(finding: Finding, current: str) -> str:
    """One line, code first, the line in the cell, then the message with its evidence.

    ``current`` is the path of the cell being run: its lines are ``line N``; a finding in
    an earlier cell (a function of cell 3 misusing what cell 7 passes in) names its cell.
    """
    body = finding.message[len(finding.code):].lstrip() if finding.message.startswith(finding.code) else (
        finding.message)
    if finding.path != current:
        # "line N" in a message means the finding's own file: here that is another cell.
        body = _SAME_FILE_LINE.sub(f"at {cell_label(finding.path)}, line \\1", body)
    body = _CELL_POSITION.sub(r"cell [\1], line \2", body)
    where = f"line {finding.line}" if finding.path == current else f"{cell_label(finding.path)}, line {finding.line}"
    return f"{finding.code} {where}: {body}"


def runtime_site(number: int, line: int) -> str:
    """Where a runtime finding happened, as :func:`describe` names cells."""
    return f"cell [{number}], line {line}"
