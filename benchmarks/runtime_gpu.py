"""GPU cost of the runtime guard on large-vocabulary logits (8192 x 131072 bf16 by default).

Reports, with CUDA events, medians over repeats:

* F.cross_entropy forward+backward without the guard, and with it (warn mode: asynchronous,
  no host-device sync): the guard's cost as a fraction of the loss (target <= 10%);
* the guard's device work alone (``measure_device``) and its achieved bandwidth, compared with
  a ``copy_`` of the same tensor (the device's practical copy bandwidth).

Two inputs: logits with a graph (training: only the NaN/inf row check runs) and logits without
one (eval: the value classification runs too).

    python benchmarks/runtime_gpu.py [--rows 8192] [--classes 131072] [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F


def _time_ms(fn: Callable[[], object], repeats: int) -> float:
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _copy_ms(x: torch.Tensor, repeats: int) -> float:
    scratch = torch.empty_like(x)
    return _time_ms(lambda: scratch.copy_(x.detach()), repeats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=8192)
    parser.add_argument("--classes", type=int, default=131072)
    parser.add_argument("--repeats", type=int, default=20)
    opts = parser.parse_args()
    if not torch.cuda.is_available():
        print("runtime_gpu.py: no CUDA device available; nothing to measure.")
        return 0

    import xentguard
    from xentguard.runtime import checks, hooks

    torch.manual_seed(0)
    rows, classes = opts.rows, opts.classes
    leaf = torch.randn(rows, classes, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    target = torch.randint(0, classes, (rows,), device="cuda")
    nbytes = leaf.numel() * leaf.element_size()
    print(f"device: {torch.cuda.get_device_name()}; logits {rows} x {classes} bf16 ({nbytes / 2**30:.2f} GiB)")

    copy_ms = _copy_ms(leaf, opts.repeats)
    copy_bw = 2 * nbytes / (copy_ms * 1e-3) / 1e9
    print(f"copy_ of the logits: {copy_ms:.3f} ms ({copy_bw:.0f} GB/s read+write)")

    def step() -> None:
        leaf.grad = None
        logits = leaf.view(rows, classes)  # has a grad_fn: provenance path
        F.cross_entropy(logits, target).backward()

    plain = _time_ms(step, opts.repeats)
    xentguard.install(mode="warn")
    try:
        guarded = _time_ms(step, opts.repeats)
        xentguard.flush()
    finally:
        xentguard.uninstall()
    print(
        f"F.cross_entropy fwd+bwd: {plain:.3f} ms plain, {guarded:.3f} ms guarded: "
        f"guard cost {(guarded - plain) / plain * 100:+.1f}% (target <= 10%)"
    )

    inputs = (("graph input (NaN/inf rows)", leaf.view(rows, classes)), ("no-graph input (+ values)", leaf.detach()))
    for label, x in inputs:
        plan = hooks._plan("cross_entropy", x, target, (x, target), {})
        reads = 1 if not plan.values else 2

        def measure(x: torch.Tensor = x, plan: checks.Plan = plan) -> None:
            _, values = checks.measure_device(x, target, plan)
            checks.stack(values)

        ms = _time_ms(measure, opts.repeats)
        bw = reads * nbytes / (ms * 1e-3) / 1e9
        print(
            f"guard device work, {label}: {ms:.3f} ms, {reads} read(s) of the logits -> {bw:.0f} GB/s "
            f"({bw / copy_bw * 100:.0f}% of copy_ bandwidth)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
