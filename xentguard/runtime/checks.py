"""What the guard measures on a loss call and what the measurements mean.

A call is described by a :class:`Plan` (host-side facts: which loss, the class dimension,
the provenance, the dtype tolerance; no tensors) and measured into a flat ``dict`` of floats.
:func:`judge` turns plan + measurements into findings. The measurement has two
implementations with the same keys:

* :func:`measure_host` for CPU tensors: staged, so the common case (finite input, targets in
  range) costs two tiny reductions and nothing else; there is no sync to avoid on CPU.
* :func:`measure_device` for CUDA tensors: every statistic is computed on the device without a
  single data-dependent branch, and stacked into one small float64 tensor that can be copied
  to the host asynchronously. Reads the logits once for the NaN/inf checks (row aminmax),
  plus once more (row sums) and a bounded sample of rows (logsumexp) only for tensors without
  a graph; extra memory is O(rows).

Missing keys mean "not measured" and never produce a finding.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from xentguard.runtime.classify import MIN_CLASSES, MIN_ROWS, MIN_VALUES, Provenance, Tolerance

INF = float("inf")
LSE_SAMPLE_ROWS = 64  # rows whose logsumexp is computed (a bounded temporary, not the tensor)

# loss kinds
CE, NLL, KL, BCE_LOGITS, BCE = "ce", "nll", "kl", "bce_logits", "bce"
# target kinds
T_INDEX, T_SOFT, T_KL, T_KL_LOG, T_BINARY, T_NONE = "index", "soft", "kl", "kl_log", "binary", "none"


@dataclass
class Plan:  # plain (not frozen) dataclass: built on every call, frozen __init__ is slower
    loss_kind: str
    func: str  # the torch.nn.functional name
    provenance: Provenance | None
    class_dim: int  # -1 for elementwise losses
    classes: int
    tol: Tolerance
    values: bool  # classify by values (no graph, enough classes)
    target_kind: str
    target_tol: float
    ignore_index: int | None
    rows_match: bool  # index target shape == input shape without the class dim


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
        sums = x.sum(dim=plan.class_dim, dtype=torch.float32)
        out["sum_dev"] = (sums - 1).abs().max()
    else:
        out["gmin"] = torch.where(valid, rmin, INF).min()
        out["gmax"] = torch.where(valid, rmax, -INF).max()
        out["rowmax_min"] = torch.where(valid, rmax, INF).min()
        out["n_valid"] = valid.sum()
        sums = x.sum(dim=plan.class_dim, dtype=torch.float32)
        out["sum_dev"] = torch.where(valid, (sums - 1).abs(), 0.0).max()
    out["lse_dev"], out["n_lse"] = _lse_sample(x, plan, valid)
    return out


def _lse_sample(x: torch.Tensor, plan: Plan, valid: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """max |logsumexp| over the first rows: a bounded temporary instead of exp of the whole tensor."""
    if x.dim() >= 2:
        rows_per_item = max(1, x.numel() // max(1, x.shape[0] * plan.classes))
        items = max(1, min(x.shape[0], math.ceil(LSE_SAMPLE_ROWS / rows_per_item)))
        x = x.narrow(0, 0, items)
        if valid is not None and plan.class_dim != 0:
            valid = valid.narrow(0, 0, items)
    lse = torch.logsumexp(x.float(), dim=plan.class_dim)
    if valid is None:
        return lse.abs().max(), _const(lse.numel(), lse)
    return torch.where(valid, lse.abs(), 0.0).max(), valid.sum()


def _target_stats(target: torch.Tensor, plan: Plan, valid: torch.Tensor | None) -> dict[str, torch.Tensor]:
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
    return out


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
            for key, tensor in _target_stats(target, plan, None).items():
                out[key] = float(tensor.item())
        return out
    if xd.numel() == 0:
        return out
    lo_t, hi_t = torch.aminmax(xd)  # NaN propagates, so this also answers "any NaN?"
    lo, hi = lo_t.item(), hi_t.item()
    out["gmin"], out["gmax"] = lo, hi
    finite = math.isfinite(lo) and math.isfinite(hi)
    # Cheap exit for value classification: values above 1 and above 0 are neither
    # probabilities nor log-probabilities (random logits almost always stop here).
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
        for key, tensor in _target_stats(target, plan, valid).items():
            out[key] = float(tensor.item())
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


def _value_source(what: str) -> str:
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
    if gmin >= -tol.sum and gmax <= 1 + tol.sum and stats["sum_dev"] <= tol.sum:
        return "probs", f"all in [0, 1], every row sums to 1 within {tol.sum:.0e}"
    n_lse = stats.get("n_lse", 0.0)
    floor = -math.log(plan.classes) - tol.lse  # the largest log-probability of a row is >= -log C
    if n_lse >= MIN_ROWS and gmax <= tol.lse and stats["rowmax_min"] >= floor and stats.get("lse_dev", INF) <= tol.lse:
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
    kind: str | None = None
    source = ""
    if prov is not None:
        kind = prov.kind
        if kind == "linear" and plan.loss_kind != NLL:
            return []  # the right input everywhere but in nll_loss: the common, silent case
        source = prov.describe()
    else:
        by_values = classify_values(stats, plan)
        if by_values is not None:
            kind, source = by_values[0], _value_source(by_values[1])
    lk = plan.loss_kind
    if lk == CE:
        if kind == "probs":
            return [Finding("XG101", source=source)]
        if kind == "logprobs":
            return [Finding("XG102", source=source)]
    elif lk == NLL:
        if kind == "probs":
            return [Finding("XG103", source=source)]
        if kind == "linear":
            return [Finding("XG104", source=source)]
        if kind is None and prov is None and plan.values and _provably_not_logprobs(stats, plan):
            what = f"max {_fmt(stats['gmax'])} > 0, which log-probabilities never are"
            return [Finding("XG104", source=_value_source(what))]
    elif lk == KL:
        if kind == "probs":
            return [Finding("XG110", source=source)]
    elif lk == BCE_LOGITS and kind == "sigmoid":
        return [Finding("XG106", source=source)]
    return []


def _provably_not_logprobs(stats: dict[str, float], plan: Plan) -> bool:
    """Positive values cannot be log-probabilities; values all in [0, 1] stay ambiguous."""
    if "gmax" not in stats or plan.classes < 2:
        return False
    gmin, gmax, tol = stats["gmin"], stats["gmax"], plan.tol.lse
    if not (math.isfinite(gmax) and gmax > tol):
        return False
    in_unit_interval = gmin >= -plan.tol.sum and gmax <= 1 + plan.tol.sum
    return not in_unit_interval


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
        elif tmin == -INF:
            hint = " (log_target=True if it is meant to be log-probabilities)" if kind == T_KL else ""
            detail = f"it contains -inf: log-space targets{hint}; soft targets must be probabilities"
        elif tmin < -tol:
            hint = " or log_target=True" if kind == T_KL else ""
            log_space = " (all <= 0: log-space targets?)" if tmax <= tol else ""
            detail = f"it has negative values (min {_fmt(tmin)}){log_space}: soft targets must be probabilities{hint}"
        elif kind == T_BINARY and tmax > 1 + tol:
            detail = f"it has values above 1 (max {_fmt(tmax)}): binary targets must lie in [0, 1]"
        elif kind == T_SOFT and stats.get("tgt_sum_dev", 0.0) > tol:
            detail = (
                f"soft-target rows do not sum to 1 (off by up to {_fmt(stats['tgt_sum_dev'])}): "
                "they must be probabilities over the classes"
            )
    return [Finding("XG202", detail=detail)] if detail else []


def judge_loss(nonfinite: float, value: str, earlier: list[Finding]) -> list[Finding]:
    """XG203, unless XG201/XG202 already explain the non-finite loss."""
    if nonfinite <= 0 or any(f.code in ("XG201", "XG202") for f in earlier):
        return []
    return [Finding("XG203", detail=value)]
