"""The cleaned layer: each day's records from every channel, validated, masked and de-duplicated."""


from datetime import date, datetime, timedelta, timezone

import dagster as dg
import polars as pl

from complaints_platform.defs.partitions import daily
from complaints_platform.defs.resources import CleaningResource, LakeResource, PiiResource
from complaints_platform.lib import lake as lakelib
from complaints_platform.lib.bronze import bronze_schema
from complaints_platform.lib.cleaning import CleanedDay, clean_complaints
from complaints_platform.lib.near_duplicates import COMPLAINT_COLUMNS
from complaints_platform.lib.quality import (
    VOLUME_HISTORY_DAYS,
    VOLUME_MIN_HISTORY,
    cleaned_contract,
    customer_reference_contract,
    unmasked_pii_rows,
    validate,
    volume_anomalies,
)
from complaints_platform.lib.reference import CUSTOMERS_SCHEMA
from complaints_platform.lib.review import current_decisions
from complaints_platform.lib.silver import CLEANED_SCHEMA, REVIEW_QUEUE_ASSET

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
            description="No unmasked e-mail, phone, card or IBAN in the cleaned text or quarantine payloads.",
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
    results: dict[str, CleanedDay] = {}
    customer_keys: set[str] = set()
    for day in lakelib.days_between(window.start, window.end):
        bronze = {
            channel: lakelib.read_parquet_files(
                lakelib.bronze_files_for_day(lake.root, asset, day), bronze_schema(channel)
            )
            for channel, asset in BRONZE_ASSETS.items()
        }
        customers_file = lakelib.customers_path(lake.root, day)
        customers = pl.read_parquet(customers_file) if customers_file.exists() else pl.DataFrame(schema=CUSTOMERS_SCHEMA)
        customer_keys.update(customers.get_column("customer_key").drop_nulls().to_list())
        results[day] = clean_complaints(
            bronze, masker, customers, _prior_days(lake.root, day, results), decisions, cleaning.thresholds(), brand,
            extra_statuses=tuple(cleaning.extra_statuses),
        )
    cleaned_all, quarantine_all, duplicates_all, review_all = (
        pl.concat([getattr(r, part) for r in results.values()])
        for part in ("cleaned", "quarantine", "duplicates", "review")
    )
    accounting = {day: r.accounting() for day, r in results.items()}
    unbalanced = [day for day, r in results.items() if not r.balanced]
    contract = validate(cleaned_contract(), cleaned_all)
    references = validate(customer_reference_contract(customer_keys), cleaned_all)
    leaks = pl.concat(
        [unmasked_pii_rows(cleaned_all, ["text_masked"]), unmasked_pii_rows(quarantine_all, ["raw_masked"])]
    )
    checks = [
        dg.AssetCheckResult(
            asset_key="complaints_cleaned", check_name=CONTRACT_CHECK, passed=contract.passed, metadata=contract.metadata()
        ),
        dg.AssetCheckResult(
            asset_key="complaints_cleaned",
            check_name=ACCOUNTING_CHECK,
            passed=not unbalanced,
            metadata={"per_day": accounting, "unbalanced_days": unbalanced},
        ),
        dg.AssetCheckResult(
            asset_key="complaints_cleaned",
            check_name=PII_CHECK,
            passed=leaks.height == 0,
            metadata={"rows_with_pii": leaks.height, "kinds": _counts(leaks, "kinds")},
        ),
    ]
    volume = _volume_check(lake.root, results)
    if not all(check.passed for check in checks):
        # Blocking means blocking: nothing is written, so neither the next asset nor a dbt build
        # (which reads every silver file) can see this data; the previous files stay in place.
        yield from checks
        failed = [check.check_name for check in checks if not check.passed]
        raise dg.Failure(f"blocking checks failed: {', '.join(failed)}; nothing was written", metadata={"failed": failed})

    for day, result in results.items():
        for asset, frame in (
            ("complaints_cleaned", result.cleaned),
            ("complaints_quarantine", result.quarantine),
            ("complaint_duplicates", result.duplicates),
            (REVIEW_QUEUE_ASSET, result.review),
        ):
            lakelib.write_parquet_atomic(frame, lakelib.silver_partition_path(lake.root, asset, day))
    totals = {k: sum(a[k] for a in accounting.values()) for k in ("received", "cleaned", "quarantined", "duplicates")}
    context.log.info(f"cleaned layer {window.start:%Y-%m-%d}..{window.end:%Y-%m-%d}: {totals}")

    yield dg.MaterializeResult(
        asset_key="complaints_cleaned",
        metadata={
            "dagster/row_count": cleaned_all.height,
            **{f"{k}_records": v for k, v in totals.items()},
            "by_channel": _counts(cleaned_all, "channel"),
            "known_customers": cleaned_all.filter(pl.col("customer_key").is_not_null()).height,
            "preview": dg.MetadataValue.md(_preview(cleaned_all.select("channel", "event_at", "text_masked"))),
        },
    )
    yield dg.MaterializeResult(
        asset_key="complaints_quarantine",
        metadata={"dagster/row_count": quarantine_all.height, "by_rule": _counts(quarantine_all, "rule")},
    )
    yield dg.MaterializeResult(
        asset_key="complaint_duplicates",
        metadata={"dagster/row_count": duplicates_all.height, "by_rule": _counts(duplicates_all, "rule")},
    )
    yield dg.MaterializeResult(
        asset_key=REVIEW_QUEUE_ASSET,
        metadata={
            "dagster/row_count": review_all.height,
            "decisions_applied": decisions.height,
            "preview": dg.MetadataValue.md(
                _preview(review_all.select("pair_id", "similarity", "text_masked", "candidate_text_masked"))
            ),
        },
    )
    yield from checks
    yield volume
    yield dg.AssetCheckResult(
        asset_key="complaints_cleaned",
        check_name=CUSTOMERS_CHECK,
        passed=references.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={**references.metadata(), "customers_in_snapshot": len(customer_keys)},
    )


def _volume_check(root, results: dict[str, CleanedDay]) -> dg.AssetCheckResult:
    """Records received per channel and day (this run's days and the history before them)."""
    first = date.fromisoformat(min(results))
    frames = [_received_by_channel(day, r.cleaned, r.quarantine, r.duplicates) for day, r in results.items()]
    for n in range(1, VOLUME_HISTORY_DAYS + 1):
        day = (first - timedelta(days=n)).isoformat()
        parts = [lakelib.silver_partition_path(root, a, day) for a in ("complaints_cleaned", "complaints_quarantine", "complaint_duplicates")]
        if all(p.exists() for p in parts):
            frames.append(_received_by_channel(day, *(pl.read_parquet(p, columns=["channel"]) for p in parts)))
    counts = pl.concat(frames)
    today = datetime.now(timezone.utc).date().isoformat()
    judged = [volume_anomalies(counts, day).with_columns(pl.lit(day).alias("day")) for day in results if day < today]
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


def _received_by_channel(day: str, *frames: pl.DataFrame) -> pl.DataFrame:
    return (
        pl.concat([f.select("channel") for f in frames])
        .group_by("channel")
        .agg(pl.len().cast(pl.Int64).alias("records"))
        .with_columns(pl.lit(day).alias("day"))
    )


def _prior_days(root, day: str, in_this_run: dict[str, CleanedDay]) -> pl.LazyFrame:
    """Cleaned complaints received before ``day``, lazily (clean_complaints reads only those of the
    day's contacts made near the day's complaints): this run's earlier days as cleaned, the rest
    from disk."""
    frames = [result.cleaned.lazy() for earlier, result in in_this_run.items() if earlier < day]
    folder = root / "silver" / "complaints_cleaned"
    for path in sorted(folder.glob("date=*/part.parquet")) if folder.exists() else []:
        earlier = path.parent.name.removeprefix("date=")
        if earlier < day and earlier not in in_this_run:
            frames.append(pl.scan_parquet(path).select(*COMPLAINT_COLUMNS))
    if not frames:
        return pl.LazyFrame(schema={c: CLEANED_SCHEMA[c] for c in COMPLAINT_COLUMNS})
    return pl.concat([f.select(*COMPLAINT_COLUMNS) for f in frames], how="vertical_relaxed")


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if not frame.height:
        return {}
    return {str(r[column]): r["len"] for r in frame.group_by(column).len().sort("len", descending=True).iter_rows(named=True)}


def _preview(frame: pl.DataFrame, rows: int = 10) -> str:
    head = frame.head(rows)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * head.width]
    for row in head.iter_rows():
        lines.append("| " + " | ".join(str(v).replace("|", "/").replace("\n", " ")[:120] for v in row) + " |")
    return "\n".join(lines)
