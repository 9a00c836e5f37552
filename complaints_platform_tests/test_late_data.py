"""Late data: social posts delivered days after they were made land in the partition of their
receipt, and automation alone brings the marts of the day they were made up to date.

The edges are real: the webhook receiver (a child process) over HTTP, the landing sensor's own
evaluation, declarative automation's own evaluation (what the daemon runs each tick), the runs it
requests executed in order, and the real dbt build. Only the daemon's loop is stood in for.
"""

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import duckdb
import httpx
import polars as pl
import pytest
from standardwebhooks.webhooks import Webhook

from complaints_platform.definitions import build_definitions
from complaints_platform.defs.automation import social_media_landing_sensor
from complaints_platform.lib import lake
from complaints_platform.lib.settings import ENV_FILE_NAME, Settings, read_env_file
from complaints_platform.lib.silver import CLEANED_LAYER
from complaints_platform.lib.social_media import window_dir
from complaints_platform.runtime import run_assets, warehouse_keys
from complaints_platform.simulate.servers import cli_server, free_port

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).date()
EVENT_DAY = TODAY - timedelta(days=3)  # outside automation's 2-day look-back: only receipt counts
CRM = "account_number,full_name,email,phone,social_handle,plan,region,signup_date\nAC10000001,Ana Ruiz,ana@example.com,07700900111,@ana_r,Basic,North,2021-03-04\n"
ON_TIME = [
    ("on-1", "@TelcoCare no signal at all in Leeds since this morning", 9),
    ("on-2", "@TelcoCare charged twice on my bill this month, want a refund", 10),
]
LATE = [
    ("late-1", "@TelcoCare no 4G signal in the city centre for hours now", 14),
    ("late-2", "@TelcoCare mobile data keeps dropping every few minutes", 15),
    ("late-3", "@TelcoCare waited on hold 50 minutes and nobody answered", 16),
]


def _event(post_id: str, text: str, hour: int) -> str:
    made = datetime.combine(EVENT_DAY, datetime.min.time(), UTC).replace(hour=hour)
    return json.dumps({"type": "social.post.created", "data": {
        "platform": "twitter", "post_id": post_id, "author": {"handle": f"@user_{post_id}", "display_name": "A User"},
        "text": text, "created_at": made.isoformat(), "in_reply_to": None, "lang": "en"}})


def _land_on_time(data_dir) -> None:
    """Posts that reached the receiver on the day they were made (written as the receiver does)."""
    received = datetime.combine(EVENT_DAY, datetime.min.time(), UTC).replace(hour=18)
    for post_id, text, hour in ON_TIME:
        envelope = {"webhook_id": f"evt-{post_id}", "webhook_timestamp": int(received.timestamp()),
                    "received_at": received.isoformat().replace("+00:00", "Z"), "body": _event(post_id, text, hour)}
        target = window_dir(data_dir / "landing", received) / f"evt-{post_id}.json"
        lake.write_bytes_atomic(json.dumps(envelope).encode(), target, private=True)


def _send_late(url: str, secret: str) -> list[int]:
    signer = Webhook(secret)
    statuses = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for post_id, text, hour in LATE:
            body, now = _event(post_id, text, hour), datetime.now(UTC)
            headers = {"content-type": "application/json", "webhook-id": f"evt-{post_id}",
                       "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signer.sign(f"evt-{post_id}", now, body)}
            statuses.append(client.post("/webhooks/social", content=body.encode(), headers=headers).status_code)
    return statuses


def _run_or_fail(defs, instance, selection, partition=None) -> None:
    result = run_assets(defs, instance, selection, (partition, partition) if partition else None)
    failures = [e.message for e in result.all_events if e.is_failure]
    assert result.success, (selection, partition, failures)


def _run_automation_until_quiet(defs, instance, cursor) -> tuple[dict[str, set], object]:
    """Evaluate automation as the daemon's sensor does and run what it requests, tick after tick,
    until it requests nothing; return every asset requested (name -> partition keys)."""
    requested: dict[str, set] = defaultdict(set)
    for _ in range(10):
        now = datetime.now(UTC)
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=now, cursor=cursor)
        cursor = result.cursor
        by_partition: dict[str | None, list[str]] = defaultdict(list)
        for asset in result.results:
            if not asset.true_subset.size:
                continue
            name = asset.key.to_user_string()
            keys = asset.true_subset.expensively_compute_partition_keys() if asset.true_subset.is_partitioned else [None]
            for key in keys:
                by_partition[key].append(name)
                requested[name].add(key)
        if not by_partition:
            return dict(requested), cursor
        for key in sorted(k for k in by_partition if k is not None):
            _run_or_fail(defs, instance, by_partition[key], key)
        if None in by_partition:
            _run_or_fail(defs, instance, by_partition[None])
    raise AssertionError(f"automation still requesting after 10 ticks: {dict(requested)}")


def _day_row(con, day: date) -> dict[str, int]:
    rows = con.execute(
        "select channel, sum(complaints), sum(late_complaints) from mart_complaints_daily where event_date = ? group by 1", [day]
    ).fetchall()
    return {channel: (int(complaints), int(late)) for channel, complaints, late in rows}


def test_late_posts_update_the_marts_of_the_day_they_were_made(data_dir):
    lake.write_bytes_atomic(CRM.encode(), data_dir / "landing" / "crm" / f"customers_{EVENT_DAY:%Y-%m-%d}.csv", private=True)
    _land_on_time(data_dir)
    defs = build_definitions(Settings.from_env())
    instance = dg.DagsterInstance.get()
    day = f"{EVENT_DAY:%Y-%m-%d}"

    # The day as it was first reported: two complaints received on the day they were made.
    _run_or_fail(defs, instance, ["fiscal_calendar", "category_corrections", "category_model"])
    _run_or_fail(defs, instance, ["customers"], day)
    _run_or_fail(defs, instance, ["social_media_raw"], f"{day}-18:00")
    _run_or_fail(defs, instance, [*CLEANED_LAYER, "complaints_categorised"], day)
    _run_or_fail(defs, instance, [*warehouse_keys(defs), "analytics_duckdb"])
    with duckdb.connect(str(data_dir / "analytics.duckdb"), read_only=True) as con:
        assert _day_row(con, EVENT_DAY) == {"social_media": (2, 0)}
    cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=datetime.now(UTC)).cursor
    # The landing sensor has been running all along: it has seen the day's files.
    seen = social_media_landing_sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert [r.partition_key for r in seen.run_requests] == [f"{day}-18:00"]

    # Three days later the provider delivers three more posts made that day.
    secret = read_env_file(data_dir / ENV_FILE_NAME)["COMPLAINTS_WEBHOOK_SECRET"]
    with cli_server(["webhook"], free_port(), data_dir / "logs" / "webhook.log") as url:
        assert _send_late(url, secret) == [202, 202, 202]

    # The landing sensor asks for the quarter-hour(s) of their receipt, not of their making.
    sensed = social_media_landing_sensor(dg.build_sensor_context(instance=instance, definitions=defs, cursor=seen.cursor))
    windows = sorted(r.partition_key for r in sensed.run_requests)
    assert windows and all(w[:10] >= f"{TODAY - timedelta(days=1):%Y-%m-%d}" for w in windows)  # now (or just before midnight)
    for window in windows:
        _run_or_fail(defs, instance, ["social_media_raw"], window)

    # No person asks for anything from here on: automation decides what to rebuild.
    requested, _ = _run_automation_until_quiet(defs, instance, cursor)
    receipt_days = {w[:10] for w in windows}
    assert requested["complaints_cleaned"] == receipt_days  # the receipt day, never the event day
    assert day not in requested["complaints_cleaned"]
    assert {"mart_complaints_daily", "fct_complaints", "analytics_duckdb"} <= set(requested)

    # Both times are kept: the receipt partition holds them; the marts count them on their day.
    late = pl.read_parquet(f"{data_dir}/silver/complaints_cleaned/date={sorted(receipt_days)[-1]}/part.parquet")
    assert sorted(late["source_record_id"].to_list()) == ["evt-late-1", "evt-late-2", "evt-late-3"]
    assert set(late["event_at"].dt.date().to_list()) == {EVENT_DAY}
    assert (late["received_at"].dt.date() > EVENT_DAY).all()
    with duckdb.connect(str(data_dir / "analytics.duckdb"), read_only=True) as con:
        assert _day_row(con, EVENT_DAY) == {"social_media": (5, 3)}
        assert con.execute("select count(*) from mart_complaints_daily where event_date <> ?", [EVENT_DAY]).fetchone()[0] == 0
        late_rows = con.execute(
            "select category, count(*) from fct_complaints where is_late and event_date = ? group by 1", [EVENT_DAY]
        ).fetchall()
    assert sum(n for _, n in late_rows) == 3
