"""Dicts filled on some paths only (kinds.join): each key keeps what the paths that hold it
stored, and a key some path lacks is marked so that ``.get(key, default)`` may get the default."""

from __future__ import annotations

import textwrap

from xentguard.static import analyze_source
from xentguard.static.kinds import NONE, UNKNOWN, Kind, Mapping, Origin, Tensor, join

_SIGMOID = Tensor(Kind.SIGMOID, Origin("torch.sigmoid", "m.py", 1, 0))
_LOGITS = Tensor(Kind.LOGITS, Origin("nn.Linear", "m.py", 2, 0))


def test_a_key_held_on_one_path_keeps_its_item_and_is_marked() -> None:
    joined = join(Mapping((("seg", _LOGITS),)), Mapping((("seg", _LOGITS), ("exist", _SIGMOID))))
    assert isinstance(joined, Mapping)
    assert joined.get("exist") == _SIGMOID and joined.get("seg") == _LOGITS
    assert joined.absent == frozenset({"exist"})


def test_items_held_on_both_paths_are_joined() -> None:
    joined = join(Mapping((("out", _LOGITS),)), Mapping((("out", _SIGMOID),)))
    assert isinstance(joined, Mapping) and joined.get("out") == UNKNOWN and not joined.absent
    assert join(Mapping((("out", NONE),)), Mapping((("out", _SIGMOID),))) == Mapping((("out", _SIGMOID),))


def _xg106_lines(source: str) -> set[int]:
    return {f.line for f in analyze_source(textwrap.dedent(source), "/nonexistent/m.py", isolated=True)
            if f.code == "XG106"}


_HEAD = """
import torch
import torch.nn as nn


def head(x, fc, calibrated):
    out = {"scores": fc(x)}
    if calibrated:
        out.update({"probs": torch.sigmoid(fc(x))})
    return out


def step(x, y, fc, calibrated):
    out = head(x, fc, calibrated)
    return nn.BCEWithLogitsLoss()(PICK, y)
"""


def test_a_read_of_a_key_some_path_holds_gets_that_item() -> None:
    assert _xg106_lines(_HEAD.replace("PICK", 'out["probs"]')) == {15}


def test_get_with_a_default_may_get_the_default() -> None:
    assert _xg106_lines(_HEAD.replace("PICK", 'out.get("probs")')) == {15}  # None does not erase the kind
    assert _xg106_lines(_HEAD.replace("PICK", 'out.get("probs", out["scores"])')) == set()
