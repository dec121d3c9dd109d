"""Apply the analysis' certain fixes to a file: text edits, imports via libcst, atomic write.

The analysis decides what to rewrite (``Finding.fix``: text edits in 1-based line /
0-based character positions, end exclusive, plus imports to add). This module applies
the non-overlapping ones right to left, adds the imports with libcst, re-runs the
analysis for a few passes while fixable findings remain, and checks that the result
still parses. If anything goes wrong the original text is kept and the reason returned.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import libcst

from xentguard.cli.sourcefile import newline_of, split_lines
from xentguard.static.findings import Finding, Fix, TextEdit

MAX_PASSES = 5


class FixError(ValueError):
    """A fix could not be applied safely; the file is left untouched."""


@dataclass
class FixOutcome:
    source: str  # the fixed text (the original when nothing applied or on error)
    fixed: list[Finding] = field(default_factory=list)  # findings whose fix was applied
    error: str | None = None  # why fixing stopped early, if it did

    @property
    def changed(self) -> bool:
        return bool(self.fixed)


class _Offsets:
    def __init__(self, source: str) -> None:
        self.starts = [0]
        for line in split_lines(source):
            self.starts.append(self.starts[-1] + len(line))
        self.size = len(source)

    def offset(self, line: int, col: int) -> int:
        if line < 1 or line > len(self.starts) or col < 0:
            raise FixError(f"edit position {line}:{col} is outside the file")
        if line == len(self.starts):  # one past the last line: only column 0 exists
            if col:
                raise FixError(f"edit position {line}:{col} is outside the file")
            return self.size
        start = self.starts[line - 1]
        end = self.starts[line] if line < len(self.starts) else self.size
        if start + col > end:
            raise FixError(f"edit position {line}:{col} is past the end of the line")
        return start + col


def _spans(fix: Fix, offsets: _Offsets) -> list[tuple[int, int, str]]:
    spans = []
    for edit in fix.edits:
        start = offsets.offset(edit.line, edit.col)
        end = offsets.offset(edit.end_line, edit.end_col)
        if end < start:
            raise FixError(f"edit ends before it starts at {edit.line}:{edit.col}")
        spans.append((start, end, edit.text))
    spans.sort()
    for (_, end, _), (start, _, _) in zip(spans, spans[1:]):
        if start < end:
            raise FixError("a fix's own edits overlap")
    return spans


def _overlaps(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    # Two insertions at one point, or a span touching another's inside, conflict.
    if a[0] == a[1] == b[0] == b[1]:
        return True
    return a[0] < b[1] and b[0] < a[1]


def apply_fixes(source: str, findings: Sequence[Finding]) -> tuple[str, list[Finding]]:
    """Apply the fixes of ``findings`` that do not overlap an earlier one; imports included."""
    offsets = _Offsets(source)
    newline = newline_of(source)
    accepted: list[tuple[int, int, str]] = []
    fixes_done: list[Fix] = []
    applied: list[Finding] = []
    imports: list[tuple[str, str]] = []
    for finding in findings:
        fix = finding.fix
        if fix is None:
            continue
        if fix in fixes_done:  # the same rewrite serves several findings
            applied.append(finding)
            continue
        try:
            spans = _spans(fix, offsets)
        except FixError:
            continue
        if any(_overlaps(s, a) for s in spans for a in accepted):
            continue
        accepted.extend(spans)
        fixes_done.append(fix)
        applied.append(finding)
        imports.extend(i for i in fix.add_imports if i not in imports)
    text = source
    for start, end, replacement in sorted(accepted, reverse=True):
        if newline != "\n":
            replacement = replacement.replace("\r\n", "\n").replace("\n", newline)
        text = text[:start] + replacement + text[end:]
    if imports:
        text = add_imports(text, imports)
    return text, applied


def add_imports(source: str, imports: Sequence[tuple[str, str]]) -> str:
    """Add ``from module import name`` (``name`` may be ``"x as y"``; ``""`` means ``import module``)."""
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import AddImportsVisitor

    try:
        module = libcst.parse_module(source)
    except libcst.ParserSyntaxError as exc:
        raise FixError(f"cannot add imports, the edited code does not parse: {exc.message}") from None
    context = CodemodContext()
    for mod, name in imports:
        if not name:
            AddImportsVisitor.add_needed_import(context, mod)
            continue
        obj, _, alias = name.partition(" as ")
        AddImportsVisitor.add_needed_import(context, mod, obj.strip(), alias.strip() or None)
    return AddImportsVisitor(context).transform_module(module).code


def check_parses(source: str) -> None:
    try:
        libcst.parse_module(source)
    except libcst.ParserSyntaxError as exc:
        raise FixError(f"the fixed code would not parse ({exc.message}); file left unchanged") from None
    try:
        compile(source, "<fixed>", "exec", dont_inherit=True, flags=0x400)  # ast.PyCF_ONLY_AST
    except (SyntaxError, ValueError) as exc:
        raise FixError(f"the fixed code would not parse ({exc}); file left unchanged") from None


def fix_source(source: str, analyze: Callable[[str], list[Finding]], passes: int = MAX_PASSES) -> FixOutcome:
    """Fix ``source`` until no fixable finding remains (or ``passes`` run out)."""
    outcome = FixOutcome(source)
    current = source
    for _ in range(passes):
        fixable = [f for f in analyze(current) if f.fix is not None]
        if not fixable:
            break
        try:
            new, applied = apply_fixes(current, fixable)
            if not applied or new == current:
                break
            check_parses(new)
        except FixError as exc:
            outcome.error = str(exc)
            break
        except Exception as exc:  # libcst internals: keep the last good text
            outcome.error = f"fix failed ({type(exc).__name__}: {exc}); file left unchanged"
            break
        current = new
        outcome.fixed.extend(applied)
    if outcome.error is not None:
        # All or nothing: a file is either fully fixed as far as possible, or untouched.
        return FixOutcome(source, [], outcome.error)
    outcome.source = current
    return outcome


def unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        split_lines(before), split_lines(after), fromfile=f"a/{path}", tofile=f"b/{path}"
    )
    out = []
    for line in lines:
        out.append(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def write_atomic(path: str, text: str, encoding: str) -> None:
    """Replace ``path`` with ``text`` through a temporary file in the same directory."""
    data = text.encode(encoding)
    directory = os.path.dirname(os.path.abspath(path))
    mode = stat.S_IMODE(os.stat(path).st_mode)
    fd, tmp = tempfile.mkstemp(prefix=".xentguard-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


__all__ = ["FixError", "FixOutcome", "TextEdit", "apply_fixes", "fix_source", "unified_diff", "write_atomic"]
