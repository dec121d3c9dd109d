"""What the static analysis reports: findings, their evidence chains, and certain fixes.

Positions follow flake8: ``line`` is 1-based, ``col`` is 0-based and counts characters
(not UTF-8 bytes as ``ast`` does). ``end_line``/``end_col`` close the span of the
expression that carries the wrong kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    """One link of the evidence chain, from the loss call back to the producer."""

    description: str  # e.g. "F.softmax" or "criterion (nn.CrossEntropyLoss)"
    path: str  # file the step is in
    line: int
    col: int

    def where(self, relative_to: str | None = None) -> str:
        """``line 12`` in the reporting file, ``models.py:21`` elsewhere."""
        if relative_to is not None and self.path == relative_to:
            return f"line {self.line}"
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class TextEdit:
    """Replace the characters from (line, col) to (end_line, end_col) with ``text``."""

    line: int
    col: int
    end_line: int
    end_col: int
    text: str


@dataclass(frozen=True)
class Fix:
    """A rewrite the analysis is certain of. Applied by ``xentguard check --fix``."""

    description: str
    edits: tuple[TextEdit, ...]
    # (module, name) pairs to import, e.g. ("torch.nn.functional", "log_softmax").
    add_imports: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Finding:
    code: str
    line: int
    col: int
    end_line: int
    end_col: int
    message: str  # starts with the code
    path: str = "<unknown>"
    evidence: tuple[Step, ...] = field(default=())
    fix: Fix | None = None

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.col, self.code)
