"""Reading source files the way Python does: bytes, PEP 263 cookie / BOM, no newline translation."""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class SourceError(ValueError):
    """The file cannot be read or decoded; the message names the reason (not the file)."""


class BinaryFile(SourceError):
    """The file holds NUL bytes: not source code, skipped."""


@dataclass(frozen=True)
class SourceText:
    text: str  # decoded, newlines as in the file
    encoding: str  # codec to write it back with ("utf-8-sig" keeps a BOM)


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


def decode_notebook(data: bytes) -> str:
    if b"\0" in data:
        raise BinaryFile("binary file (contains NUL bytes), skipped")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"cannot decode as utf-8: {exc.reason} at byte {exc.start}") from None
