"""Provenance first, then values: inputs with a graph whose producer the walk does not know."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import xentguard


def codes(records: list) -> list[str]:
    """The rule codes of the XentGuardWarnings among ``records``, in order."""
    return [str(r.message).split(" ", 1)[0] for r in records if issubclass(r.category, xentguard.XentGuardWarning)]


def messages(records: list) -> list[str]:
    return [str(r.message) for r in records if issubclass(r.category, xentguard.XentGuardWarning)]


@pytest.fixture(autouse=True)
def _warn_every_call() -> None:
    xentguard.install(mode="warn", once=False)


@pytest.fixture
def linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(8, 6)


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(16, 8, generator=torch.Generator().manual_seed(2))


@pytest.fixture
def y() -> torch.Tensor:
    return torch.randint(0, 6, (16,), generator=torch.Generator().manual_seed(1))


def test_the_issue_reproductions(caught, linear, x, y):
    """Both passed silently when only provenance decided inputs with a graph."""
    F.nll_loss(F.relu(linear(x)), y)
    a, b = linear(x[:8]), linear(x[8:])
    F.cross_entropy(torch.cat([F.softmax(a, 1), F.softmax(b, 1)]), y)
    assert codes(caught) == ["XG104", "XG101"]
    relu, cat = messages(caught)
    assert "ReluBackward0" in relu and "> 0, which log-probabilities never are" in relu
    assert "CatBackward0" in cat and "every sampled row sums to 1" in cat


def test_index_select_and_scaled_inputs(caught, linear, x, y):
    probs = F.softmax(linear(x), dim=1)
    F.cross_entropy(probs.index_select(0, torch.arange(15, -1, -1)), y)  # XG101
    F.cross_entropy(2 * linear(x), y)  # logits, scaled: right
    F.nll_loss(2 * linear(x), y)  # values above 0: XG104
    F.nll_loss(torch.cat([F.log_softmax(linear(x[:8]), 1), F.log_softmax(linear(x[8:]), 1)]), y)  # right
    F.cross_entropy(torch.cat([F.log_softmax(linear(x[:8]), 1), F.log_softmax(linear(x[8:]), 1)]), y)  # XG102
    assert codes(caught) == ["XG101", "XG104", "XG102"]


def test_log_probabilities_through_unknown_producers_are_right_for_nll(caught, linear, x, y):
    probs = F.softmax(linear(x), dim=1)
    F.nll_loss(torch.log(probs + 1e-8), y)  # AddBackward0 under the log: values decide, all <= 0
    F.nll_loss(F.log_softmax(linear(x), 1) * 1.0 + 1e-6, y)  # rounding-sized excess over 0
    F.nll_loss(torch.logsumexp(torch.stack([F.log_softmax(linear(x), 1)] * 2), dim=0) - 0.6931, y)
    assert codes(caught) == []


def test_nll_any_value_above_zero_is_xg104(caught, y):
    with torch.no_grad():
        F.nll_loss(torch.rand(16, 6), y)  # in [0, 1], not probabilities: still not log-probabilities
    F.nll_loss(torch.sigmoid(torch.randn(16, 6, requires_grad=True)), y)  # provenance sigmoid: > 0
    F.nll_loss(torch.rand(16, 2), y.clamp(max=1))  # two classes: too few to call probabilities, still > 0
    assert codes(caught) == ["XG104", "XG104", "XG104"]
    assert "sigmoid (grad_fn SigmoidBackward0), by its values: max" in messages(caught)[1]


def test_nll_positive_values_in_ignored_rows_only_are_legal(caught, y):
    logprobs = F.log_softmax(torch.randn(16, 6, requires_grad=True), dim=1) * 1.0
    padded = torch.cat([logprobs, torch.full((4, 6), 5.0)])  # padding rows hold garbage
    target = torch.cat([y, torch.full((4,), -100)])
    F.nll_loss(padded, target)
    assert codes(caught) == []
    F.nll_loss(padded, torch.cat([y, torch.zeros(4, dtype=torch.long)]))  # now they count
    assert codes(caught) == ["XG104"]


def test_kl_input_above_zero_is_not_log_probabilities(caught, linear, x):
    teacher = F.softmax(torch.randn(16, 6), dim=1)
    F.kl_div(F.relu(linear(x)), teacher, reduction="batchmean")
    F.kl_div(linear(x) + 3.0, teacher, reduction="batchmean")
    F.kl_div(torch.sigmoid(linear(x)), teacher, reduction="batchmean")
    F.kl_div(F.log_softmax(linear(x), 1) * 1.0, teacher, reduction="batchmean")  # right
    F.kl_div(F.log_softmax(linear(x), 1), teacher, reduction="batchmean")  # right, by provenance
    assert codes(caught) == ["XG110", "XG110", "XG110"]
    assert all("which log-probabilities never are" in m for m in messages(caught))


def test_kl_linear_output_all_below_zero_is_let_go(caught, linear, x):
    """A Linear output is not provably wrong for kl_div: only values above 0 are."""
    teacher = F.softmax(torch.randn(16, 6), dim=1)
    F.kl_div(linear(x) - 50.0, teacher, reduction="batchmean")
    assert codes(caught) == []


def test_values_keep_the_class_and_row_rules_with_a_graph(caught):
    leaf = torch.randn(1, 5, requires_grad=True)
    F.cross_entropy(F.softmax(leaf, 1) * 1.0, torch.tensor([1]))  # one row: not enough evidence
    two = torch.randn(32, 2, requires_grad=True)
    F.cross_entropy(F.softmax(two, 1) * 1.0, torch.randint(0, 2, (32,)))  # two classes: never by values
    assert codes(caught) == []


def test_value_sources_say_where_the_walk_stopped(caught, y):
    with torch.no_grad():
        F.cross_entropy(F.softmax(torch.randn(16, 6), 1), y)
    F.cross_entropy(F.softmax(torch.randn(16, 6, requires_grad=True), 1) * 1.0, y)
    without, with_graph = messages(caught)
    assert "a tensor without autograd history" in without
    assert "grad_fn MulBackward0, which provenance does not classify" in with_graph


def test_xg111_kl_target_by_provenance_and_by_values(caught, linear, x):
    student = F.log_softmax(linear(x), dim=1)
    teacher_logits = torch.randn(16, 6, requires_grad=True)
    F.kl_div(student, F.log_softmax(teacher_logits, dim=1), reduction="batchmean")  # provenance
    F.kl_div(student, F.log_softmax(teacher_logits, dim=1).detach(), reduction="batchmean")  # values
    F.kl_div(student, F.log_softmax(teacher_logits, dim=1), reduction="batchmean", log_target=True)
    F.kl_div(student, F.softmax(teacher_logits, dim=1), reduction="batchmean")
    nn.KLDivLoss(reduction="batchmean")(student, F.log_softmax(teacher_logits, dim=1))
    assert codes(caught) == ["XG111", "XG111", "XG111"]
    by_prov, by_values, module = messages(caught)
    assert "log_softmax (grad_fn LogSoftmaxBackward0)" in by_prov
    assert "logsumexp of every sampled row is 0" in by_values
    assert module.split(": ", 1)[1].startswith("KLDivLoss target is log-probabilities")


def test_xg111_cross_entropy_soft_target_in_log_space(caught, linear, x):
    soft = F.softmax(torch.randn(16, 6), dim=1)
    F.cross_entropy(linear(x), soft.log())
    F.cross_entropy(linear(x), soft.log() - 1.0)  # all <= 0 but not log-probabilities: XG202
    F.cross_entropy(linear(x), soft)
    assert codes(caught) == ["XG111", "XG202"]
    assert "all <= 0: log-space targets?" in messages(caught)[1]


def test_xg202_keeps_the_other_target_problems(caught, linear, x):
    soft = F.softmax(torch.randn(16, 6), dim=1)
    mixed = soft.clone()
    mixed[0] = torch.tensor([-0.5, 0.5, 0.5, 0.5, 0.0, 0.0])  # negative, but not log space
    F.cross_entropy(linear(x), mixed)
    F.kl_div(F.log_softmax(linear(x), 1), soft * 3, reduction="batchmean")  # no sum check for kl_div
    nan = soft.log().clone()
    nan[2, 2] = float("nan")
    F.kl_div(F.log_softmax(linear(x), 1), nan, reduction="batchmean")  # NaN comes first
    assert codes(caught) == ["XG202", "XG202"]
    assert "negative values" in messages(caught)[0] and "NaN" in messages(caught)[1]


def test_xg111_in_raise_mode_raises_at_the_call(linear, x):
    xentguard.install(mode="raise")
    teacher = F.log_softmax(torch.randn(16, 6), dim=1)
    with pytest.raises(xentguard.LossMisuseError, match="XG111"):
        F.kl_div(F.log_softmax(linear(x), 1), teacher, reduction="batchmean")


def test_losses_unchanged_when_values_decide(linear, x, y):
    """The value path reads the input before the call; loss and gradients stay bitwise equal."""

    def run() -> tuple[torch.Tensor, torch.Tensor]:
        linear.zero_grad()
        loss = F.nll_loss(F.log_softmax(linear(x), 1) * 1.0, y) + F.cross_entropy(2 * linear(x), y)
        loss.backward()
        assert linear.weight.grad is not None
        return loss.detach(), linear.weight.grad.clone()

    xentguard.uninstall()
    plain = run()
    with xentguard.guard(mode="log"):
        guarded = run()
    assert torch.equal(plain[0], guarded[0]) and torch.equal(plain[1], guarded[1])
