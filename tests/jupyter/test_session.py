"""The session behind the extension (it needs no IPython): incremental, one walk per cell."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.interactiveshell import InteractiveShell

from tests.jupyter.conftest import Cells
from xentguard.jupyter.session import Session
from xentguard.jupyter.wording import describe

ROUND = [
    "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n",
    "class Net{r}(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 3)\n"
    "    def forward(self, x):\n        return self.fc(x)\n",
    "model_{r} = Net{r}()\ncriterion_{r} = nn.CrossEntropyLoss()\nx_{r} = torch.randn(8, 4)\n",
    "def step_{r}(model, loss_fn, x, y):\n    out = model(x)\n    return loss_fn(out, y)\n",
    "loss_{r} = step_{r}(model_{r}, criterion_{r}, x_{r}, y)\nprobs_{r} = F.softmax(model_{r}(x_{r}), dim=1)\n",
]


def counting(session: Session) -> Callable[[], int]:
    """Counts the statements the analyzer walks (the cells' and the functions' they call)."""
    walked = [0]
    original = session.analyzer.walk_stmt

    def walk_stmt(stmt: Any, frame: Any) -> bool:
        walked[0] += 1
        return original(stmt, frame)

    session.analyzer.walk_stmt = walk_stmt  # type: ignore[method-assign]

    def take() -> int:
        count, walked[0] = walked[0], 0
        return count

    return take


def test_a_cell_is_walked_once_however_long_the_history() -> None:
    session = Session()
    take = counting(session)
    per_round = []
    for r in range(1, 7):
        counts = []
        for i, template in enumerate(ROUND):
            report = session.check(10 * r + i, template.format(r=r))
            assert report is not None and report.findings == ()
            counts.append(take())
        per_round.append(counts)
    # Round 6 walks exactly what round 1 walked: nothing of the 25 cells before it.
    assert per_round[5] == per_round[0]
    assert all(count > 0 for count in per_round[0])


def test_a_new_session_knows_nothing_of_an_earlier_one() -> None:
    first = Session()
    first.check(1, "import torch.nn as nn\ncriterion = nn.CrossEntropyLoss()\n")
    second = Session()
    report = second.check(1, "import torch.nn.functional as F\nloss = criterion(F.softmax(x, dim=1), y)\n")
    assert report is not None and report.findings == ()


def test_a_cell_that_does_not_parse_is_not_a_cell_of_the_session() -> None:
    session = Session()
    assert session.check(1, "def broken(:\n") is None
    assert session.check(2, "%magic that was not transformed\n") is None
    assert session.cells_checked == 0


@pytest.mark.parametrize("source", ["", "\n\n", "# just a comment\n", "pass\n", "x = 1\n" * 500])
def test_trivial_and_long_cells(source: str) -> None:
    report = Session().check(1, source)
    assert report is not None and report.findings == ()


def test_loaded_from_the_ipython_config_before_any_cell(cells: Cells, shell: InteractiveShell) -> None:
    pytest.importorskip("torch")
    # c.InteractiveShellApp.extensions = ["xentguard"] loads it this way, before cell 1.
    shell.extension_manager.load_extension("xentguard")
    cells.run("import torch.nn as nn\nimport torch.nn.functional as F\nimport torch")
    cells.run("criterion = nn.CrossEntropyLoss()")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the runtime guard reports it too, while the cell runs
        ran = cells.run("loss = criterion(F.softmax(torch.randn(8, 3), dim=1), torch.zeros(8, dtype=torch.long))")
    assert [line.split(":")[0] for line in ran.findings] == ["XG101 line 1"]
    assert "(nn.CrossEntropyLoss at cell [2], line 1)" in ran.findings[0]


def test_pathologically_nested_cells_give_no_claim_rather_than_a_crash() -> None:
    session = Session()
    for terms in (2_000, 20_000):  # the analysis recurses deeply / the parser gives up
        deep = "import torch.nn.functional as F\nx = F.softmax(" + " + ".join(["y"] * terms) + ", dim=1)\n"
        report = session.check(terms, deep)
        assert report is None or report.findings == ()
    after = session.check(2, "import torch.nn.functional as F\nlp = F.log_softmax(z, dim=1)\n")
    assert after is not None and after.findings == ()


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith compiles what it generates
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(hypothesmith.from_grammar(), min_size=1, max_size=3))
def test_generated_cells_never_crash_the_session(sources: list[str]) -> None:
    session = Session()
    session.check(1, "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nsoftmax = F.softmax\n")
    for number, source in enumerate(sources, start=2):
        report = session.check(number, source)
        for finding in report.findings if report is not None else ():
            assert describe(finding, report.path if report is not None else "").startswith(finding.code)
