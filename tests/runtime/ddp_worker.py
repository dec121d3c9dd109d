"""One rank of the real distributed test (test_distributed.py): gloo, DDP, the guard installed.

    python ddp_worker.py RANK WORLD_SIZE INIT_FILE OUT_JSON

Trains a tiny DDP model for a few steps in warn mode, then in raise mode, with the softmax bug
on every rank and a NaN in rank 1's batch at one step. Every DDP backward and the explicit
``all_reduce`` after each step are collectives: a rank that raised or stopped would leave the
other waiting there, which the test's timeout turns into a failure. Writes what it saw as JSON.
"""

from __future__ import annotations

import datetime
import gc
import json
import os
import sys
import warnings

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import xentguard

STEPS = 3
# Rank 1 only, at the last step: DDP averages its NaN gradients into every rank's weights, so
# an earlier NaN would reach rank 0's later batches too (that would be right, but not this test).
NAN_STEP = STEPS - 1


def _train(rank: int, mode: str) -> dict[str, object]:
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts them)
    model = DistributedDataParallel(torch.nn.Linear(8, 4))  # fresh per mode: the NaN step poisons weights
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(rank)
    done = 0
    raised: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xentguard.install(mode=mode, once=False)
        try:
            for step in range(STEPS):
                x = torch.randn(16, 8, generator=gen)
                y = torch.randint(0, 4, (16,), generator=gen)
                if rank == 1 and step == NAN_STEP:
                    x[3, 2] = float("nan")  # a bad batch on this rank alone
                opt.zero_grad()
                try:
                    loss = F.cross_entropy(F.softmax(model(x), dim=1), y)  # the softmax bug
                except xentguard.LossMisuseError as exc:  # must not happen: the peer would hang
                    raised.append(str(exc))
                    loss = model(x).sum() * 0.0  # still join the collectives below
                loss.backward()  # DDP all-reduces the gradients here
                opt.step()
                total = loss.detach().clone()
                dist.all_reduce(total)  # and one more collective per step
                done += 1
        finally:
            xentguard.uninstall()
    found = [str(w.message) for w in caught if issubclass(w.category, xentguard.XentGuardWarning)]
    return {"steps": done, "messages": found, "raised": raised}


def main(argv: list[str]) -> int:
    rank, world_size, init_file, out = int(argv[0]), int(argv[1]), argv[2], argv[3]
    dist.init_process_group(
        "gloo",
        init_method=f"file://{init_file}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        result = {"rank": dist.get_rank(), "warn": _train(rank, "warn"), "raise": _train(rank, "raise")}
        dist.barrier()
    finally:
        gc.collect()  # the DDP reducers of _train go while the process group is alive
        dist.destroy_process_group()
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is written. Interpreter teardown can still abort in gloo's C++ threads
    # ("terminate called without an active exception", seen once in a full test run):
    # that is torch's exit path, not what this test checks, so skip it.
    os._exit(status)
