"""CPU cost of the runtime guard.

1. A small training step (MLP 784-256-10, batch 256, SGD, one thread): time per step with and
   without the guard, measured alternately in the same run; prints the ratio.
2. Per-call overhead on a 32x10 cross-entropy, in microseconds, for the three paths: an input
   whose provenance decides (Linear output), an input with a graph whose producer provenance
   does not know (``2 * Linear output``: values decide), and an input without a graph.

    python benchmarks/runtime_cpu.py [--repeats 7] [--clock cpu|wall]

The default clock is the thread's CPU time (torch runs on one thread here), which leaves out
the time the process spends descheduled on a busy machine; ``--clock wall`` uses wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

import xentguard

CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


def _per_call_seconds(fn: Callable[[], object], iters: int) -> float:
    for _ in range(max(5, iters // 10)):
        fn()
    start = clock()
    for _ in range(iters):
        fn()
    return (clock() - start) / iters


def _alternate(fn: Callable[[], object], iters: int, repeats: int) -> tuple[float, float, float]:
    """Median seconds per call without and with the guard, and the median of the paired ratios.

    Interleaved to share machine noise: each repeat times both, in alternating order (so
    warm-up favours neither), and its ratio compares two blocks timed back to back; on a
    loaded machine that median ratio moves far less than the ratio of the two medians.
    """
    plain, guarded, ratios = [], [], []
    for i in range(repeats):
        pair: dict[bool, float] = {}
        for with_guard in (False, True) if i % 2 == 0 else (True, False):
            if with_guard:
                xentguard.install()
            try:
                pair[with_guard] = _per_call_seconds(fn, iters)
            finally:
                if with_guard:
                    xentguard.uninstall()
        plain.append(pair[False])
        guarded.append(pair[True])
        ratios.append(pair[True] / pair[False])
    return statistics.median(plain), statistics.median(guarded), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    opts = parser.parse_args()
    global clock
    clock = CLOCKS[opts.clock]
    print(f"clock: {opts.clock}; medians of {opts.repeats} alternating repeats")
    torch.set_num_threads(1)
    torch.manual_seed(0)

    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(256, 784), torch.randint(0, 10, (256,))

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    # Short blocks, many pairs: the paired ratio needs both halves to see the same load.
    plain, guarded, ratio = _alternate(step, 20, opts.repeats * 5)
    print(
        f"training step MLP 784-256-10, batch 256, 1 thread: {plain * 1e6:.0f} us -> {guarded * 1e6:.0f} us, "
        f"ratio {ratio:.3f} ({(ratio - 1) * 100:+.1f}%; median of {opts.repeats * 5} paired ratios)"
    )

    logits_leaf = torch.randn(32, 10)
    head = nn.Linear(10, 10)
    graph_logits = head(torch.randn(32, 10))
    scaled_logits = 2 * graph_logits  # MulBackward0: provenance inconclusive
    target = torch.randint(0, 10, (32,))
    cases = (
        ("graph input (Linear output)", graph_logits),
        ("graph input, unknown producer (2 * Linear)", scaled_logits),
        ("no-graph input", logits_leaf),
    )
    for label, logits in cases:
        plain, guarded, _ = _alternate(lambda lg=logits: F.cross_entropy(lg, target), 2000, opts.repeats)
        print(
            f"32x10 F.cross_entropy, {label}: {plain * 1e6:.1f} us -> {guarded * 1e6:.1f} us, "
            f"guard adds {(guarded - plain) * 1e6:.1f} us per call"
        )


if __name__ == "__main__":
    main()
