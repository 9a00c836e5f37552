"""Social media: events the webhook receiver stored in landing/, parsed into bronze per 15 minutes."""

import dagster as dg

from complaints_platform.defs.partitions import every_15_minutes
from complaints_platform.defs.resources import LakeResource
from complaints_platform.defs.sources.common import bronze_check_spec, materialize_bronze_windows
from complaints_platform.lib.social_media import landing_files_for_window, parse_social_media_landing

ASSET = "social_media_raw"


@dg.asset(
    name=ASSET,
    partitions_def=every_15_minutes,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="bronze",
    kinds={"python", "parquet"},
    check_specs=[bronze_check_spec(ASSET)],
    description=(
        "Social-media complaints as received by the signed-webhook receiver: one row per accepted "
        "event, parsed and typed, raw PII kept (owner-only files). Partitioned by the 15-minute "
        "window of receipt (UTC); refreshed by a sensor as events land."
    ),
)
def social_media_raw(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    landing = lake.root / "landing"
    return materialize_bronze_windows(
        context,
        lake.root,
        ASSET,
        15,
        lambda start, end: parse_social_media_landing(
            landing_files_for_window(landing, start, end), landing
        ),
    )
