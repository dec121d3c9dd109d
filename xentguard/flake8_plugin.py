"""flake8 adapter: hands flake8's ast to the static analysis and yields its findings.

No analysis lives here. flake8 has already parsed the file, so a file that never
mentions an activation or a loss costs one regular-expression search.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from typing import Any

from xentguard import __version__
from xentguard.catalogue import DEFAULT_OFF
from xentguard.static.api import analyze_source


class XentGuardChecker:
    name = "xentguard"
    version = __version__

    def __init__(self, tree: ast.Module, filename: str, lines: Sequence[str]) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, option_manager: Any) -> None:
        # XG107 is advice, not a bug: off unless a user selects it (flake8 --select / extend-select).
        option_manager.extend_default_ignore(list(DEFAULT_OFF))

    def run(self) -> Iterator[tuple[int, int, str, type[XentGuardChecker]]]:
        source = "".join(self.lines)
        for finding in analyze_source(source, self.filename, tree=self.tree):
            if finding.code == "XG999":
                continue  # flake8 reports unparsable files itself (E999)
            yield finding.line, finding.col, finding.message, type(self)
