"""Jupyter tests: a real IPython InteractiveShell, cleared between tests.

History lives in memory and IPython's profile directory in a temporary one, so the tests
never touch ``~/.ipython``. Every test starts and ends with the extension unloaded, the
shell reset (history and execution count from 1) and no runtime guard installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("IPython")

from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config


@dataclass
class Ran:
    """What running one cell printed, and IPython's result."""

    out: str
    err: str
    result: Any

    @property
    def findings(self) -> list[str]:
        """The lines xentguard printed for the static check (code first)."""
        return [line for line in self.err.splitlines() if line.startswith("XG")]


class Cells:
    """Runs cells as the notebook does: stored in history, numbered from 1."""

    def __init__(self, shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
        self.shell = shell
        self._capsys = capsys

    def run(self, source: str) -> Ran:
        self._capsys.readouterr()
        result = self.shell.run_cell(source, store_history=True)
        captured = self._capsys.readouterr()
        return Ran(captured.out, captured.err, result)

    def load(self) -> Ran:
        return self.run("%load_ext xentguard")

    @property
    def ns(self) -> dict[str, Any]:
        return self.shell.user_ns  # type: ignore[no-any-return]


@pytest.fixture(scope="session", autouse=True)
def _ipython_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        yield


def _shell() -> InteractiveShell:
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.xmode = "Plain"
    return InteractiveShell.instance(config=config)


def _clear(shell: InteractiveShell) -> None:
    if "xentguard" in shell.extension_manager.loaded:
        shell.extension_manager.unload_extension("xentguard")
    shell.reset(new_session=True)
    try:
        import xentguard.runtime as runtime
    except ImportError:
        return
    runtime.uninstall()


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    shell = _shell()
    _clear(shell)
    yield shell
    _clear(shell)


@pytest.fixture
def cells(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> Cells:
    return Cells(shell, capsys)
