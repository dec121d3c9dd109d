"""Runtime-guard tests: need torch; every test leaves the guard uninstalled."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch")

import xentguard  # noqa: E402
from xentguard.runtime import hooks  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_guard() -> Iterator[None]:
    """Start and end every test with no guard and the original functions in place."""
    while hooks._state.stack:
        hooks._state.stack.pop()
    xentguard.uninstall()
    yield
    while hooks._state.stack:
        hooks._state.stack.pop()
    xentguard.uninstall()


@pytest.fixture
def caught() -> Iterator[list[warnings.WarningMessage]]:
    """XentGuardWarnings issued during the test (every one, regardless of filters)."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        yield records
