"""The quarantine, read back: what is in it, and where its records went after a replay.

A record is quarantined with the rule it broke; its original stays in bronze. After a fix (a parser
fixed, a new case status accepted with COMPLAINTS_EXTRA_STATUSES, a time zone corrected), replaying
is re-materializing the cleaned layer for the days that hold the records (``complaints quarantine
replay``): each day's partition is rebuilt from bronze, so a fixed record flows through as normal,
exactly once (its complaint_id is deterministic and the day's files are replaced, never appended).
A record is identified across runs by its channel and source location.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from complaints_platform.lib import lake
from complaints_platform.lib.silver import CLEANED_SCHEMA, DUPLICATES_SCHEMA, QUARANTINE_SCHEMA

IDENTITY = ["channel", "source_location"]


def _silver(root: Path, asset: str, schema: dict, days: list[str] | None) -> pl.DataFrame:
    folder = Path(root) / "silver" / asset
    files = (
        sorted(folder.glob("date=*/part.parquet"))
        if days is None
        else [p for p in (folder / f"date={d}" / "part.parquet" for d in days) if p.exists()]
    )
    return lake.read_parquet_files(files, schema)


def quarantined(
    root: Path, days: list[str] | None = None, rule: str | None = None, channel: str | None = None
) -> pl.DataFrame:
    """Quarantined records (QUARANTINE_SCHEMA), optionally of some days, one rule, one channel."""
    frame = _silver(root, "complaints_quarantine", QUARANTINE_SCHEMA, days)
    if rule:
        frame = frame.filter(pl.col("rule") == rule)
    if channel:
        frame = frame.filter(pl.col("channel") == channel)
    return frame


def where_now(root: Path, records: pl.DataFrame) -> pl.DataFrame:
    """For each record (channel, source_location, received_date): cleaned, duplicate, or still
    quarantined (with the rule), as the silver files say now."""
    days = sorted({d.isoformat() for d in records.get_column("received_date").to_list()})
    found = pl.concat(
        [
            _silver(root, "complaints_cleaned", CLEANED_SCHEMA, days).select(*IDENTITY, pl.lit("cleaned").alias("outcome"), pl.lit(None, pl.String).alias("rule")),
            _silver(root, "complaint_duplicates", DUPLICATES_SCHEMA, days).select(*IDENTITY, pl.lit("duplicate").alias("outcome"), "rule"),
            _silver(root, "complaints_quarantine", QUARANTINE_SCHEMA, days).select(*IDENTITY, pl.lit("quarantined").alias("outcome"), "rule"),
        ]
    )
    return records.select(*IDENTITY, "received_date").join(found, on=IDENTITY, how="left").with_columns(
        pl.col("outcome").fill_null("missing")
    )
