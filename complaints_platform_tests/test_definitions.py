"""The Definitions load, and every asset carries the shape the platform promises."""

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from complaints_platform.definitions import build_definitions
from complaints_platform.lib.settings import MissingSetting, Settings

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"

# Assets without partitions, and why none fits.
UNPARTITIONED = {
    "fiscal_calendar": "static reference data generated whole",
    "category_model": "one model serves every partition",
    "category_corrections": "corrections of any day, read whole by each model build",
    "analytics_duckdb": "a copy of the whole warehouse",
}
WAREHOUSE_WRITERS_POOL = "duckdb_warehouse"


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())


@pytest.fixture(scope="module")
def graph(defs):
    return defs.resolve_asset_graph()


def _is_dbt(node) -> bool:
    return "dbt" in node.kinds


def test_definitions_load(defs):
    defs.resolve_implicit_global_asset_job_def()
    assert {s.name for s in defs.resolve_all_job_defs()} >= {"social_media_ingest", "sms_and_web_forms_ingest", "call_center_ingest"}
    assert {s.name for s in defs.sensors} == {
        "social_media_landing_sensor", "call_center_drop_sensor", "duplicate_review_sensor", "automation_sensor"
    }
    assert {s.name for s in defs.schedules} == {
        "sms_and_web_forms_every_15_minutes", "call_center_every_12_hours", "customers_daily_schedule",
    }


def test_runs_execute_in_process_unless_the_deployment_says_otherwise(defs, monkeypatch):
    jobs = [defs.resolve_implicit_global_asset_job_def(), *defs.resolve_all_job_defs()]
    assert {job.executor_def.name for job in jobs} == {"in_process"}
    monkeypatch.setenv("COMPLAINTS_EXECUTOR", "multiprocess")
    multiprocess = build_definitions(Settings.from_env())
    assert multiprocess.resolve_job_def("cleaned_layer_refresh").executor_def.name == "multiprocess"
    monkeypatch.setenv("COMPLAINTS_EXECUTOR", "threads")
    with pytest.raises(MissingSetting, match="COMPLAINTS_EXECUTOR='threads'"):
        Settings.from_env()


def test_every_asset_has_owner_freshness_group_kinds_description(graph):
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.owners, name
        assert node.freshness_policy is not None, name
        assert node.group_name and node.group_name != "default", name
        assert node.kinds, name
        assert node.description and len(node.description) > 30, name


def test_partitions_match_cadence(graph):
    cadence = {
        "social_media_raw": "*/15 * * * *",
        "sms_raw": "*/15 * * * *",
        "web_forms_raw": "*/15 * * * *",
        "call_center_raw": "0 */12 * * *",
        "customers": "0 0 * * *",
        "complaints_cleaned": "0 0 * * *",
        "complaints_quarantine": "0 0 * * *",
        "complaint_duplicates": "0 0 * * *",
        "duplicate_review_queue": "0 0 * * *",
        "complaints_categorised": "0 0 * * *",
    }
    for name, cron in cadence.items():
        partitions = graph.get(dg.AssetKey(name)).partitions_def
        assert partitions is not None and partitions.get_cron_schedule() == cron, name
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.partitions_def is None:
            assert key.to_user_string() in UNPARTITIONED or _is_dbt(node), key


def test_silver_reads_sources_through_time_window_mappings(graph):
    cleaned = graph.get(dg.AssetKey("complaints_cleaned"))
    for source in ("social_media_raw", "sms_raw", "call_center_raw", "web_forms_raw"):
        mapping = cleaned.partition_mappings.get(dg.AssetKey(source))
        assert isinstance(mapping, dg.TimeWindowPartitionMapping), source


def test_quality_checks_guard_every_layer(graph):
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    for source in ("social_media_raw", "sms_raw", "call_center_raw", "web_forms_raw"):
        assert (source, "bronze_contract") in checks
    for check in ("cleaned_contract", "records_accounted_for", "no_unmasked_pii"):
        assert ("complaints_cleaned", check) in checks
    assert ("complaints_categorised", "categorised_contract") in checks
    dbt_checks = [c for c in checks if c[0].startswith(("fct_", "dim_", "mart_"))]
    assert len(dbt_checks) > 20  # dbt tests become asset checks


def test_blocking_checks_protect_analysts(defs):
    specs = {
        (spec.asset_key.to_user_string(), spec.name): spec
        for assets_def in defs.assets
        if isinstance(assets_def, dg.AssetsDefinition)
        for spec in assets_def.check_specs
    }
    for key in [
        ("complaints_cleaned", "cleaned_contract"),
        ("complaints_cleaned", "records_accounted_for"),
        ("complaints_cleaned", "no_unmasked_pii"),
        ("complaints_categorised", "categorised_contract"),
    ]:
        assert specs[key].blocking, key


def test_every_warehouse_writer_is_in_the_single_writer_pool(defs, graph):
    for assets_def in defs.assets:
        keys = {k.to_user_string() for k in assets_def.keys}
        node = graph.get(next(iter(assets_def.keys)))
        if "analytics_duckdb" in keys or _is_dbt(node):
            assert assets_def.op.pool == WAREHOUSE_WRITERS_POOL, keys


def test_instance_limits_pools_to_one(data_dir):
    text = (data_dir / "dagster_home" / "dagster.yaml").read_text()
    assert "default_limit: 1" in text


def _graph_snapshot(defs, graph) -> dict:
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": node.partitions_def.get_cron_schedule() if node.partitions_def else None,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "kinds": sorted(node.kinds),
        }
    return {
        "assets": assets,
        "checks": sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys),
        "sensors": sorted(s.name for s in defs.sensors),
        "schedules": sorted(s.name for s in defs.schedules),
    }


def test_asset_graph_snapshot(defs, graph):
    """Any change to assets, deps, partitions, checks, sensors or schedules shows here in review.

    After an intended change: UPDATE_SNAPSHOTS=1 make test, and commit the snapshot.
    """
    current = _graph_snapshot(defs, graph)
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert json.loads(SNAPSHOT.read_text()) == current
