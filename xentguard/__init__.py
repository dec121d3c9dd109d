"""xentguard: catch PyTorch code that feeds the wrong kind of numbers into a loss.

Importing this package never imports torch: the static checker (flake8 plugin and CLI)
runs without it. The runtime guard's names (``install``, ``uninstall``, ``guard``,
``flush``, ``XentGuardWarning``, ``LossMisuseError``) are loaded from
:mod:`xentguard.runtime` on first use. ``%load_ext xentguard`` loads the IPython extension
(:mod:`xentguard.jupyter`), which imports IPython only then.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_RUNTIME_NAMES = frozenset(
    {"install", "uninstall", "guard", "flush", "is_installed", "XentGuardWarning", "LossMisuseError"}
)

__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension", *sorted(_RUNTIME_NAMES)]


def __getattr__(name: str) -> Any:
    if name in _RUNTIME_NAMES:
        from xentguard import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'xentguard' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext xentguard``: check each cell before it runs, guard the losses while it runs."""
    from xentguard import jupyter

    jupyter.load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext xentguard``: remove every hook and restore the original loss functions."""
    from xentguard import jupyter

    jupyter.unload(ipython)
