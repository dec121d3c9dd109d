"""Fixtures reduced from real public code: every bug is reported where its inline
expectations say, and the confusable correct code stays silent (precision first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.static.realworld import cases, expected, found

# Real bugs the analysis does not prove yet, and why (each must still be missed: when one
# starts being found, move it out of this list).
KNOWN_MISSES = {
    "001_matching_attention_softmax": "probabilities mixed by bmm with a one-hot matrix: a matmul keeps no kind",
    "018_lanedet_exist_head_registry": "head classes built from a registry keyed by cls.__name__ strings",
    "052_safeds_activation_name_modulelist": "the loss is one of two (CrossEntropyLoss or BCELoss: no claim), and the "
                                             "activation name a constructor tests is joined over every call",
    "053_unet3plus_sigmoid_model_by_type": "the loss is one of two (by n_classes: no claim), and one of the three "
                                           "models a function-local setting picks returns logits",
    "066_merlin_binary_output_default_loss": "the sigmoid is one of a block's parts, run in a loop over an "
                                             "nn.ModuleList built from *args, and the loss is `loss or "
                                             "DEFAULT_LOSS_CLS()`",
    "071_giotto_ffnet_exec_softmax_pipeline": "the model's forward is source text built in a loop and run by "
                                              "exec/eval: the softmax exists only in a string",
    "085_mapping_unet16_log_softmax_steps_loss_tuples": (
        "three things each block it: the log_softmax is in one arm of `if self.num_classes > 1` on a constructor "
        "argument, the loss comes from a list of (name, fn, weight) tuples a base class walks with zip, and the model "
        "is one of a config dict's entries, one of which returns logits"),
    "087_pretrainedmodels_nasnet_mobile_softmax_logits_eval": (
        "the model class is read from the package's namespace by a command-line key (zoo.__dict__[args.arch]): any "
        "of its models, and some return logits"),
    "095_torchfields_vote_softmin_exp_no_shift": (
        "the exponent is negated (exp(-d / t)): it cannot overflow, and whether every term underflows to 0 (0 / 0) "
        "depends on the values; a Gaussian kernel over a grid through 0 is the same expression and correct"),
    "104_lanfactory_cpn_eval_log_one_plus_exp": (
        "-log(1 + exp(-z)) of the last of a ModuleList filled in a loop under a test: z is no known layer output, "
        "and a negated exponent of an unknown value may be a distance (exp(-d) cannot overflow)"),
}

BUGS = cases("bugs")
CORRECT = cases("correct")


def test_the_survey_is_large_enough() -> None:
    assert len(BUGS) >= 40 and len(CORRECT) >= 40
    for case in BUGS + CORRECT:
        # A folder's source is named by one of its files (the script, where the project has
        # packages: 054's tools/train.py).
        header = next((p for p in sorted(case.rglob("*.py")) if "Reduced from" in p.read_text(encoding="utf-8")),
                      None) if case.is_dir() else case
        assert header is not None, case.name
        assert header.read_text(encoding="utf-8").startswith("# Reduced from: "), case.name


@pytest.mark.parametrize("case", BUGS, ids=lambda p: p.stem)
def test_real_bug_is_reported_where_expected(case: Path) -> None:
    wanted = expected(case)
    assert wanted, f"{case.name} has no expectation"
    reported = found(case)
    if case.stem in KNOWN_MISSES:
        assert not wanted <= reported, f"{case.name} is found now: drop it from KNOWN_MISSES"
        assert reported <= wanted, f"unexpected: {sorted(reported - wanted)}"
        return
    assert reported == wanted, f"missing: {sorted(wanted - reported)}\nunexpected: {sorted(reported - wanted)}"


@pytest.mark.parametrize("case", CORRECT, ids=lambda p: p.stem)
def test_confusable_correct_code_is_silent(case: Path) -> None:
    assert not expected(case)
    assert found(case) == set()
