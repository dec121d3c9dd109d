"""Whole-project analysis: imports resolve to the project's own files, and functions
defined in one file are walked with the arguments their callers in other files pass.

One :class:`Project` per project root and process, shared by every file checked in that
process (flake8 workers and CLI workers alike), so a module is parsed and walked once
and both front ends report the same findings. Findings of every walked file are kept
by path; checking a file returns the findings recorded for it.
"""

from __future__ import annotations

import ast
import bisect
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from xentguard.static.analyzer import Analyzer
from xentguard.static.body_facts import callable_parameters
from xentguard.static.checks import Checks
from xentguard.static.findings import Finding
from xentguard.static.heap import release_frozen
from xentguard.static.kinds import Deferred, Value
from xentguard.static.prefilter import IMPORT_LINE, loss_mention_offsets, mentions_loss, might_have_findings
from xentguard.static.scopes import Scope
from xentguard.static.source import SourceFile, decode_python, universal_newlines
from xentguard.static.walk import walk

_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".tox", ".nox", ".venv", "venv", "node_modules", "build", "dist",
              ".mypy_cache", ".ruff_cache", ".pytest_cache", ".ci-venv", "site-packages", "dist-packages"}
_MAX_PROJECT_FILES = 20_000


@dataclass(frozen=True, eq=False)
class ModuleValue(Value):
    """A project module: its attributes are its module-level bindings."""

    name: str
    scope: Scope
    path: str


def find_root(path: str) -> str:
    """The nearest parent directory holding a project marker; without one, the directory
    above the outermost package (``__init__.py`` chain) containing the file."""
    start = os.path.dirname(os.path.abspath(path))
    root = _ROOTS.get(start)
    if root is None:
        root = _ROOTS[start] = _find_root(Path(start))
    return root


_ROOTS: dict[str, str] = {}  # directory -> its project root (every file of a directory asks)


def _find_root(start: Path) -> str:
    for directory in (start, *start.parents):
        if any((directory / marker).exists() for marker in _MARKERS):
            return str(directory)
    top = start
    while (top / "__init__.py").exists() and top.parent != top:
        top = top.parent
    return str(top)


class Project:
    def __init__(self, root: str, follow_imports: bool = True) -> None:
        self.root = os.path.abspath(root)
        self.follow_imports = follow_imports
        self._texts: dict[str, str] | None = None
        self._relevant: dict[str, bool] = {}
        self._index: dict[str, list[str]] | None = None
        self._resolved: dict[tuple[str, str, int], str | None] = {}
        self._candidate_paths: dict[tuple[str, str, int], tuple[str, ...]] = {}
        self._start_walking()

    def reset(self) -> None:
        """Forget every walked module (the text of one changed)."""
        self._start_walking()
        release_frozen()  # what was walked can now be collected

    def _start_walking(self) -> None:
        self.checks = Checks(report_paths=None)
        if self.follow_imports:
            self.analyzer = Analyzer(self.checks, self.resolve_import, self.module_attribute)
        else:
            self.analyzer = Analyzer(self.checks)
        self._modules: dict[str, ModuleValue | None] = {}  # abs path -> module (None: in progress/failed)
        self._files: dict[str, SourceFile] = {}
        self._analysed_importers: set[str] = set()
        self._walking: set[str] = set()

    # -------------------------------------------------------------- checking
    def check(self, path: str, source: str, tree: ast.Module) -> list[Finding]:
        """Findings in ``path``: from walking it, and from walking its importers."""
        path = os.path.normpath(path)
        key = os.path.abspath(path)
        known = self._files.get(key)
        if known is not None and known.source != universal_newlines(source):
            self.reset()  # the text changed since it was walked (an editor, a test): start over
        file = SourceFile(path, source, tree)
        if known is not None and known.imports_only:
            # Read for its imports only so far; now it is checked itself: walk it whole.
            self._files[key] = file
            self._modules.pop(key, None)
        self._files.setdefault(key, file)
        self.analyse(key)
        self.analyzer.drain(self._files[key].path)
        if self.follow_imports and os.path.isfile(key):
            self.analyse_importers(key, self._files[key])
        reported = self._files[key].path
        return sorted(self.checks.findings_for(reported), key=Finding.sort_key)

    def analyse(self, key: str) -> ModuleValue | None:
        if key in self._modules:
            return self._modules[key]
        file = self._files.get(key) or self._load(key)
        if file is None:
            self._modules[key] = None
            return None
        self._files[key] = file
        module = ModuleValue(_module_name(key, self.root), Scope(), file.path)
        self._modules[key] = module
        self._walking.add(key)
        try:
            self.analyzer.run_module(file, module.scope)
        finally:
            self._walking.discard(key)
        return module

    def analyse_importers(self, key: str, file: SourceFile) -> None:
        """Walk the project files that import this one, where they call this file's
        functions that take a loss or feed a parameter to a loss (``train(model, loader,
        loss_fn)``), so that what they pass in is followed."""
        if key in self._analysed_importers:
            return
        self._analysed_importers.add(key)
        names = receivers(file.tree, file.source)
        if not names:
            return
        for other in self.relevant_importers(key):
            if self.analyse(other) is not None:  # maybe only imported so far
                self.analyzer.drain(self._files[other].path, mentions=names)

    def relevant_importers(self, key: str) -> list[str]:
        """Project files whose import lines name this module and that could pass a kind."""
        path = Path(key)
        stem = path.parent.name if path.stem == "__init__" else path.stem
        texts = self._project_texts()
        importers = self._importer_index().get(stem, ())
        return [other for other in importers if other != key and might_have_findings(texts[other])]

    def _importer_index(self) -> dict[str, list[str]]:
        if self._index is None:
            self._index = {}
            for path, text in self._project_texts().items():
                for name in _imported_names(text):
                    self._index.setdefault(name, []).append(path)
        return self._index

    def imports_relevant_module(self, path: str, source: str) -> bool:
        """``source`` imports a project module that mentions a loss: worth walking even
        though it never mentions one itself. Text only, nothing parsed."""
        if not self.follow_imports:
            return False
        for match in IMPORT_LINE.finditer(source):
            spec = match.group(1) or match.group(2) or ""
            level = len(spec) - len(spec.lstrip("."))
            module = spec.lstrip(".")
            if level == 0 and (module == "torch" or module.startswith("torch.") or not module):
                continue
            for candidate in self._candidates(path, module, level):
                if self._relevant_file(candidate):
                    return True
        return False

    def _relevant_file(self, candidate: str) -> bool:
        cached = self._relevant.get(candidate)
        if cached is None:
            try:
                text = Path(candidate).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            cached = self._relevant[candidate] = mentions_loss(text)
        return cached

    # ------------------------------------------------------------- resolving
    def resolve_import(self, importer: SourceFile, module: str, level: int) -> Value | None:
        where = (os.path.dirname(os.path.abspath(importer.path)), module, level)
        path = self._resolved.get(where, "")
        if path == "":
            path = self._resolved[where] = next(
                (os.path.abspath(c) for c in self._candidates(importer.path, module, level) if os.path.isfile(c)), None)
        return self.analyse(path) if path is not None else None

    def module_attribute(self, module: Value, attr: str) -> Value | None:
        """``pkg.models`` after ``import pkg``: a submodule not bound in the package."""
        if not isinstance(module, ModuleValue):
            return None
        binding = module.scope.lookup(attr)
        if binding is not None:
            return binding.value
        if os.path.abspath(module.path) in self._walking:
            return Deferred(module.scope, attr)  # an import cycle: resolved when read
        base = Path(module.path)
        directory = base.parent if base.name == "__init__.py" else None
        if directory is None:
            return None
        for candidate in (directory / f"{attr}.py", directory / attr / "__init__.py"):
            if candidate.is_file():
                return self.analyse(str(candidate.resolve()))
        return None

    def _candidates(self, importer: str, module: str, level: int) -> tuple[str, ...]:
        """Paths ``module`` (imported from the file ``importer``) may be, in search order."""
        here = os.path.dirname(os.path.abspath(importer))
        key = (here, module, level)
        found = self._candidate_paths.get(key)
        if found is None:
            found = self._candidate_paths[key] = self._find_candidates(here, module, level)
        return found

    def _find_candidates(self, here: str, module: str, level: int) -> tuple[str, ...]:
        parts = module.split(".") if module else []
        if level:
            base = here
            for _ in range(level - 1):
                base = os.path.dirname(base)
            bases = [base]
        else:
            # Script-style sibling imports first, then the root and a src/ layout.
            bases = [here, self.root, os.path.join(self.root, "src")]
        found: list[str] = []
        for base in bases:
            target = os.path.join(base, *parts)
            found.append(f"{target}.py" if parts else os.path.join(target, "__init__.py"))
            found.append(os.path.join(target, "__init__.py"))
        return tuple(found)

    # ----------------------------------------------------------------- files
    def _load(self, key: str) -> SourceFile | None:
        try:
            data = Path(key).read_bytes()
            if len(data) > 2_000_000 or b"\0" in data:
                return None
            source = universal_newlines(decode_python(data).text)
            if not might_have_findings(source) and not _LOSS_PARAMETER.search(source):
                # No activation, loss, exp or loss-taking function here: only its imports can
                # matter (re-exports such as a package __init__); parsing them alone is cheaper.
                file = SourceFile(self._display_path(key), source, _imports_only(source))
                file.imports_only = True
                return file
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source, filename=key)
        except (OSError, SyntaxError, ValueError, MemoryError, RecursionError):  # SourceError is a ValueError
            return None
        return SourceFile(self._display_path(key), source, tree)

    def _display_path(self, key: str) -> str:
        try:
            relative = os.path.relpath(key)
        except ValueError:
            return key
        return key if relative.startswith("..") else relative

    def _project_texts(self) -> dict[str, str]:
        if self._texts is None:
            self._texts = {}
            count = 0
            for directory, subdirs, files in os.walk(self.root):
                subdirs[:] = [d for d in subdirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
                for name in files:
                    if not name.endswith(".py"):
                        continue
                    count += 1
                    if count > _MAX_PROJECT_FILES:
                        return self._texts
                    path = os.path.join(directory, name)
                    try:
                        self._texts[os.path.abspath(path)] = Path(path).read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        continue
        return self._texts


def _module_name(path: str, root: str) -> str:
    relative = os.path.relpath(path, root)
    return relative[:-3].replace(os.sep, ".").removesuffix(".__init__")


_IMPORT_STATEMENT = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]*\([^)]*\)|(?:from|import)[ \t][^\n]*)",
                               re.MULTILINE)


def _imported_names(text: str) -> set[str]:
    """Every identifier on the import statements of ``text`` (module parts and names)."""
    names: set[str] = set()
    if "import" not in text:
        return names
    for match in _IMPORT_STATEMENT.finditer(text):
        names.update(re.findall(r"\w+", match.group(0)))
    return names


def _imports_only(source: str) -> ast.Module:
    """A module holding just the import statements of ``source`` (each parsed alone, so
    one that sits in an ``if``/``try`` block still counts)."""
    body: list[ast.stmt] = []
    for match in _IMPORT_STATEMENT.finditer(source):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                body.extend(ast.parse(match.group(0).strip()).body)
            except (SyntaxError, ValueError):
                continue
    return ast.Module(body=body, type_ignores=[])


_LOSS_PARAMETER = re.compile(r"\bdef\s+\w+\s*\([^)]*\b\w*(?:loss|criterion|crit|objective)\w*", re.IGNORECASE)
_LOSS_NAME = re.compile(r"loss|criterion|crit$|objective", re.IGNORECASE)
# In lower-cased text, what a call of a name matched by _LOSS_NAME (or its .forward) needs.
_CALLS_LOSS_LIKE_NAME = re.compile(r"(?:loss|crit|objective)\w*\s*(?:\.\s*forward\s*)?\(")


def may_have_receivers(source: str) -> bool:
    """Whether :func:`receivers` can find anything in ``source``: most files are decided
    by their text, without a parse or a walk."""
    lowered = source.lower()
    if ("loss" in lowered or "crit" in lowered or "objective" in lowered) and (
            _CALLS_LOSS_LIKE_NAME.search(lowered) is not None):
        return True
    return mentions_loss(source)


def receivers(tree: ast.Module, source: str) -> frozenset[str]:
    """Names of the module's functions (and classes holding such methods) whose findings
    depend on their callers: a loss-like parameter is called (``loss_fn(model(x), y)``),
    or a parameter is passed straight into a loss call (``F.cross_entropy(out, y)``)."""
    names: set[str] = set()
    # Only functions whose lines hold such a call are walked; most files have none.
    lowered = source.lower()  # may differ in length, not in its newlines
    lines = sorted({lowered.count("\n", 0, m.start()) + 1 for m in _CALLS_LOSS_LIKE_NAME.finditer(lowered)} |
                   {source.count("\n", 0, offset) + 1 for offset in loss_mention_offsets(source)})
    if not lines:
        return frozenset()
    for top in tree.body:
        candidates = [top] if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)) else (
            [m for m in top.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
            if isinstance(top, ast.ClassDef) else [])
        for fn in candidates:
            if _holds_line(fn, lines) and _receives_from_callers(fn):
                names.add(top.name)  # type: ignore[attr-defined]  # a def or a class
                if fn is not top:
                    names.add(fn.name)
    return frozenset(names)


def _holds_line(fn: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[int]) -> bool:
    first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    index = bisect.bisect_left(lines, first)
    return index < len(lines) and lines[index] <= (fn.end_lineno or fn.lineno)


def _receives_from_callers(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    params = callable_parameters(fn.args)
    if not params:
        return False
    for node in walk(fn):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "forward":
            func = func.value
        if isinstance(func, ast.Name) and func.id in params and _LOSS_NAME.search(func.id):
            return True
        callee = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if mentions_loss(callee) and any(isinstance(a, ast.Name) and a.id in params for a in node.args[:1]):
            return True
    return False


_PROJECTS: dict[str, Project] = {}


def project_for(path: str, root: str | None = None) -> Project:
    """The per-process project for ``path`` (found by its markers unless ``root`` is given)."""
    key = os.path.abspath(root) if root is not None else find_root(path)
    project = _PROJECTS.get(key)
    if project is None:
        project = _PROJECTS[key] = Project(key)
    return project


def forget_projects() -> None:
    """Drop every per-process project and found root (a benchmark or an editor starting over)."""
    _PROJECTS.clear()
    _ROOTS.clear()
    release_frozen()


__all__ = ["ModuleValue", "Project", "find_root", "forget_projects", "may_have_receivers", "project_for", "receivers"]
