"""What every channel's bronze asset does: for each source window in the run, parse, write, count."""


from collections.abc import Callable
from datetime import datetime, timedelta

import dagster as dg
import polars as pl

from complaints_platform.lib import lake
from complaints_platform.lib.quality import BRONZE_CONTRACT, ValidationResult, validate

BRONZE_CHECK = "bronze_contract"


def bronze_check_spec(asset_key: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        BRONZE_CHECK,
        asset=asset_key,
        description="Pandera bronze contract: every received record has an id, a source location and a receipt time.",
        blocking=False,
    )


def materialize_bronze_windows(
    context: dg.AssetExecutionContext,
    root,
    asset_name: str,
    step_minutes: int,
    parse_window: Callable[[datetime, datetime], pl.DataFrame],
) -> dg.MaterializeResult:
    """Replace each window's bronze file with what ``parse_window`` returns for it.

    A run may cover one partition or a range (backfills run as one run); each window's file is
    written atomically, so reruns replace rather than append. A window is validated and counted as
    it is written and then let go: a month's backfill holds one window in memory, not the month.
    """
    window = context.partition_time_window
    per_window: dict[str, int] = {}
    results: list[ValidationResult] = []
    parse_errors = 0
    for start in lake.split_windows(window.start, window.end, step_minutes):
        end = start + timedelta(minutes=step_minutes)
        frame = parse_window(start, end)
        lake.write_parquet_atomic(frame, lake.bronze_partition_path(root, asset_name, start), private=True)
        per_window[f"{start:%Y-%m-%d %H:%M}"] = frame.height
        if frame.width:
            results.append(validate(BRONZE_CONTRACT, frame))
        if frame.height:
            parse_errors += frame.filter(pl.col("parse_error").is_not_null()).height
    records = sum(per_window.values())
    result = ValidationResult.combine(results) if results else None
    context.log.info(f"{asset_name}: {records} records over {len(per_window)} windows, {parse_errors} unparseable")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": records,
            "records": records,
            "unparseable_records": parse_errors,
            "windows": len(per_window),
            "busiest_windows": {k: v for k, v in sorted(per_window.items(), key=lambda kv: -kv[1])[:5]},
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=BRONZE_CHECK,
                passed=result.passed if result else True,
                metadata=result.metadata() if result else {"failure_count": 0},
            )
        ],
    )
