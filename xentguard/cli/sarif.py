"""SARIF 2.1.0 for GitHub code scanning: rules from the catalogue, results with locations."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from xentguard import __version__
from xentguard.catalogue import RULES, Rule
from xentguard.cli.records import Record, Where

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/xentguard/xentguard"
LEVELS = {"error": "error", "warning": "warning", "notice": "note"}


def _help_markdown(rule: Rule) -> str:
    return (
        f"**{rule.code} {rule.name}**: {rule.summary}\n\n"
        f"**Why:** {rule.why}\n\n**Instead:** {rule.instead}\n\n"
        f"Wrong:\n\n```python\n{rule.wrong}```\n\nRight:\n\n```python\n{rule.right}```\n"
    )


def _help_text(rule: Rule) -> str:
    return (
        f"{rule.summary}\n\nWhy: {rule.why}\n\nInstead: {rule.instead}\n\n"
        f"Wrong:\n{rule.wrong}\nRight:\n{rule.right}"
    )


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.summary}. {rule.why}"},
        "help": {"text": _help_text(rule), "markdown": _help_markdown(rule)},
        "defaultConfiguration": {"level": LEVELS[rule.severity.value], "enabled": rule.default_enabled},
        "properties": {"tags": ["correctness", "pytorch"], "fixable": rule.fixable},
    }


def artifact_location(path: str) -> dict[str, Any]:
    """A URI relative to the working directory (``%SRCROOT%``), or a file URI outside it."""
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute)
    except ValueError:
        rel = ".."
    if rel.startswith(".."):
        return {"uri": pathlib.Path(absolute).as_uri()}
    return {"uri": quote(rel.replace(os.sep, "/")), "uriBaseId": "%SRCROOT%"}


def _region(where: Where, end_line: int | None = None, end_col: int | None = None) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(where.line, 1), "startColumn": where.col + 1}
    if end_line is not None and end_col is not None and (end_line, end_col) > (where.line, where.col):
        region["endLine"] = end_line
        region["endColumn"] = end_col + 1
    if where.cell is not None:
        region["properties"] = {"cell": where.cell}
    return region


def _location(where: Where, message: str | None = None, index: int | None = None) -> dict[str, Any]:
    loc: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": artifact_location(where.path), "region": _region(where)}
    }
    if index is not None:
        loc["id"] = index
    if message is not None:
        loc["message"] = {"text": message}
    return loc


def result(record: Record, rule_index: dict[str, int]) -> dict[str, Any]:
    same_cell = record.end_cell == record.start.cell
    region = _region(record.start, record.end_line if same_cell else None, record.end_col)
    out: dict[str, Any] = {
        "ruleId": record.code,
        "level": LEVELS.get(record.severity, "error"),
        "message": {"text": record.message},
        "locations": [
            {"physicalLocation": {"artifactLocation": artifact_location(record.start.path), "region": region}}
        ],
    }
    if record.code in rule_index:
        out["ruleIndex"] = rule_index[record.code]
    if record.evidence:
        out["relatedLocations"] = [
            _location(where, description, i) for i, (description, where) in enumerate(record.evidence)
        ]
        flow = [{"location": _location(where, description)} for description, where in record.evidence]
        out["codeFlows"] = [{"threadFlows": [{"locations": flow}]}]
    return out


def sarif_log(records: Sequence[Record]) -> dict[str, Any]:
    rules = list(RULES.values())
    rule_index = {r.code: i for i, r in enumerate(rules)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "xentguard",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [rule_descriptor(r) for r in rules],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": pathlib.Path(os.getcwd()).as_uri() + "/"}},
                "results": [result(r, rule_index) for r in records],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def format_sarif(records: Sequence[Record]) -> str:
    return json.dumps(sarif_log(records), indent=2) + "\n"
