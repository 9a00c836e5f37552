"""Call centre: CSV exports dropped every 12 hours, parsed into bronze per 12-hour window."""

from pathlib import Path

import dagster as dg
import polars as pl

from complaints_platform.defs.partitions import every_12_hours
from complaints_platform.defs.resources import CallCenterDropResource, LakeResource
from complaints_platform.defs.sources.common import bronze_check_spec, materialize_bronze_windows
from complaints_platform.lib.bronze import empty_bronze
from complaints_platform.lib.call_center import files_for_window, parse_call_center_csv

ASSET = "call_center_raw"


@dg.asset(
    name=ASSET,
    partitions_def=every_12_hours,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="bronze",
    kinds={"python", "parquet"},
    check_specs=[bronze_check_spec(ASSET)],
    description=(
        "Call-centre complaints from the CRM's CSV exports (BOM, Latin-1, quoted newlines handled; "
        "bad rows kept with their reason): one row per call record, raw PII kept. Partitioned by "
        "the 12-hour window the export covers."
    ),
)
def call_center_raw(
    context: dg.AssetExecutionContext, lake: LakeResource, call_center: CallCenterDropResource
) -> dg.MaterializeResult:
    drop_dir = Path(call_center.folder)

    def parse(start, end):
        files = files_for_window(drop_dir, start, end, call_center.filename_pattern)
        context.log.info(f"{start:%Y-%m-%d %H:%M}: {len(files)} export file(s): {[f.name for f in files]}")
        frames = [
            parse_call_center_csv(
                f, call_center.column_map, call_center.timezone, lake.root / "landing", call_center.filename_pattern
            )
            for f in files
        ]
        return pl.concat(frames, how="vertical_relaxed") if frames else empty_bronze("call_center")

    return materialize_bronze_windows(context, lake.root, ASSET, 12 * 60, parse)
