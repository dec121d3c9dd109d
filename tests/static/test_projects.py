"""Multi-file fixture projects: findings across modules and calls, through real flake8
and through ``xentguard check``; both must report exactly the inline expectations."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.static.expectations import Expectation, expectations
from tests.static.test_fixtures_flake8 import reported
from xentguard.static import analyze_source
from xentguard.static.project import CALLS, find_root, forget_projects, project_for, receivers

PROJECTS = sorted(p for p in (FIXTURES / "projects").iterdir() if p.is_dir() and any(p.rglob("*.py")))


def expected_in(project: Path) -> set[Expectation]:
    found = set()
    for path in project.rglob("*.py"):
        for _, line, col, code in expectations(path):
            found.add((os.path.relpath(path, project), line, col, code))
    return found


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_flake8_over_a_project(project: Path, jobs: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "XG", "--jobs", jobs, "."],
        cwd=project, capture_output=True, text=True, check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    found = {(os.path.normpath(p), line, col, code) for p, line, col, code in reported(result.stdout)}
    assert found == expected_in(project)


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_cli_over_a_project(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "xentguard", "check", "--format", "json", "."],
        cwd=project, capture_output=True, text=True, check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    items = json.loads(result.stdout)
    found = {
        (os.path.normpath(item["path"]), item["line"], item["col"], item["code"])
        for item in items
        if not item["path"].endswith(".ipynb")
    }
    assert found == expected_in(project)


def test_notebook_importing_a_project_module() -> None:
    project = FIXTURES / "projects" / "notebook_import"
    result = subprocess.run(
        [sys.executable, "-m", "xentguard", "check", "--format", "json", "."],
        cwd=project, capture_output=True, text=True, check=False,
    )
    items = [item for item in json.loads(result.stdout) if item["path"].endswith(".ipynb")]
    assert [(item["code"], item["cell"], item["line"]) for item in items] == [("XG106", 3, 2)]
    assert "nets.py" in items[0]["message"]


def _receivers_of(code: str) -> dict[str, frozenset[str]]:
    return receivers(ast.parse(textwrap.dedent(code)))


def test_receivers_are_functions_calling_a_parameter_and_classes() -> None:
    found = _receivers_of(
        """
        import torch.nn.functional as F

        def train(model, loader, loss_fn):
            for x, y in loader:
                loss_fn(model(x), y).backward()

        def compute(out, y):
            return F.cross_entropy(out, y)

        class Trainer:
            def step(self, batch):
                return self.criterion(batch[0], batch[1])

        class Holder:
            def __init__(self, loss):
                self.loss = loss
                self.norm = make_norm()

            def run(self, x):
                return self.loss(self.norm(x))

        class Model:
            def __init__(self):
                self.body = make_body()

            def forward(self, x):
                return self.body(x)

        def unrelated(a, b):
            return a + b
        """
    )
    # compute's finding, if any, is at its caller's argument: the caller's file has it.
    # Trainer depends on whoever sets .criterion; Holder on its constructor's argument;
    # Model sets everything it calls itself.
    assert found == {"train": frozenset(), "Trainer": frozenset({"criterion"}), "Holder": frozenset()}


def test_receivers_do_not_depend_on_names() -> None:
    named = _receivers_of("def run(model, x, loss_fn):\n    return loss_fn(model(x))\n")
    renamed = _receivers_of("def q1(q2, q3, q4):\n    return q4(q2(q3))\n")
    assert set(named) == {"run"} and set(renamed) == {"q1"}


def test_project_root_is_found_once_per_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    package = tmp_path / "pkg"
    package.mkdir()
    assert find_root(str(package / "a.py")) == str(tmp_path)
    (package / "setup.py").write_text("")  # directories are cached: a run sees one layout
    assert find_root(str(package / "b.py")) == str(tmp_path)
    assert find_root(str(package / "sub" / "c.py")) == str(package)
    forget_projects()  # starting over sees the new marker
    assert find_root(str(package / "b.py")) == str(package)


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_each_file_checked_first_and_alone_reports_its_findings(project: Path) -> None:
    """A finding computed in one file while walking its importer is reported whatever the
    order: each file checked first in a fresh process state gets exactly its expectations."""
    expected = expected_in(project)
    for path in sorted(project.rglob("*.py")):
        forget_projects()
        source = path.read_text(encoding="utf-8")
        found = {(os.path.relpath(path, project), f.line, f.col + 1, f.code)
                 for f in analyze_source(source, str(path), project_root=str(project))}
        relative = os.path.relpath(path, project)
        assert found == {e for e in expected if e[0] == relative}, relative
    forget_projects()


def test_a_module_named_like_the_library_it_imports_is_not_its_own_import(tmp_path: Path) -> None:
    # Reduced from transformers 4.46.3, transformers/utils/logging.py: ``import logging``
    # and ``from logging import DEBUG`` in a package module itself named logging.py. Read
    # as an import of the file itself, DEBUG was bound to itself and resolving it recursed
    # to the interpreter's limit, which dropped the file's findings.
    (tmp_path / "setup.cfg").write_text("")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    module = package / "logging.py"
    module.write_text(textwrap.dedent(
        """
        import logging
        from logging import DEBUG

        import torch.nn.functional as F

        level = DEBUG
        logging.getLogger(__name__)

        def step(logits, target):
            return F.cross_entropy(F.softmax(logits, dim=1), target)
        """))
    forget_projects()
    found = [(f.line, f.code) for f in analyze_source(module.read_text(), str(module), project_root=str(tmp_path))]
    forget_projects()
    assert found == [(11, "XG101")]


def test_a_cycle_of_re_exports_binds_nothing(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "b.py").write_text("from .a import helper\n")
    module = package / "a.py"
    module.write_text(textwrap.dedent(
        """
        import torch.nn.functional as F
        from .b import helper

        def step(logits, target):
            helper(logits)
            return F.cross_entropy(F.softmax(logits, dim=1), target)
        """))
    forget_projects()
    found = [(f.line, f.code) for f in analyze_source(module.read_text(), str(module), project_root=str(tmp_path))]
    forget_projects()
    assert found == [(7, "XG101")]


def test_a_loss_is_followed_through_named_and_star_re_exports(tmp_path: Path) -> None:
    from xentguard.static.project import Project

    for package, star in (("named", "shapes"), ("starred", "losses")):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(
            f"import os\nfrom torch import nn\nfrom .{star} import *\nfrom .losses import smoothed\n"
            "from .plain import tidy\n")
        (tmp_path / package / "losses.py").write_text(
            "import torch.nn.functional as F\n\ndef smoothed(x, y):\n    return F.nll_loss(x, y)\n")
        (tmp_path / package / "shapes.py").write_text("def pad(x):\n    return x\n")
        (tmp_path / package / "plain.py").write_text("def tidy(x):\n    return x\n")
    project = Project(str(tmp_path))

    def relevant(source: str) -> bool:  # each importer its own file: answers are kept per file
        importer = tmp_path / f"train_{len(list(tmp_path.glob('train_*.py')))}.py"
        importer.write_text(source)
        return project.imports_relevant_module(str(importer), source)

    assert relevant("from named import smoothed\n")
    assert not relevant("from named import pad, tidy, nn\n")
    # A star import from a module spelling a loss may bind any name.
    assert relevant("from starred import tidy\n")


def test_a_module_imported_whole_counts_when_it_imports_a_loss_through_any_chain(tmp_path: Path) -> None:
    # ``from src import trainer`` in a script: trainer spells no loss, but reaches one
    # through ``from .criterion import get_criterion`` (fixtures/realworld/bugs/105).
    from xentguard.static.project import Project

    src = tmp_path / "src"
    src.mkdir()
    (src / "__init__.py").write_text("")
    (src / "criterion.py").write_text("import torch.nn as nn\n\ndef get(p, y):\n    return nn.NLLLoss()(p, y)\n")
    (src / "trainer.py").write_text("from .criterion import get\n\ndef step(p, y):\n    return get(p, y)\n")
    (src / "meters.py").write_text("import os\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n")
    (src / "logs.py").write_text("from . import meters\n")
    project = Project(str(tmp_path))
    for name, source, expected in (("run_a.py", "from src import trainer\n", True),
                                   ("run_b.py", "import src.trainer\n", True),
                                   ("run_c.py", "from src import logs\n", False)):
        (tmp_path / name).write_text(source)
        assert project.imports_relevant_module(str(tmp_path / name), source) is expected, name


def test_a_project_package_whose_name_starts_with_torch_is_the_projects(tmp_path: Path) -> None:
    # ``import torchkit.heads`` in a project whose namespace package (no __init__.py) is
    # torchkit: the project's module, not torch's (only ``torch`` and ``torch.*`` are).
    (tmp_path / "setup.cfg").write_text("")
    package = tmp_path / "torchkit"
    package.mkdir()
    (package / "heads.py").write_text(textwrap.dedent(
        """
        from torch import nn

        class Scorer(nn.Module):
            def __init__(self):
                super().__init__()
                self.out = nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1))

            def forward(self, x):
                return self.out(x)
        """))
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(
        """
        import torch.nn.functional as F
        import torchkit.heads

        def step(x, y):
            return F.cross_entropy(torchkit.heads.Scorer()(x), y)
        """))
    forget_projects()
    found = [(f.line, f.code) for f in analyze_source(script.read_text(), str(script), project_root=str(tmp_path))]
    forget_projects()
    assert found == [(6, "XG101")]


def test_the_project_reads_the_files_the_cli_checks(tmp_path: Path) -> None:
    # One list of directories without project code: a module kept in a cache, an
    # environment or a checkpoint folder is neither checked nor imported from.
    from xentguard.cli.files import walk
    from xentguard.static.project import Project

    for folder in ("pkg", ".eggs", ".ipynb_checkpoints", "dist-packages", ".ci-venv", "__pypackages__"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "mod.py").write_text("x = 1\n")
    read = {os.path.relpath(path, tmp_path) for path in Project(str(tmp_path))._project_texts()}
    checked = {os.path.relpath(path, tmp_path) for path in walk(str(tmp_path), (), str(tmp_path))}
    assert read == checked == {os.path.join("pkg", "mod.py")}


def test_a_function_handing_its_parameters_on_to_a_receiver_is_one() -> None:
    found = _receivers_of(
        """
        def step(model, batch, loss):
            return loss(model(batch[0]), batch[1])

        def epoch(model, loader, loss):
            return [step(model, batch, loss) for batch in loader]

        def epochs(model, loader, loss, n):
            return [epoch(model, loader, loss) for _ in range(n)]

        class Runner:
            def fit(self, model, loader, loss):
                return epochs(model, loader, loss, 3)

        def unrelated(loader):
            return step(None, [len(loader), 0], print)

        def counts(model, loader):
            return len(loader)
        """
    )
    assert found == {name: frozenset() for name in ("step", "epoch", "epochs", "Runner")}


def test_a_class_whose_method_calls_a_parameter_is_a_receiver() -> None:
    # Reduced from jamesli1618/Obj-GAN box_generation/seq2seq/trainer/supervised_trainer.py:
    # the trainer's method calls the decoder it is given; the script passes it in.
    found = _receivers_of(
        """
        class Runner:
            def __init__(self, loss):
                self.loss = loss

            def batch(self, decoder, targets):
                outputs = decoder(targets)
                loss = self.loss
                return loss.eval_batch(outputs, targets)

        class Plain:
            def forward(self, x):
                return x * 2
        """
    )
    # Only a file calling ``batch`` (spelling it) can hand it a decoder.
    assert found == {"Runner": frozenset({CALLS + "batch"})}


def test_methods_calling_a_parameter_calling_method_and_implicit_calls() -> None:
    found = _receivers_of(
        """
        class Runner:
            def batch(self, decoder, targets):
                return decoder(targets)

            def epoch(self, decoder, data):
                return [self.batch(decoder, t) for t in data]

            def unrelated(self):
                return 0

        class Head:
            def forward(self, x, loss_fn):
                return loss_fn(x)
        """
    )
    # epoch hands its parameter on to batch; forward is reached by calling the instance,
    # which spells no method: spelling the class is enough.
    assert found == {"Runner": frozenset({CALLS + "batch", CALLS + "epoch"}), "Head": frozenset()}


def test_an_importer_passing_nothing_to_a_parameter_calling_method_is_not_walked(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("")
    (tmp_path / "runner.py").write_text(textwrap.dedent(
        """
        import torch.nn.functional as F

        class Runner:
            def batch(self, score, x, y):
                return F.cross_entropy(score(x), y)
        """))
    (tmp_path / "calls.py").write_text(textwrap.dedent(
        """
        import torch.nn.functional as F
        from runner import Runner

        def run(x, y):
            return Runner().batch(lambda v: F.softmax(v, dim=1), x, y)
        """))
    (tmp_path / "subclass.py").write_text(textwrap.dedent(
        """
        import torch.nn.functional as F
        from runner import Runner

        class Mine(Runner):
            def probs(self, x):
                return F.softmax(x, dim=1)
        """))
    forget_projects()
    project = project_for(str(tmp_path / "runner.py"), str(tmp_path))
    runner = tmp_path / "runner.py"
    importers = project.receiving_importers(str(runner), ast.parse(runner.read_text()))
    assert [os.path.basename(p) for p in importers] == ["calls.py"]
    found = [(f.line, f.code) for f in analyze_source(runner.read_text(), str(runner), project_root=str(tmp_path))]
    forget_projects()
    assert found == [(6, "XG101")]


_OVERRIDDEN_BASE = """
    import torch.nn as nn
    import torch.nn.functional as F


    class Head(nn.Module):
        def scores(self, x):
            return x

        def loss(self, x, y):
            return F.cross_entropy(self.scores(x), y)
    """
_SUBCLASSES = {
    # Overrides what Head.loss calls on itself: Head.loss walked for it reaches the loss.
    "override.py": """
        import torch.nn.functional as F
        from base import Head


        class SoftHead(Head):
            def scores(self, x):
                return F.softmax(x, dim=1)


        def train(x, y):
            return SoftHead().loss(x, y)
        """,
    # Overrides nothing Head's methods call: Head.loss walks for it as for Head.
    "plain.py": """
        import torch.nn.functional as F
        from base import Head


        class Named(Head):
            def describe(self, x):
                return F.softmax(x, dim=1)


        def train(x, y):
            return Named().loss(x, y)
        """,
    # Spells nothing Head calls, but another base comes first in its method order.
    "mixed.py": """
        from base import Head
        from mixin import SoftScores


        class Mixed(SoftScores, Head):
            pass


        def train(x, y):
            return Mixed().loss(x, y)
        """,
    "mixin.py": """
        import torch.nn.functional as F


        class SoftScores:
            def scores(self, x):
                return F.softmax(x, dim=1)
        """,
}


def _write(root: Path, files: dict[str, str]) -> None:
    (root / "setup.cfg").write_text("")
    for name, code in files.items():
        (root / name).write_text(textwrap.dedent(code))


def test_a_subclass_is_walked_for_its_base_only_when_it_may_override_what_the_base_calls(tmp_path: Path) -> None:
    _write(tmp_path, {"base.py": _OVERRIDDEN_BASE, **_SUBCLASSES})
    base = tmp_path / "base.py"
    forget_projects()
    project = project_for(str(base), str(tmp_path))
    importers = project.receiving_importers(str(base), ast.parse(base.read_text()))
    forget_projects()
    assert sorted(os.path.basename(p) for p in importers) == ["mixed.py", "override.py"]


@pytest.mark.parametrize("subclass", ["override.py", "mixed.py"])
def test_a_base_method_reaching_a_loss_through_an_override_reports_in_the_base(tmp_path: Path, subclass: str) -> None:
    files = {"base.py": _OVERRIDDEN_BASE, "plain.py": _SUBCLASSES["plain.py"], subclass: _SUBCLASSES[subclass]}
    if subclass == "mixed.py":
        files["mixin.py"] = _SUBCLASSES["mixin.py"]
    _write(tmp_path, files)
    base = tmp_path / "base.py"
    forget_projects()
    found = [(f.line, f.code) for f in analyze_source(base.read_text(), str(base), project_root=str(tmp_path))]
    forget_projects()
    assert found == [(11, "XG101")]
