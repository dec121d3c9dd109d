"""Recall and precision of a checkout's ``xentguard check`` on the fixtures reduced from real code.

``fixtures/realworld/bugs/`` holds real bugs, ``fixtures/realworld/correct/`` correct code that
must stay silent. Each fixture is a ``.py`` file or a folder (one project, imports between its
files). Headers name what it exercises, inline markers what must be reported::

    # Reduced from: owner/repo path @ commit
    # Construct: sequential, caller-argument
    # Bug: ...
        cost = criterion(out, yb)  # expect: XG101:12     (code and 1-based column, on that line)

A single file is checked alone: copied into a fresh directory (an empty ``setup.cfg`` marks
it as its own project) and run as ``xentguard check --format json --isolated FILE``. A folder
is checked in place, from inside it (``cwd`` = the folder, so its imports resolve), as
``xentguard check --format json --isolated .``. ``--isolated`` keeps any ``pyproject.toml``
above the fixtures out, so the default selection applies (XG107 off) and nothing else.

A bug case is caught when every expectation is reported at exactly its line, column and
code. Printed: bug cases and caught cases per construct tag, recall, every finding in a bug
fixture that no expectation asked for, every finding in a correct fixture (false positives),
and precision (expected findings reported / all findings reported). A fixture that does not
parse, or that xentguard fails on, is a missed case with the reason. ``--json`` prints the
same as one JSON object.

    python benchmarks/realworld_survey.py
    python benchmarks/realworld_survey.py --xentguard-tree /path/to/checkout --fixtures DIR --json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tree import REPO_ROOT, commit_of, imported_from, tree_env

_EXPECT = re.compile(r"#\s*expect:(.*)$")
_EXPECTED_ITEM = re.compile(r"\b(XG\d{3})\s*:\s*(\d+)\b")
_CONSTRUCT = re.compile(r"^#\s*Construct:\s*(.*)$")
_PARSE_CODE = "XG999"
TIMEOUT_S = 300


@dataclass(frozen=True, order=True)
class Spot:
    """One finding's identity: file (relative to the fixture), line, 1-based column, code."""

    path: str
    line: int
    col: int
    code: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code}"


@dataclass
class Case:
    name: str  # the fixture's file or folder name
    kind: str  # "bug" or "correct"
    tags: list[str]
    expected: list[Spot]
    reported: list[Spot] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)  # str(spot) -> message, for the report
    error: str = ""  # why the case could not be judged (counted as missed / not silent)

    @property
    def matched(self) -> list[Spot]:
        return sorted(set(self.expected) & set(self.reported))

    @property
    def missing(self) -> list[Spot]:
        return sorted(set(self.expected) - set(self.reported))

    @property
    def unexpected(self) -> list[Spot]:
        """Reported, not expected; XG999 is a parse failure, reported as the case's error."""
        return sorted(s for s in set(self.reported) - set(self.expected) if s.code != _PARSE_CODE)

    @property
    def caught(self) -> bool:
        return self.kind == "bug" and not self.error and bool(self.expected) and not self.missing

    @property
    def silent(self) -> bool:
        return self.kind == "correct" and not self.error and not self.unexpected


def _source_files(fixture: Path) -> Iterator[Path]:
    if fixture.is_file():
        yield fixture
    else:
        yield from sorted(p for p in fixture.rglob("*.py") if p.is_file())


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")  # a broken fixture must not stop the survey


def load_case(fixture: Path, kind: str) -> Case:
    tags: list[str] = []
    expected: list[Spot] = []
    base = fixture.parent if fixture.is_file() else fixture
    for path in _source_files(fixture):
        rel = path.relative_to(base).as_posix()
        for number, line in enumerate(_read(path).splitlines(), start=1):
            construct = _CONSTRUCT.match(line)
            for tag in construct.group(1).split(",") if construct else ():
                if tag.strip() and tag.strip() not in tags:
                    tags.append(tag.strip())
            marker = _EXPECT.search(line)
            if marker:
                items = _EXPECTED_ITEM.findall(marker.group(1))
                expected.extend(Spot(rel, number, int(col), code) for code, col in items)
    case = Case(fixture.name, kind, tags or ["(no construct tag)"], sorted(set(expected)))
    if kind == "bug" and not expected:
        case.error = "no '# expect: XGnnn:COL' marker"
    return case


def _fixtures(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p.is_file() and p.suffix == ".py") or p.is_dir())


def _xentguard(tree: Path, env: dict[str, str], cwd: Path, target: str) -> tuple[list[dict[str, Any]], str]:
    """The JSON records of one run, or ([], why it gave none)."""
    argv = [sys.executable, "-m", "xentguard", "check", "--format", "json", "--isolated", "--jobs", "1", target]
    try:
        proc = subprocess.run(argv, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [], f"xentguard did not finish in {TIMEOUT_S} s"
    last = (proc.stderr.strip().splitlines()[-1:] or ["(nothing on stderr)"])[0]
    if proc.returncode not in (0, 1):
        return [], f"xentguard exited {proc.returncode}: {last}"
    try:
        records = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return [], f"xentguard printed no JSON (exit {proc.returncode}): {last}"
    if "Traceback" in proc.stderr:
        return records, f"xentguard printed a traceback: {last}"
    return records, ""


def run_case(case: Case, fixture: Path, tree: Path, env: dict[str, str]) -> Case:
    with tempfile.TemporaryDirectory(prefix="xg-survey-") as scratch:
        if fixture.is_file():
            where = Path(scratch)
            shutil.copy2(fixture, where / fixture.name)
            (where / "setup.cfg").write_text("", encoding="utf-8")  # its own project root
            records, error = _xentguard(tree, env, where, fixture.name)
        else:
            where = fixture
            records, error = _xentguard(tree, env, where, ".")
    for record in records:
        rel = os.path.normpath(record["path"]).replace(os.sep, "/")
        spot = Spot(rel, int(record["line"]), int(record["col"]), str(record["code"]))
        case.reported.append(spot)
        case.messages[str(spot)] = str(record.get("message", ""))
        if spot.code == _PARSE_CODE and not error:
            error = f"not analysed: {record.get('message', '')}"
    case.reported.sort()
    case.error = case.error or error
    return case


def survey(fixtures: Path, tree: Path, jobs: int) -> list[Case]:
    env = tree_env(tree)
    imported_from(tree, env)
    work = [(load_case(path, kind), path) for kind, sub in (("bug", "bugs"), ("correct", "correct"))
            for path in _fixtures(fixtures / sub)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # each case is its own subprocess
        return list(pool.map(lambda item: run_case(item[0], item[1], tree, env), work))


def summary(cases: list[Case]) -> dict[str, Any]:
    bugs = [c for c in cases if c.kind == "bug"]
    correct = [c for c in cases if c.kind == "correct"]
    per_tag: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "caught": 0})
    for case in bugs:
        for tag in case.tags:
            per_tag[tag]["cases"] += 1
            per_tag[tag]["caught"] += case.caught
    # Which constructs the false positives come from, the other half of the picture.
    per_tag_correct: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "silent": 0})
    for case in correct:
        for tag in case.tags:
            per_tag_correct[tag]["cases"] += 1
            per_tag_correct[tag]["silent"] += case.silent
    expectations = sum(len(c.expected) for c in bugs)
    matched = sum(len(c.matched) for c in bugs)
    unexpected = sum(len(c.unexpected) for c in bugs)
    false_positives = sum(len(c.unexpected) for c in correct)
    reported = matched + unexpected + false_positives
    return {
        "bug_cases": len(bugs),
        "caught": sum(c.caught for c in bugs),
        "recall": _ratio(sum(c.caught for c in bugs), len(bugs)),
        "expectations": expectations,
        "expectations_reported": matched,
        "expectation_recall": _ratio(matched, expectations),
        "unexpected_in_bugs": unexpected,
        "correct_cases": len(correct),
        "correct_silent": sum(c.silent for c in correct),
        "false_positives": false_positives,
        "precision": _ratio(matched, reported),
        "per_tag": dict(sorted(per_tag.items())),
        "per_tag_correct": dict(sorted(per_tag_correct.items())),
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def text_report(cases: list[Case], totals: dict[str, Any], header: str) -> str:
    out = [header, "", "bug cases per construct tag (a case counts under each of its tags):"]
    width = max([len(tag) for tag in (*totals["per_tag"], *totals["per_tag_correct"])] + [len("tag")])
    out.append(f"  {'tag':<{width}}  cases  caught")
    for tag, row in totals["per_tag"].items():
        out.append(f"  {tag:<{width}}  {row['cases']:5d}  {row['caught']:6d}")
    out.append("correct fixtures per construct tag:")
    out.append(f"  {'tag':<{width}}  cases  silent")
    for tag, row in totals["per_tag_correct"].items():
        out.append(f"  {tag:<{width}}  {row['cases']:5d}  {row['silent']:6d}")
    out.append("")
    out.append(f"recall: {totals['caught']}/{totals['bug_cases']} bug cases caught ({_percent(totals['recall'])}); "
               f"{totals['expectations_reported']}/{totals['expectations']} expectations reported exactly "
               f"({_percent(totals['expectation_recall'])})")
    missed = [c for c in cases if c.kind == "bug" and not c.caught]
    if missed:
        out.append("missed bug cases:")
        for case in missed:
            why = case.error or "not reported: " + ", ".join(str(s) for s in case.missing)
            out.append(f"  {case.name}: {why}")
    unexpected = [(c, s) for c in cases if c.kind == "bug" for s in c.unexpected]
    out.append(f"unexpected findings in bug fixtures: {len(unexpected)}")
    out.extend(f"  {c.name}/{s}  {c.messages.get(str(s), '')[:120]}" for c, s in unexpected)
    fps = [(c, s) for c in cases if c.kind == "correct" for s in c.unexpected]
    out.append(f"false positives (findings in correct fixtures): {len(fps)} "
               f"({totals['correct_silent']}/{totals['correct_cases']} correct fixtures silent)")
    out.extend(f"  {c.name}/{s}  {c.messages.get(str(s), '')[:120]}" for c, s in fps)
    broken = [c for c in cases if c.kind == "correct" and c.error]
    out.extend(f"  {c.name}: {c.error}" for c in broken)
    out.append(f"precision: {_percent(totals['precision'])} (expected findings reported / all findings reported)")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--xentguard-tree", type=Path, default=REPO_ROOT,
                        help="checkout whose xentguard is run (default: this one)")
    parser.add_argument("--fixtures", type=Path, default=REPO_ROOT / "fixtures" / "realworld",
                        help="folder with bugs/ and correct/ (default: fixtures/realworld)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="fixtures checked at once")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    args = parser.parse_args(argv)

    tree, fixtures = args.xentguard_tree.resolve(), args.fixtures.resolve()
    if not (fixtures / "bugs").is_dir() and not (fixtures / "correct").is_dir():
        print(f"no bugs/ or correct/ folder under {fixtures}", file=sys.stderr)
        return 2
    cases = survey(fixtures, tree, max(1, args.jobs))
    totals = summary(cases)
    header = f"xentguard from {tree} ({commit_of(tree)}), fixtures {fixtures}"
    if args.json:
        payload = {"xentguard_tree": str(tree), "commit": commit_of(tree), "fixtures": str(fixtures), **totals,
                   "cases": [_case_json(c) for c in cases]}
        print(json.dumps(payload, indent=2))
    else:
        print(text_report(cases, totals, header), end="")
    return 0


def _case_json(case: Case) -> dict[str, Any]:
    data = asdict(case)
    del data["messages"]
    for key in ("expected", "reported"):
        data[key] = [str(s) for s in getattr(case, key)]
    data.update(
        caught=case.caught if case.kind == "bug" else None,
        silent=case.silent if case.kind == "correct" else None,
        missing=[str(s) for s in case.missing],
        unexpected=[str(s) for s in case.unexpected],
    )
    return data


if __name__ == "__main__":
    raise SystemExit(main())
