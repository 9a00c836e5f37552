"""Data contracts: validate() reports failing rows instead of raising; leftover PII is found."""

from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl
import pytest

from complaints_platform.lib.pii import PiiMasker
from complaints_platform.lib.quality import (
    BRONZE_CONTRACT,
    CATEGORISED_CONTRACT,
    CLEANED_CONTRACT,
    FAILURE_SAMPLE,
    ValidationResult,
    unmasked_pii_rows,
    validate,
)
from complaints_platform.lib.silver import CLEANED_SCHEMA

AT = datetime(2026, 11, 21, 14, 0, tzinfo=timezone.utc)


def _cleaned(rows: list[dict]) -> pl.DataFrame:
    base = {
        "channel": "sms",
        "source_location": "sms:page1",
        "event_at": AT,
        "received_at": AT,
        "event_date": date(2026, 11, 21),
        "received_date": date(2026, 11, 21),
        "text_masked": "no signal",
        "duplicate_count": 1,
    }
    full = [{**base, "source_record_id": row["complaint_id"], **row} for row in rows]
    return pl.DataFrame([{c: r.get(c) for c in CLEANED_SCHEMA} for r in full], schema=CLEANED_SCHEMA, orient="row")


def _failures(result) -> list[tuple[str, str]]:
    return sorted((r["column"], r["failure_case"]) for r in result.failures.to_dicts())


def test_a_good_frame_passes():
    frame = _cleaned(
        [
            {"complaint_id": "a"},
            {"complaint_id": "b", "channel": "call_center", "wait_seconds": 0, "handle_seconds": 300},
            {"complaint_id": "c", "channel": "web_forms", "duplicate_count": 3},
            {"complaint_id": "d", "channel": "social_media"},
        ]
    )
    result = validate(CLEANED_CONTRACT, frame)
    assert (result.passed, result.failure_count, result.failures) == (True, 0, None)
    assert result.metadata() == {"failure_count": 0}


def test_an_empty_frame_passes():
    assert validate(CLEANED_CONTRACT, pl.DataFrame(schema=CLEANED_SCHEMA)).passed


def test_failures_are_reported_not_raised():
    frame = _cleaned(
        [
            {"complaint_id": "a"},
            {"complaint_id": "a"},
            {"complaint_id": "b", "channel": "fax"},
            {"complaint_id": "c", "text_masked": ""},
            {"complaint_id": "d", "duplicate_count": 0},
            {"complaint_id": "e", "wait_seconds": -5},
        ]
    )
    result = validate(CLEANED_CONTRACT, frame)
    assert not result.passed
    assert _failures(result) == [
        ("channel", "fax"),
        ("complaint_id", "a"),
        ("complaint_id", "a"),
        ("duplicate_count", "0"),
        ("text_masked", ""),
        ("wait_seconds", "-5"),
    ]
    assert result.failure_count == 6
    by_check = result.metadata()["failures_by_check"]
    assert by_check["complaint_id: field_uniqueness"] == 2
    assert sum(by_check.values()) == 6
    assert any(k.startswith("channel: isin") for k in by_check)


def test_results_of_many_days_keep_every_count_but_only_the_first_bad_values_of_each_check():
    # A backfill validates day by day and combines: the counts must be complete, the values bounded.
    n = FAILURE_SAMPLE + 30
    bad_channel = _cleaned([{"complaint_id": f"c{i}", "channel": "fax"} for i in range(n)])
    bad_both = _cleaned([{"complaint_id": f"d{i}", "channel": "fax", "duplicate_count": 0} for i in range(n)])
    days = [validate(CLEANED_CONTRACT, bad_channel), validate(CLEANED_CONTRACT, _cleaned([{"complaint_id": "a"}])), validate(CLEANED_CONTRACT, bad_both)]
    run = ValidationResult.combine(days)
    assert not run.passed
    assert run.failure_count == 3 * n
    kept = dict(run.failures.group_by("column").len().iter_rows())
    assert kept == {"channel": FAILURE_SAMPLE, "duplicate_count": FAILURE_SAMPLE}  # a noisy check crowds out no other
    assert set(run.failures.filter(pl.col("column") == "duplicate_count")["failure_case"]) == {"0"}
    by_check = run.metadata()["failures_by_check"]
    assert sum(by_check.values()) == 3 * n
    assert by_check["duplicate_count: greater_than_or_equal_to(1)"] == n
    assert ValidationResult.combine(days[1:2]).passed


def test_null_where_not_nullable_is_a_failure():
    frame = _cleaned([{"complaint_id": "a", "text_masked": None}])
    result = validate(CLEANED_CONTRACT, frame)
    assert not result.passed
    assert [r["column"] for r in result.failures.to_dicts()] == ["text_masked"]


def test_a_missing_column_is_a_failure():
    frame = _cleaned([{"complaint_id": "a"}]).drop("event_at")
    result = validate(CLEANED_CONTRACT, frame)
    assert not result.passed
    assert result.failure_count >= 1


def test_categorised_contract_checks_category_and_confidence():
    frame = _cleaned([{"complaint_id": "a"}, {"complaint_id": "b"}]).with_columns(
        category=pl.Series(["poor_network", "weather"]),
        category_confidence=pl.Series([0.9, 1.5]),
        category_path=pl.lit("student"),
        is_complaint=pl.lit(True),
        model_version=pl.lit("v1"),
    )
    result = validate(CATEGORISED_CONTRACT, frame)
    assert _failures(result) == [("category", "weather"), ("category_confidence", "1.5")]


def test_categorised_contract_ties_is_complaint_to_other_and_knows_the_paths():
    frame = _cleaned([{"complaint_id": "a"}, {"complaint_id": "b"}, {"complaint_id": "c"}]).with_columns(
        category=pl.Series(["other", "other", "poor_network"]),
        category_confidence=pl.lit(0.9),
        category_path=pl.Series(["student", "teacher", "guess"]),
        is_complaint=pl.Series([False, True, True]),
        model_version=pl.lit("v1"),
    )
    result = validate(CATEGORISED_CONTRACT, frame)
    assert not result.passed
    checks = {r["check"] for r in result.failures.to_dicts()}
    assert "is_complaint must be false exactly when the category is other" in checks
    assert ("category_path", "guess") in _failures(result)
    good = frame.with_columns(category_path=pl.lit("correction"), is_complaint=pl.Series([False, False, True]))
    assert validate(CATEGORISED_CONTRACT, good).passed


def test_bronze_contract_allows_unparsed_records_but_not_missing_ids():
    frame = pl.DataFrame(
        {
            "record_id": ["r1", None],
            "source_location": ["f:1", "f:2"],
            "received_at": [AT, AT],
            "raw": ["{", "{}"],
            "parse_error": ["truncated", None],
            "text": [None, "hi"],
        },
        schema_overrides={"received_at": pl.Datetime("us", "UTC")},
    )
    result = validate(BRONZE_CONTRACT, frame)
    assert [r["column"] for r in result.failures.to_dicts()] == ["record_id"]


def test_unmasked_pii_rows_finds_raw_values():
    frame = pl.DataFrame(
        {
            "text_masked": ["fine", "ring 07700 900123 please", None, "card 4111 1111 1111 1111", "mail a@b.com"],
            "raw_masked": ["x@y.com", "ok", "ok", "on 2026-11-21 for £12.50", "ring 07700 900123 or c@d.org"],
        }
    )
    found = unmasked_pii_rows(frame, ["text_masked", "raw_masked"], "GB")
    # One row per leaking record, whatever the number of its columns that leak.
    assert found.rows() == [
        ("raw_masked", "EMAIL"),
        ("text_masked", "PHONE"),
        ("text_masked", "CARD,PHONE"),
        ("text_masked,raw_masked", "EMAIL,PHONE"),
    ]


def test_masked_text_has_no_unmasked_pii_rows():
    masker = PiiMasker("quality-key")
    frame = pl.DataFrame({"text": ["ring 07700 900123 or a@b.com", "card 4111 1111 1111 1111", "no pii"]})
    masked = frame.select(masker.mask_text_expr("text"))
    assert unmasked_pii_rows(masked, ["text"], "GB").height == 0
    assert unmasked_pii_rows(frame, ["text"], "GB").height == 2
    empty = unmasked_pii_rows(masked, [], "GB")
    assert empty.height == 0 and empty.columns == ["column", "kinds"]


def test_the_pii_rows_are_found_in_the_region_given():
    """National numbers are phones in their own region only; a region phonenumbers does not know
    would find none of them, so it is refused rather than passing every text."""
    texts = ["ring 07700 900123", "call 1-800-555-0199", "no pii"]

    def leaking(region: str) -> list[int]:
        return [unmasked_pii_rows(pl.DataFrame({"text": [text]}), ["text"], region).height for text in texts]

    assert leaking("GB") == [1, 0, 0]
    assert leaking("US") == [0, 1, 0]
    with pytest.raises(ValueError, match="'XX' is not a phone region"):
        unmasked_pii_rows(pl.DataFrame({"text": texts}), ["text"], "XX")


def _history(values: dict[str, list[int]]) -> pl.DataFrame:
    from datetime import date, timedelta

    rows = []
    for channel, series in values.items():
        for i, n in enumerate(series):
            rows.append({"day": (date(2026, 11, 1) + timedelta(days=i)).isoformat(), "channel": channel, "records": n})
    return pl.DataFrame(rows)


def test_volume_check_flags_a_silent_source_and_a_spike_but_not_noise():
    from complaints_platform.lib.quality import volume_anomalies

    normal = [240, 255, 262, 248, 251, 239, 258, 245, 250, 260]
    counts = _history({"sms": normal + [0], "social_media": normal + [900], "web_forms": normal + [270]})
    result = {r["channel"]: r for r in volume_anomalies(counts, "2026-11-11").iter_rows(named=True)}
    assert result["sms"]["anomalous"] and result["sms"]["records"] == 0  # silent
    assert result["social_media"]["anomalous"]  # spike
    assert not result["web_forms"]["anomalous"]  # ordinary noise
    assert result["web_forms"]["expected_low"] < 250 < result["web_forms"]["expected_high"]


def test_volume_check_does_not_judge_without_enough_history():
    from complaints_platform.lib.quality import volume_anomalies

    counts = _history({"sms": [250, 255, 0]})
    assert volume_anomalies(counts, "2026-11-03")["anomalous"].to_list() == [False]


def test_cleaned_contract_rejects_times_out_of_range_and_events_after_receipt():
    from datetime import datetime, timedelta, timezone

    from complaints_platform.lib.quality import cleaned_contract

    now = datetime(2026, 11, 21, 12, tzinfo=timezone.utc)
    good = {c: None for c in CLEANED_SCHEMA} | {
        "complaint_id": "a", "channel": "sms", "source_record_id": "1", "source_location": "x",
        "event_at": now - timedelta(hours=1), "received_at": now, "event_date": now.date(),
        "received_date": now.date(), "text_masked": "hi", "duplicate_count": 1,
    }
    rows = [
        good,
        good | {"complaint_id": "future", "received_at": now + timedelta(hours=1)},  # beyond the clock skew
        good | {"complaint_id": "ancient", "event_at": datetime(2019, 12, 31, tzinfo=timezone.utc)},
        good | {"complaint_id": "after", "event_at": now - timedelta(minutes=5), "received_at": now - timedelta(hours=1)},
        good | {"complaint_id": "skew", "received_at": now + timedelta(minutes=10)},  # within the skew: fine
    ]
    result = validate(cleaned_contract(now), pl.DataFrame(rows, schema=CLEANED_SCHEMA))
    assert not result.passed
    by_check = result.metadata()["failures_by_check"]
    assert by_check["received_at: less_than_or_equal_to(2026-11-21 12:15:00+00:00)"] == 1
    assert by_check["event_at: greater_than_or_equal_to(2020-01-01 00:00:00+00:00)"] == 1
    assert any("event_at <= received_at" in name and n == 1 for name, n in by_check.items())
    assert result.failure_count == 3
    assert validate(cleaned_contract(now), pl.DataFrame([good, rows[-1]], schema=CLEANED_SCHEMA)).passed


def test_customer_reference_contract_flags_keys_the_crm_does_not_list():
    from complaints_platform.lib.quality import customer_reference_contract

    frame = pl.DataFrame({"customer_key": ["<ACCOUNT:aaaaaaaaaa>", None, "<ACCOUNT:bbbbbbbbbb>"]})
    result = validate(customer_reference_contract(["<ACCOUNT:aaaaaaaaaa>"]), frame)
    assert not result.passed and result.failure_count == 1
    assert result.failures["failure_case"].to_list() == ["<ACCOUNT:bbbbbbbbbb>"]
    assert validate(customer_reference_contract(["<ACCOUNT:aaaaaaaaaa>", "<ACCOUNT:bbbbbbbbbb>"]), frame).passed
    # A snapshot far larger than the frame, and none at all.
    snapshot = pl.Series([f"<ACCOUNT:{n:010d}>" for n in range(50_000)] + ["<ACCOUNT:bbbbbbbbbb>"])
    result = validate(customer_reference_contract(snapshot), frame)
    assert result.failures["failure_case"].to_list() == ["<ACCOUNT:aaaaaaaaaa>"]
    assert validate(customer_reference_contract([]), frame).failure_count == 2
    assert validate(customer_reference_contract([]), frame.filter(pl.col("customer_key").is_null())).passed
