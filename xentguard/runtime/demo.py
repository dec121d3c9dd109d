"""``xentguard demo``: why feeding softmax output into CrossEntropyLoss matters, in one command.

Trains the same small classifier twice on a generated 3-class spiral (no downloads): once
with the bug (``F.cross_entropy(F.softmax(logits, dim=1), y)``), once correctly. The guard
watches the buggy run and names the line below; both loss curves are shown at the end.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import TextIO

# torch warns at import when NumPy is absent; the demo never touches NumPy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy", category=UserWarning)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

CLASSES = 3
POINTS_PER_CLASS = 200
LEARNING_RATE = 0.3  # plain SGD: the buggy loss's shrunken gradients show directly
SPARK = "▁▂▃▄▅▆▇█"


def make_spiral(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three interleaved noisy spiral arms in 2-D: not linearly separable."""
    gen = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for label in range(CLASSES):
        r = torch.linspace(0.05, 1.0, POINTS_PER_CLASS)
        theta = label * 2 * math.pi / CLASSES + r * 4.0 + 0.2 * torch.randn(POINTS_PER_CLASS, generator=gen)
        xs.append(torch.stack([r * torch.sin(theta), r * torch.cos(theta)], dim=1))
        ys.append(torch.full((POINTS_PER_CLASS,), label, dtype=torch.long))
    return torch.cat(xs), torch.cat(ys)


def make_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, CLASSES))


def buggy_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # The bug: CrossEntropyLoss applies log_softmax itself, so this is log_softmax(softmax(x)).
    return F.cross_entropy(F.softmax(logits, dim=1), y)  # noqa: XG101 (the demo's deliberate bug)


def correct_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y)


@dataclass
class Run:
    name: str
    losses: list[float] = field(default_factory=list)
    accuracy: float = 0.0
    true_ce: float = 0.0  # cross-entropy of the trained model's logits, for comparison


class Progress:
    """A one-line bar with \\r on a terminal; plain periodic lines otherwise (logs, CI)."""

    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.tty = stream.isatty()
        self.every = max(1, total // 4)

    def update(self, step: int, loss: float) -> None:
        done = step + 1
        if self.tty:
            width = 30
            filled = round(width * done / self.total)
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r{self.label:>8} [{bar}] {done}/{self.total} loss {loss:.3f}")
            if done == self.total:
                self.stream.write("\n")
        elif done % self.every == 0 or done == self.total:
            self.stream.write(f"{self.label:>8} step {done}/{self.total} loss {loss:.3f}\n")
        self.stream.flush()


def train(name: str, loss_fn: object, steps: int, seed: int, stream: TextIO) -> Run:
    x, y = make_spiral(seed)
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    run = Run(name)
    bar = Progress(name, steps, stream)
    for step in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)  # type: ignore[operator]
        loss.backward()
        opt.step()
        run.losses.append(float(loss.detach()))
        bar.update(step, run.losses[-1])
    with torch.no_grad():
        logits = model(x)
        run.accuracy = float((logits.argmax(1) == y).float().mean())
        run.true_ce = float(F.cross_entropy(logits, y))
    return run


def sparkline(values: list[float], lo: float, hi: float, width: int = 50) -> str:
    if not values:
        return ""
    stride = max(1, math.ceil(len(values) / width))
    points = values[::stride]
    span = (hi - lo) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int((v - lo) / span * (len(SPARK) - 1) + 0.5))] for v in points)


def save_plot(runs: list[Run], path: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    for run in runs:
        ax.plot(run.losses, label=f"{run.name} (final {run.losses[-1]:.3f}, acc {run.accuracy:.0%})")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("softmax fed into CrossEntropyLoss stalls")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _both_runs(steps: int, seed: int, no_guard: bool) -> tuple[list[Run], list[str]]:
    from xentguard import runtime

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", runtime.XentGuardWarning)
        if no_guard:
            buggy = train("buggy", buggy_loss, steps, seed, sys.stderr)
        else:
            with runtime.guard(mode="warn"):
                buggy = train("buggy", buggy_loss, steps, seed, sys.stderr)
        findings = [str(w.message) for w in caught if issubclass(w.category, runtime.XentGuardWarning)]
    correct = train("correct", correct_loss, steps, seed, sys.stderr)
    return [buggy, correct], findings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="xentguard demo",
        description="Train a small classifier twice (softmax fed into CrossEntropyLoss, then correctly) "
        "and show what the runtime guard reports.",
    )
    parser.add_argument("--steps", type=int, default=200, help="training steps per run (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed for data and weights (default 0)")
    parser.add_argument("--no-guard", action="store_true", help="train without the guard")
    parser.add_argument("--plot", metavar="PATH", default=None, help="save the loss curves as PNG (needs matplotlib)")
    opts = parser.parse_args(argv)
    if opts.steps < 1:
        parser.error("--steps must be at least 1")

    out = sys.stdout
    out.write(
        f"Two runs on a {CLASSES}-class spiral ({CLASSES * POINTS_PER_CLASS} points), "
        f"MLP 2-64-64-{CLASSES}, SGD lr {LEARNING_RATE}, {opts.steps} steps.\n\n"
    )
    started = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: threads only add overhead
    try:
        runs, findings = _both_runs(opts.steps, opts.seed, opts.no_guard)
    finally:
        torch.set_num_threads(threads)

    out.write("\nWhat the guard said about the buggy run:\n")
    if findings:
        for text in findings:
            out.write(f"  {text}\n")
    else:
        out.write("  (nothing: the guard was off, --no-guard)\n")

    lo = min(min(r.losses) for r in runs)
    hi = max(max(r.losses) for r in runs)
    out.write(f"\nTraining loss, step 1 to {opts.steps} (shared scale {lo:.2f}..{hi:.2f}):\n")
    for run in runs:
        out.write(
            f"  {run.name:>7} {sparkline(run.losses, lo, hi)}  final loss {run.losses[-1]:.3f}, "
            f"accuracy {run.accuracy:.1%}, true cross-entropy {run.true_ce:.3f}\n"
        )
    floor = math.log(1 + (CLASSES - 1) / math.e)
    out.write(
        f"\nThe buggy loss is log_softmax(softmax(x)): it can never go below {floor:.3f} "
        f"for {CLASSES} classes, "
        "its gradients shrink as the model grows confident, and training stalls without any error.\n"
    )
    if opts.plot:
        if save_plot(runs, opts.plot):
            out.write(f"Loss curves saved to {opts.plot}\n")
        else:
            out.write("matplotlib is not installed: no plot saved (the sparklines show the same curves)\n")
    out.write(f"({time.perf_counter() - started:.1f} s)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
