"""What a checked file reports back to the main process (plain, picklable data)."""

from __future__ import annotations

from dataclasses import dataclass, field

from xentguard.catalogue import RULES, format_message


@dataclass(frozen=True)
class Where:
    """A position as reported: notebooks add ``cell`` and count ``line`` within it."""

    path: str
    line: int
    col: int  # 0-based characters
    cell: int | None = None


@dataclass(frozen=True)
class Record:
    """One reported finding."""

    code: str
    message: str  # starts with the code
    start: Where
    end_line: int
    end_col: int
    end_cell: int | None = None
    evidence: tuple[tuple[str, Where], ...] = ()  # (description, position), loss first
    fixable: bool = False

    @property
    def severity(self) -> str:
        rule = RULES.get(self.code)
        return rule.severity.value if rule is not None else "error"

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.start.path, self.start.cell or 0, self.start.line, self.start.col, self.code)


def file_error(path: str, detail: str) -> Record:
    """An XG999 record for a file that could not be read or parsed."""
    return Record("XG999", format_message("XG999", detail=detail), Where(path, 1, 0), 1, 0)


@dataclass
class FileResult:
    """Everything one file contributes to the run."""

    path: str
    records: list[Record] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one-line messages for stderr
    diff: str = ""
    fixed: int = 0  # findings fixed (written with --fix, or shown with --diff)
