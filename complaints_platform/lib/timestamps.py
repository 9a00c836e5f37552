"""Turning the sources' timestamps into UTC: the one place that knows their formats.

Sources write times with an offset (``2026-11-21T14:03:22+01:00``, ``...Z``), without one in their
own zone (the call centre's ``21/11/2026 14:03`` is Europe/London wall-clock time), or as unix
epoch seconds. Each row carries its zone to assume (``event_time_zone``); wall-clock times are
localised in that zone (DST: an ambiguous time takes the earlier instant, a non-existent one is
null and is quarantined by the caller).
"""

from __future__ import annotations

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


def _epoch(text: pl.Expr) -> pl.Expr:
    seconds = pl.when(text.str.contains(r"^\d{9,10}(\.\d+)?$")).then(text.cast(pl.Float64, strict=False))
    return (seconds * 1_000_000).cast(pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def to_utc(frame: pl.DataFrame, text_column: str, zone_column: str, output: str) -> pl.DataFrame:
    """Add ``output`` (UTC datetime) parsed from ``text_column``; null where unreadable.

    Rows are localised per zone, so a frame may mix zones (each channel has its own).
    """
    text = pl.col(text_column).str.strip_chars().str.replace(r"[Zz]$", "+00:00")
    frame = frame.with_row_index("__row").with_columns(
        _with_offset(text).alias("__offset"),
        _naive(text).alias("__naive"),
        _epoch(text).alias("__epoch"),
    )
    localised = []
    for zone in frame.get_column(zone_column).fill_null("UTC").unique().to_list():
        part = frame.filter(pl.col(zone_column).fill_null("UTC") == zone)
        local = part.get_column("__naive").dt.replace_time_zone(
            zone, ambiguous="earliest", non_existent="null"
        )
        localised.append(part.with_columns(local.dt.convert_time_zone("UTC").alias("__local")))
    if localised:
        frame = pl.concat(localised, how="vertical")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=UTC_DATETIME).alias("__local"))
    return frame.with_columns(
        pl.coalesce("__offset", "__local", "__epoch").cast(UTC_DATETIME).alias(output)
    ).sort("__row").drop("__row", "__offset", "__naive", "__epoch", "__local")
