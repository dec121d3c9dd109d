"""Report formats: text (flake8/ruff style), JSON, and statistics. SARIF lives in sarif.py."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from xentguard.catalogue import RULES
from xentguard.cli.records import Record, Where


def where_text(where: Where) -> str:
    """``path:line:col`` with a 1-based column; notebooks: ``nb.ipynb:cell 3:line:col``."""
    cell = f"cell {where.cell}:" if where.cell is not None else ""
    return f"{where.path}:{cell}{where.line}:{where.col + 1}"


def format_text(records: Sequence[Record], show_evidence: bool = False) -> str:
    out = []
    for record in records:
        out.append(f"{where_text(record.start)}: {record.message}\n")
        if show_evidence:
            for description, where in record.evidence:
                out.append(f"    {where_text(where)}: {description}\n")
    return "".join(out)


def _where_json(where: Where) -> dict[str, Any]:
    return {"path": where.path, "cell": where.cell, "line": where.line, "col": where.col + 1}


def record_json(record: Record) -> dict[str, Any]:
    rule = RULES.get(record.code)
    return {
        "path": record.start.path,
        "cell": record.start.cell,
        "line": record.start.line,
        "col": record.start.col + 1,
        "end_cell": record.end_cell,
        "end_line": record.end_line,
        "end_col": record.end_col + 1,
        "code": record.code,
        "name": rule.name if rule else None,
        "severity": record.severity,
        "message": record.message,
        "fixable": record.fixable,
        "evidence": [{"description": d, **_where_json(w)} for d, w in record.evidence],
    }


def format_json(records: Sequence[Record]) -> str:
    return json.dumps([record_json(r) for r in records], indent=2) + "\n"


def format_statistics(records: Sequence[Record]) -> str:
    counts = Counter(r.code for r in records)
    lines = []
    for code, count in sorted(counts.items()):
        rule = RULES.get(code)
        lines.append(f"{count:<5} {code} {rule.name if rule else ''}".rstrip() + "\n")
    return "".join(lines)
