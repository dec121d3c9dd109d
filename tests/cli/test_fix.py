"""``check --fix`` and ``--diff`` on the before/after pairs in fixtures/fixes/."""

from __future__ import annotations

import ast
import os
import shutil
import stat
from pathlib import Path

import pytest
from conftest import BAD, FIXES, run_cli, run_json, write

PAIRS = sorted(p for p in FIXES.glob("*.py") if not p.name.endswith(".fixed.py"))


def _fixed(before: Path) -> Path:
    return before.with_name(before.name[: -len(".py")] + ".fixed.py")


def test_every_fixture_has_a_pair() -> None:
    assert len(PAIRS) >= 8
    for before in PAIRS:
        assert _fixed(before).exists(), before


@pytest.mark.parametrize("before", PAIRS, ids=lambda p: p.stem)
def test_fix_matches_fixture(tmp_path: Path, before: Path) -> None:
    target = tmp_path / "case.py"
    shutil.copyfile(before, target)
    codes_before = {d["code"] for d in run_json("case.py", cwd=tmp_path)[1]}
    proc = run_cli("check", "--fix", "case.py", cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    expected = _fixed(before).read_text(encoding="utf-8")
    assert target.read_text(encoding="utf-8") == expected
    ast.parse(expected)
    after = run_json("case.py", cwd=tmp_path)[1]
    if expected == before.read_text(encoding="utf-8"):
        assert {d["code"] for d in after} == codes_before  # nothing certain: reported, untouched
        assert proc.returncode == 1
    else:
        assert after == [], after  # none of the fixed findings come back
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("before", PAIRS, ids=lambda p: p.stem)
def test_diff_changes_nothing(tmp_path: Path, before: Path) -> None:
    target = tmp_path / "case.py"
    shutil.copyfile(before, target)
    original = target.read_bytes()
    proc = run_cli("check", "--diff", "case.py", cwd=tmp_path)
    assert target.read_bytes() == original
    changed = _fixed(before).read_text(encoding="utf-8") != before.read_text(encoding="utf-8")
    assert proc.returncode == (1 if changed else 0)
    if changed:
        assert proc.stdout.startswith("--- a/case.py\n+++ b/case.py\n@@ ")
        removed = [line[1:] for line in proc.stdout.splitlines()[2:] if line.startswith("-")]
        added = [line[1:] for line in proc.stdout.splitlines()[2:] if line.startswith("+")]
        assert all(line in before.read_text(encoding="utf-8").splitlines() for line in removed)
        assert all(line in _fixed(before).read_text(encoding="utf-8").splitlines() for line in added)
    else:
        assert proc.stdout == ""


def test_fix_keeps_crlf_mode_and_encoding(tmp_path: Path) -> None:
    before = FIXES / "xg105_log_softmax.py"
    text = "# -*- coding: latin-1 -*-\n# café\n" + before.read_text(encoding="utf-8")
    target = tmp_path / "case.py"
    target.write_bytes(text.replace("\n", "\r\n").encode("latin-1"))
    os.chmod(target, 0o751)
    proc = run_cli("check", "--fix", "case.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = target.read_bytes()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    expected = "# -*- coding: latin-1 -*-\n# café\n" + _fixed(before).read_text(encoding="utf-8")
    assert data.decode("latin-1") == expected.replace("\n", "\r\n")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o751
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".xentguard-")]


def test_fix_respects_selection_and_noqa(tmp_path: Path) -> None:
    src = BAD + (
        "\n\ndef other(out, y):\n    return F.cross_entropy(F.softmax(out, dim=1), y)  # noqa: XG101\n"
    )
    target = write(tmp_path / "m.py", src)
    proc = run_cli("check", "--fix", "--ignore", "XG101", "m.py", cwd=tmp_path)
    assert proc.returncode == 0 and target.read_text(encoding="utf-8") == src
    proc = run_cli("check", "--fix", "m.py", cwd=tmp_path)
    fixed = target.read_text(encoding="utf-8")
    assert "return F.cross_entropy(out, y)\n" in fixed
    assert "F.softmax(out, dim=1), y)  # noqa: XG101" in fixed
    assert proc.returncode == 0


def test_fix_reports_what_remains(tmp_path: Path) -> None:
    src = (FIXES / "xg103_used_elsewhere.py").read_text(encoding="utf-8")
    write(tmp_path / "m.py", src)
    proc = run_cli("check", "--fix", "m.py", cwd=tmp_path)
    assert proc.returncode == 1 and "XG103" in proc.stdout
    assert (tmp_path / "m.py").read_text(encoding="utf-8") == src
