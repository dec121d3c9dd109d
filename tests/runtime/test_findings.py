"""Each runtime code fires on the wrong kind of input and stays silent on the right one."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import xentguard


def codes(records: list) -> list[str]:
    """The rule codes of the XentGuardWarnings among ``records``, in order."""
    return [str(r.message).split(" ", 1)[0] for r in records if issubclass(r.category, xentguard.XentGuardWarning)]


@pytest.fixture
def logits() -> torch.Tensor:
    torch.manual_seed(0)
    return nn.Linear(8, 5)(torch.randn(16, 8))


@pytest.fixture
def y() -> torch.Tensor:
    return torch.randint(0, 5, (16,), generator=torch.Generator().manual_seed(1))


@pytest.fixture(autouse=True)
def _warn_every_call() -> None:
    xentguard.install(mode="warn", once=False)


def test_xg101_softmax_into_cross_entropy(caught, logits, y):
    F.cross_entropy(F.softmax(logits, dim=1), y)
    assert codes(caught) == ["XG101"]
    assert "softmax" in str(caught[0].message)


def test_xg101_via_module_names_the_module(caught, logits, y):
    nn.CrossEntropyLoss()(F.softmax(logits, dim=1), y)
    assert codes(caught) == ["XG101"]
    assert "CrossEntropyLoss" in str(caught[0].message)


def test_cross_entropy_on_logits_is_silent(caught, logits, y):
    F.cross_entropy(logits, y)
    nn.CrossEntropyLoss()(logits, y)
    assert codes(caught) == []


def test_softmax_as_soft_target_is_silent(caught, logits):
    teacher = F.softmax(torch.randn(16, 5), dim=1)
    F.cross_entropy(logits, teacher)
    F.cross_entropy(logits, F.softmax(logits, dim=1).detach())
    assert codes(caught) == []


def test_xg102_log_softmax_into_cross_entropy(caught, logits, y):
    F.cross_entropy(F.log_softmax(logits, dim=1), y)
    assert codes(caught) == ["XG102"]


def test_xg103_and_xg104_nll(caught, logits, y):
    F.nll_loss(F.softmax(logits, dim=1), y)
    F.nll_loss(logits, y)
    assert codes(caught) == ["XG103", "XG104"]


def test_nll_on_log_softmax_is_silent(caught, logits, y):
    F.nll_loss(F.log_softmax(logits, dim=1), y)
    assert codes(caught) == []


def test_nll_on_log_of_softmax_is_xg105(caught, logits, y):
    nn.NLLLoss()(torch.log(F.softmax(logits, dim=1)), y)  # log-probs, the fragile spelling
    assert codes(caught) == ["XG105"]


def test_xg106_sigmoid_into_bce_with_logits(caught, logits):
    target = torch.rand(16, 5)
    F.binary_cross_entropy_with_logits(torch.sigmoid(logits), target)
    nn.BCEWithLogitsLoss()(logits, target)
    nn.BCELoss()(torch.sigmoid(logits), target)
    assert codes(caught) == ["XG106"]


def test_xg110_kl_div_input_probabilities(caught, logits):
    teacher = F.softmax(torch.randn(16, 5), dim=1)
    F.kl_div(F.softmax(logits, dim=1), teacher, reduction="batchmean")
    nn.KLDivLoss(reduction="batchmean")(F.log_softmax(logits, dim=1), teacher)
    assert codes(caught) == ["XG110"]


@pytest.mark.parametrize(
    "view",
    [
        lambda p: p.permute(0, 2, 1).permute(0, 2, 1),
        lambda p: p.reshape(4, 3, 5, 2).reshape(12, 5, 2),
        lambda p: p[2:],
        lambda p: p.transpose(1, 2).contiguous().transpose(1, 2),
        lambda p: p.float().clone(),
    ],
    ids=["permute", "reshape", "slice", "transpose", "cast-clone"],
)
def test_provenance_through_view_like_ops(caught, view):
    x = torch.randn(12, 5, 2, requires_grad=True) * 2
    probs = F.softmax(x, dim=1)
    F.cross_entropy(view(probs), torch.zeros(view(probs).shape[0], 2, dtype=torch.long))
    assert codes(caught) == ["XG101"]


def test_values_under_no_grad(caught, y):
    model = nn.Linear(8, 5)
    x = torch.randn(16, 8)
    with torch.no_grad():
        F.cross_entropy(F.softmax(model(x), dim=1), y)
        F.cross_entropy(F.log_softmax(model(x), dim=1), y)
        F.nll_loss(F.softmax(model(x), dim=1), y)
        F.nll_loss(model(x) + 5.0, y)
        F.cross_entropy(model(x), y)
        F.nll_loss(F.log_softmax(model(x), dim=1), y)
    assert codes(caught) == ["XG101", "XG102", "XG103", "XG104"]
    assert "without autograd history" in str(caught[0].message)


def test_values_for_nd_inputs_use_class_dim_1(caught):
    x = torch.randn(2, 4, 3, 3)
    target = torch.randint(0, 4, (2, 3, 3))
    F.cross_entropy(F.softmax(x, dim=1), target)
    F.cross_entropy(x.softmax(dim=1).detach(), target)
    F.cross_entropy(x.softmax(dim=2).detach(), target)  # rows along dim 1 do not sum to 1
    assert codes(caught) == ["XG101", "XG101"]


def test_two_classes_no_value_alarm(caught):
    probs = torch.softmax(torch.randn(64, 2), dim=1)
    F.cross_entropy(probs, torch.randint(0, 2, (64,)))
    assert codes(caught) == []


def test_xg201_nan_and_posinf(caught, logits, y):
    bad = logits.detach().clone()
    bad[3, 1] = float("nan")
    F.cross_entropy(bad, y)
    bad = logits.detach().clone()
    bad[0, 0] = float("inf")
    F.cross_entropy(bad, y)
    assert codes(caught) == ["XG201", "XG201"]
    assert "NaN" in str(caught[0].message) and "+inf" in str(caught[1].message)


def test_neg_inf_masking_legal_unless_whole_row(caught, y):
    x = torch.randn(16, 5)
    x[:, 4] = float("-inf")  # masked class
    F.cross_entropy(x, y.clamp(max=3))
    assert codes(caught) == []
    x[2, :] = float("-inf")
    F.cross_entropy(x, y.clamp(max=3))
    assert codes(caught) == ["XG201"]
    assert "entirely -inf" in str(caught[0].message)


def test_whole_row_neg_inf_in_ignored_row_is_legal(caught):
    x = torch.randn(8, 5)
    x[2, :] = float("-inf")
    target = torch.randint(0, 5, (8,))
    target[2] = -100
    F.cross_entropy(x, target)
    assert codes(caught) == []


def test_ignore_index_rows_skipped_in_value_check(caught):
    probs = F.softmax(torch.randn(16, 5), dim=1)
    probs[:3] = torch.randn(3, 5) * 4  # garbage in the padded rows
    target = torch.randint(0, 5, (16,))
    target[:3] = 7
    F.nll_loss(probs, target, ignore_index=7)
    assert codes(caught) == ["XG103"]


def test_xg202_class_index_out_of_range_before_torch_errors(caught, logits):
    target = torch.tensor([0] * 15 + [5])
    with pytest.raises(IndexError):
        F.cross_entropy(logits, target)
    assert codes(caught) == ["XG202"]
    assert "class index 5 is out of range for 5 classes" in str(caught[0].message)


def test_ignore_index_is_not_out_of_range(caught, logits):
    F.cross_entropy(logits, torch.tensor([0] * 15 + [-100]))
    F.cross_entropy(logits, torch.tensor([0] * 15 + [9]), ignore_index=9)
    assert codes(caught) == []


def test_log_space_soft_targets(caught, logits):
    soft = F.softmax(torch.randn(16, 5), dim=1)
    F.cross_entropy(logits, soft.log())  # log-probabilities: XG111
    with_neg_inf = soft.clone()
    with_neg_inf[0, 0] = 0.0  # row 0 no longer sums to 1: log space, but not log-probabilities
    F.cross_entropy(logits, torch.log(with_neg_inf))
    assert codes(caught) == ["XG111", "XG202"]
    assert "target is log-probabilities" in str(caught[0].message)
    assert "-inf" in str(caught[1].message)


def test_xg202_soft_targets_not_summing_to_one(caught, logits):
    F.cross_entropy(logits, torch.rand(16, 5) * 0.1)
    assert codes(caught) == ["XG202"]


def test_xg202_nan_target(caught, logits):
    target = F.softmax(torch.randn(16, 5), dim=1)
    target[1, 1] = float("nan")
    F.cross_entropy(logits, target)
    F.binary_cross_entropy_with_logits(logits, torch.full((16, 5), float("nan")))
    assert codes(caught) == ["XG202", "XG202"]


def test_xg111_kl_div_target_log_space(caught, logits):
    teacher_log = F.log_softmax(torch.randn(16, 5), dim=1)
    F.kl_div(F.log_softmax(logits, dim=1), teacher_log, reduction="batchmean")
    F.kl_div(F.log_softmax(logits, dim=1), teacher_log, reduction="batchmean", log_target=True)
    assert codes(caught) == ["XG111"]  # and no XG203 for the NaN loss it causes
    assert "log_target=True" in str(caught[0].message)


def test_xg203_loss_nan(caught):
    x = torch.tensor([[float("-inf"), 0.0, 0.0], [-1.0, -0.5, -2.0]])
    F.nll_loss(x, torch.tensor([0, 1]))
    assert codes(caught) == ["XG203"]
    assert "inf" in str(caught[0].message)


def test_xg203_not_repeated_when_input_explains_it(caught, logits, y):
    bad = logits.detach().clone()
    bad[0, 0] = float("nan")
    F.cross_entropy(bad, y)
    assert codes(caught) == ["XG201"]


def test_out_of_range_index_raises_loss_misuse_error_in_raise_mode(logits):
    xentguard.install(mode="raise")
    with pytest.raises(xentguard.LossMisuseError, match="XG202") as info:
        F.nll_loss(F.log_softmax(logits, dim=1), torch.tensor([0] * 15 + [-3]))
    assert "class index -3" in str(info.value)


def test_xg201_for_inputs_with_a_graph(caught, y):
    leaf = torch.randn(16, 5)
    leaf[4, 2] = float("nan")
    logits = leaf.requires_grad_() * 2  # MulBackward0: scanned once the loss comes out NaN
    F.cross_entropy(logits, y)
    leaf2 = torch.randn(16, 5)
    leaf2[1] = float("-inf")
    F.cross_entropy(leaf2.requires_grad_() * 2, y)
    assert codes(caught) == ["XG201", "XG201"]
    assert "NaN (in 1 of 16 rows)" in str(caught[0].message)
    assert "entirely -inf" in str(caught[1].message)
