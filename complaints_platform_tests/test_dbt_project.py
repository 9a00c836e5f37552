"""The real dbt build over a handful of hand-made lake files, checked against numbers worked by hand.

Fixture (all times UTC; two days of receipt, 2026-11-20 and 2026-11-21, plus an empty partition):

    id   channel       event              received     customer   category              conf  status     wait handle resolved
    c01  social_media  11-20 09:00        11-20        cust_a     poor_network          0.90
    c02  social_media  11-20 10:00        11-20        -          poor_network          0.70
    c03  sms           11-20 11:00        11-20        cust_b     incorrect_billing     0.80
    c04  call_center   11-20 08:00        11-20        cust_a     bad_customer_service  0.60  resolved     30  300  11-20 14:00 (6 h)
    c05  call_center   11-20 09:00        11-20        cust_c     poor_network          0.75  resolved     90  200  11-20 11:00 (2 h)
    c06  call_center   11-20 10:00        11-20        -          incorrect_billing     0.65  escalated   120  600
    c07  call_center   11-20 11:00        11-20        cust_zzz*  device_equipment      0.55  open         60  100
    c08  web_forms     11-20 12:00        11-20, 11-21 cust_b     other                 0.40  new -> closed (11-21 08:00)
    c09  sms           11-20 23:50        11-21 (late) cust_c     poor_network          0.85
    c10  call_center   11-21 09:00        11-21        cust_a     bad_customer_service  0.70  callback    200  150
    c11  call_center   11-21 10:00        11-21        cust_b     incorrect_billing     0.90  resolved     40  250  11-21 13:30 (3.5 h)
    c12  social_media  11-21 07:00        11-21        -          poor_network          0.60
    c13  call_center   11-21 11:00        11-21        cust_c     poor_network          0.80  resolved    100  350  11-21 12:00 (1 h)

    * cust_zzz is not in the CRM, so it maps to the unknown customer like the blanks.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import polars as pl
import pytest

from complaints_platform.lib.near_duplicates import REVIEW_SCHEMA
from complaints_platform.lib.silver import CATEGORISED_SCHEMA, DUPLICATES_SCHEMA, QUARANTINE_SCHEMA

pytestmark = pytest.mark.integration

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
DAY1, DAY2, DAY3 = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)

CUSTOMERS_SCHEMA: dict[str, pl.DataType] = {
    "customer_key": pl.String(),
    "name_token": pl.String(),
    "email_token": pl.String(),
    "phone_token": pl.String(),
    "handle_token": pl.String(),
    "plan": pl.String(),
    "region": pl.String(),
    "signup_date": pl.Date(),
    "snapshot_date": pl.Date(),
}


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)


def complaint(
    complaint_id: str,
    channel: str,
    event_at: datetime,
    received_at: datetime,
    customer_key: str | None,
    category: str,
    confidence: float,
    status: str | None = None,
    wait_seconds: int | None = None,
    handle_seconds: int | None = None,
    resolved_at: datetime | None = None,
) -> dict:
    return {
        "complaint_id": complaint_id,
        "channel": channel,
        "source_record_id": f"src-{complaint_id}",
        "source_location": f"{channel}:{complaint_id}",
        "customer_key": customer_key,
        "contact_token": f"tok-{complaint_id}",
        "author_token": f"author-{complaint_id}",
        "event_at": event_at,
        "received_at": received_at,
        "event_date": event_at.date(),
        "received_date": received_at.date(),
        "text_masked": "masked text",
        "status": status,
        "resolved_at": resolved_at,
        "wait_seconds": wait_seconds,
        "handle_seconds": handle_seconds,
        "duplicate_count": 1,
        "category": category,
        "category_confidence": confidence,
        "category_path": "student",
        "is_complaint": category != "other",
        "model_version": "test-v1",
    }


def write(rows: list[dict], schema: dict[str, pl.DataType], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows, schema=schema).write_parquet(path)


def build_lake(root: Path) -> None:
    received1 = utc(DAY1, 15)
    received2 = utc(DAY2, 15)
    day1 = [
        complaint("c01", "social_media", utc(DAY1, 9), utc(DAY1, 9, 1), "cust_a", "poor_network", 0.90),
        complaint("c02", "social_media", utc(DAY1, 10), utc(DAY1, 10, 1), None, "poor_network", 0.70),
        complaint("c03", "sms", utc(DAY1, 11), utc(DAY1, 11, 5), "cust_b", "incorrect_billing", 0.80),
        complaint("c04", "call_center", utc(DAY1, 8), received1, "cust_a", "bad_customer_service", 0.60,
                  "resolved", 30, 300, utc(DAY1, 14)),
        complaint("c05", "call_center", utc(DAY1, 9), received1, "cust_c", "poor_network", 0.75,
                  "resolved", 90, 200, utc(DAY1, 11)),
        complaint("c06", "call_center", utc(DAY1, 10), received1, None, "incorrect_billing", 0.65,
                  "escalated", 120, 600),
        complaint("c07", "call_center", utc(DAY1, 11), received1, "cust_zzz", "device_equipment", 0.55,
                  "open", 60, 100),
        complaint("c08", "web_forms", utc(DAY1, 12), utc(DAY1, 12, 15), "cust_b", "other", 0.40, "new"),
    ]
    day2 = [
        # The same web form again, closed overnight: one complaint, first received on day 1.
        complaint("c08", "web_forms", utc(DAY1, 12), utc(DAY2, 8, 15), "cust_b", "other", 0.40,
                  "closed", resolved_at=utc(DAY2, 8)),
        complaint("c09", "sms", utc(DAY1, 23, 50), utc(DAY2, 0, 20), "cust_c", "poor_network", 0.85),
        complaint("c10", "call_center", utc(DAY2, 9), received2, "cust_a", "bad_customer_service", 0.70,
                  "callback", 200, 150),
        complaint("c11", "call_center", utc(DAY2, 10), received2, "cust_b", "incorrect_billing", 0.90,
                  "resolved", 40, 250, utc(DAY2, 13, 30)),
        complaint("c12", "social_media", utc(DAY2, 7), utc(DAY2, 7, 1), None, "poor_network", 0.60),
        complaint("c13", "call_center", utc(DAY2, 11), received2, "cust_c", "poor_network", 0.80,
                  "resolved", 100, 350, utc(DAY2, 12)),
    ]
    silver = root / "silver" / "complaints_categorised"
    write(day1, CATEGORISED_SCHEMA, silver / f"date={DAY1}" / "part.parquet")
    write(day2, CATEGORISED_SCHEMA, silver / f"date={DAY2}" / "part.parquet")
    write([], CATEGORISED_SCHEMA, silver / f"date={DAY3}" / "part.parquet")

    def quarantined(channel: str, record: str, received_at: datetime, rule: str) -> dict:
        return {
            "channel": channel,
            "source_record_id": record,
            "source_location": f"{channel}:{record}",
            "received_at": received_at,
            "received_date": received_at.date(),
            "rule": rule,
            "reason": f"broke {rule}",
            "raw_masked": "{}",
        }

    quarantine = root / "silver" / "complaints_quarantine"
    write(
        [
            quarantined("sms", "q1", utc(DAY1, 9), "unparseable_timestamp"),
            quarantined("sms", "q2", utc(DAY1, 10), "unparseable_timestamp"),
            quarantined("call_center", "q3", received1, "missing_text"),
        ],
        QUARANTINE_SCHEMA,
        quarantine / f"date={DAY1}" / "part.parquet",
    )
    write(
        [quarantined("sms", "q4", utc(DAY2, 9), "unparseable_timestamp")],
        QUARANTINE_SCHEMA,
        quarantine / f"date={DAY2}" / "part.parquet",
    )
    write([], QUARANTINE_SCHEMA, quarantine / f"date={DAY3}" / "part.parquet")

    # c01's customer tweeted it again the same day, and by SMS the next: one complaint, three records.
    def duplicate(record: str, of: str, channel: str, day: date, rule: str, similarity: float) -> dict:
        return {"complaint_id": record, "duplicate_of": of, "channel": channel, "source_record_id": f"src-{record}",
                "source_location": f"{channel}:{record}", "received_date": day, "rule": rule, "similarity": similarity}

    duplicates = root / "silver" / "complaint_duplicates"
    write([duplicate("d1", "c01", "social_media", DAY1, "same_source_record", 1.0)], DUPLICATES_SCHEMA,
          duplicates / f"date={DAY1}" / "part.parquet")
    write([duplicate("d2", "c01", "sms", DAY2, "near_duplicate", 0.81)], DUPLICATES_SCHEMA,
          duplicates / f"date={DAY2}" / "part.parquet")
    review = root / "silver" / "duplicate_review_queue"
    write([{"pair_id": "p1", "complaint_id": "c11", "candidate_of": "c03", "similarity": 0.6, "channel": "call_center",
            "candidate_channel": "sms", "text_masked": "billed twice", "candidate_text_masked": "double bill",
            "event_at": utc(DAY2, 10), "candidate_event_at": utc(DAY1, 11), "received_date": DAY2}],
          REVIEW_SCHEMA, review / f"date={DAY2}" / "part.parquet")
    write([], REVIEW_SCHEMA, review / f"date={DAY1}" / "part.parquet")

    def customer(key: str, plan: str, region: str, snapshot: date) -> dict:
        return {
            "customer_key": key,
            "name_token": f"name-{key}",
            "email_token": f"email-{key}",
            "phone_token": f"phone-{key}",
            "handle_token": None,
            "plan": plan,
            "region": region,
            "signup_date": date(2024, 1, 1),
            "snapshot_date": snapshot,
        }

    customers = root / "reference" / "customers"
    old, new = date(2026, 11, 19), DAY1
    write(
        [customer("cust_a", "basic", "North", old), customer("cust_b", "plus", "South", old),
         customer("cust_d", "basic", "East", old)],
        CUSTOMERS_SCHEMA,
        customers / f"date={old}" / "customers.parquet",
    )
    write(
        [customer("cust_a", "premium", "North", new), customer("cust_b", "plus", "South", new),
         customer("cust_c", "basic", "West", new)],
        CUSTOMERS_SCHEMA,
        customers / f"date={new}" / "customers.parquet",
    )

    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]
    calendar = pl.DataFrame(
        {
            "date": days,
            "year": [d.year for d in days],
            "month": [d.month for d in days],
            "day_of_week": [d.isoweekday() for d in days],
            "day_name": [d.strftime("%A") for d in days],
            "month_name": [d.strftime("%B") for d in days],
            "is_weekend": [d.isoweekday() >= 6 for d in days],
            "iso_week": [d.isocalendar().week for d in days],
            "fiscal_year": [2027] * len(days),
            "fiscal_quarter": [3] * len(days),
            "fiscal_month": [8] * len(days),
            "fiscal_year_label": ["FY2027"] * len(days),
        }
    )
    path = root / "reference" / "fiscal_calendar" / "fiscal_calendar.parquet"
    path.parent.mkdir(parents=True)
    calendar.write_parquet(path)


def release_dbt_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a run.

    dbt-duckdb holds one environment per process until exit, and DuckDB refuses a read-only
    connection to a file the same process has open read-write.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
    DuckDBConnectionManager.close_all_connections()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    from dbt.cli.main import dbtRunner

    root = tmp_path_factory.mktemp("lake")
    build_lake(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMPLAINTS_DATA_DIR", str(root))
        mp.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        result = dbtRunner().invoke(
            [
                "build",
                "--project-dir", str(DBT_PROJECT_DIR),
                "--profiles-dir", str(DBT_PROJECT_DIR),
                "--target-path", str(root / "dbt_target"),
                "--log-path", str(root / "dbt_logs"),
            ]
        )
    assert result.exception is None, result.exception
    failed = [(r.node.name, str(r.status)) for r in result.result if str(r.status) not in ("success", "pass")]
    assert result.success, failed
    assert failed == []
    release_dbt_duckdb()
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.sql(sql).fetchall()


def test_fct_complaints_has_one_row_per_complaint(warehouse):
    assert rows(warehouse, "select count(*), count(distinct complaint_id) from main.fct_complaints") == [(13, 13)]
    # The web form received twice: latest status, first receipt, resolved 20 h after it was made.
    assert rows(
        warehouse,
        "select received_date, status, is_late, hours_to_resolution from main.fct_complaints "
        "where complaint_id = 'c08'",
    ) == [(DAY1, "closed", False, 20.0)]
    assert rows(warehouse, "select complaint_id from main.fct_complaints where is_late") == [("c09",)]
    assert rows(
        warehouse,
        "select list(complaint_id order by complaint_id) from main.fct_complaints "
        "where customer_key = 'unknown'",
    ) == [(["c02", "c06", "c07", "c12"],)]


def test_every_source_record_of_a_complaint_over_every_day(warehouse):
    assert rows(
        warehouse,
        "select channel, source_record_id, rule, similarity from main.fct_complaint_sources "
        "where complaint_id = 'c01' order by rule",
    ) == [
        ("social_media", "src-c01", "kept", 1.0),
        ("sms", "src-d2", "near_duplicate", 0.81),
        ("social_media", "src-d1", "same_source_record", 1.0),
    ]
    assert rows(warehouse, "select complaint_id, duplicate_count from main.fct_complaints where duplicate_count > 1") == [
        ("c01", 3)
    ]
    # The web form received on two days is one source record, kept once.
    assert rows(warehouse, "select count(*) from main.fct_complaint_sources where complaint_id = 'c08'") == [(1,)]
    assert rows(warehouse, "select pair_id, complaint_id, candidate_of from main.review_duplicate_pairs") == [
        ("p1", "c11", "c03")
    ]


def test_every_view_reads_in_a_copy_of_the_file_under_another_name(warehouse, tmp_path):
    """Analysts open a copy (analytics.duckdb: another catalog name), so a view naming the
    warehouse's catalog would fail there; review_duplicate_pairs is a view over another view."""
    path = warehouse.execute("select path from duckdb_databases() where database_name = 'warehouse'").fetchone()[0]
    copy = tmp_path / "analytics.duckdb"
    shutil.copyfile(path, copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        views = {r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
        assert {"review_duplicate_pairs", "stg_complaints", "stg_review_queue"} <= views
        counts = {view: con.execute(f'select count(*) from main."{view}"').fetchone()[0] for view in views}
        assert counts["review_duplicate_pairs"] == counts["stg_review_queue"] == 1
        assert rows(con, "select pair_id, complaint_id from main.review_duplicate_pairs") == [("p1", "c11")]


def test_dimensions(warehouse):
    assert rows(
        warehouse,
        "select customer_key, plan, is_in_latest_snapshot from main.dim_customer order by customer_key",
    ) == [
        ("cust_a", "premium", True),
        ("cust_b", "plus", True),
        ("cust_c", "basic", True),
        ("cust_d", "basic", False),
        ("unknown", "unknown", False),
    ]
    assert rows(warehouse, "select channel, channel_name, cadence from main.dim_channel order by channel") == [
        ("call_center", "Call centre", "12 h"),
        ("sms", "SMS", "15 min"),
        ("social_media", "Social media", "Streaming, 15 min partitions"),
        ("web_forms", "Website forms", "15 min"),
    ]
    assert rows(warehouse, "select count(*) from main.dim_category") == [(5,)]
    assert rows(
        warehouse, "select fiscal_year, fiscal_quarter, fiscal_month from main.dim_date where date_key = '2026-11-20'"
    ) == [(2027, 3, 8)]


def test_mart_complaints_daily(warehouse):
    got = rows(
        warehouse,
        "select event_date, channel, category, complaints, not_complaints, round(avg_confidence, 6), late_complaints, "
        "fiscal_year, fiscal_quarter, fiscal_month "
        "from main.mart_complaints_daily order by all",
    )
    fy = (2027, 3, 8)
    assert got == [
        (DAY1, "call_center", "bad_customer_service", 1, 0, 0.6, 0, *fy),
        (DAY1, "call_center", "device_equipment", 1, 0, 0.55, 0, *fy),
        (DAY1, "call_center", "incorrect_billing", 1, 0, 0.65, 0, *fy),
        (DAY1, "call_center", "poor_network", 1, 0, 0.75, 0, *fy),
        (DAY1, "sms", "incorrect_billing", 1, 0, 0.8, 0, *fy),
        (DAY1, "sms", "poor_network", 1, 0, 0.85, 1, *fy),  # c09, made on day 1, received on day 2
        (DAY1, "social_media", "poor_network", 2, 0, 0.8, 0, *fy),
        (DAY1, "web_forms", "other", 0, 1, 0.4, 0, *fy),  # c08: not a complaint, kept and flagged
        (DAY2, "call_center", "bad_customer_service", 1, 0, 0.7, 0, *fy),
        (DAY2, "call_center", "incorrect_billing", 1, 0, 0.9, 0, *fy),
        (DAY2, "call_center", "poor_network", 1, 0, 0.8, 0, *fy),
        (DAY2, "social_media", "poor_network", 1, 0, 0.6, 0, *fy),
    ]


def test_mart_call_center_resolution(warehouse):
    got = rows(
        warehouse,
        "select event_date, calls, resolved, escalated, open, callback, resolution_rate, "
        "median_wait_seconds, p90_wait_seconds, avg_handle_seconds, median_hours_to_resolution "
        "from main.mart_call_center_resolution order by event_date",
    )
    assert [r[:6] for r in got] == [(DAY1, 4, 2, 1, 1, 0), (DAY2, 3, 2, 0, 0, 1)]
    # Day 1 waits 30, 60, 90, 120: median 75, p90 = 90 + 0.7 * 30. Handles average 1200 / 4.
    # Resolution 6 h and 2 h. Day 2 waits 40, 100, 200: median 100, p90 = 100 + 0.8 * 100;
    # handles 750 / 3; resolution 3.5 h and 1 h.
    assert [r[6:] for r in got] == [
        pytest.approx((0.5, 75.0, 111.0, 300.0, 4.0)),
        pytest.approx((2 / 3, 100.0, 180.0, 250.0, 2.25)),
    ]


def test_mart_quarantine_daily(warehouse):
    assert rows(
        warehouse, "select received_date, channel, rule, records from main.mart_quarantine_daily order by all"
    ) == [
        (DAY1, "call_center", "missing_text", 1),
        (DAY1, "sms", "unparseable_timestamp", 2),
        (DAY2, "sms", "unparseable_timestamp", 1),
    ]
