"""The textual facts of a module, computed by shortcuts that must agree with the plain
scans they replace (on hand-written edge cases and on every Python file of this repository)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from xentguard.static.prefilter import (
    _IMPORT_STATEMENT,
    LOSS_WORDS,
    TRIGGER_WORDS,
    WordSet,
    import_statement_texts,
    mentions_loss,
    might_have_findings,
)
from xentguard.static.text_facts import _LOG_OR_EXP, TextFacts

REPOSITORY = Path(__file__).resolve().parents[2]
EDGE_CASES = [
    "import os",  # no newline at the end
    "import os, sys  # import re\nfrom . import (a,\n    b as c)\nfrom important import thing\n",
    "x = 1\n    from .pkg.mod import name\nimportant = 2\nimport_me()\n",
    'doc = """\nimport inside_a_string\n"""\nfrom m import (\n    important,\n    imported)\nimport z',
    "from a import (b,\n  c)  # import d\nimport e\nfrom\tf\timport\tg",
    "def f():\n    import torch.nn as nn\n    return nn\n# import commented\n",
    "\n\n",
    "",
]


def _python_files() -> list[Path]:
    return sorted(p for folder in ("xentguard", "tests", "fixtures", "benchmarks")
                  for p in (REPOSITORY / folder).rglob("*.py"))


def test_loss_words_are_triggers() -> None:
    # TextFacts.losses scans for a loss only in texts that spell a trigger.
    assert LOSS_WORDS <= TRIGGER_WORDS


@pytest.mark.parametrize("text", EDGE_CASES)
def test_import_statements_are_those_a_scan_of_every_line_finds(text: str) -> None:
    assert import_statement_texts(text) == [m.group(0) for m in _IMPORT_STATEMENT.finditer(text)]


def test_import_statements_of_every_file_of_this_repository() -> None:
    files = _python_files()
    assert len(files) > 100
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert import_statement_texts(text) == [m.group(0) for m in _IMPORT_STATEMENT.finditer(text)], path


def test_losses_and_consumes_agree_with_the_plain_scans() -> None:
    texts = [p.read_text(encoding="utf-8") for p in _python_files()] + EDGE_CASES + [
        "y = torch.exp (x)", "z = x.log()", "loss = nn.NLLLoss()", "def exp(x): return x", "q = logexp(x)"]
    seen = {True: 0, False: 0}
    for text in texts:
        facts = TextFacts(text)
        assert facts.triggers == might_have_findings(text)
        assert facts.losses == mentions_loss(text)
        assert facts.consumes == (mentions_loss(text) or _LOG_OR_EXP.search(text) is not None)
        seen[facts.losses] += 1
    assert seen[True] and seen[False]


def _alternation(words: frozenset[str]) -> re.Pattern[str]:
    """The expression WordSet replaces."""
    return re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(words, key=lambda w: (-len(w), w)))) + r")\b")


WORD_SET_CASES = [
    "p = log_softmax(x)", "p = F.softmax_(x)", "xsoftmax = 1", "soft = softmaxed", "s = sigmoid",
    "e = expit(x)", "e = exponent + expand(x) + except_", "e=exp", "exp", "éexp", "exp1", "_exp", "exp_",
    "NLLLoss2d()", "NLLLoss2", "MyNLLLoss()", "loss = nn.CrossEntropyLoss()", "from ignite.engine import x",
    "binary_cross_entropy_with_logits(a, b)", "binary_cross_entropy_with_logitsX", "kl_divergence", "kl_div(",
    "ray_skorch", "skorchy", "", "softmax softmaxx xsoftmax softmax", "ẞsoftmax", "softmaxµ", "softmax²",
]


@pytest.mark.parametrize("words", [TRIGGER_WORDS, LOSS_WORDS, frozenset({"ab", "abc", "b", "xab"})])
def test_word_set_finds_what_the_alternation_finds(words: frozenset[str]) -> None:
    pattern, word_set = _alternation(words), WordSet(words)
    texts = [p.read_text(encoding="utf-8") for p in _python_files()] + WORD_SET_CASES + [
        "ab", "abc", "xab", "cab", "b", "abb", "a b", "xabc ab"]
    seen = {True: 0, False: 0}
    for text in texts:
        found = pattern.search(text) is not None
        assert word_set.search(text) == found, text[:200]
        seen[found] += 1
    assert seen[True] > 10 and seen[False] > 10


def test_word_set_searches_only_words_holding_no_other() -> None:
    assert WordSet({"softmax", "log_softmax", "exp", "expit", "Loss"}).anchors == ("Loss", "exp", "softmax")


def test_imported_words_are_the_identifiers_of_the_import_statements() -> None:
    text = textwrap.dedent("""\
        import os.path as osp
        from .models import (Net,
            Head as H)
        x = Net()
    """)
    assert TextFacts(text).imported_words == {"import", "os", "path", "as", "osp", "from", "models", "Net", "Head", "H"}


def test_spells_a_word_where_the_text_has_it_as_a_whole_word() -> None:
    texts = [p.read_text(encoding="utf-8") for p in _python_files()[:200]] + EDGE_CASES + [
        "PreTrainedModel(x)", "x=Trainer", "é_Trainer Trainer_", "Trainerx Trainer", "Trainer", "_Trainer",
        "(Trainer)", "ΔTrainer", "Trainer1"]
    names = ["Trainer", "import", "x", "f", "Net", "self", "e", "_Trainer", "PreTrainedModel"]
    seen = 0
    for text in texts:
        words = set(re.findall(r"\w+", text))
        facts = TextFacts(text)
        for name in names:
            assert facts.spells(name) == (name in words), (name, text[:60])
            seen += name in words
    assert seen > 100
