"""The static check of a notebook session, one cell at a time.

The kernel runs every cell into the same globals, so the analysis walks every cell into
the same module :class:`Scope`, with the same :class:`Analyzer` and :class:`Checks`: a
cell is walked once, when it runs, and later cells see what it bound (a class defined
again replaces the earlier one, as in the kernel). Each cell is its own
:class:`SourceFile`, with the path ``<cell [N]>``, so positions and evidence name it.

Nothing here imports IPython: the extension hands over the cell as IPython transformed it
(magics, ``!`` escapes and ``?`` help already turned into calls), and a ``transform``
callable for the bodies of Python cell magics (``%%time``).
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from xentguard.cli.noqa import NoqaIndex
from xentguard.cli.selection import Selection
from xentguard.static.analyzer import Analyzer
from xentguard.static.checks import Checks
from xentguard.static.findings import Finding
from xentguard.static.kinds import Binding
from xentguard.static.scopes import Scope
from xentguard.static.source import SourceFile
from xentguard.static.walk import walk

# Cell magics whose body is Python run in the user's namespace: analysed as the cell.
# (%%timeit runs its body in a function of its own, its bindings never reach the globals.)
PYTHON_CELL_MAGICS = frozenset({"time", "capture"})

Transform = Callable[[str], str]


@dataclass(frozen=True)
class CellReport:
    path: str  # the cell's path, "<cell [N]>"
    findings: tuple[Finding, ...]  # not reported before; this cell's first, then earlier cells'


class Session:
    """``selection``: which codes are reported (by default those on by default, as for
    ``xentguard check``); ``# noqa`` in a cell silences a finding on its line, as in files."""

    def __init__(self, selection: Selection | None = None) -> None:
        self.selection = selection if selection is not None else Selection()
        self.checks = Checks(report_paths=None)
        self.analyzer = Analyzer(self.checks)
        self.scope = Scope()
        self.cells_checked = 0
        self._reported: set[tuple[str, str, int, int]] = set()
        self._shown = 0
        self._noqa: dict[str, NoqaIndex] = {}  # by cell path
        # Cells defining functions: a later call can find something inside them (a loss
        # passed to ``train`` in cell 7 is misused in cell 3's body). Only those are asked.
        self._defining: list[str] = []

    @property
    def findings_reported(self) -> int:
        return self._shown

    def check(self, number: int, source: str, transform: Transform | None = None) -> CellReport | None:
        """Walk one cell (the transformed source the kernel will execute) into the session.

        None when the cell does not parse: IPython reports the syntax error itself. Other
        errors of the analysis propagate: the extension words them in one line.
        """
        tree = _parse(source)
        if tree is None:
            return None
        tree, source = _cell_magic_body(tree, source, transform)
        path = self._new_path(number)
        self._noqa[path] = NoqaIndex(source)
        file = SourceFile(path, source, tree)
        self._forget_call_results()
        self.cells_checked += 1
        try:
            self.analyzer.run_module(file, self.scope)
            self.analyzer.drain(path)
        except RecursionError:
            return CellReport(path, ())  # pathologically nested code: no claim rather than a crash
        if _defines_functions(tree):
            self._defining.append(path)
        return CellReport(path, tuple(self._new_findings(path)))

    def snapshot(self) -> dict[str, Binding]:
        """The module bindings now, to :meth:`restore` if the cell is not run after all."""
        return dict(self.scope.bindings)

    def restore(self, bindings: dict[str, Binding]) -> None:
        self.scope.bindings = bindings

    # ----------------------------------------------------------------- internals
    def _new_path(self, number: int) -> str:
        # A cell run without storing history shares the next cell's number: keep paths apart.
        path, again = f"<cell [{number}]>", 1
        while path in self._noqa:
            again += 1
            path = f"<cell [{number}] #{again}>"
        return path

    def _new_findings(self, path: str) -> Iterable[Finding]:
        for where in (path, *(p for p in reversed(self._defining) if p != path)):
            for finding in sorted(self.checks.findings_for(where), key=Finding.sort_key):
                key = (finding.path, finding.code, finding.line, finding.col)
                if key in self._reported:
                    continue
                self._reported.add(key)
                noqa = self._noqa.get(finding.path)
                if self.selection.is_selected(finding.code) and not (
                        noqa is not None and noqa.suppresses(finding.line, finding.code)):
                    self._shown += 1
                    yield finding

    def _forget_call_results(self) -> None:
        """A function reads the globals when it is called, and a later cell may rebind them
        (``def step()`` in cell 2 uses the ``model`` of cell 5): what a call returned in an
        earlier cell does not hold in this one. The analyzer memoises function summaries
        for a whole file's lifetime, which a session outlives; forget them at each cell, so a
        cell's calls are walked again (each cell pays for what it calls, not for the history).
        """
        for name in ("_summaries", "_rewalks", "_contexts"):
            memo = getattr(self.analyzer, name, None)
            if isinstance(memo, dict):
                memo.clear()


def _parse(source: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings are Python's to report
            return ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _cell_magic_body(tree: ast.Module, source: str, transform: Transform | None) -> tuple[ast.Module, str]:
    """``%%time`` cells: IPython turns them into ``get_ipython().run_cell_magic('time', line,
    body)``; the body is the Python that runs, one line below the magic."""
    if transform is None or len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return tree, source
    call = tree.body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "run_cell_magic" and len(call.args) == 3):
        return tree, source
    name, _, body = (arg.value if isinstance(arg, ast.Constant) else None for arg in call.args)
    if name not in PYTHON_CELL_MAGICS or not isinstance(body, str):
        return tree, source
    try:
        inner = "\n" + transform(body)  # the body starts on the cell's second line
    except Exception:
        return tree, source
    inner_tree = _parse(inner)
    return (inner_tree, inner) if inner_tree is not None else (tree, source)


def _defines_functions(tree: ast.Module) -> bool:
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
               for node in walk(tree))
