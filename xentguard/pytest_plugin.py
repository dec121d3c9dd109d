"""pytest plugin: ``pytest --xentguard`` runs the test suite with the runtime guard installed.

Registered through the ``pytest11`` entry point, so pytest imports this module on every run:
it must not import torch. The guard (and torch) is loaded only when ``--xentguard`` is given,
at ``pytest_configure``, before any test module is imported.
"""

from __future__ import annotations

from typing import Any

MODES = ("warn", "raise", "log")


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("xentguard", "xentguard runtime loss guard")
    group.addoption(
        "--xentguard",
        action="store_true",
        default=False,
        help="install the xentguard runtime guard for the whole run (misused losses fail the test)",
    )
    group.addoption(
        "--xentguard-mode",
        default="raise",
        choices=MODES,
        help="how the guard reports findings (default: raise)",
    )


def pytest_configure(config: Any) -> None:
    if not config.getoption("xentguard", default=False):
        return
    import pytest

    try:
        from xentguard import runtime
    except ImportError as exc:
        raise pytest.UsageError(f"--xentguard needs PyTorch installed ({exc})") from None
    runtime.install(mode=config.getoption("xentguard_mode"))
    config._xentguard_installed = True


def pytest_unconfigure(config: Any) -> None:
    if getattr(config, "_xentguard_installed", False):
        from xentguard import runtime

        runtime.uninstall()
        config._xentguard_installed = False
