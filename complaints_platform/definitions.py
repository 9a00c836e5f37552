"""The one Definitions: every asset, check, sensor and schedule, with project-wide policy applied here.

Policy applied once, over every asset spec (including dbt's and the multi-asset's):
- an owner;
- a freshness policy matching the asset's promise (by cadence; see FRESHNESS);
- declarative automation: everything downstream of the sources updates eagerly when its inputs do,
  so late data flows to the cleaned layer and the marts without a person.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg

from complaints_platform.defs import automation
from complaints_platform.defs.categories.model import category_corrections, category_model, complaints_categorised
from complaints_platform.defs.cleaned.complaints import complaints_cleaned
from complaints_platform.defs.marts.project import dbt_project
from complaints_platform.defs.marts.warehouse import WarehouseDbtResource, analytics_duckdb, warehouse_models
from complaints_platform.defs.resources import resources_from_settings
from complaints_platform.defs.sources.call_center import call_center_raw
from complaints_platform.defs.sources.reference import customers, fiscal_calendar
from complaints_platform.defs.sources.sms import sms_raw
from complaints_platform.defs.sources.social_media import social_media_raw
from complaints_platform.defs.sources.web_forms import web_forms_raw
from complaints_platform.lib.settings import Settings

OWNER = "team:complaints-data"

# By default a run executes all its steps in the run's own process (COMPLAINTS_EXECUTOR=in_process).
# Steps are multi-threaded inside (polars, DuckDB, dbt's threads), so on a small machine a process
# per step (Dagster's default, "multiprocess") buys little parallelism and costs each step a fresh
# import of these Definitions: on an empty partition the CLI takes 9.0 s with it, 4.6 s without
# (README, "Benchmarks", fixed costs). A deployment that spreads steps over machines adds its
# executor here. The names are lib/settings.py's EXECUTORS.
EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}


def _window(fail: timedelta, warn: timedelta) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(fail_window=fail, warn_window=warn)


# The promise each asset makes, by key (sources by cadence; everything built from them follows them).
FRESHNESS: dict[str, dg.FreshnessPolicy] = {
    "social_media_raw": _window(timedelta(minutes=60), timedelta(minutes=30)),
    "sms_raw": _window(timedelta(minutes=60), timedelta(minutes=30)),
    "web_forms_raw": _window(timedelta(minutes=60), timedelta(minutes=30)),
    "call_center_raw": _window(timedelta(hours=13), timedelta(hours=12, minutes=30)),
    "customers": _window(timedelta(hours=26), timedelta(hours=25)),
    "fiscal_calendar": _window(timedelta(days=366), timedelta(days=300)),
    "category_model": _window(timedelta(days=31), timedelta(days=28)),
    # Corrections arrive when analysts make them; the model build reads whatever is there.
    "category_corrections": _window(timedelta(days=31), timedelta(days=28)),
}
# Eager, with three changes:
# - a missing upstream partition does not hold a day back: the window in progress (and any source
#   window that has not run yet) is missing by design, and the day must update as its other windows
#   arrive; a missing window is filled in by its schedule or sensor, which updates the day again;
# - it looks back two days, not only at the latest day: the last windows before midnight and the
#   afternoon call-centre export arrive after the day has turned;
# - nothing runs on top of a partition whose blocking checks failed (dbt models are exempt from
#   this gate between themselves: one `dbt build` runs their tests in order and skips what is
#   downstream of a failure, so the whole warehouse updates in one run).
WAREHOUSE_AUTOMATION = (
    dg.AutomationCondition.eager()
    .without(~dg.AutomationCondition.any_deps_missing())
    .replace("in_latest_time_window", dg.AutomationCondition.in_latest_time_window(timedelta(days=2)))
)
DOWNSTREAM_AUTOMATION = WAREHOUSE_AUTOMATION & dg.AutomationCondition.all_deps_blocking_checks_passed()

# Cleaned layer, categories, warehouse and marts: within two hours of their sources.
DOWNSTREAM_FRESHNESS = _window(timedelta(hours=2), timedelta(hours=1))
SOURCE_KEYS = {dg.AssetKey(k) for k in FRESHNESS}


def _apply_policy(spec: dg.AssetSpec) -> dg.AssetSpec:
    key = spec.key.to_user_string()
    downstream = spec.key not in SOURCE_KEYS
    return spec.replace_attributes(
        owners=spec.owners or [OWNER],
        freshness_policy=spec.freshness_policy or FRESHNESS.get(key, DOWNSTREAM_FRESHNESS),
        automation_condition=(
            spec.automation_condition
            or (None if not downstream else WAREHOUSE_AUTOMATION if "dbt" in spec.kinds else DOWNSTREAM_AUTOMATION)
        ),
    )


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    # dbt's profile and sources read the lake's location from the environment.
    os.environ.setdefault("COMPLAINTS_DATA_DIR", str(settings.data_dir))
    defs = dg.Definitions(
        assets=[
            social_media_raw,
            sms_raw,
            call_center_raw,
            web_forms_raw,
            customers,
            fiscal_calendar,
            complaints_cleaned,
            category_corrections,
            category_model,
            complaints_categorised,
            warehouse_models,
            analytics_duckdb,
        ],
        executor=EXECUTORS[settings.executor],
        jobs=automation.JOBS,
        sensors=automation.SENSORS,
        schedules=automation.SCHEDULES,
        resources={
            **resources_from_settings(settings),
            "dbt": WarehouseDbtResource(project_dir=dbt_project, dbt_executable=str(Path(sys.executable).parent / "dbt")),
        },
    )
    return defs.map_asset_specs(func=_apply_policy)


defs = build_definitions()
