"""Sensors and schedules: what starts runs without a person."""


import hashlib
from datetime import timedelta, timezone
from pathlib import Path

import dagster as dg

from complaints_platform.defs.partitions import daily, every_12_hours, every_15_minutes
from complaints_platform.lib.call_center import export_timestamp, is_export_file
from complaints_platform.lib.lake import previous_window_start, window_start
from complaints_platform.lib.settings import Settings
from complaints_platform.lib.social_media import new_landing_files

# Files renamed into place can carry an mtime a little older than one already seen.
LOOKBACK = timedelta(minutes=2)
MAX_RUNS_PER_TICK = 50

social_media_job = dg.define_asset_job(
    "social_media_ingest", selection=["social_media_raw"], partitions_def=every_15_minutes
)
sms_and_web_forms_job = dg.define_asset_job(
    "sms_and_web_forms_ingest", selection=["sms_raw", "web_forms_raw"], partitions_def=every_15_minutes
)
call_center_job = dg.define_asset_job(
    "call_center_ingest", selection=["call_center_raw"], partitions_def=every_12_hours
)
customers_job = dg.define_asset_job("customers_refresh", selection=["customers"], partitions_def=daily)


def _run_key(partition: str, names: list[str]) -> str:
    digest = hashlib.sha1("\n".join(sorted(names)).encode()).hexdigest()[:16]
    return f"{partition}:{digest}"


@dg.sensor(job=social_media_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def social_media_landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Requests a run of each 15-minute partition that received new webhook files.

    Cursor: the largest file modification time seen (nanoseconds): small and monotonic. Files
    within a short lookback are looked at again; a partition whose set of new files is unchanged
    has the same run_key, so a repeated tick requests nothing new.
    """
    landing = Settings.from_env().data_dir / "landing"
    cursor = int(context.cursor or 0)
    found = new_landing_files(landing, cursor, int(LOOKBACK.total_seconds() * 1e9))
    by_partition: dict[str, list[str]] = {}
    for path, _mtime, window in found:
        by_partition.setdefault(f"{window:%Y-%m-%d-%H:%M}", []).append(path.name)
    requests = [
        dg.RunRequest(partition_key=partition, run_key=_run_key(partition, names))
        for partition, names in sorted(by_partition.items())[:MAX_RUNS_PER_TICK]
    ]
    new_cursor = max([cursor] + [mtime for _p, mtime, _w in found])
    return dg.SensorResult(run_requests=requests, cursor=str(new_cursor))


@dg.sensor(job=call_center_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def call_center_drop_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Requests a run of the 12-hour partition of each new or changed CSV export in the drop folder.

    Cursor: the largest modification time seen (ns), with the same lookback and run_key rule as the
    social-media sensor; a file re-exported with the same name gets a new mtime and a new run.
    """
    settings = Settings.from_env()
    folder: Path = settings.call_center_drop_dir
    cursor = int(context.cursor or 0)
    floor = cursor - int(LOOKBACK.total_seconds() * 1e9)
    by_partition: dict[str, list[str]] = {}
    newest = cursor
    if folder.exists():
        for path in folder.iterdir():
            if not is_export_file(path):
                continue
            mtime = path.stat().st_mtime_ns
            if mtime <= floor:
                continue
            newest = max(newest, mtime)
            ts = export_timestamp(path, settings.call_center_filename_pattern)
            start = window_start(ts, 12 * 60)
            by_partition.setdefault(f"{start:%Y-%m-%d-%H:%M}", []).append(f"{path.name}@{mtime}")
    requests = [
        dg.RunRequest(partition_key=partition, run_key=_run_key(partition, names))
        for partition, names in sorted(by_partition.items())[:MAX_RUNS_PER_TICK]
    ]
    return dg.SensorResult(run_requests=requests, cursor=str(newest))


def _previous_window_schedule(job, cron: str, minutes: int, name: str) -> dg.ScheduleDefinition:
    """A schedule that runs the window which just closed (a few minutes after its end)."""

    @dg.schedule(job=job, cron_schedule=cron, name=name, default_status=dg.DefaultScheduleStatus.RUNNING)
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        start = previous_window_start(context.scheduled_execution_time, minutes)
        key = f"{start:%Y-%m-%d-%H:%M}"
        return dg.RunRequest(partition_key=key, run_key=f"{name}:{key}")

    return _schedule


sms_and_web_forms_schedule = _previous_window_schedule(
    sms_and_web_forms_job, "2,17,32,47 * * * *", 15, "sms_and_web_forms_every_15_minutes"
)
call_center_schedule = _previous_window_schedule(call_center_job, "10 0,12 * * *", 12 * 60, "call_center_every_12_hours")


@dg.schedule(job=customers_job, cron_schedule="30 1 * * *", default_status=dg.DefaultScheduleStatus.RUNNING)
def customers_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Refresh today's customers partition from the newest CRM snapshot."""
    key = context.scheduled_execution_time.astimezone(timezone.utc).strftime("%Y-%m-%d")
    return dg.RunRequest(partition_key=key, run_key=f"customers:{key}")


# Declarative automation (eager downstream assets) is evaluated by this sensor, on by default.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)

SENSORS = [social_media_landing_sensor, call_center_drop_sensor, automation_sensor]
SCHEDULES = [sms_and_web_forms_schedule, call_center_schedule, customers_daily_schedule]
JOBS = [social_media_job, sms_and_web_forms_job, call_center_job, customers_job]
