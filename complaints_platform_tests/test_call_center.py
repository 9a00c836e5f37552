"""Call-centre exports as they really arrive: BOMs, Windows-1252, UTF-16, quoted newlines, junk."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from complaints_platform.lib.bronze import bronze_schema
from complaints_platform.lib.call_center import (
    decode_export,
    export_timestamp,
    files_for_window,
    parse_call_center_csv,
)

HEADER = (
    "call_id,call_started_at,agent_id,account_number,caller_name,caller_phone,notes,status,"
    "resolved_at,wait_seconds,handle_seconds"
)
TZ = "Europe/London"
PATTERN = r"(?P<ts>\d{8}T\d{4})"


def write(path: Path, text: str, encoding: str = "utf-8", newline: str = "\r\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def parse(path: Path, column_map: dict[str, str] | None = None) -> pl.DataFrame:
    return parse_call_center_csv(path, column_map or {}, TZ, location_root=path.parent.parent)


def by_id(frame: pl.DataFrame) -> dict[str, dict]:
    return {row["record_id"]: row for row in frame.iter_rows(named=True)}


# --- decoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        ("\ufeffcafé".encode("utf-8"), "café", "utf-8-sig"),
        ("\ufeffcafé".encode("utf-16-le"), "café", "utf-16-le"),
        ("\ufeffcafé".encode("utf-16-be"), "café", "utf-16-be"),
        ("café – ok".encode("utf-8"), "café – ok", "utf-8"),
        ("Zoë’s bill €40".encode("cp1252"), "Zoë’s bill €40", "cp1252"),
        (b"caf\xe9 \x81", "café \x81", "cp1252+latin-1"),
        (b"", "", "utf-8"),
    ],
)
def test_decode_export(data: bytes, text: str, encoding: str) -> None:
    assert decode_export(data) == (text, encoding)


# --- finding a window's files ---------------------------------------------------------------------


def test_export_timestamp_from_name_or_mtime(tmp_path: Path) -> None:
    named = write(tmp_path / "calls_20261121T1200.csv", HEADER)
    assert export_timestamp(named, PATTERN) == datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    unnamed = write(tmp_path / "calls_latest.csv", HEADER)
    moment = datetime(2026, 11, 21, 3, 30, tzinfo=UTC).timestamp()
    os.utime(unnamed, (moment, moment))
    assert export_timestamp(unnamed, PATTERN) == datetime(2026, 11, 21, 3, 30, tzinfo=UTC)

    # A deployment's own pattern; an impossible stamp falls back to the mtime.
    custom = write(tmp_path / "export-20261121T0000-calls.csv", HEADER)
    assert export_timestamp(custom, r"^export-(?P<ts>\d{8}T\d{4})-calls") == datetime(
        2026, 11, 21, tzinfo=UTC
    )
    impossible = write(tmp_path / "calls_20261399T9999.csv", HEADER)
    os.utime(impossible, (moment, moment))
    assert export_timestamp(impossible, PATTERN) == datetime(2026, 11, 21, 3, 30, tzinfo=UTC)


def test_files_for_window_takes_its_half_day_only(tmp_path: Path) -> None:
    for name in [
        "calls_20261121T0000.csv",
        "calls_20261121T1200.csv",  # the window under test
        "CALLS_20261121T1800.CSV",  # upper-case extension, same window
        "calls_20261122T0000.csv",  # the next window: end is exclusive
        ".calls_20261121T1300.csv",  # hidden (a copy in progress)
        "~$calls_20261121T1300.csv",  # Excel's lock file
        "calls_20261121T1300.csv.tmp",
        "calls_20261121T1300.txt",
    ]:
        write(tmp_path / name, HEADER)
    (tmp_path / "calls_20261121T1400.csv").mkdir()  # a folder is not an export
    undated = write(tmp_path / "manual_upload.csv", HEADER)
    moment = datetime(2026, 11, 21, 23, 59, tzinfo=UTC).timestamp()
    os.utime(undated, (moment, moment))

    found = files_for_window(
        tmp_path,
        datetime(2026, 11, 21, 12, tzinfo=UTC),
        datetime(2026, 11, 22, 0, tzinfo=UTC),
        PATTERN,
    )
    assert [path.name for path in found] == [
        "calls_20261121T1200.csv",
        "CALLS_20261121T1800.CSV",
        "manual_upload.csv",
    ]
    missing = tmp_path / "missing"
    assert files_for_window(missing, datetime(2026, 1, 1), datetime(2026, 1, 2), PATTERN) == []


# --- parsing --------------------------------------------------------------------------------------


def test_utf8_bom_with_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    folder = tmp_path / "call_center"
    folder.mkdir()
    path = write(
        folder / "calls_20261121T1200.csv",
        "\ufeff" + HEADER + "\n"
        'C1,2026-11-21 12:05,A7,ACC-001,Jane Doe,07700 900123,"No signal since Monday.\n'
        'Customer says ""tried everything"", very upset.",escalated,,35,610\n'
        "\n"
        "   \n"
        "C2,21/11/2026 13:10,A8,,Ravi Patel,,Bill doubled, twice,resolved,2026-11-21 13:30,5,300\n"
        ",,,,,,,,,,\n"
        "C3,2026-11-21 14:00:30,A7,ACC-003,Tom,+447700900999,Router dead,open,,0,\n",
        encoding="utf-8",
    )
    frame = parse(path)
    assert frame.schema == pl.Schema(bronze_schema("call_center"))
    rows = by_id(frame)
    # C2's notes hold an unquoted comma: 12 fields for 11 columns.
    assert list(rows) == ["C1", "calls_20261121T1200.csv:6", "C3"]

    c1 = rows["C1"]
    assert c1["parse_error"] is None
    assert c1["text"] == 'No signal since Monday.\r\nCustomer says "tried everything", very upset.'
    assert c1["source_location"] == "call_center/calls_20261121T1200.csv:2"
    # An export named by its window's start (12:00) is received when that window closes.
    assert c1["received_at"] == datetime(2026, 11, 21, 23, 59, 59, 999999, tzinfo=UTC)
    assert c1["event_time_text"] == "2026-11-21 12:05"
    assert c1["event_time_zone"] == TZ
    assert (c1["author_name"], c1["phone"]) == ("Jane Doe", "07700 900123")
    assert c1["account_number"] == "ACC-001"
    assert (c1["agent_id"], c1["status"], c1["resolved_at_text"]) == ("A7", "escalated", None)
    assert (c1["wait_seconds"], c1["handle_seconds"]) == (35, 610)
    assert c1["export_file"] == "calls_20261121T1200.csv"
    assert c1["raw"] == (
        'C1,2026-11-21 12:05,A7,ACC-001,Jane Doe,07700 900123,"No signal since Monday.\r\n'
        'Customer says ""tried everything"", very upset.",escalated,,35,610'
    )

    ragged = rows["calls_20261121T1200.csv:6"]
    assert ragged["parse_error"] == "expected 11 fields, found 12"
    assert ragged["raw"] == (
        "C2,21/11/2026 13:10,A8,,Ravi Patel,,Bill doubled, twice,resolved,2026-11-21 13:30,5,300"
    )
    assert ragged["source_location"] == "call_center/calls_20261121T1200.csv:6"
    assert ragged["text"] is None

    c3 = rows["C3"]
    assert c3["source_location"].endswith(":8")
    assert (c3["wait_seconds"], c3["handle_seconds"], c3["account_number"]) == (0, None, "ACC-003")


def test_latin1_names_and_non_integer_durations(tmp_path: Path) -> None:
    path = write(
        tmp_path / "calls_20261121T0000.csv",
        HEADER + "\n"
        "C10,2026-11-21 08:00,A1,,José Müller,,Facture incorrecte – café closed,open,,12.5,60\n"
        "C11,2026-11-21 08:05,A1,,Zoë O’Brien,,“Smart” quotes,open,,abc,\n",
        encoding="cp1252",
    )
    rows = by_id(parse(path))
    assert rows["C10"]["author_name"] == "José Müller"
    assert rows["C10"]["text"] == "Facture incorrecte – café closed"
    assert rows["C10"]["parse_error"] == "wait_seconds is not a whole number of seconds: '12.5'"
    assert (rows["C10"]["wait_seconds"], rows["C10"]["handle_seconds"]) == (None, 60)
    assert rows["C11"]["author_name"] == "Zoë O’Brien"
    assert rows["C11"]["text"] == "“Smart” quotes"
    assert rows["C11"]["parse_error"] == "wait_seconds is not a whole number of seconds: 'abc'"


def test_utf16_export_from_excel(tmp_path: Path) -> None:
    path = write(
        tmp_path / "calls_20261121T1200.csv",
        "\ufeff" + HEADER + "\n"
        'C20,2026-11-21 12:30,A2,,Łukasz Nowak,,"Brak zasięgu\nod rana",callback,,10,20\n',
        encoding="utf-16-le",
    )
    rows = by_id(parse(path))
    assert list(rows) == ["C20"]
    assert rows["C20"]["author_name"] == "Łukasz Nowak"
    assert rows["C20"]["text"] == "Brak zasięgu\r\nod rana"
    assert rows["C20"]["parse_error"] is None


def test_renamed_headers_through_the_column_map(tmp_path: Path) -> None:
    path = write(
        tmp_path / "calls_20261121T1200.csv",
        " Call Reference ;Started;Agent;Customer Name;Notes;Outcome;Extra\n"
        "X-1;2026-11-21 12:01;A9;Ann Lee;Dropped calls;OPEN;ignored\n".replace(";", ","),
    )
    column_map = {
        "call reference": "call_id",
        "STARTED": "call_started_at",
        "Agent": "agent_id",
        "Customer Name": "caller_name",
        "Outcome": "status",
    }
    frame = parse(path, column_map)
    row = frame.row(0, named=True)
    assert frame.height == 1
    assert (row["record_id"], row["event_time_text"]) == ("X-1", "2026-11-21 12:01")
    assert row["agent_id"] == "A9"
    assert (row["author_name"], row["text"], row["status"]) == ("Ann Lee", "Dropped calls", "OPEN")
    assert row["parse_error"] is None
    # Optional columns the export lacks are null; unknown ones stay in raw only.
    assert row["wait_seconds"] is None and row["phone"] is None
    assert row["raw"].endswith(",ignored")


def test_header_missing_required_columns_gives_every_record_a_row_with_the_reason(tmp_path: Path) -> None:
    path = write(
        tmp_path / "calls_20261121T1200.csv",
        "id,when,agent_id,caller_name\nC1,2026-11-21 12:00,A1,Jane\nC2,2026-11-21 12:01,A1,Joe\n",
    )
    frame = parse(path)
    assert frame.height == 2  # two records received, neither lost
    reason = "header is missing required columns: call_id, call_started_at, notes"
    assert frame["parse_error"].to_list() == [reason, reason]
    assert frame["raw"].to_list() == ["C1,2026-11-21 12:00,A1,Jane", "C2,2026-11-21 12:01,A1,Joe"]
    assert [loc.rsplit("/", 1)[-1] for loc in frame["source_location"]] == ["calls_20261121T1200.csv:2", "calls_20261121T1200.csv:3"]


def test_header_only_export_with_missing_columns_is_one_error_row(tmp_path: Path) -> None:
    frame = parse(write(tmp_path / "calls_20261121T1200.csv", "id,when\n"))
    assert frame.height == 1
    assert frame["parse_error"][0] == "header is missing required columns: call_id, call_started_at, notes"
    assert frame["raw"][0] == "id,when"


def test_missing_call_id_and_unterminated_quote(tmp_path: Path) -> None:
    path = write(
        tmp_path / "calls_20261121T1200.csv",
        HEADER + "\n"
        ",2026-11-21 12:00,A1,,,,No id given,open,,1,2\n"
        'C9,2026-11-21 12:10,A1,,,,"runs off the end,open,,1,2\n',
        newline="\n",
    )
    rows = parse(path).iter_rows(named=True)
    no_id, runaway = list(rows)
    # Named by file:line for a person, but no id of the call: a re-export would count it twice.
    assert no_id["record_id"] == "calls_20261121T1200.csv:2"
    assert no_id["parse_error"] == "call_id is empty" and no_id["text"] == "No id given"
    assert runaway["record_id"] == "calls_20261121T1200.csv:3"
    assert runaway["parse_error"] == "expected 11 fields, found 7"


def test_quote_left_open_in_the_last_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "calls_20261121T1200.csv",
        HEADER + "\nC1,2026-11-21 12:00,A1,,,,Fine,open,,1,\"2\n",
        newline="\n",
    )
    row = parse(path).row(0, named=True)
    assert row["parse_error"] == "unterminated quoted field at end of file"
    assert (row["record_id"], row["text"], row["handle_seconds"]) == ("C1", "Fine", 2)


def test_header_only_file_is_a_half_day_without_calls(tmp_path: Path) -> None:
    path = tmp_path / "calls_20261121T1200.csv"
    path.write_bytes((HEADER + "\r\n").encode())
    frame = parse(path)
    assert frame.height == 0
    assert frame.schema == pl.Schema(bronze_schema("call_center"))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "export is empty (0 bytes): no header row"),
        (b"\xef\xbb\xbf", "export has no header row: 3 bytes of blank lines or a byte-order mark only"),
        (b"\r\n\r\n", "export has no header row: 4 bytes of blank lines or a byte-order mark only"),
    ],
)
def test_an_export_without_a_header_is_one_row_naming_the_file(tmp_path: Path, content: bytes, reason: str) -> None:
    # Even a half-day without calls exports its header: this export is broken, and must be seen.
    path = tmp_path / "calls_20261121T1200.csv"
    path.write_bytes(content)
    frame = parse(path)
    assert frame.schema == pl.Schema(bronze_schema("call_center"))
    row = frame.row(0, named=True)
    assert frame.height == 1
    assert row["parse_error"] == reason
    assert row["source_location"].endswith("calls_20261121T1200.csv:1")
    assert row["export_file"] == "calls_20261121T1200.csv"


def test_negative_durations_are_parse_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "calls_20261121T1200.csv", HEADER + "\nC1,2026-11-21 12:00,A1,,,,Fine,open,,-5,+7\n")
    row = parse(path).row(0, named=True)
    assert row["parse_error"] == "wait_seconds is negative: '-5'"
    assert (row["wait_seconds"], row["handle_seconds"]) == (None, 7)


def test_a_note_longer_than_csvs_field_limit_is_one_record(tmp_path: Path) -> None:
    # csv's default limit is 128 KiB: a longer note used to split into junk records.
    note = "no signal " * 20_000
    path = write(tmp_path / "calls_20261121T1200.csv", HEADER + f'\nC1,2026-11-21 12:00,A1,,,,"{note}",open,,1,2\nC2,2026-11-21 12:01,A1,,,,ok,open,,1,2\n')
    frame = parse(path)
    assert frame["record_id"].to_list() == ["C1", "C2"]
    assert frame["parse_error"].null_count() == 2
    assert frame["text"][0] == note


@pytest.mark.parametrize("rows_per_frame", [1, 2, 3])
def test_an_export_parsed_a_few_rows_at_a_time_gives_the_same_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows_per_frame: int
) -> None:
    # Rows are turned into frames as the file is read (a 12-hour export at scale is 0.9M rows):
    # every record, good or not, must come out once, in file order, whatever the frame size.
    path = write(
        tmp_path / "calls_20261121T1200.csv",
        HEADER + "\n"
        "C1,2026-11-21 12:05,A7,ACC-001,Jane Doe,07700 900123,\"Two\nlines\",open,,35,610\n"
        "C2,2026-11-21 12:06,A8,,,,one field too many,open,,1,2,3\n"
        ",2026-11-21 12:07,A8,,,,no call id,open,,1,2\n"
        "C4,2026-11-21 12:08,A8,,,,fine,resolved,2026-11-21 12:30,x,2\n"
        "C5,2026-11-21 12:09,A9,,,,last,open,,1,2\n",
    )
    whole = parse(path)
    assert whole.height == 5
    monkeypatch.setattr("complaints_platform.lib.call_center.ROWS_PER_FRAME", rows_per_frame)
    assert_frame_equal(parse(path), whole)


def _awkward_export(extra: list[str]) -> str:
    """Ordinary records (the header's width) in every way a value can be awkward, among the odd
    records a real export has."""
    header = "Notes,call_id,call_started_at,agent_id,account_number,caller_name,caller_phone,status,resolved_at,wait_seconds,handle_seconds,site"
    records = [
        '"cust adv ""no signal"", since Tues",C1,2026-11-21 12:05,A7,ACC-001,Jane Doe,07700 900123,open,,35,610,Leeds "North"',
        '"Two\nlines, quoted ""here""",C2, 2026-11-21 12:06 ,A8,,  O\'Neil ,,open,,+7,007,',
        '"\r\n   ",C3,2026-11-21 12:07,A8,,,,open,,-0,2147483647,',  # notes of whitespace only: none
        "  keep my spaces  ,\x1cC4\x1f,2026-11-21 12:08,\u00a0A9\u3000,,,,closed,,-5,2147483648,",
        "fine,,2026-11-21 12:09,A9,,,,open,,x,12.5,",  # no call id; two durations that are no numbers
        "tab\there,C6,2026-11-21 12:10,A9,,,,open,,O'Neil,a\\b,",
        "one field too many,C7,2026-11-21 12:11,A9,,,,open,,1,2,x,y",
        "",
        ",,,,,,,,,,,",  # a row of empty cells
        "spaces only,C8,2026-11-21 12:12,A9,,,,open,,   ,1,",
        *extra,
        "last,C9,2026-11-21 12:13,A9,,,,open,,1,2,",
    ]
    return header + "\n" + "\n".join(records) + "\n"


@pytest.mark.parametrize("rows_per_frame", [3, 50_000])
# Durations only the row rules read: digits of another script (Python's int() takes them), and a
# whole number of 19 digits past Int64 (out of range, not unreadable).
@pytest.mark.parametrize("odd_duration", [None, "\u0663", "9223372036854775808"])
def test_records_of_the_headers_width_are_read_by_column_as_the_row_rules_read_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, column_path, rows_per_frame: int, odd_duration: str | None
) -> None:
    """Records of the header's width become rows column by column (no Python call per record), with
    the row rules' values, errors and raw text, byte for byte; a batch with a duration only
    Python reads (digits of another script) is read row by row."""
    from complaints_platform.lib import call_center

    text = _awkward_export([f"odd,C10,2026-11-21 12:14,A9,,,,open,,{odd_duration},4,"] if odd_duration else [])
    path = write(tmp_path / "calls_20261121T1200.csv", text)
    monkeypatch.setattr(call_center, "ROWS_PER_FRAME", rows_per_frame)
    by_column = column_path(call_center, "_ordinary_frame")
    columns = parse(path)
    column_path(call_center, "_ordinary_frame", off=True)
    rows = parse(path)
    assert_frame_equal(columns, rows)
    assert (False in by_column) == (odd_duration is not None)  # the batch with C10 is read row by row
    assert (True in by_column) == (odd_duration is None or rows_per_frame == 3)
    frame = by_id(columns)
    assert frame["C1"]["text"] == 'cust adv "no signal", since Tues'
    assert frame["C1"]["raw"] == (
        '"cust adv ""no signal"", since Tues",C1,2026-11-21 12:05,A7,ACC-001,Jane Doe,07700 900123,open,,35,610,"Leeds ""North"""'
    )
    assert frame["C2"]["text"] == 'Two\r\nlines, quoted "here"' and frame["C2"]["author_name"] == "O'Neil"
    assert (frame["C2"]["wait_seconds"], frame["C2"]["handle_seconds"]) == (7, 7)
    assert frame["C3"]["text"] is None and frame["C3"]["handle_seconds"] == 2147483647
    assert frame["C4"]["text"] == "  keep my spaces  " and frame["C4"]["agent_id"] == "A9"
    assert frame["C4"]["parse_error"] == "wait_seconds is negative: '-5'; handle_seconds is out of range: '2147483648'"
    no_id = columns.filter(pl.col("text") == "fine").row(0, named=True)
    assert no_id["record_id"] == "calls_20261121T1200.csv:9"  # C2 and C3 span two and three lines
    assert no_id["parse_error"] == (
        "call_id is empty; wait_seconds is not a whole number of seconds: 'x'; "
        "handle_seconds is not a whole number of seconds: '12.5'"
    )
    assert frame["C6"]["parse_error"] == (
        'wait_seconds is not a whole number of seconds: "O\'Neil"; handle_seconds is not a whole number of seconds: \'a\\\\b\''
    )
    assert columns.filter(pl.col("raw").str.starts_with("one field too many"))["parse_error"].to_list() == ["expected 12 fields, found 13"]
    assert frame["C8"]["wait_seconds"] is None and frame["C8"]["parse_error"] is None
    assert columns["source_location"].str.extract(r":(\d+)$").cast(pl.Int64).is_sorted()
    if odd_duration == "\u0663":
        assert frame["C10"]["wait_seconds"] == 3 and frame["C10"]["parse_error"] is None
    if odd_duration == "9223372036854775808":
        assert frame["C10"]["wait_seconds"] is None
        assert frame["C10"]["parse_error"] == "wait_seconds is out of range: '9223372036854775808'"
