"""CUDA: the default mode never synchronises; results arrive later, naming the call site."""

from __future__ import annotations

import sys
import warnings

import pytest
import torch
import torch.nn.functional as F

import xentguard


def codes(records: list) -> list[str]:
    """The rule codes of the XentGuardWarnings among ``records``, in order."""
    return [str(r.message).split(" ", 1)[0] for r in records if issubclass(r.category, xentguard.XentGuardWarning)]


pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_no_host_device_sync_in_warn_mode():
    x = torch.randn(64, 100, device="cuda", requires_grad=True)
    y = torch.randint(0, 100, (64,), device="cuda")
    soft = torch.softmax(torch.randn(64, 100, device="cuda"), dim=1)
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xentguard.install(mode="warn", once=False)
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(3):
                line = sys._getframe().f_lineno + 1
                F.cross_entropy(F.softmax(x, dim=1), y).backward()
                with torch.no_grad():
                    F.cross_entropy(x.detach(), y)
                    F.cross_entropy(x.detach(), soft)
                    F.nll_loss(x.detach().log_softmax(1), y)
                    F.kl_div(x.detach().log_softmax(1), soft, reduction="batchmean")
                    F.binary_cross_entropy_with_logits(x.detach(), soft)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        xentguard.flush()
    found = [w for w in caught if issubclass(w.category, xentguard.XentGuardWarning)]
    assert codes(found) == ["XG101"] * 3
    assert all(w.filename == __file__ and w.lineno == line for w in found)


def test_cuda_raise_mode_catches_bad_index_before_the_kernel():
    x = torch.randn(8, 5, device="cuda")
    y = torch.tensor([0, 1, 2, 3, 4, 5, 0, 1], device="cuda")
    with xentguard.guard(mode="raise"), pytest.raises(xentguard.LossMisuseError, match="XG202"):
        F.cross_entropy(x, y)


def test_cuda_values_and_bitwise_identity():
    x = torch.randn(32, 50, device="cuda", dtype=torch.bfloat16)
    y = torch.randint(0, 50, (32,), device="cuda")
    plain = F.cross_entropy(x, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with xentguard.guard(once=False):
            guarded = F.cross_entropy(x, y)
            F.cross_entropy(torch.softmax(x.float(), 1).bfloat16(), y)
            F.cross_entropy(torch.log_softmax(x.float(), 1).bfloat16(), y)
    assert torch.equal(plain, guarded)
    assert codes(caught) == ["XG101", "XG102"]


def test_values_decide_on_cuda_without_sync():
    """Inputs with a graph whose producer provenance does not know, and log-space targets: the
    value statistics join the same flag buffer, still with no host-device synchronisation."""
    leaf = torch.randn(64, 100, device="cuda", requires_grad=True)
    y = torch.randint(0, 100, (64,), device="cuda")
    soft = torch.softmax(torch.randn(64, 100, device="cuda"), dim=1)
    torch.cuda.synchronize()
    lines: list[int] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xentguard.install(mode="warn", once=False)
        torch.cuda.set_sync_debug_mode("error")
        try:
            cat = torch.cat([F.softmax(leaf[:32], 1), F.softmax(leaf[32:], 1)])
            lines.append(sys._getframe().f_lineno + 1)
            F.cross_entropy(cat, y)  # XG101 by values (CatBackward0)
            lines.append(sys._getframe().f_lineno + 1)
            F.nll_loss(F.relu(leaf * 2), y)  # XG104: values above 0
            lines.append(sys._getframe().f_lineno + 1)
            F.kl_div(F.log_softmax(leaf, 1), soft.log(), reduction="batchmean")  # XG111 (values)
            lines.append(sys._getframe().f_lineno + 1)
            F.kl_div(F.log_softmax(leaf, 1), F.log_softmax(leaf * 3, 1), reduction="batchmean")  # XG111 (graph)
            lines.append(sys._getframe().f_lineno + 1)
            F.cross_entropy(leaf, soft.log())  # XG111: soft target in log space
            lines.append(sys._getframe().f_lineno + 1)
            F.kl_div(F.relu(leaf), soft, reduction="batchmean")  # XG110: values above 0
            F.cross_entropy(leaf * 2, y)  # right: logits, scaled
            F.nll_loss(torch.cat([F.log_softmax(leaf[:32], 1), F.log_softmax(leaf[32:], 1)]), y)  # right
        finally:
            torch.cuda.set_sync_debug_mode("default")
        xentguard.flush()
    found = [w for w in caught if issubclass(w.category, xentguard.XentGuardWarning)]
    assert codes(found) == ["XG101", "XG104", "XG111", "XG111", "XG111", "XG110"]
    assert [w.lineno for w in found] == lines and all(w.filename == __file__ for w in found)


CASES = [
    ("cross_entropy", lambda x: torch.cat([torch.softmax(x[:16], 1), torch.softmax(x[16:], 1)]), "index"),
    ("cross_entropy", lambda x: torch.log_softmax(x, 1) * 1.0, "index"),
    ("cross_entropy", lambda x: x * 2, "index"),
    ("cross_entropy", lambda x: x, "log_soft"),
    ("nll_loss", lambda x: torch.relu(x), "index"),
    ("nll_loss", lambda x: torch.sigmoid(x), "index"),
    ("nll_loss", lambda x: torch.log_softmax(x, 1).index_select(0, torch.arange(31, -1, -1, device=x.device)), "index"),
    ("kl_div", lambda x: torch.log_softmax(x, 1), "log_soft"),
    ("kl_div", lambda x: x + 3.0, "soft"),
    ("kl_div", lambda x: torch.log_softmax(x, 1), "soft"),
]


@pytest.mark.parametrize(("name", "make", "target_kind"), CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_reports_what_cpu_reports(name, make, target_kind, dtype):
    """The deferred device path and the CPU path give the same codes for the same call."""
    gen = torch.Generator().manual_seed(0)
    base = (torch.randn(32, 7, generator=gen) * 3).to(dtype)
    soft = torch.softmax(torch.randn(32, 7, generator=gen), 1).to(dtype)
    targets = {"index": torch.randint(0, 7, (32,), generator=gen), "soft": soft, "log_soft": soft.log()}
    found: dict[str, list[str]] = {}
    for device in ("cpu", "cuda"):
        leaf = base.to(device).requires_grad_()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with xentguard.guard(once=False):
                getattr(F, name)(make(leaf), targets[target_kind].to(device))
        found[device] = codes(caught)
    assert found["cuda"] == found["cpu"]
