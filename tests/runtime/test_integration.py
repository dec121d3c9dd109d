"""torch.compile, deferred (CUDA-style) reporting, `xentguard run`, the pytest plugin and the demo."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import xentguard
from xentguard.runtime import demo, hooks, runner
from xentguard.runtime.device import PendingCheck, PendingQueue


def codes(records: list) -> list[str]:
    """The rule codes of the XentGuardWarnings among ``records``, in order."""
    return [str(r.message).split(" ", 1)[0] for r in records if issubclass(r.category, xentguard.XentGuardWarning)]


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_compiled_step_runs_and_matches():
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))

    def step(inp: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(inp), tgt)

    plain = torch.compile(step)(x, y)
    torch._dynamo.reset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with xentguard.guard():
            guarded = torch.compile(step)(x, y)
            explanation = torch._dynamo.explain(step)(x, y)
    torch._dynamo.reset()
    assert torch.equal(plain, guarded)
    torch.testing.assert_close(guarded, step(x, y))
    assert explanation.graph_break_count == 0
    notes = [str(w.message) for w in caught if "torch.compile" in str(w.message)]
    assert len(notes) == 1


class _Event:
    def __init__(self) -> None:
        self.done = False

    def query(self) -> bool:
        return self.done

    def synchronize(self) -> None:
        self.done = True


def test_pending_queue_reports_in_order_when_ready():
    queue = PendingQueue()
    delivered: list[str] = []
    events = [_Event() for _ in range(3)]
    for i, ev in enumerate(events):
        queue.push(PendingCheck(ev, torch.tensor([float(i)]), ["k"], f"call{i}", lambda v, c: delivered.append(c)))
    queue.poll()
    assert delivered == []
    events[1].done = True
    queue.poll()
    assert delivered == []  # the head is not ready: order is kept
    events[0].done = True
    queue.poll()
    assert delivered == ["call0", "call1"]
    queue.drain()
    assert delivered == ["call0", "call1", "call2"] and len(queue) == 0


def test_deferred_delivery_names_the_original_site(caught):
    """What a CUDA call reports later: judged from the copied flags, at the captured site."""
    xentguard.install()
    x = torch.randn(4, 3)
    x[0, 0] = float("nan")
    plan = hooks._plan("cross_entropy", x, torch.tensor([0, 1, 2, 0]), (), {})
    keys, values = hooks.checks.measure_device(x, torch.tensor([0, 1, 2, 0]), plan)
    site = hooks.find_site("cross_entropy")
    stats = dict(zip(keys, hooks.checks.stack(values).tolist()))
    hooks._deliver_deferred({**stats, "loss_nonfinite": 1.0}, (plan, site, hooks._state.active))
    assert codes(caught) == ["XG201"]
    assert caught[0].filename == __file__


def _script(tmp_path, body: str) -> str:
    path = tmp_path / "train_script.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_runner_reports_the_script_line(tmp_path, capfd):
    path = _script(
        tmp_path,
        """\
        import sys
        import torch
        from torch.nn.functional import cross_entropy, softmax
        x = torch.randn(4, 3, requires_grad=True)
        loss = cross_entropy(softmax(x, dim=1), torch.tensor([0, 1, 2, 0]))
        print("args", sys.argv[1:])
        sys.exit(3)
        """,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = runner.main([path, "--flag", "value"])
    assert code == 3
    assert "args ['--flag', 'value']" in capfd.readouterr().out
    (record,) = [w for w in caught if issubclass(w.category, xentguard.XentGuardWarning)]
    assert record.filename == path and record.lineno == 5
    assert str(record.message).startswith("XG101 at ") and "train_script.py:5" in str(record.message)
    assert not xentguard.is_installed()


def test_runner_subprocess_env_mode(tmp_path):
    path = _script(
        tmp_path,
        """\
        import torch
        import torch.nn.functional as F
        F.nll_loss(F.softmax(torch.randn(4, 3, requires_grad=True), dim=1), torch.tensor([0, 1, 2, 0]))
        """,
    )
    env = {**os.environ, "XENTGUARD_MODE": "raise", "PYTHONPATH": REPO}
    code = "from xentguard.runtime.runner import main; import sys; sys.exit(main(sys.argv[1:]))"
    cmd = [sys.executable, "-c", code, path]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0
    assert "LossMisuseError: XG103 at" in proc.stderr and "train_script.py:3" in proc.stderr


def test_runner_rejects_bad_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("XENTGUARD_MODE", "loud")
    with pytest.raises(SystemExit) as info:
        runner.main([_script(tmp_path, "pass\n")])
    assert info.value.code == 2


def test_pytest_plugin_flag(tmp_path):
    test_file = tmp_path / "test_misuse.py"
    test_file.write_text(
        textwrap.dedent(
            """\
            import torch
            import torch.nn.functional as F

            def test_misuse():
                x = torch.randn(4, 3, requires_grad=True)
                F.cross_entropy(F.softmax(x, dim=1), torch.tensor([0, 1, 2, 0]))
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": REPO}
    # the plugin is registered through the pytest11 entry point (pip install -e)
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    base += ["--rootdir", str(tmp_path), str(test_file)]
    with_flag = subprocess.run([*base, "--xentguard"], capture_output=True, text=True, env=env, timeout=120)
    without = subprocess.run(base, capture_output=True, text=True, env=env, timeout=120)
    assert with_flag.returncode == 1, with_flag.stdout
    assert "LossMisuseError" in with_flag.stdout and "XG101" in with_flag.stdout
    assert without.returncode == 0, without.stdout


def test_demo_shows_the_finding_and_both_curves(capsys):
    assert demo.main(["--steps", "60", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "XG101 at " in out and "demo.py:" in out
    finals = {}
    for line in out.splitlines():
        for name in ("buggy", "correct"):
            if line.strip().startswith(name) and "final loss" in line:
                finals[name] = float(line.split("final loss ")[1].split(",")[0])
    assert finals["buggy"] > finals["correct"] + 0.1
    assert not xentguard.is_installed()


def test_runner_module_mode(tmp_path, monkeypatch):
    (tmp_path / "misuse_mod.py").write_text(
        "import torch\nimport torch.nn.functional as F\n"
        "F.kl_div(F.softmax(torch.randn(4, 3, requires_grad=True), dim=1), torch.full((4, 3), 1 / 3))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert runner.main(["-m", "misuse_mod"]) == 0
    assert codes(caught) == ["XG110"]
    assert caught[0].filename.endswith("misuse_mod.py") and caught[0].lineno == 3


def _device_and_host_codes(name: str, x: torch.Tensor, target: torch.Tensor, **kwargs) -> tuple[list, list]:
    args = (x, target)
    plan = hooks._plan(name, x, target, args, kwargs)
    keys, values = hooks.checks.measure_device(x, target, plan)
    device_stats = dict(zip(keys, hooks.checks.stack(values).tolist()))
    host_stats = hooks._measure_now(plan, x, target)
    host_stats.update(hooks.checks.measure_index_target(target, plan))
    judge = hooks.checks.judge
    return sorted(f.code for f in judge(device_stats, plan)), sorted(f.code for f in judge(host_stats, plan))


def test_device_measurement_agrees_with_host_measurement():
    """The CUDA code path (branch-free, all flags at once) judged on CPU tensors gives the same codes."""
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(32, 7, generator=gen) * 3
    y = torch.randint(0, 7, (32,), generator=gen)
    y_ignored = y.clone()
    y_ignored[:4] = -100
    nan_logits = logits.clone()
    nan_logits[3, 3] = float("nan")
    masked = logits.clone()
    masked[:, 0] = float("-inf")
    masked[5] = float("-inf")
    garbage_ignored = torch.softmax(logits, 1)
    garbage_ignored[:4] = 9.0
    soft = torch.softmax(torch.randn(32, 7, generator=gen), 1)
    leaf = logits.clone().requires_grad_()
    cat_probs = torch.cat([torch.softmax(leaf[:16], 1), torch.softmax(leaf[16:], 1)])  # CatBackward0
    cat_logprobs = torch.cat([torch.log_softmax(leaf[:16], 1), torch.log_softmax(leaf[16:], 1)])
    relu_linear = torch.relu(leaf * 2)  # ReluBackward0: > 0, never log-probabilities
    nd = torch.randn(2, 7, 9, 11, generator=gen)  # (N, C, H, W): the sample narrows H and W
    nd_y = torch.randint(0, 7, (2, 9, 11), generator=gen)
    cases = [
        ("cross_entropy", logits, y, {}, []),
        ("cross_entropy", torch.softmax(logits, 1), y, {}, ["XG101"]),
        ("cross_entropy", torch.log_softmax(logits, 1), y, {}, ["XG102"]),
        ("nll_loss", torch.softmax(logits, 1), y, {}, ["XG103"]),
        ("nll_loss", logits, y, {}, ["XG104"]),
        ("nll_loss", garbage_ignored, y_ignored, {}, ["XG103"]),
        ("cross_entropy", nan_logits, y, {}, ["XG201"]),
        ("cross_entropy", masked, y, {}, ["XG201"]),
        ("cross_entropy", logits, torch.full((32,), 7), {}, ["XG202"]),
        ("cross_entropy", logits, soft.log(), {}, ["XG111"]),
        ("cross_entropy", logits, soft.log() - 0.5, {}, ["XG202"]),  # log space, not log-probabilities
        ("cross_entropy", logits, soft, {}, []),
        ("kl_div", torch.softmax(logits, 1), soft, {}, ["XG110"]),
        ("kl_div", torch.log_softmax(logits, 1), soft.log(), {}, ["XG111"]),
        ("kl_div", torch.log_softmax(logits, 1), soft.log(), {"log_target": True}, []),
        ("kl_div", torch.log_softmax(logits, 1), torch.log_softmax(leaf, 1), {}, ["XG111"]),
        ("kl_div", relu_linear, soft, {}, ["XG110"]),
        ("cross_entropy", cat_probs, y, {}, ["XG101"]),
        ("cross_entropy", cat_logprobs, y, {}, ["XG102"]),
        ("cross_entropy", leaf * 2, y, {}, []),
        ("nll_loss", cat_logprobs, y, {}, []),
        ("nll_loss", relu_linear, y, {}, ["XG104"]),
        ("nll_loss", torch.sigmoid(leaf), y, {}, ["XG104"]),
        ("cross_entropy", torch.softmax(nd, 1) * 1.0, nd_y, {}, ["XG101"]),
        ("cross_entropy", torch.softmax(nd, 2) * 1.0, nd_y, {}, []),
        ("nll_loss", torch.log_softmax(nd, 1), nd_y, {}, []),
        ("binary_cross_entropy_with_logits", logits, soft * 2, {}, ["XG202"]),
    ]
    for name, x, target, kwargs, expected in cases:
        device_codes, host_codes = _device_and_host_codes(name, x, target, **kwargs)
        assert device_codes == host_codes == expected, (name, expected, device_codes, host_codes)
