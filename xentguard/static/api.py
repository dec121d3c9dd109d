"""Entry point of the static analysis, shared by the flake8 plugin and the CLI."""

from __future__ import annotations

import ast
import os
import re
import warnings

from xentguard.catalogue import RULES
from xentguard.static.analyzer import Analyzer
from xentguard.static.checks import Checks
from xentguard.static.findings import Finding
from xentguard.static.source import SourceFile

# A file none of whose rules can fire is never walked. Every rule needs one of these
# words in the code: an activation, a loss, or exp (hand-written softmax).
_PREFILTER = re.compile(
    r"softmax|Softmax|sigmoid|Sigmoid|expit|cross_entropy|CrossEntropy|nll_loss|NLLLoss|kl_div|KLDiv|BCE|"
    r"binary_cross_entropy|exp\("
)


def might_have_findings(source: str) -> bool:
    return _PREFILTER.search(source) is not None


def analyze_source(
    source: str,
    path: str,
    *,
    tree: ast.Module | None = None,
    project_root: str | None = None,
) -> list[Finding]:
    """Every finding in ``source`` (all codes, unfiltered), sorted by position.

    Never raises on user input: a file that cannot be parsed gives one XG999 finding.
    ``tree`` lets flake8 hand over the ast it already parsed. ``project_root`` names the
    directory whose modules imports resolve to; by default the nearest parent with
    pyproject.toml, setup.cfg, setup.py or .git.
    """
    if tree is None and not might_have_findings(source):
        return []
    if tree is None:
        parsed = parse(source, path)
        if isinstance(parsed, Finding):
            return [parsed]
        tree = parsed
    elif not might_have_findings(source):
        return []
    file = SourceFile(path, source, tree)
    checks = Checks({path})
    try:
        Analyzer(checks).run_module(file)
    except RecursionError:
        # Pathologically nested code: report what was found before giving up.
        pass
    except Exception as error:  # never crash the user's lint run
        if os.environ.get("XENTGUARD_DEBUG"):
            raise
        warnings.warn(f"xentguard: internal error analysing {path}: {error!r}", RuntimeWarning, stacklevel=2)
    return sorted(checks.findings, key=Finding.sort_key)


def parse(source: str, path: str) -> ast.Module | Finding:
    """The ast of ``source``, or an XG999 finding saying why it cannot be parsed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings about escapes are not ours to report
            return ast.parse(source, filename=path)
    except SyntaxError as error:
        line = error.lineno or 1
        col = max((error.offset or 1) - 1, 0)
        detail = f"cannot parse {path}: {error.msg} (line {line}, column {col + 1})"
    except (ValueError, MemoryError, RecursionError) as error:
        line, col = 1, 0
        detail = f"cannot parse {path}: {error}"
    return Finding("XG999", line, col, line, col, RULES["XG999"].format(detail=detail), path)
