"""What every channel's bronze asset does: for each source window in the run, parse, write, count."""


from collections.abc import Callable
from datetime import datetime, timedelta

import dagster as dg
import polars as pl

from complaints_platform.lib import lake
from complaints_platform.lib.quality import BRONZE_CONTRACT, validate

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
    written atomically, so reruns replace rather than append.
    """
    window = context.partition_time_window
    frames, per_window = [], {}
    for start in lake.split_windows(window.start, window.end, step_minutes):
        end = start + timedelta(minutes=step_minutes)
        frame = parse_window(start, end)
        lake.write_parquet_atomic(frame, lake.bronze_partition_path(root, asset_name, start), private=True)
        frames.append(frame)
        per_window[f"{start:%Y-%m-%d %H:%M}"] = frame.height
    combined = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    parse_errors = combined.filter(pl.col("parse_error").is_not_null()).height if combined.height else 0
    result = validate(BRONZE_CONTRACT, combined) if combined.width else None
    context.log.info(f"{asset_name}: {combined.height} records over {len(per_window)} windows, {parse_errors} unparseable")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": combined.height,
            "records": combined.height,
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
