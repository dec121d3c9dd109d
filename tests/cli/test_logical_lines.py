"""Logical lines found one physical line at a time agree with Python's tokenizer."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import tokenize

import hypothesmith
import pytest
from hypothesis import HealthCheck, assume, given, settings

from xentguard.cli.ipython_syntax import cell_python
from xentguard.cli.logical_lines import LogicalLines
from xentguard.cli.sourcefile import split_lines


def continued(text: str) -> list[int]:
    """1-based numbers of the lines that continue a logical line."""
    scanner, out = LogicalLines(), []
    for number, line in enumerate(split_lines(text), start=1):
        line = line.rstrip("\r\n")
        if not scanner.at_start:
            out.append(number)
        scanner.feed(line)
    return out


def tokenizer_continued(text: str) -> list[int]:
    out: set[int] = set()
    first, depth = None, 0
    ended = 0  # the last line of the previous logical line (or of a blank or comment line)
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        if first is None:
            if tok.type == tokenize.NL:
                ended = tok.end[0]
            if tok.type in (tokenize.NL, tokenize.COMMENT):
                continue
            # The logical line starts on the line after the previous one, not at its first
            # token: lines ending in a backslash before it hold no token ("\\\n  x = 1").
            first = ended + 1
        if tok.type == tokenize.NEWLINE or (tok.type == tokenize.NL and depth == 0):
            out.update(range(first + 1, tok.end[0] + 1))
            ended = tok.end[0]
            first = None
        elif tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth = max(0, depth - 1)
    return sorted(out)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("print('%s: %d'\n      %(name, value))\n", [2]),
        ("x = 1 + \\\n  2\ny = 3\n", [2]),
        ("\n\\\n \n", [3]),  # a logical line of a backslash alone: its next line continues it
        ("x = 1\n\\\n  y = 2\n", [3]),
        ("x = 1  # not a continuation \\\ny = 2\n", []),
        ('s = """a\n%time\n"""\nt = 1\n', [2, 3]),
        ("s = 'a\\\n%time'\nt = 1\n", [2]),  # backslash-newline inside a single-quoted string
        ("s = 'unterminated\n%time\n", []),  # the string ends at the newline (a syntax error)
        ("s = r'\\\\'\n%time\n", []),  # an even number of backslashes escapes no newline
        ("d = {'a': [1,\n  2], 'b': (3,\n 4)}\n", [2, 3]),
        ("s = f'{x:{w}}' 'y' f\"{d['k']}\"\n%time\n", []),
        ('s = f"{x["k"]}"\n%time\n', []),  # PEP 701: the same quote nested in a field
        ("s = rf'\\{{a}}\\'\n%time\n", []),  # a raw f-string's backslash escapes no brace
        ("s = f'\\N{BULLET} {x}'\n%time\n", []),  # \N{...} is not a replacement field
        ("s = f'''{\n  x\n}'''\n%time\n", [2, 3]),
        ("s = f'{\n  x}'\n%time\n", [2]),  # a field may span lines (3.12)
        ("x = )\n%time\n", []),  # an unmatched closer does not leave the state negative
        ("x = (\n# comment )\n)\n", [2, 3]),
    ],
)
def test_continuations(text: str, expected: list[int]) -> None:
    assert continued(text) == expected


@pytest.mark.parametrize("module", [tokenize, inspect, argparse, dataclasses])
def test_agrees_with_tokenize_on_real_modules(module: object) -> None:
    text = inspect.getsource(module)  # type: ignore[arg-type]
    assert continued(text) == tokenizer_continued(text)


def test_first_plain_assignment_is_reported() -> None:
    scanner = LogicalLines()
    assert scanner.feed("a[i == 1] += b").assign is None
    assert scanner.feed("x: int = y == z").assign == 7
    assert scanner.feed("f(a=1) if (b := 2) else c <= d").assign is None
    assert scanner.feed("x = (").assign == 2
    assert scanner.feed(" 1) = 2").assign is None  # not the logical line's first '='


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("%time x\n!ls\n!!ls\n/f a\n,f a b\n;f a b\n", ("", "", "", "", "", "")),
        ("%time f(a) \\\n   (b\nx = 1\n", ("", "", "x = 1")),  # a magic's backslash continuation
        ("if a:\n    %time b\n", ("if a:", "    pass")),
        ("x = !ls\ny, z = %who_ls\nw == !v\n", ("x = None", "y, z = None", "w == !v")),
        ("a.b?\n?a\n??a.b\na.*B??\n%who?\nx = a?\n", ("",) * 6),
        ("f(\n  a).b?\n", ("", "")),  # help ends a logical line of two physical lines
        ("x = 'q?'\ny = 1  # q?\n", ("x = 'q?'", "y = 1  # q?")),
        ("%%bash\nls (\n", ("", "")),
        ("%%timeit?\nx = 1\n", ("", "x = 1")),
    ],
)
def test_ipython_syntax_blanked(cell: str, expected: tuple[str, ...]) -> None:
    assert cell_python(cell.splitlines()).lines == expected


def test_leading_indent_removed_from_lines_that_have_it() -> None:
    python = cell_python(["", "  # note", "  x = 1", "  if x:", "      %time y", "z"])
    assert python.lines == ("", "# note", "x = 1", "if x:", "    pass", "z")
    assert python.indent == 2
    assert python.dedented == (False, True, True, True, True, False)


def test_leading_indent_is_the_first_code_line_s() -> None:
    # An indented comment first must not dedent a cell whose code starts in column 0.
    lines = ["  # note", "if x:", "  y = 1"]
    assert cell_python(lines).lines == tuple(lines)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar())
def test_generated_python_is_never_taken_for_ipython(source: str) -> None:
    # Valid Python has no IPython syntax: a cell of it comes back unchanged (unless its first
    # code line is indented, which the grammar allows after a form feed), and its
    # continuation lines are the tokenizer's.
    lines = [line.rstrip("\r\n") for line in split_lines(source)]
    python = cell_python(lines)
    assert python.indent or python.lines == tuple(lines)
    text = "\n".join(lines) + "\n"
    try:
        expected = tokenizer_continued(text)
    except tokenize.TokenError:
        # Rejoining the lines can end the program in a backslash continuation ("\\\r\n"
        # last): no longer the program the grammar generated, so no oracle for it.
        assume(False)
    assert continued(text) == expected
