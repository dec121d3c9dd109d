"""The runtime guard: wraps PyTorch's losses and inspects their actual inputs.

This is the only part of xentguard that imports torch. See :func:`install` for the cost
and for what the guard cannot see.
"""

from __future__ import annotations

from xentguard.runtime.hooks import flush, guard, install, is_installed, uninstall
from xentguard.runtime.report import LossMisuseError, XentGuardWarning

__all__ = ["LossMisuseError", "XentGuardWarning", "flush", "guard", "install", "is_installed", "uninstall"]
