"""Near-duplicates: merged above the threshold, queued for a person in the grey band, kept apart
below it; decisions recorded, honoured and re-run; measured on planted duplicates of known truth."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import dagster as dg
import numpy as np
import polars as pl
import pytest
from rapidfuzz import fuzz
from sklearn.feature_extraction.text import TfidfVectorizer

from complaints_platform.lib.bronze import to_bronze
from complaints_platform.lib.cleaning import clean_complaints, complaint_id
from complaints_platform.lib.near_duplicates import (
    MAX_EARLIER, MERGE_AT, PAIR_SCHEMA, earlier_candidates, REVIEW_AT, SHORT_TEXT, WINDOW, Thresholds, find_pairs, normalised_text, resolve,
    similarity,
)
from complaints_platform.lib.pii import PiiMasker
from complaints_platform.lib.review import ReviewError, current_decisions, record_decision
from complaints_platform.lib import lake
from complaints_platform.simulate.near_duplicates import planted_set, score_merge

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
JANE = {"account_number": "AC12345678"}


@pytest.fixture(scope="module")
def masker() -> PiiMasker:
    return PiiMasker("test-key-near-duplicates")


def _record(record_id: str, text: str, minutes: int, **fields) -> dict:
    at = T0 + timedelta(minutes=minutes)
    return {
        "record_id": record_id, "source_location": f"test:{record_id}", "received_at": at + timedelta(minutes=1),
        "raw": "{}", "event_time_text": at.isoformat(), "event_time_zone": "UTC", "text": text, **JANE, **fields,
    }


def _others() -> dict[str, list[dict]]:
    """A day's other complaints, by other customers: the background a real day has (the similarity
    weighs n-grams by how common they are in the batch)."""
    records = planted_set(customers=40, seed=1, duplicate_share=0).records
    others: dict[str, list[dict]] = {}
    for n, row in enumerate(records.iter_rows(named=True)):
        others.setdefault(row["channel"], []).append(
            _record(f"o{n}", row["text_masked"], n, account_number=f"AC{70000000 + n}")
        )
    return others


OTHERS = _others()


def _day(masker, decisions=None, **channels):
    rows = {c: OTHERS.get(c, []) + channels.get(c, []) for c in set(OTHERS) | set(channels)}
    day = clean_complaints({c: to_bronze(c, r) for c, r in rows.items()}, masker, decisions=decisions)
    # Only the records under test: the background stays apart (it is asserted here).
    assert day.cleaned.filter(pl.col("source_record_id").str.starts_with("o")).height == sum(map(len, OTHERS.values()))
    return CleanedDayView(day)


class CleanedDayView:
    """The day without its background records."""

    def __init__(self, day):
        self.balanced = day.balanced
        mine = ~pl.col("source_record_id").str.starts_with("o")
        self.cleaned = day.cleaned.filter(mine)
        self.duplicates = day.duplicates.filter(mine)
        self.review = day.review


def test_a_reworded_copy_on_another_channel_is_merged_with_its_score(masker):
    day = _day(
        masker,
        social_media=[_record("t1", "@TelcoCare no signal in Leeds since Monday, working from home is impossible #fail", 0)],
        web_forms=[_record("f1", "Hello, No signal in Leeds since Monday, working from home is impossible. Please get back to me.", 90)],
    )
    assert day.balanced and day.cleaned["source_record_id"].to_list() == ["t1"]
    dup = day.duplicates.row(0, named=True)
    assert (dup["source_record_id"], dup["rule"], dup["duplicate_of"]) == ("f1", "near_duplicate", complaint_id("social_media", "t1"))
    assert MERGE_AT <= dup["similarity"] < 1.0
    assert day.cleaned["duplicate_count"].to_list() == [2]


def test_different_complaints_of_one_customer_stay_apart(masker):
    day = _day(
        masker,
        sms=[_record("s1", "charged twice for october, want a refund", 0)],
        web_forms=[_record("f1", "The engineer never turned up for the broadband install, nobody rang", 30)],
    )
    assert day.cleaned.height == 2 and day.duplicates.height == 0 and day.review.height == 0


def test_same_words_from_different_customers_or_days_apart_stay_apart(masker):
    text = "no signal at home since yesterday"
    day = _day(
        masker,
        sms=[_record("s1", text, 0), _record("s2", text, 10, account_number="AC99999999")],
        web_forms=[_record("f1", text, 60 * 49)],  # Jane again, but 49 hours later: a new complaint
    )
    assert day.cleaned.height == 3 and day.duplicates.height == 0


def test_a_chain_of_copies_ends_at_the_first(masker):
    text = "my bill went up by 20 pounds without any warning at all"
    day = _day(
        masker,
        sms=[_record("a", text, 0), _record("b", text + " !!", 30)],
        web_forms=[_record("c", "Hi, " + text + " !! Thanks.", 60)],
    )
    first = complaint_id("sms", "a")
    assert day.cleaned["complaint_id"].to_list() == [first]
    assert set(day.duplicates["duplicate_of"]) == {first} and day.duplicates.height == 2


def test_two_complaints_pointing_at_each_other_keep_the_one_made_first():
    """X (made first, received again today as an update) and Y (its copy, received in between) are
    each the other's earlier received record: one link survives, to X, and resolving never fails."""
    x_at, y_at = T0, T0 + timedelta(minutes=30)
    base = {"similarity": 1.0, "channel": "web_forms", "candidate_channel": "sms", "text_masked": "t",
            "candidate_text_masked": "t", "received_date": T0.date(), "identical": True}
    pairs = pl.DataFrame(
        [
            {**base, "complaint_id": "Y", "candidate_of": "X", "event_at": y_at, "candidate_event_at": x_at},
            {**base, "complaint_id": "X", "candidate_of": "Y", "event_at": x_at, "candidate_event_at": y_at},
        ],
        schema={**PAIR_SCHEMA, "identical": pl.Boolean},
    )
    links = resolve(pairs).links
    assert links.select("complaint_id", "duplicate_of").rows() == [("Y", "X")]


def test_a_copy_delivered_days_late_meets_its_original_by_event_time():
    """Earlier complaints are chosen by when they were made, not received: a post made the same
    hour as an SMS but delivered twelve days later is compared with it; others are not read."""
    made = T0
    def row(cid, contact, event_at, received_at):
        return {"complaint_id": cid, "channel": "sms", "contact_token": contact, "text_masked": "no signal",
                "received_at": received_at, "event_at": event_at}
    prior = pl.DataFrame([
        row("sms-1", "<PHONE:a>", made, made),
        row("sms-other-contact", "<PHONE:b>", made, made),
        row("sms-too-early", "<PHONE:a>", made - WINDOW - timedelta(hours=1), made - WINDOW),
    ])
    late = pl.DataFrame([row("social-1", "<PHONE:a>", made + timedelta(hours=1), made + timedelta(days=12))])
    found = earlier_candidates(prior.lazy(), late)
    assert found["complaint_id"].to_list() == ["sms-1"]


GREY = ("my internet keeps dropping every evening, can someone look at the line please",
        "the broadband keeps cutting out every evening, can someone check the line")


def _grey(masker, decisions=None):
    return _day(masker, decisions, sms=[_record("g1", GREY[0], 0)], web_forms=[_record("g2", GREY[1], 120)])


def test_the_grey_band_goes_to_the_review_queue_and_a_decision_is_honoured(masker):
    day = _grey(masker)
    assert day.cleaned.height == 2 and day.duplicates.height == 0
    queued = day.review.row(0, named=True)
    assert day.review.height == 1 and REVIEW_AT <= queued["similarity"] < MERGE_AT
    assert (queued["complaint_id"], queued["candidate_of"]) == (complaint_id("web_forms", "g2"), complaint_id("sms", "g1"))

    decision = pl.DataFrame([{k: queued[k] for k in ("pair_id", "complaint_id", "candidate_of")} | {"decision": "accept"}])
    accepted = _grey(masker, decision)
    assert accepted.cleaned["source_record_id"].to_list() == ["g1"] and accepted.review.height == 0
    assert accepted.duplicates.select("source_record_id", "rule").rows() == [("g2", "reviewed_duplicate")]
    assert accepted.balanced

    rejected = _grey(masker, decision.with_columns(pl.lit("reject").alias("decision")))
    assert rejected.cleaned.height == 2 and rejected.duplicates.height == 0 and rejected.review.height == 0


def test_one_very_active_contact_is_compared_with_a_bounded_number_of_earlier_complaints():
    n = 60
    frame = pl.DataFrame({
        "complaint_id": [f"c{i:03d}" for i in range(n)], "channel": ["sms"] * n, "contact_token": ["<X:aaaaaaaaaa>"] * n,
        "text_masked": [f"message number {i} about something different {i * 7919 % 1000}" for i in range(n)],
        "received_at": [T0 + timedelta(minutes=i) for i in range(n)], "event_at": [T0 + timedelta(minutes=i) for i in range(n)],
        "is_new": [True] * n,
    })
    pairs = find_pairs(frame)
    expected = sum(min(i, MAX_EARLIER) for i in range(n))
    assert pairs.height == expected
    assert pairs.group_by("complaint_id").len()["len"].max() == MAX_EARLIER


def _normalised(texts: list[str]) -> pl.Series:
    return pl.DataFrame({"t": texts}).select(normalised_text("t")).to_series()


def _sklearn_similarity(earlier: list[str], later: list[str], corpus: list[str]) -> np.ndarray:
    """The similarity as first written: sklearn's vectoriser over every text, rapidfuzz pair by pair."""
    vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32).fit(corpus)
    cosine = np.asarray(vectoriser.transform(earlier).multiply(vectoriser.transform(later)).sum(axis=1)).ravel()
    align = [fuzz.ratio(a, b) if min(len(a), len(b)) < SHORT_TEXT else fuzz.partial_ratio(a, b) for a, b in zip(earlier, later)]
    # rapidfuzz's cpdist, which the platform calls, gives float32 scores.
    return (np.array(align, dtype=np.float32).astype(np.float64) / 100 + np.clip(cosine.astype(np.float64), 0, 1)) / 2


def test_similarity_is_sklearn_tfidf_and_rapidfuzz_to_the_bit():
    # Words of 1-6 characters (char_wb pads them: " a " has one 3-gram and no 4-gram), accents,
    # other scripts, masked tokens, an empty text, n-grams the corpus never saw, repeated texts.
    texts = _normalised([
        "I was charged twice for October!!", "charged twice 4 october, want a refund", "a b cd efg hijk",
        "Ça coûte trop cher, facture érronée", "信号 没有 since Monday", "call <PHONE:ab12cd> back please", "!!!",
        "zzzq xxyv never seen", "my internet keeps dropping every evening", "my internet keeps dropping every evening",
        "refunded twicee octobers",  # words the corpus never saw, made of n-grams it did
    ])
    corpus = pl.concat([texts.head(8), texts.head(3), _normalised(planted_set(customers=30, seed=2).records["text_masked"].to_list())])
    earlier, later = texts.gather([0, 2, 3, 4, 5, 6, 7, 8, 1, 10]), texts.gather([1, 2, 4, 3, 8, 6, 0, 9, 5, 0])
    got = similarity(earlier, later, corpus).to_numpy()
    expected = _sklearn_similarity(earlier.to_list(), later.to_list(), corpus.to_list())
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert got[0] > 0.5 and got[1] == 1.0  # a pair that shares words; a text with itself


def test_pairs_scored_in_blocks_on_several_threads_keep_their_scores_and_order(monkeypatch):
    """Blocks are scored on SIMILARITY_THREADS threads at once; each pair must come back with its
    own score, in its place, whatever block and thread scored it (blocks of 7 pairs: 13 of them)."""
    import complaints_platform.lib.near_duplicates as near_duplicates

    texts = _normalised(planted_set(customers=40, seed=5).records["text_masked"].to_list())
    rng = random.Random(3)
    left, right = [rng.randrange(texts.len()) for _ in range(90)], [rng.randrange(texts.len()) for _ in range(90)]
    earlier, later = texts.gather(left), texts.gather(right)
    whole = similarity(earlier, later, texts)
    monkeypatch.setattr(near_duplicates, "SIMILARITY_BLOCK", 7)
    monkeypatch.setattr(near_duplicates, "SIMILARITY_THREADS", 3)
    blocked = similarity(earlier, later, texts)
    assert blocked.len() == 90 and whole.n_unique() > 20  # pairs with different scores, so an order error shows
    assert blocked.to_list() == whole.to_list()
    expected = _sklearn_similarity(earlier.to_list(), later.to_list(), texts.to_list())
    np.testing.assert_allclose(blocked.to_numpy(), expected, rtol=0, atol=1e-12)


def test_a_days_cosine_is_fitted_once_when_its_first_blocks_arrive_on_several_threads(monkeypatch):
    """The cleaned step fits the day's cosine when the first bucket's first pairs are scored
    (``ScreenedDay._cosine``); those come on several threads at once and must not each fit one.
    The fit is slowed down, so every thread asks for it while the first is fitting."""
    import threading
    import time

    import complaints_platform.lib.cleaning as cleaning
    import complaints_platform.lib.near_duplicates as near_duplicates

    texts = _normalised(planted_set(customers=40, seed=5).records["text_masked"].to_list())
    fits, real = [], cleaning.tfidf_cosine

    def slow_fit(corpus):
        fits.append(threading.current_thread().name)
        time.sleep(0.3)
        return real(corpus)

    monkeypatch.setattr(cleaning, "tfidf_cosine", slow_fit)
    monkeypatch.setattr(near_duplicates, "SIMILARITY_BLOCK", 5)
    monkeypatch.setattr(near_duplicates, "SIMILARITY_THREADS", 4)
    day = cleaning.ScreenedDay(
        received=0, quarantine=None, masker=None, exclude_contacts=frozenset(), _store=None, _moved=None, corpus=texts
    )
    scores = similarity(texts, texts.reverse(), day._cosine)
    assert len(fits) == 1
    assert scores.to_list() == similarity(texts, texts.reverse(), texts).to_list()


def test_pairs_are_every_new_record_with_its_earlier_ones_of_one_contact_within_the_window():
    """Against the rule written out record by record, on a day with many one-complaint contacts,
    earlier days' complaints, a record updated on a later day, and excluded contacts."""
    rng = random.Random(4)
    rows = []
    for n in range(300):
        contact = f"<X:{rng.randrange(120):010d}>" if rng.random() < 0.9 else None
        at = T0 + timedelta(minutes=rng.randrange(4 * 24 * 60))
        rows.append({"complaint_id": f"c{n:03d}", "channel": "sms", "contact_token": contact, "text_masked": f"text {n % 40}",
                     "received_at": at + timedelta(minutes=1), "event_at": at, "is_new": rng.random() < 0.6})
    rows.append(rows[0] | {"is_new": True, "text_masked": "text 0 updated", "received_at": rows[0]["received_at"] + timedelta(days=1)})
    frame = pl.DataFrame(rows, schema_overrides={"received_at": pl.Datetime("us", "UTC"), "event_at": pl.Datetime("us", "UTC")})
    excluded = {rows[1]["contact_token"]} - {None}

    expected = set()
    by_contact: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["received_at"], r["complaint_id"])):
        if row["contact_token"] is not None and row["contact_token"] not in excluded:
            by_contact.setdefault(row["contact_token"], []).append(row)
    for complaints in by_contact.values():
        for i, later in enumerate(complaints):
            for earlier in complaints[max(0, i - MAX_EARLIER):i]:
                if later["is_new"] and earlier["complaint_id"] != later["complaint_id"] and abs(later["event_at"] - earlier["event_at"]) <= WINDOW:
                    expected.add((later["complaint_id"], earlier["complaint_id"]))

    pairs = find_pairs(frame, excluded)
    assert len(expected) > 50
    assert pairs.height == len(expected) and set(pairs.select("complaint_id", "candidate_of").rows()) == expected
    assert pairs.filter(pl.col("identical")).select((pl.col("text_masked") == pl.col("candidate_text_masked")).all()).item()


def test_a_day_without_pairs_gives_the_empty_pair_frame():
    frame = pl.DataFrame({
        "complaint_id": ["a", "b"], "channel": ["sms", "sms"], "contact_token": ["<X:1>", "<X:2>"], "text_masked": ["x", "x"],
        "received_at": [T0, T0], "event_at": [T0, T0], "is_new": [True, True],
    })
    pairs = find_pairs(frame)
    assert pairs.height == 0 and "similarity" in pairs.columns
    assert resolve(pairs).links.height == 0


def test_merge_precision_and_recall_on_planted_duplicates():
    planted = planted_set(customers=1500, seed=5)
    pairs = find_pairs(planted.records.with_columns(pl.lit(True).alias("is_new")))
    resolution = resolve(pairs, None, Thresholds())
    score = score_merge(planted, resolution.links, resolution.review)
    assert score.duplicates > 400
    assert score.precision >= 0.99, score.as_dict()
    assert score.recall >= 0.80, score.as_dict()
    assert score.recall_after_review >= 0.97, score.as_dict()


def _queue_file(root, day, rows):
    from complaints_platform.lib.near_duplicates import REVIEW_SCHEMA

    frame = pl.DataFrame(rows, schema=REVIEW_SCHEMA)
    lake.write_parquet_atomic(frame, lake.silver_partition_path(root, "duplicate_review_queue", day))


def test_decisions_are_logged_latest_wins_and_the_sensor_reruns_the_day(tmp_path, monkeypatch):
    from complaints_platform.defs.automation import duplicate_review_sensor

    root = tmp_path / "data"
    monkeypatch.setenv("COMPLAINTS_DATA_DIR", str(root))
    row = {
        "pair_id": "pabc", "complaint_id": "later", "candidate_of": "earlier", "similarity": 0.7, "channel": "sms",
        "candidate_channel": "web_forms", "text_masked": "x", "candidate_text_masked": "y", "event_at": T0,
        "candidate_event_at": T0, "received_date": T0.date(),
    }
    _queue_file(root, "2026-11-21", [row])
    with pytest.raises(ReviewError):
        record_decision(root, "nope", "accept", "ana")
    with pytest.raises(ReviewError):
        record_decision(root, "pabc", "maybe", "ana")

    record_decision(root, "pabc", "accept", "ana", "same outage")
    context = dg.build_sensor_context(cursor=None)
    first = duplicate_review_sensor(context)
    assert [(r.partition_key, r.run_key) for r in first.run_requests] == [("2026-11-21", "review-decisions:0:2026-11-21")]
    assert first.cursor == "1"
    assert duplicate_review_sensor(dg.build_sensor_context(cursor=first.cursor)).run_requests == []

    # The pair left the queue when the day re-ran; the decision can still be changed.
    _queue_file(root, "2026-11-21", [])
    record_decision(root, "pabc", "reject", "bo")
    assert current_decisions(root).select("pair_id", "decision").rows() == [("pabc", "reject")]
    again = duplicate_review_sensor(dg.build_sensor_context(cursor=first.cursor))
    assert [r.partition_key for r in again.run_requests] == ["2026-11-21"] and again.cursor == "2"
    from complaints_platform.lib.review import decisions_path

    assert len(decisions_path(root).read_text().splitlines()) == 2  # the log keeps both decisions
