"""Benchmark corpus: real ML code extracted from pinned PyPI distributions.

The corpus is built on first use into a cache directory (default
``~/.cache/xentguard-bench/corpus``; override with ``XENTGUARD_CORPUS_DIR``) and is never
committed.  Every archive is located through PyPI's simple index, downloaded from
files.pythonhosted.org and checked against the sha256 pinned below; only ``*.py`` files
are extracted (``*.dist-info`` / ``*.egg-info`` are skipped), one sub-directory per
distribution.  Standard library only.

    python benchmarks/corpus.py          # build if needed, print path and file count
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any

INDEX_URL = "https://pypi.org/simple/{project}/"
ENV_VAR = "XENTGUARD_CORPUS_DIR"
DEFAULT_DIR = Path("~/.cache/xentguard-bench/corpus")
MANIFEST = ".xentguard-corpus.json"
FORMAT = 1
TIMEOUT_S = 60


@dataclass(frozen=True)
class Dist:
    """One pinned distribution file; ``exclude`` holds fnmatch patterns of paths to skip
    (relative to the archive root, after an sdist's top-level folder)."""

    project: str
    filename: str
    sha256: str
    exclude: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        stem = self.filename.removesuffix(".tar.gz").removesuffix(".whl")
        return "-".join(stem.split("-")[:2])

    @property
    def is_sdist(self) -> bool:
        return self.filename.endswith(".tar.gz")


# Verified by downloading each file (sha256 also matches the index's #sha256= fragment).
# torchvision: the macOS arm64 wheel is the smallest of its builds; only its .py files are used.
DISTS: tuple[Dist, ...] = (
    Dist("timm", "timm-1.0.15.tar.gz", "756a3bc30c96565f056e608a9b559daed904617eaadb6be536f96874879b1055"),
    Dist(
        "pytorch-lightning",
        "pytorch_lightning-2.5.1-py3-none-any.whl",
        "0bfbbd3ad80281d3062f5d8029a759093bd969ff8162e7c1fe2918552b269f9e",
    ),
    Dist("fairseq", "fairseq-0.12.2.tar.gz", "34f1b18426bf3844714534162f065ab733e049597476daa35fffb4d06a92b524"),
    Dist(
        "torchvision",
        "torchvision-0.20.1-cp311-cp311-macosx_11_0_arm64.whl",
        "344b339e15e6bbb59ee0700772616d0afefd209920c762b1604368d8c3458322",
    ),
    Dist(
        "transformers",
        "transformers-4.46.3-py3-none-any.whl",
        "a12ef6f52841fd190a3e5602145b542d03507222f2c64ebb7ee92e8788093aef",
        # PyTorch only (the TF/Flax ports repeat the models) and no deprecated models: this keeps
        # `flake8 --jobs 2` alone on the whole corpus at about two minutes on a slow 2-core box.
        exclude=(
            "transformers/models/*/modeling_tf_*.py",
            "transformers/models/*/modeling_flax_*.py",
            "transformers/models/deprecated/*",
        ),
    ),
)


class CorpusError(RuntimeError):
    """The corpus cannot be built or used (network, checksum, unexpected directory)."""


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _open(url: str) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": "xentguard-benchmarks"})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CorpusError(
            f"cannot fetch {url} ({reason}); building the benchmark corpus needs network access to PyPI on first use"
        ) from exc


def _file_url(dist: Dist) -> str:
    index = INDEX_URL.format(project=dist.project)
    with _open(index) as response:
        page = response.read().decode("utf-8", "replace")
    parser = _Links()
    parser.feed(page)
    for href in parser.hrefs:
        url, _, fragment = urllib.parse.urljoin(index, href).partition("#")
        if PurePosixPath(urllib.parse.urlparse(url).path).name != dist.filename:
            continue
        if fragment.startswith("sha256=") and fragment[7:] != dist.sha256:
            raise CorpusError(f"{dist.filename}: index lists sha256 {fragment[7:]}, pinned {dist.sha256}")
        return url
    raise CorpusError(f"{dist.filename} not found in {index}")


def _download(dist: Dist, folder: Path) -> Path:
    target = folder / dist.filename
    digest = hashlib.sha256()
    with _open(_file_url(dist)) as response, target.open("wb") as out:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != dist.sha256:
        raise CorpusError(f"{dist.filename}: sha256 {digest.hexdigest()} != pinned {dist.sha256}")
    return target


def _members(dist: Dist, archive: Path) -> Iterator[tuple[str, bytes]]:
    if dist.is_sdist:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".py"):
                    stream = tar.extractfile(member)
                    if stream is not None:
                        yield member.name.split("/", 1)[-1], stream.read()
    else:
        with zipfile.ZipFile(archive) as wheel:
            for info in wheel.infolist():
                if not info.is_dir() and info.filename.endswith(".py"):
                    yield info.filename, wheel.read(info)


def _extract(dist: Dist, archive: Path, root: Path) -> int:
    count = 0
    for name, data in _members(dist, archive):
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise CorpusError(f"{dist.filename}: unsafe member path {name!r}")
        if any(part.endswith((".dist-info", ".egg-info")) for part in rel.parts):
            continue
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in dist.exclude):
            continue
        target = root / dist.dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        count += 1
    return count


def _expected_manifest() -> dict[str, object]:
    return {"format": FORMAT, "dists": [[d.filename, d.sha256, list(d.exclude)] for d in DISTS]}


def _is_current(path: Path) -> bool:
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return {k: manifest.get(k) for k in ("format", "dists")} == _expected_manifest()


def _build(path: Path, log: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".corpus-build-", dir=path.parent))
    try:
        downloads, root = tmp / "downloads", tmp / "corpus"
        downloads.mkdir()
        root.mkdir()
        counts = {}
        for dist in DISTS:
            if log:
                print(f"fetching {dist.filename} ...", file=sys.stderr, flush=True)
            counts[dist.dest] = _extract(dist, _download(dist, downloads), root)
        manifest = {**_expected_manifest(), "files": counts}
        (root / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if path.exists():  # a stale corpus of ours (checked by the caller): move aside, then drop
            stale = tmp / "stale"
            path.rename(stale)
        try:
            root.rename(path)
        except OSError:
            if not _is_current(path):  # nobody else built it concurrently
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def corpus_dir(*, build: bool = True, log: bool = True) -> Path:
    """Return the corpus directory, building (or rebuilding a stale one) if needed."""
    path = Path(os.environ.get(ENV_VAR) or DEFAULT_DIR).expanduser().resolve()
    if _is_current(path):
        return path
    if path.exists() and any(path.iterdir()) and not (path / MANIFEST).exists():
        raise CorpusError(f"{path} exists and is not a xentguard corpus; set {ENV_VAR} elsewhere")
    if not build:
        raise CorpusError(f"no current corpus at {path}; run python benchmarks/corpus.py")
    _build(path, log)
    return path


def python_files(root: Path) -> list[Path]:
    """All ``*.py`` files under ``root``, sorted."""
    return sorted(p for p in root.rglob("*.py") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    try:
        root = corpus_dir()
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    files = python_files(root)
    size = sum(p.stat().st_size for p in files)
    print(root)
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        print(f"  {sub.name}: {len(python_files(sub))} files")
    print(f"{len(files)} files, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
