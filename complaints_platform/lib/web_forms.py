"""Website complaint forms: the OLTP table ``complaint_forms``, its incremental extract, and bronze.

The table lives in the website's database (SQLite in the demo, PostgreSQL in production); the
platform only reads it, by ``updated_at`` window. The same SQLAlchemy Core statements run on both:
window bounds are bound parameters, naive UTC on SQLite (which stores timestamps as text without
an offset) and timezone-aware on PostgreSQL, whose sessions are set to UTC so that a
``timestamp without time zone`` column is compared and returned as UTC as well.

SQLite's column types are advisory: another writer can leave text that is not UTF-8, bytes, or a
timestamp in any shape in any column. The extract reads values as the driver returns them and
checks them itself, so one odd row is quarantined with its reason instead of failing the window.

Reading and parsing go column by column (polars) when every value is what its column says, which
is the usual case; a window with any odd value is read row by row, with the same result for its
ordinary rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from complaints_platform.lib.bronze import UTC_DATETIME, bronze_select, to_bronze

CHANNEL = "web_forms"
TABLE_NAME = "complaint_forms"
STATUSES = ("new", "in_progress", "closed")

metadata = sa.MetaData()

complaint_forms = sa.Table(
    TABLE_NAME,
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("full_name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("phone", sa.Text, nullable=True),
    sa.Column("account_number", sa.Text, nullable=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    # The extraction watermark: every partition reads one updated_at range.
    sa.Index("ix_complaint_forms_updated_at", "updated_at"),
)

TIMESTAMP_COLUMNS = ("submitted_at", "updated_at")
TEXT_COLUMNS = ("full_name", "email", "phone", "account_number", "subject", "message", "status")
# Extract column: the values the extract could not read as their column's type, as JSON
# {column: what was stored} (null when every value was readable).
UNREADABLE = "unreadable_values"

EXTRACT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "submitted_at": UTC_DATETIME,
    "updated_at": UTC_DATETIME,
    "full_name": pl.String(),
    "email": pl.String(),
    "phone": pl.String(),
    "account_number": pl.String(),
    "subject": pl.String(),
    "message": pl.String(),
    "status": pl.String(),
    UNREADABLE: pl.String(),
}


def _sqlite_text(data: bytes) -> str:
    # Undecodable bytes survive as surrogates, so the extract can name the value (_read_row)
    # where sqlite3 would fail the whole query.
    return data.decode("utf-8", errors="surrogateescape")


def engine_for(url: str) -> Engine:
    """An engine for the forms database; PostgreSQL sessions run in UTC."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _lenient_text(dbapi_connection, _record) -> None:
            dbapi_connection.text_factory = _sqlite_text

    if engine.dialect.name == "postgresql":

        @sa.event.listens_for(engine, "connect")
        def _session_in_utc(dbapi_connection, _record) -> None:
            # Outside a transaction, or the pool's rollback on check-in would undo the SET.
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET TIME ZONE 'UTC'")
            dbapi_connection.autocommit = autocommit

    return engine


def create_schema(url: str) -> None:
    """Create ``complaint_forms`` (and a SQLite file's folder) if it does not exist yet."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = engine_for(url)
    try:
        metadata.create_all(engine, checkfirst=True)
    finally:
        engine.dispose()


def extract_forms(url: str, since: datetime, until: datetime) -> pl.DataFrame:
    """The rows with ``since <= updated_at < until``, ordered by updated_at then id.

    Naive bounds are taken as UTC. Timestamps come back as UTC datetimes; an empty window gives an
    empty frame with the full schema. A value that cannot be read as its column's type (``_read_row``)
    is named in ``unreadable_values``; an unreadable ``updated_at`` becomes ``since`` (the database
    placed the row in this window).
    """
    engine = engine_for(url)
    try:
        lower, upper = (_bind_time(engine, moment) for moment in (since, until))
        # NullType: the driver's own values, not SQLAlchemy's conversions (which raise on odd ones).
        columns = [
            sa.type_coerce(complaint_forms.c[name], sa.types.NullType()).label(name)
            for name in EXTRACT_SCHEMA
            if name != UNREADABLE
        ]
        statement = (
            sa.select(*columns)
            .where(complaint_forms.c.updated_at >= lower, complaint_forms.c.updated_at < upper)
            .order_by(complaint_forms.c.updated_at, complaint_forms.c.id)
        )
        with engine.connect() as connection:
            result = connection.execute(statement)
            names = list(result.keys())
            rows = result.fetchall()
    finally:
        engine.dispose()
    if not rows:
        return pl.DataFrame(schema=EXTRACT_SCHEMA)
    try:
        return _read_columns(names, rows)
    except (_Unusual, TypeError, ValueError, UnicodeError, pl.exceptions.PolarsError):
        return pl.DataFrame(
            [_read_row(dict(zip(names, row)), as_utc(since)) for row in rows], schema=EXTRACT_SCHEMA, orient="row"
        )


class _Unusual(Exception):
    """A fetched column holds a value its type does not say: the window is read row by row."""


# How SQLAlchemy writes a DateTime into SQLite (PostgreSQL's driver returns datetimes).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S%.f"


def _read_columns(names: list[str], rows: list) -> pl.DataFrame:
    """The fetched rows as an extract, column by column, when every value is of its column's type
    (integer ids, text that is UTF-8, timestamps as datetimes or as SQLAlchemy's SQLite text);
    raises otherwise, for ``_read_row`` to name what it cannot read."""
    columns = dict(zip(names, (list(values) for values in zip(*rows))))
    frame = pl.DataFrame(
        [pl.Series("id", columns["id"], dtype=pl.Int64, strict=True)]
        + [_read_times(name, columns[name]) for name in TIMESTAMP_COLUMNS]
        + [pl.Series(name, columns[name], dtype=pl.String, strict=True) for name in TEXT_COLUMNS]
    )
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(UNREADABLE)).select(list(EXTRACT_SCHEMA))


def _read_times(name: str, values: list) -> pl.Series:
    series = pl.Series(name, values, strict=True)
    if series.dtype == pl.String:
        series = series.str.to_datetime(_SQLITE_DATETIME, time_unit="us", strict=True)
    if not isinstance(series.dtype, pl.Datetime) or series.null_count():
        raise _Unusual(name)
    series = series.dt.cast_time_unit("us")
    # Naive values are UTC already (as_utc), aware ones are converted.
    if series.dtype.time_zone is None:
        return series.dt.replace_time_zone("UTC")
    return series.dt.convert_time_zone("UTC")


def _read_row(record: dict, since: datetime) -> dict:
    unreadable: dict[str, str] = {}
    row: dict = {"id": record["id"]}
    for name in TIMESTAMP_COLUMNS:
        row[name] = _read_time(record[name])
        if row[name] is None and record[name] is not None:
            unreadable[name] = _as_text(record[name])
    for name in TEXT_COLUMNS:
        row[name] = _as_text(record[name]) if record[name] is not None else None
        if isinstance(record[name], (str, bytes)) and not _is_utf8(record[name]):
            unreadable[name] = "not valid UTF-8"
    if row["updated_at"] is None:
        row["updated_at"] = since
    row[UNREADABLE] = json.dumps(unreadable, ensure_ascii=False) if unreadable else None
    return row


def _read_time(value: object) -> datetime | None:
    """A stored timestamp as UTC: a datetime (PostgreSQL), or ISO-8601 text (SQLite); else None."""
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


def _is_utf8(value: str | bytes) -> bool:
    try:
        value.decode("utf-8") if isinstance(value, bytes) else value.encode("utf-8")
    except UnicodeError:
        return False
    return True


def _as_text(value: object) -> str:
    """A stored value as text; bytes that are not UTF-8 keep U+FFFD where they break."""
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def parse_web_forms(extract: pl.DataFrame, location: str) -> pl.DataFrame:
    """Turn an extract into bronze rows for channel ``web_forms``: one row per table row.

    ``location`` names where the extract was stored (``source_location`` is
    ``"<location> row id=<id>"``). A row without an id cannot be traced back, and one whose text is
    not UTF-8 or whose updated_at is unreadable was not stored as the table says: they carry a
    parse_error. An unreadable submitted_at is kept as stored (``event_time_text``), for the cleaned
    layer to quarantine as a time it cannot read; every other check (an empty message, an unknown
    status) is the cleaned layer's too.
    """
    extract = _with_utc_timestamps(extract)
    if _is_ordinary(extract):
        return _parse_columns(extract, location)
    rows: list[dict] = []
    for index, form in enumerate(extract.iter_rows(named=True)):
        form_id = form.get("id")
        submitted_at, updated_at = form.get("submitted_at"), form.get("updated_at")
        unreadable = json.loads(form.pop(UNREADABLE, None) or "{}")
        errors = ["row has no id"] if form_id is None else []
        if "updated_at" in unreadable:
            errors.append(f"updated_at is not a timestamp: {unreadable['updated_at']!r}")
        errors += [f"{name} is {problem}" for name, problem in unreadable.items() if name not in TIMESTAMP_COLUMNS]
        if unreadable:
            form[UNREADABLE] = unreadable  # in raw, next to the values as read
        rows.append(
            {
                "record_id": None if form_id is None else str(form_id),
                "source_location": (
                    f"{location} row id={form_id}"
                    if form_id is not None
                    else f"{location} row index={index}"
                ),
                "received_at": updated_at,
                "raw": _RAW_ENCODER.encode(form),
                "parse_error": "; ".join(errors) or None,
                "event_time_text": _iso(submitted_at) if submitted_at is not None else unreadable.get("submitted_at"),
                "event_time_zone": "UTC",
                "text": form.get("message"),
                "author_name": form.get("full_name"),
                "email": form.get("email"),
                "phone": form.get("phone"),
                "account_number": form.get("account_number"),
                "status": form.get("status"),
                "subject": form.get("subject"),
                "updated_at_text": _iso(updated_at),
            }
        )
    return to_bronze(CHANNEL, rows)


def _is_ordinary(extract: pl.DataFrame) -> bool:
    """Every row has an id and every value was readable, in an extract of today's columns."""
    return (
        extract.schema == pl.Schema(EXTRACT_SCHEMA)
        and extract.get_column(UNREADABLE).null_count() == extract.height
        and extract.get_column("id").null_count() == 0
    )


def _parse_columns(extract: pl.DataFrame, location: str) -> pl.DataFrame:
    """``parse_web_forms`` of an ordinary extract (``_is_ordinary``) in polars: the same rows, raw
    JSON included, without a Python call per row."""
    payload = [_iso_expr(name) if name in TIMESTAMP_COLUMNS else pl.col(name) for name in extract.columns if name != UNREADABLE]
    form_id = pl.col("id").cast(pl.String)
    columns = {
        "record_id": form_id,
        "source_location": pl.concat_str(pl.lit(f"{location} row id="), form_id),
        "received_at": pl.col("updated_at"),
        "raw": pl.struct(payload).struct.json_encode(),
        "event_time_text": _iso_expr("submitted_at"),
        "event_time_zone": pl.lit("UTC"),
        "text": pl.col("message"),
        "author_name": pl.col("full_name"),
        "email": pl.col("email"),
        "phone": pl.col("phone"),
        "account_number": pl.col("account_number"),
        "status": pl.col("status"),
        "subject": pl.col("subject"),
        "updated_at_text": _iso_expr("updated_at"),
    }
    return bronze_select(CHANNEL, extract, columns)


def _iso_expr(name: str) -> pl.Expr:
    """A UTC datetime column as ``datetime.isoformat`` writes it (microseconds only when not 0)."""
    moment = pl.col(name)
    return (
        pl.when(moment.dt.microsecond() == 0)
        .then(moment.dt.to_string("%Y-%m-%dT%H:%M:%S+00:00"))
        .otherwise(moment.dt.to_string("%Y-%m-%dT%H:%M:%S%.6f+00:00"))
        .alias(name)
    )


def parse_web_forms_extracts(extracts: list[tuple[pl.DataFrame, str]]) -> pl.DataFrame:
    """Bronze rows for every extract taken of one window, each version of a row once.

    Landing keeps every extraction (it is never overwritten), because re-extracting a past window
    sees only the rows' current state: a version captured earlier would otherwise be lost. The same
    version (same id and same content) extracted twice is one received record.
    """
    frames = [parse_web_forms(extract, location) for extract, location in extracts]
    if not frames:
        return parse_web_forms(pl.DataFrame(schema=EXTRACT_SCHEMA), "")
    return pl.concat(frames).unique(subset=["record_id", "raw"], keep="first", maintain_order=True)


def upsert_forms(url: str, rows: Iterable[dict]) -> None:
    """Insert or update forms by id (seeding for the demo and tests), in one transaction.

    Timestamps may be datetimes (naive ones are UTC) or ISO-8601 strings. A row with every
    required column is inserted, or replaces the stored one; a row naming only some columns
    updates just those on an existing form, so ``{"id": 7, "status": "closed", "updated_at": ...}``
    closes form 7.
    """
    required = {column.name for column in complaint_forms.c if not column.nullable}
    engine = engine_for(url)
    try:
        groups: dict[tuple[str, ...], list[dict]] = {}
        for row in rows:
            unknown = set(row) - set(complaint_forms.c.keys())
            if unknown:
                raise ValueError(f"unknown {TABLE_NAME} columns: {', '.join(sorted(unknown))}")
            if row.get("id") is None:
                raise ValueError(f"every {TABLE_NAME} row needs an id")
            prepared = {
                name: _bind_time(engine, value) if name in TIMESTAMP_COLUMNS else value
                for name, value in row.items()
            }
            groups.setdefault(tuple(sorted(prepared)), []).append(prepared)
        with engine.begin() as connection:
            for columns, group in groups.items():
                if required <= set(columns):
                    connection.execute(_upsert_statement(engine, columns), group)
                    continue
                for row in group:
                    changes = {name: value for name, value in row.items() if name != "id"}
                    updated = connection.execute(
                        sa.update(complaint_forms)
                        .where(complaint_forms.c.id == row["id"])
                        .values(changes)
                    ).rowcount
                    if updated != 1:
                        missing = ", ".join(sorted(required - set(columns)))
                        raise ValueError(
                            f"form {row['id']} does not exist, and a new form needs {missing}"
                        )
    finally:
        engine.dispose()


def as_utc(moment: datetime) -> datetime:
    """A datetime in UTC; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _bind_time(engine: Engine, moment: datetime | str | None) -> datetime | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    moment = as_utc(moment)
    # SQLite compares the text SQLAlchemy writes, which has no offset: bind naive UTC there.
    return moment if engine.dialect.name == "postgresql" else moment.replace(tzinfo=None)


def _upsert_statement(engine: Engine, columns: tuple[str, ...]):
    updates = [name for name in columns if name != "id"]
    dialect = engine.dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if insert is not None:
        statement = insert(complaint_forms)
        return statement.on_conflict_do_update(
            index_elements=["id"], set_={name: statement.excluded[name] for name in updates}
        )
    raise NotImplementedError(f"upsert_forms supports SQLite and PostgreSQL, not {dialect}")


def _with_utc_timestamps(extract: pl.DataFrame) -> pl.DataFrame:
    """Naive timestamp columns (from an older extract file, say) are UTC; aware ones go to UTC."""
    fixes = []
    for name in TIMESTAMP_COLUMNS:
        dtype = extract.schema.get(name)
        if isinstance(dtype, pl.Datetime):
            column = pl.col(name)
            fixes.append(
                (column.dt.replace_time_zone("UTC") if dtype.time_zone is None else column)
                .dt.convert_time_zone("UTC")
                .dt.cast_time_unit("us")
            )
    return extract.with_columns(fixes) if fixes else extract


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _json_value(value: object) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# A form's raw text, from one encoder made once (json.dumps makes one per call).
_RAW_ENCODER = json.JSONEncoder(default=_json_value, ensure_ascii=False, separators=(",", ":"))
