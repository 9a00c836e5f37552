"""Incremental warehouse builds give the same tables as a full rebuild, through every kind of change
the lake sees: a new day, a late copy of an old complaint, a web form updated again, a review decision
that merges or splits complaints, a version withdrawn, a day's files removed, a new CRM snapshot.

Each step changes the hand-made lake of test_dbt_project, materializes the warehouse through Dagster
(the real asset, the real dbt build, incremental where it can be), and compares every complaint table
and mart with a full `dbt build` of a copy of the same lake.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from test_dbt_project import (
    CUSTOMERS_SCHEMA,
    DAY1,
    DAY2,
    DAY3,
    DBT_PROJECT_DIR,
    build_lake,
    complaint,
    release_dbt_duckdb,
    utc,
)

from complaints_platform.definitions import build_definitions
from complaints_platform.lib.settings import Settings
from complaints_platform.lib.silver import CATEGORISED_SCHEMA, DUPLICATES_SCHEMA
from complaints_platform.runtime import warehouse_keys

pytestmark = pytest.mark.integration

COMPARED = [
    "fct_complaints",
    "fct_complaint_sources",
    "int_complaint_receipts",
    "mart_complaints_daily",
    "mart_call_center_resolution",
    "dim_customer",
]


def _silver(root: Path, asset: str, day: date) -> Path:
    return root / "silver" / asset / f"date={day}" / "part.parquet"


def _rows(root: Path, asset: str, day: date) -> list[dict]:
    path = _silver(root, asset, day)
    return pl.read_parquet(path).to_dicts() if path.exists() else []


def _write(root: Path, asset: str, day: date, rows: list[dict]) -> None:
    schema = CATEGORISED_SCHEMA if asset == "complaints_categorised" else DUPLICATES_SCHEMA
    path = _silver(root, asset, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp.parquet")
    pl.DataFrame(rows, schema=schema).write_parquet(tmp)
    tmp.replace(path)  # a new file renamed into place, as the lake writes


def _duplicate(record: str, of: str, channel: str, day: date, rule: str, similarity: float) -> dict:
    return {"complaint_id": record, "duplicate_of": of, "channel": channel, "source_record_id": f"src-{record}",
            "source_location": f"{channel}:{record}", "received_date": day, "rule": rule, "similarity": similarity}


def _build(defs: dg.Definitions, instance: dg.DagsterInstance, full_refresh: bool = False) -> str:
    """Materialize the warehouse through Dagster; returns how fct_complaints was built."""
    result = _run(defs, instance, full_refresh)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    materialization = next(
        m for m in result.asset_materializations_for_node("warehouse_models") if m.asset_key.path[-1] == "fct_complaints"
    )
    return materialization.metadata["build"].value


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, full_refresh: bool = False) -> dg.ExecuteInProcessResult:
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(k) for k in warehouse_keys(defs)],
        run_config={"ops": {"warehouse_models": {"config": {"full_refresh": full_refresh}}}},
        raise_on_error=False,
    )


def _publish(defs: dg.Definitions, instance: dg.DagsterInstance) -> tuple[bool, str | None]:
    """Publish the analysts' copy through Dagster: whether it passed its PII scan, and what it scanned."""
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("analytics_duckdb")], raise_on_error=False
    )
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 1
    scanned = checks[0].metadata.get("scanned")
    return checks[0].passed, scanned.value if scanned else None


def _plain_dbt_run(root: Path) -> Path:
    """`dbt run` in this process, as someone would run it by hand: no Dagster, no changes handed over."""
    from dbt.cli.main import dbtRunner

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMPLAINTS_DATA_DIR", str(root))
        result = dbtRunner().invoke(["run", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                                     "--target-path", str(root / "dbt_target"), "--log-path", str(root / "dbt_logs")])
    release_dbt_duckdb()
    assert result.success, result.exception
    return root / "warehouse.duckdb"


def _full_build_of_copy(root: Path, copy: Path) -> Path:
    if copy.exists():
        shutil.rmtree(copy)
    for layer in ("silver", "reference"):
        shutil.copytree(root / layer, copy / layer)
    return _plain_dbt_run(copy)


def _differences(incremental: Path, full: Path) -> dict[str, tuple[int, int]]:
    """Rows only in the incremental table and rows only in the full one, per table that differs (but
    for built_at: when the build that wrote a row started)."""
    con = duckdb.connect()
    con.execute(f"attach '{incremental}' as incr (read_only)")
    con.execute(f"attach '{full}' as full_build (read_only)")
    found = {}
    for table in COMPARED:
        columns = [name for (name,) in con.execute(
            "select column_name from information_schema.columns where table_catalog = 'incr' and table_name = ? "
            "and column_name != 'built_at' order by ordinal_position", [table]).fetchall()]
        listed = ", ".join(columns)
        only_incr, only_full = (con.execute(
            f"select count(*) from (select {listed} from {a}.{table} except all select {listed} from {b}.{table})"
        ).fetchone()[0] for a, b in (("incr", "full_build"), ("full_build", "incr")))
        if only_incr or only_full:
            found[table] = (only_incr, only_full)
    con.close()
    return found


def _last_build_start(warehouse: Path) -> datetime:
    """When the build that last wrote a complaint started (long ago before the first build)."""
    if not warehouse.exists():
        return datetime(2000, 1, 1, tzinfo=timezone.utc)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select max(built_at) from fct_complaints").fetchone()[0]


def _fact(warehouse: Path, complaint_id: str) -> dict | None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame = con.execute("select * from fct_complaints where complaint_id = ?", [complaint_id]).pl()
    return frame.to_dicts()[0] if frame.height else None


def test_incremental_builds_equal_full_rebuilds_through_every_kind_of_change(data_dir, tmp_path):
    build_lake(data_dir)
    defs = build_definitions()
    instance = dg.DagsterInstance.get()
    warehouse = data_dir / "warehouse.duckdb"
    reference = tmp_path / "full"

    def step(expected_build: str) -> None:
        before = _last_build_start(warehouse)
        build = _build(defs, instance)
        assert build.startswith(expected_build), build
        assert _differences(warehouse, _full_build_of_copy(data_dir, reference)) == {}
        # The rows this build wrote (its tests' scope): every row after a full build; after an
        # incremental one, the recomputed complaints' rows, all of them.
        scope = "complaint_id in (select complaint_id from int_changed_complaints)" if build.startswith("incremental") else "true"
        with duckdb.connect(str(warehouse), read_only=True) as con:
            for table in ("fct_complaints", "fct_complaint_sources"):
                written = con.execute(f"select count(*) from {table} where built_at > ?", [before]).fetchone()[0]
                assert written == con.execute(f"select count(*) from {table} where {scope}").fetchone()[0], table

    step("full rebuild: first build")
    assert not (data_dir / "dbt_target" / "lake_changes.json").exists()  # handed over for one build only
    step("incremental: 0 changed receipt day(s)")

    # A new day: a new complaint, c08's form updated a third time, and a late SMS copy of c03 (day 1).
    day3 = [
        complaint("c14", "sms", utc(DAY3, 9), utc(DAY3, 9, 2), "cust_a", "poor_network", 0.7),
        complaint("c08", "web_forms", utc(DAY1, 12), utc(DAY3, 10), "cust_b", "incorrect_billing", 0.9,
                  "reopened"),
    ]
    _write(data_dir, "complaints_categorised", DAY3, day3)
    _write(data_dir, "complaint_duplicates", DAY3,
           [_duplicate("d3", "c03", "sms", DAY3, "same_contact_same_text", 1.0)])
    step(f"incremental: 1 changed receipt day(s) ({DAY3})")
    assert _fact(warehouse, "c08")["status"] == "reopened"
    assert _fact(warehouse, "c03")["duplicate_count"] == 2

    # A review decision re-runs day 2: c12 is merged into c02 (day 1), and d2 is split from c01 and
    # kept as a complaint of its own.
    day2 = [r for r in _rows(data_dir, "complaints_categorised", DAY2) if r["complaint_id"] != "c12"]
    day2.append(complaint("d2", "sms", utc(DAY2, 6), utc(DAY2, 6, 5), "cust_a", "poor_network", 0.8))
    _write(data_dir, "complaints_categorised", DAY2, day2)
    _write(data_dir, "complaint_duplicates", DAY2, [_duplicate("c12", "c02", "social_media", DAY2, "near_duplicate", 0.9)])
    step(f"incremental: 1 changed receipt day(s) ({DAY2})")
    assert _fact(warehouse, "c12") is None
    assert _fact(warehouse, "c02")["duplicate_count"] == 2
    assert _fact(warehouse, "c01")["duplicate_count"] == 2  # itself and d1; d2 is its own complaint now
    assert _fact(warehouse, "d2") is not None

    # c08's latest version (day 3) is withdrawn: its attributes fall back to the day-2 version, which
    # only the receipts index says where to find.
    _write(data_dir, "complaints_categorised", DAY3, [r for r in day3 if r["complaint_id"] != "c08"])
    step(f"incremental: 1 changed receipt day(s) ({DAY3})")
    assert _fact(warehouse, "c08")["status"] == "closed"

    # Day 3's files removed altogether (a partition wiped): its complaints and copies leave.
    for asset in ("complaints_categorised", "complaint_duplicates"):
        _silver(data_dir, asset, DAY3).unlink()
    step(f"incremental: 1 changed receipt day(s) ({DAY3})")
    assert _fact(warehouse, "c14") is None
    assert _fact(warehouse, "c03")["duplicate_count"] == 1

    # A new CRM snapshot lists cust_zzz: every complaint's customer_key may change, so all are rebuilt.
    assert _fact(warehouse, "c07")["customer_key"] == "unknown"
    snapshot = pl.read_parquet(data_dir / "reference" / "customers" / f"date={DAY1}" / "customers.parquet")
    extra = snapshot.head(1).with_columns(pl.lit("cust_zzz").alias("customer_key"), pl.lit(DAY2).alias("snapshot_date"))
    path = data_dir / "reference" / "customers" / f"date={DAY2}" / "customers.parquet"
    path.parent.mkdir(parents=True)
    pl.concat([snapshot.with_columns(pl.lit(DAY2).alias("snapshot_date")), extra]).cast(CUSTOMERS_SCHEMA).write_parquet(path)
    step("full rebuild")
    assert _fact(warehouse, "c07")["customer_key"] == "cust_zzz"

    # Asked for in the launchpad: a full rebuild, the same tables.
    assert _build(defs, instance, full_refresh=True) == "full rebuild: requested"
    assert _differences(warehouse, _full_build_of_copy(data_dir, reference)) == {}

    # An incremental build tests what it changed. A complaint made on a day the fiscal calendar does
    # not hold, received on a new day, fails the fact's own tests (the silver views' do not check it).
    day4 = date(2026, 11, 23)
    _write(data_dir, "complaints_categorised", day4,
           [complaint("c15", "sms", utc(date(2026, 10, 15), 9), utc(day4, 9, 5), None, "other", 0.5)])
    failed_run = _run(defs, instance)
    assert not failed_run.success
    results = json.loads((data_dir / "dbt_target" / "run_results.json").read_text())["results"]
    failed = {r["unique_id"].split(".")[2] for r in results if r["status"] in ("fail", "error")}
    assert failed == {"assert_fct_complaints_dates_in_dim_date", "relationships_fct_complaints_event_date__date_key__ref_dim_date_"}
    # ... and the UI shows which: the failed build still reports its tests as asset checks on the
    # fact, but no model as materialized (nothing downstream, the publish, runs on a half-built warehouse).
    assert failed_run.asset_materializations_for_node("warehouse_models") == []
    checks = failed_run.get_asset_check_evaluations()
    assert {c.check_name for c in checks if not c.passed} == failed
    assert {c.asset_key.path[-1] for c in checks if not c.passed} == {"fct_complaints"}
    passed = {r["unique_id"].split(".")[2] for r in results if r["status"] == "pass"}
    assert {c.check_name for c in checks if c.passed} & passed
    assert {c.check_name for c in checks if c.passed} <= passed
    _write(data_dir, "complaints_categorised", day4, [complaint("c15", "sms", utc(day4, 9), utc(day4, 9, 5), None, "other", 0.5)])
    step("full rebuild")
    # A complaint from an unknown channel on a new day fails it too, and the build after a failure
    # is a full one.
    fax = complaint("c15", "fax", utc(day4, 9), utc(day4, 9, 5), None, "other", 0.5)
    _write(data_dir, "complaints_categorised", day4, [fax])
    assert not _run(defs, instance).success
    _write(data_dir, "complaints_categorised", day4, [{**fax, "channel": "sms"}])
    step("full rebuild")

    # A killed build's changes file misleads no one: a plain `dbt run` beside it (no Dagster)
    # recomputes every complaint, here the new day 3 the file does not name.
    (data_dir / "dbt_target" / "lake_changes.json").write_text('{"changed_days": ["2026-11-20"]}')
    _write(data_dir, "complaints_categorised", DAY3, day3)
    _plain_dbt_run(data_dir)
    assert _fact(warehouse, "c14") is not None
    assert _differences(warehouse, _full_build_of_copy(data_dir, reference)) == {}

    # The analysts' copy: the first publish scans every row, the next the silver views' changed days
    # only (and not the unchanged CRM and calendar views), and a leak on a new day still blocks it.
    assert _publish(defs, instance) == (True, "every row")
    assert _publish(defs, instance) == (
        True, "tables whole, silver views on 0 changed receipt day(s), CRM and calendar views unchanged")
    day5 = date(2026, 11, 24)
    _write(data_dir, "complaints_categorised", day5,
           [{**complaint("c16", "sms", utc(day5, 9), utc(day5, 9, 5), None, "other", 0.5), "text_masked": "ring 07700 900123"}])
    assert _publish(defs, instance) == (False, None)
    _write(data_dir, "complaints_categorised", day5, [complaint("c16", "sms", utc(day5, 9), utc(day5, 9, 5), None, "other", 0.5)])
    assert _publish(defs, instance) == (True, "every row")  # after a failed publish

    # The quarantine and the review queue are stamped per receipt day too: an old day's file
    # rewritten alone (no complaint changed) is scanned on that day, and a leak in it still blocks.
    def rewrite(asset: str, day: date, column: str, value: str | None = None) -> None:
        path = data_dir / "silver" / asset / f"date={day}" / "part.parquet"
        frame = pl.read_parquet(path)
        if value is not None:
            frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(value))
                                       .otherwise(pl.col(column)).alias(column))
        tmp = path.with_name(".tmp.parquet")
        frame.write_parquet(tmp)
        tmp.replace(path)

    one_day = "tables whole, silver views on 1 changed receipt day(s), CRM and calendar views unchanged"
    rewrite("complaints_quarantine", DAY1, "raw_masked")
    assert _publish(defs, instance) == (True, one_day)
    rewrite("complaints_quarantine", DAY1, "raw_masked", '{"text": "ring 07700 900123"}')
    assert _publish(defs, instance) == (False, None)
    rewrite("complaints_quarantine", DAY1, "raw_masked", "{}")
    assert _publish(defs, instance) == (True, "every row")
    rewrite("duplicate_review_queue", DAY2, "candidate_text_masked", "ring 07700 900123")
    assert _publish(defs, instance) == (False, None)

    # National numbers are read in the masker's region (COMPLAINTS_PHONE_REGION), by the scan too:
    # this one is a phone to a US reader only. A new region scans every day again, the unchanged too.
    rewrite("duplicate_review_queue", DAY2, "candidate_text_masked", "call 1-800-555-0199")
    assert _publish(defs, instance) == (True, "every row")
    assert _publish(defs, instance) == (
        True, "tables whole, silver views on 0 changed receipt day(s), CRM and calendar views unchanged")
    in_us = build_definitions(dataclasses.replace(Settings.from_env(), default_phone_region="US"))
    assert _publish(in_us, instance) == (False, None)
