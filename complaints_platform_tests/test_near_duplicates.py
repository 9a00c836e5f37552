"""Near-duplicates: merged above the threshold, queued for a person in the grey band, kept apart
below it; decisions recorded, honoured and re-run; measured on planted duplicates of known truth."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg
import polars as pl
import pytest

from complaints_platform.lib.bronze import to_bronze
from complaints_platform.lib.cleaning import clean_complaints, complaint_id
from complaints_platform.lib.near_duplicates import MAX_EARLIER, MERGE_AT, REVIEW_AT, Thresholds, find_pairs, resolve
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
