"""The shape every channel's bronze frame has: one row per received record, nothing dropped.

Each channel parser (``lib/<channel>.py``) returns a polars frame with exactly the common columns
below, in this order, followed by that channel's own typed columns (``CHANNEL_COLUMNS``).
Bronze is a structural parse only: JSON / CSV / API page / table row into columns. Timestamps stay
as the source wrote them (``*_text``); the cleaned layer turns them into UTC in one place
(``lib/timestamps.py``) and quarantines what cannot be read. A record whose structure cannot be
parsed at all still gets a row: its ``raw`` payload, where it came from, and ``parse_error``.
"""

from __future__ import annotations

import re

import polars as pl

UTC_DATETIME = pl.Datetime("us", "UTC")

BRONZE_SCHEMA: dict[str, pl.DataType] = {
    "record_id": pl.String(),  # the channel's own id (webhook-id, SMS id, call id, form id)
    "source_location": pl.String(),  # file:line, API page, or table row: where to find the original
    "received_at": UTC_DATETIME,  # when the platform (or the provider) received it
    "raw": pl.String(),  # the record exactly as received (one JSON object, one CSV record, one row)
    "parse_error": pl.String(),  # null when the record parsed; else why not
    "event_time_text": pl.String(),  # when the complaint was made, as the source wrote it
    "event_time_zone": pl.String(),  # IANA zone to assume when event_time_text has no offset
    "text": pl.String(),  # the complaint text
    "author_name": pl.String(),
    "email": pl.String(),
    "phone": pl.String(),
    "handle": pl.String(),  # social-media handle
    "account_number": pl.String(),  # the customer's account number as given
    "status": pl.String(),  # case status where the source has one (call centre, web forms)
    "resolved_at_text": pl.String(),  # when the case was resolved, as the source wrote it
}

# Channel-specific typed columns that follow the common ones.
CHANNEL_COLUMNS: dict[str, dict[str, pl.DataType]] = {
    "social_media": {
        "platform": pl.String(),
        "post_id": pl.String(),
        "in_reply_to": pl.String(),
        "event_type": pl.String(),
    },
    "sms": {"to_number": pl.String(), "segments": pl.Int32(), "api_page": pl.Int32()},
    "call_center": {
        "agent_id": pl.String(),
        "wait_seconds": pl.Int32(),
        "handle_seconds": pl.Int32(),
        "export_file": pl.String(),
    },
    "web_forms": {"subject": pl.String(), "updated_at_text": pl.String()},
}

CHANNELS = tuple(CHANNEL_COLUMNS)


def bronze_schema(channel: str) -> dict[str, pl.DataType]:
    return {**BRONZE_SCHEMA, **CHANNEL_COLUMNS[channel]}


def empty_bronze(channel: str) -> pl.DataFrame:
    return pl.DataFrame(schema=bronze_schema(channel))


# What Python's str.strip() strips, for polars' str.strip_chars where a column path must agree with
# row rules written in Python (polars strips Unicode White_Space by default, which lacks U+001C..U+001F).
PY_WHITESPACE = "".join(c for c in map(chr, range(0x110000)) if c.isspace())

# A lone UTF-16 surrogate: JSON may escape one ("\ud83d", half an emoji cut off by a client that
# truncates UTF-16), but it is not a character, and no UTF-8 column (polars, Parquet) can hold it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(value: object) -> object:
    """``value``, with any lone surrogate in a string replaced by U+FFFD (landing keeps the
    source's own bytes)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _LONE_SURROGATE.sub("\ufffd", value)
    return value


def bronze_select(channel: str, frame: pl.DataFrame, columns: dict[str, pl.Expr]) -> pl.DataFrame:
    """A bronze frame computed from ``frame`` (one row per row): each column as ``columns`` gives
    it; as in ``to_bronze``, a column not given is null, columns in contract order."""
    return frame.select(
        (columns[name] if name in columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in bronze_schema(channel).items()
    )


def joined_errors(errors: list[pl.Expr]) -> pl.Expr:
    """A row's errors (each expression null where its rule holds) as ``parse_error``: joined with
    "; ", as the row-by-row parsers join theirs, and null where there is none."""
    joined = pl.concat_str(errors, separator="; ", ignore_nulls=True)
    return pl.when(joined == "").then(None).otherwise(joined)


def utc_time_as_python_reads_it(text: pl.Expr, pattern: str, format: str) -> tuple[pl.Expr, pl.Expr]:
    """(the UTC time of ``text``, whether it is read as Python's ``datetime.fromisoformat`` reads
    it) for texts in one fixed ISO-8601 form: ``pattern`` (a regex of ASCII digits and literals)
    and its ``format``. A text is read only if it has the form, is a real time (read back, it is
    the same text: no leap second or 30 February turned into another moment) and is not in year 0,
    which polars reads and Python does not; null texts are not read."""
    parsed = text.str.strptime(UTC_DATETIME, format, strict=False)
    round_trip = (parsed.dt.strftime(format) == text) & (parsed.dt.year() >= 1)
    return parsed, (text.str.contains(pattern) & round_trip).fill_null(False)


def text_series(name: str, values: list) -> pl.Series | None:
    """``values`` as a String series if each is text or None, else None: checked in Python first,
    because polars names the type of a value it refuses, and for a deeply nested one (a 2 KB
    list 1,000 deep, sent by anyone) that takes seconds and gigabytes."""
    if not all(value is None or type(value) is str for value in values):
        return None
    return pl.Series(name, values, dtype=pl.String)


def to_bronze(channel: str, rows: list[dict]) -> pl.DataFrame:
    """Build a bronze frame from row dicts; missing keys become nulls, columns in contract order."""
    schema = bronze_schema(channel)
    if not rows:
        return empty_bronze(channel)
    # Column by column: building from rows costs polars a dict lookup per cell.
    columns = {name: [row.get(name) for row in rows] for name in schema}
    try:
        return pl.DataFrame(columns, schema=schema)
    except UnicodeEncodeError:  # a lone surrogate somewhere: replace it, only then
        return pl.DataFrame({name: [valid_text(v) for v in values] for name, values in columns.items()}, schema=schema)
