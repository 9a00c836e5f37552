"""The demo-day generator (simulate/generator.py): contracts, planted mess, truth, determinism."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from complaints_platform.lib.silver import CATEGORIES, CHANNEL_NAMES
from complaints_platform.simulate.generator import (
    CALL_CENTER_COLUMNS,
    CRM_COLUMNS,
    DEFAULT_VOLUMES,
    OUTCOMES,
    generate_day,
)

# Starlette's TestClient still runs on httpx and says so; the warning is about Starlette, not us.
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated")

DAY = date(2026, 7, 21)  # British Summer Time: London local time is UTC+1
START = datetime(2026, 7, 21, tzinfo=timezone.utc)
END = START + timedelta(days=1)


@pytest.fixture(scope="module")
def demo():
    return generate_day(DAY, seed=7)


def truth_of(demo, channel: str) -> list[dict]:
    return [t for t in demo.truth if t["channel"] == channel]


def test_same_seed_same_day_same_bytes_and_customers_shared_across_days(demo):
    again = generate_day(DAY, seed=7)
    assert again.truth == demo.truth
    assert again.social_events == demo.social_events
    assert again.sms_messages == demo.sms_messages
    assert again.call_center_files == demo.call_center_files
    assert again.web_form_rows == demo.web_form_rows
    assert again.crm_csv() == demo.crm_csv()
    other_seed = generate_day(DAY, seed=8)
    assert other_seed.sms_messages != demo.sms_messages and other_seed.customers != demo.customers
    next_day = generate_day(DAY + timedelta(days=1), seed=7)
    assert next_day.customers == demo.customers
    assert next_day.sms_messages != demo.sms_messages


def test_volumes_follow_the_defaults_and_the_override(demo):
    base = Counter(t["channel"] for t in demo.truth if t["rule"] not in ("webhook_replay", "same_source_record")
                   and not t["is_cross_channel_copy_of"] and t["note"] not in ("brand reply", "spam"))
    assert dict(base) == DEFAULT_VOLUMES
    small = generate_day(DAY, seed=7, n_customers=40, complaints_per_channel={"sms": 30, "call_center": 10})
    assert len(small.customers) == 40
    assert sum(1 for r in small.truth if r["channel"] == "call_center") == 10
    with pytest.raises(ValueError, match="unknown channels"):
        generate_day(DAY, complaints_per_channel={"fax": 3})


def test_truth_rows_are_complete_and_summary_counts_them(demo):
    ids_by_channel = {
        "social_media": {e.webhook_id for e in demo.social_events},
        "sms": {m["id"] for m in demo.sms_messages},
        "web_forms": {str(r["id"]) for r in demo.web_form_rows},
    }
    for row in demo.truth:
        assert row["channel"] in CHANNEL_NAMES
        assert row["category"] in CATEGORIES
        assert row["expected_outcome"] in OUTCOMES
        assert (row["rule"] is None) == (row["expected_outcome"] == "clean")
        if row["channel"] in ids_by_channel:
            assert row["source_id"] in ids_by_channel[row["channel"]]
    summary = demo.summary()
    for channel in CHANNEL_NAMES:
        counts = summary["channels"][channel]
        rows = truth_of(demo, channel)
        assert counts["delivered"] == len(rows) == sum(counts[o] for o in OUTCOMES)
        assert counts["clean"] > 0.85 * DEFAULT_VOLUMES[channel]
    assert set(summary["categories_of_clean"]) == set(CATEGORIES)


# --- social media ---------------------------------------------------------------------------------


def test_social_deliveries_match_the_webhook_contract_and_their_expected_answers(demo):
    truth = truth_of(demo, "social_media")
    assert len(demo.social_events) == len(truth)
    statuses = Counter(e.expect_status for e in demo.social_events)
    rules = Counter(t["rule"] for t in truth)
    assert statuses[400] == rules["malformed_json"] >= 1
    assert statuses[401] == rules["bad_signature"] >= 1
    assert statuses[200] == rules["webhook_replay"] >= 1
    assert all(e.tamper == (e.expect_status == 401) for e in demo.social_events)
    accepted = {}
    offsets = Counter()
    for event in demo.social_events:
        assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,128}", event.webhook_id)
        assert event.body.isascii()
        if event.expect_status == 400:
            with pytest.raises(json.JSONDecodeError):
                json.loads(event.body)
            continue
        if event.expect_status == 200:  # a retry: the same id and the very same body, sent later
            assert accepted[event.webhook_id] == event.body
            continue
        body = json.loads(event.body)
        assert body["type"] == "social.post.created" and body["timestamp"].endswith("Z")
        data = body["data"]
        assert {"platform", "post_id", "author", "created_at", "in_reply_to", "lang"} <= set(data)
        assert data["author"]["handle"].startswith("@")
        offsets[re.search(r"(Z|[+-]\d\d:\d\d)$", data["created_at"]).group(1)] += 1
        if event.expect_status == 202:
            accepted[event.webhook_id] = event.body
    assert {"Z", "+00:00", "+01:00", "-05:00"} <= set(offsets)


def test_social_late_and_textless_events_are_planted_as_the_truth_says(demo):
    truth = {t["source_id"]: t for t in truth_of(demo, "social_media") if t["rule"] != "webhook_replay"}
    late = [t for t in truth.values() if t["late"]]
    assert 0.01 * len(truth) <= len(late) <= 0.06 * len(truth)
    for row in late:
        event_at = datetime.fromisoformat(row["event_at"])
        assert START - timedelta(days=3) <= event_at < START
    textless = [t for t in truth.values() if t["rule"] == "missing_text"]
    assert textless and all(t["expected_outcome"] == "quarantine" for t in textless)
    for event in demo.social_events:
        if event.webhook_id in {t["source_id"] for t in textless} and event.expect_status == 202:
            assert json.loads(event.body)["data"].get("text") is None


# --- SMS ------------------------------------------------------------------------------------------


def test_sms_messages_match_the_api_contract_with_planted_malformed_duplicates_and_spam(demo):
    truth = truth_of(demo, "sms")
    assert len(demo.sms_messages) == len(truth)
    ids = Counter(m["id"] for m in demo.sms_messages)
    assert sum(n - 1 for n in ids.values()) == sum(1 for t in truth if t["rule"] == "same_source_record") >= 1
    missing_body = [m for m in demo.sms_messages if m.get("body") is None]
    assert len(missing_body) == sum(1 for t in truth if t["rule"] == "missing_text") >= 1
    unreadable = []
    for message in demo.sms_messages:
        assert re.fullmatch(r"\+44\d{10}", message["from"]) and message["to"].startswith("+44")
        try:
            received = datetime.fromisoformat(message["received_at"].replace("Z", "+00:00"))
        except ValueError:
            unreadable.append(message)
            continue
        assert message["received_at"].endswith("Z") and START <= received < END
    assert len(unreadable) == sum(1 for t in truth if t["rule"] == "unreadable_received_at")
    assert all(not t["reaches_bronze"] for t in truth if t["rule"] == "unreadable_received_at")
    spam = [t for t in truth if t["note"] == "spam"]
    assert spam and all(t["category"] == "other" and t["customer_account"] is None for t in spam)
    assert 0.005 * len(truth) <= len(unreadable) + len(missing_body) <= 0.04 * len(truth)


# --- call centre ----------------------------------------------------------------------------------


def test_call_center_exports_decode_as_stated_and_hold_every_planted_case(demo):
    names = sorted(demo.call_center_files)
    assert names == ["calls_20260721T0000.csv", "calls_20260721T1200.csv"]
    morning, afternoon = (demo.call_center_files[n] for n in names)
    assert morning.startswith(b"\xef\xbb\xbf")
    morning_text = morning[3:].decode("utf-8")
    assert not afternoon.startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        afternoon.decode("utf-8")  # accented names in Windows-1252
    afternoon_text = afternoon.decode("cp1252")
    assert "\r\n\r\n" in afternoon_text  # a blank line

    truth = {t["source_id"]: t for t in truth_of(demo, "call_center")}
    london = ZoneInfo("Europe/London")
    records, ragged, multiline = 0, 0, 0
    for start_hour, text in ((0, morning_text), (12, afternoon_text)):
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
        assert tuple(rows[0]) == CALL_CENTER_COLUMNS
        for row in rows[1:]:
            records += 1
            expected = truth[row[0]]
            if len(row) != len(CALL_CENTER_COLUMNS):
                ragged += 1
                assert expected["rule"] == "unparseable_record"
                continue
            record = dict(zip(CALL_CENTER_COLUMNS, row))
            multiline += "\n" in record["notes"]
            fmt = "%Y-%m-%d %H:%M:%S" if "-" in record["call_started_at"] else "%d/%m/%Y %H:%M"
            started = datetime.strptime(record["call_started_at"], fmt).replace(tzinfo=london)
            window = START + timedelta(hours=start_hour)
            assert window - timedelta(minutes=1) <= started.astimezone(timezone.utc) < window + timedelta(hours=12)
            assert record["status"].lower() in {"open", "resolved", "escalated", "callback"}
            assert bool(record["resolved_at"]) == (record["status"].lower() == "resolved")
            assert record["wait_seconds"].isdigit() and record["handle_seconds"].isdigit()
    assert records == len(truth) == DEFAULT_VOLUMES["call_center"]
    assert ragged == 1 and multiline >= 1
    assert {fmt for fmt in ("-", "/") if any(fmt in r for r in re.findall(r"CALL-\d+-\d+,([^,]+),", morning_text))} == {"-", "/"}


# --- web forms ------------------------------------------------------------------------------------


def test_web_form_rows_fit_the_table_with_updates_and_empty_messages(demo):
    rows = demo.web_form_rows
    truth = truth_of(demo, "web_forms")
    assert len(rows) == len(truth)
    versions = Counter(r["id"] for r in rows)
    updated = {i for i, n in versions.items() if n == 2}
    assert set(versions.values()) <= {1, 2}
    assert 0.05 * len(versions) <= len(updated) <= 0.16 * len(versions)
    for row in rows:
        assert set(row) == {"id", "submitted_at", "updated_at", "full_name", "email", "phone",
                            "account_number", "subject", "message", "status"}
        assert row["submitted_at"].tzinfo is None and row["updated_at"].tzinfo is None
        assert START.replace(tzinfo=None) <= row["submitted_at"] <= row["updated_at"] < END.replace(tzinfo=None)
        assert row["status"] in {"new", "in_progress", "closed"} and row["email"] and row["full_name"]
    for form_id in updated:
        first, last = sorted((r for r in rows if r["id"] == form_id), key=lambda r: r["updated_at"])
        assert first["status"] == "new" and last["status"] != "new" and last["updated_at"] > first["updated_at"]
        assert {k: v for k, v in first.items() if k not in ("updated_at", "status")} == {
            k: v for k, v in last.items() if k not in ("updated_at", "status")
        }
    empty = [r for r in rows if not r["message"].strip()]
    assert 1 <= len(empty) <= 2
    assert len(empty) == sum(1 for t in truth if t["rule"] == "missing_text")
    assert sum(1 for t in truth if t["rule"] == "same_source_record") == len(updated)


# --- across channels ------------------------------------------------------------------------------


def test_cross_channel_copies_repeat_the_same_text_from_the_same_customer_within_the_hour(demo):
    by_id = {(t["channel"], t["source_id"]): t for t in demo.truth if t["rule"] not in ("webhook_replay", "same_source_record")}
    by_source = {t["source_id"]: t for t in by_id.values()}
    copies = [t for t in demo.truth if t["is_cross_channel_copy_of"]]
    originals_total = sum(DEFAULT_VOLUMES.values())
    assert 0.03 * originals_total <= len(copies) <= 0.05 * originals_total
    for copy in copies:
        original = by_source[copy["is_cross_channel_copy_of"]]
        assert copy["expected_outcome"] == "duplicate" and copy["rule"] == "same_contact_same_text"
        assert original["expected_outcome"] == "clean"
        assert copy["channel"] != original["channel"] and "call_center" not in (copy["channel"], original["channel"])
        assert copy["text"] == original["text"] and copy["customer_account"] == original["customer_account"]
        delay = datetime.fromisoformat(copy["event_at"]) - datetime.fromisoformat(original["event_at"])
        assert timedelta(0) < delay <= timedelta(hours=1)


def test_raw_feeds_carry_pii_in_free_text_and_mixed_phone_formats(demo):
    accounts = {c["account_number"] for c in demo.customers}
    emails = {c["email"] for c in demo.customers}
    with_pii = [t for t in demo.truth if t["pii_in_text"] and t["text"]]
    assert len(with_pii) >= 0.05 * len(demo.truth)
    free_text = " ".join(t["text"] for t in demo.truth if t["text"])
    assert any(a in free_text for a in accounts) and any(e in free_text for e in emails)
    assert re.search(r"(\+44 ?7700|07700)[ -]?\d{3}[ -]?\d{3}", free_text)
    phone_shapes = {re.sub(r"\d", "9", c["phone"]) for c in demo.customers}
    assert {"+99 9999 999999", "99999999999", "(9)9999-999-999"} <= phone_shapes  # digits as 9


def test_crm_snapshot_is_utf8_csv_with_unique_accounts_and_unicode_names(demo):
    assert demo.crm_file_name == "customers_2026-07-21.csv"
    rows = list(csv.DictReader(io.StringIO(demo.crm_csv().decode("utf-8"))))
    assert len(rows) == 300 and tuple(rows[0]) == CRM_COLUMNS
    assert len({r["account_number"] for r in rows}) == 300
    assert all(re.fullmatch(r"AC\d{8}", r["account_number"]) for r in rows)
    assert all(r["social_handle"].startswith("@") and r["email"].count("@") == 1 for r in rows)
    assert len({r["social_handle"] for r in rows}) == 300
    names = [r["full_name"] for r in rows]
    assert any(not n.isascii() for n in names)
    assert any(not _fits_cp1252(n) for n in names)
    assert all(date.fromisoformat(r["signup_date"]) <= DAY for r in rows)


def _fits_cp1252(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


# --- through the real edges -----------------------------------------------------------------------


def test_the_receiver_answers_every_delivery_as_expected_and_lands_what_truth_says(demo, tmp_path):
    import base64

    from standardwebhooks.webhooks import Webhook
    from starlette.testclient import TestClient

    from complaints_platform.lib.social_media import parse_social_media_landing
    from complaints_platform.webhook.app import create_app

    secret = "whsec_" + base64.b64encode(b"generator-test-secret-0123456789").decode()
    signer = Webhook(secret)
    forger = Webhook("whsec_" + base64.b64encode(b"not-the-receivers-secret-0123456").decode())
    answers = Counter()
    with TestClient(create_app(tmp_path, secret)) as client:
        for event in demo.social_events:
            now = datetime.now(timezone.utc)
            signature = (forger if event.tamper else signer).sign(event.webhook_id, now, event.body)
            response = client.post(
                "/webhooks/social",
                content=event.body.encode("utf-8"),
                headers={"content-type": "application/json", "webhook-id": event.webhook_id,
                         "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature},
            )
            answers[(event.expect_status, response.status_code)] += 1
    assert all(expected == got for expected, got in answers), answers
    segments = sorted((tmp_path / "social_media").glob("date=*/*/*.jsonl"))
    landed = set(parse_social_media_landing(segments, tmp_path)["record_id"])
    expected = {t["source_id"] for t in truth_of(demo, "social_media") if t["reaches_bronze"]}
    assert expected <= landed and len(expected) == sum(n for (s, _), n in answers.items() if s == 202)


def test_the_sms_simulator_serves_every_message_the_truth_says_reaches_bronze(demo):
    from starlette.testclient import TestClient

    from complaints_platform.simulate.sms_provider import create_app

    served, cursor = [], None
    with TestClient(create_app(demo.sms_messages, "token")) as client:
        while True:
            params = {"since": START.isoformat(), "until": END.isoformat(), "limit": 100, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/messages", params=params, headers={"Authorization": "Bearer token"}).json()
            served += page["data"]
            cursor = page["next_cursor"]
            if not cursor:
                break
    assert len(served) == sum(1 for t in truth_of(demo, "sms") if t["reaches_bronze"])


def test_the_call_center_parser_reads_every_exported_record(demo, tmp_path):
    import polars as pl

    from complaints_platform.lib.call_center import parse_call_center_csv

    frames = []
    for name, payload in demo.call_center_files.items():
        (tmp_path / name).write_bytes(payload)
        frames.append(parse_call_center_csv(tmp_path / name, {}, "Europe/London"))
    bronze = pl.concat(frames)
    truth = truth_of(demo, "call_center")
    assert bronze.height == len(truth)
    assert bronze.filter(pl.col("parse_error").is_not_null()).height == sum(1 for t in truth if t["rule"] == "unparseable_record")
    names = set(bronze.get_column("author_name").drop_nulls())
    assert any(not n.isascii() for n in names)  # accents survived both encodings
