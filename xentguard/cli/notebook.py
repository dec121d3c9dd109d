"""Jupyter notebooks as one program: code cells concatenated, IPython syntax blanked out.

nbformat is not a dependency: the JSON is read directly (nbformat 4, and the v3
``worksheets`` layout). Each line of the concatenated source maps back to
``(cell, line)``: the 1-based index among code cells and the 1-based line in that cell.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


class NotebookError(ValueError):
    """The file is not a notebook we can read (broken JSON or structure)."""


# Line magics, shell escapes, help (``obj?``, ``??obj``), and ``x = !cmd`` / ``x = %magic``.
_MAGIC_LINE = re.compile(r"^\s*(?:[%!]|\?)")
_HELP_LINE = re.compile(r"^\s*\?*[\w.]+\?{1,2}\s*$")
_ASSIGNED_MAGIC = re.compile(r"^\s*[\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*[%!]")


@dataclass(frozen=True)
class NotebookSource:
    source: str
    # positions[i] = (cell, line in cell) for concatenated line i + 1
    positions: tuple[tuple[int, int], ...]

    def locate(self, line: int) -> tuple[int, int]:
        if 0 < line <= len(self.positions):
            return self.positions[line - 1]
        if self.positions:
            cell, last = self.positions[-1]
            return cell, last + (line - len(self.positions))
        return 1, line


def _cell_text(cell: Any) -> str:
    source = cell.get("source", cell.get("input", ""))
    if isinstance(source, list):
        if not all(isinstance(part, str) for part in source):
            raise NotebookError("a cell's source is not a list of strings")
        return "".join(source)
    if isinstance(source, str):
        return source
    raise NotebookError("a cell's source is neither a string nor a list of strings")


def _code_cells(data: Any) -> list[Any]:
    if not isinstance(data, dict):
        raise NotebookError("the top level is not a JSON object")
    if "cells" in data:
        cells = data["cells"]
    elif "worksheets" in data and isinstance(data["worksheets"], list):
        cells = [c for ws in data["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", [])]
    else:
        raise NotebookError("no 'cells' list (not an nbformat 4 notebook)")
    if not isinstance(cells, list):
        raise NotebookError("'cells' is not a list")
    out = []
    for cell in cells:
        if not isinstance(cell, dict):
            raise NotebookError("a cell is not a JSON object")
        if cell.get("cell_type") == "code":
            out.append(cell)
    return out


def is_python_notebook(data: Any) -> bool:
    meta = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        return True
    for key, field in (("language_info", "name"), ("kernelspec", "language")):
        section = meta.get(key)
        if isinstance(section, dict) and isinstance(section.get(field), str):
            return section[field].lower().startswith("python")
    return True


def _blank_ipython(line: str) -> str:
    """The line with IPython-only syntax replaced by something Python accepts."""
    if _MAGIC_LINE.match(line) or _HELP_LINE.match(line) or _ASSIGNED_MAGIC.match(line):
        indent = line[: len(line) - len(line.lstrip())]
        # An indented magic stands in a block: keep the block non-empty.
        return f"{indent}pass" if indent else ""
    return line


def parse_notebook(text: str) -> NotebookSource | None:
    """The concatenated Python of the notebook's code cells; None if not a Python notebook."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not is_python_notebook(data):
        return None
    lines: list[str] = []
    positions: list[tuple[int, int]] = []
    for index, cell in enumerate(_code_cells(data), start=1):
        cell_lines = _cell_text(cell).splitlines()
        cell_magic = bool(cell_lines) and cell_lines[0].lstrip().startswith("%%")
        continued = False
        for number, line in enumerate(cell_lines, start=1):
            if cell_magic:
                new = ""
            elif continued:
                new = ""  # continuation of a magic line ending in a backslash
            else:
                new = _blank_ipython(line)
            continued = not cell_magic and new != line and line.rstrip().endswith("\\")
            lines.append(new)
            positions.append((index, number))
    source = "".join(line + "\n" for line in lines)
    return NotebookSource(source, tuple(positions))
