"""What the guard measures on a loss call and what the measurements mean.

A call is described by a :class:`Plan` (host-side facts: which loss, the class dimension,
the provenance, the dtype tolerance; no tensors) and measured into a flat ``dict`` of floats.
:func:`judge` turns plan + measurements into findings. The measurement has two
implementations with the same keys:

* :func:`measure_host` for CPU tensors: staged, so the common case (finite input, targets in
  range) costs two tiny reductions and nothing else; there is no sync to avoid on CPU.
* :func:`measure_device` for CUDA tensors: every statistic is computed on the device without a
  single data-dependent branch, and stacked into one small float64 tensor that can be copied
  to the host asynchronously. Reads the logits once (row aminmax: NaN/inf, and the value
  range), plus, when values must decide the kind, the row sums and logsumexp of a bounded
  sample of rows; extra memory is O(rows).

Provenance decides the kind when it can (:func:`provenance_decides`); otherwise (no graph, or
a producer the walk does not know) the values do, with the same rules either way.

Missing keys mean "not measured" and never produce a finding.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from xentguard.runtime.classify import MIN_CLASSES, MIN_ROWS, MIN_VALUES, Provenance, Tolerance

INF = float("inf")
SAMPLE_ROWS = 64  # rows whose sum and logsumexp are computed (a bounded temporary, not the tensor)

# loss kinds
CE, NLL, KL, BCE_LOGITS, BCE = "ce", "nll", "kl", "bce_logits", "bce"
# target kinds
T_INDEX, T_SOFT, T_KL, T_KL_LOG, T_BINARY, T_NONE = "index", "soft", "kl", "kl_log", "binary", "none"


@dataclass
class Plan:  # plain (not frozen) dataclass: built on every call, frozen __init__ is slower
    loss_kind: str
    func: str  # the torch.nn.functional name
    provenance: Provenance | None
    producer: str  # backward node where the provenance walk stopped ("" without a graph)
    class_dim: int  # -1 for elementwise losses
    classes: int
    tol: Tolerance
    values: bool  # classify by values (provenance inconclusive, a class dimension)
    target_kind: str
    target_tol: float
    target_lse_tol: float  # |logsumexp| of a log-space target row
    target_provenance: Provenance | None  # of a floating target (soft / KL), None otherwise
    ignore_index: int | None
    rows_match: bool  # index target shape == input shape without the class dim


# Provenance kinds that settle each loss's question without looking at values: a wrong kind
# (a finding) or the right one. Anything else, and no provenance at all, is decided by values.
_DECIDED_BY_PROVENANCE: dict[str, frozenset[str]] = {
    CE: frozenset({"probs", "logprobs", "linear", "sigmoid"}),
    # sigmoid output is > 0, never log-probabilities: the values say so (XG104 / XG110)
    NLL: frozenset({"probs", "logprobs", "linear"}),
    # a Linear output may be anything; only values tell whether it is above 0
    KL: frozenset({"probs", "logprobs"}),
}


def provenance_decides(prov: Provenance | None, loss_kind: str) -> bool:
    """Whether the graph alone settles the input's kind for this loss (then no values are read)."""
    if prov is None:
        return False
    decided = _DECIDED_BY_PROVENANCE.get(loss_kind)
    return decided is None or prov.kind in decided


def _ignore_mask(target: torch.Tensor, plan: Plan) -> torch.Tensor | None:
    if plan.target_kind != T_INDEX or not plan.rows_match or plan.ignore_index is None:
        return None
    return target != plan.ignore_index


# ---------------------------------------------------------------------------------------
# Device measurement: no branch on data, everything into 0-d tensors.


def _const(value: float, like: torch.Tensor) -> torch.Tensor:
    # torch.full is a fill kernel: no host-to-device copy, so no sync.
    return torch.full((), float(value), dtype=torch.float64, device=like.device)


def _row_stats(x: torch.Tensor, plan: Plan, valid: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """NaN/inf per row, and (for value classification) the row evidence. ``x`` is detached."""
    out: dict[str, torch.Tensor] = {}
    if plan.class_dim < 0:
        _, hi = torch.aminmax(x)
        out["in_nan"] = torch.isnan(hi).to(torch.float64)
        out["in_posinf"] = (hi == INF).to(torch.float64)
        return out
    # The one full read of the logits: everything below works on O(rows) values or a sample.
    rmin, rmax = torch.aminmax(x, dim=plan.class_dim)
    out["in_nan"] = torch.isnan(rmax).sum()
    out["in_posinf"] = (rmax == INF).sum()
    rows_neginf = rmax == -INF
    if valid is not None:
        rows_neginf = rows_neginf & valid
    out["in_neginf_rows"] = rows_neginf.sum()
    out["rows"] = _const(rmax.numel(), rmax)
    if not plan.values:
        return out
    if valid is None:
        out["gmin"], out["gmax"] = rmin.min(), rmax.max()
        out["rowmax_min"] = rmax.min()
        out["n_valid"] = out["rows"]
    else:
        out["gmin"] = torch.where(valid, rmin, INF).min()
        out["gmax"] = torch.where(valid, rmax, -INF).max()
        out["rowmax_min"] = torch.where(valid, rmax, INF).min()
        out["n_valid"] = valid.sum()
    out["sum_dev"], out["lse_dev"], out["n_lse"] = _sample_stats(x, plan.class_dim, valid)
    return out


def sample_rows(
    x: torch.Tensor, class_dim: int, valid: torch.Tensor | None, want: int = SAMPLE_ROWS
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A view of the first rows of ``x`` (``want`` of them, or all when fewer) and their mask.

    Narrows the non-class dimensions from the first: for ``(N, C, H, W)`` one item, one line,
    ``want`` pixels, rather than a whole item (which can be most of the tensor).
    """
    if class_dim < 0:
        return x, valid
    shape = x.shape
    dims = [d for d in range(x.dim()) if d != class_dim]
    remaining = want
    for i, d in enumerate(dims):
        after = math.prod(shape[e] for e in dims[i + 1 :])
        take = min(shape[d], max(1, -(-remaining // max(after, 1))))
        if take < shape[d]:
            x = x.narrow(d, 0, take)
            if valid is not None:
                valid = valid.narrow(d if d < class_dim else d - 1, 0, take)
        if after < remaining:  # `take` rows along d, each with all of the later dims: enough
            break
    return x, valid


def _sample_stats(
    x: torch.Tensor, class_dim: int, valid: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """max |row sum - 1|, max |logsumexp| and the number of rows, over a bounded sample of rows."""
    xs, vs = sample_rows(x, class_dim, valid)
    xf = xs.float()  # fp32 accumulation (the sample is bounded, so is this copy)
    sum_dev = (xf.sum(dim=class_dim) - 1).abs()
    lse = torch.logsumexp(xf, dim=class_dim).abs()
    if vs is None:
        return sum_dev.max(), lse.max(), _const(lse.numel(), lse)
    return torch.where(vs, sum_dev, 0.0).max(), torch.where(vs, lse, 0.0).max(), vs.sum()


def _target_stats(
    target: torch.Tensor, plan: Plan, valid: torch.Tensor | None, log_space: bool = True
) -> dict[str, torch.Tensor]:
    """Target statistics; ``log_space``: also the logsumexp of sampled rows (is it log-probabilities?)."""
    out: dict[str, torch.Tensor] = {}
    kind = plan.target_kind
    if kind == T_INDEX:
        if valid is None:
            tmin, tmax = torch.aminmax(target)
            bad = (target < 0) | (target >= plan.classes)
        else:
            tmin = torch.where(valid, target, 0).min()
            tmax = torch.where(valid, target, 0).max()
            bad = ((target < 0) | (target >= plan.classes)) & valid
        out["tgt_bad"] = bad.sum()
        out["tgt_min"], out["tgt_max"] = tmin, tmax
        return out
    if kind == T_NONE or not target.is_floating_point():
        return out
    t = target.detach()
    tmin, tmax = torch.aminmax(t)
    out["tgt_nan"] = torch.isnan(tmax)  # aminmax propagates NaN
    out["tgt_min"], out["tgt_max"] = tmin, tmax
    if kind == T_SOFT and plan.class_dim >= 0:
        sums = t.sum(dim=plan.class_dim, dtype=torch.float32)
        out["tgt_sum_dev"] = (sums - 1).abs().max()
    if log_space:
        out.update(_target_log_space(t, plan))
    return out


def _target_log_space(t: torch.Tensor, plan: Plan) -> dict[str, torch.Tensor]:
    """max |logsumexp| over sampled target rows: 0 when the target is log-probabilities."""
    if plan.target_kind not in (T_SOFT, T_KL) or plan.class_dim < 0 or t.dim() == 0:
        return {}
    _, lse_dev, n_lse = _sample_stats(t, plan.class_dim, None)
    return {"tgt_lse_dev": lse_dev, "tgt_n_lse": n_lse}


def measure_device(x: torch.Tensor, target: torch.Tensor | None, plan: Plan) -> tuple[list[str], list[torch.Tensor]]:
    """All statistics as 0-d device tensors, in a fixed order; no host synchronisation."""
    xd = x.detach()
    valid = _ignore_mask(target, plan) if target is not None else None
    stats = _row_stats(xd, plan, valid)
    if target is not None:
        stats.update(_target_stats(target, plan, valid))
    return list(stats), list(stats.values())


def loss_stats(result: torch.Tensor) -> list[torch.Tensor]:
    """Non-finite count of the loss value (0-d or per-row)."""
    r = result.detach()
    return [(~torch.isfinite(r)).sum()]


def stack(values: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([v.to(torch.float64).reshape(()) for v in values])


# ---------------------------------------------------------------------------------------
# Host measurement (CPU tensors): staged, cheap when nothing is wrong.


def measure_host(x: torch.Tensor, target: torch.Tensor | None, plan: Plan, scan_input: bool = True) -> dict[str, float]:
    """Call with grad mode off (cheaper than detaching: no autograd records either way).

    ``scan_input=False`` leaves the input alone (soft targets are still checked): the caller
    then scans it only if the loss comes out non-finite, which NaN or +inf in any row the loss
    uses, or a whole row at -inf, always make it.
    """
    xd = x
    out: dict[str, float] = {}
    if not scan_input:
        if target is not None and plan.target_kind not in (T_NONE, T_INDEX):
            out.update(_host_target_stats(target, plan, None))
        return out
    if xd.numel() == 0:
        return out
    lo_t, hi_t = torch.aminmax(xd)  # NaN propagates, so this also answers "any NaN?"
    lo, hi = lo_t.item(), hi_t.item()
    out["gmin"], out["gmax"] = lo, hi
    finite = math.isfinite(lo) and math.isfinite(hi)
    # Cheap exit for value classification: values above 1 and above 0 are neither
    # probabilities nor log-probabilities (random logits almost always stop here; for
    # nll_loss and kl_div the maximum alone already says "not log-probabilities").
    could_be_probs = lo >= -plan.tol.sum and hi <= 1 + plan.tol.sum
    could_be_logprobs = hi <= plan.tol.lse
    need_values = plan.values and (could_be_probs or could_be_logprobs)
    need_target = target is not None and plan.target_kind != T_NONE
    valid = None
    if target is not None and plan.values and not need_values and _has_ignored_rows(target, plan):
        # Ignored rows may hold anything: judge the values on the other rows only.
        need_values = True
    if target is not None and (not finite or need_values):
        valid = _ignore_mask(target, plan)
    if not finite or need_values:
        detailed = plan if need_values == plan.values else _without_values(plan)
        for key, tensor in _row_stats(xd, detailed, valid).items():
            out[key] = float(tensor.item())
    # Class indices are checked by torch itself on CPU (IndexError): the guard only explains
    # such a failure afterwards (measure_index_target), which keeps the common path short.
    if need_target and target is not None and plan.target_kind != T_INDEX:
        out.update(_host_target_stats(target, plan, valid))
    return out


def _host_target_stats(target: torch.Tensor, plan: Plan, valid: torch.Tensor | None) -> dict[str, float]:
    """Soft / KL / binary target statistics; the log-space sample only when the range allows it."""
    out = {key: float(t.item()) for key, t in _target_stats(target, plan, valid, log_space=False).items()}
    tmin, tmax = out.get("tgt_min"), out.get("tgt_max")
    if tmin is not None and tmax is not None and tmax <= plan.target_tol and tmin < -plan.target_tol:
        out.update({key: float(t.item()) for key, t in _target_log_space(target.detach(), plan).items()})
    return out


def _has_ignored_rows(target: torch.Tensor, plan: Plan) -> bool:
    if plan.target_kind != T_INDEX or not plan.rows_match or plan.ignore_index is None or not target.numel():
        return False
    if plan.ignore_index < 0:  # the usual -100: any negative entry is it (others are errors)
        return bool(target.min().item() < 0)
    return bool((target == plan.ignore_index).any().item())


def measure_index_target(target: torch.Tensor, plan: Plan) -> dict[str, float]:
    """Range statistics of class-index targets (CPU, after torch rejected them)."""
    if plan.target_kind != T_INDEX or target.numel() == 0:
        return {}
    valid = _ignore_mask(target, plan)
    return {key: float(t.item()) for key, t in _target_stats(target, plan, valid).items()}


def _without_values(plan: Plan) -> Plan:
    return dataclasses.replace(plan, values=False)


def loss_nonfinite_host(result: torch.Tensor) -> float:
    if result.numel() == 1:
        return 0.0 if math.isfinite(result.item()) else 1.0
    return float((~torch.isfinite(result.detach())).sum().item())


# ---------------------------------------------------------------------------------------
# Judging: measurements -> findings (code, source, detail).


@dataclass(frozen=True)
class Finding:
    code: str
    source: str = ""
    detail: str = ""


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _value_source(plan: Plan, what: str) -> str:
    """The producer as far as the graph names it, and the values that settled the kind."""
    if plan.provenance is not None:
        return f"{plan.provenance.describe()}, by its values: {what}"
    if plan.producer:
        return f"grad_fn {plan.producer}, which provenance does not classify (its values: {what})"
    return f"a tensor without autograd history (its values: {what})"


def classify_values(stats: dict[str, float], plan: Plan) -> tuple[str, str] | None:
    """("probs" | "logprobs", evidence) when the values prove it, else None."""
    if not plan.values or "sum_dev" not in stats or plan.classes < MIN_CLASSES:
        return None
    n_valid = stats.get("n_valid", 0.0)
    if n_valid < MIN_ROWS or n_valid * plan.classes < MIN_VALUES:
        return None
    gmin, gmax = stats["gmin"], stats["gmax"]
    tol = plan.tol
    n_sampled = stats.get("n_lse", 0.0)
    if n_sampled < MIN_ROWS:
        return None
    if gmin >= -tol.sum and gmax <= 1 + tol.sum and stats["sum_dev"] <= tol.sum:
        return "probs", f"all in [0, 1], every sampled row sums to 1 within {tol.sum:.0e}"
    floor = -math.log(plan.classes) - tol.lse  # the largest log-probability of a row is >= -log C
    if gmax <= tol.lse and stats["rowmax_min"] >= floor and stats.get("lse_dev", INF) <= tol.lse:
        return "logprobs", f"all <= 0, logsumexp of every sampled row is 0 within {tol.lse:.0e}"
    return None


def judge(stats: dict[str, float], plan: Plan) -> list[Finding]:
    """Findings about the input and target (the loss value is judged by :func:`judge_loss`)."""
    found: list[Finding] = []
    if stats:
        found += judge_nonfinite(stats, plan)
    if plan.provenance is not None or plan.values:
        found += _judge_kind(stats, plan)
    if stats:
        found += _judge_target(stats, plan)
    return found


def judge_nonfinite(stats: dict[str, float], plan: Plan) -> list[Finding]:
    parts: list[str] = []
    rows = stats.get("rows", 0.0)
    of_rows = f" of {int(rows)}" if rows else ""
    nan = stats.get("in_nan", 0.0)
    if nan > 0 or math.isnan(nan):
        parts.append(f"NaN (in {int(nan)}{of_rows} rows)" if plan.class_dim >= 0 else "NaN")
    if stats.get("in_posinf", 0.0) > 0:
        parts.append("+inf")
    neginf_rows = stats.get("in_neginf_rows", 0.0)
    if neginf_rows > 0:
        parts.append(
            f"{int(neginf_rows)}{of_rows} rows that are entirely -inf "
            "(-inf masks some classes legally, but a whole row has no class left)"
        )
    if not parts:
        return []
    return [Finding("XG201", detail=" and ".join(parts))]


def _judge_kind(stats: dict[str, float], plan: Plan) -> list[Finding]:
    prov = plan.provenance
    lk = plan.loss_kind
    kind: str | None = None
    source = ""
    if prov is not None and not plan.values:
        kind = prov.kind
        if kind == "linear" and lk != NLL:
            return []  # the right input everywhere but in nll_loss: the common, silent case
        source = prov.describe()
    else:
        by_values = classify_values(stats, plan)
        if by_values is not None:
            kind, source = by_values[0], _value_source(plan, by_values[1])
    if lk == CE:
        if kind == "probs":
            return [Finding("XG101", source=source)]
        if kind == "logprobs":
            return [Finding("XG102", source=source)]
    elif lk in (NLL, KL):
        if kind == "probs":
            return [Finding("XG103" if lk == NLL else "XG110", source=source)]
        if kind == "logprobs" and prov is not None and prov.node == "LogBackward0" and not plan.values:
            # Right kind, fragile spelling: log(softmax(x)) is -inf where softmax rounds to 0.
            return [Finding("XG105", source=source)]
        if kind == "linear":  # nll_loss only: for kl_div a Linear output is left to the values
            return [Finding("XG104", source=source)]
        if kind is None and plan.values and _above_zero(stats, plan):
            what = f"max {_fmt(stats['gmax'])} > 0, which log-probabilities never are"
            return [Finding("XG104" if lk == NLL else "XG110", source=_value_source(plan, what))]
    elif lk == BCE_LOGITS and kind == "sigmoid":
        return [Finding("XG106", source=source)]
    elif lk == BCE and kind == "sigmoid":
        return [Finding("XG107", source=source)]  # advice: off unless selected, as in the linter
    return []


def _above_zero(stats: dict[str, float], plan: Plan) -> bool:
    """A value above 0 beyond rounding: whatever else the input is, not log-probabilities."""
    gmax = stats.get("gmax")
    return gmax is not None and math.isfinite(gmax) and gmax > plan.tol.lse


def _judge_target(stats: dict[str, float], plan: Plan) -> list[Finding]:
    kind = plan.target_kind
    detail = ""
    if kind == T_INDEX:
        if stats.get("tgt_bad", 0.0) > 0:
            ignore = f" or ignore_index={plan.ignore_index}" if plan.ignore_index is not None else ""
            bad = stats["tgt_max"] if stats["tgt_max"] >= plan.classes else stats["tgt_min"]
            detail = (
                f"class index {int(bad)} is out of range for {plan.classes} classes "
                f"(valid: 0..{plan.classes - 1}{ignore}; {int(stats['tgt_bad'])} bad entries); "
                "on CUDA this is a device-side assert that kills the process"
            )
    elif "tgt_min" in stats:
        tmin, tmax, tol = stats["tgt_min"], stats["tgt_max"], plan.target_tol
        if stats.get("tgt_nan", 0.0) or math.isnan(tmin) or math.isnan(tmax):
            detail = "it contains NaN"
        elif kind == T_KL_LOG:
            if tmax > tol:
                detail = f"log_target=True but it has values above 0 (max {_fmt(tmax)}): pass log-probabilities"
        elif (log_space := _log_space_target(stats, plan)) is not None:
            return [Finding("XG111", source=log_space)]
        elif tmin == -INF:
            hint = " (log_target=True if it is meant to be log-probabilities)" if kind == T_KL else ""
            detail = f"it contains -inf: log-space targets{hint}; soft targets must be probabilities"
        elif tmin < -tol:
            hint = " or log_target=True" if kind == T_KL else ""
            log_space_hint = " (all <= 0: log-space targets?)" if tmax <= tol else ""
            detail = (
                f"it has negative values (min {_fmt(tmin)}){log_space_hint}: soft targets must be probabilities{hint}"
            )
        elif kind == T_BINARY and tmax > 1 + tol:
            detail = f"it has values above 1 (max {_fmt(tmax)}): binary targets must lie in [0, 1]"
        elif kind == T_SOFT and stats.get("tgt_sum_dev", 0.0) > tol:
            detail = (
                f"soft-target rows do not sum to 1 (off by up to {_fmt(stats['tgt_sum_dev'])}): "
                "they must be probabilities over the classes"
            )
    return [Finding("XG202", detail=detail)] if detail else []


def _log_space_target(stats: dict[str, float], plan: Plan) -> str | None:
    """Where a soft / KL target in log space came from (XG111), or None if it is not in log space.

    Log space: every value <= 0 and some below, and either the graph names log_softmax or the
    sampled rows' logsumexp is 0 (log-probabilities; -inf entries are log(0), still log space).
    """
    if plan.target_kind not in (T_SOFT, T_KL):
        return None
    tmin, tmax, tol = stats["tgt_min"], stats["tgt_max"], plan.target_tol
    if not (tmax <= tol and tmin < -tol):
        return None
    prov = plan.target_provenance
    if prov is not None and prov.kind == "logprobs":
        return prov.describe()
    if stats.get("tgt_n_lse", 0.0) >= 1 and stats.get("tgt_lse_dev", INF) <= plan.target_lse_tol:
        what = f"all <= 0, logsumexp of every sampled row is 0 within {plan.target_lse_tol:.0e}"
        if prov is not None:
            return f"{prov.describe()}, by its values: {what}"
        return f"a tensor whose values say so ({what})"
    return None


_EXPLAINS_NONFINITE = frozenset({"XG201", "XG202", "XG111"})


def judge_loss(nonfinite: float, value: str, earlier: list[Finding]) -> list[Finding]:
    """XG203, unless XG201/XG202/XG111 already explain the non-finite loss.

    (kl_div with log-space targets takes the log of negative numbers: NaN, explained by XG111.)
    """
    if nonfinite <= 0 or any(f.code in _EXPLAINS_NONFINITE for f in earlier):
        return []
    return [Finding("XG203", detail=value)]
