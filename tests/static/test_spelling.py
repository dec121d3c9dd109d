"""Findings follow meaning, never spelling: renaming every user identifier consistently
(to meaningless names) and dropping every comment changes no (line, code) finding, on
every fixture. The renaming keeps torch's and Python's names, what imports bind, keyword
argument names, and dunders: those are the program's meaning."""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import tokenize
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.static.expectations import expectations
from tests.static.realworld import cases, found
from xentguard.static import analyze_source
from xentguard.static import torch_api as api

RULE_FIXTURES = sorted((FIXTURES / "rules").glob("*.py"))
REALWORLD = cases("bugs") + cases("correct")
# The multi-file fixture projects too (registries, setters, handed-on helpers: what holds
# across files rests on names being the same, never on what they are).
PROJECTS = sorted(p for p in (FIXTURES / "projects").iterdir() if p.is_dir() and any(p.rglob("*.py")))

# Attribute names with a meaning of their own to torch or to the analysis.
_API_ATTRIBUTES = {
    *api.TENSOR_METHODS, *api.PRODUCER_METHODS, *api.SELF_RETURNING_METHODS, *api.TENSOR_ATTRIBUTES,
    *api.FRESH_BUFFER_METHODS, *api.SCATTER_SUMS, "forward", "training", "log", "exp", "sum", "nansum",
    "add_module", "register_module", "append", "extend", "update", "get", "values", "fit",
    *api.PURE_STR_METHODS, *api.LOG1P_METHODS, *api.LITERAL_ARGUMENTS,
    # A library's methods, read by name off the tables (``x.scatter_reduce(...)``).
    *(name.rsplit(".", 1)[-1] for name in api.SCATTER_REDUCTIONS),
    *(method for methods in api.SETTINGS_PARSERS.values() for method in methods),
}


def _protected(trees: list[ast.Module]) -> set[str]:
    names = set(dir(builtins)) | set(keyword.kwlist) | _API_ATTRIBUTES | {"self", "cls", "super"}
    for table in (api.PRODUCER_FUNCTIONS, api.PRODUCER_LAYERS, api.LOSS_FUNCTIONS, api.LOSS_CLASSES, api.TRAINERS,
                  api.HOOK_RUNNERS):
        for qualname in table:
            names.update(qualname.split("."))
    # What a library's runner calls on the model, by name (Lightning's ``training_step``).
    for runs in api.HOOK_RUNNERS.values():
        for method, run in runs.items():
            names.add(method)
            names.update(run.hooks)
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    names.update(alias.name.split("."))
                    names.update((alias.asname or "").split("."))
                names.update((getattr(node, "module", None) or "").split("."))
            elif isinstance(node, ast.keyword) and node.arg:
                names.add(node.arg)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
                names.add(node.value)  # __all__ entries, getattr names
    return names


def _defined(trees: list[ast.Module]) -> set[str]:
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return names


def renaming(sources: list[str]) -> dict[str, str]:
    trees = [ast.parse(source) for source in sources]
    protected = _protected(trees)
    user = sorted(n for n in _defined(trees) - protected if not (n.startswith("__") and n.endswith("__")))
    return {name: f"v{index}_" for index, name in enumerate(user)}


def respelled(source: str, mapping: dict[str, str]) -> str:
    """``source`` with the names renamed and the comments dropped; lines stay where they are."""
    lines = source.splitlines(keepends=True)
    edits: dict[int, list[tuple[int, int, str]]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string in mapping:
            edits.setdefault(token.start[0], []).append((token.start[1], token.end[1], mapping[token.string]))
        elif token.type == tokenize.COMMENT:
            edits.setdefault(token.start[0], []).append((token.start[1], token.end[1], ""))
    for number, line_edits in edits.items():
        line = lines[number - 1]
        for start, end, text in sorted(line_edits, reverse=True):
            line = line[:start] + text + line[end:]
        lines[number - 1] = line
    return "".join(lines)


def _lines_and_codes(findings: set[tuple[str, int, int, str]]) -> set[tuple[str, int, str]]:
    return {(path, line, code) for path, line, _, code in findings}


def test_respelling_renames_and_strips() -> None:
    source = "import torch.nn as nn\ncriterion = nn.CrossEntropyLoss()  # the loss\nloss = criterion(x, y)\n"
    mapping = renaming([source])
    assert mapping == {"criterion": "v0_", "loss": "v1_"}
    assert respelled(source, mapping) == "import torch.nn as nn\nv0_ = nn.CrossEntropyLoss()  \nv1_ = v0_(x, y)\n"


@pytest.mark.parametrize("fixture", RULE_FIXTURES, ids=lambda p: p.name)
def test_rule_fixture_findings_do_not_depend_on_spelling(fixture: Path) -> None:
    source = fixture.read_text(encoding="utf-8")
    renamed = respelled(source, renaming([source]))
    before = {(f.line, f.code) for f in analyze_source(source, str(fixture), isolated=True)}
    after = {(f.line, f.code) for f in analyze_source(renamed, str(fixture), isolated=True)}
    assert bool(before) == bool(expectations(fixture))  # the renaming is tested on real findings
    assert after == before


@pytest.mark.parametrize("case", REALWORLD + PROJECTS, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_realworld_findings_do_not_depend_on_spelling(case: Path, tmp_path: Path) -> None:
    files = sorted(case.rglob("*")) if case.is_dir() else [case]
    sources = {path: path.read_text(encoding="utf-8") for path in files if path.suffix == ".py"}
    mapping = renaming(list(sources.values()))
    copy = tmp_path / case.name
    for path in files:
        target = copy / path.relative_to(case) if case.is_dir() else tmp_path / case.name
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(respelled(sources[path], mapping) if path in sources else path.read_text(encoding="utf-8"))
    root = copy if case.is_dir() else tmp_path
    assert _lines_and_codes(found(case, root)) == _lines_and_codes(found(case))
