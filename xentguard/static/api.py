"""Entry point of the static analysis, shared by the flake8 plugin and the CLI."""

from __future__ import annotations

import ast
import os
import warnings

from xentguard.catalogue import RULES
from xentguard.static.findings import Finding
from xentguard.static.heap import freeze_long_lived, parse_long_lived
from xentguard.static.project import Project, listen_to_importer_walks, project_for, walked_files

__all__ = ["analyze_source", "listen_to_importer_walks", "parse", "walked_files"]


def analyze_source(
    source: str,
    path: str,
    *,
    tree: ast.Module | None = None,
    project_root: str | None = None,
    report_syntax_errors: bool = False,
    isolated: bool = False,
) -> list[Finding]:
    """Every finding in ``source`` (all codes, unfiltered), sorted by position.

    Never raises on user input: a file that cannot be parsed gives one XG999 finding
    (always with ``report_syntax_errors``, else only when it would have been analysed).
    ``tree`` lets flake8 hand over the ast it already parsed. ``project_root`` names the
    directory whose modules imports resolve to; by default the nearest parent with
    pyproject.toml, setup.cfg, setup.py or .git. Modules of the project are read from
    disk, once per process. ``isolated`` analyses the file alone (no imports followed).
    """
    try:
        project = Project(os.path.dirname(os.path.abspath(path)), follow_imports=False) if isolated else (
            project_for(path, project_root))
        relevant = project.text_facts(path, source).triggers or project.imports_relevant_module(path, source)
        # A function or class here may get a loss or a model from a project file importing
        # this one: what that file passes in matters.
        may_receive = not relevant and _may_receive_from_importers(project, path) and bool(
            project.relevant_importers(os.path.abspath(path)))
        if tree is None and (relevant or may_receive):
            tree = project.known_tree(path, source)  # walked already as some file's import
        if tree is None and (relevant or may_receive or report_syntax_errors):
            parsed = parse(source, path, long_lived=not isolated)
            if isinstance(parsed, Finding):
                return [parsed]
            tree = parsed
        if may_receive and tree is not None:
            relevant = bool(project.receiving_importers(os.path.abspath(path), tree))
        if not relevant or tree is None:
            return []
        findings = project.check(path, source, tree)
        if not isolated:
            freeze_long_lived()  # the shared project lives on: see static/heap.py
        return findings
    except RecursionError:
        return []  # pathologically nested code: no claim rather than a crash
    except Exception as error:  # never crash the user's lint run
        if os.environ.get("XENTGUARD_DEBUG"):
            raise
        warnings.warn(f"xentguard: internal error analysing {path}: {error!r}", RuntimeWarning, stacklevel=2)
        return []


def _may_receive_from_importers(project: Project, path: str) -> bool:
    return project.follow_imports and os.path.isfile(path)


def parse(source: str, path: str, *, long_lived: bool = False) -> ast.Module | Finding:
    """The ast of ``source``, or an XG999 finding saying why it cannot be parsed.
    ``long_lived``: kept by the per-process project (see static/heap.py)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings about escapes are not ours to report
            return parse_long_lived(source, path, freeze=long_lived)
    except SyntaxError as error:
        line = error.lineno or 1
        col = max((error.offset or 1) - 1, 0)
        detail = f"cannot parse {path}: {error.msg} (line {line}, column {col + 1})"
    except (ValueError, MemoryError, RecursionError) as error:
        line, col = 1, 0
        detail = f"cannot parse {path}: {error}"
    return Finding("XG999", line, col, line, col, RULES["XG999"].format(detail=detail), path)



