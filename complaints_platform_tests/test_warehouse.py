"""The analysts' copy: published atomically, never blocked by (or blocking) an analyst's session."""

import os
import subprocess
import sys
from datetime import date

import dagster as dg
import duckdb
import polars as pl
import pytest

from complaints_platform.lib.warehouse import publish_analytics_copy


def _warehouse(path, rows: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create or replace table fct_complaints as select range as complaint_id from range(?)", [rows])


ANALYST = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("select count(*) from fct_complaints").fetchone()[0], flush=True)
sys.stdin.readline()  # keep the session open until told
print(con.execute("select count(*) from fct_complaints").fetchone()[0], flush=True)
"""


def _count_in_new_process(path) -> int:
    out = subprocess.run([sys.executable, "-c", ANALYST, str(path)], input="\n", capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def test_publish_while_an_analyst_holds_the_old_copy_open(tmp_path):
    """Analysts are other processes (DuckDB shares one instance per file within a process)."""
    warehouse, analytics = tmp_path / "warehouse.duckdb", tmp_path / "analytics.duckdb"
    _warehouse(warehouse, 3)
    publish_analytics_copy(warehouse, analytics, "GB")

    analyst = subprocess.Popen([sys.executable, "-c", ANALYST, str(analytics)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert analyst.stdout.readline().strip() == "3"  # an analyst's session is open

    _warehouse(warehouse, 5)  # the pipeline rebuilds the warehouse meanwhile
    target, tables = publish_analytics_copy(warehouse, analytics, "GB")  # and publishes: no lock error
    assert "main.fct_complaints" in tables

    # The open session keeps reading the copy it opened; a new session sees the new one.
    out, _ = analyst.communicate("\n", timeout=30)
    assert out.strip() == "3" and analyst.returncode == 0
    assert _count_in_new_process(target) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analytics.duckdb", "warehouse.duckdb"]  # no temp left


def test_publish_without_a_warehouse_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the dbt build first"):
        publish_analytics_copy(tmp_path / "warehouse.duckdb", tmp_path / "analytics.duckdb", "GB")


def test_settings_point_the_platform_at_a_deployments_sources(tmp_path, monkeypatch):
    from complaints_platform.defs.resources import resources_from_settings
    from complaints_platform.lib.settings import Settings

    monkeypatch.setenv("COMPLAINTS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COMPLAINTS_SMS_API_URL", "https://sms.example.net")
    monkeypatch.setenv("COMPLAINTS_SMS_API_TOKEN", "t0ken")
    monkeypatch.setenv("COMPLAINTS_CALL_CENTER_DIR", "/srv/exports")
    monkeypatch.setenv("COMPLAINTS_CALL_CENTER_COLUMN_MAP", '{"Call Ref": "call_id", "Notes (agent)": "notes"}')
    monkeypatch.setenv("COMPLAINTS_WEB_FORMS_DB_URL", "postgresql+psycopg://web@db/site")
    monkeypatch.setenv("COMPLAINTS_PII_KEY", "k")
    resources = resources_from_settings(Settings.from_env())
    assert resources["sms_api"].base_url == "https://sms.example.net"
    # Secrets are referenced by variable name, so the UI never shows their values.
    assert resources["sms_api"].token == dg.EnvVar("COMPLAINTS_SMS_API_TOKEN")
    assert resources["pii"].key == dg.EnvVar("COMPLAINTS_PII_KEY")
    assert resources["call_center"].folder == "/srv/exports"
    assert resources["call_center"].column_map == {"Call Ref": "call_id", "Notes (agent)": "notes"}
    assert resources["web_forms_db"].url == "postgresql+psycopg://web@db/site"
    assert resources["lake"].data_dir == str(tmp_path)
    assert resources["pii"].default_region == "GB"


def test_the_phone_region_is_one_phonenumbers_knows(monkeypatch):
    """The masker reads national numbers in it and the PII checks read them the same way; in a
    region phonenumbers does not know, no national number would be masked and none found."""
    from complaints_platform.defs.resources import resources_from_settings
    from complaints_platform.lib.settings import MissingSetting, Settings

    monkeypatch.setenv("COMPLAINTS_PHONE_REGION", "us")
    assert resources_from_settings(Settings.from_env())["pii"].default_region == "US"
    monkeypatch.setenv("COMPLAINTS_PHONE_REGION", "XX")
    with pytest.raises(MissingSetting, match="COMPLAINTS_PHONE_REGION: 'XX' is not a phone region"):
        Settings.from_env()


def test_platform_env_file_fills_what_the_environment_does_not(tmp_path, monkeypatch):
    from complaints_platform.lib.settings import MissingSetting, Settings

    for name in ("COMPLAINTS_PII_KEY", "COMPLAINTS_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COMPLAINTS_DATA_DIR", str(tmp_path))
    (tmp_path / "platform.env").write_text("# demo\nCOMPLAINTS_PII_KEY=from-file\n")
    settings = Settings.from_env()
    assert settings.pii_key == "from-file"
    with pytest.raises(MissingSetting, match="COMPLAINTS_WEBHOOK_SECRET"):
        settings.require("webhook_secret")


def test_raw_pii_anywhere_in_the_copy_blocks_publication(tmp_path):
    """A leak in any text column of any table or view (here a view over a Parquet file, as the
    staging views read silver) fails the publish; the analysts' previous copy stays as it was."""
    from complaints_platform.lib.warehouse import UnmaskedPiiError, unmasked_pii_in

    warehouse, analytics = tmp_path / "warehouse.duckdb", tmp_path / "analytics.duckdb"
    _warehouse(warehouse, 3)
    publish_analytics_copy(warehouse, analytics, "GB")
    silver = tmp_path / "silver.parquet"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "copy (select * from (values ('call me on <PHONE:abcdefghij>'), ('order #55512 arrived late, 2 days ago'), "
            "('refund to GB82 WEST 1234 5698 7654 32 please'), ('write to jane.doe@example.com')) t(text_masked)) "
            f"to '{silver}' (format parquet)"
        )
        con.execute(f"create view stg_texts as select * from read_parquet('{silver}')")
        con.execute("create table mart_notes as select 'ring 07700 900123 after 6' as note, 5 as n")
        findings = unmasked_pii_in(con, "GB")
    assert set(findings) == {"main.stg_texts.text_masked", "main.mart_notes.note"}
    assert {"IBAN", "EMAIL"} <= set(findings["main.stg_texts.text_masked"])
    assert findings["main.mart_notes.note"] == {"PHONE": 1}
    with pytest.raises(UnmaskedPiiError, match="not published"):
        publish_analytics_copy(warehouse, analytics, "GB")
    assert _count_in_new_process(analytics) == 3  # the previous copy, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analytics.duckdb", "silver.parquet", "warehouse.duckdb"]

    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop view stg_texts")
        con.execute("create or replace table mart_notes as select 'ring <PHONE:abcdefghij> after 6' as note")
    publish_analytics_copy(warehouse, analytics, "GB")  # clean again: published


def test_the_scan_reads_national_phone_numbers_in_the_region_given(tmp_path):
    """A number written without its country code is a phone in one region and not in another."""
    from complaints_platform.lib.warehouse import UnmaskedPiiError

    warehouse, analytics = tmp_path / "warehouse.duckdb", tmp_path / "analytics.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table fct (note varchar)")
        con.execute("insert into fct values ('call 1-800-555-0199'), ('no signal')")
    publish_analytics_copy(warehouse, analytics, "GB")
    with pytest.raises(UnmaskedPiiError, match=r"main.fct.note: \{'PHONE': 1\}"):
        publish_analytics_copy(warehouse, analytics, "US")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update fct set note = 'ring 07700 900123' where note like 'call%'")
    publish_analytics_copy(warehouse, analytics, "US")
    with pytest.raises(UnmaskedPiiError, match=r"main.fct.note: \{'PHONE': 1\}"):
        publish_analytics_copy(warehouse, analytics, "GB")


def test_the_scan_finds_a_leak_in_a_category_like_column_and_in_free_text(tmp_path):
    """Both ways the scan reads a column: distinct values first (a column of few values, like a
    status) and matching row by row (free text, nearly every value distinct)."""
    from complaints_platform.lib.warehouse import CATEGORY_MAX_DISTINCT, PROBE_ROWS, unmasked_pii_in

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute(
            "create table fct as select case when range = 54321 then 'call 07700 900123' "
            "else ['open', 'resolved'][range % 2 + 1] end as status, "
            "'complaint number ' || range || ' about my bill' as note, range as n from range(100000)"
        )
        assert con.execute(f"select count(distinct note) from (from fct limit {PROBE_ROWS})").fetchone()[0] > CATEGORY_MAX_DISTINCT
        assert unmasked_pii_in(con, "GB") == {"main.fct.status": {"PHONE": 1}}
        con.execute("update fct set note = 'mail me at jane.doe@example.com' where n = 77777")
        assert unmasked_pii_in(con, "GB") == {"main.fct.status": {"PHONE": 1}, "main.fct.note": {"EMAIL": 1}}


def _silver_file(lake, relative: str, received: list[str]) -> None:
    path = lake / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"received_date": [date.fromisoformat(d) for d in received]}).write_parquet(path)


def _project(tmp_path):
    project = tmp_path / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: x\n")
    (project / "models" / "fct.sql").write_text("select 1\n")
    return project


def test_changed_days_name_the_receipt_days_whose_silver_files_changed(tmp_path):
    """What an incremental warehouse build covers: a day whose complaints or duplicates file is new,
    rewritten or gone; everything (None) when the CRM snapshots, the fiscal calendar or the dbt
    project changed (the publish then scans the views over the CRM and the calendar again)."""
    from complaints_platform.lib.warehouse import PUBLISHED_INPUTS, changed_days, lake_state

    project, lake = _project(tmp_path), tmp_path / "lake"
    for day in ("2026-11-20", "2026-11-21", "2026-11-22"):
        _silver_file(lake, f"silver/complaints_categorised/date={day}/part.parquet", [day])
        _silver_file(lake, f"silver/complaint_duplicates/date={day}/part.parquet", [day])
    _silver_file(lake, "silver/complaints_quarantine/date=2026-11-20/part.parquet", ["2026-11-20"])
    _silver_file(lake, "reference/customers/date=2026-11-20/customers.parquet", [])
    first = lake_state(lake, project)
    published = lake_state(lake, project, inputs=PUBLISHED_INPUTS)  # what the analysts' copy's scan stamps
    assert changed_days(None, first) is None
    assert changed_days(first, lake_state(lake, project, first)) == []

    _silver_file(lake, "silver/complaint_duplicates/date=2026-11-21/part.parquet", ["2026-11-21"] * 2)  # rewritten
    _silver_file(lake, "silver/complaints_categorised/date=2026-11-23/part.parquet", ["2026-11-23"])  # a new day
    (lake / "silver/complaints_categorised/date=2026-11-20/part.parquet").unlink()  # a day wiped
    _silver_file(lake, "silver/complaints_quarantine/date=2026-11-22/part.parquet", ["2026-11-22"])  # not read by the facts
    _silver_file(lake, "silver/complaints_categorised/date=2026-11-22/.part.parquet.1234.tmp", [])  # a write in flight
    second = lake_state(lake, project, first)
    assert changed_days(first, second) == ["2026-11-20", "2026-11-21", "2026-11-23"]
    # The publish's state has the quarantine's new day too, and is not comparable with the build's.
    published_now = lake_state(lake, project, published, PUBLISHED_INPUTS)
    assert changed_days(published, published_now) == ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]
    assert changed_days(first, published_now) is None

    # Rewritten with the same size within one tick of the clock: a new file all the same (its inode).
    path = lake / "silver/complaints_categorised/date=2026-11-22/part.parquet"
    stat = path.stat()
    _silver_file(lake, "silver/complaints_categorised/date=2026-11-22/new.tmp", ["2026-11-22"])
    (lake / "silver/complaints_categorised/date=2026-11-22/new.tmp").replace(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    third = lake_state(lake, project, second)
    assert changed_days(second, third) == ["2026-11-22"]

    _silver_file(lake, "reference/customers/date=2026-11-21/customers.parquet", [])  # a new CRM snapshot
    assert changed_days(third, lake_state(lake, project, third)) is None
    fourth = lake_state(lake, project, third)
    (project / "models" / "fct.sql").write_text("select 2\n")  # the models changed
    assert changed_days(fourth, lake_state(lake, project, fourth)) is None
    fifth = lake_state(lake, project, fourth)
    _silver_file(lake, "reference/fiscal_calendar/fiscal_calendar.parquet", [])  # a new fiscal calendar
    assert changed_days(fifth, lake_state(lake, project, fifth)) is None
    sixth = lake_state(lake, project, fifth)
    _silver_file(lake, "reference/customers/manual/customers.parquet", [])  # read by stg_customers too
    assert changed_days(sixth, lake_state(lake, project, sixth)) is None
    # A silver file outside the date= folders is read by the views too, and no day names it.
    seventh = lake_state(lake, project, sixth)
    _silver_file(lake, "silver/complaints_categorised/restored/part.parquet", ["2026-11-20"])
    assert changed_days(seventh, lake_state(lake, project, seventh)) is None
    # So is one in a date= folder that names no day (or names one in another spelling).
    for folder in ("date=old", "date=20261120"):
        before = lake_state(lake, project, seventh)
        _silver_file(lake, f"silver/complaints_categorised/{folder}/part.parquet", ["2026-11-20"])
        after = lake_state(lake, project, before)
        assert f"complaints_categorised/{folder}/part.parquet" in after["rebuild_on_change"]["silver_outside_days"]
        assert after["days"] == before["days"] and changed_days(before, after) is None
    published = lake_state(lake, project, inputs=PUBLISHED_INPUTS)
    _silver_file(lake, "silver/duplicate_review_queue/restored/part.parquet", ["2026-11-20"])
    assert changed_days(published, lake_state(lake, project, published, PUBLISHED_INPUTS)) is None


def test_a_day_file_holding_rows_of_other_days_is_only_rebuilt_in_full(tmp_path):
    """dbt finds a changed day's rows by received_date: a file under date=D holding a row received
    on another day (now, or before it was rewritten) makes that day's change a full rebuild."""
    from complaints_platform.lib.warehouse import changed_days, lake_state

    project, lake = _project(tmp_path), tmp_path / "lake"
    mixed = "silver/complaints_categorised/date=2026-11-21/part.parquet"
    _silver_file(lake, "silver/complaints_categorised/date=2026-11-20/part.parquet", ["2026-11-20"])
    _silver_file(lake, mixed, ["2026-11-21", "2026-11-20"])
    first = lake_state(lake, project)
    assert first["foreign"] == ["2026-11-21/complaints_categorised/part.parquet"]
    _silver_file(lake, "silver/complaints_categorised/date=2026-11-20/part.parquet", ["2026-11-20", "2026-11-20"])
    second = lake_state(lake, project, first)
    assert changed_days(first, second) == ["2026-11-20"]  # the mixed file did not change
    _silver_file(lake, mixed, ["2026-11-21"])  # rewritten clean: it held another day's row before
    third = lake_state(lake, project, second)
    assert third["foreign"] == []
    assert changed_days(second, third) is None
    _silver_file(lake, mixed, ["2026-11-21", "2026-11-21"])
    assert changed_days(third, lake_state(lake, project, third)) == ["2026-11-21"]
    # A row without a receipt day is found by no day's filter: the same as another day's.
    pl.DataFrame({"received_date": [date(2026, 11, 21), None]}).write_parquet(lake / mixed)
    assert lake_state(lake, project)["foreign"] == ["2026-11-21/complaints_categorised/part.parquet"]


def test_build_plan(tmp_path):
    """Incremental only when every incremental table is built and the last state can be trusted; a
    partial selection rebuilds what it selects and keeps the state only if the rest still fits."""
    from complaints_platform.lib.warehouse import INCREMENTAL_MODELS, lake_state, plan_build

    project, lake = _project(tmp_path), tmp_path / "lake"
    _silver_file(lake, "silver/complaints_categorised/date=2026-11-20/part.parquet", ["2026-11-20"])
    _silver_file(lake, "reference/customers/date=2026-11-20/customers.parquet", [])
    before = lake_state(lake, project)
    every = set(INCREMENTAL_MODELS) | {"mart_complaints_daily"}

    def plan(previous, current, selected=every, exists=True, full=False):
        p = plan_build(previous, current, selected, exists, full)
        return p.full_refresh, p.changed_days, p.save_state

    assert plan(before, before, selected={"mart_complaints_daily"}) == (False, None, False)
    assert plan(None, before) == (True, None, True)
    assert plan(before, before, exists=False) == (True, None, True)
    assert plan(before, before, full=True) == (True, None, True)
    assert plan(before, before) == (False, [], True)
    _silver_file(lake, "silver/complaints_categorised/date=2026-11-21/part.parquet", ["2026-11-21"])
    new_day = lake_state(lake, project, before)
    assert plan(before, new_day) == (False, ["2026-11-21"], True)
    # Part of the tables: rebuilt whole; the state is kept only if the others still match the lake.
    assert plan(before, new_day, selected={"fct_complaints"}) == (True, None, False)
    assert plan(new_day, new_day, selected={"fct_complaints"}) == (True, None, True)
    _silver_file(lake, "reference/customers/date=2026-11-21/customers.parquet", [])  # a new CRM snapshot
    crm = lake_state(lake, project, new_day)
    assert plan(new_day, crm) == (True, None, True)
    assert plan(new_day, crm, selected={"fct_complaints", "mart_complaints_daily"}) == (True, None, True)
    assert plan(new_day, crm, selected={"fct_complaint_sources"}) == (True, None, False)


def test_a_publish_after_one_that_passed_scans_the_silver_views_on_changed_days_only(tmp_path):
    """The views over silver stamped per receipt day (complaints, duplicates, quarantine, review
    queue) are scanned on the days named, those over the CRM and the calendar (unchanged when days
    are named) not at all; the warehouse's tables and any other view whole."""
    from complaints_platform.lib.warehouse import unmasked_pii_in

    silver = tmp_path / "silver"
    for day, text in (("2026-11-20", "call me on 07700 900123"), ("2026-11-21", "all fine, thanks")):
        _silver_file(tmp_path, f"silver/date={day}/part.parquet", [day])
        frame = pl.read_parquet(silver / f"date={day}" / "part.parquet").with_columns(pl.lit(text).alias("text_masked"))
        frame.write_parquet(silver / f"date={day}" / "part.parquet")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        for view in ("stg_complaints", "some_other_view"):
            con.execute(f"create view {view} as select * from read_parquet('{silver}/*/*.parquet')")
        con.execute("create table mart_notes as select 'mail jane.doe@example.com' as note")
        con.execute("create view stg_customers as select 'call 07700 900456' as plan")
        everything = {"main.stg_complaints.text_masked": {"PHONE": 1}, "main.some_other_view.text_masked": {"PHONE": 1},
                      "main.mart_notes.note": {"EMAIL": 1}, "main.stg_customers.plan": {"PHONE": 1}}
        assert unmasked_pii_in(con, "GB") == everything
        unchanged_crm = {k: v for k, v in everything.items() if "stg_customers" not in k}
        assert unmasked_pii_in(con, "GB", ["2026-11-20"]) == unchanged_crm
        # Day 20 passed an earlier scan and only day 21 changed: stg_complaints is read on day 21.
        assert unmasked_pii_in(con, "GB", ["2026-11-21"]) == {k: v for k, v in unchanged_crm.items() if "stg_complaints" not in k}
        assert "main.stg_complaints.text_masked" not in unmasked_pii_in(con, "GB", [])
