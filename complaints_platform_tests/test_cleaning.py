"""Bronze to silver: every record lands in exactly one of cleaned, quarantine or duplicates."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from complaints_platform.lib.bronze import to_bronze
from complaints_platform.lib.cleaning import (
    CleanedDay,
    clean_complaints,
    complaint_id,
    complaint_ids,
    neutralise_formula,
    neutralise_formula_expr,
)
from complaints_platform.lib.crm import CRM_SCHEMA
from complaints_platform.lib.near_duplicates import tfidf_cosine
from complaints_platform.lib.pii import PiiMasker, find_unmasked_pii
from complaints_platform.lib.quality import unmasked_pii_rows
from complaints_platform.lib.reference import mask_customers
from complaints_platform.lib.silver import CLEANED_SCHEMA, DUPLICATES_SCHEMA, QUARANTINE_SCHEMA, QUARANTINE_TEXT_COLUMNS

RECEIVED = datetime(2026, 11, 21, 14, 15, tzinfo=timezone.utc)
JANE_ACCOUNT = "AC12345678"
JANE_PHONE = "+44 7700 900123"
JANE_EMAIL = "jane.doe@example.com"
JANE_HANDLE = "@janedoe"


@pytest.fixture(scope="module")
def masker() -> PiiMasker:
    return PiiMasker("test-key-cleaning")


@pytest.fixture(scope="module")
def customers(masker) -> pl.DataFrame:
    crm = pl.DataFrame(
        [
            {
                "account_number": JANE_ACCOUNT,
                "full_name": "Jane Doe",
                "email": JANE_EMAIL,
                "phone": JANE_PHONE,
                "social_handle": JANE_HANDLE,
                "plan": "unlimited",
                "region": "north",
                "signup_date": date(2021, 5, 1),
            },
            {
                "account_number": "AC87654321",
                "full_name": "Omar Ali",
                "email": "omar@example.org",
                "phone": "07700 900456",
                "social_handle": "@omar_a",
                "plan": "basic",
                "region": "south",
                "signup_date": date(2023, 2, 1),
            },
        ],
        schema=CRM_SCHEMA,
    )
    return mask_customers(crm, masker, date(2026, 11, 21))


def _record(record_id: str, **fields) -> dict:
    """A well-formed bronze record made at 14:00 UTC and received at 14:15 UTC."""
    return {
        "record_id": record_id,
        "source_location": f"test:{record_id}",
        "received_at": RECEIVED,
        "raw": f'{{"id": "{record_id}"}}',
        "event_time_text": "2026-11-21T14:00:00Z",
        "event_time_zone": "UTC",
        "text": f"no signal at home ({record_id})",
        **fields,
    }


def _clean(masker, customers=None, **channels: list[dict]) -> CleanedDay:
    day = clean_complaints(
        {channel: to_bronze(channel, rows) for channel, rows in channels.items()}, masker, customers
    )
    # The accounting equation holds for every input.
    assert day.received == sum(len(rows) for rows in channels.values())
    assert day.balanced
    assert day.received == day.cleaned.height + day.quarantine.height + day.duplicates.height
    assert day.cleaned.schema == pl.Schema(CLEANED_SCHEMA)
    assert day.quarantine.schema == pl.Schema(QUARANTINE_SCHEMA)
    assert day.duplicates.schema == pl.Schema(DUPLICATES_SCHEMA)
    assert day.cleaned.get_column("complaint_id").is_unique().all()
    return day


def _one(frame: pl.DataFrame, **where) -> dict:
    rows = frame.filter(**where).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


# --- accounting --------------------------------------------------------------------------------


def test_accounting_on_a_mixed_day(masker, customers):
    day = _clean(
        masker,
        customers,
        social_media=[
            _record("sm1", handle=JANE_HANDLE, text="No signal in Leeds!"),
            _record("sm1", handle=JANE_HANDLE, text="No signal in Leeds!", received_at=RECEIVED + timedelta(minutes=5)),
            _record("sm2", text=None),
        ],
        sms=[
            _record("m1", phone="07700900123", text="no signal in leeds", event_time_text="2026-11-21T14:05:00Z"),
            _record("m2", event_time_text="soon"),
        ],
        call_center=[
            _record("c1", status="Open", event_time_text="21/11/2026 13:50", event_time_zone="Europe/London"),
            _record("c2", status="pending"),
        ],
        web_forms=[_record("w1", parse_error="row has 3 fields, expected 5", text=None)],
    )
    assert day.accounting() == {"received": 8, "cleaned": 2, "quarantined": 4, "duplicates": 2}
    assert sorted(day.quarantine.get_column("rule").to_list()) == [
        "missing_text",
        "unknown_status",
        "unparseable_record",
        "unparseable_timestamp",
    ]
    assert sorted(day.duplicates.get_column("rule").to_list()) == ["same_contact_same_text", "same_source_record"]


def test_empty_day_balances(masker):
    day = clean_complaints({}, masker)
    assert day.accounting() == {"received": 0, "cleaned": 0, "quarantined": 0, "duplicates": 0}
    assert day.balanced
    day = _clean(masker, sms=[], call_center=[])
    assert day.accounting()["received"] == 0


def test_unknown_channel_is_refused(masker):
    with pytest.raises(ValueError, match="fax"):
        clean_complaints({"fax": to_bronze("sms", [_record("f1")])}, masker)


# --- quarantine --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "fields", "rule", "reason"),
    [
        ("social_media", {"parse_error": "invalid JSON at char 12", "text": None, "event_time_text": None},
         "unparseable_record", "invalid JSON at char 12"),
        ("sms", {"text": None}, "missing_text", "no text"),
        ("sms", {"text": " \n\t "}, "missing_text", "no text"),
        ("web_forms", {"text": "x" * 20_001}, "text_too_long", "20001 characters"),
        ("sms", {"event_time_text": None}, "missing_event_time", "no time"),
        ("sms", {"event_time_text": "next tuesday"}, "unparseable_timestamp", "next tuesday"),
        # The spring-forward hour does not exist on a London wall clock.
        ("call_center", {"event_time_text": "29/03/2026 01:30", "event_time_zone": "Europe/London"},
         "unparseable_timestamp", "29/03/2026 01:30"),
        ("web_forms", {"status": "resolved", "resolved_at_text": "whenever"},
         "unparseable_timestamp", "whenever"),
        ("sms", {"event_time_text": "2026-11-21T14:31:00Z"}, "event_after_receipt", "received at"),
        ("call_center", {"status": "pending"}, "unknown_status", "'pending'"),
        ("web_forms", {"status": "Closed-Won"}, "unknown_status", "'Closed-Won'"),
    ],
)
def test_each_quarantine_rule(masker, channel, fields, rule, reason):
    day = _clean(masker, **{channel: [_record("bad", **fields), _record("good")]})
    assert day.cleaned.get_column("source_record_id").to_list() == ["good"]
    bad = _one(day.quarantine, source_record_id="bad")
    assert bad["rule"] == rule
    assert reason in bad["reason"]
    assert bad["channel"] == channel
    assert bad["source_location"] == "test:bad"
    assert bad["received_date"] == date(2026, 11, 21)
    # The reason quotes times, statuses and lengths: none of it may read as a leak to the blocking check.
    assert unmasked_pii_rows(day.quarantine, QUARANTINE_TEXT_COLUMNS, "GB").height == 0


def test_the_most_basic_failure_is_named(masker):
    # Unparseable and textless and timeless: the parse error is what a person must fix first.
    day = _clean(masker, sms=[_record("x", parse_error="truncated", text=None, event_time_text=None, status="??")])
    assert day.quarantine.get_column("rule").to_list() == ["unparseable_record"]


def test_limits_are_inclusive(masker):
    day = _clean(
        masker,
        sms=[
            _record("long", text="y" * 20_000),
            # 15 minutes of clock skew is tolerated.
            _record("skew", event_time_text="2026-11-21T14:30:00Z"),
        ],
    )
    assert day.quarantine.height == 0
    assert sorted(day.cleaned.get_column("source_record_id").to_list()) == ["long", "skew"]


def test_status_is_normalised(masker):
    day = _clean(
        masker,
        call_center=[_record("c1", status=" In Progress "), _record("c2", status="ESCALATED"), _record("c3")],
        web_forms=[_record("w1", status="resolved", resolved_at_text="2026-11-21T14:10:00+00:00")],
    )
    statuses = dict(day.cleaned.select("source_record_id", "status").iter_rows())
    assert statuses == {"c1": "in_progress", "c2": "escalated", "c3": None, "w1": "resolved"}
    assert _one(day.cleaned, source_record_id="w1")["resolved_at"] == datetime(2026, 11, 21, 14, 10, tzinfo=timezone.utc)


def test_quarantined_payload_is_masked(masker):
    raw = '{"id": "q1", "from": "07700 900123", "email": "jane.doe@example.com", "body": '
    day = _clean(masker, sms=[_record("q1", raw=raw, parse_error="unterminated JSON", text=None)])
    masked = day.quarantine.get_column("raw_masked").item()
    assert find_unmasked_pii(masked) == []
    assert masker.token("PHONE", "07700900123") in masked
    assert masker.token("EMAIL", JANE_EMAIL) in masked


# --- duplicates of the same source record ------------------------------------------------------


def test_same_record_delivered_twice_keeps_the_latest_version(masker):
    day = _clean(
        masker,
        web_forms=[
            _record("w1", text="router broken", status="open", source_location="forms:row1@v1"),
            _record(
                "w1",
                text="router broken, now resolved",
                status="resolved",
                source_location="forms:row1@v2",
                received_at=RECEIVED + timedelta(hours=2),
            ),
            _record("w1", text="router broken", status="new", source_location="forms:row1@v0",
                    received_at=RECEIVED - timedelta(minutes=10)),
        ],
    )
    kept = _one(day.cleaned, source_record_id="w1")
    assert kept["source_location"] == "forms:row1@v2"
    assert kept["text_masked"] == "router broken, now resolved"
    assert kept["status"] == "resolved"
    assert kept["duplicate_count"] == 3
    assert kept["complaint_id"] == complaint_id("web_forms", "w1")
    assert sorted(day.duplicates.get_column("source_location").to_list()) == ["forms:row1@v0", "forms:row1@v1"]
    assert day.duplicates.get_column("rule").unique().to_list() == ["same_source_record"]
    assert day.duplicates.get_column("duplicate_of").unique().to_list() == [kept["complaint_id"]]


def test_same_record_id_on_two_channels_is_not_a_duplicate(masker):
    day = _clean(masker, sms=[_record("42", text="bill wrong")], web_forms=[_record("42", text="no signal")])
    assert day.duplicates.height == 0
    assert day.cleaned.height == 2


def test_a_bad_copy_does_not_remove_the_good_one(masker):
    day = _clean(
        masker,
        sms=[_record("m1"), _record("m1", parse_error="truncated", received_at=RECEIVED + timedelta(minutes=1))],
    )
    assert day.accounting() == {"received": 2, "cleaned": 1, "quarantined": 1, "duplicates": 0}


# --- duplicates across channels ----------------------------------------------------------------


def test_same_account_same_text_on_two_channels_is_merged(masker):
    day = _clean(
        masker,
        call_center=[
            _record("c1", account_number=JANE_ACCOUNT, text="No signal since Monday!",
                    event_time_text="21/11/2026 14:03", event_time_zone="Europe/London")
        ],
        web_forms=[
            _record("w1", account_number="ac-12345678", text="no signal since monday",
                    event_time_text="2026-11-21T13:00:00Z")
        ],
    )
    kept = _one(day.cleaned)
    assert kept["source_record_id"] == "w1"  # the earliest
    assert kept["duplicate_count"] == 2
    removed = _one(day.duplicates)
    assert removed == {
        **removed,
        "complaint_id": complaint_id("call_center", "c1"),
        "duplicate_of": complaint_id("web_forms", "w1"),
        "channel": "call_center",
        "rule": "same_contact_same_text",
    }


def test_same_customer_by_phone_and_email_through_the_crm_is_merged(masker, customers):
    rows = {
        "sms": [_record("m1", phone="07700 900123", text="Bill is wrong AGAIN", event_time_text="2026-11-21T14:02:00Z")],
        "web_forms": [_record("w1", email="Jane.Doe@Example.com", text="bill is wrong again.",
                              event_time_text="2026-11-21T14:01:00Z")],
    }
    day = _clean(masker, customers, **rows)
    kept = _one(day.cleaned)
    assert kept["source_record_id"] == "w1"
    assert kept["duplicate_count"] == 2
    assert kept["customer_key"] == masker.token("ACCOUNT", JANE_ACCOUNT)
    assert _one(day.duplicates)["rule"] == "same_contact_same_text"

    # Without the customer list the phone and the e-mail are not known to be one person.
    day = _clean(masker, None, **rows)
    assert day.cleaned.height == 2
    assert day.duplicates.height == 0


def test_different_customers_with_the_same_text_are_not_merged(masker, customers):
    day = _clean(
        masker,
        customers,
        sms=[
            _record("m1", phone=JANE_PHONE, text="no signal"),
            _record("m2", phone="07700 900456", text="no signal"),
            _record("m3", phone="07700 900999", text="no signal"),  # not in the CRM
            _record("m4", text="no signal"),  # nobody known: never merged
            _record("m5", text="no signal"),
        ],
        web_forms=[_record("w1", account_number="AC87654321", text="No signal!", event_time_text="2026-11-21T13:00:00Z")],
    )
    # Only m2 (Omar by phone) and w1 (Omar by account) are one customer.
    assert day.duplicates.get_column("source_record_id").to_list() == ["m2"]
    assert _one(day.cleaned, source_record_id="w1")["duplicate_count"] == 2
    assert sorted(day.cleaned.get_column("source_record_id").to_list()) == ["m1", "m3", "m4", "m5", "w1"]


def test_same_customer_different_text_is_not_merged(masker):
    day = _clean(
        masker,
        sms=[_record("m1", phone=JANE_PHONE, text="no signal")],
        web_forms=[_record("w1", phone=JANE_PHONE, text="bill wrong")],
    )
    assert day.duplicates.height == 0


def test_same_text_more_than_48_hours_apart_is_not_merged(masker):
    day = _clean(
        masker,
        sms=[_record("m1", phone=JANE_PHONE, text="no signal", event_time_text="2026-11-18T14:00:00Z")],
        web_forms=[_record("w1", phone=JANE_PHONE, text="no signal", event_time_text="2026-11-21T14:00:00Z")],
    )
    assert day.duplicates.height == 0
    assert day.cleaned.height == 2


def test_a_retried_record_that_is_also_a_cross_channel_copy_counts_once_on_the_kept_complaint(masker):
    day = _clean(
        masker,
        sms=[_record("m1", phone=JANE_PHONE, text="no signal", event_time_text="2026-11-21T14:00:00Z")],
        social_media=[
            _record("s1", phone=JANE_PHONE, text="No signal.", event_time_text="2026-11-21T14:05:00Z"),
            _record("s1", phone=JANE_PHONE, text="No signal.", event_time_text="2026-11-21T14:05:00Z",
                    received_at=RECEIVED + timedelta(minutes=3), source_location="test:s1-retry"),
        ],
    )
    kept = _one(day.cleaned)
    assert kept["source_record_id"] == "m1"
    assert kept["duplicate_count"] == 3
    # Every removed copy points at a complaint that is in the cleaned table.
    assert day.duplicates.get_column("duplicate_of").to_list() == [kept["complaint_id"]] * 2


# --- masking and customers ---------------------------------------------------------------------


def test_no_raw_contact_details_reach_silver(masker, customers):
    day = _clean(
        masker,
        customers,
        sms=[_record("m1", phone=JANE_PHONE, text="call me back on 07700 900123 or jane.doe@example.com")],
        social_media=[_record("s1", handle=JANE_HANDLE, text="@vodafone_uk my card 4111 1111 1111 1111 was charged")],
        web_forms=[
            _record("w1", email=JANE_EMAIL, text="My name is Jane Doe, IBAN GB82 WEST 1234 5698 7654 32"),
            _record("w2", text=None, raw='{"email": "omar@example.org", "phone": "+447700900456"}'),
            # Quarantined with a reason that quotes the unreadable time.
            _record("w3", event_time_text="ring 07700 900789 after six"),
        ],
    )
    assert unmasked_pii_rows(day.cleaned, ["text_masked"], "GB").height == 0
    assert day.quarantine.filter(pl.col("rule") == "unparseable_timestamp").height == 1
    assert unmasked_pii_rows(day.quarantine, QUARANTINE_TEXT_COLUMNS, "GB").height == 0
    assert "900789" not in " ".join(day.quarantine.get_column("reason").to_list())
    texts = " ".join(day.cleaned.get_column("text_masked").to_list())
    for raw in ("07700", "900123", "jane.doe", "Jane Doe", "4111", "GB82", "@vodafone_uk"):
        assert raw not in texts
    assert masker.token("PHONE", JANE_PHONE) in texts
    assert all(re.search(r"<[A-Z]+:[a-p]{10}>", t) for t in day.cleaned.get_column("text_masked"))


@pytest.mark.parametrize(
    ("fields", "resolved_by"),
    [
        ({"account_number": JANE_ACCOUNT}, "account"),
        ({"email": " JANE.DOE@example.com"}, "email"),
        ({"phone": "07700 900123"}, "phone"),
        ({"handle": "@JaneDoe"}, "handle"),
        ({"email": "nobody@example.com", "phone": "07700900123"}, "phone"),
    ],
)
def test_customer_is_resolved_through_tokens(masker, customers, fields, resolved_by):
    day = _clean(masker, customers, social_media=[_record("s1", **fields)])
    row = _one(day.cleaned)
    assert row["customer_key"] == masker.token("ACCOUNT", JANE_ACCOUNT), resolved_by
    assert row["contact_token"] == row["customer_key"]
    assert row["customer_key"] in customers.get_column("customer_key").to_list()


def test_identifiers_naming_different_customers_resolve_by_email_then_phone_then_handle(masker, customers):
    omar = masker.token("ACCOUNT", "AC87654321")
    jane = masker.token("ACCOUNT", JANE_ACCOUNT)
    day = _clean(
        masker,
        customers,
        web_forms=[_record("w1", email=JANE_EMAIL, phone="07700 900456", handle="@omar_a", text="billed twice in May")],
        sms=[_record("m1", email="stranger@example.net", phone="07700 900456", handle="@JaneDoe", text="no 4G in town")],
        social_media=[_record("s1", phone="07700 900999", handle="@JaneDoe", text="agent hung up on me")],
    )
    rows = {r["source_record_id"]: r["customer_key"] for r in day.cleaned.to_dicts()}
    assert rows == {"w1": jane, "m1": omar, "s1": jane}


def test_unknown_customer_keeps_the_best_contact_token(masker, customers):
    day = _clean(
        masker,
        customers,
        sms=[_record("m1", phone="07700 900999")],
        web_forms=[_record("w1", email="stranger@example.net", phone="07700 900999")],
        social_media=[_record("s1", author_name="Sam Smith", handle="@sam")],
        call_center=[_record("c1", account_number="AC99999999")],
    )
    rows = {r["source_record_id"]: r for r in day.cleaned.to_dicts()}
    assert rows["m1"]["customer_key"] is None
    assert rows["m1"]["contact_token"] == masker.token("PHONE", "+447700900999")
    assert rows["w1"]["contact_token"] == masker.token("EMAIL", "stranger@example.net")
    assert rows["s1"]["contact_token"] == masker.token("HANDLE", "sam")
    assert rows["s1"]["author_token"] == masker.token("NAME", "Sam Smith")
    # An account number not (yet) in the CRM is still the customer's key.
    assert rows["c1"]["customer_key"] == masker.token("ACCOUNT", "AC99999999")


def test_works_without_a_customer_list(masker):
    day = _clean(masker, sms=[_record("m1", phone=JANE_PHONE)], call_center=[_record("c1", account_number=JANE_ACCOUNT)])
    rows = {r["source_record_id"]: r for r in day.cleaned.to_dicts()}
    assert rows["m1"]["customer_key"] is None
    assert rows["c1"]["customer_key"] == masker.token("ACCOUNT", JANE_ACCOUNT)


# --- times and ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wall_clock", "received", "event_at"),
    [
        ("21/11/2026 14:03", datetime(2026, 11, 21, 14, 15), datetime(2026, 11, 21, 14, 3)),  # GMT
        ("21/07/2026 14:03", datetime(2026, 7, 21, 14, 15), datetime(2026, 7, 21, 13, 3)),  # BST
        ("22/07/2026 00:30", datetime(2026, 7, 22, 0, 15), datetime(2026, 7, 21, 23, 30)),  # previous UTC day
    ],
)
def test_call_centre_wall_clock_becomes_utc(masker, wall_clock, received, event_at):
    received = received.replace(tzinfo=timezone.utc)
    day = _clean(
        masker,
        call_center=[
            _record("c1", event_time_text=wall_clock, event_time_zone="Europe/London", received_at=received,
                    wait_seconds=42, handle_seconds=300, agent_id="A7")
        ],
    )
    row = _one(day.cleaned)
    assert row["event_at"] == event_at.replace(tzinfo=timezone.utc)
    assert row["event_date"] == event_at.date()
    assert row["received_date"] == received.date()
    assert (row["wait_seconds"], row["handle_seconds"]) == (42, 300)


def test_complaint_id_is_deterministic(masker):
    rows = [_record("m1"), _record("m2"), _record("m3")]
    first = _clean(masker, sms=rows, web_forms=[_record("m1")])
    again = _clean(masker, web_forms=[_record("m1")], sms=list(reversed(rows)))
    assert first.cleaned.equals(again.cleaned)
    ids = {(r["channel"], r["source_record_id"]): r["complaint_id"] for r in first.cleaned.to_dicts()}
    assert ids == {(c, r): complaint_id(c, r) for c, r in ids}
    assert ids[("sms", "m1")] != ids[("web_forms", "m1")]
    assert complaint_id("sms", "m1") != complaint_id("web_forms", "m1")
    assert re.fullmatch(r"[0-9a-f]{20}", complaint_id("sms", "m1"))
    assert complaint_id("sms", "m1") == complaint_id("sms", "m1")


def test_complaint_ids_in_bulk_are_the_same_digests_as_one_at_a_time():
    record_ids = [None, "", "m1", "a|b", "é€😀\u2028", "nul\x00inside", "x" * 300, "' or 1=1 --", "m1"]
    channels = ["sms", "sms", "sms", "web_forms", "social_media", "call_center", "sms", "sms", "web_forms"]
    got = complaint_ids(pl.Series(channels), pl.Series(record_ids, dtype=pl.String))
    assert got.to_list() == [complaint_id(c, r or "") for c, r in zip(channels, record_ids)]
    assert complaint_ids(pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.String)).to_list() == []


def test_the_brands_own_replies_are_never_merged_but_a_customers_repost_is(masker):
    brand_reply = {"handle": "@TelcoCare", "text": "Glad it's sorted, enjoy your weekend! ^AL"}
    replies = [_record("r1", **brand_reply), _record("r2", **brand_reply)]
    brand = frozenset({masker.token("HANDLE", "@telcocare")})
    day = clean_complaints({"social_media": to_bronze("social_media", replies)}, masker, exclude_contacts=brand)
    assert day.cleaned.height == 2 and day.duplicates.height == 0

    repost = {"handle": JANE_HANDLE, "text": "Still no signal at home, third day now"}
    later = {**_record("p2", **repost), "received_at": RECEIVED + timedelta(hours=3)}
    day = clean_complaints(
        {"social_media": to_bronze("social_media", [_record("p1", **repost), later])}, masker, exclude_contacts=brand
    )
    assert day.cleaned["source_record_id"].to_list() == ["p1"]
    assert day.duplicates.select("source_record_id", "rule", "similarity").rows() == [
        ("p2", "same_contact_same_text", 1.0)
    ]


def test_a_copy_received_a_day_later_is_a_duplicate_of_the_earlier_days_complaint(masker):
    words = {"account_number": JANE_ACCOUNT, "text": "My bill doubled this month"}
    yesterday = _clean(masker, web_forms=[_record("f1", **words)])
    later = {**_record("s1", **words), "received_at": RECEIVED + timedelta(hours=20)}
    today = clean_complaints({"sms": to_bronze("sms", [later])}, masker, None, prior=yesterday.cleaned)
    assert today.cleaned.height == 0
    assert today.duplicates.select("channel", "duplicate_of", "rule").rows() == [
        ("sms", complaint_id("web_forms", "f1"), "same_contact_same_text")
    ]
    assert today.balanced


def test_quarantined_payloads_hide_the_names_their_fields_hold(masker):
    row = _record("q1", text="", author_name="Jane Doe", email=JANE_EMAIL,
                  raw='{"full_name": "Jane Doe", "email": "jane.doe@example.com", "message": ""}')
    day = _clean(masker, web_forms=[row])
    raw_masked = day.quarantine["raw_masked"][0]
    assert "Jane Doe" not in raw_masked and JANE_EMAIL not in raw_masked
    assert masker.token("NAME", "Jane Doe") in raw_masked


@pytest.mark.parametrize(
    "fields, rule",
    [
        ({"event_time_text": "2016-11-21T14:00:00Z"}, "event_before_sources"),
        ({"event_time_text": "100000000"}, "event_before_sources"),  # a small epoch: 1973
        ({"record_id": None}, "missing_record_id"),
        ({"record_id": "  "}, "missing_record_id"),
    ],
)
def test_impossible_times_and_missing_ids_are_quarantined(masker, fields, rule):
    day = _clean(masker, sms=[{**_record("x"), **fields}, _record("ok")])
    assert day.quarantine["rule"].to_list() == [rule]
    assert day.cleaned["source_record_id"].to_list() == ["ok"]


def test_a_quarantine_reason_quoting_what_it_could_not_read_is_masked(masker):
    day = _clean(masker, sms=[_record("q9", event_time_text="ring me 07700 900123")])
    row = day.quarantine.row(0, named=True)
    assert row["rule"] == "unparseable_timestamp"
    assert "07700" not in row["reason"] and masker.token("PHONE", "+447700900123") in row["reason"]


# --- formula injection (OWASP CSV injection): silver's display text is neutralised --------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=CMD|' /C calc'!A0", "'=CMD|' /C calc'!A0"),
        ("+SUM(1,2)", "'+SUM(1,2)"),
        ("-- no signal since Monday", "'-- no signal since Monday"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("no signal = no use", "no signal = no use"),  # only a leading trigger is a formula
        (" =1+1", " =1+1"),
        ("'already quoted", "'already quoted"),
        ("", ""),
        (None, None),
    ],
)
def test_neutralise_formula(text, expected):
    assert neutralise_formula(text) == expected
    frame = pl.DataFrame({"t": [text]}, schema={"t": pl.String})
    assert frame.select(neutralise_formula_expr("t")).item() == expected


def test_a_masked_column_is_neutralised_with_one_masking_pass(monkeypatch):
    # neutralise_formula_expr names its input once: around a masking expression (a Python function
    # per batch), a when/then/otherwise masked every text three times.
    masker = PiiMasker("test-key")
    batches = []
    mask_texts = masker.mask_texts
    monkeypatch.setattr(masker, "mask_texts", lambda texts: batches.append(texts.len()) or mask_texts(texts))
    frame = pl.DataFrame({"text": ["=1+1 ring 07700 900123", "fine", None, "-- mail a@b.com"]})
    out = frame.select(neutralise_formula_expr(masker.mask_text_expr("text")))["text"].to_list()
    assert out == [neutralise_formula(masker.mask_text(t)) for t in frame["text"].to_list()]
    assert out[0].startswith("'=1+1 ring <PHONE:") and out[3].startswith("'-- mail <EMAIL:")
    assert batches == [4]


def test_silver_text_is_masked_then_neutralised_and_bronze_keeps_the_original(masker):
    bronze_rows = [
        _record("f1", text="=HYPERLINK(\"http://evil.example\",\"bill\")"),
        _record("f2", text="-- no signal, ring me on 07700 900123"),
        # A leading phone or handle becomes a token first: no formula is left to neutralise.
        _record("f3", text="+44 7700 900123 is my number, no signal"),
        _record("f4", text="@TelcoCare still no 4G"),
        _record("f5", text="\t+1 for the bill being wrong"),
    ]
    bronze = {"sms": to_bronze("sms", bronze_rows)}
    day = clean_complaints(bronze, masker)
    texts = dict(day.cleaned.select("source_record_id", "text_masked").iter_rows())
    assert texts["f1"] == "'=HYPERLINK(\"http://evil.example\",\"bill\")"
    assert texts["f2"] == f"'-- no signal, ring me on {masker.token('PHONE', '+447700900123')}"
    assert texts["f3"] == f"{masker.token('PHONE', '+447700900123')} is my number, no signal"
    assert texts["f4"].startswith("<HANDLE:") and texts["f4"].endswith(" still no 4G")
    assert texts["f5"] == "'\t+1 for the bill being wrong"
    assert unmasked_pii_rows(day.cleaned, ["text_masked"], "GB").height == 0
    assert bronze["sms"]["text"].to_list()[0].startswith("=")  # the original stays in bronze


def test_quarantine_payloads_are_neutralised_too(masker):
    day = _clean(masker, call_center=[_record("=1+1", raw="=1+1,2026-11-21 14:00,,,,,@x,open,,,", text=" ")])
    row = day.quarantine.row(0, named=True)
    assert row["rule"] == "missing_text"
    assert row["raw_masked"].startswith("'=1+1,")
    assert row["source_record_id"] == "=1+1"  # ids stay ids: they join the record back to its source


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_time_is_a_missing_time(masker, blank):
    day = _clean(masker, sms=[_record("x", event_time_text=blank), _record("ok")])
    assert day.quarantine["rule"].to_list() == ["missing_event_time"]


# --- a day in buckets ----------------------------------------------------------------------------


def _messy_day(rng_seed: int = 3) -> dict[str, pl.DataFrame]:
    """Some 400 records of 80 customers: complaints sent again on another channel (the same words
    or reworded), records delivered twice, forms updated (some with another e-mail), records
    without a contact, and records to quarantine."""
    import random

    rng = random.Random(rng_seed)
    gists = [
        "no signal at home since the mast went down",
        "I was charged twice for my bill this month",
        "the agent hung up on me when I asked about my contract",
        "my broadband keeps dropping every evening",
        "roaming charges on my bill are wrong",
    ]
    rows: dict[str, list[dict]] = {"social_media": [], "sms": [], "web_forms": [], "call_center": []}
    for person in range(80):
        email, phone = f"person{person}@example.com", f"+44 7700 9{person:05d}"
        for n in range(rng.randint(1, 4)):
            gist = rng.choice(gists)
            text = gist if rng.random() < 0.5 else f"still waiting!! {gist}, please sort it out"
            made = RECEIVED - timedelta(minutes=rng.randint(5, 600))
            channel = rng.choice(["sms", "web_forms", "call_center"])
            record = _record(
                f"{person}-{n}", text=text, event_time_text=made.isoformat(), received_at=made + timedelta(minutes=3),
                **({"phone": phone} if channel == "sms" else {"email": email}),
                **({"status": "open"} if channel == "call_center" else {}),
            )
            rows[channel].append(record)
            if rng.random() < 0.2:  # delivered again
                rows[channel].append({**record, "received_at": record["received_at"] + timedelta(minutes=1)})
            if channel == "web_forms" and rng.random() < 0.4:  # updated, sometimes with another e-mail
                rows[channel].append({
                    **record, "text": text + " (update: still broken)", "received_at": record["received_at"] + timedelta(hours=1),
                    "source_location": f"test:{record['record_id']}:v2",
                    **({"email": f"new{person}@example.com"} if rng.random() < 0.5 else {}),
                })
    for n in range(30):  # no contact; a few to quarantine
        rows["social_media"].append(_record(f"anon{n}", text=None if n % 10 == 0 else f"{gists[n % 5]} ({n})"))
    return {channel: to_bronze(channel, records) for channel, records in rows.items()}


def test_a_day_cleaned_in_spilled_buckets_is_the_day_cleaned_whole(masker, customers, tmp_path, monkeypatch):
    from polars.testing import assert_frame_equal

    from complaints_platform.lib import cleaning
    from complaints_platform.lib.cleaning import screen_day

    bronze = _messy_day()
    prior = clean_complaints(
        {"sms": to_bronze("sms", [_record("old", phone="+44 7700 900003", text="no signal at home since the mast went down",
                                          event_time_text=(RECEIVED - timedelta(hours=20)).isoformat(),
                                          received_at=RECEIVED - timedelta(hours=20))])},
        masker,
    ).cleaned
    whole = clean_complaints(bronze, masker, customers, prior=prior)
    assert whole.balanced
    assert set(whole.duplicates.get_column("rule")) == {"same_source_record", "same_contact_same_text", "near_duplicate"}

    spill = tmp_path / "spill"
    spill.mkdir()
    screened = screen_day(bronze, masker, customers, buckets=4, spill=spill)
    assert len(list(spill.iterdir())) >= 4  # the good rows wait on disk, a file per chunk and bucket
    assert screened._moved.height > 0  # some updated forms changed e-mail: their copies were in two buckets
    fitted = []
    monkeypatch.setattr(cleaning, "tfidf_cosine", lambda corpus: fitted.append(corpus.len()) or tfidf_cosine(corpus))
    parts = list(screened.clean(prior))
    assert [p.cleaned.height > 0 for p in parts] == [True] * 4
    assert [p.duplicates.filter(pl.col("rule") == "near_duplicate").height > 0 for p in parts].count(True) > 1
    assert fitted == [screened.corpus.len()]  # the day's cosine, fitted once for its four buckets
    monkeypatch.undo()
    assert list(spill.iterdir()) == []  # each bucket's files go once it is read

    in_buckets = clean_complaints(bronze, masker, customers, prior=prior, buckets=4, spill=spill)
    for name in ("cleaned", "quarantine", "duplicates", "review"):
        assert_frame_equal(getattr(in_buckets, name), getattr(whole, name))
    assert in_buckets.received == whole.received
