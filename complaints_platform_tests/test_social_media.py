"""lib/social_media: receipt windows, finding landed files, and parsing them into bronze rows."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from complaints_platform.lib.bronze import bronze_schema
from complaints_platform.lib.social_media import (
    landing_files_for_window,
    new_landing_files,
    parse_social_media_landing,
    receipt_window,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def land(
    root: Path,
    window: str,
    name: str,
    body: str | dict | None = None,
    *,
    envelope: dict | None = None,
    content: bytes | None = None,
    mtime: datetime | None = None,
) -> Path:
    """Write a landed file as the receiver would; ``window`` is 'YYYY-MM-DD/HHMM'."""
    day, hhmm = window.split("/")
    path = root / "social_media" / f"date={day}" / hhmm / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is None:
        if envelope is None:
            body_text = body if isinstance(body, str) else json.dumps(body or {"data": {"text": "x"}})
            envelope = {
                "webhook_id": Path(name).stem,
                "webhook_timestamp": 1795269805,
                "received_at": f"{day}T{hhmm[:2]}:{hhmm[2:]}:05.000123Z",
                "body": body_text,
            }
        content = json.dumps(envelope).encode()
    path.write_bytes(content)
    if mtime is not None:
        ns = int(mtime.timestamp()) * 1_000_000_000
        os.utime(path, ns=(ns, ns))
    return path


def post(**data_overrides: object) -> dict:
    data = {
        "platform": "twitter",
        "post_id": "1859923412",
        "author": {"handle": "@jdoe", "display_name": "Jane Doe"},
        "text": "@TelcoCare no signal in Leeds since 8am!!",
        "created_at": "2026-11-21T14:03:22+00:00",
        "in_reply_to": None,
        "lang": "en",
    }
    data.update(data_overrides)
    return {"type": "social.post.created", "timestamp": "2026-11-21T14:03:25.120Z", "data": data}


# --- receipt windows -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (utc(2026, 11, 21, 14, 0), utc(2026, 11, 21, 14, 0)),
        (utc(2026, 11, 21, 14, 14, 59, 999999), utc(2026, 11, 21, 14, 0)),
        (utc(2026, 11, 21, 14, 15), utc(2026, 11, 21, 14, 15)),
        (utc(2026, 11, 21, 23, 59, 59), utc(2026, 11, 21, 23, 45)),
        # 00:20 at +05:30 is 18:50 UTC the day before.
        (datetime(2026, 11, 22, 0, 20, tzinfo=timezone(timedelta(hours=5, minutes=30))),
         utc(2026, 11, 21, 18, 45)),
    ],
)
def test_receipt_window_floors_to_15_minutes_utc(ts: datetime, expected: datetime) -> None:
    window = receipt_window(ts)
    assert window == expected
    assert window.tzinfo == UTC


def test_naive_times_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="naive"):
        receipt_window(datetime(2026, 11, 21, 14, 3))
    with pytest.raises(ValueError, match="naive"):
        landing_files_for_window(tmp_path, datetime(2026, 11, 21), utc(2026, 11, 22))


# --- finding landed files ------------------------------------------------------------------------


def test_landing_files_for_one_window_and_a_range_across_midnight(tmp_path: Path) -> None:
    a = land(tmp_path, "2026-11-21/2330", "a.json")
    b = land(tmp_path, "2026-11-21/2345", "b.json")
    c = land(tmp_path, "2026-11-22/0000", "c.json")
    c2 = land(tmp_path, "2026-11-22/0000", "c2.json")
    land(tmp_path, "2026-11-22/0015", "d.json")
    # Not events: the id index, a write in flight, a stray file, folders that are not windows.
    (tmp_path / "social_media" / "_ids").mkdir()
    (tmp_path / "social_media" / "_ids" / "a").write_text("social_media/date=2026-11-21/2330/a.json")
    (tmp_path / "social_media" / "date=2026-11-22" / "0000" / ".c3.json.0f1e.tmp").write_text("{")
    (tmp_path / "social_media" / "date=2026-11-22" / "0000" / "notes.txt").write_text("x")
    (tmp_path / "social_media" / "date=2026-11-22" / "junk").mkdir()
    (tmp_path / "social_media" / "date=bad").mkdir()

    assert landing_files_for_window(tmp_path, utc(2026, 11, 22, 0, 0), utc(2026, 11, 22, 0, 15)) == [c, c2]
    assert landing_files_for_window(tmp_path, utc(2026, 11, 21, 23, 45), utc(2026, 11, 22, 0, 15)) == [b, c, c2]
    # A backfill over the whole night, given in another zone.
    paris = timezone(timedelta(hours=1))
    assert landing_files_for_window(
        tmp_path, datetime(2026, 11, 22, 0, 30, tzinfo=paris), utc(2026, 11, 22, 0, 15)
    ) == [a, b, c, c2]
    assert landing_files_for_window(tmp_path, utc(2026, 11, 20), utc(2026, 11, 21)) == []
    assert landing_files_for_window(tmp_path / "nowhere", utc(2026, 11, 21), utc(2026, 11, 23)) == []


def test_new_landing_files_uses_cursor_lookback_and_sorts_by_mtime(tmp_path: Path) -> None:
    old = land(tmp_path, "2026-11-19/1000", "old.json", mtime=utc(2026, 11, 19, 10, 0, 1))
    late_rename = land(tmp_path, "2026-11-21/1400", "late.json", mtime=utc(2026, 11, 21, 14, 4))
    seen = land(tmp_path, "2026-11-21/1400", "seen.json", mtime=utc(2026, 11, 21, 14, 5))
    newer = land(tmp_path, "2026-11-21/1415", "newer.json", mtime=utc(2026, 11, 21, 14, 16))
    # Received just before midnight, on disk just after: must not be missed by the date pruning.
    midnight = land(tmp_path, "2026-11-21/2345", "midnight.json", mtime=utc(2026, 11, 22, 0, 0, 2))
    (tmp_path / "social_media" / "_ids").mkdir()
    (tmp_path / "social_media" / "_ids" / "seen").write_text("x")

    cursor = int(utc(2026, 11, 21, 14, 5).timestamp()) * 1_000_000_000
    without_lookback = new_landing_files(tmp_path, cursor, 0)
    assert [p for p, _, _ in without_lookback] == [newer, midnight]
    assert without_lookback[0] == (newer, os.stat(newer).st_mtime_ns, utc(2026, 11, 21, 14, 15))
    assert without_lookback[1][2] == utc(2026, 11, 21, 23, 45)

    lookback = 5 * 60 * 1_000_000_000
    with_lookback = new_landing_files(tmp_path, cursor, lookback)
    assert [p for p, _, _ in with_lookback] == [late_rename, seen, newer, midnight]

    after_midnight = int(utc(2026, 11, 22, 0, 0, 1).timestamp()) * 1_000_000_000
    assert [p for p, _, _ in new_landing_files(tmp_path, after_midnight, 0)] == [midnight]

    # A first tick (cursor 0) sees everything, oldest first.
    assert [p for p, _, _ in new_landing_files(tmp_path, 0, lookback)][0] == old
    assert len(new_landing_files(tmp_path, 0, 0)) == 5


# --- parsing into bronze -------------------------------------------------------------------------


def test_parse_a_valid_post(tmp_path: Path) -> None:
    body = json.dumps(post(in_reply_to="1859900000"), indent=2)
    path = land(tmp_path, "2026-11-21/1400", "msg_2Qx.json", body)

    frame = parse_social_media_landing([path], tmp_path)

    assert frame.schema == pl.Schema(bronze_schema("social_media"))
    assert frame.to_dicts() == [
        {
            "record_id": "msg_2Qx",
            "source_location": "social_media/date=2026-11-21/1400/msg_2Qx.json",
            "received_at": utc(2026, 11, 21, 14, 0, 5, 123),
            "raw": body,
            "parse_error": None,
            "event_time_text": "2026-11-21T14:03:22+00:00",
            "event_time_zone": "UTC",
            "text": "@TelcoCare no signal in Leeds since 8am!!",
            "author_name": "Jane Doe",
            "email": None,
            "phone": None,
            "handle": "@jdoe",
            "account_number": None,
            "status": None,
            "resolved_at_text": None,
            "platform": "twitter",
            "post_id": "1859923412",
            "in_reply_to": "1859900000",
            "event_type": "social.post.created",
        }
    ]


def test_a_segment_is_one_row_per_whole_line_and_an_append_in_flight_is_not_read(tmp_path: Path) -> None:
    """The receiver's segments: each whole line an envelope (a bad one a row with its reason),
    blank lines skipped, and the bytes after the last newline (an append in flight) left for the
    next read."""
    def line(webhook_id: str, text: str) -> bytes:
        return json.dumps({"webhook_id": webhook_id, "webhook_timestamp": 1795269805,
                           "received_at": "2026-11-21T14:00:05.000123Z",
                           "body": json.dumps(post(text=text), ensure_ascii=False)}, ensure_ascii=False).encode()

    content = b"\n".join([line("msg_a", "no signal \u2028 at all"), b"{not json", b"", line("msg_b", "bill")])
    path = land(tmp_path, "2026-11-21/1400", "140005000123-0123456789ab.jsonl", content=content + b"\n" + line("msg_c", "x")[:30])

    frame = parse_social_media_landing([path], tmp_path)

    location = "social_media/date=2026-11-21/1400/140005000123-0123456789ab.jsonl"
    assert frame.select("record_id", "source_location", "text").rows() == [
        ("msg_a", f"{location}:1", "no signal \u2028 at all"),
        ("140005000123-0123456789ab:2", f"{location}:2", None),
        ("msg_b", f"{location}:4", "bill"),
    ]
    assert frame["parse_error"][1].startswith("envelope is not valid JSON")
    assert frame["parse_error"].null_count() == 2

    path.write_bytes(content + b"\n" + line("msg_c", "x") + b"\n")  # the append completes
    assert parse_social_media_landing([path], tmp_path)["record_id"].to_list()[-1] == "msg_c"


def test_parse_no_files_gives_an_empty_bronze_frame(tmp_path: Path) -> None:
    frame = parse_social_media_landing([], tmp_path)
    assert frame.height == 0
    assert frame.schema == pl.Schema(bronze_schema("social_media"))


def test_parse_bad_content_gives_rows_with_reasons_and_never_drops_a_file(tmp_path: Path) -> None:
    w = "2026-11-21/1400"
    no_text = land(tmp_path, w, "no_text.json", post(text=None))
    text_number = land(tmp_path, w, "text_number.json", post(text=42, post_id=1859923412))
    no_data = land(tmp_path, w, "no_data.json", {"type": "social.post.created"})
    body_not_json = land(tmp_path, w, "body_not_json.json", "{not json")
    body_array = land(tmp_path, w, "body_array.json", "[1, 2]")
    author_string = land(tmp_path, w, "author_string.json", post(author="@jdoe"))
    truncated = land(tmp_path, w, "truncated.json", content=b'{"webhook_id": "trunc", "body": "{')
    not_utf8 = land(tmp_path, w, "not_utf8.json", content=b"\xff\xfe{}")
    envelope_no_body = land(
        tmp_path,
        w,
        "no_body.json",
        envelope={"webhook_id": "no_body", "received_at": "2026-11-21T14:00:05Z"},
    )
    bad_received_at = land(
        tmp_path,
        w,
        "bad_received.json",
        envelope={
            "webhook_id": "bad_received",
            "received_at": "yesterday",
            "body": json.dumps(post()),
        },
    )
    missing = tmp_path / "social_media" / "date=2026-11-21" / "1400" / "vanished.json"
    files = [
        no_text, text_number, no_data, body_not_json, body_array, author_string,
        truncated, not_utf8, envelope_no_body, bad_received_at, missing,
    ]  # fmt: skip

    frame = parse_social_media_landing(files, tmp_path)
    rows = {row["record_id"]: row for row in frame.to_dicts()}

    assert frame.height == len(files)
    assert frame["parse_error"].null_count() == 0
    assert rows["no_text"]["parse_error"] == "data.text is missing"
    assert rows["no_text"]["handle"] == "@jdoe"  # what could be read is kept
    assert rows["no_text"]["post_id"] == "1859923412"
    assert rows["text_number"]["parse_error"] == (
        "data.text is int, expected string; data.post_id is int, expected string"
    )
    assert rows["text_number"]["text"] is None and rows["text_number"]["author_name"] == "Jane Doe"
    assert rows["no_data"]["parse_error"] == "body.data is missing"
    assert rows["no_data"]["event_type"] == "social.post.created"
    assert rows["body_not_json"]["parse_error"].startswith("body is not valid JSON")
    assert rows["body_not_json"]["raw"] == "{not json"
    assert rows["body_not_json"]["received_at"] == utc(2026, 11, 21, 14, 0, 5, 123)
    assert rows["body_array"]["parse_error"] == "body is list, expected object"
    assert rows["author_string"]["parse_error"] == "data.author is str, expected object"
    assert rows["author_string"]["text"] == "@TelcoCare no signal in Leeds since 8am!!"

    # Unreadable envelopes fall back to the file name and keep the file's text as raw.
    assert rows["truncated"]["parse_error"].startswith("envelope is not valid JSON")
    assert rows["truncated"]["raw"] == '{"webhook_id": "trunc", "body": "{'
    # Bronze never has a null receipt time: the file's modification time stands in.
    assert rows["truncated"]["received_at"] == datetime.fromtimestamp(truncated.stat().st_mtime, UTC)
    assert frame["received_at"].null_count() == 0
    assert rows["not_utf8"]["parse_error"].startswith("envelope is not valid JSON")
    assert rows["no_body"]["parse_error"] == "envelope body is missing"
    assert rows["no_body"]["received_at"] == utc(2026, 11, 21, 14, 0, 5)
    assert rows["bad_received"]["parse_error"] == "envelope received_at is not ISO-8601: 'yesterday'"
    assert rows["bad_received"]["text"] == "@TelcoCare no signal in Leeds since 8am!!"
    assert rows["vanished"]["parse_error"].startswith("envelope unreadable")
    assert rows["vanished"]["source_location"] == "social_media/date=2026-11-21/1400/vanished.json"


def test_a_lone_surrogate_escape_becomes_a_replacement_character(tmp_path: Path) -> None:
    # Half an emoji ("\ud83d" without its pair) is valid JSON text but no character: it used to
    # stop the whole window, since no UTF-8 column can hold it.
    body = json.dumps(post(text="no signal \ud83d", author={"handle": "@a\udc00b"}))
    assert "\\ud83d" in body
    path = land(tmp_path, "2026-11-21/1400", "half_emoji.json", body)
    row = parse_social_media_landing([path], tmp_path).row(0, named=True)
    assert row["parse_error"] is None
    assert row["text"] == "no signal \ufffd"
    assert row["handle"] == "@a\ufffdb"
    assert row["raw"] == body  # the body exactly as received, escape and all


def test_a_zero_byte_envelope_is_a_row_naming_the_file(tmp_path: Path) -> None:
    path = land(tmp_path, "2026-11-21/1400", "empty.json", content=b"")
    row = parse_social_media_landing([path], tmp_path).row(0, named=True)
    assert row["parse_error"].startswith("envelope is not valid JSON")
    assert row["source_location"] == "social_media/date=2026-11-21/1400/empty.json"
