"""Turning findings into warnings, exceptions or log records that name the user's line.

The call site is the first frame, walking outward from the guard's wrapper, whose file is
neither inside torch nor inside this package (the demo excepted: it plays the user). The
warning is issued with ``warnings.warn_explicit`` for that file and line, so filters,
``-W error`` and pytest's warning capture all see the user's line, not torch's.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

import torch

from xentguard.catalogue import RULES, Severity
from xentguard.runtime.checks import Finding

LOGGER = logging.getLogger("xentguard")
MODES = ("warn", "raise", "log")


class XentGuardWarning(UserWarning):
    """A finding of the runtime guard, attributed to the line that called the loss."""


class LossMisuseError(ValueError):
    """Raised in ``mode="raise"`` for error-level findings (XG101, XG103, XG104, XG106, XG110, XG111, XG2xx)."""

    def __init__(self, message: str, code: str = "", filename: str = "", lineno: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.filename = filename
        self.lineno = lineno


@dataclass(frozen=True)
class Config:
    mode: str = "warn"
    once: bool = True
    ignore: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Site:
    filename: str
    lineno: int
    module: str
    loss: str  # as the user spelled it: "F.cross_entropy" or "CrossEntropyLoss"

    @property
    def where(self) -> str:
        for namer in tuple(_SITE_NAMERS):
            try:
                name = namer(self.filename, self.lineno)
            except Exception:  # a namer must never break the report
                name = None
            if name:
                return name
        return f"{_display_path(self.filename)}:{self.lineno}"


# Functions naming a code location for messages, (filename, line) -> "cell [3], line 4" or
# None. The Jupyter extension adds one: a cell's filename is a hashed temporary name that
# means nothing to the user, its execution number does.
_SITE_NAMERS: list[Callable[[str, int], str | None]] = []


def add_site_namer(namer: Callable[[str, int], str | None]) -> None:
    if namer not in _SITE_NAMERS:
        _SITE_NAMERS.append(namer)


def remove_site_namer(namer: Callable[[str, int], str | None]) -> None:
    if namer in _SITE_NAMERS:
        _SITE_NAMERS.remove(namer)


_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_DEMO_FILE = _RUNTIME_DIR + "demo.py"
_LOSS_MODULES_FILE = os.path.join(_TORCH_DIR, "nn", "modules", "loss.py")


def _internal(filename: str) -> bool:
    if filename.startswith(_TORCH_DIR):
        return True
    return filename.startswith(_RUNTIME_DIR) and filename != _DEMO_FILE


def _display_path(filename: str) -> str:
    try:
        rel = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return filename if rel.startswith(os.pardir) else rel


def find_site(func: str, start: FrameType | None = None) -> Site:
    """The user's frame that called the loss, and the loss's name as the user spelled it."""
    frame: FrameType | None = start if start is not None else sys._getframe(1)
    loss = f"F.{func}"
    last: FrameType = frame if frame is not None else sys._getframe(0)
    try:
        while frame is not None:
            code = frame.f_code
            if not _internal(code.co_filename):
                return Site(code.co_filename, frame.f_lineno, frame.f_globals.get("__name__", ""), loss)
            if code.co_filename == _LOSS_MODULES_FILE and code.co_name == "forward":
                owner = frame.f_locals.get("self")
                if owner is not None:
                    loss = type(owner).__name__
            last = frame
            frame = frame.f_back
        code = last.f_code
        return Site(code.co_filename, last.f_lineno, last.f_globals.get("__name__", ""), loss)
    finally:
        del frame, last  # frames hold the caller's tensors: never keep them


def _rank() -> int | None:
    dist = getattr(torch, "distributed", None)
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank())
    return None


def message(finding: Finding, site: Site, rank: int | None = None) -> str:
    rule = RULES[finding.code]
    body = rule.message.format(loss=site.loss, source=finding.source, detail=finding.detail, where=site.where)
    at = f"{site.where} (rank {rank})" if rank is not None else site.where
    return f"{finding.code} at {at}: {body}"


class Reporter:
    """Delivers findings in the configured mode; remembers which sites were reported."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reported: set[tuple[str, str, int]] = set()
        self._notes: set[str] = set()

    def clear(self) -> None:
        with self._lock:
            self._reported.clear()
            self._notes.clear()

    def report(self, findings: list[Finding], site: Site, config: Config, *, can_raise: bool = True) -> None:
        """Notices and warnings first, then the first error (which raises in raise mode)."""
        rank = _rank()
        raising = config.mode == "raise" and can_raise
        if raising and rank is not None:
            self.note(
                "distributed",
                "xentguard: raise mode reports as warnings in a distributed run, so that one rank "
                "never raises while the others wait in a collective",
                config,
            )
            raising = False
        pending_error: LossMisuseError | None = None
        ordered = sorted(findings, key=lambda f: RULES[f.code].severity == Severity.ERROR)
        for finding in ordered:
            if finding.code in config.ignore:
                continue
            text = message(finding, site, rank)
            if raising and RULES[finding.code].severity == Severity.ERROR:
                if pending_error is None:
                    pending_error = LossMisuseError(text, finding.code, site.filename, site.lineno)
                continue
            if config.once:
                key = (finding.code, site.filename, site.lineno)
                with self._lock:
                    if key in self._reported:
                        continue
                    self._reported.add(key)
            self._deliver(text, finding.code, site, config)
        if pending_error is not None:
            raise pending_error

    def _deliver(self, text: str, code: str, site: Site, config: Config) -> None:
        if config.mode == "log":
            level = logging.ERROR if RULES[code].severity == Severity.ERROR else logging.WARNING
            LOGGER.log(level, text)
            return
        # registry=None: de-duplication is ours (once per code and site), not the warnings
        # module's, so once=False really reports every call. No module_globals: a module run
        # as __main__ by runpy has a loader that refuses get_source("__main__"); linecache
        # reads the file itself.
        warnings.warn_explicit(text, XentGuardWarning, site.filename, site.lineno, site.module or None, None)

    def note(self, key: str, text: str, config: Config) -> None:
        """A one-time remark about the guard itself (no code: it is not a finding)."""
        with self._lock:
            if key in self._notes:
                return
            self._notes.add(key)
        if config.mode == "log":
            LOGGER.info(text)
        else:
            warnings.warn(text, XentGuardWarning, stacklevel=2)
