"""Turning the sources' timestamps into UTC: the one place that knows their formats.

Sources write times with an offset (``2026-11-21T14:03:22+01:00``, ``...Z``), without one in their
own zone (the call centre's ``21/11/2026 14:03`` is Europe/London wall-clock time), or as unix
epoch seconds. Each row carries its zone to assume (``event_time_zone``); wall-clock times are
localised in that zone (DST: an ambiguous time takes the earlier instant, a non-existent one is
null and is quarantined by the caller).

The common shapes are parsed by polars; any other ISO-8601 date and time that Python reads (the
basic format ``20261121T140322Z``, a comma decimal, an hour-only offset ``+01``, a week date) is
read by ``datetime.fromisoformat``, which the SMS edge already uses for the same field: a time the
edge accepted is never one the cleaned layer cannot read. A date without a time is not a time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl

from complaints_platform.lib.bronze import UTC_DATETIME

# Formats with an explicit offset or Z. polars parses %z as +HH:MM, +HHMM or Z.
_OFFSET_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M%z",
)
# Wall-clock formats, read in the row's own zone.
_NAIVE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
)


def _with_offset(text: pl.Expr) -> pl.Expr:
    parsed = [
        text.str.to_datetime(fmt, strict=False, time_zone="UTC", time_unit="us")
        for fmt in _OFFSET_FORMATS
    ]
    return pl.coalesce(parsed)


def _naive(text: pl.Expr) -> pl.Expr:
    parsed = [text.str.to_datetime(fmt, strict=False, time_unit="us") for fmt in _NAIVE_FORMATS]
    return pl.coalesce(parsed)


_HAS_TIME = re.compile(r"\d[T ]\d{2}")


def _iso_fallback(text: str) -> str | None:
    """Any other ISO-8601 date and time, rewritten in a shape polars reads (aware ones in UTC)."""
    if not _HAS_TIME.search(text):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.isoformat() if parsed.tzinfo is None else parsed.astimezone(UTC).isoformat()


def _epoch(text: pl.Expr) -> pl.Expr:
    seconds = pl.when(text.str.contains(r"^\d{9,10}(\.\d+)?$")).then(text.cast(pl.Float64, strict=False))
    return (seconds * 1_000_000).cast(pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def to_utc(frame: pl.DataFrame, text_column: str, zone_column: str, output: str) -> pl.DataFrame:
    """Add ``output`` (UTC datetime) parsed from ``text_column``; null where unreadable.

    Rows are localised per zone, so a frame may mix zones (each channel has its own). Only the text
    and zone columns are worked on: the frame's other columns are not copied.
    """
    times = frame.select(
        pl.col(text_column).str.strip_chars().str.replace(r"[Zz]$", "+00:00").alias("text"),
        pl.col(zone_column).fill_null("UTC").alias("zone"),
    )
    times = _readings(times)
    unread = (
        times.filter(pl.col("text").is_not_null() & pl.all_horizontal(pl.col("offset", "naive", "epoch").is_null()))
        .get_column("text")
        .unique()
        .to_list()
    )
    fallback = {value: reading for value in unread if (reading := _iso_fallback(value))}
    if fallback:  # any other ISO-8601 time, rewritten in a shape polars reads
        times = _readings(times.with_columns(pl.col("text").replace(fallback)))
    zones = times.get_column("zone").unique().to_list()
    local = pl.coalesce(
        pl.when(pl.col("zone") == zone).then(
            pl.col("naive").dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
        )
        for zone in zones
    ) if zones else pl.lit(None, dtype=UTC_DATETIME)
    utc = times.select(pl.coalesce("offset", local, "epoch").cast(UTC_DATETIME).alias(output)).to_series()
    return frame.with_columns(utc)


def _readings(times: pl.DataFrame) -> pl.DataFrame:
    """``times`` (column ``text``) with its readings: with an offset (in UTC), wall-clock, epoch."""
    text = pl.col("text")
    return times.with_columns(_with_offset(text).alias("offset"), _naive(text).alias("naive"), _epoch(text).alias("epoch"))
