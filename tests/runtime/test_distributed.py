"""A real distributed run: two CPU processes, gloo, DDP, the guard installed on both ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed with gloo"
)

WORKER = Path(__file__).with_name("ddp_worker.py")
REPO = WORKER.parents[2]
WORLD = 2
TIMEOUT_S = 180  # a deadlock shows as this timeout (the process group's own is 60 s)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("ddp")
    init_file = tmp / "store"  # a FileStore: no port to pick, nothing left listening
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("XENTGUARD_MODE", None)
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(rank), str(WORLD), str(init_file), str(tmp / f"rank{rank}.json")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(WORLD)
    ]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=TIMEOUT_S))
    except subprocess.TimeoutExpired:
        for proc in procs:
            proc.kill()
        pytest.fail(f"the ranks did not finish within {TIMEOUT_S} s: deadlock")
    for rank, (proc, (_, err)) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 0, f"rank {rank} exited {proc.returncode}:\n{err[-3000:]}"
    return [json.loads((tmp / f"rank{rank}.json").read_text()) for rank in range(WORLD)]


def _codes(messages: list[str]) -> list[str]:
    return [m.split(" ", 1)[0] for m in messages if m.startswith("XG")]


@pytest.mark.parametrize("mode", ["warn", "raise"])
def test_both_ranks_finish_every_step(ranks, mode):
    for result in ranks:
        assert result[mode]["steps"] == 3
        assert result[mode]["raised"] == []


@pytest.mark.parametrize("mode", ["warn", "raise"])
def test_each_message_carries_its_rank(ranks, mode):
    for rank, result in enumerate(ranks):
        assert result["rank"] == rank
        findings = [m for m in result[mode]["messages"] if m.startswith("XG")]
        assert findings
        assert all(f"(rank {rank}):" in m for m in findings), findings


@pytest.mark.parametrize("mode", ["warn", "raise"])
def test_softmax_bug_on_both_ranks_nan_on_one(ranks, mode):
    rank0, rank1 = (_codes(result[mode]["messages"]) for result in ranks)
    assert rank0 == ["XG101"] * 3
    assert sorted(rank1) == sorted(["XG101"] * 3 + ["XG201"])  # the NaN batch, on rank 1 alone


def test_raise_mode_warns_instead_of_raising(ranks):
    for result in ranks:
        notes = [m for m in result["raise"]["messages"] if "distributed run" in m]
        assert len(notes) == 1, result["raise"]["messages"]
        assert "never raises while the others wait" in notes[0]
