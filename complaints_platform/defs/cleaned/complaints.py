"""The cleaned layer: each day's records from every channel, validated, masked and de-duplicated."""


from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pandera.polars as pa
import polars as pl

from complaints_platform.defs.partitions import daily
from complaints_platform.defs.resources import CleaningResource, LakeResource, PiiResource
from complaints_platform.defs.staging import commit_if_passed
from complaints_platform.lib import lake as lakelib
from complaints_platform.lib.bronze import bronze_schema
from complaints_platform.lib.cleaning import (
    CLEANED_ORDER,
    CUSTOMER_LOOKUP_COLUMNS,
    accounting,
    balanced,
    combine_duplicates,
    combine_review,
    screen_day,
)
from complaints_platform.lib.frames import compacted, give_back
from complaints_platform.lib.near_duplicates import COMPLAINT_COLUMNS
from complaints_platform.lib.pii import PiiMasker
from complaints_platform.lib.quality import (
    VOLUME_HISTORY_DAYS,
    VOLUME_MIN_HISTORY,
    ValidationResult,
    cleaned_contract,
    customer_reference_contract,
    unmasked_pii_rows,
    validate,
    volume_anomalies,
)
from complaints_platform.lib.reference import CUSTOMERS_SCHEMA
from complaints_platform.lib.review import current_decisions
from complaints_platform.lib.silver import CLEANED_SCHEMA, QUARANTINE_TEXT_COLUMNS, REVIEW_QUEUE_ASSET

# Bronze asset of each channel (the cleaned layer reads their files for the day).
BRONZE_ASSETS = {
    "social_media": "social_media_raw",
    "sms": "sms_raw",
    "call_center": "call_center_raw",
    "web_forms": "web_forms_raw",
}

CONTRACT_CHECK = "cleaned_contract"
ACCOUNTING_CHECK = "records_accounted_for"
PII_CHECK = "no_unmasked_pii"
VOLUME_CHECK = "channel_volume_normal"
CUSTOMERS_CHECK = "customers_known"
PREVIEW_ROWS = 10
# Bronze rows screened at once (a day's raw payloads are never all in memory).
BRONZE_ROWS_PER_CHUNK = 250_000


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "complaints_cleaned",
            description=(
                "One row per complaint, all channels in one schema: UTC timestamps, PII masked with "
                "keyed tokens, exact duplicates removed, customer resolved through masked tokens. "
                "Daily partitions by the UTC day the records were received (event_at says when the "
                "complaint was made). Fresh within the hour of its sources."
            ),
            deps=[
                dg.AssetDep(asset, partition_mapping=dg.TimeWindowPartitionMapping())
                for asset in BRONZE_ASSETS.values()
            ]
            + ["customers"],
            kinds={"python", "parquet"},
        ),
        dg.AssetSpec(
            "complaints_quarantine",
            description=(
                "Records that could not be trusted, one row each, with the channel, where the "
                "original is (file:line, API page, table row), the rule broken, a reason and the "
                "payload (masked; the original stays in bronze). Daily partitions by receipt day."
            ),
            deps=[dg.AssetDep(asset, partition_mapping=dg.TimeWindowPartitionMapping()) for asset in BRONZE_ASSETS.values()],
            kinds={"python", "parquet"},
        ),
        dg.AssetSpec(
            "complaint_duplicates",
            description=(
                "Source records removed as duplicates, each linked to the complaint kept "
                "(duplicate_of) with the rule that matched and the text similarity: the same source "
                "record delivered again, or the same complaint sent again by the same customer, "
                "identical or reworded, on any channel (merged above the merge threshold or when a "
                "person accepted the pair)."
            ),
            deps=[dg.AssetDep(asset, partition_mapping=dg.TimeWindowPartitionMapping()) for asset in BRONZE_ASSETS.values()],
            kinds={"python", "parquet"},
        ),
        dg.AssetSpec(
            REVIEW_QUEUE_ASSET,
            description=(
                "Pairs of complaints by one customer that may be the same complaint, with a "
                "similarity in the grey band: kept apart until a person decides with "
                "`complaints review accept|reject PAIR_ID`; the decision is honoured when the day "
                "is next materialized (the review sensor starts that run). Daily, by the receipt day "
                "of the later complaint."
            ),
            deps=[dg.AssetDep(asset, partition_mapping=dg.TimeWindowPartitionMapping()) for asset in BRONZE_ASSETS.values()],
            kinds={"python", "parquet"},
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            CONTRACT_CHECK,
            asset="complaints_cleaned",
            blocking=True,
            description=(
                "Pandera contract: unique complaint_id, known channels, UTC times between the sources' "
                "start and now (plus clock skew), no complaint made after it was received, non-empty "
                "masked text, non-negative durations."
            ),
        ),
        dg.AssetCheckSpec(
            CUSTOMERS_CHECK,
            asset="complaints_cleaned",
            blocking=False,
            description=(
                "Referential integrity (Pandera): every customer_key is in the day's CRM snapshot. A key "
                "that is not (an account the CRM does not list yet, or mistyped) counts under the "
                "'unknown' customer in the warehouse. Warns only: the CRM can lag a day."
            ),
        ),
        dg.AssetCheckSpec(
            ACCOUNTING_CHECK,
            asset="complaints_cleaned",
            blocking=True,
            description="For every day: records received = cleaned + quarantined + duplicates removed.",
        ),
        dg.AssetCheckSpec(
            PII_CHECK,
            asset="complaints_cleaned",
            blocking=True,
            description=(
                "No unmasked e-mail, phone, card or IBAN in the cleaned text or the quarantine's payloads "
                "and reasons (national phone numbers read in COMPLAINTS_PHONE_REGION, as the masker reads them)."
            ),
        ),
        dg.AssetCheckSpec(
            VOLUME_CHECK,
            asset="complaints_cleaned",
            blocking=False,
            description=(
                "Each channel's records received on a completed day lie within the range its last 14 days "
                "predict (median +/- 4 robust deviations): flags a spike or a silent source. Warns only."
            ),
        ),
    ],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="silver",
    can_subset=False,
)
def complaints_cleaned(
    context: dg.AssetExecutionContext, lake: LakeResource, pii: PiiResource, cleaning: CleaningResource
):
    masker = pii.masker()
    decisions = current_decisions(lake.root)
    brand = cleaning.brand_contacts(masker)
    window = context.partition_time_window
    days = lakelib.days_between(window.start, window.end)
    # A day at a time: each day's files are staged as soon as it is cleaned and only its summary
    # is kept, so a backfill of a month holds one day in memory, not thirty. Nothing is put in
    # place until every day has passed the blocking checks.
    summaries: dict[str, _DaySummary] = {}
    known_days = _committed_days(lake.root) | set(days)
    with lakelib.StagedFiles() as staged:
        for day in days:
            prior = _prior_days(lake.root, day, known_days, staged)
            summaries[day] = _clean_day(lake.root, day, staged, masker, prior, decisions, cleaning, brand, context.log)
            give_back()  # the next day, or the run's next step, starts on what the day freed
        run = _RunSummary(list(summaries.values()))
        checks = [
            dg.AssetCheckResult(
                asset_key="complaints_cleaned", check_name=CONTRACT_CHECK, passed=run.contract.passed, metadata=run.contract.metadata()
            ),
            dg.AssetCheckResult(
                asset_key="complaints_cleaned",
                check_name=ACCOUNTING_CHECK,
                passed=not run.unbalanced,
                metadata={"per_day": run.accounting, "unbalanced_days": run.unbalanced},
            ),
            dg.AssetCheckResult(
                asset_key="complaints_cleaned",
                check_name=PII_CHECK,
                passed=run.leaks == 0,
                metadata={"rows_with_pii": run.leaks, "kinds": run.counts("leak_kinds")},
            ),
        ]
        volume = _volume_check(lake.root, {day: s.received_by_channel for day, s in summaries.items()})
        yield from commit_if_passed(staged, checks)
    totals = run.totals
    context.log.info(f"cleaned layer {window.start:%Y-%m-%d}..{window.end:%Y-%m-%d}: {totals}")

    yield dg.MaterializeResult(
        asset_key="complaints_cleaned",
        metadata={
            "dagster/row_count": totals["cleaned"],
            **{f"{k}_records": v for k, v in totals.items()},
            "by_channel": run.counts("by_channel"),
            "known_customers": run.total("known_customers"),
            # More than one: the day was larger than COMPLAINTS_CLEANING_ROWS_PER_BUCKET and spilled.
            "buckets_per_day": {d.day: d.buckets for d in run.days},
            "preview": dg.MetadataValue.md(run.preview("cleaned_preview")),
        },
    )
    yield dg.MaterializeResult(
        asset_key="complaints_quarantine",
        metadata={"dagster/row_count": totals["quarantined"], "by_rule": run.counts("quarantine_rules")},
    )
    yield dg.MaterializeResult(
        asset_key="complaint_duplicates",
        metadata={"dagster/row_count": totals["duplicates"], "by_rule": run.counts("duplicate_rules")},
    )
    yield dg.MaterializeResult(
        asset_key=REVIEW_QUEUE_ASSET,
        metadata={
            "dagster/row_count": run.total("review_pairs"),
            "decisions_applied": decisions.height,
            "preview": dg.MetadataValue.md(run.preview("review_preview")),
        },
    )
    yield from checks
    yield volume
    yield dg.AssetCheckResult(
        asset_key="complaints_cleaned",
        check_name=CUSTOMERS_CHECK,
        passed=run.references.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={**run.references.metadata(), "customers_in_snapshot": max(d.customers_in_snapshot for d in run.days)},
    )


def _clean_day(
    root: Path, day: str, staged: lakelib.StagedFiles, masker: PiiMasker, prior: pl.LazyFrame,
    decisions: pl.DataFrame, cleaning: CleaningResource, brand: frozenset[str], log,
) -> "_DaySummary":
    """Clean one day a bucket at a time (lib/cleaning.py, ``screen_day``) and stage its four files;
    only the day's summary is kept. A day of more records than a bucket holds is spilled to Parquet
    in a private folder inside the lake (``lake.scratch_dir``), removed after."""
    received = sum(lakelib.parquet_rows(lakelib.bronze_files_for_day(root, asset, day)) for asset in BRONZE_ASSETS.values())
    buckets = cleaning.buckets(received)
    customer_keys = _customers(root, day, ["customer_key"]).get_column("customer_key").drop_nulls().unique()
    contracts = cleaned_contract(), customer_reference_contract(customer_keys)
    with lakelib.scratch_dir(root, "cleaning") as spill:
        screened = screen_day(
            # Read here and held by screen_day alone, which lets it go once its lookups are built.
            _bronze_chunks(root, day), masker, _customers(root, day, CUSTOMER_LOOKUP_COLUMNS), brand,
            tuple(cleaning.extra_statuses), buckets, spill,
        )
        parts, duplicates, review = [], [], []
        for n, bucket in enumerate(screened.clean(prior, decisions, cleaning.thresholds())):
            parts.append(_CleanedStats.of(bucket.cleaned, *contracts, masker.default_region))
            duplicates.append(bucket.duplicates)
            review.append(bucket.review)
            if buckets == 1:
                cleaned = bucket.cleaned
            else:
                bucket.cleaned.write_parquet(spill / f"cleaned-{n}.parquet", compression="lz4")
            del bucket
        target = lakelib.silver_partition_path(root, "complaints_cleaned", day)
        if buckets == 1:
            staged.write_parquet(cleaned, target)
            del cleaned
        else:
            files = [spill / f"cleaned-{n}.parquet" for n in range(buckets)]
            give_back()  # DuckDB's sort takes its memory on top of what the buckets freed
            staged.write_with(target, lambda tmp: lakelib.write_sorted_parquet(files, tmp, CLEANED_ORDER, spill))
    if buckets > 1:
        log.info(f"{day}: {received:,} records cleaned in {buckets} buckets")
    duplicates, review = combine_duplicates(duplicates), combine_review(review)
    for asset, frame in (
        ("complaints_quarantine", screened.quarantine),
        ("complaint_duplicates", duplicates),
        (REVIEW_QUEUE_ASSET, review),
    ):
        staged.write_parquet(frame, lakelib.silver_partition_path(root, asset, day))
    return _DaySummary.of(
        day, screened.received, parts, screened.quarantine, duplicates, review, customer_keys.len(), buckets,
        masker.default_region,
    )


def _customers(root: Path, day: str, columns: list[str]) -> pl.DataFrame:
    """The day's CRM snapshot (masked), or none."""
    path = lakelib.customers_path(root, day)
    return pl.read_parquet(path, columns=columns) if path.exists() else pl.DataFrame(schema={c: CUSTOMERS_SCHEMA[c] for c in columns})


@dataclass
class _CleanedStats:
    """What the checks and metadata need of cleaned rows, taken a bucket at a time."""

    contract: ValidationResult
    references: ValidationResult
    leaks: pl.DataFrame
    channels: pl.DataFrame  # channel, records
    known_customers: int
    preview: pl.DataFrame

    @classmethod
    def of(
        cls, cleaned: pl.DataFrame, contract: pa.DataFrameSchema, references: pa.DataFrameSchema, region: str
    ) -> "_CleanedStats":
        return cls(
            # A complaint id is unique within its receipt day (a record updated on a later day is
            # that day's version of the complaint); every copy of one is in one bucket.
            contract=validate(contract, cleaned),
            references=validate(references, cleaned),
            # Kept for the day: rows of the bucket without the bucket's buffers (lib/frames.py).
            leaks=compacted(unmasked_pii_rows(cleaned, ["text_masked"], region)),
            channels=compacted(_channel_counts(cleaned)),
            known_customers=cleaned.filter(pl.col("customer_key").is_not_null()).height,
            preview=compacted(cleaned.select("channel", "event_at", "text_masked").head(PREVIEW_ROWS)),
        )


@dataclass
class _DaySummary:
    """What the run's checks and metadata need of one cleaned day, once its frames are gone."""

    day: str
    accounting: dict[str, int]
    balanced: bool
    contract: ValidationResult
    references: ValidationResult
    leaks: int
    leak_kinds: dict[str, int]
    by_channel: dict[str, int]
    quarantine_rules: dict[str, int]
    duplicate_rules: dict[str, int]
    known_customers: int
    review_pairs: int
    customers_in_snapshot: int
    buckets: int
    received_by_channel: pl.DataFrame
    cleaned_preview: pl.DataFrame
    review_preview: pl.DataFrame

    @classmethod
    def of(
        cls, day: str, received: int, cleaned: "list[_CleanedStats]", quarantine: pl.DataFrame, duplicates: pl.DataFrame,
        review: pl.DataFrame, customers_in_snapshot: int, buckets: int, region: str,
    ) -> "_DaySummary":
        channels = pl.concat([part.channels for part in cleaned]).group_by("channel").agg(pl.col("records").sum())
        kept = int(channels.get_column("records").sum())
        leaks = pl.concat([*(part.leaks for part in cleaned), unmasked_pii_rows(quarantine, QUARANTINE_TEXT_COLUMNS, region)])
        counts = accounting(received, kept, quarantine.height, duplicates.height)
        return cls(
            day=day,
            accounting=counts,
            balanced=balanced(counts),
            contract=ValidationResult.combine(part.contract for part in cleaned),
            references=ValidationResult.combine(part.references for part in cleaned),
            leaks=leaks.height,
            leak_kinds=_counts(leaks, "kinds"),
            by_channel=dict(channels.sort("records", "channel", descending=[True, False]).iter_rows()),
            quarantine_rules=_counts(quarantine, "rule"),
            duplicate_rules=_counts(duplicates, "rule"),
            known_customers=sum(part.known_customers for part in cleaned),
            review_pairs=review.height,
            customers_in_snapshot=customers_in_snapshot,
            buckets=buckets,
            received_by_channel=_received_by_channel(day, channels, _channel_counts(quarantine), _channel_counts(duplicates)),
            cleaned_preview=pl.concat([part.preview for part in cleaned]).sort("event_at").head(PREVIEW_ROWS),
            review_preview=review.select("pair_id", "similarity", "text_masked", "candidate_text_masked").head(PREVIEW_ROWS),
        )


@dataclass
class _RunSummary:
    days: list[_DaySummary]

    @property
    def accounting(self) -> dict[str, dict[str, int]]:
        return {d.day: d.accounting for d in self.days}

    @property
    def unbalanced(self) -> list[str]:
        return [d.day for d in self.days if not d.balanced]

    @property
    def totals(self) -> dict[str, int]:
        return {k: sum(d.accounting[k] for d in self.days) for k in ("received", "cleaned", "quarantined", "duplicates")}

    @property
    def contract(self) -> ValidationResult:
        return ValidationResult.combine([d.contract for d in self.days])

    @property
    def references(self) -> ValidationResult:
        return ValidationResult.combine([d.references for d in self.days])

    @property
    def leaks(self) -> int:
        return self.total("leaks")

    def total(self, field: str) -> int:
        return sum(getattr(d, field) for d in self.days)

    def counts(self, field: str) -> dict[str, int]:
        summed: Counter[str] = Counter()
        for day in self.days:
            summed.update(getattr(day, field))
        return dict(summed.most_common())

    def preview(self, field: str) -> str:
        frames = [getattr(d, field) for d in self.days]
        return _preview(pl.concat(frames).head(PREVIEW_ROWS)) if frames else ""


def _bronze_chunks(root, day: str) -> Iterator[tuple[str, pl.DataFrame]]:
    """Each channel's bronze for ``day``, BRONZE_ROWS_PER_CHUNK rows at a time (screen_day screens
    one chunk at a time, so the day's raw payloads are never all in memory)."""
    for channel, asset in BRONZE_ASSETS.items():
        files = lakelib.bronze_files_for_day(root, asset, day)
        for chunk in lakelib.parquet_chunks(files, BRONZE_ROWS_PER_CHUNK, bronze_schema(channel)):
            yield channel, chunk


def _volume_check(root, received: dict[str, pl.DataFrame]) -> dg.AssetCheckResult:
    """Records received per channel and day (``received``: this run's days, as _received_by_channel
    counts them; the history before them is read)."""
    first = date.fromisoformat(min(received))
    frames = list(received.values())
    for n in range(1, VOLUME_HISTORY_DAYS + 1):
        day = (first - timedelta(days=n)).isoformat()
        parts = [lakelib.silver_partition_path(root, a, day) for a in ("complaints_cleaned", "complaints_quarantine", "complaint_duplicates")]
        if all(p.exists() for p in parts):
            frames.append(_received_by_channel(day, *(_channel_counts(pl.read_parquet(p, columns=["channel"])) for p in parts)))
    counts = pl.concat(frames)
    today = datetime.now(timezone.utc).date().isoformat()
    judged = [volume_anomalies(counts, day).with_columns(pl.lit(day).alias("day")) for day in received if day < today]
    report = pl.concat(judged) if judged else pl.DataFrame()
    anomalies = report.filter(pl.col("anomalous")) if report.height else report
    return dg.AssetCheckResult(
        asset_key="complaints_cleaned",
        check_name=VOLUME_CHECK,
        passed=anomalies.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "days_judged": len(judged),
            "anomalies": [
                f"{r['day']} {r['channel']}: {r['records']} records, expected {r['expected_low']:.0f}-{r['expected_high']:.0f}"
                for r in anomalies.iter_rows(named=True)
            ] if anomalies.height else [],
            "expected_ranges": {
                f"{r['day']} {r['channel']}": (
                    f"{r['expected_low']:.0f}-{r['expected_high']:.0f} (got {r['records']})"
                    if r["history_days"] >= VOLUME_MIN_HISTORY else f"not judged: {r['history_days']} days of history"
                )
                for r in report.iter_rows(named=True)
            } if report.height else {},
        },
    )


def _channel_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """channel, records: rows of ``frame`` per channel."""
    return frame.group_by("channel").agg(pl.len().cast(pl.Int64).alias("records"))


def _received_by_channel(day: str, *counts: pl.DataFrame) -> pl.DataFrame:
    """The day's records per channel, from the counts (``_channel_counts``) of its outcomes."""
    return (
        pl.concat(counts)
        .group_by("channel")
        .agg(pl.col("records").sum())
        .with_columns(pl.lit(day).alias("day"))
    )


def _committed_days(root) -> set[str]:
    folder = root / "silver" / "complaints_cleaned"
    days = (lakelib.day_of_folder(path.parent.name) for path in folder.glob("date=*/part.parquet")) if folder.exists() else ()
    return {day for day in days if day is not None}


def _prior_days(root, day: str, known_days: set[str], staged: lakelib.StagedFiles) -> pl.LazyFrame:
    """Cleaned complaints received before ``day``, lazily (clean_complaints reads only those of the
    day's contacts made near the day's complaints): of ``known_days`` (the committed days and the
    run's own), this run's earlier days as staged, the rest as committed."""
    frames = []
    for earlier in sorted(d for d in known_days if d < day):
        path = staged.current(lakelib.silver_partition_path(root, "complaints_cleaned", earlier))
        if path is not None:
            frames.append(pl.scan_parquet(path).select(*COMPLAINT_COLUMNS))
    if not frames:
        return pl.LazyFrame(schema={c: CLEANED_SCHEMA[c] for c in COMPLAINT_COLUMNS})
    return pl.concat(frames, how="vertical_relaxed")


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if not frame.height:
        return {}
    return {str(r[column]): r["len"] for r in frame.group_by(column).len().sort("len", descending=True).iter_rows(named=True)}


def _preview(frame: pl.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    head = frame.head(rows)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * head.width]
    for row in head.iter_rows():
        lines.append("| " + " | ".join(str(v).replace("|", "/").replace("\n", " ")[:120] for v in row) + " |")
    return "\n".join(lines)
