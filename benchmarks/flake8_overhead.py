"""Overhead of the xentguard flake8 plugin on a real ML corpus.

Times ``flake8 --jobs N`` on the benchmark corpus (see corpus.py) twice per round,
alternating: "alone" (xentguard's ``flake8.extension`` entry point hidden) and "with
xentguard" (plugin registered, selected by default like any installed plugin).  Both
configurations run the same flake8 through the same shim (this file, ``--flake8-shim``)
with the same options: ``--isolated --exit-zero --jobs N``, default selection, output
discarded.  Target: with / alone <= 1.10.

    python benchmarks/flake8_overhead.py [--repeats 3] [--jobs 2] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MODE_ENV = "XENTGUARD_BENCH_PLUGINS"  # "hide": drop xentguard; "only": drop all other checkers
SHIM_FLAG = "--flake8-shim"
INSPECT_FLAG = "--flake8-shim-inspect"
THIS_FILE = Path(__file__).resolve()
LOSS_WORD = re.compile(r"loss", re.IGNORECASE)
LOSS_API = re.compile(
    r"\b(?:cross_entropy|nll_loss|binary_cross_entropy(?:_with_logits)?|kl_div|CrossEntropyLoss"
    r"|NLLLoss|BCELoss|BCEWithLogitsLoss|KLDivLoss)\b"
)


# --- the shim: runs flake8 in-process with plugin discovery filtered --------------------------


def _is_xentguard(plugin: Any) -> bool:
    module = plugin.entry_point.value.partition(":")[0]
    return module.split(".")[0] == "xentguard" or plugin.package.lower() == "xentguard"


def install_plugin_filter(mode: str) -> None:
    """Filter what flake8's importlib-metadata discovery (finder._find_importlib_plugins,
    called by finder.find_plugins) yields.  "hide" drops xentguard's plugins; "only" drops
    every other *checker* (reporters/formatters stay)."""
    if mode not in ("hide", "only"):
        raise ValueError(f"{MODE_ENV}={mode!r}: expected 'hide' or 'only'")
    from flake8.plugins import finder

    original = finder._find_importlib_plugins
    if getattr(original, "xentguard_bench_mode", None):
        return

    def filtered() -> Iterator[Any]:
        for plugin in original():
            ours = _is_xentguard(plugin)
            if mode == "hide" and ours:
                continue
            if mode == "only" and not ours and plugin.entry_point.group == "flake8.extension":
                continue
            yield plugin

    filtered.xentguard_bench_mode = mode  # type: ignore[attr-defined]
    finder._find_importlib_plugins = filtered


# At import time, so that flake8 workers started with "spawn" (which re-import __main__ as
# __mp_main__ and re-discover plugins) filter too; with "fork" they inherit the patch.
if os.environ.get(MODE_ENV):
    install_plugin_filter(os.environ[MODE_ENV])


def _shim(argv: list[str]) -> int:
    if argv[:1] == [INSPECT_FLAG]:  # report what flake8 would run, as JSON
        from flake8.options.parse_args import parse_args

        plugins, options = parse_args(argv[1:])
        checkers = [p.display_name for group in plugins.checkers for p in group]
        print(
            json.dumps(
                {
                    "checkers": checkers,
                    "disabled": [p.display_name for p in plugins.disabled],
                    "extended_default_select": options.extended_default_select,
                }
            )
        )
        return 0
    from flake8.main import cli

    return cli.main(argv)


# --- the benchmark --------------------------------------------------------------------------------


def _shim_argv(flake8_args: list[str]) -> list[str]:
    return [sys.executable, str(THIS_FILE), SHIM_FLAG, *flake8_args]


def _env(mode: str | None) -> dict[str, str]:
    return {**os.environ, MODE_ENV: mode} if mode else dict(os.environ)


def _inspect(mode: str | None, flake8_args: list[str]) -> dict[str, Any]:
    argv = _shim_argv([INSPECT_FLAG, *flake8_args])
    proc = subprocess.run(argv, env=_env(mode), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(
            f"error: flake8 plugin loading failed (mode={mode or 'with'}):\n"
            + "\n".join(proc.stderr.strip().splitlines()[-5:])
        )
    return json.loads(proc.stdout)


def _verify(flake8_args: list[str]) -> None:
    alone, with_xg = _inspect("hide", flake8_args), _inspect(None, flake8_args)
    if any(name.startswith("xentguard[") for name in alone["checkers"]):
        raise SystemExit(f"error: the shim failed to hide xentguard: {alone['checkers']}")
    ours = [name for name in with_xg["checkers"] if name.startswith("xentguard[")]
    if not ours:
        raise SystemExit(
            "error: xentguard is not among flake8's checkers "
            f"(checkers: {with_xg['checkers']}, disabled: {with_xg['disabled']}); "
            "is it installed? pip install -e ."
        )
    print(f"alone:          {', '.join(alone['checkers'])}")
    print(
        f"with xentguard: {', '.join(with_xg['checkers'])} "
        f"(default-selected plugin codes: {', '.join(with_xg['extended_default_select'])})"
    )


def _count_findings(flake8_args: list[str], corpus: Path) -> tuple[int, float]:
    """Run xentguard's checker alone once; return (XG findings, seconds)."""
    argv = _shim_argv([*flake8_args, "--select=XG", str(corpus)])
    start = time.perf_counter()
    proc = subprocess.run(argv, env=_env("only"), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit("error: xentguard-only run failed:\n" + proc.stderr[-2000:])
    return sum(1 for line in proc.stdout.splitlines() if ": XG" in line), elapsed


def _corpus_stats(corpus: Path) -> tuple[int, float, int, int]:
    """Files, MB, files mentioning "loss", files calling a torch loss API (reads every file,
    which also warms the page cache before the first timed run)."""
    files = sorted(p for p in corpus.rglob("*.py") if p.is_file())
    size = word = api = 0
    for path in files:
        data = path.read_bytes()
        size += len(data)
        text = data.decode("utf-8", "replace")
        word += bool(LOSS_WORD.search(text))
        api += bool(LOSS_API.search(text))
    return len(files), size / 1e6, word, api


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per config (median)")
    parser.add_argument("--jobs", type=int, default=2, help="flake8 --jobs for both configs")
    parser.add_argument("--corpus", type=Path, help="directory to lint instead of the corpus")
    parser.add_argument("--flake8-args", default="", help="extra flake8 options for both configs")
    parser.add_argument(
        "--no-findings", action="store_true", help="skip the untimed xentguard-only run that counts XG findings"
    )
    args = parser.parse_args(argv)
    os.environ.pop(MODE_ENV, None)  # the "with xentguard" runs inherit os.environ unfiltered

    sys.path.insert(0, str(THIS_FILE.parent))
    from _timing import alternate, median, report, time_command
    from corpus import CorpusError, corpus_dir

    try:
        corpus = (args.corpus or corpus_dir()).resolve()
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    flake8_args = ["--isolated", "--exit-zero", f"--jobs={args.jobs}", *shlex.split(args.flake8_args)]
    n_files, megabytes, loss_word, loss_api = _corpus_stats(corpus)
    print(f"corpus: {corpus}")
    print(f"  {n_files} .py files, {megabytes:.1f} MB; {loss_word} mention 'loss', {loss_api} call a torch loss API")
    _verify(flake8_args)

    run_argv = _shim_argv([*flake8_args, str(corpus)])
    configs = {
        "alone": lambda: time_command(run_argv, env={MODE_ENV: "hide"}),
        "with xentguard": lambda: time_command(run_argv),
    }
    print(f"timing flake8 {' '.join(flake8_args)} <corpus>, {args.repeats} round(s) ...", flush=True)
    results = alternate(configs, args.repeats)
    print()
    print(report(results, baseline="alone"))
    ratio = median(results["with xentguard"]) / median(results["alone"])
    print(f"\nwith / alone = {ratio:.3f}  (target <= 1.10: {'ok' if ratio <= 1.10 else 'OVER'})")
    if not args.no_findings:
        findings, seconds = _count_findings(flake8_args, corpus)
        print(f"XG findings: {findings} in {n_files} files (xentguard checker alone, single run: {seconds:.2f} s)")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == [SHIM_FLAG]:
        sys.exit(_shim(sys.argv[2:]))
    sys.exit(main())
