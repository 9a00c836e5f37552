"""Declarative automation: new source data flows to the cleaned layer and the marts by itself."""

from datetime import UTC, datetime

import dagster as dg

from complaints_platform.definitions import build_definitions
from complaints_platform.lib.settings import Settings

NOW = datetime(2026, 11, 21, 14, 20, tzinfo=UTC)


def _requested(result) -> dict[str, set]:
    """Asset name -> requested partition keys (an empty set for an unpartitioned asset)."""
    return {
        r.key.to_user_string(): set(r.true_subset.expensively_compute_partition_keys()) if r.true_subset.is_partitioned else set()
        for r in result.results
        if r.true_subset.size
    }


def test_a_new_social_window_updates_its_day_and_everything_after_it(data_dir):
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW)
        # Only the 14:00 window of one channel has arrived: the other windows of the day are missing
        # (some are still in progress), and the day must update all the same.
        instance.report_runless_asset_event(dg.AssetMaterialization("social_media_raw", partition="2026-11-21-14:00"))
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW, cursor=first.cursor)
        requested = _requested(second)
        assert requested == {
            name: {"2026-11-21"}
            for name in ("complaints_cleaned", "complaints_quarantine", "complaint_duplicates", "complaints_categorised")
        }
        # Once the day is categorised, the warehouse (unpartitioned: a run of its own) follows.
        for name in requested:
            instance.report_runless_asset_event(dg.AssetMaterialization(name, partition="2026-11-21"))
        third = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW, cursor=second.cursor)
    warehouse = _requested(third)
    assert {"stg_complaints", "fct_complaints", "mart_complaints_daily", "mart_call_center_resolution", "analytics_duckdb"} <= set(warehouse)
    # Sources are never automated: they run on their schedules and sensors.
    assert not {"sms_raw", "web_forms_raw", "call_center_raw", "social_media_raw"} & (set(requested) | set(warehouse))


def test_nothing_new_requests_nothing(data_dir):
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW)
        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW, cursor=first.cursor)
    assert _requested(again) == {}
