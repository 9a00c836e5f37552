"""SMS: pulled from the provider's REST API with httpx, one 15-minute window per partition."""

import dagster as dg
from pydantic import Field

from complaints_platform.defs.partitions import every_15_minutes
from complaints_platform.defs.resources import LakeResource, SmsApiResource
from complaints_platform.defs.sources.common import bronze_check_spec, materialize_bronze_windows
from complaints_platform.lib import lake as lakelib
from complaints_platform.lib.sms import SmsPullFailed, parse_sms_pages, pull_sms_window

ASSET = "sms_raw"


class SmsPullConfig(dg.Config):
    refetch: bool = Field(
        default=False,
        description="Pull the windows from the API again, even those already landed complete.",
    )


@dg.asset(
    name=ASSET,
    partitions_def=every_15_minutes,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="bronze",
    kinds={"python", "parquet"},
    check_specs=[bronze_check_spec(ASSET)],
    description=(
        "SMS complaints pulled from the provider's API (bearer token, since/until window, cursor "
        "pagination): one row per message received, raw PII kept. The API's pages are landed as "
        "received in landing/sms/, each before the next is asked for, with a checkpoint "
        "(_cursor.json): a failed window resumes at the page it stopped on, and a complete one is "
        "read back from landing without calling the API (run config refetch: true pulls it again). "
        "Partitioned by 15-minute window of the provider's receipt time."
    ),
)
def sms_raw(
    context: dg.AssetExecutionContext, config: SmsPullConfig, lake: LakeResource, sms_api: SmsApiResource
) -> dg.MaterializeResult:
    fetched: dict[str, int] = {}  # pages fetched per window, logged once (each log line is a stored event)
    with sms_api.client() as client:

        def pull(start, end):
            folder = lakelib.landing_window_dir(lake.root, "sms", start)
            try:
                pulled = pull_sms_window(
                    client, sms_api.base_url, sms_api.token, start, end, folder, sms_api.page_size,
                    retry=sms_api.retry_policy(), refetch=config.refetch, on_retry=context.log.warning,
                )
            except SmsPullFailed as exc:
                raise dg.Failure(
                    description=str(exc),
                    metadata={"window": f"{start:%Y-%m-%d %H:%M}", "page": exc.page, "pages_landed": exc.pages_landed},
                ) from exc
            if pulled.fetched:
                fetched[f"{start:%Y-%m-%d %H:%M}"] = pulled.fetched
            return parse_sms_pages(pulled.pages, f"{start:%Y-%m-%d %H:%M}", start)

        result = materialize_bronze_windows(context, lake.root, ASSET, 15, pull)
    if fetched:
        context.log.info(f"sms: {sum(fetched.values())} API pages fetched over {len(fetched)} windows: {fetched}")
    return result
