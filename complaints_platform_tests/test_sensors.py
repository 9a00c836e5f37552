"""Sensors: new landing files become run requests for the right partitions, once."""

import json
import os
from datetime import UTC, datetime

import dagster as dg

from complaints_platform.defs.automation import (
    call_center_drop_sensor,
    call_center_schedule,
    sms_and_web_forms_schedule,
    social_media_landing_sensor,
)
from complaints_platform.lib import lake
from complaints_platform.lib.social_media import window_dir


def _land_event(data_dir, webhook_id: str, received: datetime, mtime_ns: int):
    folder = window_dir(data_dir / "landing", received)
    envelope = {"webhook_id": webhook_id, "webhook_timestamp": int(received.timestamp()),
                "received_at": received.isoformat().replace("+00:00", "Z"), "body": "{}"}
    path = lake.write_bytes_atomic(json.dumps(envelope).encode(), folder / f"{webhook_id}.json", private=True)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def _tick(sensor, cursor=None):
    with dg.instance_for_test() as instance:
        result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    return result


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


def test_social_sensor_requests_each_new_partition_once(data_dir):
    # The receiver writes each file at receipt, so its mtime is its receipt time.
    base = _ns(datetime(2026, 11, 21, 14, 40, tzinfo=UTC))
    _land_event(data_dir, "evt-1", datetime(2026, 11, 21, 14, 3, tzinfo=UTC), base)
    _land_event(data_dir, "evt-2", datetime(2026, 11, 21, 14, 9, tzinfo=UTC), base + 1)
    _land_event(data_dir, "evt-3", datetime(2026, 11, 21, 14, 31, tzinfo=UTC), base + 2)

    first = _tick(social_media_landing_sensor)
    assert sorted(r.partition_key for r in first.run_requests) == ["2026-11-21-14:00", "2026-11-21-14:30"]
    assert int(first.cursor) == base + 2

    # The same files again (a repeated tick within the lookback): identical run keys, so Dagster
    # launches nothing new; the cursor does not move backwards.
    again = _tick(social_media_landing_sensor, first.cursor)
    assert {r.run_key for r in again.run_requests} <= {r.run_key for r in first.run_requests}
    assert int(again.cursor) == int(first.cursor)

    # A late file for an old partition gets a new run key for that partition.
    _land_event(data_dir, "evt-4", datetime(2026, 11, 21, 14, 5, tzinfo=UTC), base + 10)
    late = _tick(social_media_landing_sensor, first.cursor)
    new_keys = {r.run_key for r in late.run_requests} - {r.run_key for r in first.run_requests}
    assert [k.split(":")[0] + ":" + k.split(":")[1] for k in new_keys] == ["2026-11-21-14:00"]
    assert int(late.cursor) == base + 10


def test_social_sensor_requests_a_partition_again_when_its_segment_grows(data_dir):
    """The receiver appends to one segment per window: the same file, grown, is new work."""
    received = datetime(2026, 11, 21, 14, 3, tzinfo=UTC)
    segment = window_dir(data_dir / "landing", received) / "140300000000-0123456789ab.jsonl"
    segment.parent.mkdir(parents=True)
    base = _ns(datetime(2026, 11, 21, 14, 4, tzinfo=UTC))
    segment.write_bytes(b'{"webhook_id": "a"}\n')
    os.utime(segment, ns=(base, base))
    first = _tick(social_media_landing_sensor)
    assert [r.partition_key for r in first.run_requests] == ["2026-11-21-14:00"]

    with open(segment, "ab") as handle:
        handle.write(b'{"webhook_id": "b"}\n')
    os.utime(segment, ns=(base + 5, base + 5))
    grown = _tick(social_media_landing_sensor, first.cursor)
    assert [r.partition_key for r in grown.run_requests] == ["2026-11-21-14:00"]
    assert grown.run_requests[0].run_key != first.run_requests[0].run_key
    assert int(grown.cursor) == base + 5


def test_social_sensor_ignores_files_older_than_the_lookback(data_dir):
    base = _ns(datetime(2026, 11, 21, 14, 3, tzinfo=UTC))
    _land_event(data_dir, "old", datetime(2026, 11, 21, 14, 3, tzinfo=UTC), base)
    cursor = str(base + 10 * 60 * 1_000_000_000)  # ten minutes later
    result = _tick(social_media_landing_sensor, cursor)
    assert result.run_requests == []
    assert result.cursor == cursor


def test_call_center_sensor_maps_exports_to_12_hour_partitions(data_dir):
    drop = data_dir / "landing" / "call_center"
    for name in ("calls_20261121T0000.csv", "calls_20261121T1200.csv", "notes.txt", ".partial.csv"):
        lake.write_bytes_atomic(b"call_id,call_started_at,notes\n", drop / name, private=True)
    first = _tick(call_center_drop_sensor)
    assert sorted(r.partition_key for r in first.run_requests) == ["2026-11-21-00:00", "2026-11-21-12:00"]
    # Re-exported file (new mtime) -> a new run for its partition only.
    path = drop / "calls_20261121T1200.csv"
    os.utime(path, ns=(int(first.cursor) + 5_000_000_000,) * 2)
    second = _tick(call_center_drop_sensor, first.cursor)
    fresh = {r.run_key for r in second.run_requests} - {r.run_key for r in first.run_requests}
    assert {k.split(":")[0] + ":" + k.split(":")[1] for k in fresh} == {"2026-11-21-12:00"}


def test_schedules_run_the_window_that_just_closed():
    with dg.instance_for_test() as instance:
        ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2026, 11, 21, 14, 2, tzinfo=UTC))
        assert sms_and_web_forms_schedule(ctx).partition_key == "2026-11-21-13:45"
        ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2026, 11, 21, 12, 10, tzinfo=UTC))
        assert call_center_schedule(ctx).partition_key == "2026-11-21-00:00"


def test_queued_runs_of_one_partition_launch_one_at_a_time(data_dir):
    """A segment grows while its window's first run is still going: the sensor's second run of
    that window waits in the queue (the instance's limit, applied as the daemon applies it), so it
    writes after the first and its fuller file stays; other windows are not held up."""
    from dagster._utils.tags import TagConcurrencyLimitsCounter

    limits = dg.DagsterInstance.get().get_concurrency_config().run_queue_config.tag_concurrency_limits

    def run(partition: str) -> dg.DagsterRun:
        return dg.DagsterRun(job_name="social_media_ingest", tags={"dagster/partition": partition})

    in_progress = run("2026-11-21-14:00")
    counter = TagConcurrencyLimitsCounter(limits, [in_progress])
    assert counter.is_blocked(run("2026-11-21-14:00"))
    assert not counter.is_blocked(run("2026-11-21-14:15"))
    assert not TagConcurrencyLimitsCounter(limits, []).is_blocked(run("2026-11-21-14:00"))
