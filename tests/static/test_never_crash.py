"""Any input gives findings or nothing, never an exception: generated programs, the
CPython standard library, odd encodings and deep nesting."""

from __future__ import annotations

import sysconfig
import warnings
from pathlib import Path

import hypothesmith
from hypothesis import HealthCheck, given, settings

from xentguard.static import analyze_source

TORCHY_PRELUDE = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nsoftmax = F.softmax\n"


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar())
def test_generated_programs_never_crash(source: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # internal errors surface as RuntimeWarning
        analyze_source(TORCHY_PRELUDE + source, "generated.py")
        analyze_source(source, "generated.py")


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_node())
def test_generated_node_programs_never_crash(source: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        analyze_source(TORCHY_PRELUDE + source, "generated.py")


def test_standard_library_gives_no_findings_and_no_errors() -> None:
    """Every stdlib module is walked (a torch import prepended defeats the pre-filter)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    walked = 0
    prelude = "import torch.nn.functional as F  # softmax\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for path in sorted(root.rglob("*.py")):
            if "site-packages" in path.parts:
                continue
            try:
                source = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            walked += 1
            real = [f for f in analyze_source(prelude + source, str(path), isolated=True) if f.code != "XG999"]
            assert real == [], f"{path}: {real[0].message}"
    assert walked > 1000


def test_standard_library_packages_as_projects() -> None:
    """Project mode (imports followed, importers walked) over a few stdlib packages."""
    root = Path(sysconfig.get_paths()["stdlib"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for package in ("json", "email", "asyncio", "importlib", "unittest"):
            for path in sorted((root / package).rglob("*.py")):
                source = "import torch.nn.functional as F  # softmax\n" + path.read_text(encoding="utf-8")
                assert [f for f in analyze_source(source, str(path), project_root=str(root / package))
                        if f.code != "XG999"] == []


def test_deep_nesting_and_huge_expressions() -> None:
    deep = "import torch\nx = " + "(" * 200 + "torch.softmax(y, 1)" + ")" * 200 + "\n"
    long_sum = "import torch\nx = " + " + ".join(["torch.exp(y)"] * 5000) + "\n"
    nested_defs = "import torch\n" + "".join("    " * i + f"def f{i}():\n" for i in range(90)) + "    " * 90 + "pass\n"
    for source in (deep, long_sum, nested_defs):
        result = analyze_source(source, "odd.py")
        assert all(f.code in ("XG999", "XG109") for f in result)


def test_newest_syntax() -> None:
    source = (
        "import torch.nn.functional as F\n"
        "type Alias = int\n"
        "def f[T](x: T) -> T:\n"
        "    match x:\n"
        "        case {'a': y, **rest}:\n"
        "            return F.cross_entropy(y.softmax(1), rest)\n"
        "    return x\n"
    )
    result = analyze_source(source, "new.py")
    # Python 3.11 cannot parse PEP 695 syntax: one clear XG999 instead of a crash.
    assert [f.code for f in result] in (["XG999"], ["XG101"])
