"""Jupyter notebooks as one program: code cells concatenated, IPython syntax blanked out.

nbformat is not a dependency: the JSON is read directly (nbformat 4, and the v3
``worksheets`` layout). Each line of the concatenated source maps back to
``(cell, line)``: the 1-based index among code cells and the 1-based line in that cell.

Jupyter runs each cell on its own, so each cell must parse on its own: one that does not
is left out (its lines blank) and reported, and the others are still one program.
"""

from __future__ import annotations

import ast
import json
import warnings
from dataclasses import dataclass
from typing import Any

from xentguard.cli.ipython_syntax import CellPython, cell_python
from xentguard.cli.sourcefile import split_lines


class NotebookError(ValueError):
    """The file is not a notebook we can read (broken JSON or structure)."""


@dataclass(frozen=True)
class BrokenCell:
    """A code cell that does not parse: where (in the cell) and why."""

    cell: int
    line: int
    col: int  # 0-based
    reason: str


@dataclass(frozen=True)
class NotebookSource:
    source: str
    # positions[i] = (cell, line in cell) for concatenated line i + 1
    positions: tuple[tuple[int, int], ...]
    # shifts[i]: columns the leading-indent rule removed from concatenated line i + 1
    shifts: tuple[int, ...] = ()
    broken: tuple[BrokenCell, ...] = ()

    def locate(self, line: int) -> tuple[int, int]:
        if 0 < line <= len(self.positions):
            return self.positions[line - 1]
        if self.positions:
            cell, last = self.positions[-1]
            return cell, last + (line - len(self.positions))
        return 1, line

    def column(self, line: int, col: int) -> int:
        """A column of the concatenated source as a column of the cell's own text."""
        return col + self.shifts[line - 1] if 0 < line <= len(self.shifts) else col


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


def _broken(number: int, cell: CellPython) -> BrokenCell | None:
    """Why the cell's Python does not parse on its own, or None when it does."""
    if not any(line.strip() for line in cell.lines):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings about escapes are not ours to report
            ast.parse("".join(line + "\n" for line in cell.lines))
    except SyntaxError as error:
        line = min(max(error.lineno or 1, 1), len(cell.lines))
        col = max((error.offset or 1) - 1, 0) + (cell.indent if cell.dedented[line - 1] else 0)
        return BrokenCell(number, line, col, error.msg)
    except (ValueError, MemoryError, RecursionError) as error:  # NUL bytes, absurd nesting
        return BrokenCell(number, 1, 0, str(error) or type(error).__name__)
    return None


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
    shifts: list[int] = []
    broken: list[BrokenCell] = []
    for index, cell in enumerate(_code_cells(data), start=1):
        # Split only where Python's tokenizer does, so line numbers agree with the parser's.
        raw = [line.rstrip("\r\n") for line in split_lines(_cell_text(cell))]
        python = cell_python(raw)
        problem = _broken(index, python)
        if problem is not None:
            broken.append(problem)
        for number, line in enumerate(python.lines, start=1):
            lines.append("" if problem is not None else line)
            positions.append((index, number))
            shifts.append(python.indent if python.dedented[number - 1] else 0)
    source = "".join(line + "\n" for line in lines)
    return NotebookSource(source, tuple(positions), tuple(shifts), tuple(broken))
