"""Data contracts as Pandera schemas (polars backend), declared once and run inside asset checks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandera.polars as pa
import polars as pl

from complaints_platform.lib.frames import rows_among
from complaints_platform.lib.pii import find_unmasked_pii_expr
from complaints_platform.lib.silver import CATEGORIES, CATEGORY_PATHS, CHANNEL_NAMES, CLOCK_SKEW, EARLIEST_EVENT

_UTC = pl.Datetime("us", "UTC")

BRONZE_CONTRACT = pa.DataFrameSchema(
    {
        "record_id": pa.Column(pl.String, nullable=False),
        "source_location": pa.Column(pl.String, nullable=False),
        "received_at": pa.Column(_UTC, nullable=False),
        "raw": pa.Column(pl.String, nullable=True),
        "parse_error": pa.Column(pl.String, nullable=True),
        "text": pa.Column(pl.String, nullable=True),
    },
    name="bronze",
    strict=False,
)

CLEANED_CONTRACT = pa.DataFrameSchema(
    {
        "complaint_id": pa.Column(pl.String, nullable=False, unique=True),
        "channel": pa.Column(pl.String, pa.Check.isin(CHANNEL_NAMES), nullable=False),
        "source_record_id": pa.Column(pl.String, nullable=False),
        "source_location": pa.Column(pl.String, nullable=False),
        "event_at": pa.Column(_UTC, nullable=False),
        "received_at": pa.Column(_UTC, nullable=False),
        "event_date": pa.Column(pl.Date, nullable=False),
        "received_date": pa.Column(pl.Date, nullable=False),
        "text_masked": pa.Column(pl.String, pa.Check.str_length(min_value=1), nullable=False),
        "duplicate_count": pa.Column(pl.Int32, pa.Check.ge(1), nullable=False),
        "wait_seconds": pa.Column(pl.Int32, pa.Check.ge(0), nullable=True),
        "handle_seconds": pa.Column(pl.Int32, pa.Check.ge(0), nullable=True),
    },
    name="complaints_cleaned",
    strict=False,
)

def _event_not_after_receipt(data) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col("event_at") <= pl.col("received_at") + CLOCK_SKEW)


def cleaned_contract(now: datetime | None = None) -> pa.DataFrameSchema:
    """CLEANED_CONTRACT with the checks that depend on when it runs: no time before the sources
    began or after ``now`` (plus clock skew), and no complaint made after it was received."""
    latest = (now or datetime.now(timezone.utc)) + CLOCK_SKEW
    in_range = [pa.Check.ge(EARLIEST_EVENT), pa.Check.le(latest)]
    columns = {
        "event_at": pa.Column(_UTC, in_range, nullable=False),
        "received_at": pa.Column(_UTC, in_range, nullable=False),
    }
    return pa.DataFrameSchema(
        {**CLEANED_CONTRACT.columns, **columns},
        checks=[pa.Check(_event_not_after_receipt, name="event_at <= received_at + clock skew")],
        name=CLEANED_CONTRACT.name,
        strict=False,
    )


def customer_reference_contract(customer_keys: Iterable[str] | pl.Series) -> pa.DataFrameSchema:
    """Referential integrity: every customer_key given is in the customer dimension (the CRM
    snapshot). A key that is not is an account the CRM does not list (yet, or mistyped): such a
    complaint counts under the 'unknown' customer in the warehouse until the CRM lists it. The keys
    stay a polars Series (a CRM of millions as Python strings would cost gigabytes)."""
    keys = customer_keys if isinstance(customer_keys, pl.Series) else pl.Series(list(customer_keys), dtype=pl.String)
    keys = keys.drop_nulls().unique()

    def in_snapshot(data) -> pl.LazyFrame:
        # Against the snapshot's keys this frame holds: not a 5M customers' keys hashed a bucket.
        present = data.lazyframe.select(pl.col(data.key).unique()).collect().to_series()
        known = rows_among(keys.to_frame("key"), "key", present).to_series()
        return data.lazyframe.select(pl.col(data.key).is_in(known.implode()))

    known = pa.Check(
        in_snapshot,
        name="isin",
        error="customer_key is not in the CRM snapshot",
    )
    return pa.DataFrameSchema(
        {"customer_key": pa.Column(pl.String, known, nullable=True)},
        name="customer_reference",
        strict=False,
    )


CATEGORISED_CONTRACT = pa.DataFrameSchema(
    {
        **CLEANED_CONTRACT.columns,
        "category": pa.Column(pl.String, pa.Check.isin(CATEGORIES), nullable=False),
        "category_confidence": pa.Column(pl.Float64, pa.Check.in_range(0.0, 1.0), nullable=False),
        "category_path": pa.Column(pl.String, pa.Check.isin(list(CATEGORY_PATHS)), nullable=False),
        "is_complaint": pa.Column(pl.Boolean, nullable=False),
        "model_version": pa.Column(pl.String, nullable=False),
    },
    checks=[
        pa.Check(
            lambda data: data.lazyframe.select((pl.col("is_complaint") == (pl.col("category") != "other")).alias("ok")),
            name="is_complaint_iff_not_other",
            error="is_complaint must be false exactly when the category is other",
        )
    ],
    name="complaints_categorised",
    strict=False,
)


# Failure cases a result keeps per check (the counts are always complete): a run over many days
# keeps the first bad values of each check, never every one.
FAILURE_SAMPLE = 100


@dataclass
class ValidationResult:
    passed: bool
    failure_count: int
    failures: pl.DataFrame | None  # pandera's failure cases (column, check, value), the first of each check
    by_check: dict[str, int] = field(default_factory=dict)  # "column: check" -> failing values, all of them

    @classmethod
    def combine(cls, results: Iterable[ValidationResult]) -> ValidationResult:
        """One result for several frames validated apart (a run's days, say)."""
        results = list(results)
        failures = [r.failures for r in results if r.failures is not None]
        by_check: Counter[str] = Counter()
        for r in results:
            by_check.update(r.by_check)
        return cls(
            all(r.passed for r in results),
            sum(r.failure_count for r in results),
            _first_of_each_check(pl.concat(failures)) if failures else None,
            dict(by_check),
        )

    def metadata(self, limit: int = 20) -> dict:
        result: dict = {"failure_count": self.failure_count}
        if self.by_check:
            result["failures_by_check"] = dict(Counter(self.by_check).most_common(limit))
        return result


def validate(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> ValidationResult:
    """Run a schema lazily (all failures counted, a sample kept); never raises for bad data."""
    try:
        schema.validate(frame, lazy=True)
        return ValidationResult(True, 0, None)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        cases = cases if isinstance(cases, pl.DataFrame) else pl.from_pandas(cases)
        cases = cases.select(
            pl.col("column").cast(pl.String), pl.col("check").cast(pl.String), pl.col("failure_case").cast(pl.String)
        )
        by_check = {
            f"{r['column']}: {r['check']}": r["len"] for r in cases.group_by("column", "check").len().iter_rows(named=True)
        }
        return ValidationResult(False, cases.height, _first_of_each_check(cases), by_check)


def _first_of_each_check(cases: pl.DataFrame) -> pl.DataFrame:
    return cases.group_by("column", "check", maintain_order=True).head(FAILURE_SAMPLE)


def unmasked_pii_rows(frame: pl.DataFrame, text_columns: list[str], region: str) -> pl.DataFrame:
    """One row per row of ``frame`` whose ``text_columns`` still hold an e-mail, phone, card or IBAN
    (must be none outside bronze): the columns that hold it and the kinds found, comma-joined.
    ``region``: the masker's (national phone numbers are read in it)."""
    if not text_columns:
        return pl.DataFrame(schema={"column": pl.String, "kinds": pl.String})
    none = pl.lit([], dtype=pl.List(pl.String))
    found = frame.select(find_unmasked_pii_expr(column, region).fill_null(none).alias(column) for column in text_columns)
    leaking = [pl.when(pl.col(column).list.len() > 0).then(pl.lit(column)) for column in text_columns]
    return found.select(
        pl.concat_str(leaking, separator=",", ignore_nulls=True).alias("column"),
        pl.concat_list(text_columns).list.unique(maintain_order=True).list.join(",").alias("kinds"),
    ).filter(pl.col("kinds") != "")


# A channel's daily volume is judged against its own recent history.
VOLUME_HISTORY_DAYS = 14
VOLUME_MIN_HISTORY = 7
VOLUME_SPREAD = 4.0  # robust z-score (median / MAD) beyond which a day is anomalous


def volume_anomalies(counts: pl.DataFrame, day: str) -> pl.DataFrame:
    """Each channel's records on ``day`` against its previous days (columns day, channel, records).

    The expected range is the median of the last VOLUME_HISTORY_DAYS days +/- VOLUME_SPREAD robust
    standard deviations (1.4826 x MAD, at least 10% of the median and at least 5 records), so a
    spike or a silent source stands out while ordinary day-to-day noise does not. With fewer than
    VOLUME_MIN_HISTORY days of history a channel is not judged.
    """
    history = counts.filter(pl.col("day") < day).sort("day").group_by("channel").tail(VOLUME_HISTORY_DAYS)
    stats = history.group_by("channel").agg(
        pl.len().alias("history_days"),
        pl.col("records").median().alias("median"),
        (pl.col("records") - pl.col("records").median()).abs().median().alias("mad"),
    )
    today = counts.filter(pl.col("day") == day).select("channel", "records")
    channels = pl.concat([today.select("channel"), stats.select("channel")]).unique()
    spread = pl.max_horizontal(1.4826 * pl.col("mad"), 0.1 * pl.col("median"), pl.lit(5.0)) * VOLUME_SPREAD
    return (
        channels.join(today, on="channel", how="left")
        .join(stats, on="channel", how="left")
        .with_columns(pl.col("records").fill_null(0), pl.col("history_days").fill_null(0))
        .with_columns(
            pl.max_horizontal(pl.col("median") - spread, pl.lit(0.0)).alias("expected_low"),
            (pl.col("median") + spread).alias("expected_high"),
        )
        .with_columns(
            (
                (pl.col("history_days") >= VOLUME_MIN_HISTORY)
                & ((pl.col("records") < pl.col("expected_low")) | (pl.col("records") > pl.col("expected_high")))
            ).alias("anomalous")
        )
        .sort("channel")
    )
