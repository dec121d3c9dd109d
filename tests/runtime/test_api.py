"""install / uninstall / guard, modes, attribution, once-per-site, thread safety."""

from __future__ import annotations

import logging
import sys
import threading
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import xentguard
from xentguard.runtime.hooks import GUARDED


def codes(records: list) -> list[str]:
    """The rule codes of the XentGuardWarnings among ``records``, in order."""
    return [str(r.message).split(" ", 1)[0] for r in records if issubclass(r.category, xentguard.XentGuardWarning)]


ORIGINALS = {name: getattr(F, name) for name in GUARDED}


def _probs() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(8, 4, requires_grad=True)
    return F.softmax(x, dim=1), torch.randint(0, 4, (8,))


def _assert_originals() -> None:
    for name, original in ORIGINALS.items():
        assert getattr(F, name) is original, name


def test_install_uninstall_restores_identical_objects():
    xentguard.install()
    assert xentguard.is_installed()
    assert all(getattr(F, name) is not ORIGINALS[name] for name in GUARDED)
    xentguard.install(mode="log")  # re-install: replaces settings, never wraps twice
    assert F.cross_entropy.__xentguard_original__ is ORIGINALS["cross_entropy"]
    xentguard.uninstall()
    assert not xentguard.is_installed()
    _assert_originals()
    xentguard.uninstall()  # idempotent
    _assert_originals()


def test_guard_nested_in_install():
    xentguard.install(mode="warn")
    wrapped = F.cross_entropy
    with xentguard.guard(mode="raise"):
        assert F.cross_entropy is wrapped
        probs, y = _probs()
        with pytest.raises(xentguard.LossMisuseError):
            F.cross_entropy(probs, y)
        with xentguard.guard(mode="log"):
            assert F.cross_entropy is wrapped
    assert xentguard.is_installed() and F.cross_entropy is wrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.cross_entropy(*_probs())  # back to warn mode
    assert codes(caught) == ["XG101"]
    xentguard.uninstall()
    _assert_originals()


def test_guard_alone_restores_on_exit_and_on_error():
    with pytest.raises(RuntimeError), xentguard.guard():
        assert xentguard.is_installed()
        raise RuntimeError("boom")
    assert not xentguard.is_installed()
    _assert_originals()


def test_modules_see_the_patch():
    """nn.CrossEntropyLoss calls F.cross_entropy through the module global F (torch/nn/modules/loss.py)."""
    with xentguard.guard(mode="raise"), pytest.raises(xentguard.LossMisuseError):
        nn.CrossEntropyLoss()(*_probs())


@pytest.mark.parametrize("bad", [{"mode": "loud"}, {"mode": "warn", "once": "yes"}, {"ignore": ["XG9"]}])
def test_bad_options_raise_value_error(bad):
    with pytest.raises(ValueError, match="xentguard"):
        xentguard.install(**bad)
    with pytest.raises(ValueError, match="xentguard"), xentguard.guard(**bad):
        pass
    assert not xentguard.is_installed()


def test_warning_is_attributed_to_the_calling_line(caught):
    xentguard.install()
    probs, y = _probs()
    line = sys._getframe().f_lineno + 1
    F.cross_entropy(probs, y)
    (record,) = caught
    assert record.category is xentguard.XentGuardWarning
    assert issubclass(xentguard.XentGuardWarning, UserWarning)
    assert record.filename == __file__
    assert record.lineno == line
    assert str(record.message).startswith("XG101 at ")
    assert f"test_api.py:{line}: F.cross_entropy" in str(record.message)


def test_each_site_reported_once_by_default(caught):
    xentguard.install()
    for _ in range(3):
        F.cross_entropy(*_probs())
    F.cross_entropy(*_probs())  # another line: reported too
    assert codes(caught) == ["XG101", "XG101"]


def test_once_false_reports_every_call(caught):
    xentguard.install(once=False)
    for _ in range(3):
        F.cross_entropy(*_probs())
    assert codes(caught) == ["XG101"] * 3


def test_uninstall_clears_reported_sites(caught):
    for _ in range(2):
        xentguard.install()
        F.cross_entropy(*_probs())
        xentguard.uninstall()
    assert codes(caught) == ["XG101", "XG101"]


def test_raise_mode_raises_errors_but_warns_notices(caught):
    xentguard.install(mode="raise")
    with pytest.raises(xentguard.LossMisuseError) as info:
        F.cross_entropy(*_probs())
    assert isinstance(info.value, ValueError)
    assert info.value.code == "XG101" and str(info.value).startswith("XG101 at ")
    logits = torch.randn(8, 4, requires_grad=True)
    F.cross_entropy(F.log_softmax(logits, dim=1), torch.randint(0, 4, (8,)))  # XG102: a notice
    assert codes(caught) == ["XG102"]


def test_log_mode_uses_the_xentguard_logger(caught, caplog):
    xentguard.install(mode="log")
    with caplog.at_level(logging.INFO, logger="xentguard"):
        F.cross_entropy(*_probs())
    assert codes(caught) == []
    (record,) = [r for r in caplog.records if r.name == "xentguard"]
    assert record.getMessage().startswith("XG101 at ") and record.levelno == logging.ERROR


def test_ignore_option(caught):
    xentguard.install(ignore=["XG101"])
    F.cross_entropy(*_probs())
    assert codes(caught) == []


def test_thread_safe_install_uninstall():
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(50):
                if i % 2:
                    xentguard.install()
                    F.cross_entropy(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
                    xentguard.uninstall()
                else:
                    with xentguard.guard(mode="log"):
                        F.nll_loss(torch.randn(4, 3).log_softmax(1), torch.tensor([0, 1, 2, 0]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert not xentguard.is_installed()
    _assert_originals()


def test_importing_xentguard_does_not_import_torch():
    import subprocess

    code = (
        "import sys, xentguard; assert 'torch' not in sys.modules; "
        "import xentguard.pytest_plugin; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_distributed_raise_downgrades_to_warning_with_rank(caught, monkeypatch):
    from xentguard.runtime import report

    monkeypatch.setattr(report, "_rank", lambda: 3)
    xentguard.install(mode="raise")
    F.cross_entropy(*_probs())  # must not raise: the other ranks would hang in a collective
    messages = [str(w.message) for w in caught]
    assert any("distributed" in m for m in messages)
    (finding,) = [m for m in messages if m.startswith("XG101")]
    assert "(rank 3): F.cross_entropy" in finding
