"""``%load_ext xentguard``: check each cell before it runs, guard the losses while it runs.

Hooks, all IPython's public ones, all removed again by :meth:`Extension.disable`:

* ``pre_run_cell``: the cell as IPython transformed it (what the kernel will execute) is
  checked in the session's context, and new findings are printed under the cell;
* an AST transformer that leaves every tree untouched, but raises ``InputRejected`` (the
  documented way to stop a cell) when, in mode ``raise``, the check found an error;
* ``post_run_cell``: the number of the next cell;
* the runtime guard, installed in the same mode, with cells named in its findings.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from IPython.core.error import InputRejected

from xentguard.catalogue import RULES, Severity
from xentguard.jupyter.guard import RuntimeGuard
from xentguard.jupyter.session import Session
from xentguard.jupyter.wording import cell_label, describe
from xentguard.static.findings import Finding

MODES = ("warn", "raise", "log")
LOGGER = logging.getLogger("xentguard")


class CellRejected(InputRejected):
    """Mode ``raise``: the cell was not run because the static check found an error in it."""

    def __init__(self, cell: str, findings: list[Finding], current: str) -> None:
        first = findings[0]
        where = f"line {first.line}" if first.path == current else f"{cell_label(first.path)}, line {first.line}"
        more = f" and {len(findings) - 1} more" if len(findings) > 1 else ""
        super().__init__(
            f"xentguard: {cell} was not run: {first.code} at {where}{more} (mode raise; "
            "`%xentguard mode warn` runs such cells)")

    def _render_traceback_(self) -> list[str]:
        # IPython prints this instead of a traceback into xentguard's own frames.
        return [f"{type(self).__name__}: {self}"]


class _Gate:
    """The AST transformer: stops the cell the check rejected, touches nothing else.

    Only the first tree after ``pre_run_cell`` is the cell's; ``%time`` and friends hand
    their own statements to the transformers later, while the cell runs.
    """

    def __init__(self) -> None:
        self.rejection: CellRejected | None = None

    def visit(self, node: Any) -> Any:
        rejection, self.rejection = self.rejection, None
        if rejection is not None:
            raise rejection
        return node


class Extension:
    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.mode = "warn"
        self.static = True
        self.runtime = True
        self.enabled = False
        self.session = Session()
        self.guard = RuntimeGuard(shell)
        self._gate = _Gate()
        self._rejected: set[int] = set()  # cells stopped in mode raise: they never ran
        # The cells running now, outermost first: %%capture runs its body as a cell of its
        # own, inside the outer one, which was checked already (and printed visibly).
        self._running: list[Any] = []
        self._said_no_torch = False
        # The number the next cell will get; IPython increments execution_count before
        # pre_run_cell in some versions and after it in others, but always before post_run_cell.
        self._next_number = int(getattr(shell, "execution_count", 1))

    # ------------------------------------------------------------------ on / off
    def enable(self) -> None:
        if self.enabled:
            return
        self.enabled = True
        self._next_number = int(getattr(self.shell, "execution_count", self._next_number))
        self.shell.events.register("pre_run_cell", self._pre_run_cell)
        self.shell.events.register("post_run_cell", self._post_run_cell)
        self.shell.ast_transformers.append(self._gate)
        if self.static:
            self.catch_up()
        if self.runtime:
            self._start_guard()

    def disable(self) -> None:
        if not self.enabled:
            return
        self.enabled = False
        events = self.shell.events
        for event, callback in (("pre_run_cell", self._pre_run_cell), ("post_run_cell", self._post_run_cell)):
            if callback in events.callbacks.get(event, ()):
                events.unregister(event, callback)
        while self._gate in self.shell.ast_transformers:
            self.shell.ast_transformers.remove(self._gate)
        self._gate.rejection = None
        self._running.clear()
        self.guard.stop()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        if self.enabled and self.runtime and self.guard.installed:
            self.guard.start(mode)  # install() again replaces its settings

    def set_static(self, on: bool) -> None:
        if on and not self.static and self.enabled:
            self.catch_up()  # the cells run meanwhile were not walked
        self.static = on

    def set_runtime(self, on: bool) -> None:
        self.runtime = on
        if not self.enabled:
            return
        if on:
            self._start_guard()
        else:
            self.guard.stop()

    def _start_guard(self) -> None:
        if not self.guard.start(self.mode) and not self._said_no_torch:
            self._said_no_torch = True
            print("xentguard: torch is not installed, so cells are checked statically only "
                  "(the runtime guard needs torch)", file=sys.stderr)

    # -------------------------------------------------------------- the history
    def executed_cells(self) -> list[tuple[int, str]]:
        """(number, raw text) of the cells run so far, from IPython's history."""
        history = getattr(self.shell.history_manager, "input_hist_raw", None) or [""]
        return [(number, text) for number, text in enumerate(history)
                if number and text and number not in self._rejected]

    def catch_up(self) -> None:
        """A fresh session walked silently over the history: cells run before the extension
        was loaded (or while its static half was off) are the context of the next ones."""
        self.session, _ = self.rebuilt()

    def rebuilt(self) -> tuple[Session, list[Finding]]:
        """A new session over the executed cells, and the findings it made, cell by cell."""
        session = Session()
        found: list[Finding] = []
        for number, raw in self.executed_cells():
            source = self._transform(raw)
            try:
                report = session.check(number, source, self._transform_or_raise) if source is not None else None
            except Exception as error:  # one cell the analysis cannot follow: go on with the next
                if os.environ.get("XENTGUARD_DEBUG"):
                    raise
                print(f"xentguard: internal error checking cell [{number}]: {error!r}", file=sys.stderr)
                continue
            if report is not None:
                found.extend(report.findings)
        return session, found

    def _transform(self, raw: str) -> str | None:
        try:
            return self._transform_or_raise(raw)
        except Exception:
            return None

    def _transform_or_raise(self, raw: str) -> str:
        return str(self.shell.transform_cell(raw))

    # ------------------------------------------------------------------- hooks
    def _pre_run_cell(self, info: Any) -> None:
        self._running.append(info)
        if len(self._running) > 1:
            # Run by the outer cell's magic (the body of %%capture), stored under this number.
            self.guard.nested_cell(int(getattr(self.shell, "execution_count", 0)))
            return
        self._gate.rejection = None
        self.guard.running_cell(self._next_number, _cell_magic(str(getattr(info, "raw_cell", ""))))
        if not self.static:
            return
        try:
            self._check_cell(info)
        except Exception as error:  # never break the user's cell
            if os.environ.get("XENTGUARD_DEBUG"):
                raise
            print(f"xentguard: internal error checking this cell: {error!r}", file=sys.stderr)

    def _check_cell(self, info: Any) -> None:
        # IPython 9 hands over the transformed cell; older versions get it the same way.
        source = getattr(info, "transformed_cell", None)
        if not isinstance(source, str):
            source = self._transform(str(info.raw_cell))
            if source is None:
                return  # IPython will report why it cannot transform the cell
        number = self._next_number
        raising = self.mode == "raise"
        before = self.session.snapshot() if raising else None
        report = self.session.check(number, source, self._transform_or_raise)
        if report is None:
            return
        self.deliver(report.findings, report.path)
        # An error in an earlier cell's function counts: this cell's call is what triggers it.
        errors = [f for f in report.findings if RULES[f.code].severity is Severity.ERROR]
        if raising and errors and before is not None:
            self.session.restore(before)  # the cell will not run: its names are not bound
            self._rejected.add(number)
            self._gate.rejection = CellRejected(cell_label(report.path), errors, report.path)

    def _post_run_cell(self, result: Any) -> None:
        info = getattr(result, "info", None)
        if self._running and self._running[-1] is info:
            self._running.pop()
        elif info is not None and info in self._running:
            del self._running[self._running.index(info):]
        if self._running:
            self.guard.nested_cell(None)
            return  # a cell run by a magic of the outer one ended
        self._gate.rejection = None
        self.guard.running_cell(None)
        self._next_number = int(getattr(self.shell, "execution_count", self._next_number))

    # ----------------------------------------------------------------- output
    def deliver(self, findings: tuple[Finding, ...] | list[Finding], current: str) -> None:
        """Print the findings under the cell (mode ``log``: to the ``xentguard`` logger)."""
        for finding in findings:
            text = describe(finding, current)
            if self.mode == "log":
                error = RULES[finding.code].severity is Severity.ERROR
                LOGGER.log(logging.ERROR if error else logging.WARNING, text)
            else:
                print(text, file=sys.stderr)
        if findings and self.mode != "log":
            sys.stderr.flush()  # under the cell before anything the cell itself prints


def _cell_magic(raw: str) -> str | None:
    """``time`` for a cell starting ``%%time``: its body's code is compiled apart."""
    first = raw.lstrip().split("\n", 1)[0]
    if not first.startswith("%%"):
        return None
    name = first[2:].split(None, 1)
    return name[0] if name else None
