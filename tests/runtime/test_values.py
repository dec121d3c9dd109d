"""Value classification: random logits are never called probabilities or log-probabilities."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xentguard
from xentguard.runtime import checks


def codes(records: list) -> list[str]:
    """The rule codes of the XentGuardWarnings among ``records``, in order."""
    return [str(r.message).split(" ", 1)[0] for r in records if issubclass(r.category, xentguard.XentGuardWarning)]


DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]
shapes = st.one_of(
    st.tuples(st.integers(1, 3000).map(lambda c: c)),  # (C,)
    st.tuples(st.integers(1, 64), st.integers(1, 300)),  # (N, C)
    st.tuples(st.integers(1, 4), st.integers(1, 12), st.integers(1, 5), st.integers(1, 5)),  # (N, C, d1, d2)
)


def _target_for(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    classes = shape[0] if len(shape) == 1 else shape[1]
    rows = () if len(shape) == 1 else (shape[0], *shape[2:])
    return torch.randint(0, classes, rows, generator=gen)


# The evidence wordings of a "probabilities" / "log-probabilities" call by values (checks.py).
CALLED_PROBS = "every sampled row sums to 1"
CALLED_LOGPROBS = "logsumexp of every sampled row is 0"


def _through_unknown_producer(x: torch.Tensor) -> torch.Tensor:
    """The same values with a graph whose producer provenance does not know (MulBackward0)."""
    return x.detach().requires_grad_() * 1.0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=shapes,
    log_scale=st.floats(-3, 3),
    offset=st.sampled_from([0.0, -1.0, 1.0]),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**31 - 1),
    loss=st.sampled_from(["cross_entropy", "nll_loss_pos", "kl_div"]),
    graph=st.booleans(),
)
def test_random_logits_never_misclassified(shape, log_scale, offset, dtype, seed, loss, graph):
    gen = torch.Generator().manual_seed(seed)
    scale = 10.0**log_scale
    x = (torch.randn(shape, generator=gen) * scale + offset * scale).to(dtype)
    if graph:
        x = _through_unknown_producer(x)
    target = _target_for(shape, gen)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with xentguard.guard(mode="warn", once=False), torch.no_grad():
            if loss == "cross_entropy":
                F.cross_entropy(x, target)
            elif loss == "kl_div":
                F.kl_div(x, torch.softmax(torch.randn(shape, generator=gen), dim=-1).to(dtype), reduction="sum")
            else:
                # nll on logits: XG104 allowed (that is what they are), XG103 never
                F.nll_loss(x, target)
    found = set(codes(caught))
    messages = [str(w.message) for w in caught]
    # kl_div: XG110 is allowed only as "values above 0 are not log-probabilities"
    assert not found & {"XG101", "XG102", "XG103", "XG111", "XG201", "XG202"}, found
    assert not [m for m in messages if CALLED_PROBS in m or CALLED_LOGPROBS in m], messages


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(2, 64),
    classes=st.integers(3, 400),
    log_scale=st.floats(-3, 2),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**31 - 1),
    graph=st.booleans(),
)
def test_real_probabilities_and_log_probabilities_are_recognised(rows, classes, log_scale, dtype, seed, graph):
    if rows * classes < 16:
        rows = 16
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, classes, generator=gen) * 10.0**log_scale
    target = torch.randint(0, classes, (rows,), generator=gen)
    probs, logprobs = torch.softmax(logits.to(dtype), dim=1), torch.log_softmax(logits.to(dtype), dim=1)
    if graph:
        probs, logprobs = _through_unknown_producer(probs), _through_unknown_producer(logprobs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with xentguard.guard(mode="warn", once=False):
            F.cross_entropy(probs, target)
            F.cross_entropy(logprobs, target)
            F.nll_loss(logprobs, target)  # log-probabilities: nothing
    assert codes(caught) == ["XG101", "XG102"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_vocabulary_low_precision(dtype):
    logits = torch.randn(4, 32768) * 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with xentguard.guard(once=False), torch.no_grad():
            F.cross_entropy(torch.log_softmax(logits, dim=1).to(dtype), torch.zeros(4, dtype=torch.long))
            F.nll_loss(torch.softmax(logits, dim=1).to(dtype), torch.zeros(4, dtype=torch.long))
            F.cross_entropy(logits.to(dtype), torch.zeros(4, dtype=torch.long))
    assert codes(caught) == ["XG102", "XG103"]


def test_single_row_is_not_enough_evidence():
    probs = torch.softmax(torch.randn(1, 5), dim=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with xentguard.guard(), torch.no_grad():
            F.cross_entropy(probs, torch.tensor([1]))
    assert codes(caught) == []


@pytest.mark.parametrize(
    ("shape", "class_dim"),
    [((500, 7), 1), ((7,), 0), ((3, 7, 40, 50), 1), ((2, 7, 5, 3), 1), ((200, 9, 7), 2), ((1000, 3), 1)],
)
def test_sample_rows_is_a_bounded_view_of_the_first_rows(shape, class_dim):
    x = torch.randn(shape)
    valid = torch.rand([s for i, s in enumerate(shape) if i != class_dim]) > 0.3
    xs, vs = checks.sample_rows(x, class_dim, valid, want=64)
    rows_total = x.numel() // shape[class_dim]
    rows = xs.numel() // shape[class_dim]
    assert min(64, rows_total) <= rows < 2 * 64 or rows == rows_total
    assert xs.shape[class_dim] == shape[class_dim]  # whole rows only
    assert xs.data_ptr() == x.data_ptr() and (xs is x or xs._base is x)  # a view: nothing copied
    assert vs is not None and tuple(vs.shape) == tuple(s for i, s in enumerate(xs.shape) if i != class_dim)
    # the mask still lines up with its rows: the first row of the sample is the first row of x
    first = (0,) * class_dim + (slice(None),) + (0,) * (x.dim() - class_dim - 1)
    assert torch.equal(xs[first], x[first]) and bool(vs.flatten()[0]) == bool(valid.flatten()[0])
