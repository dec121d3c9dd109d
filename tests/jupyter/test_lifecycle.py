"""Loading, ``%xentguard`` off/on, unloading: hooks and guard come and go, the originals
come back (the very same objects), and the runtime guard names cells while it is on."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from tests.jupyter.conftest import Cells

torch = pytest.importorskip("torch")
F = torch.nn.functional

import xentguard  # noqa: E402
from xentguard.runtime import hooks, report  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LOSSES = tuple(hooks.GUARDED)


def hooks_of(shell: InteractiveShell) -> dict[str, Any]:
    """Everything of the shell's that the extension may touch, as copies to compare."""
    return {
        "pre_run_cell": list(shell.events.callbacks["pre_run_cell"]),
        "post_run_cell": list(shell.events.callbacks["post_run_cell"]),
        "ast_transformers": list(shell.ast_transformers),
        "line_magics": set(shell.magics_manager.magics["line"]),
        "losses": {name: getattr(F, name) for name in LOSSES},
        "site_namers": list(report._SITE_NAMERS),
        "formatwarning": warnings.formatwarning,
    }


def test_unload_restores_every_hook_and_the_original_loss_functions(cells: Cells) -> None:
    before = hooks_of(cells.shell)
    originals = {name: getattr(F, name) for name in LOSSES}
    cells.load()
    loaded = hooks_of(cells.shell)
    assert loaded != before
    assert "xentguard" in loaded["line_magics"]
    assert all(getattr(F, name) is not originals[name] for name in LOSSES)  # the guard is on
    cells.run("%unload_ext xentguard")
    assert hooks_of(cells.shell) == before
    assert all(getattr(F, name) is originals[name] for name in LOSSES)  # identical objects
    assert not xentguard.is_installed()
    gone = cells.run("%xentguard status")
    assert "UsageError" in gone.out + gone.err and "xentguard" not in cells.shell.magics_manager.magics["line"]


def test_off_restores_everything_and_on_brings_it_back(cells: Cells) -> None:
    before = hooks_of(cells.shell)
    cells.load()
    cells.run("import torch.nn as nn\nimport torch.nn.functional as F\nimport torch")
    assert cells.run("%xentguard off").out == "xentguard: off\n"
    after = hooks_of(cells.shell)
    assert {k: v for k, v in after.items() if k != "line_magics"} == {
        k: v for k, v in before.items() if k != "line_magics"}
    assert after["line_magics"] == before["line_magics"] | {"xentguard"}  # to turn it on again
    quiet = cells.run("loss = nn.CrossEntropyLoss()(F.softmax(torch.randn(2, 3), dim=1), torch.tensor([0, 1]))")
    assert quiet.err == "" and quiet.findings == []
    cells.run("%xentguard on")
    loud = cells.run("loss = nn.CrossEntropyLoss()(F.softmax(torch.randn(2, 3), dim=1), torch.tensor([0, 1]))")
    assert [line.split(":")[0] for line in loud.findings] == ["XG101 line 1"]


def test_runtime_findings_name_the_cell_and_line(cells: Cells) -> None:
    cells.load()
    cells.run("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F")
    # A loss chosen by name: the static check cannot know it, the guard sees what reaches it.
    cells.run("criterion = getattr(nn, 'CrossEntropyLoss')()")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ran = cells.run("y = torch.zeros(8, dtype=torch.long)\nloss = criterion(torch.randn(8, 3).softmax(dim=1), y)")
    assert ran.findings == []
    messages = [str(w.message) for w in caught if isinstance(w.message, xentguard.XentGuardWarning)]
    assert len(messages) == 1 and messages[0].startswith("XG101 at cell [4], line 2: CrossEntropyLoss applies")
    # Shown as the finding alone: the message names the cell, IPython's hashed file name would not.
    shown = warnings.formatwarning(caught[0].message, caught[0].category, caught[0].filename, caught[0].lineno)
    assert shown == f"XentGuardWarning: {messages[0]}\n"
    other = warnings.formatwarning(UserWarning("x"), UserWarning, "lib.py", 3)
    assert other.startswith("lib.py:3: UserWarning: x")


@pytest.mark.parametrize("magic", ["%%time", "%%capture out"])
def test_runtime_findings_in_a_cell_magics_body_name_the_cell_and_line(cells: Cells, magic: str) -> None:
    cells.load()
    cells.run("import torch\nimport torch.nn as nn\ncriterion = getattr(nn, 'CrossEntropyLoss')()")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cells.run(f"{magic}\ny = torch.zeros(8, dtype=torch.long)\nloss = criterion(torch.randn(8, 3).softmax(1), y)")
    messages = [str(w.message) for w in caught if isinstance(w.message, xentguard.XentGuardWarning)]
    assert [m.split(":")[0] for m in messages] == ["XG101 at cell [3], line 3"]


def test_runtime_raise_mode_raises_in_the_cell(cells: Cells) -> None:
    cells.load()
    cells.run("import torch\nimport torch.nn as nn\ncriterion = getattr(nn, 'CrossEntropyLoss')()")
    cells.run("%xentguard mode raise")
    ran = cells.run("loss = criterion(torch.randn(8, 3).softmax(dim=1), torch.zeros(8, dtype=torch.long))\nafter = 1")
    assert isinstance(ran.result.error_in_exec, xentguard.LossMisuseError)
    assert str(ran.result.error_in_exec).startswith("XG101 at cell [4], line 1:")
    assert "after" not in cells.ns


def test_runtime_off_uninstalls_and_static_still_checks(cells: Cells) -> None:
    originals = {name: getattr(F, name) for name in LOSSES}
    cells.load()
    assert cells.run("%xentguard runtime off").out == "xentguard: runtime off\n"
    assert all(getattr(F, name) is originals[name] for name in LOSSES)
    assert "runtime guard: off" in cells.run("%xentguard status").out
    cells.run("import torch\nimport torch.nn.functional as F")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ran = cells.run("loss = F.cross_entropy(F.softmax(torch.randn(2, 3), dim=1), torch.tensor([0, 1]))")
    assert [line.split(":")[0] for line in ran.findings] == ["XG101 line 1"]
    assert not [w for w in caught if isinstance(w.message, xentguard.XentGuardWarning)]
    cells.run("%xentguard runtime on")
    assert xentguard.is_installed()


def test_the_users_own_guard_is_left_alone(cells: Cells) -> None:
    xentguard.install(mode="log")
    mine = {name: getattr(F, name) for name in LOSSES}
    cells.load()
    assert "left to your own xentguard.install()" in cells.run("%xentguard status").out
    cells.run("%unload_ext xentguard")
    assert xentguard.is_installed() and all(getattr(F, name) is mine[name] for name in LOSSES)


def test_status_mode_and_usage_errors(cells: Cells) -> None:
    cells.load()
    assert cells.run("%xentguard").out == (
        "xentguard: on, mode warn\n"
        "  static check:  on (2 cells checked, 0 findings reported)\n"
        "  runtime guard: on (warn)\n")
    assert cells.run("%xentguard mode raise").out == "xentguard: mode raise\n"
    assert "mode raise" in cells.run("%xentguard status").out
    for bad in ("mode loud", "static maybe", "frobnicate", "explain XG101 XG102", "check now"):
        ran = cells.run(f"%xentguard {bad}")
        assert "UsageError" in ran.out + ran.err and "Traceback" not in ran.out + ran.err, bad
    assert "mode raise" in cells.run("%xentguard status").out  # nothing changed


def test_explain_prints_the_rule_page_of_the_cli(cells: Cells) -> None:
    from xentguard.catalogue import RULES
    from xentguard.cli.explain import explain, list_rules

    cells.load()
    assert cells.run("%xentguard explain XG101").out == explain(RULES["XG101"])
    assert cells.run("%xentguard explain xg106").out == explain(RULES["XG106"])
    assert cells.run("%xentguard explain").out == list_rules()
    unknown = cells.run("%xentguard explain XG000")
    assert "UsageError: unknown rule 'XG000'" in unknown.out + unknown.err


def test_check_rechecks_every_executed_cell_and_prints_all_findings(cells: Cells) -> None:
    cells.run("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F")
    cells.run("criterion = nn.CrossEntropyLoss()")
    cells.run("l1 = criterion(F.softmax(torch.randn(2, 3), dim=1), torch.tensor([0, 1]))")  # before loading
    cells.load()
    cells.run("l2 = criterion(F.softmax(torch.randn(2, 3), dim=1), torch.tensor([0, 1]))")
    ran = cells.run("%xentguard check")
    assert [line.split(":")[0] for line in ran.findings] == ["XG101 cell [3], line 1", "XG101 cell [5], line 1"]
    assert ran.err.splitlines()[-1] == "xentguard: 2 findings in 6 cells (cell [3], cell [5])"


def test_loading_twice_and_unloading_twice_are_harmless(cells: Cells) -> None:
    cells.load()
    cells.run("%load_ext xentguard")
    assert cells.shell.events.callbacks["pre_run_cell"].count(
        cells.shell.events.callbacks["pre_run_cell"][-1]) == 1
    cells.run("%unload_ext xentguard")
    assert cells.run("%unload_ext xentguard").result.success


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=300)


def test_import_xentguard_imports_neither_ipython_nor_torch() -> None:
    proc = _python("""
        import sys
        import xentguard
        assert callable(xentguard.load_ipython_extension)
        print(sorted(m for m in ("IPython", "torch", "xentguard.jupyter") if m in sys.modules))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_without_torch_the_static_half_works_and_says_so_once() -> None:
    proc = _python("""
        import sys
        sys.modules["torch"] = None  # as if torch were not installed
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        shell = InteractiveShell.instance(config=config)
        for cell in ["%load_ext xentguard",
                     "import torch.nn as nn",
                     "criterion = nn.CrossEntropyLoss()",
                     "loss = criterion(nn.Softmax(dim=1)(logits), y)",
                     "%xentguard status"]:
            shell.run_cell(cell, store_history=True)
        print("xentguard.runtime" in sys.modules)
    """)
    lines = proc.stderr.splitlines()
    assert [line for line in lines if "torch is not installed" in line] == [
        "xentguard: torch is not installed, so cells are checked statically only (the runtime guard needs torch)"]
    assert any(line.startswith("XG101 line 1: criterion (nn.CrossEntropyLoss at cell [3], line 1)") for line in lines)
    assert "runtime guard: unavailable (torch is not installed)" in proc.stdout
    assert proc.stdout.strip().endswith("False")
