"""What ``%load_ext xentguard`` adds to each cell of a notebook session.

A 60-cell session of training code (six rounds of the same ten-cell experiment, each round
with names of its own, so the session's globals grow as a long notebook's do) runs in a
real IPython InteractiveShell, the cells executed for real on tiny data. Timer callbacks
registered on ``pre_run_cell`` / ``post_run_cell`` just before and just after the
extension's own measure the time spent in its callbacks; the AST transformers' pass
(xentguard's gate, and the ``fix_missing_locations`` IPython runs because a transformer
is registered) is timed by wrapping ``transform_ast``. The runtime guard's cost inside loss
calls is ``runtime_cpu.py``'s subject, not this script's.

Printed: the median added ms per cell, the last 10 cells against the first 10 (the same
ten cells, 50 cells later: growth with history shows as a ratio above 1), the same for
the static check alone (without the kernel's own work around it, whose heap grows as the
cells run), and for contrast the cost of re-walking the whole history at each cell instead.

    python benchmarks/jupyter_cells.py [--repeats 5] [--rounds 6] [--no-compare] [--clock cpu|wall]

Needs IPython and torch (``pip install -e ".[jupyter,runtime]"``). Not a test: nothing is
asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import statistics
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's xentguard

# The thread's CPU time leaves out the time the process spends descheduled on a busy
# machine (on a shared 2-core VM, a preemption inside a 1 ms callback shows as a 9 ms
# cell); ``--clock wall`` measures wall time.
CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]

ROUND = [
    # 1: imports and settings, as each experiment section of a notebook restates them
    """\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed({r})
EPOCHS_{r} = 2
""",
    # 2: data
    """\
def make_blobs_{r}(n=128, classes=3, dim=8):
    centers = torch.randn(classes, dim) * 3
    labels = torch.randint(0, classes, (n,))
    points = centers[labels] + torch.randn(n, dim)
    return points, labels

train_x_{r}, train_y_{r} = make_blobs_{r}()
val_x_{r}, val_y_{r} = make_blobs_{r}(64)
loader_{r} = DataLoader(TensorDataset(train_x_{r}, train_y_{r}), batch_size=32, shuffle=True)
""",
    # 3: the model
    """\
class Classifier{r}(nn.Module):
    def __init__(self, dim=8, hidden=32, classes=3, dropout=0.1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
        )
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        features = self.body(x)
        return self.head(features)

    @torch.no_grad()
    def predict_proba(self, x):
        return F.softmax(self.forward(x), dim=-1)
""",
    # 4: loss, optimiser, schedule
    """\
model_{r} = Classifier{r}()
criterion_{r} = nn.CrossEntropyLoss(label_smoothing=0.05)
optimizer_{r} = torch.optim.AdamW(model_{r}.parameters(), lr=1e-2, weight_decay=1e-4)
scheduler_{r} = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer_{r}, T_max=EPOCHS_{r})
history_{r} = {{"loss": [], "val_loss": [], "val_acc": []}}
""",
    # 5: one epoch, as a function
    """\
def train_epoch_{r}(model, loader, optimizer, loss_fn):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        logits = model(xb)
        loss = loss_fn(logits, yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
""",
    # 6: evaluation, as a function
    """\
@torch.no_grad()
def evaluate_{r}(model, x, y, loss_fn):
    model.eval()
    logits = model(x)
    loss = loss_fn(logits, y).item()
    probs = F.softmax(logits, dim=1)
    accuracy = (probs.argmax(dim=1) == y).float().mean().item()
    confidence = probs.max(dim=1).values.mean().item()
    return loss, accuracy, confidence
""",
    # 7: the training loop, timed
    """\
%%time
for epoch in range(EPOCHS_{r}):
    train_loss = train_epoch_{r}(model_{r}, loader_{r}, optimizer_{r}, criterion_{r})
    val_loss, val_acc, _ = evaluate_{r}(model_{r}, val_x_{r}, val_y_{r}, criterion_{r})
    scheduler_{r}.step()
    history_{r}["loss"].append(train_loss)
    history_{r}["val_loss"].append(val_loss)
    history_{r}["val_acc"].append(val_acc)
""",
    # 8: a quick look, with IPython syntax
    """\
last_{r} = {{key: values[-1] for key, values in history_{r}.items()}}
%time probs_{r} = model_{r}.predict_proba(val_x_{r})
kinds_{r} = !echo logits
model_{r}.eval()
entropy_{r} = -(probs_{r} * torch.log_softmax(model_{r}(val_x_{r}), dim=1)).sum(dim=1).mean()
""",
    # 9: a variant trained by hand, with the loss written out
    """\
teacher_{r} = Classifier{r}(hidden=16)
student_{r} = Classifier{r}(hidden=8)
temperature_{r} = 2.0
with torch.no_grad():
    soft_targets_{r} = F.softmax(teacher_{r}(train_x_{r}) / temperature_{r}, dim=1)
student_log_probs_{r} = F.log_softmax(student_{r}(train_x_{r}) / temperature_{r}, dim=1)
distill_{r} = F.kl_div(student_log_probs_{r}, soft_targets_{r}, reduction="batchmean")
nll_{r} = F.nll_loss(student_log_probs_{r}, train_y_{r})
""",
    # 10: bookkeeping
    """\
summary_{r} = {{
    "round": {r},
    "params": sum(p.numel() for p in model_{r}.parameters()),
    "final_loss": history_{r}["loss"][-1],
    "val_acc": history_{r}["val_acc"][-1],
    "entropy": float(entropy_{r}),
    "distill": float(distill_{r}),
}}
state_{r} = {{k: v.clone() for k, v in model_{r}.state_dict().items()}}
""",
]


def session_cells(rounds: int) -> list[str]:
    return [cell.format(r=r) for r in range(1, rounds + 1) for cell in ROUND]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The cells' own output (and %%time's) is not what is measured."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class Timers:
    """Accumulates the seconds spent between a start and a stop callback, per cell, and
    the part of them the garbage collector took (a collection falls due wherever the
    process happens to allocate: inside xentguard's callbacks or in the cell's own code;
    its cost is the whole heap's, torch's and IPython's objects included)."""

    def __init__(self) -> None:
        self.cell = 0.0
        self.gc = 0.0
        self._start = 0.0
        self._gc_start = 0.0
        self._inside = False

    def start(self, *args: Any) -> None:
        self._inside = True
        self._start = clock()

    def stop(self, *args: Any) -> None:
        self.cell += clock() - self._start
        self._inside = False

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if not self._inside:
            return
        if phase == "start":
            self._gc_start = clock()
        else:
            self.gc += clock() - self._gc_start


def run_session(cells: list[str]) -> list[tuple[float, float]]:
    """(seconds xentguard added, of which garbage collection) for each cell of one fresh session."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    if "xentguard" in shell.extension_manager.loaded:
        shell.extension_manager.unload_extension("xentguard")
    shell.reset(new_session=True)
    timers = Timers()
    events = shell.events
    events.register("pre_run_cell", timers.start)
    events.register("post_run_cell", timers.start)
    with quiet():
        shell.run_cell("%load_ext xentguard", store_history=True)
    events.register("pre_run_cell", timers.stop)
    events.register("post_run_cell", timers.stop)
    original_transform_ast = shell.transform_ast

    def timed_transform_ast(node: Any) -> Any:
        timers.start()
        try:
            return original_transform_ast(node)
        finally:
            timers.stop()

    shell.transform_ast = timed_transform_ast
    gc.callbacks.append(timers.on_gc)
    added: list[tuple[float, float]] = []
    try:
        for source in cells:
            timers.cell = timers.gc = 0.0
            with quiet():
                result = shell.run_cell(source, store_history=True)
            if not result.success:
                raise SystemExit(f"benchmark cell failed: {result.error_in_exec or result.error_before_exec!r}\n"
                                 f"{source}")
            added.append((timers.cell, timers.gc))
    finally:
        gc.callbacks.remove(timers.on_gc)
        del shell.transform_ast
        for event, callback in (("pre_run_cell", timers.start), ("post_run_cell", timers.start),
                                ("pre_run_cell", timers.stop), ("post_run_cell", timers.stop)):
            events.unregister(event, callback)
        shell.extension_manager.unload_extension("xentguard")
    return added


def full_rewalk_cost(cells: list[str], at: list[int], repeats: int) -> dict[int, float]:
    """Seconds to walk cells 1..N afresh (what a non-incremental check pays at cell N)."""
    from IPython.core.interactiveshell import InteractiveShell

    from xentguard.jupyter.session import Session

    shell = InteractiveShell.instance()
    transformed = [shell.transform_cell(cell) for cell in cells]
    out: dict[int, float] = {}
    for n in at:
        times = []
        for _ in range(repeats):
            start = clock()
            session = Session()
            for number, source in enumerate(transformed[:n], start=1):
                session.check(number, source, shell.transform_cell)
            times.append(clock() - start)
        out[n] = statistics.median(times)
    return out


def session_only(cells: list[str], repeats: int) -> list[list[float]]:
    """Seconds of the static check alone (``Session.check``), per cell, for each session."""
    from IPython.core.interactiveshell import InteractiveShell

    from xentguard.jupyter.session import Session

    shell = InteractiveShell.instance()
    transformed = [shell.transform_cell(cell) for cell in cells]
    runs = []
    for _ in range(repeats):
        session, times = Session(), []
        for number, source in enumerate(transformed, start=1):
            start = clock()
            session.check(number, source, shell.transform_cell)
            times.append(clock() - start)
        runs.append(times)
    return runs


def summarise(title: str, per_cell_ms: list[float], gc_ms: list[float] | None = None) -> None:
    print(title)
    for start in range(0, len(per_cell_ms), 10):
        row = per_cell_ms[start:start + 10]
        print(f"  cells {start + 1:>2}-{start + 10:<2} " + " ".join(f"{ms:6.2f}" for ms in row))
    collected = f"; garbage collections inside the callbacks: {sum(gc_ms):.1f} ms over the session" if gc_ms else ""
    print(f"median per cell: {statistics.median(per_cell_ms):.2f} ms (max {max(per_cell_ms):.2f} ms{collected})")
    for name, pick in (("median", statistics.median), ("mean", statistics.mean)):
        first, last = pick(per_cell_ms[:10]), pick(per_cell_ms[-10:])
        print(f"last 10 / first 10 ({name}): {last:.2f} / {first:.2f} ms = {last / first:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="sessions run; per-cell medians over them")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of the ten-cell experiment (6: 60 cells)")
    parser.add_argument("--no-compare", action="store_true", help="skip the whole-history re-walk comparison")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    print(f"clock: {args.clock}")
    cells = session_cells(args.rounds)
    runs = [run_session(cells) for _ in range(args.repeats)]
    per_cell_ms = [statistics.median(run[i][0] for run in runs) * 1000 for i in range(len(cells))]
    gc_ms = [statistics.median(run[i][1] for run in runs) * 1000 for i in range(len(cells))]
    summarise(f"{len(cells)} cells, {args.repeats} sessions in IPython; ms added per cell (median over sessions):",
              per_cell_ms, gc_ms)
    alone = session_only(cells, args.repeats)
    summarise("the static check alone (Session.check on the transformed cells, no kernel around it):",
              [statistics.median(run[i] for run in alone) * 1000 for i in range(len(cells))])
    if not args.no_compare:
        at = sorted({10, len(cells) // 2, len(cells)})
        full = full_rewalk_cost(cells, at, args.repeats)
        print("for contrast, re-walking the whole history at cell N: " +
              ", ".join(f"N={n}: {seconds * 1000:.1f} ms" for n, seconds in full.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
