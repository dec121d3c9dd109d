"""The shared project's objects are kept out of the collector's generations, and handed
back when the project is dropped; an isolated analysis freezes nothing."""

from __future__ import annotations

import ast
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from xentguard.static import analyze_source
from xentguard.static.heap import parse_long_lived, release_frozen
from xentguard.static.project import forget_projects

CODE = "import torch.nn.functional as F\nloss = F.cross_entropy(F.softmax(x, dim=1), y)\n"


@pytest.fixture(autouse=True)
def no_frozen_objects() -> Iterator[None]:
    forget_projects()
    yield
    forget_projects()


def test_checking_a_file_in_a_project_freezes_what_the_project_keeps(tmp_path: Path) -> None:
    path = tmp_path / "train.py"
    path.write_text(CODE)
    assert gc.get_freeze_count() == 0
    assert [f.code for f in analyze_source(CODE, str(path))] == ["XG101"]
    assert gc.get_freeze_count() > 0
    forget_projects()
    assert gc.get_freeze_count() == 0


def test_changed_text_hands_the_old_walk_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "train.py"
    path.write_text(CODE)
    analyze_source(CODE, str(path))
    unfrozen: list[int] = []
    real_unfreeze = gc.unfreeze
    monkeypatch.setattr(gc, "unfreeze", lambda: (unfrozen.append(gc.get_freeze_count()), real_unfreeze()))
    analyze_source(CODE, str(path))  # same text: the walk is kept
    assert unfrozen == []
    changed = CODE.replace("F.softmax(x, dim=1)", "logits")
    assert analyze_source(changed, str(path)) == []  # a new walk, and the old one released
    assert len(unfrozen) == 1 and unfrozen[0] > 0


def test_isolated_analysis_freezes_nothing(tmp_path: Path) -> None:
    assert [f.code for f in analyze_source(CODE, str(tmp_path / "m.py"), isolated=True)] == ["XG101"]
    assert gc.get_freeze_count() == 0


def test_each_importer_walked_for_a_file_is_frozen_as_it_finishes(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Checking losses.py walks both importers (its helper calls what they pass it);
    # each one's walk leaves the collector's generations as soon as it ends, not only
    # when losses.py is done (full collections would scan them meanwhile).
    (tmp_path / "setup.cfg").write_text("")
    helper = "def score(loss_fn, out, y):\n    return loss_fn(out, y)\n"
    (tmp_path / "losses.py").write_text(helper)
    for name in ("a", "b"):
        (tmp_path / f"{name}.py").write_text(
            "import torch.nn as nn\nfrom losses import score\n\n"
            "def step(out, y):\n    return score(nn.NLLLoss(), out, y)\n")
    from xentguard.static import project as project_module

    frozen_while_checking: list[int] = []
    real_freeze = project_module.freeze_long_lived
    monkeypatch.setattr(project_module, "freeze_long_lived",
                        lambda: (real_freeze(), frozen_while_checking.append(gc.get_freeze_count())))
    findings = analyze_source(helper, str(tmp_path / "losses.py"))
    assert findings == []
    assert len(frozen_while_checking) == 2 and 0 < frozen_while_checking[0] <= frozen_while_checking[1]


def test_a_tree_kept_by_the_project_is_frozen_as_soon_as_it_is_parsed() -> None:
    # Left young, the first collection after the parse would scan the whole tree.
    source = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(200))
    tree = parse_long_lived(source, "m.py")
    tracked = [node for node in ast.walk(tree) if gc.is_tracked(node)]
    assert len(tracked) > 1000
    assert gc.get_freeze_count() >= len(tracked)
    assert not any(node in gc.get_objects(generation) for generation in range(3) for node in tracked[:5])
    release_frozen()
    short_lived = parse_long_lived(source, "m.py", freeze=False)
    assert gc.get_freeze_count() == 0 and any(gc.is_tracked(node) for node in ast.walk(short_lived))


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_freezing_first_collects_garbage_that_aged_into_the_older_generations() -> None:
    # A host's garbage (a pyflakes checker of the same file, parent links on its tree)
    # has survived a collection or two by the time the project freezes: frozen, it
    # would never be freed.
    import weakref

    from xentguard.static.heap import freeze_long_lived

    gc.collect()
    aged = _Cycle()
    alive = weakref.ref(aged)
    gc.collect()  # survives a full collection: now in the oldest generation
    del aged
    assert alive() is not None  # a cycle: reference counting does not free it
    try:
        freeze_long_lived()
        assert alive() is None
    finally:
        release_frozen()

