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
