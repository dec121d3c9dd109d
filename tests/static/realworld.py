"""Running the fixtures reduced from real code (``fixtures/realworld``): one case is a
file, or a folder that is a project of its own (imports resolve inside it)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import FIXTURES
from tests.static.expectations import Expectation, expectations
from xentguard.catalogue import DEFAULT_OFF
from xentguard.static import analyze_source
from xentguard.static.project import forget_projects

REALWORLD = FIXTURES / "realworld"


def cases(kind: str) -> list[Path]:
    """Every case of ``bugs`` or ``correct``, files and folders, in name order."""
    folder = REALWORLD / kind
    return sorted(p for p in folder.iterdir() if (p.is_dir() and any(p.rglob("*.py"))) or p.suffix == ".py")


def case_files(case: Path) -> list[Path]:
    return sorted(case.rglob("*.py")) if case.is_dir() else [case]


def expected(case: Path) -> set[Expectation]:
    base = case if case.is_dir() else case.parent
    return {(os.path.relpath(path, base), line, col, code)
            for file in case_files(case) for path, line, col, code in
            ((Path(p), ln, c, cd) for p, ln, c, cd in expectations(file))}


def found(case: Path, root: Path | None = None) -> set[Expectation]:
    """What the analysis reports on the case (default selection), as expectations.
    ``root``: where the case's files are (a renamed copy), else the case itself."""
    base = root if root is not None else (case if case.is_dir() else case.parent)
    forget_projects()
    reported: set[Expectation] = set()
    files = sorted(base.rglob("*.py")) if case.is_dir() else [base / case.name]
    for path in files:
        source = path.read_text(encoding="utf-8")
        if case.is_dir():
            findings = analyze_source(source, str(path), project_root=str(base))
        else:
            findings = analyze_source(source, str(path), isolated=True)
        reported.update((os.path.relpath(path, base), f.line, f.col + 1, f.code) for f in findings
                        if f.code not in DEFAULT_OFF)
    forget_projects()
    return reported
