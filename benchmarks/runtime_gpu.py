"""GPU cost of the runtime guard on large-vocabulary logits (8192 x 131072 bf16 by default).

Reports, with CUDA events, medians over repeats:

* F.cross_entropy forward+backward without the guard, and with it (warn mode: asynchronous,
  no host-device sync): the guard's cost as a fraction of the loss (target <= 10%);
* the guard's device work alone (``measure_device``) and its achieved bandwidth, compared with
  a ``copy_`` of the same tensor (the device's practical copy bandwidth).

Three inputs: logits whose provenance decides (``hidden @ W``, training: only the row aminmax
runs), logits with a graph whose producer the walk does not know (a view of a leaf: values
decide, so a sample of rows adds sums and logsumexp), and logits without a graph (eval: the
same). Every case reads the logits once; ``kl_div`` also reads its target once (plus a sample
of target rows for the log-space check).

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

    hidden = torch.randn(rows, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(64, classes, device="cuda", dtype=torch.bfloat16, requires_grad=True)

    def step_linear() -> None:
        hidden.grad = weight.grad = None
        F.cross_entropy(hidden @ weight, target).backward()  # MmBackward0: provenance decides

    def step_view() -> None:
        leaf.grad = None
        F.cross_entropy(leaf.view(rows, classes), target).backward()  # provenance inconclusive: values

    steps = (("provenance decides (hidden @ W)", step_linear), ("values decide (view of a leaf)", step_view))
    for label, step in steps:
        plain = _time_ms(step, opts.repeats)
        xentguard.install(mode="warn")
        try:
            guarded = _time_ms(step, opts.repeats)
            xentguard.flush()
        finally:
            xentguard.uninstall()
        print(
            f"F.cross_entropy fwd+bwd, {label}: {plain:.3f} ms plain, {guarded:.3f} ms guarded: "
            f"guard cost {(guarded - plain) / plain * 100:+.1f}% (target <= 10%)"
        )

    teacher = torch.softmax(torch.randn(rows, classes, device="cuda", dtype=torch.bfloat16), dim=1)
    cases = (
        ("provenance decides", "cross_entropy", hidden @ weight, target, 1),
        ("values decide, graph", "cross_entropy", leaf.view(rows, classes), target, 1),
        ("values decide, no graph", "cross_entropy", leaf.detach(), target, 1),
        ("kl_div, input + soft target", "kl_div", torch.log_softmax(leaf.detach(), 1), teacher, 2),
    )
    for label, name, x, tgt, reads in cases:
        plan = hooks._plan(name, x, tgt, (x, tgt), {})

        def measure(x: torch.Tensor = x, tgt: torch.Tensor = tgt, plan: checks.Plan = plan) -> None:
            _, values = checks.measure_device(x, tgt, plan)
            checks.stack(values)

        ms = _time_ms(measure, opts.repeats)
        bw = reads * nbytes / (ms * 1e-3) / 1e9
        print(
            f"guard device work, {label} (values: {plan.values}): {ms:.3f} ms, {reads} full read(s) -> "
            f"{bw:.0f} GB/s ({bw / copy_bw * 100:.0f}% of copy_ bandwidth)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
