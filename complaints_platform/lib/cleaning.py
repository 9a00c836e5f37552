"""Bronze to silver: one canonical, validated, masked, de-duplicated record per complaint.

``clean_complaints`` takes the day's bronze frames of every channel and splits every record into
exactly one of three outcomes, so that for every partition

    records received = cleaned + quarantined + removed as duplicates

- quarantined: a record the platform cannot trust (unparseable, no text, unreadable or impossible
  time, unknown status), with the rule it broke and its payload masked;
- duplicates: a second copy of the same source record (webhook retry, overlapping API page, a CSV
  exported twice, a form row updated again: the latest version wins), or the same complaint sent
  again by the same customer, identical or reworded, on any channel (lib/near_duplicates.py: the
  earliest is kept; pairs it is unsure of go to a review queue for a person);
- cleaned: everything else, with PII masked and the customer resolved through masked tokens.

A day is cleaned in two passes so that it never has to fit in memory whole (``screen_day``, then
``ScreenedDay.clean``): the first screens the bronze a chunk at a time, tokenises identifiers,
resolves the customer and puts each good row in a bucket by its contact (to Parquet when there is
more than one bucket); the second cleans one bucket at a time. Nothing crosses buckets: near-
duplicates are always one contact's, and every copy of a source record is moved to the bucket of
its latest copy. The result does not depend on the number of buckets.

Silver's display text (the complaint text, and the quarantine's reason and payload) reaches CSV
exports and dashboards, so a value a spreadsheet would run as a formula is neutralised there
(``neutralise_formula``); bronze keeps the original.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import polars.selectors as cs

from complaints_platform.lib.bronze import BRONZE_SCHEMA, CHANNEL_COLUMNS
from complaints_platform.lib.frames import compacted, rows_among
from complaints_platform.lib.near_duplicates import (
    COMPLAINT_COLUMNS,
    IDF_SAMPLE,
    REVIEW_DESCENDING,
    REVIEW_ORDER,
    Cosine,
    Thresholds,
    earlier_candidates,
    find_pairs,
    normalised_text,
    resolve,
    tfidf_cosine,
)
from complaints_platform.lib.pii import PiiMasker, token_digest
from complaints_platform.lib.silver import (
    CLEANED_SCHEMA,
    CLOCK_SKEW,
    EARLIEST_EVENT,
    DUPLICATES_SCHEMA,
    QUARANTINE_SCHEMA,
)
from complaints_platform.lib.timestamps import to_utc

MAX_TEXT_CHARS = 20_000
ALLOWED_STATUSES = ("new", "open", "in_progress", "callback", "escalated", "resolved", "closed")
# OWASP's CSV-injection rule: a cell starting with one of these is run as a formula by spreadsheets
# (=, +, - and @ start one; a leading tab or carriage return hides it from a naive check).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = "^([=+@\t\r-])"


def neutralise_formula(text: str | None) -> str | None:
    """``text`` with a single quote in front if a spreadsheet would read it as a formula.

    The quote makes Excel, LibreOffice and Google Sheets show the value as text; a reader of the
    complaint sees one extra character. Apply it after masking, to what is displayed.
    """
    if text is not None and text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def neutralise_formula_expr(column: str | pl.Expr) -> pl.Expr:
    """``neutralise_formula`` as a polars expression (keeps the column's name). ``column`` appears
    once in it, so an expression that masks (a Python function per batch) is evaluated once: in a
    when/then/otherwise it was masked three times."""
    value = pl.col(column) if isinstance(column, str) else column
    return value.str.replace(_FORMULA_START, "'${1}")


@dataclass
class CleanedDay:
    cleaned: pl.DataFrame
    quarantine: pl.DataFrame
    duplicates: pl.DataFrame
    review: pl.DataFrame  # near-duplicate pairs awaiting a person (not part of the accounting)
    received: int

    def accounting(self) -> dict[str, int]:
        return accounting(self.received, self.cleaned.height, self.quarantine.height, self.duplicates.height)

    @property
    def balanced(self) -> bool:
        return balanced(self.accounting())


def accounting(received: int, cleaned: int, quarantined: int, duplicates: int) -> dict[str, int]:
    """A day's records by outcome, as the accounting check reports them."""
    return {"received": received, "cleaned": cleaned, "quarantined": quarantined, "duplicates": duplicates}


def balanced(counts: dict[str, int]) -> bool:
    """The accounting equation: every record received is cleaned, quarantined or a duplicate."""
    return counts["received"] == counts["cleaned"] + counts["quarantined"] + counts["duplicates"]


def complaint_id(channel: str, record_id: str) -> str:
    return hashlib.sha256(f"{channel}|{record_id}".encode()).hexdigest()[:20]


def complaint_ids(channel: pl.Series, record_id: pl.Series) -> pl.Series:
    """``complaint_id`` of each row (a null record id hashes as ""), in DuckDB: the same SHA-256
    of the same UTF-8 text, without a Python call per row."""
    rows = pl.DataFrame({"channel": channel, "record_id": record_id.fill_null("")})
    with duckdb.connect() as con:
        con.register("id_rows", rows)
        return con.sql("select left(sha256(channel || '|' || record_id), 20) as complaint_id from id_rows").pl().to_series()


def _canonical(channel: str, frame: pl.DataFrame) -> pl.DataFrame:
    """One channel's bronze rows in the columns every channel shares (plus the call centre's)."""
    return frame.select(list(BRONZE_SCHEMA)).with_columns(
        pl.lit(channel).alias("channel"),
        *(
            (frame.get_column(name) if name in frame.columns else pl.lit(None)).cast(pl.Int32).alias(name)
            for name in ("wait_seconds", "handle_seconds")
        ),
    )


def _quarantine_rule(statuses: tuple[str, ...]) -> pl.Expr:
    """The first rule a record breaks, or null. Order matters: the most basic failure is named."""
    text = pl.col("text").str.strip_chars()
    return (
        pl.when(pl.col("parse_error").is_not_null())
        .then(pl.struct(rule=pl.lit("unparseable_record"), reason=pl.col("parse_error")))
        .when(pl.col("record_id").is_null() | (pl.col("record_id").str.strip_chars() == ""))
        .then(pl.struct(rule=pl.lit("missing_record_id"), reason=pl.lit("the record has no id in its source")))
        .when(text.is_null() | (text == ""))
        .then(pl.struct(rule=pl.lit("missing_text"), reason=pl.lit("the complaint has no text")))
        .when(pl.col("text").str.len_chars() > MAX_TEXT_CHARS)
        .then(
            pl.struct(
                rule=pl.lit("text_too_long"),
                reason=pl.format("text has {} characters; the limit is {}", pl.col("text").str.len_chars(), pl.lit(MAX_TEXT_CHARS)),
            )
        )
        .when(pl.col("event_time_text").is_null() | (pl.col("event_time_text").str.strip_chars() == ""))
        .then(pl.struct(rule=pl.lit("missing_event_time"), reason=pl.lit("the record has no time")))
        .when(pl.col("event_at").is_null())
        .then(
            pl.struct(
                rule=pl.lit("unparseable_timestamp"),
                reason=pl.format(
                    "cannot read time '{}' (zone {})", pl.col("event_time_text"), pl.col("event_time_zone")
                ),
            )
        )
        .when(pl.col("event_at") < EARLIEST_EVENT)
        .then(
            pl.struct(
                rule=pl.lit("event_before_sources"),
                reason=pl.format("made at {}, before {} when the sources began", pl.col("event_at"), pl.lit(EARLIEST_EVENT.date().isoformat())),
            )
        )
        .when(pl.col("event_at") > pl.col("received_at") + CLOCK_SKEW)
        .then(
            pl.struct(
                rule=pl.lit("event_after_receipt"),
                reason=pl.format("made at {} but received at {}", pl.col("event_at"), pl.col("received_at")),
            )
        )
        .when(pl.col("resolved_at_text").is_not_null() & pl.col("resolved_at").is_null())
        .then(
            pl.struct(
                rule=pl.lit("unparseable_timestamp"),
                reason=pl.format("cannot read resolved time '{}'", pl.col("resolved_at_text")),
            )
        )
        .when(pl.col("status_norm").is_not_null() & ~pl.col("status_norm").is_in(statuses))
        .then(
            pl.struct(
                rule=pl.lit("unknown_status"),
                reason=pl.format("status '{}' is not one of " + ", ".join(statuses), pl.col("status")),
            )
        )
        .otherwise(None)
    )


# The copy of a source record kept is the latest received (ties: the later source location).
LATEST_FIRST = ["complaint_id", "received_at", "source_location"]
_LATEST_FIRST_DESCENDING = [False, True, True]
CLEANED_ORDER = ["event_at", "complaint_id"]
SAME_SOURCE_RECORD = "same_source_record"


def clean_complaints(
    bronze: Mapping[str, pl.DataFrame] | Iterable[tuple[str, pl.DataFrame]],
    masker: PiiMasker,
    customers: pl.DataFrame | None = None,
    prior: pl.DataFrame | pl.LazyFrame | None = None,
    decisions: pl.DataFrame | None = None,
    thresholds: Thresholds = Thresholds(),
    exclude_contacts: frozenset[str] = frozenset(),
    extra_statuses: tuple[str, ...] = (),
    buckets: int = 1,
    spill: Path | None = None,
) -> CleanedDay:
    """Split a day's bronze records into cleaned, quarantined and duplicate rows (see module doc),
    all in memory: ``screen_day`` then every bucket of ``ScreenedDay.clean`` put together (the
    cleaned layer's asset writes the buckets out one by one instead).

    ``bronze``: each channel's frame, or (channel, frame) chunks in any number (a channel's day
    read a few files at a time): the row-by-row rules run on one chunk at a time and keep only
    what the cleaned rows need, so a day's raw payloads are never all in memory at once.
    ``prior``: the cleaned complaints received before this day (a LazyFrame over every earlier
    partition is best: only those of today's contacts made within near_duplicates.WINDOW of today's
    complaints are read), against which a copy received today is recognised, however late it
    arrives; they are read, never changed. ``decisions``: people's
    decisions on near-duplicate pairs. ``exclude_contacts``: contact tokens that are not customers
    (the brand's own accounts), never merged. ``extra_statuses``: case statuses accepted beyond
    ALLOWED_STATUSES. ``buckets``, ``spill``: as ``screen_day`` (the result does not depend on them).
    """
    day = screen_day(bronze, masker, customers, exclude_contacts, extra_statuses, buckets, spill)
    parts = list(day.clean(prior, decisions, thresholds))
    return CleanedDay(
        cleaned=pl.concat([p.cleaned for p in parts]).sort(CLEANED_ORDER),
        quarantine=day.quarantine,
        duplicates=combine_duplicates([p.duplicates for p in parts]),
        review=combine_review([p.review for p in parts]),
        received=day.received,
    )


@dataclass
class CleanedBucket:
    """One bucket's share of a cleaned day: complete in itself (every copy of a complaint and every
    complaint of a contact is in one bucket)."""

    cleaned: pl.DataFrame  # sorted by CLEANED_ORDER
    duplicates: pl.DataFrame
    review: pl.DataFrame


def combine_duplicates(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The day's duplicates from its buckets': copies of a source record first (by id, the latest
    received first), then near-duplicates (by complaint id)."""
    duplicates = pl.concat(parts)
    same = pl.col("rule") == SAME_SOURCE_RECORD
    return pl.concat(
        [
            duplicates.filter(same).sort(["complaint_id", "received_date", "source_location"], descending=_LATEST_FIRST_DESCENDING),
            duplicates.filter(~same).sort("complaint_id"),
        ]
    )


def combine_review(parts: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(parts).sort(REVIEW_ORDER, descending=REVIEW_DESCENDING)


def screen_day(
    bronze: Mapping[str, pl.DataFrame] | Iterable[tuple[str, pl.DataFrame]],
    masker: PiiMasker,
    customers: pl.DataFrame | None = None,
    exclude_contacts: frozenset[str] = frozenset(),
    extra_statuses: tuple[str, ...] = (),
    buckets: int = 1,
    spill: Path | None = None,
) -> ScreenedDay:
    """The first pass over a day's bronze, a chunk at a time: the row-by-row rules (quarantine),
    identifiers tokenised and the customer resolved, and the good rows put in ``buckets`` by
    contact (near-duplicates never cross contacts), written to Parquet under ``spill`` when there
    is more than one bucket, so that the day is then cleaned a bucket at a time
    (``ScreenedDay.clean``) and never held whole. Every copy of one source record goes to one
    bucket: the bucket of its latest copy, which is the one kept (an updated form may name another
    contact)."""
    if buckets > 1 and spill is None:
        raise ValueError("more than one bucket needs a spill directory")
    statuses = ALLOWED_STATUSES + tuple(extra_statuses)
    chunks = bronze.items() if isinstance(bronze, Mapping) else bronze
    store = _Buckets(buckets, spill)
    received, quarantines, keys = 0, [], []
    crm = _Customers.of(customers)
    del customers  # crm is all it is needed for (the caller may hold none: a CRM can be large)
    for channel, frame in _or_empty_day(chunks):
        height, quarantine, good = _screen(channel, frame, masker, statuses)
        del frame
        received += height
        quarantines.append(compacted(quarantine))  # kept for the day: not the chunk's buffers with it
        contact = pl.col("contact_token")
        good = _resolve(good, masker, crm).with_columns(
            pl.col("complaint_id").hash().alias("__id_hash"),
            (pl.coalesce(contact, "complaint_id").hash() % buckets).cast(pl.UInt32).alias("__bucket"),
            (contact.is_not_null() & ~contact.is_in(list(exclude_contacts))).alias("__candidate"),
        )
        keys.append(good.select("__id_hash", "__bucket", "__candidate"))
        store.add(good)
        del good
    key_frame = pl.concat(keys)
    del keys, crm  # a CRM of millions: gone before the buckets are cleaned
    return ScreenedDay(
        received=received,
        quarantine=pl.concat(quarantines),
        masker=masker,
        exclude_contacts=exclude_contacts,
        _store=store,
        _moved=_copies_moved(store, key_frame),
        corpus=_idf_corpus(store, key_frame, masker),
    )


def _or_empty_day(chunks: Iterable[tuple[str, pl.DataFrame]]) -> Iterator[tuple[str, pl.DataFrame]]:
    """The chunks, or if there are none an empty one (an empty day, in the columns every channel
    shares)."""
    empty = True
    for chunk in chunks:
        empty = False
        yield chunk
    if empty:
        yield "sms", pl.DataFrame(schema=BRONZE_SCHEMA)


def _copies_moved(store: _Buckets, keys: pl.DataFrame) -> pl.DataFrame:
    """The rows of source records whose copies landed in more than one bucket (a form updated with
    another e-mail, say; rare), each with the bucket of its latest copy (``__bucket``)."""
    repeated = keys.filter(pl.col("__id_hash").is_duplicated())
    split = (
        repeated.group_by("__id_hash")
        .agg(pl.col("__bucket").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
        .get_column("__id_hash")
    )
    rows = store.scan().filter(pl.col("__id_hash").is_in(split.implode())).collect()
    home = _latest_copies(rows).select("complaint_id", pl.col("__bucket").alias("__home"))
    return compacted(rows.join(home, on="complaint_id").with_columns(pl.col("__home").alias("__bucket")).drop("__home"))


def _latest_copies(rows: pl.DataFrame) -> pl.DataFrame:
    """The copy kept of each source record (``complaint_id``): the latest received."""
    return rows.sort(LATEST_FIRST, descending=_LATEST_FIRST_DESCENDING).unique("complaint_id", keep="first", maintain_order=True)


def _idf_corpus(store: _Buckets, keys: pl.DataFrame, masker: PiiMasker) -> pl.Series:
    """The texts near-duplicate similarity takes document frequencies from (near_duplicates.IDF_SAMPLE
    of the day's complaints with a contact, chosen by their id's hash; masked and normalised),
    the same whatever the buckets."""
    chosen = keys.filter(pl.col("__candidate")).get_column("__id_hash").unique().bottom_k(IDF_SAMPLE)
    if not chosen.len():
        return pl.Series("text_masked", [], dtype=pl.String)
    rows = store.scan().filter(pl.col("__id_hash") <= chosen.max()).select(*LATEST_FIRST, "__id_hash", "__candidate", "text").collect()
    sample = _latest_copies(rows).filter(pl.col("__candidate")).sort("__id_hash", "complaint_id")
    return sample.select(_masked_text(masker)).select(normalised_text("text_masked")).to_series()


@dataclass
class ScreenedDay:
    """A day's records after the first pass (``screen_day``): received, quarantined, and the good
    rows waiting in buckets."""

    received: int
    quarantine: pl.DataFrame
    masker: PiiMasker
    exclude_contacts: frozenset[str]
    _store: _Buckets
    _moved: pl.DataFrame
    corpus: pl.Series
    _fitted: Cosine | None = field(default=None, repr=False)
    _fitting: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def buckets(self) -> int:
        return self._store.count

    def _cosine(self, earlier: pl.Series, later: pl.Series) -> np.ndarray:
        """The near-duplicate cosine, fitted on ``corpus`` once for all the day's buckets (0.24 s a
        bucket when each fitted its own: 5 s at 10M records), and only once a bucket has pairs to score.
        The first blocks of pairs arrive on several threads at once (``similarity``): one fits, the
        others wait for it."""
        if self._fitted is None:
            with self._fitting:
                if self._fitted is None:
                    self._fitted = tfidf_cosine(self.corpus)
        return self._fitted(earlier, later)

    def clean(
        self,
        prior: pl.DataFrame | pl.LazyFrame | None = None,
        decisions: pl.DataFrame | None = None,
        thresholds: Thresholds = Thresholds(),
    ) -> Iterator[CleanedBucket]:
        """Each bucket cleaned (see ``_clean_bucket``), one at a time, in bucket order."""
        for bucket in range(self._store.count):
            rows = pl.concat(
                [
                    self._store.take(bucket).filter(~pl.col("__id_hash").is_in(self._moved.get_column("__id_hash").implode())),
                    self._moved.filter(pl.col("__bucket") == bucket),
                ]
            ).drop("__id_hash", "__bucket", "__candidate")
            yield self._clean_bucket(rows, prior, decisions, thresholds)

    def _clean_bucket(
        self, good: pl.DataFrame, prior: pl.DataFrame | pl.LazyFrame | None, decisions: pl.DataFrame | None, thresholds: Thresholds
    ) -> CleanedBucket:
        # Same source record delivered more than once: keep the latest version. Which copy each row
        # is comes from its three keys alone (sorting every column of a day's rows would copy them all).
        copy = (
            good.select(*LATEST_FIRST)
            .with_row_index("__row")
            .sort(LATEST_FIRST, descending=_LATEST_FIRST_DESCENDING)
            .select("__row", pl.int_range(pl.len()).over("complaint_id").alias("__copy"))
            .sort("__row")
            .get_column("__copy")
        )
        same_record = good.with_columns(copy)
        del good
        duplicates_same = (
            same_record.filter(pl.col("__copy") > 0)
            .with_columns(pl.col("complaint_id").alias("duplicate_of"), pl.lit(SAME_SOURCE_RECORD).alias("rule"))
        )
        good = same_record.filter(pl.col("__copy") == 0).drop("__copy")
        del same_record
        # Masked after the copies are set aside (each text once); the raw text goes with it.
        good = good.with_columns(_masked_text(self.masker)).drop("text")

        # The same complaint sent again by the same customer, on any channel, worded the same or not
        # (lib/near_duplicates.py): merged into the earliest received, queued for a person when unsure.
        # Earlier days' complaints (``prior``) take part, so a copy arriving days later is caught too.
        candidates = good.select(*COMPLAINT_COLUMNS).with_columns(pl.lit(True).alias("is_new"))
        if prior is not None:
            earlier = earlier_candidates(prior, candidates).with_columns(pl.lit(False).alias("is_new"))
            candidates = pl.concat([earlier, candidates], how="vertical_relaxed")
        resolution = resolve(find_pairs(candidates, self.exclude_contacts, corpus=self._cosine), decisions, thresholds)
        duplicates_near = good.join(resolution.links, on="complaint_id", how="inner")
        good = good.join(resolution.links, on="complaint_id", how="anti")
        # Older copies of a record that turned out to be a duplicate belong to the one finally kept.
        kept_instead = resolution.links.select(
            pl.col("complaint_id").alias("duplicate_of"), pl.col("duplicate_of").alias("__kept")
        )
        duplicates_same = duplicates_same.join(
            kept_instead, on="duplicate_of", how="left", maintain_order="left"
        ).with_columns(pl.coalesce("__kept", "duplicate_of").alias("duplicate_of"), pl.lit(1.0).alias("similarity"))

        duplicates = pl.concat(
            [
                frame.select(
                    "complaint_id",
                    "duplicate_of",
                    "channel",
                    pl.col("record_id").alias("source_record_id"),
                    "source_location",
                    pl.col("received_at").dt.date().alias("received_date"),
                    "rule",
                    "similarity",
                ).cast(DUPLICATES_SCHEMA)
                for frame in (duplicates_same, duplicates_near)
            ]
        )
        merged = duplicates.group_by("duplicate_of").agg(pl.len().cast(pl.Int32).alias("__merged"))
        cleaned = (
            good.join(merged, left_on="complaint_id", right_on="duplicate_of", how="left")
            .with_columns(
                (1 + pl.col("__merged").fill_null(0)).cast(pl.Int32).alias("duplicate_count"),
                pl.col("record_id").alias("source_record_id"),
                pl.col("event_at").dt.date().alias("event_date"),
                pl.col("received_at").dt.date().alias("received_date"),
                pl.col("status_norm").alias("status"),
            )
            .select(list(CLEANED_SCHEMA))
            .cast(CLEANED_SCHEMA)
            .sort(CLEANED_ORDER)
        )
        # The duplicates and the review pairs are kept for the day, the bucket's buffers are not.
        return CleanedBucket(cleaned=cleaned, duplicates=compacted(duplicates), review=compacted(resolution.review))


class _Buckets:
    """A day's screened rows by bucket (column ``__bucket``): in memory when there is one bucket,
    else one Parquet file per chunk and bucket under ``spill``, in the first chunk's schema."""

    def __init__(self, count: int, spill: Path | None) -> None:
        self.count, self._spill = count, spill
        self._schema: pl.Schema | None = None
        self._frames: list[pl.DataFrame] = []
        self._files: list[list[Path]] = [[] for _ in range(count)]

    def add(self, rows: pl.DataFrame) -> None:
        if self._schema is None:
            self._schema = rows.schema
        rows = rows.cast(dict(self._schema))
        if self.count == 1:
            self._frames.append(rows)
            return
        for (bucket,), part in rows.partition_by("__bucket", as_dict=True).items():
            path = self._spill / f"bucket-{bucket}-{len(self._files[bucket])}.parquet"
            part.write_parquet(path, compression="lz4", statistics=False)
            self._files[bucket].append(path)

    def scan(self) -> pl.LazyFrame:
        """Every bucket's rows."""
        files = [path for paths in self._files for path in paths]
        if self._frames or not files:
            return pl.concat([pl.DataFrame(schema=self._schema), *self._frames]).lazy()
        return pl.scan_parquet(files)

    def take(self, bucket: int) -> pl.DataFrame:
        """One bucket's rows, released from the store."""
        if self.count == 1:
            frames, self._frames = self._frames, []
        else:
            files, self._files[bucket] = self._files[bucket], []
            frames = [pl.read_parquet(files)] if files else []
            for path in files:
                path.unlink()
        return pl.concat([pl.DataFrame(schema=self._schema), *frames])


def _masked_text(masker: PiiMasker) -> pl.Expr:
    # Mask first: a phone or handle leading the text becomes a token, and is no formula.
    return neutralise_formula_expr(masker.mask_text_expr("text")).alias("text_masked")


# The identifier columns of bronze, by their kind of token, in the order a raw payload has their
# values masked (a name before the e-mail address that may hold it).
IDENTIFIERS = {"author_name": "NAME", "email": "EMAIL", "phone": "PHONE", "handle": "HANDLE", "account_number": "ACCOUNT"}


def _screen(
    channel: str, frame: pl.DataFrame, masker: PiiMasker, statuses: tuple[str, ...]
) -> tuple[int, pl.DataFrame, pl.DataFrame]:
    """The row-by-row rules on one chunk of a channel's bronze: (records received, quarantined
    rows, good rows without what the cleaned layer never needs again: the raw payload above all)."""
    if channel not in CHANNEL_COLUMNS:
        raise ValueError(f"unknown channels: {[channel]}")
    records = _canonical(channel, frame)
    del frame
    received = records.height
    records = to_utc(records, "event_time_text", "event_time_zone", "event_at")
    records = to_utc(records, "resolved_at_text", "event_time_zone", "resolved_at")
    records = records.with_columns(
        pl.col("status").str.strip_chars().str.to_lowercase().str.replace_all(r"[\s-]+", "_").alias("status_norm"),
        complaint_ids(records.get_column("channel"), records.get_column("record_id")),
    ).with_columns(_quarantine_rule(statuses).alias("__rule"))

    bad = records.filter(pl.col("__rule").is_not_null()).with_columns(
        pl.col("__rule").struct.field("reason").alias("__reason")
    )
    # A payload is masked first where it holds its own fields' values (a name no pattern finds).
    known = bad.select(pl.col(column).alias(kind) for column, kind in IDENTIFIERS.items())
    quarantine = bad.select(
        "channel",
        pl.col("record_id").alias("source_record_id"),
        "source_location",
        "received_at",
        pl.col("received_at").dt.date().alias("received_date"),
        pl.col("__rule").struct.field("rule"),
        # A reason quotes what it could not read (a time, a status): masked like any text.
        neutralise_formula_expr(masker.mask_text_expr("__reason")).alias("reason"),
        neutralise_formula_expr(pl.lit(masker.mask_records(bad.get_column("raw"), known))).alias("raw_masked"),
    ).cast(QUARANTINE_SCHEMA)

    # What the cleaned rows never need again is dropped before the filter copies them (the raw
    # payloads alone are a third of a day's bronze).
    good = records.drop("raw", "parse_error", "event_time_text", "resolved_at_text").filter(pl.col("__rule").is_null())
    return received, quarantine, good


# A record without an account number is the customer whose e-mail, phone or handle it gives (in
# this order); what the cleaned layer reads of a CRM snapshot.
RESOLVED_BY = ("email", "phone", "handle")
CUSTOMER_LOOKUP_COLUMNS = ["customer_key", *(f"{kind}_token" for kind in RESOLVED_BY)]


@dataclass
class _Customers:
    """What resolving a record's customer needs of a CRM snapshot: for each of RESOLVED_BY, each
    token's customer (``by[kind]``: ``__<kind>``, the token's digest -> ``__by_<kind>``, the first
    row of the snapshot that gives it) and the customers' keys by row. Built once a day, for every chunk ``_resolve`` looks up;
    tokens are held as digests (pii.token_digest), so 5M customers' tables take some 0.2 GB, not
    1 GB of strings."""

    keys: pl.Series
    by: dict[str, pl.DataFrame]

    @classmethod
    def of(cls, customers: pl.DataFrame | None) -> _Customers | None:
        if customers is None or not customers.height:
            return None
        row = pl.int_range(pl.len(), dtype=pl.UInt32)
        by = {
            kind: customers.select(token_digest(f"{kind}_token").alias(f"__{kind}"), row.alias(f"__by_{kind}"))
            .drop_nulls()
            .unique(subset=f"__{kind}", keep="first")
            for kind in RESOLVED_BY
        }
        return cls(keys=customers.get_column("customer_key"), by=by)

    def resolve(self, tokens: pl.DataFrame) -> pl.Series:
        """The customer key of each row of ``tokens`` (columns ``__<kind>`` of RESOLVED_BY) by its
        first kind that names a customer, or null."""
        found = tokens.select(token_digest(f"__{kind}").alias(f"__{kind}") for kind in RESOLVED_BY)
        for kind in RESOLVED_BY:
            digest = f"__{kind}"
            table = rows_among(self.by[kind], digest, found.get_column(digest))  # not 5M rows hashed a chunk
            found = found.join(table, on=digest, how="left", maintain_order="left")
        row = found.select(pl.coalesce(f"__by_{kind}" for kind in RESOLVED_BY)).to_series()
        return self.keys.gather(row)


def _resolve(frame: pl.DataFrame, masker: PiiMasker, customers: _Customers | None) -> pl.DataFrame:
    """Tokenise identifiers; find the CRM customer through account, e-mail, phone or handle
    (``customers``: the day's snapshot, ``_Customers``); the text is masked later, once per kept
    record."""
    tokens = masker.tokenise(frame, IDENTIFIERS)
    frame = frame.with_columns(
        tokens.get_column("account_number").alias("__account"),
        tokens.get_column("email").alias("__email"),
        tokens.get_column("phone").alias("__phone"),
        tokens.get_column("handle").alias("__handle"),
        pl.coalesce(tokens.get_column("author_name"), tokens.get_column("handle")).alias("author_token"),
    )
    del tokens
    resolved = [pl.col("__account")]
    if customers is not None:
        # Looked up on the token columns alone: a join of the whole frame would copy every column.
        frame = frame.with_columns(customers.resolve(frame.select(f"__{kind}" for kind in RESOLVED_BY)).alias("__by_crm"))
        resolved.append(pl.col("__by_crm"))
    frame = frame.with_columns(pl.coalesce(resolved).alias("customer_key"))
    # Only tokens go on: the raw identifiers are not needed after this.
    return frame.with_columns(
        pl.coalesce("customer_key", "__email", "__phone", "__handle").alias("contact_token")
    ).drop("author_name", "email", "phone", "handle", "account_number", cs.starts_with("__"))
