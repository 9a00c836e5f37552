"""What every channel's bronze asset does: for each source window in the run, parse, write, count."""


from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

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
    parse_window: Callable[..., pl.DataFrame],
    land_window: Callable[[datetime, datetime], Any] | None = None,
) -> dg.MaterializeResult:
    """Replace each window's bronze file with what ``parse_window(start, end)`` returns for it.

    A run may cover one partition or a range (backfills run as one run); each window's file is
    written atomically, so reruns replace rather than append. A window is validated and counted as
    it is written and then let go: a month's backfill holds one window in memory, not the month.

    ``land_window(start, end)``: a source's waiting part (an API's pages asked for and landed),
    done for the next window on a thread while this one is parsed and written, which then runs as
    ``parse_window(start, end, landed)``. A window is parsed only after it is landed, and written
    in order; a failure to land one fails the run when its turn comes, after the windows before it
    are written (as without the thread).
    """
    window = context.partition_time_window
    per_window: dict[str, int] = {}
    results: list[ValidationResult] = []
    parse_errors = 0
    starts = list(lake.split_windows(window.start, window.end, step_minutes))
    step = timedelta(minutes=step_minutes)
    with ThreadPoolExecutor(1) as lander:
        landing = lander.submit(land_window, starts[0], starts[0] + step) if land_window and starts else None
        for n, start in enumerate(starts):
            end = start + step
            if landing is None:
                frame = parse_window(start, end)
            else:
                landed = landing.result()
                landing = lander.submit(land_window, starts[n + 1], starts[n + 1] + step) if n + 1 < len(starts) else None
                frame = parse_window(start, end, landed)
                del landed
            lake.write_parquet_atomic(frame, lake.bronze_partition_path(root, asset_name, start), private=True)
            per_window[f"{start:%Y-%m-%d %H:%M}"] = frame.height
            if frame.width:
                results.append(validate(BRONZE_CONTRACT, frame))
            if frame.height:
                parse_errors += frame.filter(pl.col("parse_error").is_not_null()).height
            del frame
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
