"""The warehouse (dbt: staging, star schema, marts) and the analysts' published copy."""


import json
from collections.abc import Mapping
from functools import cached_property
from importlib.metadata import version
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from packaging.version import Version
from pydantic import Field

from complaints_platform.defs.marts.project import dbt_project
from complaints_platform.defs.resources import LakeResource, PiiResource
from complaints_platform.lib.lake import write_bytes_atomic
from complaints_platform.lib.warehouse import (
    CHANGES_FILE,
    INCREMENTAL_MODELS,
    PUBLISHED_INPUTS,
    PUBLISHED_STATE_FILE,
    STATE_FILE,
    UnmaskedPiiError,
    changed_days,
    plan_build,
    publish_analytics_copy,
    save_state,
    table_row_counts,
    take_state,
)

WAREHOUSE_POOL = "duckdb_warehouse"
PUBLISHED_PII_CHECK = "no_unmasked_pii_published"


# dbt's artifacts (manifest, run results, partial_parse.msgpack) for this data directory's builds,
# and the lake state of the last successful build (lib/warehouse.py).
DBT_TARGET_DIR = "dbt_target"


class WarehouseBuildConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description=(
            "Rebuild the incremental complaint tables from the whole lake instead of only the receipt "
            "days whose silver files changed since the last build. The platform does this by itself "
            "when the CRM snapshot or the dbt project changed, or a build failed."
        ),
    )


class WarehouseDbtResource(DbtCliResource):
    """dagster-dbt's dbt CLI without two start-up costs paid on every build (dagster-dbt is pinned,
    so these private hooks are stable; the marts tests run through them):

    - the dbt-core version is read from this environment's metadata: the stock resource starts
      ``dbt --version`` (a second interpreter importing dbt, about 5 s here) to tell dbt-core from
      the Fusion engine; the dbt beside this interpreter is dbt-core, pinned in requirements.lock;
    - no dbt adapter is loaded into the run's process (about 3 s: dbt's imports and macros): it
      serves only ``fetch_row_counts`` / ``fetch_column_metadata``, which this project does not use
      (the row counts are read from the warehouse after the build).
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


class WarehouseTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        name = dbt_resource_props["name"]
        return "marts" if name.startswith(("mart_", "fct_", "dim_")) else "warehouse"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=WarehouseTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    ),
    pool=WAREHOUSE_POOL,
)
def warehouse_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource, config: WarehouseBuildConfig
):
    """dbt build of the warehouse: staging views, the star schema and the managers' marts (tests run
    as asset checks). Not partitioned: dimensions and marts are rebuilt whole on every build; the
    complaint facts are updated for the receipt days whose silver changed since the last build, and
    rebuilt whole after a new CRM snapshot or on request (config ``full_refresh``)."""
    # One target folder per data directory, not dagster-dbt's new one per build: dbt then re-parses
    # only what changed (partial parsing) instead of the whole project each run. Builds never overlap
    # here (the warehouse pool has one slot).
    target = lake.root / DBT_TARGET_DIR
    target.mkdir(parents=True, exist_ok=True)
    warehouse = lake.root / "warehouse.duckdb"
    state_path, changes_path = target / STATE_FILE, target / CHANGES_FILE
    changes_path.unlink(missing_ok=True)  # a killed build's
    selected = {key.path[-1] for key in context.selected_asset_keys}
    plan, state = None, None
    if selected & INCREMENTAL_MODELS:
        previous, state = take_state(state_path, lake.root, dbt_project.project_dir)
        plan = plan_build(previous, state, selected, warehouse.exists(), config.full_refresh)
        if plan.changed_days is not None:
            write_bytes_atomic(json.dumps({"changed_days": plan.changed_days}).encode(), changes_path)
        context.log.info(f"warehouse build: {plan.reason}")
    # A failed build still reports its tests' results as asset checks, then the step fails: the UI
    # shows which test failed, not only that dbt exited non-zero. Its models are not reported as
    # materialized: a half-built warehouse is not a new one, and nothing (the publish) runs on it.
    args = ["build", *(["--full-refresh"] if plan and plan.full_refresh else [])]
    try:
        invocation = dbt.cli(args, context=context, target_path=target, raise_on_error=False)
        events = list(invocation.stream())
    finally:
        changes_path.unlink(missing_ok=True)
    error = invocation.get_error()
    if error is not None:
        yield from (event for event in events if not isinstance(event, dg.Output))
        raise error
    if plan and plan.save_state:
        save_state(state_path, state)
    # dbt (a subprocess) holds the warehouse's write lock until it finishes, so the row counts are
    # read after the build and attached to each model's materialization then.
    counts = table_row_counts(warehouse) if warehouse.exists() else {}
    for event in events:
        if isinstance(event, dg.Output):
            table = context.asset_key_for_output(event.output_name).path[-1]
            extra = {"dagster/row_count": counts[table]} if table in counts else {}
            if plan and table in INCREMENTAL_MODELS:
                extra["build"] = plan.reason
            event = event.with_metadata({**event.metadata, **extra})
        yield event


@dg.asset(
    deps=[warehouse_models],
    pool=WAREHOUSE_POOL,
    group_name="marts",
    kinds={"duckdb"},
    description=(
        "analytics.duckdb: the analysts' copy of the warehouse, published atomically after every "
        "marts build (copied to a temporary file, checkpointed, renamed). Analysts open it "
        "read-only and never hold a lock the pipeline needs; the pipeline never waits on them."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            PUBLISHED_PII_CHECK,
            asset="analytics_duckdb",
            blocking=True,
            description=(
                "Every text column of every table and view in the copy (the warehouse, and through "
                "its views the silver files) holds no unmasked e-mail, phone, card or IBAN (national "
                "phone numbers read in COMPLAINTS_PHONE_REGION, as the masker reads them). Scanned "
                "before the copy replaces the old one: a finding fails the run and nothing is published. "
                "The views over silver (complaints, duplicates, quarantine, review queue) are scanned on "
                "the receipt days whose files changed since the last publish that passed, and the views "
                "over the CRM snapshots and the fiscal calendar, unchanged since then, are not scanned "
                "again (everything is "
                "scanned after a new CRM snapshot or fiscal calendar, a changed dbt project, a changed "
                "day's file holding other days' rows, a silver file outside the date= folders, a "
                "changed phone region, or a failed publish)."
            ),
        )
    ],
)
def analytics_duckdb(context: dg.AssetExecutionContext, lake: LakeResource, pii: PiiResource):
    # The views over silver (the staging views, review_duplicate_pairs) are scanned on the receipt
    # days changed since the last publish that passed (lib/warehouse.py: VIEWS_BY_RECEIPT_DAY); the
    # state is taken before the scan, so a file rewritten meanwhile is scanned next time.
    state_path = lake.root / DBT_TARGET_DIR / PUBLISHED_STATE_FILE
    # National phone numbers are read in the masker's region: days scanned in another one are not
    # scanned in this one, so a new region scans everything.
    previous, state = take_state(
        state_path, lake.root, dbt_project.project_dir, PUBLISHED_INPUTS, {"phone_region": pii.default_region}
    )
    days = changed_days(previous, state)
    scanned = ("every row" if days is None else
               f"tables whole, silver views on {len(days)} changed receipt day(s), CRM and calendar views unchanged")
    try:
        target, tables = publish_analytics_copy(
            lake.root / "warehouse.duckdb", lake.root / "analytics.duckdb", pii.default_region, days
        )
    except UnmaskedPiiError as error:
        yield dg.AssetCheckResult(
            check_name=PUBLISHED_PII_CHECK, passed=False, metadata={"findings": error.findings}
        )
        raise dg.Failure(str(error), metadata={"findings": error.findings}) from error
    save_state(state_path, state)
    context.log.info(f"published {target} with {len(tables)} tables/views; PII scan: {scanned}")
    with duckdb.connect(str(target), read_only=True) as con:
        complaints = con.execute("select count(*) from fct_complaints").fetchone()[0]
    yield dg.AssetCheckResult(
        check_name=PUBLISHED_PII_CHECK, passed=True, metadata={"findings": {}, "scanned": scanned}
    )
    yield dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(target)),
            "tables": ", ".join(tables),
            "fct_complaints_rows": complaints,
            "dagster/row_count": complaints,
        }
    )
