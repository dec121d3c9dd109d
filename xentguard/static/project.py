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
import functools
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path

from xentguard.static import torch_api as api
from xentguard.static.analyzer import Analyzer
from xentguard.static.body_facts import body_facts
from xentguard.static.checks import Checks
from xentguard.static.factories import factories
from xentguard.static.findings import Finding
from xentguard.static.flags import (
    FlagParameters,
    construction_flag_tested,
    declared_flags,
    may_store_on,
    store_receivers,
)
from xentguard.static.heap import freeze_long_lived, parse_long_lived, release_frozen
from xentguard.static.hotness import Hotness, base_leaves, class_attributes, hotness, top_level_classes
from xentguard.static.kinds import Deferred, ModuleValue, Value
from xentguard.static.prefilter import import_statement_matches, import_statement_texts, might_have_findings
from xentguard.static.registries import Container, decorator_leaf, module_registries, only_read_in
from xentguard.static.scopes import Scope
from xentguard.static.source import SourceFile, decode_python, universal_newlines
from xentguard.static.text_facts import TextFacts, attribute_pattern
from xentguard.static.torch_api import is_torch
from xentguard.static.walk import attribute_root

_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
# Directories that hold no project code: version control, caches, environments, builds
# (also what ``xentguard check`` skips when it looks for files).
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".bzr", "__pycache__", ".venv", "venv", ".ci-venv", ".tox", ".nox", "build", "dist",
    "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".eggs", ".ipynb_checkpoints", "__pypackages__",
    "site-packages", "dist-packages",
})
_MAX_PROJECT_FILES = 20_000
_MAX_REEXPORT_DEPTH = 4  # package __init__ files between a factory and its caller: see Project._factory_callers
# A line that starts a top-level statement (or a line of one at column 0): what a
# module's text is cut at to parse only the statements that mention an attribute.
_TOP_LEVEL_LINE = re.compile(r"^(?=[^\s#)\]}])", re.MULTILINE)


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
        self._texts_truncated = False  # more files than _MAX_PROJECT_FILES: not all were read
        # Facts of the texts and of the file system, kept for the run (files are read once).
        self._text_facts: dict[str, TextFacts] = {}
        self._relevant: dict[tuple[str, str], bool] = {}
        self._consuming: dict[tuple[str, str], bool] = {}
        self._imports_loss_cache: dict[str, bool] = {}  # see _imports_loss
        self._directory_files: dict[str, frozenset[str]] = {}
        self._isfile_cache: dict[str, bool] = {}
        self._index: dict[str, list[str]] | None = None
        self._resolved: dict[tuple[str, str, int], str | None] = {}
        self._candidate_paths: dict[tuple[str, str, int], tuple[str, ...]] = {}
        self._public: dict[str, list[str]] = {}
        self._imported_consumes: dict[tuple[str, str, int, str], bool] = {}  # see imported_name_consumes
        self._inherited: dict[tuple[str, str], frozenset[str]] = {}  # see inherited_attributes
        # see attribute_stored_elsewhere
        self._stored_elsewhere: dict[tuple[str, str, frozenset[tuple[str, str]]], bool] = {}
        self._store_receivers_cache: dict[tuple[str, str], frozenset[str | None]] = {}  # see _store_receivers
        self._spelling_attribute: dict[str, list[str]] = {}  # see attribute_stored_elsewhere
        self._imports_by_name: dict[str, dict[str, list[tuple[int, str, int]]]] = {}  # see _importing
        self._receivers: dict[str, dict[str, frozenset[str]]] = {}
        self._relevant_importers: dict[str, list[str]] = {}  # by stem: see relevant_importers
        self._directories: dict[str | tuple[str, str], str] = {}
        self._untouched: dict[tuple[Container, frozenset[str], str], bool] = {}  # see registry_files
        self._registering_words: dict[str, frozenset[str]] = {}  # see _registry_home
        self._registered: dict[str, dict[str, str]] = {}  # see _registered_definitions
        self._start_walking()

    def reset(self) -> None:
        """Forget every walked module (the text of one changed), and what was read off texts."""
        for cache in (self._text_facts, self._imports_loss_cache, self._relevant, self._consuming,
                      self._directory_files, self._isfile_cache, self._public, self._imported_consumes, self._inherited,
                      self._receivers, self._imports_by_name, self._relevant_importers, self._untouched,
                      self._registering_words, self._registered):
            cache.clear()
        self._stored_elsewhere.clear()
        self._store_receivers_cache.clear()
        self._spelling_attribute.clear()
        self._start_walking()
        release_frozen()  # what was walked can now be collected

    def _start_walking(self) -> None:
        self.checks = Checks(report_paths=None)
        if self.follow_imports:
            self.analyzer = Analyzer(self.checks, self.resolve_import, self.module_attribute, self.public_names,
                                     self.imported_name_consumes, self.registry_files, self.inherited_attributes,
                                     self.attribute_stored_elsewhere)
        else:
            self.analyzer = Analyzer(self.checks)
        self._modules: dict[str, ModuleValue | None] = {}  # abs path -> module (None: in progress/failed)
        self._files: dict[str, SourceFile] = {}
        self._analysed_importers: set[str] = set()
        self._walking: set[str] = set()
        self.drained: list[str] = []  # files walked whole, in order (see walked_files)

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
        self.drained.append(key)
        if self.follow_imports and os.path.isfile(key):
            self.analyse_importers(key, self._files[key])
        reported = self._files[key].path
        return sorted(self.checks.findings_for(reported), key=Finding.sort_key)

    def known_tree(self, path: str, source: str) -> ast.Module | None:
        """The tree of ``path`` if it was read whole already (as an import) with this text."""
        known = self._files.get(os.path.abspath(path))
        if known is None or known.imports_only or known.source != universal_newlines(source):
            return None
        return known.tree

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
        """Walk the project files that import this one when this one's findings may depend
        on them: its functions call what a caller passes (``train(model, loader, loss_fn)``),
        or its classes' methods use attributes a user may set (``model.criterion = ...``)."""
        if key in self._analysed_importers:
            return
        others = self.receiving_importers(key, file.tree, file)
        if others and _importers_listener is not None:
            _importers_listener(others)  # may give this check up (cli.parallel.HandBack)
        self._analysed_importers.add(key)
        for other in others:
            if self.analyse(other) is not None:  # maybe only imported so far
                self.analyzer.drain(self._files[other].path)
                self.drained.append(other)
                freeze_long_lived()  # each importer's walk is long-lived too: see static/heap.py

    def receiving_importers(self, key: str, tree: ast.Module, file: SourceFile | None = None) -> list[str]:
        """The relevant importers that may give this module's receivers what they depend on."""
        found = self._receivers.get(key)
        if found is None:
            # Flagged classes matter where a finding can be made: the module's hot names.
            consuming = None
            if self.text_facts(key).consumes:
                consuming = self.analyzer.hotness_of(file) if file is not None else hotness(tree)
            found = self._receivers[key] = receivers(tree, consuming)
        if not found:
            return []
        registered = self._registered.get(key)
        if registered is None:
            registered = self._registered[key] = self._registered_definitions(key, tree)
        direct = [other for other in self.relevant_importers(key)
                  if any(self._may_use(self.text_facts(other), name, attributes, registered.get(name))
                         for name, attributes in found.items())]
        return [*direct, *(other for other in self._factory_callers(key, tree, found) if other not in direct)]

    def _factory_callers(self, key: str, tree: ast.Module, receiving: dict[str, frozenset[str]]) -> list[str]:
        """The files that may call a factory of this module's flagged classes among its
        receivers (see factories): those importing a module that defines one and spelling its name, through
        package ``__init__`` files re-exporting it (``deepvision.models.ResNet18V2`` spells
        no import of the name), to a bounded depth. Only files that can pass a loss or a kind
        are walked (see relevant_importers); a file defining a factory is read only when its
        text spells a class outside its imports and defines a module-level function."""
        classes: dict[str, FlagParameters] = {}
        for top in tree.body:
            if isinstance(top, ast.ClassDef) and top.name in receiving:
                flagged = declared_flags(top)
                if flagged is not None:
                    classes[top.name] = flagged
        if not classes:
            return []
        found: list[str] = []
        seen = {key}
        frontier: list[tuple[str, set[str]]] = []
        for importer in self._importers(key):
            text = self._text(importer)
            used = {name for name in classes if _used_outside_imports(text, name)}
            if not used:
                continue
            seen.add(importer)
            names: set[str] = set()
            if _TOP_LEVEL_DEF.search(text):
                file = self._files.get(importer) or self._load(importer)
                if file is not None and not file.imports_only:
                    self._files.setdefault(importer, file)
                    names = factories(file.tree, {name: classes[name] for name in used})
            if names:
                frontier.append((importer, names))
        for _ in range(_MAX_REEXPORT_DEPTH):
            following: list[tuple[str, set[str]]] = []
            for module, names in frontier:
                for other in self._importers(module):
                    if other in seen:
                        continue
                    package = os.path.basename(other) == "__init__.py"
                    spelled = names if package else {name for name in names if self.text_facts(other).spells(name)}
                    if not spelled:
                        continue
                    seen.add(other)
                    if self._triggers(other) or self._relevant_file(other):
                        found.append(other)
                    if package:
                        following.append((other, spelled))
            if not following:
                break
            frontier = following
        return found

    def _importers(self, key: str) -> list[str]:
        """Project files whose import lines name this module (its stem)."""
        return [other for other in self._importer_index().get(_stem(key), ()) if other != key]

    @staticmethod
    def _may_use(importer: TextFacts, name: str, attributes: frozenset[str], registry: str | None = None) -> bool:
        """Whether an importer's text can use the receiver ``name`` the way that matters: it
        spells the name (any call or construction does; a definition that a registry holds
        is built from the registry by a key, by a file importing it: ``registry`` is its
        module's stem), and, when the receiver depends on attributes set by its user,
        assigns one of them (``.criterion =``), or subclasses it and may override a method
        it calls on itself (see _attributes_set_elsewhere)."""
        if not importer.spells(name) and not (registry is not None and registry in importer.imported_words):
            return False
        if not attributes:
            return True
        if name in importer.base_words:  # a set lookup first: most importers subclass nothing of it
            overridable = [need[len(OVERRIDES):] for need in attributes if need.startswith(OVERRIDES)]
            if overridable and (name in importer.shared_base_words
                                or any(importer.spells(method) for method in overridable)):
                return True  # a subclass that may override what the receiver calls on itself
        if any(need.startswith(CALLS) and importer.spells(need[len(CALLS):]) for need in attributes):
            return True
        return not importer.assigned_attributes.isdisjoint(attributes)

    def _registered_definitions(self, key: str, tree: ast.Module) -> dict[str, str]:
        """The module-level definitions of ``tree`` that a registry's decorator registers
        (``@NETS.register_module``: see registries), each with the stem of the registry's
        module: a file importing both may build them without spelling their names."""
        found: dict[str, str] = {}
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for decorator in stmt.decorator_list:
                    home = self._registry_home(key, tree, decorator)
                    if home is not None:
                        found[stmt.name] = _stem(home)
        return found

    def _registry_home(self, key: str, tree: ast.Module, decorator: ast.expr) -> str | None:
        """The module whose registering function the decorator is: the one its root name
        comes from (this one, or the one it is imported from)."""
        leaf = decorator_leaf(decorator)
        if leaf is None:
            return None
        word = leaf.id if isinstance(leaf, ast.Name) else leaf.attr
        root = attribute_root(leaf)
        if not isinstance(root, ast.Name):
            return None
        home = self._home_of(key, tree, root.id)
        if home is None:
            return None
        words = self._registering_words.get(home)
        if words is None:
            file = self._files.get(home) or self._load(home)
            registries = module_registries(file.tree) if file is not None and file.tree is not None else None
            words = self._registering_words[home] = frozenset(
                store.word for fn, store in registries.by_function.items() if registries.store_of(fn) is not None
            ) if registries is not None else frozenset()
        return home if word in words else None

    def _home_of(self, key: str, tree: ast.Module, name: str) -> str | None:
        """The project file a module-level name of ``tree`` is defined in: the module itself,
        or the module a top-level import takes it from."""
        for stmt in tree.body:
            if isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    if (alias.asname or alias.name) == name:
                        return self._module_path(key, stmt.module or "", stmt.level)
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if (alias.asname or alias.name.partition(".")[0]) == name:
                        return self._module_path(key, alias.name if alias.asname else name, 0)
        return key

    def relevant_importers(self, key: str) -> list[str]:
        """Project files whose import lines name this module and that can pass a kind, a
        loss or a model: they spell a trigger, or import (through any chain) a project
        module that spells a loss."""
        stem = _stem(key)
        relevant = self._relevant_importers.get(stem)
        if relevant is None:  # the same for every module of that stem: once
            relevant = self._relevant_importers[stem] = [
                other for other in self._importer_index().get(stem, ())
                if self._triggers(other) or self._relevant_file(other)]
        return [other for other in relevant if other != key]

    def _triggers(self, path: str) -> bool:
        return self.text_facts(path).triggers

    def text_facts(self, path: str, source: str | None = None) -> TextFacts:
        """The facts of a file's text, read once; with ``source``, of that text (the one
        being checked: kept unless other facts of the file are kept already)."""
        facts = self._text_facts.get(path)  # keys are absolute, as most callers' paths are
        key = path
        if facts is None:
            key = os.path.abspath(path)
            facts = self._text_facts.get(key)
        if facts is None:
            facts = self._text_facts[key] = TextFacts(self._text(key) if source is None else source)
        elif source is not None and facts.text != source:
            return TextFacts(source)
        return facts

    def _importer_index(self) -> dict[str, list[str]]:
        if self._index is None:
            self._index = {}
            for path in self._project_texts():
                for name in self.text_facts(path).imported_words:
                    self._index.setdefault(name, []).append(path)
        return self._index

    def imports_relevant_module(self, path: str, source: str) -> bool:
        """``source`` imports a loss from the project: worth walking though it spells no
        trigger itself (its activations and models can only matter to a loss). A name
        imported from a module is followed through the modules that re-export it
        (``from .losses import make_loss`` in a package ``__init__``) to the one that
        defines it, which must spell a loss; a module imported whole must spell one.
        Text only, nothing parsed."""
        if not self.follow_imports:
            return False
        return self._imports_loss(path, source)

    def _imports_loss(self, path: str, source: str) -> bool:
        found = self._imports_loss_cache.get(path)
        if found is not None:
            return found
        key = os.path.abspath(path)
        found = self._imports_loss_cache.get(key)
        if found is None:
            found = self._imports_loss_cache[key] = self._find_imported_loss(path, source)
        return found

    def _isfile(self, path: str) -> bool:
        """``os.path.isfile``, answered from one listing per directory (imports are
        resolved by trying up to six candidate paths each)."""
        known = self._isfile_cache.get(path)
        if known is not None:
            return known
        # Candidates are absolute already: normalising each one again showed in the profile.
        directory, name = os.path.split(path if os.path.isabs(path) else os.path.abspath(path))
        files = self._directory_files.get(directory)
        if files is None:
            try:
                with os.scandir(directory) as entries:
                    files = frozenset(entry.name for entry in entries if entry.is_file())
            except OSError:
                files = frozenset()
            self._directory_files[directory] = files
        known = self._isfile_cache[path] = name in files
        return known

    def _statements(self, path: str, text: str) -> list[tuple[str, str, int]]:
        return self.text_facts(path, text).statements

    def _find_imported_loss(self, path: str, source: str) -> bool:
        """Whether a name this module imports is defined where a loss is spelled (see
        _name_relevant), or a module it imports whole spells a loss or imports one, through
        any chain of such modules (``main(parse_args())`` in a script whose ``trainer``
        module reaches a loss only through its own ``from .criterion import
        get_criterion``): breadth first, stopped by a module whose answer is known."""
        seen = {os.path.abspath(path)}
        queue = [(path, source)]
        while queue:
            here, text = queue.pop(0)
            whole, named = self._imported_modules(here, text)
            if any(self._name_relevant(target, name) for target, name in named):
                return True
            for target in whole:
                if target in seen:
                    continue
                seen.add(target)
                known = self._imports_loss_cache.get(target)
                if known is False:
                    continue  # nothing it reaches spells a loss
                if known or self._mentions_loss(target):
                    return True
                queue.append((target, self._text(target)))
        return False

    def _imported_modules(self, path: str, source: str) -> tuple[list[str], list[tuple[str, str]]]:
        """The project modules ``source`` imports whole (``import pkg.mod``, ``from pkg
        import mod``), as absolute paths, and the (module, name) pairs it imports by name
        (``from .losses import make_loss``), in the text's order."""
        whole: list[str] = []
        named: list[tuple[str, str]] = []
        for statement, module, level in self._statements(path, source):
            if level == 0 and (is_torch(module) or not module):
                continue
            names = _imported_words(statement)
            target = self._module_path(path, module, level)
            if target is not None:
                if names is None:
                    whole.append(target)
                else:
                    named.extend((target, name) for name in names)
            if target is not None and os.path.basename(target) != "__init__.py":
                continue  # only a package has submodules
            for name in names or ():  # ``from pkg import losses``: a submodule
                submodule = self._module_path(path, f"{module}.{name}" if module else name, level)
                if submodule is not None:
                    whole.append(submodule)
        return whole, named

    def imported_name_consumes(self, importer: SourceFile, module: str, level: int, name: str) -> bool:
        """Whether ``name`` imported from the project module ``module`` may reach a loss, a
        log or an exp (hotness): the module defining it spells one, following re-exports.
        A module that is not the project's: False."""
        where = (self._directory(importer.path), module, level, name)
        found = self._imported_consumes.get(where)
        if found is None:
            found = self._imported_consumes[where] = self._imported_name_consumes(importer.path, module, level, name)
        return found

    def _imported_name_consumes(self, importer: str, module: str, level: int, name: str) -> bool:
        path = self._module_path(importer, module, level)
        if path is None or os.path.basename(path) == "__init__.py":  # only a package has submodules
            submodule = f"{module}.{name}" if module else name
            sub = self._module_path(importer, submodule, level)
            if sub is not None and self._consumes(sub):
                return True
        return path is not None and self._name_relevant(path, name, consumes=True)

    def attribute_stored_elsewhere(self, attr: str, path: str, hierarchy: frozenset[tuple[str, str]]) -> bool:
        """Whether a project file other than ``path`` may store ``attr`` on an instance of
        the class whose hierarchy is given (see flags.may_store_on): it stores it by name
        (``net.apply_softmax = False``) other than on a foreign class's own instances, or
        stores by a computed name and writes the name as a string (``setattr(net,
        "apply_softmax", ...)``). Read off the texts (a file whose text stores the name is
        parsed), asked only when a flag decides what a walk finds."""
        own = os.path.abspath(path)
        key = (attr, own, hierarchy)
        found = self._stored_elsewhere.get(key)
        if found is None:
            texts = self._project_texts()
            spelling = self._spelling_attribute.get(attr)
            if spelling is None:  # one read of the texts per attribute name
                spelling = self._spelling_attribute[attr] = [other for other, text in texts.items() if attr in text]
            found = self._texts_truncated or any(  # truncated: a file not read may store it
                other != own and self._may_store(other, texts[other], attr, hierarchy) for other in spelling)
            self._stored_elsewhere[key] = found
        return found

    def _may_store(self, key: str, text: str, attr: str, hierarchy: frozenset[tuple[str, str]]) -> bool:
        facts = self.text_facts(key)
        if facts.stores_dynamically and re.search(rf"[\"']{re.escape(attr)}[\"']", text) is not None:
            return True
        if not facts.mentions_attribute(attr):
            return False
        return may_store_on(self._store_receivers(key, text, attr), key, hierarchy)

    def _store_receivers(self, key: str, text: str, attr: str) -> frozenset[str | None]:
        """flags.store_receivers of the file's stores of ``attr``, once per file and
        attribute. Only the top-level statements that mention it are parsed (a class of
        a large module, not the module); when one does not parse on its own (a string
        spanning what looked like statements), the whole file is."""
        cache_key = (key, attr)
        found = self._store_receivers_cache.get(cache_key)
        if found is not None:
            return found
        starts = [m.start() for m in _TOP_LEVEL_LINE.finditer(text)]
        segments: set[tuple[int, int]] = set()
        for match in attribute_pattern(attr).finditer(text):
            at = bisect.bisect_right(starts, match.start())
            segments.add((starts[at - 1] if at else 0, starts[at] if at < len(starts) else len(text)))
        receivers: set[str | None] = set()
        try:
            for start, end in sorted(segments):
                receivers |= store_receivers(ast.parse(text[start:end]), attr)
        except (SyntaxError, ValueError):
            try:
                receivers = store_receivers(ast.parse(text), attr)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                receivers = {None}  # unreadable: it may store anything
        except (RecursionError, MemoryError):
            receivers = {None}
        found = self._store_receivers_cache[cache_key] = frozenset(receivers)
        return found

    def inherited_attributes(self, importer: SourceFile, module: str, level: int, name: str) -> frozenset[str]:
        """The hot attributes (see hotness) of the class imported as ``name`` from the
        project module ``module``: its methods, class-level names and the attributes its
        methods store, that reach a sink in its module, and its bases' (of its module, or
        imported from the project), following re-exports. None for a name that is no
        class: empty."""
        path = self._module_path(importer.path, module, level)
        return self._class_attributes(path, name) if path is not None else frozenset()

    def _class_attributes(self, path: str, name: str) -> frozenset[str]:
        key = (path, name)
        cached = self._inherited.get(key)
        if cached is not None:
            return cached
        self._inherited[key] = frozenset()  # a cycle of bases or re-exports: the classes on it decide
        found: set[str] = set()
        if self.analyse(path) is not None:
            file = self._files[path]
            defined = {node.name for node in top_level_classes(file.tree)}
            classes = [node for node in top_level_classes(file.tree) if node.name == name]
            if classes:
                # Unknowable (a star import from the project; the hotness of a module on
                # an import cycle, still being computed): all of them.
                hot = self.analyzer.hot_attributes(file)
                for node in classes:
                    own = class_attributes(node)
                    found |= own if hot is None else own & hot
                    for base in base_leaves(node):
                        found |= (self._class_attributes(path, base) if base in defined
                                  else self._imported_class_attributes(path, base))
            else:
                found |= self._imported_class_attributes(path, name)  # a re-export
        result = self._inherited[key] = frozenset(found)
        return result

    def _imported_class_attributes(self, path: str, name: str) -> set[str]:
        found: set[str] = set()
        for module, level in self._importing(path, name):
            target = self._module_path(path, module, level)
            if target is not None:
                found |= self._class_attributes(target, name)
        return found

    def _module_path(self, importer: str, module: str, level: int) -> str | None:
        """The project file ``module`` imported from ``importer`` is, if any (absolute)."""
        where = (self._directory(importer), module, level)
        path = self._resolved.get(where, "")
        if path == "":
            path = self._resolved[where] = next(
                (os.path.abspath(c) for c in self._candidates(importer, module, level) if self._isfile(c)), None)
        return path

    def _consumes(self, path: str) -> bool:
        return self.text_facts(path).consumes

    def _name_relevant(self, path: str, name: str, consumes: bool = False) -> bool:
        """Whether ``name`` of the module at ``path`` may be (or hold) a loss (``consumes``:
        or a log or an exp): the module that defines it spells one, following re-exports
        (``from x import name``, ``*``)."""
        key = (os.path.abspath(path), name)
        cache = self._consuming if consumes else self._relevant
        cached = cache.get(key)
        if cached is not None:
            return cached
        cache[key] = False  # an import cycle: the modules on it decide
        relevant = self._consumes(key[0]) if consumes else self._mentions_loss(key[0])
        for module, level in self._importing(key[0], name):
            target = self._module_path(key[0], module, level)
            if target is not None and self._name_relevant(target, name, consumes):
                relevant = True
                break
        cache[key] = relevant
        return relevant

    def _importing(self, path: str, name: str) -> list[tuple[str, int]]:
        """(module, level) of the statements of the file at ``path`` (absolute) that import
        ``name`` from a project module, or ``*``, in the text's order: the statements of a
        file indexed by name once, not scanned for each name asked."""
        index = self._imports_by_name.get(path)
        if index is None:
            index = self._imports_by_name[path] = {}
            for position, (statement, module, level) in enumerate(self._statements(path, self._text(path))):
                words = _imported_words(statement)
                if words is None or (level == 0 and is_torch(module)):
                    continue
                for word in words:
                    index.setdefault(word, []).append((position, module, level))
        named, starred = index.get(name, []), index.get("*", []) if name != "*" else []
        return [(module, level) for _, module, level in (sorted(named + starred) if starred else named)]

    def _mentions_loss(self, path: str) -> bool:
        return self.text_facts(path).losses

    def _text(self, key: str) -> str:
        text = self._texts.get(key) if self._texts is not None else None
        if text is None:
            try:
                text = Path(key).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
        return text

    def _relevant_file(self, path: str) -> bool:
        """An importer that can pass a loss: it imports one (see imports_relevant_module)."""
        return self._imports_loss(path, self._text(os.path.abspath(path)))

    # ------------------------------------------------------------- resolving
    def resolve_import(self, importer: SourceFile, module: str, level: int) -> Value | None:
        path = self._module_path(importer.path, module, level)
        if path is None or path == os.path.abspath(importer.path):
            # ``import logging`` in a package's own ``utils/logging.py`` is the standard
            # library's, not the file itself.
            return None
        return self.analyse(path)

    def registry_files(self, words: frozenset[str], container: Container, aliases: frozenset[str],
                       registry: SourceFile) -> list[SourceFile] | None:
        """The project files spelling one of ``words`` (a registry's registering functions),
        walked; None while one of them is being walked (its registrations are not all made
        yet), or when a file other than ``registry`` names the container (or a property
        returning it) other than to read it."""
        own = os.path.abspath(registry.path)
        untouched = self._untouched.get((container, aliases, own))
        if untouched is None:
            untouched = self._untouched[(container, aliases, own)] = all(
                only_read_in(tree, container, aliases) for name in (container[1], *sorted(aliases))
                for key, tree in self._trees_spelling(name) if key != own)
        if not untouched:
            return None
        files: list[SourceFile] = []
        for key in sorted({key for word in words for key in self._spelling(word)}):
            if key in self._walking:
                return None
            if self.analyse(key) is None:
                continue
            file = self._files[key]
            if file.imports_only:
                # Read for its imports only (no definition, no torch name), so its
                # module-level statements were not walked: its whole tree shows them as
                # registrations the walk did not resolve.
                whole = _parsed(file.source, key)
                if whole is None:
                    continue  # it cannot be imported either
                file = SourceFile(file.path, file.source, whole)
            files.append(file)
        return files

    def _spelling(self, word: str) -> list[str]:
        return [key for key in self._project_texts() if self.text_facts(key).spells(word)]

    def _trees_spelling(self, word: str) -> list[tuple[str, ast.Module]]:
        """The whole trees of the project files spelling ``word`` (parsed, not walked)."""
        found: list[tuple[str, ast.Module]] = []
        for key in self._spelling(word):
            known = self._files.get(key)
            if known is not None and not known.imports_only and known.tree is not None:
                found.append((key, known.tree))
                continue
            tree = _parsed(self._project_texts()[key], key)
            if tree is not None:  # else it cannot be imported either
                found.append((key, tree))
        return found

    def public_names(self, importer: SourceFile, module: str, level: int) -> list[str] | None:
        """What ``from module import *`` binds when module is a project file: a literal
        ``__all__``, else its top-level names not starting with ``_``. Read from the text."""
        key = self._module_path(importer.path, module, level)
        if key is None:
            return None
        names = self._public.get(key)
        if names is None:
            try:
                text = universal_newlines(decode_python(Path(key).read_bytes()).text)
            except (OSError, ValueError):
                return None
            names = self._public[key] = public_names(text)
        return names

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
            if self._isfile(str(candidate)):
                return self.analyse(str(candidate.resolve()))
        return None

    def _directory(self, path: str) -> str:
        """The absolute directory of a file (asked once per imported name: normalising the
        path each time showed in the profile)."""
        found = self._directories.get(path)  # an absolute path is its own key
        if found is not None:
            return found
        key = path if os.path.isabs(path) else (os.getcwd(), path)
        found = self._directories.get(key)
        if found is None:
            found = self._directories[key] = os.path.dirname(os.path.abspath(path))
        return found

    def _candidates(self, importer: str, module: str, level: int) -> tuple[str, ...]:
        """Paths ``module`` (imported from the file ``importer``) may be, in search order."""
        here = self._directory(importer)
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
        tail = os.sep.join(parts)
        for base in bases:  # absolute, normalised directories: joined as strings (the profile)
            target = f"{base}{os.sep}{tail}" if tail else base
            init = f"{target}{os.sep}__init__.py"
            found.append(f"{target}.py" if parts else init)
            found.append(init)
        return tuple(found)

    # ----------------------------------------------------------------- files
    def _load(self, key: str) -> SourceFile | None:
        try:
            data = Path(key).read_bytes()
            if len(data) > 2_000_000 or b"\0" in data:
                return None
            source = universal_newlines(decode_python(data).text)
            if not _DEFINES.search(source) and not might_have_findings(source) and not (
                    self.imports_relevant_module(key, source)):
                # No function or class to call, and no torch name of the tables here nor in
                # what it imports: only its imports can matter (re-exports such as a package
                # __init__); parsing them alone is cheaper.
                file = SourceFile(self._display_path(key), source, _imports_only(source))
                file.imports_only = True
                return file
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = parse_long_lived(source, key)
        except (OSError, SyntaxError, ValueError, MemoryError, RecursionError):  # SourceError is a ValueError
            return None
        return SourceFile(self._display_path(key), source, tree)

    @staticmethod
    def _display_path(key: str) -> str:
        """Relative to the working directory when the file is below it (``key`` is
        absolute and normalised), else absolute."""
        here = os.path.join(os.getcwd(), "")
        return key[len(here):] if key.startswith(here) else key

    def _project_texts(self) -> dict[str, str]:
        if self._texts is None:
            self._texts = {}
            count = 0
            for directory, subdirs, files in os.walk(self.root):
                subdirs[:] = [d for d in subdirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
                for name in files:
                    if not name.endswith(".py"):
                        continue
                    count += 1
                    if count > _MAX_PROJECT_FILES:
                        self._texts_truncated = True
                        return self._texts
                    path = os.path.join(directory, name)
                    try:
                        self._texts[os.path.abspath(path)] = Path(path).read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        continue
        return self._texts


def _parsed(source: str, path: str) -> ast.Module | None:
    """The whole tree of a project file read for a registry (short-lived: not frozen)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source, path)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _stem(path: str) -> str:
    """The word an import line names a module by: its file's stem, a package's folder."""
    folder, name = os.path.split(path)
    return os.path.basename(folder) if name == "__init__.py" else name.removesuffix(".py")


@functools.lru_cache(maxsize=65536)
def _imported_words(statement: str) -> frozenset[str] | None:
    """The names a ``from m import a, b as c`` statement imports (``*`` included); None for
    ``import m``."""
    if not statement.lstrip().startswith("from"):
        return None
    names = statement.split("import", 1)[1].replace("(", " ").replace(")", " ").replace("\\", " ")
    words = (part.split() for part in names.split(","))
    return frozenset(w[0] for w in words if w and not w[0].startswith("#"))


_TOP_LEVEL_DEF = re.compile(r"^(?:async[ \t]+)?def[ \t]", re.MULTILINE)
_DEFINES = re.compile(r"^[ \t]*(?:async[ \t]+def|def|class)[ \t]", re.MULTILINE)


_TOP_LEVEL_NAME = re.compile(r"^(?:(?:async[ \t]+)?def|class)[ \t]+(\w+)|^(\w+)[ \t]*(?::[^=\n]*)?=(?!=)", re.MULTILINE)
_ALL = re.compile(r"^__all__[ \t]*=[ \t]*([\[(][^\]\)]*[\])])", re.MULTILINE)


def public_names(text: str) -> list[str]:
    """The names ``from m import *`` binds, by text: ``__all__`` when it is a literal list
    or tuple of strings, else every top-level def, class, assignment and import whose name
    does not start with ``_``."""
    match = _ALL.search(text)
    if match is not None:
        try:
            value = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
    names: list[str] = []
    for m in _TOP_LEVEL_NAME.finditer(text):
        names.append(m.group(1) or m.group(2))
    for statement in _parsed_imports(text, top_level_only=True):
        names.extend((a.asname or a.name).split(".")[0] for a in statement.names if a.name != "*")
    return [n for n in dict.fromkeys(names) if n.isidentifier() and not n.startswith("_")]


def _module_name(path: str, root: str) -> str:
    relative = os.path.relpath(path, root)
    return relative[:-3].replace(os.sep, ".").removesuffix(".__init__")


def _parsed_imports(source: str, top_level_only: bool = False) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of ``source``, each parsed alone (so one that sits in an
    ``if``/``try`` block still counts; ``top_level_only``: those at column 0)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for text in import_statement_texts(source):
        if top_level_only and text[:1].isspace():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                found.extend(n for n in ast.parse(text.strip()).body if isinstance(n, (ast.Import, ast.ImportFrom)))
            except (SyntaxError, ValueError):
                continue
    return found


def _imports_only(source: str) -> ast.Module:
    """A module holding just the import statements of ``source``."""
    return ast.Module(body=list(_parsed_imports(source)), type_ignores=[])


def receivers(tree: ast.Module, consuming: Hotness | None = None) -> dict[str, frozenset[str]]:
    """The module's functions and classes whose findings can depend on what other files
    give them, each with the attributes another file would have to set for that:

    * a function that calls one of its parameters (``loss_fn(model(x), y)``): no attribute;
      a class with such a method: the method's name (``CALLS``), which a file passing the
      parameter spells, or no attribute when the method is called without its name
      (``forward``, ``__init__``, the other special methods);
    * a class whose methods call an attribute of ``self`` that the class sets from a
      parameter (a setter, a constructor argument): no attribute;
    * a class whose methods call an attribute of ``self`` that it never sets: those
      attributes (``model.criterion = nn.NLLLoss()`` by its user);
    * a class whose methods call its own methods: ``OVERRIDES`` and the name of each
      method they call on the instance, through the class's own methods (a subclass in
      another file may override one; it spells its name, or derives from another base
      too, which may define it).

    * given the module's hot names (``consuming``: it spells a loss, a log or an exp,
      where a finding can be made), a class whose methods test an attribute its
      ``__init__`` stores from a parameter (``if self.probabilities:``) and one of which
      reaches such a sink: no attribute; the constructor call's literal decides the test
      (see flags).
    * a function or class whose functions hand a parameter on to one of those (an argument
      of a call of it): ``run_epoch(model, loader, loss)`` calling ``step(model, batch,
      loss)``, which calls ``loss``: no attribute.

    Facts of the tree only: renaming consistently changes nothing.
    """
    found: dict[str, frozenset[str]] = {}
    functions_of: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    for top in tree.body:
        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions_of[top.name] = [top]
            if body_facts(top).calls_parameters:
                found[top.name] = frozenset()
        elif isinstance(top, ast.ClassDef):
            methods = [m for m in top.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
            functions_of[top.name] = methods
            needs = _attributes_set_elsewhere(top, consuming)
            entries = _parameter_calling_methods(methods)
            if any(_called_without_its_name(m) for m in entries):
                needs = frozenset()  # ``model(x, loss)`` calling ``loss(...)`` in forward
            elif entries and needs != frozenset():
                # ``trainer.fit(model, loss)`` calling ``loss(...)``: only a file calling fit
                # (spelling it) can pass the loss.
                needs = (needs or frozenset()) | {CALLS + m for m in entries}
            if (consuming is not None and any(_reaches_consuming(consuming, m) for m in methods)
                    and construction_flag_tested(top)):
                needs = frozenset()
            if needs is not None:
                found[top.name] = needs
    # Handing on, to any depth: what a caller passes reaches a receiver through them.
    receiving = {name for name, needs in found.items() if not needs}
    changed = True
    while changed:
        changed = False
        for name, functions in functions_of.items():
            if name not in receiving and any(not body_facts(f).passes_parameters_to.isdisjoint(receiving)
                                             for f in functions):
                receiving.add(name)
                found[name] = frozenset()
                changed = True
    return found


def _used_outside_imports(text: str, name: str) -> bool:
    """Whether ``name`` is spelled, as a whole word, outside the import statements."""
    spans: list[tuple[int, int]] | None = None
    at = text.find(name)
    while at != -1:
        end = at + len(name)
        if (at == 0 or not _word_character(text[at - 1])) and (end == len(text) or not _word_character(text[end])):
            if spans is None:
                spans = [match.span() for match in import_statement_matches(text)]
            if not any(start <= at < stop for start, stop in spans):
                return True
        at = text.find(name, end)
    return False


def _word_character(character: str) -> bool:
    return character.isalnum() or character == "_"


def _parameter_calling_methods(methods: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> set[str]:
    """The methods that call one of their parameters, and those calling them on ``self``
    (a caller of those may pass what is called, through them)."""
    found = {m.name for m in methods if body_facts(m).calls_parameters}
    changed = bool(found)
    while changed:
        changed = False
        for method in methods:
            if method.name not in found and not body_facts(method).calls_on_first.isdisjoint(found):
                found.add(method.name)
                changed = True
    return found


def _called_without_its_name(method: str) -> bool:
    """A method a caller reaches without spelling it: ``forward`` and ``__call__`` through
    the instance call, ``__init__`` through the class, and the other special methods
    through operators and builtins. (Spelling the class is then enough: see _may_use.)"""
    return method in api.INSTANCE_CALL_METHODS or (method.startswith("__") and method.endswith("__"))


def _reaches_consuming(hot: Hotness, method: ast.AST) -> bool:
    """Whether the method reaches a loss, a log or an exp (by the module's hot names)."""
    facts = hot.functions.get(id(method))
    return hot.names is None or (facts is not None and not hot.names.isdisjoint(facts[1]))


def _attributes_set_elsewhere(cls: ast.ClassDef, consuming: Hotness | None = None) -> frozenset[str] | None:
    """None: nothing of the class depends on other files; empty: a parameter it stores is
    called; else the attributes it calls but never sets, and, when a method that reaches a
    loss, a log or an exp of this module (``consuming``: its hot names; None: it spells
    none) calls the class's own methods, which a subclass may override, OVERRIDES with
    every name the methods on the way call on the instance (through the own methods they
    call, to any depth): a subclass overriding none of them walks these methods as this
    class does. A subclass overriding what only the other methods call changes no
    finding made here: the sinks of this module are where its findings are, and a kind
    its methods only produce is reported where it is consumed (in the subclass's file,
    or at the caller's argument)."""
    called: set[str] = set()
    called_on_the_way: set[str] = set()  # by the methods that reach a sink of this module
    own: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    set_here: set[str] = set()
    from_parameters: set[str] = set()
    methods: set[str] = set()
    for method in cls.body:
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        methods.add(method.name)
        if not method.args.args:
            continue
        own[method.name] = method
        facts = body_facts(method)
        called |= facts.calls_on_first
        if consuming is not None and _reaches_consuming(consuming, method):
            called_on_the_way |= facts.calls_on_first
        set_here |= facts.stored_otherwise
        from_parameters |= facts.stored_from_parameters
    if called & from_parameters:
        return frozenset()
    unset = frozenset(called - set_here - from_parameters - methods)
    if called_on_the_way & methods:
        unset |= {OVERRIDES + name for name in _called_through(called_on_the_way, own)}
    return unset or None


def _called_through(called: set[str], own: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]) -> set[str]:
    """``called`` and what the own methods among them call on their instance, to any depth."""
    found = set(called)
    pending = [name for name in called if name in own]
    while pending:
        for name in body_facts(own[pending.pop()]).calls_on_first - found:
            found.add(name)
            if name in own:
                pending.append(name)
    return found


# Needed by a receiver: another file derives from the class and may override the method.
OVERRIDES = "<overrides>."
CALLS = "<calls>."  # needed by a receiver: another file spells the method after it


_PROJECTS: dict[str, Project] = {}


def project_for(path: str, root: str | None = None) -> Project:
    """The per-process project for ``path`` (found by its markers unless ``root`` is given)."""
    key = os.path.abspath(root) if root is not None else find_root(path)
    project = _PROJECTS.get(key)
    if project is None:
        project = _PROJECTS[key] = Project(key)
    return project


_importers_listener: Callable[[list[str]], None] | None = None


def listen_to_importer_walks(listener: Callable[[list[str]], None] | None) -> None:
    """Have ``listener`` told the files (absolute paths) this process is about to walk as
    a checked file's importers (a scheduler hands them to this process: see cli.parallel).
    What it raises ends the check in progress, before anything of it was reported."""
    global _importers_listener
    _importers_listener = listener


def walked_files() -> list[str]:
    """The files (absolute paths) this process's projects walked whole since the last
    call: checking them here costs little more than their importers' walk."""
    found: list[str] = []
    for project in _PROJECTS.values():
        found.extend(project.drained)
        project.drained.clear()
    return found


def forget_projects() -> None:
    """Drop every per-process project and found root (a benchmark or an editor starting over)."""
    _PROJECTS.clear()
    _ROOTS.clear()
    release_frozen()


__all__ = ["SKIP_DIRS", "ModuleValue", "Project", "find_root", "forget_projects", "listen_to_importer_walks",
           "project_for", "receivers", "walked_files"]
