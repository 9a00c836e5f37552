"""SMS: pulled from the provider's REST API with httpx, one 15-minute window per partition."""

import dagster as dg

from complaints_platform.defs.partitions import every_15_minutes
from complaints_platform.defs.resources import LakeResource, SmsApiResource
from complaints_platform.defs.sources.common import bronze_check_spec, materialize_bronze_windows
from complaints_platform.lib import lake as lakelib
from complaints_platform.lib.sms import fetch_sms_window, parse_sms_pages

ASSET = "sms_raw"


@dg.asset(
    name=ASSET,
    partitions_def=every_15_minutes,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="bronze",
    kinds={"python", "parquet"},
    check_specs=[bronze_check_spec(ASSET)],
    description=(
        "SMS complaints pulled from the provider's API (bearer token, since/until window, cursor "
        "pagination): one row per message, raw PII kept. The API's pages are kept as received in "
        "landing/sms/. Partitioned by 15-minute window of the provider's receipt time."
    ),
)
def sms_raw(
    context: dg.AssetExecutionContext, lake: LakeResource, sms_api: SmsApiResource
) -> dg.MaterializeResult:
    with sms_api.client() as client:

        def pull(start, end):
            pages = fetch_sms_window(client, sms_api.base_url, sms_api.token, start, end, sms_api.page_size)
            folder = lakelib.landing_window_dir(lake.root, "sms", start)
            for page in pages:
                lakelib.write_bytes_atomic(
                    page.body.encode("utf-8"), folder / f"page-{page.number:05d}.json", private=True
                )
            return parse_sms_pages(pages, f"{start:%Y-%m-%d %H:%M}", start)

        return materialize_bronze_windows(context, lake.root, ASSET, 15, pull)
