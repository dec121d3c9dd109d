"""The runtime half in a notebook: the guard installed while cells run, naming cells.

torch is imported only when the guard is turned on and torch is installed; without it the
extension checks cells statically and says so once.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from types import ModuleType
from typing import Any

from xentguard.jupyter.wording import runtime_site

_CELL_NUMBER = re.compile(r"In\s*\[(\d+)\]")
_TIMED_EXEC = "<timed exec>"


def runtime_module() -> ModuleType | None:
    """:mod:`xentguard.runtime`, or None when torch is not installed (or cannot be imported)."""
    try:
        if importlib.util.find_spec("torch") is None:
            return None
        import xentguard.runtime as runtime
    except Exception:  # a broken torch install: the static half still works
        return None
    return runtime


class RuntimeGuard:
    """Installs the guard for the session and uninstalls only what it installed."""

    def __init__(self, shell: Any) -> None:
        self._shell = shell
        self._runtime: ModuleType | None = None
        self.installed = False  # by us
        self.unavailable = False  # torch missing, known once tried
        self.foreign = False  # the user's own install() was in place: left alone
        self._cell: int | None = None  # the number of the cell running now
        self._magic: str | None = None  # the cell magic of the running cell ("time", "capture")
        self._nested: int | None = None  # the number IPython gave the %%capture body it runs as a cell
        self._original_format: Any = None  # warnings.formatwarning before ours

    def start(self, mode: str) -> bool:
        """Install in ``mode``; False when torch is not there."""
        runtime = self._runtime = self._runtime or runtime_module()
        if runtime is None:
            self.unavailable = True
            return False
        if not self.installed and runtime.is_installed():
            self.foreign = True  # xentguard.install() of the user's: theirs to configure
            return True
        runtime.install(mode=mode)
        from xentguard.runtime import report

        report.add_site_namer(self.name_site)
        if self._original_format is None:
            self._original_format = warnings.formatwarning
            warnings.formatwarning = self._format_warning
        self.installed = True
        return True

    def stop(self) -> None:
        if self.installed and self._runtime is not None:
            from xentguard.runtime import report

            report.remove_site_namer(self.name_site)
            self._runtime.uninstall()  # restores the very function objects it replaced
        if self._original_format is not None:
            if warnings.formatwarning == self._format_warning:  # else someone wrapped ours: leave theirs
                warnings.formatwarning = self._original_format
            self._original_format = None
        self.installed = False
        self.foreign = False

    def _format_warning(self, message: Any, category: Any, filename: str, lineno: int, line: Any = None) -> str:
        """A finding in a cell reads ``XentGuardWarning: XG101 at cell [7], line 4: ...``: the
        message names the cell already, the hashed file name IPython compiled it under
        would only add noise. Every other warning is formatted as before."""
        original = self._original_format or warnings._formatwarning_orig  # type: ignore[attr-defined]
        runtime = self._runtime
        try:
            if runtime is not None and issubclass(category, runtime.XentGuardWarning) and (
                    self.name_site(filename, lineno)):
                return f"{category.__name__}: {message}\n"
        except Exception:
            pass
        return str(original(message, category, filename, lineno, line))

    def running_cell(self, number: int | None, magic: str | None = None) -> None:
        self._cell, self._magic, self._nested = number, magic, None

    def nested_cell(self, number: int | None) -> None:
        self._nested = number

    def name_site(self, filename: str, line: int) -> str | None:
        """``cell [7], line 4`` for code compiled from a cell (IPython knows its number)."""
        if filename == _TIMED_EXEC:
            # %%time compiles its body (the cell below the magic line) under this name.
            return runtime_site(self._cell, line + 1) if self._cell is not None and self._magic == "time" else None
        label = self._shell.compile.format_code_name(filename)
        if not label:
            return None
        match = _CELL_NUMBER.search(str(label[1]))
        if not match:
            return None
        number = int(match.group(1))
        if self._cell is not None and self._magic == "capture" and number == self._nested:
            return runtime_site(self._cell, line + 1)  # %%capture ran its body as a cell of its own
        return runtime_site(number, line)
