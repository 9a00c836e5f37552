"""Website forms: incremental extraction by updated_at window (SQLite, PostgreSQL), and bronze."""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from complaints_platform.lib.bronze import bronze_schema
from complaints_platform.lib.call_center import decode_export
from complaints_platform.lib import web_forms
from complaints_platform.lib.web_forms import (
    EXTRACT_SCHEMA,
    UNREADABLE,
    create_schema,
    engine_for,
    extract_forms,
    parse_web_forms,
    upsert_forms,
)

T0 = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
POSTGRES_URL = os.environ.get(
    "COMPLAINTS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CFPB_SAMPLE = (
    Path(__file__).resolve().parents[2]
    / "shared/data/real/cfpb_consumer_complaints/complaints_sample.csv"
)


def form(form_id: int, at: datetime, **overrides) -> dict:
    return {
        "id": form_id,
        "submitted_at": at,
        "updated_at": at,
        "full_name": f"Customer {form_id}",
        "email": f"customer{form_id}@example.com",
        "phone": None,
        "account_number": f"ACC-{form_id:05d}",
        "subject": "Billing",
        "message": f"Complaint number {form_id}",
        "status": "new",
        **overrides,
    }


def window(index: int) -> tuple[datetime, datetime]:
    return T0 + index * WINDOW, T0 + (index + 1) * WINDOW


def versions(frame: pl.DataFrame) -> list[tuple[int, datetime, str]]:
    return list(frame.select("id", "updated_at", "status").iter_rows())


def assert_incremental_windows(url: str) -> None:
    """Each change is extracted once, by the window its updated_at falls in, as the sensor would."""
    create_schema(url)
    upsert_forms(
        url,
        [
            form(1, T0),
            form(2, T0 + WINDOW - timedelta(microseconds=1)),  # last instant of window 0
            form(3, T0 + WINDOW),  # first instant of window 1: the bound is exclusive
        ],
    )
    first = extract_forms(url, *window(0))
    assert first.schema == pl.Schema(EXTRACT_SCHEMA)
    assert versions(first) == [
        (1, T0, "new"),
        (2, T0 + WINDOW - timedelta(microseconds=1), "new"),
    ]

    # Form 1 is picked up by an agent, and form 4 arrives with the same updated_at as form 3.
    picked_up = {"id": 1, "status": "in_progress", "updated_at": T0 + timedelta(minutes=20)}
    upsert_forms(url, [picked_up])
    upsert_forms(url, [form(4, T0 + WINDOW)])
    assert versions(extract_forms(url, *window(1))) == [
        (3, T0 + WINDOW, "new"),
        (4, T0 + WINDOW, "new"),  # ties ordered by id
        (1, T0 + timedelta(minutes=20), "in_progress"),
    ]

    upsert_forms(url, [form(1, T0, status="closed", updated_at=T0 + timedelta(minutes=31))])
    third = extract_forms(url, *window(2))
    assert versions(third) == [(1, T0 + timedelta(minutes=31), "closed")]
    assert third.row(0, named=True)["submitted_at"] == T0  # the original submission time stays

    # Bounds in another zone, or naive (UTC), name the same instants.
    paris_winter = timezone(timedelta(hours=1))
    in_paris = versions(extract_forms(url, *(t.astimezone(paris_winter) for t in window(1))))
    naive = versions(extract_forms(url, *(t.replace(tzinfo=None) for t in window(1))))
    assert in_paris == naive == versions(extract_forms(url, *window(1)))
    empty = extract_forms(url, *window(3))
    assert empty.height == 0 and empty.schema == pl.Schema(EXTRACT_SCHEMA)


def test_sqlite_incremental_windows(tmp_path: Path) -> None:
    assert_incremental_windows(f"sqlite:///{tmp_path / 'oltp' / 'web_forms.sqlite'}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway schema in the test database, first on the search path; dropped afterwards."""
    admin = engine_for(POSTGRES_URL)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("select 1"))
    except sa.exc.OperationalError as error:
        admin.dispose()
        where = sa.engine.make_url(POSTGRES_URL).render_as_string(hide_password=True)
        pytest.skip(
            f"PostgreSQL not reachable at {where} ({type(error.orig).__name__}); "
            "set COMPLAINTS_TEST_POSTGRES_URL to a reachable server to run this test"
        )
    schema = f"test_web_forms_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'create schema "{schema}"'))
    # A session zone far from UTC proves the extract does not depend on the server's setting.
    url = sa.engine.make_url(POSTGRES_URL).update_query_dict(
        {"options": f"-csearch_path={schema} -cTimeZone=Pacific/Auckland"}
    )
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()


@pytest.mark.parametrize(
    "timestamp_type", ["timestamp with time zone", "timestamp without time zone"]
)
def test_postgres_incremental_windows(postgres_url: str, timestamp_type: str) -> None:
    """Our own schema uses timestamptz; a website's table may hold naive UTC timestamps instead."""
    engine = engine_for(postgres_url)
    try:
        if timestamp_type == "timestamp without time zone":
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "create table complaint_forms (id integer primary key, "
                        "submitted_at timestamp not null, updated_at timestamp not null, "
                        "full_name text not null, email text not null, phone text, "
                        "account_number text, subject text not null, message text not null, "
                        "status text not null)"
                    )
                )
        assert_incremental_windows(postgres_url)
        with engine.connect() as connection:
            assert connection.execute(sa.text("show timezone")).scalar() == "UTC"
            stored = connection.execute(
                sa.text("select updated_at::text from complaint_forms where id = 3")
            ).scalar()
            column_type = connection.execute(
                sa.text(
                    "select data_type from information_schema.columns "
                    "where table_schema = current_schema() and table_name = 'complaint_forms' "
                    "and column_name = 'updated_at'"
                )
            ).scalar()
    finally:
        engine.dispose()
    assert column_type == timestamp_type
    assert stored.startswith("2026-11-21 14:15:00")  # stored as UTC, whatever the session zone


def test_parse_web_forms_bronze_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'forms.sqlite'}"
    create_schema(url)
    upsert_forms(
        url,
        [
            form(7, T0 + timedelta(seconds=1, microseconds=250), message="", phone="+447700900123"),
            form(8, T0 + timedelta(minutes=2), message='Line one\nLine "two" – £40', full_name="Zoë"),
        ],
    )
    extract = extract_forms(url, *window(0))
    bronze = parse_web_forms(extract, "landing/web_forms/date=2026-11-21/1400.parquet")
    assert bronze.schema == pl.Schema(bronze_schema("web_forms"))
    seven, eight = bronze.iter_rows(named=True)

    assert seven["record_id"] == "7"
    assert seven["source_location"] == "landing/web_forms/date=2026-11-21/1400.parquet row id=7"
    # An empty message is kept: the cleaned layer decides what to do with it.
    assert seven["text"] == "" and seven["parse_error"] is None
    assert seven["received_at"] == T0 + timedelta(seconds=1, microseconds=250)
    assert seven["event_time_text"] == "2026-11-21T14:00:01.000250+00:00"
    assert seven["updated_at_text"] == "2026-11-21T14:00:01.000250+00:00"
    assert seven["event_time_zone"] == "UTC"
    assert (seven["phone"], seven["account_number"]) == ("+447700900123", "ACC-00007")
    assert (seven["author_name"], seven["email"]) == ("Customer 7", "customer7@example.com")
    assert (seven["status"], seven["subject"], seven["handle"]) == ("new", "Billing", None)

    assert eight["text"] == 'Line one\nLine "two" – £40'
    assert eight["author_name"] == "Zoë"
    raw = json.loads(eight["raw"])
    assert raw["message"] == 'Line one\nLine "two" – £40'
    assert raw["id"] == 8 and raw["updated_at"] == "2026-11-21T14:02:00+00:00"


def test_parse_web_forms_row_without_id_is_a_parse_error() -> None:
    extract = pl.DataFrame([form(1, T0, message="m") | {"id": None}], schema=EXTRACT_SCHEMA)
    row = parse_web_forms(extract, "forms.parquet").row(0, named=True)
    assert row["record_id"] is None
    assert row["parse_error"] == "row has no id"
    assert row["source_location"] == "forms.parquet row index=0"
    assert row["text"] == "m"
    assert parse_web_forms(extract.clear(), "forms.parquet").height == 0


def test_upsert_rejects_a_partial_row_for_a_new_form(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'forms.sqlite'}"
    create_schema(url)
    with pytest.raises(ValueError, match="form 99 does not exist"):
        upsert_forms(url, [{"id": 99, "status": "closed", "updated_at": T0}])
    with pytest.raises(ValueError, match="unknown complaint_forms columns: body"):
        upsert_forms(url, [form(1, T0) | {"body": "x"}])


def cfpb_narratives(limit: int) -> list[str]:
    if not CFPB_SAMPLE.exists():
        pytest.skip(f"CFPB sample not found at {CFPB_SAMPLE}")
    text, _ = decode_export(CFPB_SAMPLE.read_bytes())
    narratives = []
    for record in csv.DictReader(io.StringIO(text, newline="")):
        narrative = record["Consumer complaint narrative"]
        if narrative.strip():
            narratives.append(narrative)
            if len(narratives) == limit:
                break
    return narratives


def test_real_cfpb_narratives_survive_extract_and_parse(tmp_path: Path) -> None:
    """Real web-typed complaints (newlines, XXXX redactions, long texts) come back byte for byte."""
    narratives = cfpb_narratives(200)
    assert len(narratives) == 200
    assert any("\n" in text for text in narratives) and any("XXXX" in text for text in narratives)
    url = f"sqlite:///{tmp_path / 'forms.sqlite'}"
    create_schema(url)
    # Spread over a day of 15-minute windows, several per window.
    upsert_forms(
        url,
        [
            form(i, T0 + timedelta(minutes=7 * i), message=text)
            for i, text in enumerate(narratives, 1)
        ],
    )
    bronze = pl.concat(
        parse_web_forms(extract_forms(url, start, start + WINDOW), f"window {start:%H%M}")
        for start in (T0 + n * WINDOW for n in range(4 * 24 + 4))
    )
    assert bronze.height == 200
    assert bronze["parse_error"].null_count() == 200
    returned = dict(zip(bronze["record_id"], bronze["text"], strict=True))
    for i, text in enumerate(narratives, 1):
        assert returned[str(i)].encode("utf-8") == text.encode("utf-8")
        assert json.loads(bronze.filter(pl.col("record_id") == str(i))["raw"][0])["message"] == text


def test_odd_values_another_writer_left_in_sqlite_are_named_not_fatal(tmp_path: Path) -> None:
    """SQLite's types are advisory: garbage times, numbers, bytes and text that is not UTF-8 used
    to fail the whole window's extraction; now each odd row carries its reason."""
    url = f"sqlite:///{tmp_path / 'forms.sqlite'}"
    create_schema(url)
    good = {**form(1, T0), "submitted_at": "2026-11-21 14:00:00.000000", "updated_at": "2026-11-21 14:01:00.000000"}
    rows = [
        good,
        {**good, "id": 2, "submitted_at": "yesterday"},
        {**good, "id": 3, "submitted_at": "2026-11-21T15:00:00+01:00"},
        {**good, "id": 4, "message": b"\xff\xfe not utf-8"},
        {**good, "id": 5, "message": b"valid utf-8 bytes \xc2\xa3"},
        {**good, "id": 6, "message": 12345},
        {**good, "id": 7, "updated_at": "2026-11-21 14:02:00 garbage"},
        {**good, "id": 8, "message": "nul \x00 inside"},
    ]
    engine = engine_for(url)
    try:
        with engine.begin() as connection:
            for row in rows:
                connection.exec_driver_sql(
                    f"insert into complaint_forms ({', '.join(row)}) values ({', '.join('?' * len(row))})",
                    tuple(row.values()),
                )
            connection.exec_driver_sql(
                "insert into complaint_forms values (9, '2026-11-21 14:00:00', '2026-11-21 14:03:00', 'x', 'y',"
                " null, null, 's', CAST(X'6E6F FF 21' AS TEXT), 'new')".replace(" FF ", "FF")
            )
    finally:
        engine.dispose()

    extract = extract_forms(url, *window(0))
    assert extract.schema == pl.Schema(EXTRACT_SCHEMA)
    bronze = {r["record_id"]: r for r in parse_web_forms(extract, "x").iter_rows(named=True)}
    assert len(bronze) == 9
    assert bronze["1"]["parse_error"] is None
    # An unreadable submission time is kept as stored, for the cleaned layer to quarantine.
    assert (bronze["2"]["parse_error"], bronze["2"]["event_time_text"]) == (None, "yesterday")
    assert bronze["3"]["event_time_text"] == "2026-11-21T14:00:00+00:00"
    assert bronze["4"]["parse_error"] == "message is not valid UTF-8"
    assert bronze["4"]["text"] == "\ufffd\ufffd not utf-8"
    assert (bronze["5"]["parse_error"], bronze["5"]["text"]) == (None, "valid utf-8 bytes £")
    assert (bronze["6"]["parse_error"], bronze["6"]["text"]) == (None, "12345")
    assert bronze["7"]["parse_error"] == "updated_at is not a timestamp: '2026-11-21 14:02:00 garbage'"
    assert bronze["7"]["received_at"] == T0  # the window it was extracted in stands in
    assert bronze["8"]["text"] == "nul \x00 inside"
    assert bronze["9"]["parse_error"] == "message is not valid UTF-8"
    assert bronze["9"]["text"] == "no\ufffd!"
    assert json.loads(bronze["9"]["raw"])["unreadable_values"] == {"message": "not valid UTF-8"}
    assert "unreadable_values" not in json.loads(bronze["1"]["raw"])


def test_ordinary_windows_are_read_by_column_and_give_what_row_by_row_reading_gives(tmp_path: Path, monkeypatch) -> None:
    """A window whose values are all of their column's type is read and parsed column by column
    (no Python call per row); a window with one odd value is read row by row. Its ordinary rows
    come out the same either way, raw JSON included, byte for byte."""
    url = f"sqlite:///{tmp_path / 'forms.sqlite'}"
    create_schema(url)
    awkward = "".join(map(chr, range(1, 32))) + '\x7f "quoted" back\\slash / \u2028\u2029 £ é 😀 e\u0301 <b>'
    ordinary = [
        form(1, T0 + timedelta(microseconds=1), message=awkward, phone="+44 7700 900123"),
        form(2, T0 + timedelta(seconds=5, microseconds=123000), message="nul \x00 inside", account_number=None),
        form(3, T0 + timedelta(minutes=1), full_name='Zoë "Z" O\'Neil', subject=""),
        form(4, T0 + timedelta(minutes=2, microseconds=999999), message="x" * 5000, status="closed"),
    ]
    upsert_forms(url, ordinary)
    real_read_row = web_forms._read_row

    def no_row_reading(*args):
        raise AssertionError("an ordinary window was read row by row")

    monkeypatch.setattr(web_forms, "_read_row", no_row_reading)
    by_column = extract_forms(url, *window(0))
    assert by_column.height == 4 and by_column.schema == pl.Schema(EXTRACT_SCHEMA)
    bronze_by_column = parse_web_forms(by_column, "x")
    assert json.loads(bronze_by_column["raw"][0])["message"] == awkward

    monkeypatch.setattr(web_forms, "_read_row", real_read_row)
    engine = engine_for(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "insert into complaint_forms values (5, '2026-11-21 14:03:00.000000', '2026-11-21 14:03:00.000000',"
                " 'x', 'y', null, null, 's', ?, 'new')",
                (b"\xff not utf-8",),
            )
    finally:
        engine.dispose()
    by_row = extract_forms(url, *window(0))
    assert by_row[UNREADABLE].to_list()[-1] == '{"message": "not valid UTF-8"}'
    bronze_by_row = parse_web_forms(by_row, "x")
    assert bronze_by_row["parse_error"].to_list()[-1] == "message is not valid UTF-8"
    assert by_row.head(4).equals(by_column)
    assert bronze_by_row.head(4).equals(bronze_by_column)
