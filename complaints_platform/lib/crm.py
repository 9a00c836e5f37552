"""CRM reference data: the daily customer snapshot ``customers_YYYY-MM-DD.csv``.

Unlike the complaint channels, the snapshot is reference data from a system we own: a file whose
header lacks a contract column, or a row with the wrong number of fields, is an error to fix at
the source, so it raises rather than producing a partial customer list.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import polars as pl

from complaints_platform.lib.call_center import decode_export, text_lines

CRM_COLUMNS = (
    "account_number",
    "full_name",
    "email",
    "phone",
    "social_handle",
    "plan",
    "region",
    "signup_date",
)
CRM_SCHEMA: dict[str, pl.DataType] = {
    **{name: pl.String() for name in CRM_COLUMNS if name != "signup_date"},
    "signup_date": pl.Date(),
}
ROWS_PER_FRAME = 100_000
SNAPSHOT_NAME = re.compile(r"customers_(?P<day>\d{4}-\d{2}-\d{2})\.csv", re.IGNORECASE)


def snapshot_date(path: Path) -> date:
    """The day a snapshot was taken, from its name ``customers_YYYY-MM-DD.csv``."""
    match = SNAPSHOT_NAME.fullmatch(path.name)
    if not match:
        raise ValueError(f"not a CRM snapshot name (customers_YYYY-MM-DD.csv): {path.name}")
    return date.fromisoformat(match["day"])


def latest_snapshot(folder: Path, on_or_before: date) -> Path | None:
    """The newest snapshot in ``folder`` taken on or before ``on_or_before``, or None."""
    if not folder.is_dir():
        return None
    candidates = []
    for path in folder.iterdir():
        if not path.is_file() or path.name.startswith((".", "~")):
            continue
        try:
            day = snapshot_date(path)
        except ValueError:
            continue  # another file, or a name like customers_2026-02-30.csv
        if day <= on_or_before:
            candidates.append((day, path.name, path))
    return max(candidates)[2] if candidates else None


def read_crm_snapshot(path: Path) -> pl.DataFrame:
    """The snapshot's customers: the contract columns in order, all text except ``signup_date``.

    Headers match case-insensitively; extra columns are dropped; values are stripped and empty
    ones are null; a ``signup_date`` that is not ``YYYY-MM-DD`` is null.
    """
    text, _encoding = decode_export(path.read_bytes())
    reader = csv.reader(text_lines(text))
    header: dict[str, int] | None = None
    width = 0
    # Values gathered column by column and made a frame every ROWS_PER_FRAME customers: a dict per
    # customer would hold several times the file (5M customers: about 10 GB).
    frames: list[pl.DataFrame] = []
    columns: dict[str, list[str | None]] = {name: [] for name in CRM_COLUMNS}
    for record in reader:
        if all(not field.strip() for field in record):
            continue
        if header is None:
            keys = [field.strip().lstrip("\ufeff").strip().casefold() for field in record]
            missing = [name for name in CRM_COLUMNS if name not in keys]
            if missing:
                raise ValueError(f"{path.name}: header is missing columns: {', '.join(missing)}")
            header = {name: keys.index(name) for name in CRM_COLUMNS}
            width = len(record)
            continue
        if len(record) != width:
            raise ValueError(
                f"{path.name}:{reader.line_num}: expected {width} fields, found {len(record)}"
            )
        for name, index in header.items():
            columns[name].append(record[index].strip() or None)
        if len(columns["account_number"]) >= ROWS_PER_FRAME:
            frames.append(_customers_frame(columns))
            columns = {name: [] for name in CRM_COLUMNS}
    frames.append(_customers_frame(columns))
    return pl.concat(frames)


def _customers_frame(columns: dict[str, list[str | None]]) -> pl.DataFrame:
    frame = pl.DataFrame(columns, schema={name: pl.String() for name in CRM_COLUMNS})
    return frame.with_columns(pl.col("signup_date").str.to_date("%Y-%m-%d", strict=False))
