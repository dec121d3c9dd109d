"""``[tool.xentguard]`` in pyproject.toml, found by walking up from the checked paths.

Keys: ``select``, ``extend-select``, ``ignore``, ``exclude``, ``per-file-ignores``.
Unknown keys, wrong types and unknown codes are errors (exit 2), never silently dropped.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from xentguard.cli.selection import PerFileIgnores, SelectionError, validate_prefixes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

KNOWN_KEYS = ("select", "extend-select", "ignore", "exclude", "per-file-ignores")


class ConfigError(ValueError):
    """A configuration problem: reported on one line, exit 2."""


@dataclass(frozen=True)
class Config:
    path: str | None = None  # the pyproject.toml it came from
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: PerFileIgnores = field(default_factory=PerFileIgnores)

    @property
    def base(self) -> str:
        """The directory relative to which ``exclude`` and ``per-file-ignores`` match."""
        return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()


def _str_list(value: Any, key: str, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return value


def parse_config(table: Any, where: str) -> Config:
    """Validate one ``[tool.xentguard]`` table."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [tool.xentguard] must be a table")
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) in [tool.xentguard]: {', '.join(unknown)} "
            f"(known: {', '.join(KNOWN_KEYS)})"
        )
    try:
        select = (
            validate_prefixes(_str_list(table["select"], "select", where), f"{where} select")
            if "select" in table
            else None
        )
        extend = validate_prefixes(
            _str_list(table.get("extend-select", []), "extend-select", where), f"{where} extend-select"
        )
        ignore = validate_prefixes(_str_list(table.get("ignore", []), "ignore", where), f"{where} ignore")
        pfi_raw = table.get("per-file-ignores", {})
        if not isinstance(pfi_raw, dict):
            raise ConfigError(f"{where}: 'per-file-ignores' must be a table of glob = [codes]")
        entries = tuple(
            (
                glob,
                validate_prefixes(
                    _str_list(codes, f"per-file-ignores.{glob}", where), f"{where} per-file-ignores"
                ),
            )
            for glob, codes in pfi_raw.items()
        )
    except SelectionError as exc:
        raise ConfigError(str(exc)) from None
    exclude = tuple(_str_list(table.get("exclude", []), "exclude", where))
    return Config(where, select, extend, ignore, exclude, PerFileIgnores(entries))


def load_pyproject(path: str) -> Config | None:
    """The config in ``path``, or None when it has no ``[tool.xentguard]`` table."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    tool = data.get("tool")
    if not isinstance(tool, dict) or "xentguard" not in tool:
        return None
    return parse_config(tool["xentguard"], path)


class ConfigFinder:
    """Finds (and caches) the nearest pyproject.toml with ``[tool.xentguard]`` above a path."""

    def __init__(self) -> None:
        self._by_dir: dict[str, Config] = {}

    def for_path(self, path: str) -> Config:
        start = os.path.abspath(path)
        directory = start if os.path.isdir(start) else os.path.dirname(start)
        visited: list[str] = []
        found = Config()
        while True:
            if directory in self._by_dir:
                found = self._by_dir[directory]
                break
            visited.append(directory)
            candidate = os.path.join(directory, "pyproject.toml")
            if os.path.isfile(candidate):
                loaded = load_pyproject(candidate)
                if loaded is not None:
                    found = loaded
                    break
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        for seen in visited:
            self._by_dir[seen] = found
        return found
