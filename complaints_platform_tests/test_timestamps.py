"""Source timestamps to UTC: offsets, wall-clock times in the row's zone, DST edges, epochs."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from complaints_platform.lib.bronze import UTC_DATETIME
from complaints_platform.lib.timestamps import to_utc

LONDON = "Europe/London"


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def _parse(rows: list[tuple[str | None, str | None]]) -> list[datetime | None]:
    frame = pl.DataFrame(rows, schema={"text": pl.String, "zone": pl.String}, orient="row")
    out = to_utc(frame, "text", "zone", "at")
    assert out.schema["at"] == UTC_DATETIME
    assert out.columns == ["text", "zone", "at"], "helper columns must not leak"
    return out.get_column("at").to_list()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T14:03:22+01:00", _utc(2026, 11, 21, 13, 3, 22)),
        ("2026-11-21T14:03:22-05:00", _utc(2026, 11, 21, 19, 3, 22)),
        ("2026-11-21T14:03:22Z", _utc(2026, 11, 21, 14, 3, 22)),
        ("2026-11-21T14:03:22z", _utc(2026, 11, 21, 14, 3, 22)),
        ("2026-11-21T14:03:22+0000", _utc(2026, 11, 21, 14, 3, 22)),
        ("2026-11-21 14:03:22.250+01:00", _utc(2026, 11, 21, 13, 3, 22, 250_000)),
        ("2026-11-21T14:03+01:00", _utc(2026, 11, 21, 13, 3)),
        ("  2026-11-21T14:03:22Z  ", _utc(2026, 11, 21, 14, 3, 22)),
    ],
)
def test_an_explicit_offset_wins_over_the_rows_zone(text, expected):
    # The zone column says London, but an offset in the text is the truth.
    assert _parse([(text, LONDON)]) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # GMT in November: London wall clock == UTC.
        ("21/11/2026 14:03", _utc(2026, 11, 21, 14, 3)),
        ("21/11/2026 14:03:09", _utc(2026, 11, 21, 14, 3, 9)),
        ("2026-11-21 14:03", _utc(2026, 11, 21, 14, 3)),
        # BST in July: London wall clock is UTC+1.
        ("21/07/2026 14:03", _utc(2026, 7, 21, 13, 3)),
        ("2026-07-21 14:03:00", _utc(2026, 7, 21, 13, 3)),
        ("2026-07-21T14:03:00.5", _utc(2026, 7, 21, 13, 3, 0, 500_000)),
    ],
)
def test_wall_clock_times_are_read_in_london_time(text, expected):
    assert _parse([(text, LONDON)]) == [expected]


def test_day_first_format_is_not_read_month_first():
    # 03/11 is 3 November (GMT), not 11 March.
    assert _parse([("03/11/2026 09:00", LONDON)]) == [_utc(2026, 11, 3, 9, 0)]


def test_spring_forward_hour_does_not_exist_and_gives_null():
    # 29 March 2026: London clocks jump from 01:00 GMT to 02:00 BST.
    assert _parse(
        [("29/03/2026 00:59", LONDON), ("29/03/2026 01:30", LONDON), ("29/03/2026 02:00", LONDON)]
    ) == [_utc(2026, 3, 29, 0, 59), None, _utc(2026, 3, 29, 1, 0)]


def test_autumn_ambiguous_hour_takes_the_earlier_instant():
    # 25 October 2026: 01:30 happens twice (BST then GMT); the earlier is 00:30 UTC.
    assert _parse([("25/10/2026 01:30", LONDON), ("2026-10-25 02:30:00", LONDON)]) == [
        _utc(2026, 10, 25, 0, 30),
        _utc(2026, 10, 25, 2, 30),
    ]


def test_epoch_seconds_are_utc_whatever_the_zone():
    assert _parse([("1795442602", LONDON), ("1795442602.5", "UTC")]) == [
        _utc(2026, 11, 23, 14, 3, 22),
        _utc(2026, 11, 23, 14, 3, 22, 500_000),
    ]


@pytest.mark.parametrize(
    "text", ["not a date", "yesterday", "2026-13-45 10:00", "31/02/2026 10:00", "123", "", "   "]
)
def test_garbage_gives_null(text):
    assert _parse([(text, LONDON)]) == [None]


def test_null_text_and_null_zone():
    # A null zone is read as UTC.
    assert _parse([(None, LONDON), ("2026-11-21 14:03:00", None), (None, None)]) == [
        None,
        _utc(2026, 11, 21, 14, 3),
        None,
    ]


def test_mixed_zones_keep_row_order():
    rows = [
        ("2026-07-21 14:00:00", LONDON),
        ("2026-07-21 14:00:00", "America/New_York"),
        ("2026-07-21 14:00:00", "UTC"),
        ("2026-07-21T14:00:00+02:00", "America/New_York"),
        ("2026-07-21 14:00:00", LONDON),
        ("garbage", "UTC"),
        ("2026-07-21 14:00:00", "Asia/Tokyo"),
    ]
    frame = pl.DataFrame(rows, schema={"text": pl.String, "zone": pl.String}, orient="row").with_columns(
        pl.int_range(pl.len()).alias("n")
    )
    out = to_utc(frame, "text", "zone", "at")
    assert out.get_column("n").to_list() == list(range(len(rows)))
    assert out.get_column("at").to_list() == [
        _utc(2026, 7, 21, 13),
        _utc(2026, 7, 21, 18),
        _utc(2026, 7, 21, 14),
        _utc(2026, 7, 21, 12),
        _utc(2026, 7, 21, 13),
        None,
        _utc(2026, 7, 21, 5),
    ]


def test_empty_frame_gives_empty_typed_column():
    out = to_utc(pl.DataFrame(schema={"text": pl.String, "zone": pl.String}), "text", "zone", "at")
    assert out.height == 0
    assert out.schema["at"] == UTC_DATETIME


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ISO-8601 that the SMS edge reads with datetime.fromisoformat: the cleaned layer reads it too.
        ("20261121T140322Z", _utc(2026, 11, 21, 14, 3, 22)),
        ("2026-11-21T14:03:22,5Z", _utc(2026, 11, 21, 14, 3, 22, 500_000)),
        ("2026-11-21T15:03:22+01", _utc(2026, 11, 21, 14, 3, 22)),
        ("2026-11-21 15:03+01:00", _utc(2026, 11, 21, 14, 3)),
        ("2026-W47-6T14:03:22Z", _utc(2026, 11, 21, 14, 3, 22)),
        ("2026-11-21T14:03:22+00:00:30", _utc(2026, 11, 21, 14, 2, 52)),
        # Without an offset it is wall-clock time in the row's zone, as any other naive time.
        ("20260721T140300", _utc(2026, 7, 21, 13, 3)),
    ],
)
def test_other_iso_8601_shapes_are_read(text, expected):
    assert _parse([(text, LONDON)]) == [expected]


@pytest.mark.parametrize(
    "text", ["2026-11-21", "20261121", "Sat Nov 21 14:03:22 +0000 2026", "Sat, 21 Nov 2026 14:03:22 GMT",
             "2026-11-21T14:03:22[Europe/London]", "2026-11-21T25:00:00Z"]
)
def test_a_date_alone_or_another_notation_is_not_a_time(text):
    assert _parse([(text, "UTC")]) == [None]
