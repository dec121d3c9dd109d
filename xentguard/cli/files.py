"""Which files a ``check`` looks at: recursive discovery with the usual excludes."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence

from xentguard.static.project import SKIP_DIRS

SUFFIXES = (".py", ".ipynb")


def display_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it, else as given."""
    norm = os.path.normpath(path)
    if os.path.isabs(norm):
        try:
            rel = os.path.relpath(norm)
        except ValueError:
            return norm
        return norm if rel.startswith("..") else rel
    return norm


def is_excluded(relpath: str, patterns: Sequence[str]) -> bool:
    """fnmatch ``patterns`` against the relative path, its basename and each parent dir."""
    if not patterns:
        return False
    rel = relpath.replace(os.sep, "/")
    parts = rel.split("/")
    candidates = [rel, parts[-1]]
    candidates.extend("/".join(parts[: i + 1]) for i in range(len(parts) - 1))
    return any(fnmatch.fnmatchcase(c, p.rstrip("/")) for c in candidates for p in patterns)


def _skip_dir(parent: str, name: str) -> bool:
    if name in SKIP_DIRS or name.endswith(".egg-info"):
        return True
    # Any virtualenv, whatever its name.
    return os.path.isfile(os.path.join(parent, name, "pyvenv.cfg"))


def walk(directory: str, exclude: Sequence[str], exclude_base: str) -> Iterator[str]:
    """Every .py/.ipynb below ``directory``, sorted, without skipped/excluded dirs."""
    for root, dirs, files in os.walk(directory):
        kept = []
        for name in sorted(dirs):
            full = os.path.join(root, name)
            if _skip_dir(root, name) or (exclude and is_excluded(_rel(full, exclude_base), exclude)):
                continue
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            if not name.endswith(SUFFIXES):
                continue
            full = os.path.join(root, name)
            if exclude and is_excluded(_rel(full, exclude_base), exclude):
                continue
            yield full


def _rel(path: str, base: str) -> str:
    try:
        rel = os.path.relpath(os.path.abspath(path), base)
    except ValueError:
        return path
    return rel.replace(os.sep, "/")
