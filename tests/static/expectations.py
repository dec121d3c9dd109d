"""Inline expectations in fixture files: ``# expect: XG101:28, XG109:5`` (1-based columns)."""

from __future__ import annotations

import re
from pathlib import Path

_MARKER = re.compile(r"#\s*expect:\s*(?P<items>XG\d+:\d+(?:\s*,\s*XG\d+:\d+)*)")

Expectation = tuple[str, int, int, str]  # (path, line, col 1-based, code)


def expectations(path: Path) -> set[Expectation]:
    found: set[Expectation] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _MARKER.search(line)
        if match is None:
            continue
        for item in match.group("items").split(","):
            code, col = item.strip().split(":")
            found.add((str(path), number, int(col), code))
    return found
