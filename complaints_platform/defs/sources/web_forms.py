"""Website forms: incremental extraction from the OLTP database by updated_at, per 15 minutes."""

from datetime import datetime, timezone

import dagster as dg
import polars as pl

from complaints_platform.defs.partitions import every_15_minutes
from complaints_platform.defs.resources import LakeResource, WebFormsDbResource
from complaints_platform.defs.sources.common import bronze_check_spec, materialize_bronze_windows
from complaints_platform.lib import lake as lakelib
from complaints_platform.lib.web_forms import extract_forms, parse_web_forms_extracts

ASSET = "web_forms_raw"


@dg.asset(
    name=ASSET,
    partitions_def=every_15_minutes,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="bronze",
    kinds={"python", "parquet", "sql"},
    check_specs=[bronze_check_spec(ASSET)],
    description=(
        "Website complaint forms extracted from the OLTP table complaint_forms: the rows whose "
        "updated_at falls in the partition's 15-minute window (the watermark range). Every "
        "extraction is kept in landing/web_forms/ (never overwritten: re-extracting a past window "
        "sees only current row states), and bronze holds each version once. A row updated later "
        "is extracted again in a later window. Raw PII kept."
    ),
)
def web_forms_raw(
    context: dg.AssetExecutionContext, lake: LakeResource, web_forms_db: WebFormsDbResource
) -> dg.MaterializeResult:
    extracted_at = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")

    def extract(start, end):
        folder = lakelib.landing_window_dir(lake.root, "web_forms", start)
        rows = extract_forms(web_forms_db.url, start, end)
        lakelib.write_parquet_atomic(rows, folder / f"extract-{extracted_at}.parquet", private=True)
        extracts = [
            (pl.read_parquet(path), f"complaint_forms extract {path.relative_to(lake.root / 'landing')}")
            for path in sorted(folder.glob("extract-*.parquet"))
        ]
        return parse_web_forms_extracts(extracts)

    return materialize_bronze_windows(context, lake.root, ASSET, 15, extract)
