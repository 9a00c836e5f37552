"""The cleaned layer: each day's records from every channel, validated, masked and de-duplicated."""


from datetime import date, timedelta

import dagster as dg
import polars as pl

from complaints_platform.defs.partitions import daily
from complaints_platform.defs.resources import LakeResource, PiiResource
from complaints_platform.lib import lake as lakelib
from complaints_platform.lib.bronze import bronze_schema
from complaints_platform.lib.cleaning import CROSS_CHANNEL_WINDOW, CleanedDay, clean_complaints
from complaints_platform.lib.quality import CLEANED_CONTRACT, unmasked_pii_rows, validate
from complaints_platform.lib.reference import CUSTOMERS_SCHEMA
from complaints_platform.lib.silver import CLEANED_SCHEMA

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
                "(duplicate_of) and the rule that matched: the same source record delivered again, "
                "or the same customer sending the identical text on another channel."
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
            description="Pandera contract: unique complaint_id, known channels, UTC times, non-empty masked text.",
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
    ],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="silver",
    can_subset=False,
)
def complaints_cleaned(context: dg.AssetExecutionContext, lake: LakeResource, pii: PiiResource):
    masker = pii.masker()
    window = context.partition_time_window
    results: dict[str, CleanedDay] = {}
    for day in lakelib.days_between(window.start, window.end):
        bronze = {
            channel: lakelib.read_parquet_files(
                lakelib.bronze_files_for_day(lake.root, asset, day), bronze_schema(channel)
            )
            for channel, asset in BRONZE_ASSETS.items()
        }
        customers_file = lakelib.date_dir(lake.root, "reference", "customers", day) / "customers.parquet"
        customers = pl.read_parquet(customers_file) if customers_file.exists() else pl.DataFrame(schema=CUSTOMERS_SCHEMA)
        results[day] = clean_complaints(bronze, masker, customers, _prior_days(lake.root, day, results))
    cleaned_all, quarantine_all, duplicates_all = (
        pl.concat([getattr(r, part) for r in results.values()]) for part in ("cleaned", "quarantine", "duplicates")
    )
    accounting = {day: r.accounting() for day, r in results.items()}
    unbalanced = [day for day, r in results.items() if not r.balanced]
    contract = validate(CLEANED_CONTRACT, cleaned_all)
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
    yield from checks


def _prior_days(root, day: str, in_this_run: dict[str, CleanedDay]) -> pl.DataFrame:
    """Cleaned complaints of the days before ``day`` within CROSS_CHANNEL_WINDOW (for copies that
    arrive a day late): from this run where it cleaned them, else from disk."""
    start = date.fromisoformat(day)
    frames = []
    for n in range(1, CROSS_CHANNEL_WINDOW.days + 1):
        earlier = (start - timedelta(days=n)).isoformat()
        if earlier in in_this_run:
            frames.append(in_this_run[earlier].cleaned)
        else:
            path = lakelib.silver_partition_path(root, "complaints_cleaned", earlier)
            if path.exists():
                frames.append(pl.read_parquet(path))
    return pl.concat(frames) if frames else pl.DataFrame(schema=CLEANED_SCHEMA)


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
