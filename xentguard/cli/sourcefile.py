"""Reading source files the way Python does: bytes, PEP 263 cookie / BOM, no newline translation."""

from __future__ import annotations

import re

from xentguard.static.source import BinaryFile, SourceError, SourceText, decode_python

__all__ = [
    "BinaryFile",
    "SourceError",
    "SourceText",
    "decode_notebook",
    "decode_python",
    "newline_of",
    "read_bytes",
    "split_lines",
]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split only at \\n, \\r\\n and \\r (as Python's tokenizer does)."""
    return _LINE.findall(text)


def newline_of(text: str) -> str:
    """The file's newline style: the first line ending found, "\\n" by default."""
    match = re.search(r"\r\n|\r|\n", text)
    return match.group(0) if match else "\n"


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise SourceError("no such file or directory") from None
    except IsADirectoryError:
        raise SourceError("is a directory") from None
    except PermissionError:
        raise SourceError("permission denied") from None
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None


def decode_notebook(data: bytes) -> str:
    if b"\0" in data:
        raise BinaryFile("binary file (contains NUL bytes), skipped")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"cannot decode as utf-8: {exc.reason} at byte {exc.start}") from None
