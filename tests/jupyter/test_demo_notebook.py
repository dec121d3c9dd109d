"""examples/demo.ipynb: executed headlessly, its buggy training cell is flagged before it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.jupyter.conftest import Cells

pytest.importorskip("torch")  # the demo trains a model
pytestmark = pytest.mark.filterwarnings("ignore::xentguard.XentGuardWarning")  # the guard, while the cells run

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo.ipynb"
FLAG = ("XG101 line 5: criterion (nn.CrossEntropyLoss at cell [5], line 1) applies log_softmax itself, but its "
        "input is probabilities from nn.Softmax at cell [4], line 5 (through Net.forward at cell [4], line 7); "
        "pass the raw logits (when called from line 11)")


def code_cells() -> list[str]:
    notebook = json.loads(DEMO.read_text(encoding="utf-8"))
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def training_cells() -> tuple[int, int]:
    """Indexes (among code cells) of the buggy training cell and of the one after the fix."""
    calls = [i for i, source in enumerate(code_cells()) if "train(Net())" in source]
    assert len(calls) == 2, calls
    return calls[0], calls[1]


def test_the_demo_run_by_a_kernel_flags_the_training_cell_before_it_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # A kernel of this interpreter, importing this checkout, whatever kernels are installed.
    spec = tmp_path / "kernels" / "xentguard-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "xentguard test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(str(DEMO), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="xentguard-test", record_timing=False).execute()
    outputs = [cell.outputs for cell in notebook.cells if cell.cell_type == "code"]
    buggy, fixed = training_cells()
    first = outputs[buggy][0]
    # Under the cell, before anything the cell printed: the check ran before the code did.
    assert (first["output_type"], first["name"]) == ("stream", "stderr")
    assert first["text"].splitlines()[0] == FLAG
    streams = "".join(output.get("text", "") for output in outputs[buggy])
    assert streams.index(FLAG) < streams.index("epoch 1")
    assert "XentGuardWarning: XG101 at cell [6], line 5: CrossEntropyLoss applies log_softmax itself" in streams
    fixed_text = "".join(output.get("text", "") for output in outputs[fixed])
    assert "epoch 3" in fixed_text and "XG" not in fixed_text
    assert "1 finding reported" in "".join(output.get("text", "") for output in outputs[-1])


def test_fed_to_a_shell_in_raise_mode_the_training_cell_does_not_run(cells: Cells) -> None:
    buggy, fixed = training_cells()
    ran = []
    for index, source in enumerate(code_cells()):
        ran.append(cells.run(source))
        if index == 0:
            cells.run("%xentguard mode raise")  # one more cell: the demo's numbers move by one
    assert ran[buggy].findings == [FLAG.replace("cell [5]", "cell [6]").replace("cell [4]", "cell [5]")]
    assert "epoch" not in ran[buggy].out and type(ran[buggy].result.error_before_exec).__name__ == "CellRejected"
    # train was never defined, so the cell after the fix fails in the kernel, and is not flagged.
    assert "NameError" in ran[fixed].out + ran[fixed].err and ran[fixed].findings == []


def _cli_findings() -> list[dict[str, Any]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "xentguard", "check", "--format", "json", str(DEMO)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_the_cell_by_cell_check_agrees_with_xentguard_check_on_the_notebook(cells: Cells) -> None:
    found = []
    for number, source in enumerate(code_cells(), start=1):
        found += [(number, line) for line in cells.run(source).findings]
    # Each code cell runs as In [N] = the N-th code cell, the numbering `xentguard check` uses.
    expected = [(f["cell"], f"{f['code']} line {f['line']}") for f in _cli_findings()]
    assert [(number, line.split(":")[0]) for number, line in found] == expected
