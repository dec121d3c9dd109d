"""The check before each cell: in the context of the cells already run, on what IPython
will execute, printed under the cell, and (mode raise) stopping it."""

from __future__ import annotations

import logging

import pytest

from tests.jupyter.conftest import Cells

pytest.importorskip("torch")  # the cells train real models
# The runtime guard reports the same bugs while the cells run; tests/jupyter/test_runtime.py checks that.
pytestmark = pytest.mark.filterwarnings("ignore::xentguard.XentGuardWarning")

IMPORTS = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
DATA = "x = torch.randn(8, 4)\ny = torch.randint(0, 3, (8,))\n"
SOFTMAX_NET = """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.out = nn.Softmax(dim=1)

    def forward(self, x):
        return self.out(self.fc(x))
"""
LOGITS_NET = """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)
"""
TRAIN = """\
model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    loss = criterion(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""


def session(cells: Cells, *sources: str) -> list[list[str]]:
    """Run the cells after loading the extension; the findings printed under each."""
    assert cells.load().err == ""
    return [cells.run(source).findings for source in sources]


def test_a_criterion_of_cell_3_misused_in_cell_7_is_found_when_cell_7_runs(cells: Cells) -> None:
    printed = session(cells, IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA, "print('data ready')",
                      SOFTMAX_NET, TRAIN)
    assert printed[:5] == [[], [], [], [], []]
    assert printed[5] == [
        "XG101 line 4: criterion (nn.CrossEntropyLoss at cell [3], line 1) applies log_softmax itself, but its "
        "input is probabilities from nn.Softmax at cell [6], line 5 (through Net.forward at cell [6], line 7); "
        "pass the raw logits"
    ]


def test_a_finding_is_printed_once_and_again_when_the_cell_is_run_again(cells: Cells) -> None:
    printed = session(cells, IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA, SOFTMAX_NET, TRAIN,
                      "print(loss.item())", TRAIN)
    assert [len(p) for p in printed] == [0, 0, 0, 0, 1, 0, 1]


def test_a_class_defined_again_replaces_the_earlier_one(cells: Cells) -> None:
    printed = session(cells, IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA, SOFTMAX_NET, LOGITS_NET, TRAIN,
                      SOFTMAX_NET, TRAIN)
    assert printed[5] == []  # the logits Net replaced the softmax one
    assert len(printed[7]) == 1 and "nn.Softmax at cell [8], line 5" in printed[7][0]


def test_a_function_reads_the_globals_of_the_cell_that_calls_it(cells: Cells) -> None:
    # step() is defined before the model and the criterion exist, as the kernel allows.
    step = "def step(x, y):\n    out = model(x)\n    return criterion(out, y)\n"
    printed = session(cells, IMPORTS, step, DATA,
                      "criterion = nn.CrossEntropyLoss()\nmodel = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))",
                      "loss = step(x, y)")
    assert printed[:4] == [[], [], [], []]
    assert len(printed[4]) == 1
    assert printed[4][0].startswith("XG101 cell [3], line 3: criterion (nn.CrossEntropyLoss at cell [5], line 1)")


def test_a_loss_passed_into_an_earlier_cells_function_names_both_cells(cells: Cells) -> None:
    train = "def train(net, loss_fn):\n    return loss_fn(net(x), y)\n"
    printed = session(cells, IMPORTS, DATA, train, "net = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))",
                      "train(net, nn.CrossEntropyLoss())")
    assert printed[:4] == [[], [], [], []]
    (finding,) = printed[4]
    assert finding.startswith("XG101 cell [4], line 2: loss_fn (nn.CrossEntropyLoss at cell [6], line 1)")
    assert finding.endswith("(when called from cell [6], line 1)")


def test_cells_run_before_the_extension_was_loaded_are_the_context(cells: Cells) -> None:
    for source in (IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA):
        cells.run(source)
    assert cells.load().err == ""
    assert cells.run("loss = criterion(F.softmax(torch.randn(8, 3), dim=1), y)").findings == [
        "XG101 line 1: criterion (nn.CrossEntropyLoss at cell [2], line 1) applies log_softmax itself, but its input "
        "is probabilities from F.softmax at line 1; pass the raw logits"
    ]


def test_magics_escapes_and_help_do_not_confuse_the_check(cells: Cells) -> None:
    cell = """\
%time warm = torch.zeros(1)
!echo escaped
files = !ls
len?
loss = criterion(F.softmax(x @ torch.randn(4, 3), dim=1), y)
%timeit -n1 -r1 torch.zeros(1)
"""
    printed = session(cells, IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA)
    ran = cells.run(cell)
    assert printed == [[], [], []]
    assert "escaped" in ran.out  # the cell ran, escapes and all
    assert [line.split(":")[0] for line in ran.findings] == ["XG101 line 5"]


def test_the_body_of_a_time_cell_magic_is_checked_at_its_line_in_the_cell(cells: Cells) -> None:
    session(cells, IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA)
    ran = cells.run("%%time\nprobs = F.softmax(x @ torch.randn(4, 3), dim=1)\nloss = criterion(probs, y)\n")
    assert [line.split(":")[0] for line in ran.findings] == ["XG101 line 3"]
    assert "Wall time" in ran.out


def test_other_cell_magics_are_not_python_and_not_checked(cells: Cells) -> None:
    session(cells, IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA)
    ran = cells.run("%%writefile /dev/null\nloss = criterion(F.softmax(x, dim=1), y)\n")
    assert ran.findings == []


def test_a_cell_that_does_not_parse_gets_no_finding_and_the_session_goes_on(cells: Cells) -> None:
    session(cells, IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA)
    broken = cells.run("loss = criterion(F.softmax(x, dim=1), y\nprint(")
    assert "SyntaxError" in broken.out + broken.err  # IPython's own report
    assert "XG" not in broken.out + broken.err
    assert "xentguard" not in broken.out + broken.err
    assert len(cells.run("loss = criterion(F.softmax(x, dim=1), y)").findings) == 1


def test_noqa_and_off_by_default_rules_are_honoured(cells: Cells) -> None:
    session(cells, IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA)
    assert cells.run("loss = criterion(F.softmax(x, dim=1), y)  # noqa: XG101").findings == []
    # XG107 (sigmoid into BCELoss) is off by default, as in `xentguard check`.
    assert cells.run("b = nn.BCELoss()(torch.sigmoid(x), torch.rand(8, 4))").findings == []


def test_raise_mode_stops_the_cell_before_any_of_it_runs(cells: Cells) -> None:
    session(cells, IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA, SOFTMAX_NET)
    cells.run("%xentguard mode raise")
    ran = cells.run("started = True\ncrit2 = nn.CrossEntropyLoss()\n" + TRAIN)
    assert "started" not in cells.ns and "model" not in cells.ns  # not one line of it ran
    assert type(ran.result.error_before_exec).__name__ == "CellRejected"
    assert [line.split(":")[0] for line in ran.findings] == ["XG101 line 6"]
    assert "cell [7] was not run: XG101 at line 6 (mode raise" in ran.out + ran.err
    assert "Traceback" not in ran.out + ran.err
    # What the rejected cell defined was not bound: crit2 is unknown to the check, as to the kernel.
    later = cells.run("l2 = crit2(F.softmax(x, dim=1), y)")
    assert later.findings == [] and "NameError" in later.out + later.err


def test_raise_mode_lets_warnings_through_and_runs_correct_cells(cells: Cells) -> None:
    session(cells, IMPORTS, "%xentguard mode raise", DATA)
    ran = cells.run("ran = True\nact = nn.Softmax()")  # XG109 (no dim) is a warning
    assert [line.split(":")[0] for line in ran.findings] == ["XG109 line 2"]
    assert cells.ns["ran"] is True and ran.result.success
    assert cells.run("criterion = nn.CrossEntropyLoss()\nloss = criterion(x @ torch.randn(4, 3), y)").result.success


def test_log_mode_logs_instead_of_printing(cells: Cells, caplog: pytest.LogCaptureFixture) -> None:
    session(cells, IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA, "%xentguard mode log")
    with caplog.at_level(logging.WARNING, logger="xentguard"):
        ran = cells.run("loss = criterion(F.softmax(x, dim=1), y)")
    assert ran.findings == [] and ran.err == ""
    # The static check before the cell, then the runtime guard (in the same mode) while it runs.
    assert [(r.levelno, r.getMessage().split(":")[0]) for r in caplog.records] == [
        (logging.ERROR, "XG101 line 1"), (logging.ERROR, "XG101 at cell [6], line 1")]


def test_static_off_then_on_catches_up_on_the_cells_run_meanwhile(cells: Cells) -> None:
    session(cells, IMPORTS, DATA, "%xentguard static off")
    assert cells.run("criterion = nn.CrossEntropyLoss()\nl1 = criterion(F.softmax(x, dim=1), y)").findings == []
    cells.run("%xentguard static on")
    ran = cells.run("l2 = criterion(F.softmax(x, dim=1), y)")
    assert ran.findings == [
        "XG101 line 1: criterion (nn.CrossEntropyLoss at cell [5], line 1) applies log_softmax itself, but its input "
        "is probabilities from F.softmax at line 1; pass the raw logits"
    ]


def test_a_correct_notebook_session_prints_nothing(cells: Cells) -> None:
    correct = [
        IMPORTS,
        "torch.manual_seed(0)\n" + DATA,
        LOGITS_NET,
        "criterion = nn.CrossEntropyLoss()",
        TRAIN,
        "%%time\nwith torch.no_grad():\n    probs = F.softmax(model(x), dim=1)\n    accuracy = (probs.argmax(1) == y)",
        "log_probs = F.log_softmax(model(x), dim=1)\nnll = F.nll_loss(log_probs, y)",
        "%xentguard check",
    ]
    assert cells.load().err == ""
    for source in correct:
        ran = cells.run(source)
        assert ran.result.success, ran.err
        assert ran.err == ""
    assert "no findings in" in ran.out


def test_internal_errors_are_one_line_and_the_cell_still_runs(cells: Cells, monkeypatch: pytest.MonkeyPatch) -> None:
    from xentguard.jupyter.session import Session

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    cells.load()
    monkeypatch.setattr(Session, "check", broken)
    ran = cells.run("value = 41 + 1")
    assert cells.ns["value"] == 42
    assert ran.err.strip() == "xentguard: internal error checking this cell: RuntimeError('boom')"


def test_a_capture_cell_is_checked_once_and_its_findings_are_not_captured(cells: Cells) -> None:
    session(cells, IMPORTS, "criterion = nn.CrossEntropyLoss()", DATA)
    ran = cells.run("%%capture captured\nprint('inside')\nloss = criterion(F.softmax(x, dim=1), y)\n")
    assert [line.split(":")[0] for line in ran.findings] == ["XG101 line 3"]  # once, and visible
    assert "inside" in cells.ns["captured"].stdout
    assert "XG101 line" not in cells.ns["captured"].stderr  # the body IPython runs as a cell is not checked again
