"""Materializing real assets on a small hand-made day: exact rows, and reruns that never double them."""

import json
import re
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from complaints_platform.definitions import build_definitions
from complaints_platform.lib import lake
from complaints_platform.lib.pii import PiiMasker
from complaints_platform.lib.settings import Settings
from complaints_platform.lib.silver import CLEANED_LAYER
from complaints_platform.lib.social_media import window_dir
from complaints_platform.lib.web_forms import create_schema, upsert_forms
from complaints_platform.runtime import run_assets
from complaints_platform.simulate.servers import cli_server, free_port

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 20)
FORMS = [
    {"id": 1, "submitted_at": datetime(2026, 11, 20, 9, 0), "updated_at": datetime(2026, 11, 20, 9, 1),
     "full_name": "Ana Núñez", "email": "ana@example.com", "phone": "07700 900111", "account_number": "AC10000001",
     "subject": "Bill", "message": "I was charged twice for November, call me on 07700 900111", "status": "new"},
    {"id": 2, "submitted_at": datetime(2026, 11, 20, 10, 0), "updated_at": datetime(2026, 11, 20, 10, 5),
     "full_name": "Bo Li", "email": "bo@example.com", "phone": None, "account_number": None,
     "subject": "Signal", "message": "No 4G signal at home since Monday", "status": "new"},
    {"id": 3, "submitted_at": datetime(2026, 11, 20, 11, 0), "updated_at": datetime(2026, 11, 20, 11, 0),
     "full_name": "Cy Doe", "email": "cy@example.com", "phone": None, "account_number": None,
     "subject": "Empty", "message": "   ", "status": "new"},
]
CSV = (
    "\ufeffcall_id,call_started_at,agent_id,account_number,caller_name,caller_phone,notes,status,resolved_at,wait_seconds,handle_seconds\r\n"
    "C1,20/11/2026 09:30,A7,AC10000001,Ana Nunez,07700 900111,\"cust says router keeps dropping,\nneeds engineer\",resolved,20/11/2026 10:00,120,300\r\n"
    "\r\n"
    "C2,2026-11-20 10:15,A7,,Dee,,rude agent last week,open,,30,200\r\n"
    "C3,2026-11-20 10:20,A8,broken row\r\n"
)
SMS = [
    {"id": "SM1", "from": "+447700900111", "to": "+447800000100", "body": "I was charged twice for November, call me on 07700 900111",
     "received_at": "2026-11-20T09:20:00Z", "segments": 1},
    {"id": "SM2", "from": "+447700900222", "to": "+447800000100", "body": "data so slow cant load anything",
     "received_at": "2026-11-20T13:07:00Z", "segments": 1},
    {"id": "SM3", "from": "+447700900333", "to": "+447800000100", "body": None, "received_at": "2026-11-20T13:08:00Z"},
]
CRM = (
    "account_number,full_name,email,phone,social_handle,plan,region,signup_date\n"
    "AC10000001,Ana Núñez,ana@example.com,+44 7700 900111,@ana_n,Unlimited,North,2021-03-04\n"
    "AC10000002,Bo Li,bo@example.com,07700900222,@boli,Basic,South,2022-07-01\n"
)


def _land_social(root):
    received = datetime(2026, 11, 20, 12, 1, tzinfo=UTC)
    events = {
        "evt-ok": {"type": "social.post.created", "data": {"platform": "twitter", "post_id": "1", "author": {"handle": "@boli", "display_name": "Bo"},
                    "text": "@TelcoCare on hold for an hour and nobody answered", "created_at": "2026-11-20T11:58:00+00:00"}},
        "evt-no-text": {"type": "social.post.created", "data": {"platform": "twitter", "post_id": "2", "created_at": "2026-11-20T11:59:00Z"}},
    }
    for webhook_id, body in events.items():
        envelope = {"webhook_id": webhook_id, "webhook_timestamp": int(received.timestamp()),
                    "received_at": "2026-11-20T12:01:00Z", "body": json.dumps(body)}
        lake.write_bytes_atomic(json.dumps(envelope).encode(), window_dir(root / "landing", received) / f"{webhook_id}.json", private=True)


@pytest.fixture
def small_day(data_dir):
    lake.write_bytes_atomic(CRM.encode(), data_dir / "landing" / "crm" / "customers_2026-11-20.csv", private=True)
    lake.write_bytes_atomic(CSV.encode("utf-8"), data_dir / "landing" / "call_center" / "calls_20261120T0000.csv", private=True)
    url = f"sqlite:///{data_dir / 'oltp' / 'web_forms.sqlite'}"
    (data_dir / "oltp").mkdir()
    create_schema(url)
    upsert_forms(url, FORMS)
    _land_social(data_dir)
    messages = data_dir / "sms.jsonl"
    messages.write_text("".join(json.dumps(m) + "\n" for m in SMS))
    return data_dir, messages


def _content(path) -> list[tuple]:
    frame = pl.read_parquet(path)
    return sorted(repr(row) for row in frame.select(sorted(frame.columns)).rows())


def test_sources_and_cleaned_layer_exact_rows_and_idempotent(small_day, monkeypatch):
    data_dir, messages = small_day
    port = free_port()
    monkeypatch.setenv("COMPLAINTS_SMS_API_URL", f"http://127.0.0.1:{port}")
    defs = build_definitions(Settings.from_env())
    day_range = ("2026-11-20-00:00", "2026-11-20-23:45")

    with dg.instance_for_test() as instance, cli_server(["sms-simulator", "--messages", str(messages)], port, data_dir / "sms.log"):
        def run_all():
            for selection, partitions in [
                (["customers"], ("2026-11-20", "2026-11-20")),
                (["social_media_raw", "sms_raw", "web_forms_raw"], day_range),
                (["call_center_raw"], ("2026-11-20-00:00", "2026-11-20-12:00")),
                (list(CLEANED_LAYER), ("2026-11-20", "2026-11-20")),
            ]:
                result = run_assets(defs, instance, selection, partitions)
                assert result.success, selection
            return result

        result = run_all()
        first = {p: _content(p) for p in sorted(data_dir.glob("silver/*/*/*.parquet")) + sorted(data_dir.glob("bronze/*/*/*.parquet"))}
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {"cleaned_contract": True, "records_accounted_for": True, "no_unmasked_pii": True,
                          "channel_volume_normal": True,  # one day of history: not judged
                          "customers_known": True}

        run_all()  # the same partitions again: replaced, never appended
        second = {p: _content(p) for p in sorted(data_dir.glob("silver/*/*/*.parquet")) + sorted(data_dir.glob("bronze/*/*/*.parquet"))}
    assert first.keys() == second.keys()
    assert first == second

    bronze = {a: pl.read_parquet(f"{data_dir}/bronze/{a}/*/*.parquet") for a in ("social_media_raw", "sms_raw", "call_center_raw", "web_forms_raw")}
    assert {a: f.height for a, f in bronze.items()} == {"social_media_raw": 2, "sms_raw": 3, "call_center_raw": 3, "web_forms_raw": 3}
    # 96 quarter-hour files for the day (empty ones too: "nothing arrived" is a fact).
    assert len(list((data_dir / "bronze" / "sms_raw" / "date=2026-11-20").glob("*.parquet"))) == 96

    cleaned = pl.read_parquet(data_dir / "silver/complaints_cleaned/date=2026-11-20/part.parquet")
    quarantine = pl.read_parquet(data_dir / "silver/complaints_quarantine/date=2026-11-20/part.parquet")
    duplicates = pl.read_parquet(data_dir / "silver/complaint_duplicates/date=2026-11-20/part.parquet")
    assert sum(f.height for f in bronze.values()) == 11 == cleaned.height + quarantine.height + duplicates.height

    assert sorted(quarantine.select("channel", "rule").rows()) == [
        ("call_center", "unparseable_record"),
        ("sms", "unparseable_record"),
        ("social_media", "unparseable_record"),  # the event has no data.text
        ("web_forms", "missing_text"),
    ]
    assert quarantine.filter(pl.col("channel") == "call_center")["source_location"][0].endswith("calls_20261120T0000.csv:6")
    # Ana complained by SMS (09:20) and web form (09:01) with the same words: one complaint, the earliest kept.
    assert duplicates.select("channel", "rule").rows() == [("sms", "same_contact_same_text")]
    kept = cleaned.filter(pl.col("complaint_id") == duplicates["duplicate_of"][0])
    assert kept["channel"].to_list() == ["web_forms"] and kept["duplicate_count"].to_list() == [2]

    assert cleaned.height == 6  # 11 received - 4 quarantined - 1 duplicate
    # PII masked; the customer resolved on every channel through tokens.
    assert not cleaned["text_masked"].str.contains("07700").any()
    assert cleaned.filter(pl.col("channel") == "sms")["customer_key"].null_count() == 0  # Bo, by phone
    by_channel = dict(cleaned.group_by("channel").agg(pl.col("customer_key").first()).rows())
    assert by_channel["call_center"] == by_channel["web_forms"]  # Ana, by account number
    # Call-centre London wall-clock time (GMT in November) becomes UTC; the quoted newline survives.
    call = cleaned.filter(pl.col("channel") == "call_center", pl.col("source_record_id") == "C1").row(0, named=True)
    assert call["event_at"] == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert "dropping,\nneeds engineer" in call["text_masked"]
    assert call["resolved_at"] == datetime(2026, 11, 20, 10, 0, tzinfo=UTC) and call["wait_seconds"] == 120


def test_a_failed_blocking_check_writes_nothing(small_day, monkeypatch):
    """Inject a fault (the PII scan finds a leak everywhere): the run fails, the check is recorded
    as failed, and no silver file is written for analysts or the next asset to read."""
    data_dir, _ = small_day
    import complaints_platform.defs.cleaned.complaints as cleaned_module

    monkeypatch.setattr(
        cleaned_module, "unmasked_pii_rows",
        lambda frame, columns, region: pl.DataFrame({"column": columns[:1] * max(frame.height, 1), "kinds": ["PHONE"] * max(frame.height, 1)}),
    )
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        assert run_assets(defs, instance, ["social_media_raw", "web_forms_raw"], ("2026-11-20-00:00", "2026-11-20-23:45")).success
        result = run_assets(defs, instance, [*CLEANED_LAYER, "complaints_categorised"], ("2026-11-20", "2026-11-20"))
        assert not result.success
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks["no_unmasked_pii"] is False
        assert instance.get_latest_materialization_event(dg.AssetKey("complaints_cleaned")) is None
    assert not (data_dir / "silver").exists() or not list((data_dir / "silver").rglob("*.parquet"))


def test_a_quarantine_reason_quoting_raw_pii_fails_the_pii_check(small_day, monkeypatch):
    """A reason quotes what could not be read, here a phone number written where the call's time
    belongs. Inject a fault (the masker leaves reasons as they are): the blocking PII check fails
    and no silver file is written."""
    data_dir, _ = small_day
    csv = CSV + "C4,ring 07700 900444,A8,,Eve,,no signal,open,,10,60\r\n"
    lake.write_bytes_atomic(csv.encode("utf-8"), data_dir / "landing" / "call_center" / "calls_20261120T0000.csv", private=True)
    masked = PiiMasker.mask_text_expr
    monkeypatch.setattr(PiiMasker, "mask_text_expr", lambda self, column: pl.col(column) if column == "__reason" else masked(self, column))
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        assert run_assets(defs, instance, ["call_center_raw"], ("2026-11-20-00:00", "2026-11-20-12:00")).success
        result = run_assets(defs, instance, list(CLEANED_LAYER), ("2026-11-20", "2026-11-20"))
        assert not result.success
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks["no_unmasked_pii"] is False
        leaks = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_unmasked_pii").metadata
        assert leaks["rows_with_pii"].value == 1, leaks
    assert not (data_dir / "silver").exists() or not list((data_dir / "silver").rglob("*.parquet"))


def test_the_pii_check_reads_phone_numbers_in_the_maskers_region(small_day, monkeypatch):
    """In region US the masker reads 1-800-555-0199 as a phone and 07700 900111 (a UK mobile
    written nationally) as digits; the blocking check reads them the same way, so the day passes."""
    data_dir, _ = small_day
    monkeypatch.setenv("COMPLAINTS_PHONE_REGION", "US")
    url = f"sqlite:///{data_dir / 'oltp' / 'web_forms.sqlite'}"
    upsert_forms(url, [{**FORMS[0], "updated_at": datetime(2026, 11, 20, 9, 2),
                        "message": "Charged twice, call me on 1-800-555-0199 or 07700 900111"}])
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        assert run_assets(defs, instance, ["web_forms_raw"], ("2026-11-20-00:00", "2026-11-20-23:45")).success
        result = run_assets(defs, instance, list(CLEANED_LAYER), ("2026-11-20", "2026-11-20"))
        assert result.success
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks["no_unmasked_pii"] is True
    cleaned = pl.read_parquet(data_dir / "silver/complaints_cleaned/date=2026-11-20/part.parquet")
    text = cleaned.filter(pl.col("source_record_id") == "1")["text_masked"].item()
    assert re.fullmatch(r".*call me on <PHONE:[a-p]{10}> or 07700 900111", text), text


def _two_days_of_forms(data_dir, defs, instance):
    """Day 1: FORMS. Day 2: form 1 updated (the same complaint, received again) and form 4, Bo
    sending form 2's words again (a copy of a day-1 complaint)."""
    url = f"sqlite:///{data_dir / 'oltp' / 'web_forms.sqlite'}"
    assert run_assets(defs, instance, ["web_forms_raw"], ("2026-11-20-00:00", "2026-11-20-23:45")).success
    upsert_forms(url, [
        {"id": 1, "status": "resolved", "updated_at": datetime(2026, 11, 21, 8, 0)},
        {**FORMS[1], "id": 4, "submitted_at": datetime(2026, 11, 21, 9, 0), "updated_at": datetime(2026, 11, 21, 9, 0)},
    ])
    assert run_assets(defs, instance, ["web_forms_raw"], ("2026-11-21-00:00", "2026-11-21-23:45")).success


def _silver_files(data_dir) -> dict[str, bytes]:
    return {str(p.relative_to(data_dir)): p.read_bytes() for p in sorted((data_dir / "silver").rglob("*")) if p.is_file()}


def test_a_range_is_cleaned_a_day_at_a_time_and_each_day_checked_on_its_own(small_day):
    """One run over two days (a backfill): each day is its own partition, so a complaint updated on
    day 2 is day 2's version of it (unique within each day, not across the range), and day 2's
    copy of a day-1 complaint is caught against day 1 as this run wrote it."""
    data_dir, _ = small_day
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        _two_days_of_forms(data_dir, defs, instance)
        assert run_assets(defs, instance, ["category_corrections", "category_model"]).success
        result = run_assets(defs, instance, [*CLEANED_LAYER, "complaints_categorised"], ("2026-11-20", "2026-11-21"))
        assert result.success
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks["cleaned_contract"] and checks["records_accounted_for"] and checks["categorised_contract"]
        cleaned_meta = result.asset_materializations_for_node("complaints_cleaned")[0].metadata
        assert cleaned_meta["received_records"].value == 5 and cleaned_meta["cleaned_records"].value == 3
        assert cleaned_meta["duplicates_records"].value == 1 and cleaned_meta["quarantined_records"].value == 1
        categorised_meta = result.asset_materializations_for_node("complaints_categorised")[0].metadata
        assert categorised_meta["dagster/row_count"].value == 3
    day1, day2 = (pl.read_parquet(data_dir / f"silver/complaints_cleaned/date=2026-11-{d}/part.parquet") for d in (20, 21))
    assert day1.height == 2 and day2.height == 1
    assert day2["complaint_id"].to_list() == day1.filter(pl.col("source_record_id") == "1")["complaint_id"].to_list()
    assert day2["status"].to_list() == ["resolved"]
    duplicates = pl.read_parquet(data_dir / "silver/complaint_duplicates/date=2026-11-21/part.parquet")
    assert duplicates.select("source_record_id", "rule").rows() == [("4", "same_contact_same_text")]
    assert duplicates["duplicate_of"].to_list() == day1.filter(pl.col("source_record_id") == "2")["complaint_id"].to_list()
    categorised = pl.read_parquet(data_dir / "silver/complaints_categorised/*/part.parquet")
    assert categorised.height == 3
    assert not [p for p in (data_dir / "silver").rglob("*") if p.name.startswith(".")]  # nothing staged is left


def test_a_day_larger_than_a_bucket_is_cleaned_in_spilled_buckets_to_the_same_files(small_day, monkeypatch):
    """COMPLAINTS_CLEANING_ROWS_PER_BUCKET=2: the day's 8 records are cleaned in 4 buckets spilled
    to Parquet, and the cleaned file is put together sorted by DuckDB; every silver frame and every
    check is as when the day is cleaned whole, and no spill folder is left in the lake."""
    data_dir, _ = small_day
    day, window = ("2026-11-20", "2026-11-20"), ("2026-11-20-00:00", "2026-11-20-23:45")
    frames = {}
    for rows_per_bucket in (None, "2"):
        if rows_per_bucket:
            monkeypatch.setenv("COMPLAINTS_CLEANING_ROWS_PER_BUCKET", rows_per_bucket)
        defs = build_definitions(Settings.from_env())
        with dg.instance_for_test() as instance:
            assert run_assets(defs, instance, ["customers"], day).success
            assert run_assets(defs, instance, ["social_media_raw", "web_forms_raw"], window).success
            assert run_assets(defs, instance, ["call_center_raw"], ("2026-11-20-00:00", "2026-11-20-12:00")).success
            result = run_assets(defs, instance, list(CLEANED_LAYER), day)
            assert result.success
            checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
            meta = result.asset_materializations_for_node("complaints_cleaned")[0].metadata
        assert checks == {"cleaned_contract": True, "records_accounted_for": True, "no_unmasked_pii": True,
                          "channel_volume_normal": True, "customers_known": True}
        frames[rows_per_bucket] = {
            path.parent.parent.name: pl.read_parquet(path) for path in sorted((data_dir / "silver").glob("*/date=2026-11-20/part.parquet"))
        }
        assert meta["buckets_per_day"].value == {"2026-11-20": 4 if rows_per_bucket else 1}
        frames[rows_per_bucket]["metadata"] = {k: v.value for k, v in meta.items() if k not in ("preview", "buckets_per_day")}
        assert not list(data_dir.glob(".cleaning-*"))
    assert frames[None]["metadata"]["received_records"] == 8
    assert set(frames[None]) == {"complaints_cleaned", "complaints_quarantine", "complaint_duplicates", "duplicate_review_queue", "metadata"}
    for name, frame in frames[None].items():
        if name == "metadata":
            assert frames["2"][name] == frame
        else:
            assert_frame_equal(frames["2"][name], frame)


def test_a_rerun_over_a_range_compares_each_day_with_the_earlier_days_as_the_rerun_rewrites_them(small_day):
    """Day 1 committed by an older run lacks form 2 (say, it arrived late); a rerun over both days
    restages day 1 with it, and day 2's copy of form 2 must be caught against that staged day 1,
    not against the committed file it is about to replace."""
    data_dir, _ = small_day
    defs = build_definitions(Settings.from_env())
    day1_path = data_dir / "silver/complaints_cleaned/date=2026-11-20/part.parquet"
    with dg.instance_for_test() as instance:
        _two_days_of_forms(data_dir, defs, instance)
        assert run_assets(defs, instance, list(CLEANED_LAYER), ("2026-11-20", "2026-11-20")).success
        pl.read_parquet(day1_path).filter(pl.col("source_record_id") != "2").write_parquet(day1_path)
        assert run_assets(defs, instance, list(CLEANED_LAYER), ("2026-11-20", "2026-11-21")).success
    day1 = pl.read_parquet(day1_path)
    assert sorted(day1["source_record_id"]) == ["1", "2"]
    duplicates = pl.read_parquet(data_dir / "silver/complaint_duplicates/date=2026-11-21/part.parquet")
    assert duplicates.select("source_record_id", "rule").rows() == [("4", "same_contact_same_text")]
    assert duplicates["duplicate_of"].to_list() == day1.filter(pl.col("source_record_id") == "2")["complaint_id"].to_list()
    day2 = pl.read_parquet(data_dir / "silver/complaints_cleaned/date=2026-11-21/part.parquet")
    assert day2["source_record_id"].to_list() == ["1"]


def test_a_day_run_on_its_own_compares_with_the_earlier_days_already_committed(small_day):
    data_dir, _ = small_day
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        _two_days_of_forms(data_dir, defs, instance)
        assert run_assets(defs, instance, list(CLEANED_LAYER), ("2026-11-20", "2026-11-20")).success
        assert run_assets(defs, instance, list(CLEANED_LAYER), ("2026-11-21", "2026-11-21")).success
    day1 = pl.read_parquet(data_dir / "silver/complaints_cleaned/date=2026-11-20/part.parquet")
    duplicates = pl.read_parquet(data_dir / "silver/complaint_duplicates/date=2026-11-21/part.parquet")
    assert duplicates.select("source_record_id", "rule").rows() == [("4", "same_contact_same_text")]
    assert duplicates["duplicate_of"].to_list() == day1.filter(pl.col("source_record_id") == "2")["complaint_id"].to_list()


def test_a_range_is_put_in_place_only_if_every_day_passes(small_day, monkeypatch):
    """A blocking check failing on the range's last day: no day of the run is put in place (the
    first day's files, already staged, are deleted), and the files of an earlier run stay as they
    were, byte for byte."""
    data_dir, _ = small_day
    defs = build_definitions(Settings.from_env())
    import complaints_platform.defs.cleaned.complaints as cleaned_module
    from complaints_platform.lib.quality import unmasked_pii_rows

    def leak_on_day_2(frame, columns, region):
        found = unmasked_pii_rows(frame, columns, region)
        if "received_date" in frame.columns and (frame["received_date"] == date(2026, 11, 21)).any():
            return pl.concat([pl.DataFrame({"column": columns[:1], "kinds": ["PHONE"]}), found])
        return found

    with dg.instance_for_test() as instance:
        _two_days_of_forms(data_dir, defs, instance)
        assert run_assets(defs, instance, list(CLEANED_LAYER), ("2026-11-20", "2026-11-20")).success
        before = _silver_files(data_dir)
        assert any("date=2026-11-20" in name for name in before)
        monkeypatch.setattr(cleaned_module, "unmasked_pii_rows", leak_on_day_2)
        result = run_assets(defs, instance, list(CLEANED_LAYER), ("2026-11-20", "2026-11-21"))
        assert not result.success
        check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_unmasked_pii")
        assert check.passed is False and check.metadata["rows_with_pii"].value == 1
    assert _silver_files(data_dir) == before  # day 1 as the first run left it, no day 2, nothing staged left
