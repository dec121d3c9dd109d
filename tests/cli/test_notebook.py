"""Jupyter notebooks: code cells as one program, IPython syntax skipped, cell positions."""

from __future__ import annotations

from pathlib import Path

from conftest import BAD, notebook, run_cli, run_json, write

CELLS = (
    ("markdown", "# Training\n"),
    "%matplotlib inline\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n",
    "!pip install something\ncriterion = nn.CrossEntropyLoss()\n",
    "%%bash\necho this is not python (\n",
    "model = nn.Linear(4, 3)\nx = torch.randn(2, 4)\ny = torch.tensor([0, 1])\n",
    "%time out = model(x)\nout = model(x)\nprobs = F.softmax(out, dim=1)\n",
    ("raw", "not code"),
    "def step():\n    %time pass\n    loss = criterion(probs, y)\n    return loss\nstep?\n",
)


def test_cells_are_one_program(project: Path) -> None:
    write(project / "train.ipynb", notebook(*CELLS))
    rc, data = run_json("train.ipynb", cwd=project)
    assert rc == 1
    (item,) = data
    assert item["code"] == "XG101"
    # criterion (code cell 2) used in code cell 6, with probs from code cell 5
    assert (item["cell"], item["line"], item["col"]) == (6, 3, 22)
    assert "cell 5, line 3" in item["message"], item["message"]
    cells = {(e["cell"], e["line"]) for e in item["evidence"]}
    assert (5, 3) in cells, item["evidence"]


def test_text_format_names_cell(project: Path) -> None:
    write(project / "train.ipynb", notebook(*CELLS))
    proc = run_cli("check", "train.ipynb", cwd=project)
    assert proc.stdout.startswith("train.ipynb:cell 6:3:22: XG101 "), proc.stdout


def test_notebook_noqa_and_discovery(project: Path) -> None:
    cells = list(CELLS)
    cells[-1] = cells[-1].replace("loss = criterion(probs, y)", "loss = criterion(probs, y)  # noqa: XG101")
    write(project / "nb" / "ok.ipynb", notebook(*cells))
    write(project / "nb" / ".ipynb_checkpoints" / "ok-checkpoint.ipynb", notebook(*CELLS))
    rc, data = run_json(".", cwd=project)
    assert (rc, data) == (0, [])


def test_broken_notebook_is_reported_and_run_goes_on(project: Path) -> None:
    write(project / "a_broken.ipynb", '{"cells": [{"cell_type": "code", "source": ')
    write(project / "b_wrong.ipynb", '{"cells": 3}')
    write(project / "c.py", BAD)
    proc = run_cli("check", ".", cwd=project)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("a_broken.ipynb:1:1: XG999 cannot read notebook: not valid JSON"), lines
    assert lines[1].startswith("b_wrong.ipynb:1:1: XG999 cannot read notebook: 'cells' is not a list")
    assert lines[2].startswith("c.py:5:28: XG101")
    assert "Traceback" not in proc.stderr


def test_non_python_notebook_skipped(project: Path) -> None:
    meta = {"kernelspec": {"language": "R", "name": "ir"}, "language_info": {"name": "R"}}
    write(project / "r.ipynb", notebook("x <- softmax(1)\n", metadata=meta))
    proc = run_cli("check", "r.ipynb", cwd=project)
    assert proc.returncode == 0 and "not a Python notebook" in proc.stderr


def test_fix_declines_notebooks(project: Path) -> None:
    nb = notebook(
        "import torch.nn.functional as F\n",
        "def f(out, y):\n    return F.cross_entropy(F.softmax(out, 1), y)\n",
    )
    path = write(project / "n.ipynb", nb)
    proc = run_cli("check", "--fix", "n.ipynb", cwd=project)
    assert proc.returncode == 1
    assert "fixes in notebooks are not applied" in proc.stderr
    assert path.read_text(encoding="utf-8") == nb
