"""Declarative automation: new source data flows to the cleaned layer and the marts by itself."""

from datetime import UTC, datetime

import dagster as dg

from complaints_platform.lib.silver import CLEANED_LAYER

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


CLEANED_CHECKS = ["cleaned_contract", "records_accounted_for", "no_unmasked_pii"]


def _materialize(instance, requested: dict[str, set], checks: dict[str, list[str]], passed: bool = True) -> None:
    """Record what a run of ``requested`` would: materializations and their checks' results."""
    for name, partitions in requested.items():
        for partition in partitions or [None]:  # an empty set: an unpartitioned asset
            instance.report_runless_asset_event(dg.AssetMaterialization(name, partition=partition))
            for check in checks.get(name, []):
                instance.report_runless_asset_event(
                    dg.AssetCheckEvaluation(asset_key=dg.AssetKey(name), check_name=check, passed=passed, partition=partition)
                )


def test_a_new_social_window_updates_its_day_and_everything_after_it(data_dir):
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW)
        # Only the 14:00 window of one channel has arrived: the other windows of the day are missing
        # (some are still in progress), and the day must update all the same.
        instance.report_runless_asset_event(dg.AssetMaterialization("social_media_raw", partition="2026-11-21-14:00"))
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW, cursor=first.cursor)
        silver = _requested(second)
        assert silver == {
            name: {"2026-11-21"} for name in CLEANED_LAYER
        }
        # Categories wait for the cleaned day's blocking checks to pass.
        _materialize(instance, silver, {"complaints_cleaned": CLEANED_CHECKS})
        third = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW, cursor=second.cursor)
        categories = _requested(third)
        assert categories["complaints_categorised"] == {"2026-11-21"}
        # The quarantine's and duplicates' dbt models are ready too. The complaint-source bridge
        # (and fct_complaints, which counts its rows, and the incremental bookkeeping both read) may
        # build now on the previous categories and again once the day is categorised; the marts of
        # complaints wait.
        assert set(categories) - {
            "complaints_categorised", "stg_quarantine", "mart_quarantine_daily", "stg_duplicates", "stg_review_queue",
            "review_duplicate_pairs", "int_changed_complaints", "int_complaint_receipts", "fct_complaint_sources",
            "fct_complaints", "mart_complaints_daily", "mart_call_center_resolution",
        } == set()
        assert "stg_complaints" not in categories
        # Once the day is categorised (and the early dbt run is done), the warehouse follows.
        _materialize(instance, categories, {"complaints_categorised": ["categorised_contract"]})
        fourth = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW, cursor=third.cursor)
        warehouse = _requested(fourth)
        assert "stg_complaints" in warehouse
        # The models already built in the early run follow once stg_complaints has (a tick later).
        _materialize(instance, warehouse, {})
        fifth = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW, cursor=fourth.cursor)
        warehouse = {**warehouse, **_requested(fifth)}
    requested = {**silver, **categories}
    assert {"stg_complaints", "fct_complaints", "mart_complaints_daily", "mart_call_center_resolution"} <= set(warehouse)
    # The analysts' copy is published only after the marts' dbt tests have passed (a later tick).
    assert "analytics_duckdb" not in warehouse
    # Sources are never automated: they run on their schedules and sensors.
    assert not {"sms_raw", "web_forms_raw", "call_center_raw", "social_media_raw"} & (set(requested) | set(warehouse))


def test_nothing_new_requests_nothing(data_dir):
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW)
        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW, cursor=first.cursor)
    assert _requested(again) == {}


def test_windows_that_arrive_after_midnight_still_update_their_day(data_dir):
    """The afternoon call-centre export and the last quarter-hours land after the day has turned."""
    after_midnight = datetime(2026, 11, 22, 0, 20, tzinfo=UTC)
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=after_midnight)
        instance.report_runless_asset_event(dg.AssetMaterialization("call_center_raw", partition="2026-11-21-12:00"))
        instance.report_runless_asset_event(dg.AssetMaterialization("sms_raw", partition="2026-11-21-23:45"))
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=after_midnight, cursor=first.cursor
        )
    assert _requested(result)["complaints_cleaned"] == {"2026-11-21"}


def test_a_day_whose_blocking_checks_failed_goes_no_further(data_dir):
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW)
        instance.report_runless_asset_event(dg.AssetMaterialization("sms_raw", partition="2026-11-21-14:00"))
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW, cursor=first.cursor)
        _materialize(instance, _requested(second), {"complaints_cleaned": CLEANED_CHECKS}, passed=False)
        third = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=NOW, cursor=second.cursor)
    assert "complaints_categorised" not in _requested(third)
