"""xentguard: catch PyTorch code that feeds the wrong kind of numbers into a loss.

Importing this package never imports torch: the static checker (flake8 plugin and CLI)
runs without it. The runtime guard's names (``install``, ``uninstall``, ``guard``,
``flush``, ``XentGuardWarning``, ``LossMisuseError``) are loaded from
:mod:`xentguard.runtime` on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_RUNTIME_NAMES = frozenset(
    {"install", "uninstall", "guard", "flush", "is_installed", "XentGuardWarning", "LossMisuseError"}
)

__all__ = ["__version__", *sorted(_RUNTIME_NAMES)]


def __getattr__(name: str) -> Any:
    if name in _RUNTIME_NAMES:
        from xentguard import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'xentguard' has no attribute {name!r}")
