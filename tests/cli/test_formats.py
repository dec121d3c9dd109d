"""``--format json`` and ``--format sarif`` (validated against the SARIF 2.1.0 schema)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import BAD, DATA, run_cli, run_json, write

from xentguard.catalogue import RULES

TWO_FILES = """\
import torch.nn as nn
import torch.nn.functional as F

criterion = nn.CrossEntropyLoss()


def step(out, y):
    probs = F.softmax(out, dim=1)
    print(probs.max())
    return criterion(probs, y)
"""


def _validate_sarif(doc: dict[str, Any]) -> None:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_json_fields(project: Path) -> None:
    write(project / "bad.py", BAD)
    rc, data = run_json("bad.py", cwd=project)
    assert rc == 1
    (item,) = data
    for key in ("path", "line", "col", "end_line", "end_col", "code", "message", "cell"):
        assert key in item
    assert item["path"] == "bad.py"
    assert (item["line"], item["col"], item["end_line"], item["end_col"]) == (5, 28, 5, 49)  # end exclusive
    assert item["code"] == "XG101" and item["message"].startswith("XG101 ")
    assert item["cell"] is None and item["severity"] == "error" and item["fixable"] is True


def test_json_empty_is_array(project: Path) -> None:
    write(project / "ok.py", "x = 1\n")
    rc, data = run_json("ok.py", cwd=project)
    assert rc == 0 and data == []


@pytest.mark.parametrize("with_findings", [True, False])
def test_sarif_valid_against_schema(project: Path, with_findings: bool) -> None:
    write(project / "src" / "train.py", TWO_FILES if with_findings else "x = 1\n")
    write(project / "src" / "broken.py", "def f(:\n" if with_findings else "y = 2\n")
    proc = run_cli("check", "--format", "sarif", "-o", "out.sarif", "src", cwd=project)
    assert proc.returncode == (1 if with_findings else 0), proc.stderr
    doc = json.loads((project / "out.sarif").read_text(encoding="utf-8"))
    _validate_sarif(doc)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "xentguard" and driver["informationUri"].startswith("https://")
    ids = [r["id"] for r in driver["rules"]]
    assert ids == list(RULES)
    xg101 = driver["rules"][ids.index("XG101")]
    assert RULES["XG101"].why in xg101["help"]["text"]
    assert RULES["XG101"].right.strip().splitlines()[-1] in xg101["help"]["markdown"]
    assert xg101["defaultConfiguration"]["level"] == "error"
    assert driver["rules"][ids.index("XG102")]["defaultConfiguration"]["level"] == "note"
    assert driver["rules"][ids.index("XG108")]["defaultConfiguration"]["level"] == "warning"
    if not with_findings:
        assert run["results"] == []
        return
    codes = sorted(r["ruleId"] for r in run["results"])
    assert codes == ["XG101", "XG999"]
    result = next(r for r in run["results"] if r["ruleId"] == "XG101")
    assert ids[result["ruleIndex"]] == "XG101"
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "src/train.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"]["startLine"] == 10 and loc["region"]["startColumn"] == 22
    related = result["relatedLocations"]
    assert any(r["physicalLocation"]["region"]["startLine"] == 8 for r in related), related
    syntax = next(r for r in run["results"] if r["ruleId"] == "XG999")
    assert syntax["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
