"""The IPython extension: ``%load_ext xentguard`` (see :mod:`xentguard.jupyter.extension`).

Imported only by ``load_ipython_extension``, so ``import xentguard`` never imports IPython.
"""

from __future__ import annotations

from typing import Any

from xentguard.jupyter import magic
from xentguard.jupyter.extension import Extension

MAGIC_NAME = "xentguard"

# One extension per shell (a process normally has one; tests may create several).
_LOADED: dict[int, tuple[Any, Extension]] = {}


def load(shell: Any) -> Extension:
    loaded = _LOADED.get(id(shell))
    if loaded is not None and loaded[0] is shell:
        return loaded[1]
    extension = Extension(shell)
    _LOADED[id(shell)] = (shell, extension)

    def xentguard(line: str) -> None:
        magic.run(extension, line)

    xentguard.__doc__ = f"xentguard: check cells before they run, guard the losses while they run.\n\n{magic.USAGE}"
    shell.register_magic_function(xentguard, magic_kind="line", magic_name=MAGIC_NAME)
    extension.enable()
    return extension


def unload(shell: Any) -> None:
    loaded = _LOADED.pop(id(shell), None)
    if loaded is None:
        return
    loaded[1].disable()
    manager = shell.magics_manager
    manager.magics["line"].pop(MAGIC_NAME, None)
    if hasattr(manager.user_magics, MAGIC_NAME):
        delattr(manager.user_magics, MAGIC_NAME)


def extension_for(shell: Any) -> Extension | None:
    loaded = _LOADED.get(id(shell))
    return loaded[1] if loaded is not None and loaded[0] is shell else None


__all__ = ["Extension", "extension_for", "load", "unload"]
