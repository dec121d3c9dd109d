"""The guard changes nothing: bitwise-identical losses and gradients, no tensor kept alive."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
import torch.nn.functional as F

import xentguard

CASES = [
    ("cross_entropy", {"reduction": "mean"}),
    ("cross_entropy", {"reduction": "sum"}),
    ("cross_entropy", {"reduction": "none"}),
    ("cross_entropy", {"weight": "w"}),
    ("cross_entropy", {"ignore_index": 1}),
    ("cross_entropy", {"label_smoothing": 0.1}),
    ("cross_entropy", {"soft": True}),
    ("cross_entropy", {"nd": True}),
    ("cross_entropy", {"nd": True, "label_smoothing": 0.2, "reduction": "none"}),
    ("nll_loss", {"weight": "w", "ignore_index": 2}),
    ("nll_loss", {"nd": True}),
    ("kl_div", {"reduction": "batchmean"}),
    ("binary_cross_entropy_with_logits", {"pos_weight": True}),
    ("binary_cross_entropy", {"reduction": "sum"}),
]


def _run(name: str, opts: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    opts = dict(opts)
    nd = opts.pop("nd", False)
    soft = opts.pop("soft", False)
    shape = (6, 5, 3, 2) if nd else (6, 5)
    leaf = torch.randn(shape, generator=gen, requires_grad=True)
    x = leaf * 3
    if opts.get("weight") == "w":
        opts["weight"] = torch.rand(5, generator=gen)
    if name in ("cross_entropy", "nll_loss"):
        if name == "nll_loss":
            x = F.log_softmax(x, dim=1)
        if soft:
            target = torch.softmax(torch.randn(shape, generator=gen), dim=1)
        else:
            target = torch.randint(0, 5, (shape[0], *shape[2:]), generator=gen)
    elif name == "kl_div":
        x = F.log_softmax(x, dim=1)
        target = torch.softmax(torch.randn(shape, generator=gen), dim=1)
    else:
        target = torch.rand(shape, generator=gen)
        if name == "binary_cross_entropy":
            x = torch.sigmoid(x)
        if opts.pop("pos_weight", False):
            opts["pos_weight"] = torch.rand(5, generator=gen) + 0.5
    loss = getattr(F, name)(x, target, **opts)
    loss.sum().backward()
    assert leaf.grad is not None
    return loss.detach(), leaf.grad


@pytest.mark.parametrize(("name", "opts"), CASES, ids=[f"{n}-{sorted(o)}" for n, o in CASES])
def test_bitwise_identical_with_and_without_guard(name, opts):
    plain_loss, plain_grad = _run(name, opts, seed=3)
    with xentguard.guard(mode="log"):
        guarded_loss, guarded_grad = _run(name, opts, seed=3)
    assert torch.equal(plain_loss, guarded_loss)
    assert torch.equal(plain_grad, guarded_grad)


def test_inputs_unchanged_and_grad_mode_restored():
    x = torch.softmax(torch.randn(8, 4), dim=1)
    before = x.clone()
    with xentguard.guard(mode="log"):
        F.cross_entropy(x, torch.randint(0, 4, (8,)))
        assert torch.is_grad_enabled()
    assert torch.equal(x, before)


@pytest.mark.parametrize("bad", [False, True])
def test_guard_keeps_no_tensor_alive(bad):
    xentguard.install(mode="log")
    x = torch.randn(16, 4, requires_grad=True)
    logits = F.softmax(x, dim=1) if bad else x * 2
    target = torch.randint(0, 4, (16,))
    refs = [weakref.ref(t) for t in (x, logits, target)]
    loss = F.cross_entropy(logits, target)
    loss.backward()
    refs.append(weakref.ref(loss))
    del x, logits, target, loss
    gc.collect()
    assert [r() for r in refs] == [None] * 4
