"""Checking one file: read, decode, analyse, filter (selection + noqa), map, fix."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from xentguard.catalogue import format_message
from xentguard.cli.noqa import NoqaIndex
from xentguard.cli.notebook import BrokenCell, NotebookError, NotebookSource, parse_notebook
from xentguard.cli.records import FileResult, Record, Where, file_error
from xentguard.cli.selection import Selection
from xentguard.cli.sourcefile import (
    BinaryFile,
    SourceError,
    decode_notebook,
    decode_python,
    read_bytes,
)
from xentguard.static import api
from xentguard.static.findings import Finding

CHECK, FIX, DIFF = "check", "fix", "diff"
_LINE_REF = re.compile(r"\bline (\d+)\b")


@dataclass(frozen=True)
class Job:
    path: str
    project_root: str | None
    selection: Selection
    mode: str = CHECK


def analyze(source: str, path: str, project_root: str | None, notes: list[str]) -> list[Finding]:
    # Looked up at call time so tests and embedders can substitute the analysis.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        findings = api.analyze_source(source, path, project_root=project_root, report_syntax_errors=True)
    for warning in caught:  # e.g. the analysis' own "internal error" warning: one line, no source echo
        text = f"{path}: {str(warning.message).removeprefix('xentguard: ')}"
        if text not in notes:
            notes.append(text)
    return findings


def _filter(findings: list[Finding], source: str, selection: Selection) -> list[Finding]:
    if not findings:
        return findings  # most files: no noqa index to build
    noqa = NoqaIndex(source)
    return [
        f for f in findings if selection.is_selected(f.code) and not noqa.suppresses(f.line, f.code)
    ]


def _to_record(finding: Finding, path: str, nb: NotebookSource | None) -> Record:
    def where(p: str, line: int, col: int) -> Where:
        if nb is not None and p == path:
            cell, in_cell = nb.locate(line)
            return Where(p, in_cell, nb.column(line, col), cell)
        return Where(p, line, col)

    start = where(path, finding.line, finding.col)
    end = where(path, finding.end_line, finding.end_col)
    evidence = tuple((s.description, where(s.path, s.line, s.col)) for s in finding.evidence)
    message = finding.message
    if nb is not None:  # "from F.softmax at line 12" names a line of the concatenated cells
        message = _LINE_REF.sub(lambda m: "cell {}, line {}".format(*nb.locate(int(m.group(1)))), message)
    return Record(
        finding.code, message, start, end.line, end.col, end.cell, evidence, finding.fix is not None
    )


def job_path(job: Job) -> str:
    return job.path


def walked_files() -> list[str]:
    """Files this process walked whole since the last call (see cli.parallel)."""
    return api.walked_files()


def may_hand_back(job: Job) -> bool:
    """Whether a worker may give the job up once it has started (see cli.parallel): a
    check reports nothing before it ends; a fix may have written the file already."""
    return job.mode == CHECK


def listen_to_walks(listener: Callable[[list[str]], None]) -> None:
    """Have ``listener`` told the files this process is about to walk (see cli.parallel)."""
    api.listen_to_importer_walks(listener)


def check_job(job: Job) -> FileResult:
    """Never raises: any failure becomes one XG999 record or note naming the file."""
    try:
        return _check(job)
    except Exception as exc:  # a bug in xentguard must not end the run
        result = FileResult(job.path)
        result.records.append(file_error(job.path, f"internal error: {type(exc).__name__}: {exc}"))
        return result


def _check(job: Job) -> FileResult:
    result = FileResult(job.path)
    try:
        data = read_bytes(job.path)
        if job.path.endswith(".ipynb"):
            return _check_notebook(job, decode_notebook(data), result)
        decoded = decode_python(data)
    except BinaryFile as exc:
        result.notes.append(f"{job.path}: {exc}")
        return result
    except SourceError as exc:
        result.records.append(file_error(job.path, str(exc)))
        return result

    def run(text: str) -> list[Finding]:
        return _filter(analyze(text, job.path, job.project_root, result.notes), text, job.selection)

    source = decoded.text
    if job.mode in (FIX, DIFF):
        source = _fix(job, decoded.text, decoded.encoding, run, result)
    result.records.extend(_to_record(f, job.path, None) for f in run(source))
    return result


def _fix(
    job: Job, original: str, encoding: str, run: Callable[[str], list[Finding]], result: FileResult
) -> str:
    from xentguard import fixer  # libcst takes a second to import: only when fixing

    outcome = fixer.fix_source(original, run)
    if outcome.error:
        result.notes.append(f"{job.path}: not fixed: {outcome.error}")
    if not outcome.changed:
        return original
    if job.mode == DIFF:
        result.diff = fixer.unified_diff(job.path, original, outcome.source)
        result.fixed = len(outcome.fixed)
        return original
    try:
        fixer.write_atomic(job.path, outcome.source, encoding)
    except (OSError, UnicodeError) as exc:
        result.notes.append(f"{job.path}: not fixed: cannot write the file: {exc}")
        return original
    result.fixed = len(outcome.fixed)
    return outcome.source


def _check_notebook(job: Job, text: str, result: FileResult) -> FileResult:
    try:
        nb = parse_notebook(text)
    except NotebookError as exc:
        result.records.append(file_error(job.path, f"cannot read notebook: {exc}"))
        return result
    if nb is None:
        result.notes.append(f"{job.path}: skipped: not a Python notebook")
        return result
    if job.selection.is_selected("XG999"):
        result.records.extend(_broken_cell_record(job.path, broken) for broken in nb.broken)
    findings = _filter(analyze(nb.source, job.path, job.project_root, result.notes), nb.source, job.selection)
    result.records.extend(_to_record(f, job.path, nb) for f in findings)
    if job.mode in (FIX, DIFF) and any(f.fix is not None for f in findings):
        result.notes.append(f"{job.path}: fixes in notebooks are not applied")
    return result


def _broken_cell_record(path: str, broken: BrokenCell) -> Record:
    detail = (
        f"cannot parse cell {broken.cell} of {path}: {broken.reason} (line {broken.line}, column {broken.col + 1});"
        " the other cells were checked without it"
    )
    where = Where(path, broken.line, broken.col, broken.cell)
    return Record("XG999", format_message("XG999", detail=detail), where, broken.line, broken.col, broken.cell)
