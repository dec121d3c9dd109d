"""``# noqa`` as flake8 honours it (same regex, prefix matching, noqa line for continued lines)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_json, write

from xentguard.cli.noqa import NoqaIndex

HEAD = "import torch.nn.functional as F\n\n\ndef step(out, y):\n"
CALL = "    return F.cross_entropy(F.softmax(out, dim=1), y)"


@pytest.mark.parametrize(
    ("comment", "suppressed"),
    [
        ("  # noqa", True),
        ("  # NOQA", True),
        ("  # noqa: XG101", True),
        ("  # noqa:XG101", True),
        ("  # noqa: XG1", True),  # prefix, as flake8
        ("  # noqa: E501,XG101", True),
        ("  # noqa:E501 XG101", True),
        ("  # noqa: XG102", False),
        ("  # noqa: E501", False),
        ("  # noqa : XG102", True),  # flake8 reads this as a bare noqa
        ("  #noqa", False),  # flake8 needs "# noqa"
        ("  # some text # noqa: XG101 because reasons", True),
        ("", False),
    ],
)
def test_noqa_comment(project: Path, comment: str, suppressed: bool) -> None:
    write(project / "m.py", HEAD + CALL + comment + "\n")
    rc, data = run_json("m.py", cwd=project)
    assert (data == []) is suppressed, data
    assert rc == (0 if suppressed else 1)


def test_noqa_on_other_line_of_multiline_call(project: Path) -> None:
    # flake8 searches the finding's physical line (NL tokens split a bracketed call).
    src = HEAD + (
        "    return F.cross_entropy(  # noqa: XG101\n        F.softmax(out, dim=1),\n        y,\n    )\n"
    )
    write(project / "m.py", src)
    _, data = run_json("m.py", cwd=project)
    assert [d["line"] for d in data] == [6]
    src = HEAD + (
        "    return F.cross_entropy(\n        F.softmax(out, dim=1),  # noqa: XG101\n        y,\n    )\n"
    )
    write(project / "m.py", src)
    assert run_json("m.py", cwd=project)[1] == []


def test_noqa_lines_join_multiline_tokens() -> None:
    source = 'x = """a\nb"""  # noqa: XG101\ny = 1 + \\\n    2  # noqa\nz = 3\n'
    index = NoqaIndex(source)
    assert index.suppresses(1, "XG101") and index.suppresses(2, "XG101")
    assert not index.suppresses(1, "XG102")
    assert index.suppresses(3, "XG102") and index.suppresses(4, "XG102")
    assert not index.suppresses(5, "XG101")
