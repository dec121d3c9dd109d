"""One parsed file: its text, its ast, and position helpers."""

from __future__ import annotations

import ast
import io
import tokenize
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

from xentguard.static.walk import walk


class SourceError(ValueError):
    """The file cannot be read or decoded; the message names the reason (not the file)."""


class BinaryFile(SourceError):
    """The file holds NUL bytes: not source code, skipped."""


@dataclass(frozen=True)
class SourceText:
    text: str  # decoded, newlines as in the file
    encoding: str  # codec to write it back with ("utf-8-sig" keeps a BOM)


def decode_python(data: bytes) -> SourceText:
    """Decode like the interpreter: BOM, then coding cookie, then UTF-8."""
    if b"\0" in data:
        raise BinaryFile("binary file (contains NUL bytes), skipped")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(f"cannot decode: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        detail = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        where = f" at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else ""
        raise SourceError(f"cannot decode as {encoding}: {detail}{where}") from None
    if encoding == "utf-8-sig" and text.startswith("\ufeff"):
        text = text[1:]
    return SourceText(text, encoding)



def universal_newlines(text: str) -> str:
    """Newlines as flake8 and ``open()`` read a file, so texts read either way compare equal."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class SourceFile:
    """A module's text and ast. Columns handed out are characters, as flake8 counts them."""

    def __init__(self, path: str, source: str, tree: ast.Module, module_name: str | None = None) -> None:
        self.path = path
        self.source = source
        self.tree = tree
        self.module_name = module_name
        self._lines: list[str] | None = None
        self._byte_lines: list[bytes] | None = None
        self.imports_only = False  # only the import statements were parsed (see project.py)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.source.splitlines(keepends=True)
        return self._lines

    def char_col(self, line: int, byte_col: int) -> int:
        """ast's UTF-8 byte offset -> character offset on that line."""
        if line < 1 or line > len(self.lines):
            return byte_col
        text = self.lines[line - 1]
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def start(self, node: ast.AST) -> tuple[int, int]:
        line = getattr(node, "lineno", 1)
        return line, self.char_col(line, getattr(node, "col_offset", 0))

    def end(self, node: ast.AST) -> tuple[int, int]:
        line: int = getattr(node, "end_lineno", None) or int(getattr(node, "lineno", 1))
        col: int | None = getattr(node, "end_col_offset", None)
        if col is None:
            col = int(getattr(node, "col_offset", 0))
        return line, self.char_col(line, col)

    def text(self, node: ast.AST) -> str:
        """The source text of ``node`` (ast.get_source_segment re-splits the whole file on
        every call, which dominated the analysis time on large modules)."""
        line = getattr(node, "lineno", None)
        end_line = getattr(node, "end_lineno", None)
        col = getattr(node, "col_offset", None)
        end_col = getattr(node, "end_col_offset", None)
        if line is None or end_line is None or col is None or end_col is None or end_line > len(self.lines):
            return "<expression>"
        if self._byte_lines is None:
            self._byte_lines = [text.encode("utf-8") for text in self.lines]
        if line == end_line:
            chunk = self._byte_lines[line - 1][col:end_col]
        else:
            chunk = b"".join(
                [self._byte_lines[line - 1][col:], *self._byte_lines[line:end_line - 1],
                 self._byte_lines[end_line - 1][:end_col]]
            )
        return chunk.decode("utf-8", errors="replace")

    def short(self, node: ast.AST, limit: int = 40) -> str:
        """Source text of ``node`` on one line, shortened for messages."""
        text = " ".join(self.text(node).split())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    @cached_property
    def name_loads(self) -> Counter[str]:
        """How often each name is read anywhere in the file (for 'only use' fixes)."""
        names = (node for node in walk(self.tree) if isinstance(node, ast.Name))
        return Counter(node.id for node in names if not isinstance(node.ctx, ast.Store))

    @cached_property
    def name_stores(self) -> Counter[str]:
        names = (node for node in walk(self.tree) if isinstance(node, ast.Name))
        return Counter(node.id for node in names if isinstance(node.ctx, ast.Store))
