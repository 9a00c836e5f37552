"""Reference data: the CRM's customer snapshot (masked) and the fiscal calendar."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from complaints_platform.defs.partitions import daily
from complaints_platform.defs.resources import CrmSnapshotResource, LakeResource, PiiResource
from complaints_platform.lib import lake as lakelib
from complaints_platform.lib.crm import latest_snapshot, read_crm_snapshot, snapshot_date
from complaints_platform.lib.reference import CUSTOMERS_SCHEMA, mask_customers
from complaints_platform.lib.settings import Settings
from complaints_platform.lib.reference import fiscal_calendar as build_calendar


@dg.asset(
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="reference",
    kinds={"python", "parquet"},
    description=(
        "Customers from the CRM's daily snapshot (the latest one on or before the day), with every "
        "identifier replaced by its keyed token so complaints join to it without exposing PII. "
        "Daily partitions; feeds dim_customer."
    ),
)
def customers(
    context: dg.AssetExecutionContext, lake: LakeResource, crm: CrmSnapshotResource, pii: PiiResource
) -> dg.MaterializeResult:
    masker = pii.masker()
    window = context.partition_time_window
    rows, snapshots = 0, {}
    for day_text in lakelib.days_between(window.start, window.end):
        day = date.fromisoformat(day_text)
        snapshot = latest_snapshot(Path(crm.folder), day)
        if snapshot is None:
            context.log.warning(f"no CRM snapshot on or before {day} in {crm.folder}; writing no customers")
            frame = pl.DataFrame(schema=CUSTOMERS_SCHEMA)
        else:
            frame = mask_customers(read_crm_snapshot(snapshot), masker, snapshot_date(snapshot))
        target = lakelib.customers_path(lake.root, day_text)
        lakelib.write_parquet_atomic(frame, target)
        rows += frame.height
        snapshots[day_text] = snapshot.name if snapshot else "none"
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "snapshots": snapshots})


@dg.asset(
    group_name="reference",
    kinds={"python", "parquet"},
    description=(
        "The fiscal calendar (the fiscal year starts in COMPLAINTS_FISCAL_YEAR_START_MONTH, April by "
        "default, and is named by the year it ends in: FY2027 runs April 2026 to March 2027), one "
        "row per date 2020-2035. Not partitioned: static reference data generated whole."
    ),
)
def fiscal_calendar(lake: LakeResource) -> dg.MaterializeResult:
    start_month = Settings.from_env().fiscal_year_start_month
    frame = build_calendar(date(2020, 1, 1), date(2035, 12, 31), start_month)
    lakelib.write_parquet_atomic(frame, lake.root / "reference" / "fiscal_calendar" / "fiscal_calendar.parquet")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": frame.height, "fiscal_year_start_month": start_month}
    )
