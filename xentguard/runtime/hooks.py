"""install() / uninstall() / guard(): patch the five loss functions of torch.nn.functional.

``nn.CrossEntropyLoss`` and friends call ``F.cross_entropy`` through the module global ``F``
(``torch/nn/modules/loss.py``), so replacing the attribute on ``torch.nn.functional`` covers the
modules too. The wrapper calls the original with the very same arguments and returns its
result untouched; the checks read detached tensors and never write to them.
"""

from __future__ import annotations

import atexit
import functools
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F

from xentguard.catalogue import DEFAULT_OFF, RULES
from xentguard.runtime import checks
from xentguard.runtime.checks import Plan
from xentguard.runtime.classify import Provenance, inspect_graph, provenance_of, tolerance
from xentguard.runtime.device import PendingQueue, enqueue_cuda
from xentguard.runtime.report import MODES, Config, Reporter, Site, find_site

# name -> (loss kind, positional index of ignore_index / log_target or -1)
GUARDED: dict[str, tuple[str, int]] = {
    "cross_entropy": (checks.CE, 4),
    "nll_loss": (checks.NLL, 4),
    "kl_div": (checks.KL, 5),
    "binary_cross_entropy_with_logits": (checks.BCE_LOGITS, -1),
    "binary_cross_entropy": (checks.BCE, -1),
}
_PLAIN_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.base: Config | None = None  # set by install()
        self.stack: list[Config] = []  # pushed by guard()
        self.active: Config | None = None  # what the wrappers read (one attribute load)
        self.originals: dict[str, Callable[..., Any]] = {}
        self.wrappers: dict[str, Callable[..., Any]] = {}
        self.compiled_seen = False  # set from inside torch.compile regions
        self.atexit_registered = False


_state = _State()
_reporter = Reporter()
_pending = PendingQueue()
_busy = threading.local()


# ---------------------------------------------------------------------------------------
# Public API


def _make_config(mode: str, once: bool, ignore: Iterable[str], select: Iterable[str] = ()) -> Config:
    if mode not in MODES:
        raise ValueError(f"xentguard: unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if not isinstance(once, bool):
        raise ValueError(f"xentguard: once must be True or False, not {once!r}")
    codes = frozenset([ignore] if isinstance(ignore, str) else ignore)
    selected = frozenset([select] if isinstance(select, str) else select)
    for what, given in (("ignore", codes), ("select", selected)):
        unknown = sorted(given - set(RULES))
        if unknown:
            raise ValueError(f"xentguard: unknown rule code(s) in {what}: {', '.join(unknown)}")
    # Advice-level rules are off unless selected, as in the linter (XG107).
    return Config(mode=mode, once=once, ignore=codes | (frozenset(DEFAULT_OFF) - selected))


def install(mode: str = "warn", *, once: bool = True, ignore: Iterable[str] = (), select: Iterable[str] = ()) -> None:
    """Guard the losses of ``torch.nn.functional`` (and the nn loss modules built on them).

    Cost: on CPU a few microseconds per loss call (two tiny reductions when nothing is
    wrong); on CUDA a handful of small kernels and no host-device synchronisation, results
    being reported a few calls later (except in ``mode="raise"``, which synchronises to
    raise at the call). Calling ``install()`` again replaces its settings; it never wraps twice.

    Cannot see: names bound before ``install()`` (``from torch.nn.functional import
    cross_entropy``; ``xentguard run`` installs before the script's imports), fused kernels
    that never materialise logits (``F.linear_cross_entropy``, custom Triton/Liger losses),
    and code inside ``torch.compile`` regions (the guard steps aside there).

    mode: "warn" (XentGuardWarning), "raise" (LossMisuseError for errors, warnings for
    notices) or "log" (logger "xentguard"). once: report each code at each call site once.
    ignore: rule codes not to report. select: rules that are off by default to turn on (XG107).
    """
    config = _make_config(mode, once, ignore, select)
    with _state.lock:
        _state.base = config
        _refresh()


def uninstall() -> None:
    """Remove what install() set up; restores the original functions once no guard() is active."""
    flush()
    with _state.lock:
        _state.base = None
        _refresh()


@contextmanager
def guard(mode: str = "warn", *, once: bool = True, ignore: Iterable[str] = (),
          select: Iterable[str] = ()) -> Iterator[None]:
    """``with xentguard.guard(mode=...):`` the guard for the block; nests with install()."""
    config = _make_config(mode, once, ignore, select)
    with _state.lock:
        _state.stack.append(config)
        _refresh()
    try:
        yield
    finally:
        flush()
        with _state.lock:
            # remove this block's entry (by identity: equal configs may be stacked)
            for i in range(len(_state.stack) - 1, -1, -1):
                if _state.stack[i] is config:
                    del _state.stack[i]
                    break
            _refresh()


def is_installed() -> bool:
    return _state.active is not None


def flush() -> None:
    """Report every pending CUDA check now (waits for them)."""
    _pending.drain()
    _note_compiled()


# ---------------------------------------------------------------------------------------
# Patching


def _refresh() -> None:
    """Make the patch state match the configs; called with the lock held."""
    active = _state.stack[-1] if _state.stack else _state.base
    if active is not None and not _state.originals:
        for name in GUARDED:
            original = getattr(F, name)
            wrapper = _make_wrapper(name, original)
            _state.originals[name] = original
            _state.wrappers[name] = wrapper
            setattr(F, name, wrapper)
        if not _state.atexit_registered:
            atexit.register(flush)
            _state.atexit_registered = True
    _state.active = active
    if active is None and _state.originals:
        for name, original in _state.originals.items():
            # If someone wrapped our wrapper meanwhile, leave theirs: ours passes through
            # once inactive.
            if getattr(F, name) is _state.wrappers[name]:
                setattr(F, name, original)
        _state.originals.clear()
        _state.wrappers.clear()
        _reporter.clear()
        _state.compiled_seen = False


def _make_wrapper(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if torch.compiler.is_compiling():
            # Inside a compiled region: step aside so that tracing sees the plain loss.
            _state.compiled_seen = True
            return original(*args, **kwargs)
        config = _state.active
        if config is None or getattr(_busy, "on", False) or torch._C._is_tracing():
            return original(*args, **kwargs)
        return _guarded_call(name, original, config, args, kwargs)

    wrapper.__xentguard_original__ = original  # type: ignore[attr-defined]
    return wrapper


# ---------------------------------------------------------------------------------------
# One guarded call


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], pos: int, key: str, default: Any) -> Any:
    if 0 <= pos < len(args):
        return args[pos]
    return kwargs.get(key, default)


def _checkable(t: Any) -> bool:
    return type(t) in _PLAIN_TENSOR_TYPES and (t.is_cpu or t.is_cuda) and not t.is_sparse and not t.is_quantized


_plan_cache: dict[tuple[Any, ...], Plan] = {}
_PLAN_CACHE_MAX = 4096


def _plan(name: str, x: torch.Tensor, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Plan:
    """The host-side facts of a call; cached by everything they depend on except the graph."""
    loss_kind, option_pos = GUARDED[name]
    option = _arg(args, kwargs, option_pos, "log_target" if loss_kind == checks.KL else "ignore_index", None)
    prov, producer = inspect_graph(x.grad_fn)
    if isinstance(target, torch.Tensor):
        # Integer targets never have a graph; a soft / KL target's provenance can name log_softmax.
        target_grad_fn = target.grad_fn
        target_prov = provenance_of(target_grad_fn) if target_grad_fn is not None else None
        target_key: tuple[Any, ...] = (target.shape, target.dtype, target_prov)
    else:
        target_prov = None
        target_key = ()
    key = (name, x.shape, x.dtype, target_key, option, prov, producer)
    plan = _plan_cache.get(key)
    if plan is None:
        if len(_plan_cache) >= _PLAN_CACHE_MAX:
            _plan_cache.clear()
        plan = _plan_cache[key] = _build_plan(name, x, target, option, prov, producer, target_prov)
    return plan


def _build_plan(
    name: str,
    x: torch.Tensor,
    target: Any,
    option: Any,
    prov: Provenance | None,
    producer: str,
    target_prov: Provenance | None,
) -> Plan:
    loss_kind = GUARDED[name][0]
    ignore_index: int | None = None
    target_kind = checks.T_NONE
    rows_match = False
    if loss_kind in (checks.CE, checks.NLL):
        class_dim = 0 if x.dim() == 1 else 1
        ignore_index = -100 if option is None else (option if isinstance(option, int) else None)
        if isinstance(target, torch.Tensor):
            if target.is_floating_point():
                target_kind = checks.T_SOFT if target.shape == x.shape else checks.T_NONE
            else:
                target_kind = checks.T_INDEX
                rows_match = x.dim() >= 1 and tuple(target.shape) == tuple(
                    s for i, s in enumerate(x.shape) if i != class_dim
                )
    elif loss_kind == checks.KL:
        class_dim = x.dim() - 1 if x.dim() >= 1 else -1  # distributions along the last dim
        target_kind = checks.T_KL_LOG if bool(option) else checks.T_KL
    else:
        class_dim = -1
        target_kind = checks.T_BINARY
    classes = int(x.shape[class_dim]) if class_dim >= 0 and x.dim() else 0
    target_dtype = target.dtype if isinstance(target, torch.Tensor) else x.dtype
    # Values decide when provenance does not (BCE-with-logits: logits in [0, 1] are legal).
    by_values = class_dim >= 0 and loss_kind in (checks.CE, checks.NLL, checks.KL)
    return Plan(
        loss_kind=loss_kind,
        func=name,
        provenance=prov,
        producer=producer,
        class_dim=class_dim,
        classes=classes,
        tol=tolerance(x.dtype, classes),
        values=by_values and not checks.provenance_decides(prov, loss_kind),
        target_kind=target_kind,
        target_tol=max(tolerance(target_dtype, 2).sum, 1e-3),
        target_lse_tol=max(tolerance(target_dtype, classes).lse, 1e-3),
        target_provenance=target_prov if target_kind in (checks.T_SOFT, checks.T_KL) else None,
        ignore_index=ignore_index,
        rows_match=rows_match,
    )


def _guarded_call(
    name: str, original: Callable[..., Any], config: Config, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    nargs = len(args)
    x: Any = args[0] if nargs else kwargs.get("input")
    target: Any = args[1] if nargs > 1 else kwargs.get("target")
    if not _checkable(x) or not x.is_floating_point():
        return original(*args, **kwargs)
    if not _checkable(target):
        target = None
    if _pending:
        _pending.poll()
    if _state.compiled_seen:
        _note_compiled()
    deferred = x.is_cuda and config.mode != "raise"

    _busy.on = True
    try:
        plan = _plan(name, x, target, args, kwargs)
        if deferred:
            site = find_site(name)  # now, while the user's frames exist; strings only
            with _autocast_off(x):
                keys, values = checks.measure_device(x, target, plan)
        else:
            # CPU inputs whose provenance decides the kind: NaN/inf would show in the loss
            # value, so the input is scanned only if the loss is non-finite. When values
            # decide (no graph, or an unknown producer), the input is scanned now.
            scan_input = plan.values or not x.is_cpu
            if scan_input or plan.target_kind not in (checks.T_INDEX, checks.T_NONE):
                stats = _measure_now(plan, x, target, scan_input)
            else:
                stats = {}  # nothing to measure before the call
    except Exception as exc:  # the guard must never break a training step
        _internal_error(name, exc, config)
        return original(*args, **kwargs)
    finally:
        _busy.on = False

    if deferred:
        result = original(*args, **kwargs)
        try:
            if isinstance(result, torch.Tensor) and result.device == x.device:
                keys.append("loss_nonfinite")
                values += checks.loss_stats(result)
            enqueue_cuda(_pending, checks.stack(values), keys, (plan, site, config), _deliver_deferred)
        except Exception as exc:
            _internal_error(name, exc, config)
        return result

    found = checks.judge(stats, plan)
    if found:
        _reporter.report(found, find_site(name), config)
    try:
        result = original(*args, **kwargs)
    except (IndexError, RuntimeError):
        if x.is_cpu and target is not None:
            _explain_failure(name, plan, target, config)
        raise
    if isinstance(result, torch.Tensor) and (result.is_cpu or result.is_cuda):
        nonfinite = checks.loss_nonfinite_host(result) if result.is_cpu else float(checks.loss_stats(result)[0].item())
        late: list[checks.Finding] = []
        if nonfinite > 0 and not scan_input:
            try:
                late = checks.judge_nonfinite(_measure_now(plan, x, target), plan)
            except Exception as exc:
                _internal_error(name, exc, config)
        late += checks.judge_loss(nonfinite, _loss_value(result, nonfinite), found + late)
        if late:
            _reporter.report(late, find_site(name), config)
    return result


def _explain_failure(name: str, plan: Plan, target: torch.Tensor, config: Config) -> None:
    """torch rejected the call (on CPU: a class index out of range): say which rule and where."""
    try:
        with torch.no_grad():
            stats = checks.measure_index_target(target, plan)
    except Exception:
        return
    found = checks.judge(stats, plan)
    if found:
        _reporter.report(found, find_site(name), config)  # raise mode: LossMisuseError, chained


def _internal_error(name: str, exc: Exception, config: Config) -> None:
    _reporter.note(
        f"internal:{name}:{type(exc).__name__}",
        f"xentguard: could not check a call to F.{name} ({type(exc).__name__}: {exc}); "
        "such calls pass through unchecked",
        config,
    )


def _measure_now(plan: Plan, x: torch.Tensor, target: torch.Tensor | None, scan_input: bool = True) -> dict[str, float]:
    if x.is_cpu and not torch.is_autocast_enabled("cpu"):
        grad_was_enabled = torch.is_grad_enabled()
        torch._C._set_grad_enabled(False)
        try:
            return checks.measure_host(x, target, plan, scan_input)
        finally:
            torch._C._set_grad_enabled(grad_was_enabled)
    with _autocast_off(x), torch.no_grad():
        if x.is_cpu:
            return checks.measure_host(x, target, plan, scan_input)
        keys, values = checks.measure_device(x, target, plan)
        return dict(zip(keys, checks.stack(values).tolist())) if values else {}


def _deliver_deferred(stats: dict[str, float], context: tuple[Plan, Site, Config]) -> None:
    plan, site, config = context
    found = checks.judge(stats, plan)
    nonfinite = stats.get("loss_nonfinite", 0.0)
    found += checks.judge_loss(nonfinite, "a non-finite value", found)
    if found:
        _reporter.report(found, site, config, can_raise=False)


def _loss_value(result: torch.Tensor, nonfinite: float) -> str:
    if nonfinite <= 0:
        return ""
    if result.numel() == 1:
        v = result.detach().item()
        return "NaN" if math.isnan(v) else ("+inf" if v > 0 else "-inf")
    return f"{int(nonfinite)} non-finite values (reduction='none')"


@contextmanager
def _autocast_off(x: torch.Tensor) -> Iterator[None]:
    # Under autocast, sum/logsumexp would be cast to fp32 first: a full-size copy.
    device_type = x.device.type
    if torch.is_autocast_enabled(device_type):
        with torch.autocast(device_type, enabled=False):
            yield
    else:
        yield


def _note_compiled() -> None:
    if _state.compiled_seen and _state.active is not None:
        _reporter.note(
            "compiled",
            "xentguard: losses called inside torch.compile regions are not checked "
            "(the guard steps aside there so that graphs compile unchanged)",
            _state.active,
        )
