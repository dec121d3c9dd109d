"""Jupyter notebooks: code cells as one program, IPython syntax skipped, cell positions."""

from __future__ import annotations

import json
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


# A cell with the softmax bug, to show that the rest of a notebook is still analysed.
IMPORTS = "import torch.nn.functional as F\n"
BUG_CELL = "def step(out, y):\n    return F.cross_entropy(F.softmax(out, dim=1), y)\n"
BUG_AT = (3, 2, 28)  # (cell, line, col) of BUG_CELL when it is the third code cell


def _findings(project: Path, *cells: str) -> list[tuple[str, int, int, int]]:
    write(project / "nb.ipynb", notebook(*cells))
    _, data = run_json("nb.ipynb", cwd=project)
    return [(item["code"], item["cell"], item["line"], item["col"]) for item in data]


def test_percent_continuation_line_is_python(project: Path) -> None:
    # The real case: a %-format continued on the next line used to hide the whole notebook.
    formatting = "name, value = 'loss', 3\nprint('%s: %d'\n      %(name, value))\n"
    assert _findings(project, IMPORTS, formatting, BUG_CELL) == [("XG101", *BUG_AT)]


def test_continuation_lines_are_python_not_magics(project: Path) -> None:
    backslash = "ratio = 7 \\\n    %3\n"
    bracket = "total = sum([1,\n    2]) \\\n    % 5\n"
    # Had any of these lines been skipped as a magic, its cell would no longer parse (XG999).
    assert _findings(project, IMPORTS, backslash, BUG_CELL, bracket) == [("XG101", *BUG_AT)]


def test_magic_in_continued_string_is_python(project: Path) -> None:
    # The string ends on the line that looks like a magic: skipping that line would leave the
    # string unterminated and the cell broken.
    cell = 'doc = """first\n%time """ + "x"\n'
    assert _findings(project, IMPORTS, cell, BUG_CELL) == [("XG101", *BUG_AT)]


def test_help_syntax_is_skipped(project: Path) -> None:
    helps = "F.softmax?\nF.softmax??\n?F\n??F.cross_entropy\ntorch.*Tensor?\nnp.sum?\n%time?\nx = F?\n"
    indented = "if True:\n    F.softmax?\n"
    assert _findings(project, IMPORTS, helps, BUG_CELL, indented) == [("XG101", *BUG_AT)]


def test_question_mark_in_comment_or_string_is_not_help(project: Path) -> None:
    # A comment or string ending in "?" is Python; were it taken for help the cell would
    # lose its assignment and the loss below would see no softmax.
    cell = "def step(out, y):\n    p = F.softmax(out, dim=1)  # why?\n    return F.cross_entropy(p, y)\n"
    assert _findings(project, IMPORTS, "q = 'why?'\n", cell) == [("XG101", 3, 3, 28)]


def test_assigned_magic_keeps_the_name_bound(project: Path) -> None:
    # probs = !ls rebinds probs: what it held before must not reach the loss.
    cells = (IMPORTS, "def step(out, y):\n    probs = F.softmax(out, dim=1)\n    probs = !ls\n"
             "    return F.cross_entropy(probs, y)\n")
    assert _findings(project, *cells) == []


def test_broken_cell_is_reported_and_the_others_analysed(project: Path) -> None:
    write(project / "nb.ipynb", notebook(IMPORTS, "x = (1,\ndef broken(:\n", BUG_CELL))
    _, data = run_json("nb.ipynb", cwd=project)
    assert [(d["code"], d["cell"], d["line"]) for d in data] == [("XG999", 2, 2), ("XG101", 3, 2)], data
    assert data[0]["message"].startswith("XG999 cannot parse cell 2 of nb.ipynb: "), data[0]["message"]
    assert "(line 2, column" in data[0]["message"]
    proc = run_cli("check", "nb.ipynb", cwd=project)
    assert proc.stdout.startswith("nb.ipynb:cell 2:2:"), proc.stdout
    assert "nb.ipynb:cell 3:2:28: XG101" in proc.stdout, proc.stdout


def test_broken_cell_in_sarif_names_the_cell(project: Path) -> None:
    write(project / "nb.ipynb", notebook(IMPORTS, "x = )\n", BUG_CELL))
    proc = run_cli("check", "--format", "sarif", "nb.ipynb", cwd=project)
    results = json.loads(proc.stdout)["runs"][0]["results"]
    regions = {r["ruleId"]: r["locations"][0]["physicalLocation"]["region"] for r in results}
    assert regions["XG999"]["properties"] == {"cell": 2} and regions["XG999"]["startLine"] == 1
    assert regions["XG101"]["properties"] == {"cell": 3}


def test_cell_with_leading_indent_is_dedented(project: Path) -> None:
    # IPython removes the first line's indentation from the whole cell; columns stay the cell's.
    cell = "  def step(out, y):\n      %time pass\n      return F.cross_entropy(F.softmax(out, dim=1), y)\n"
    assert _findings(project, IMPORTS, cell) == [("XG101", 2, 3, 30)]
