"""Bad input: one clear line naming the file, the run goes on, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import BAD, run_cli, write


def test_each_bad_file_one_line_and_run_continues(project: Path) -> None:
    write(project / "a_syntax.py", "import torch\n\ndef f(:\n    pass\n")
    write(project / "b_plain_syntax.py", "x = (\n")
    (project / "c_binary.py").write_bytes(b"\x00\x01\x02import os\n")
    (project / "d_undecodable.py").write_bytes(b"x = '\xff\xfe'\n")
    (project / "e_badcookie.py").write_bytes(b"# -*- coding: klingon -*-\nx = 1\n")
    write(project / "f_broken.ipynb", "{not json")
    os.symlink(project / "nowhere.py", project / "g_dangling.py")
    write(project / "z_bad.py", BAD)
    proc = run_cli("check", ".", "missing_dir", "missing.py", cwd=project)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    out = proc.stdout.splitlines()
    by_file = {line.split(":", 1)[0]: line for line in out}
    assert len(by_file) == len(out), out  # one line per file
    assert by_file["a_syntax.py"].startswith("a_syntax.py:3:7: XG999 ")
    assert "invalid syntax" in by_file["a_syntax.py"]
    assert by_file["b_plain_syntax.py"].startswith("b_plain_syntax.py:1:")
    assert "XG999" in by_file["b_plain_syntax.py"]
    assert "c_binary.py" not in by_file and "c_binary.py: binary file" in proc.stderr
    assert "XG999 cannot decode" in by_file["d_undecodable.py"]
    assert "XG999 cannot decode" in by_file["e_badcookie.py"]
    assert "XG999 cannot read notebook: not valid JSON" in by_file["f_broken.ipynb"]
    assert "XG999 no such file or directory" in by_file["g_dangling.py"]
    assert "XG999 no such file or directory" in by_file["missing_dir"]
    assert "XG999 no such file or directory" in by_file["missing.py"]
    assert by_file["z_bad.py"].startswith("z_bad.py:5:28: XG101")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(project: Path) -> None:
    path = write(project / "secret.py", BAD)
    path.chmod(0)
    try:
        proc = run_cli("check", "secret.py", cwd=project)
    finally:
        path.chmod(0o644)
    assert proc.returncode == 1
    assert proc.stdout.startswith("secret.py:1:1: XG999 permission denied")


def test_bom_and_cookie_are_honoured(project: Path) -> None:
    (project / "bom.py").write_bytes(b"\xef\xbb\xbf" + BAD.encode())
    (project / "latin.py").write_bytes(b"# coding: latin-1\n# \xe9\n" + BAD.encode())
    proc = run_cli("check", "bom.py", "latin.py", cwd=project)
    assert proc.stdout.splitlines() == [
        line for line in proc.stdout.splitlines() if "XG101" in line
    ] and len(proc.stdout.splitlines()) == 2, proc.stdout
    assert "latin.py:7:28: XG101" in proc.stdout
