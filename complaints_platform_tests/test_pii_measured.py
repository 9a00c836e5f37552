"""The PII masker measured on 1,500 labelled complaint texts against the issue's targets (issue 3):
recall >= 0.99 on e-mail, phone, card, IBAN and IP; precision >= 0.97 over all tokens.

The numbers on 5,000 texts, with the misses to read, come from ``benchmarks/pii_benchmark.py``
(benchmarks/README.md).
"""

from __future__ import annotations

import re

import pytest

from complaints_platform.lib.pii import PiiMasker
from complaints_platform_tests.pii_labelled import (
    KINDS,
    LabelledText,
    iban_valid,
    labelled_texts,
    luhn_valid,
    score_masking,
    token_regions,
)

N_TEXTS, SEED = 1500, 0  # the first 1,500 texts of the benchmark's set
RECALL_TARGET, PRECISION_TARGET = 0.99, 0.97


@pytest.fixture(scope="module")
def texts() -> list[LabelledText]:
    return labelled_texts(N_TEXTS, SEED)


@pytest.fixture(scope="module")
def scores(texts):
    masker = PiiMasker("test-key-measured")
    return score_masking(texts, [masker.mask_text(t.text) for t in texts])


# --- the targets -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["EMAIL", "PHONE", "CARD", "IBAN", "IP"])
def test_recall_per_kind_meets_the_target(scores, kind):
    assert scores.recall(kind) >= RECALL_TARGET, f"{kind}: {scores.recalled[kind]}/{scores.support[kind]}"


def test_precision_over_all_tokens_meets_the_target(scores):
    assert scores.precision() >= PRECISION_TARGET


def test_kinds_without_a_gap_keep_their_recall_and_precision(scores):
    # These meet the targets today; a regression here is a plain failure, not an expected one.
    for kind in ("IBAN", "ACCOUNT", "HANDLE", "NATIONALID"):
        assert scores.recall(kind) == 1.0, kind
        assert scores.precision(kind) == 1.0, kind
    for kind in ("EMAIL", "IP"):
        assert scores.precision(kind) == 1.0, kind
    for name in ("price", "date", "date_time", "time", "duration", "order_ref", "version", "luhn_failing_number", "data_amount"):
        assert scores.distractors[name]["masked"] == 0, name


# --- the labelled set is what it claims to be --------------------------------------------------


def test_the_labelled_set_is_deterministic():
    assert labelled_texts(200, 7) == labelled_texts(200, 7)
    assert labelled_texts(20, 7) != labelled_texts(20, 8)
    assert labelled_texts(50, 7) == labelled_texts(200, 7)[:50]


def test_the_labelled_set_exercises_every_kind_and_placement(texts, scores):
    for kind in KINDS:
        assert scores.support[kind] >= 50, kind
    placements = {p for t in texts for p in t.placements}
    assert {"start", "end", "url", "emoji", "punct", "plain"} <= placements
    assert {"sms", "tweet", "call_note", "form"} == {t.register for t in texts}
    assert len(scores.distractors) == 10 and all(c["support"] >= 20 for c in scores.distractors.values())


def test_labelled_values_are_valid_and_distractors_are_not(texts):
    for t in texts:
        assert len(t.spans) == len(t.formats) == len(t.placements)
        marked = sorted(t.spans + t.distractors)
        for (s, e, _), (s2, _, _) in zip(marked, marked[1:]):
            assert 0 <= s < e <= s2, f"overlapping labels in {t.text!r}"
        for s, e, kind in t.spans:
            value = t.text[s:e]
            assert value == value.strip() and value
            if kind == "CARD":
                digits = re.sub(r"\D", "", value)
                assert len(digits) in (15, 16) and luhn_valid(digits), value
            if kind == "IBAN":
                assert iban_valid(value), value
        for s, e, name in t.distractors:
            if name == "luhn_failing_number":
                assert not luhn_valid(t.text[s:e])
            if name == "invalid_iban":
                assert not iban_valid(t.text[s:e])


# --- the scoring rules -------------------------------------------------------------------------


def _tok(kind: str) -> str:
    return f"<{kind}:abcdefghij>"


def test_token_regions_place_an_ambiguous_literal_by_the_labels():
    original = "07700 900123 a@b.com"
    spans = [(0, 12, "PHONE"), (13, 20, "EMAIL")]
    # The lone space between the tokens also occurs inside the phone number.
    assert token_regions(original, f"{_tok('PHONE')} {_tok('EMAIL')}", spans) == [
        (0, 12, "PHONE"),
        (13, 20, "EMAIL"),
    ]


def _labelled() -> LabelledText:
    text = "ring 07700 900123 or a@b.com, since 2026-11-21"
    return LabelledText(
        text=text,
        spans=[(5, 17, "PHONE"), (21, 28, "EMAIL")],
        formats=["uk_mobile_spaced", "plain"],
        placements=["plain", "punct"],
        distractors=[(36, 46, "date")],
    )


def test_a_perfect_mask_scores_full_recall_and_precision():
    scores = score_masking([_labelled()], [f"ring {_tok('PHONE')} or {_tok('EMAIL')}, since 2026-11-21"])
    assert scores.recall("PHONE") == scores.recall("EMAIL") == 1.0
    assert scores.precision() == 1.0


def test_a_half_masked_span_a_wrong_kind_and_a_masked_distractor_are_counted():
    masked = f"ring 07700 {_tok('PHONE')} or {_tok('IP')}, since {_tok('PHONE')}"
    scores = score_masking([_labelled()], [masked])
    assert scores.recall("PHONE") == 0.0 and scores.partial["PHONE"] == 1
    assert scores.recall("EMAIL") == 0.0 and scores.masked["EMAIL"] == 1
    assert scores.confusions[("EMAIL", "IP")] == 1
    assert scores.false_positives["PHONE"] == 1 and scores.precision("PHONE") == 0.5
    assert scores.distractors["date"]["masked"] == 1
