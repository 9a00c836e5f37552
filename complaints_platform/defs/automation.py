"""Sensors and schedules: what starts runs without a person."""


from datetime import timezone

import dagster as dg

from complaints_platform.defs.partitions import daily, every_12_hours, every_15_minutes
from complaints_platform.lib.arrivals import Arrival, plan_runs
from complaints_platform.lib.call_center import new_exports
from complaints_platform.lib.lake import previous_window_start, window_start
from complaints_platform.lib.review import decision_log
from complaints_platform.lib.settings import Settings
from complaints_platform.lib.silver import CLEANED_LAYER
from complaints_platform.lib.social_media import new_landing_files

# A landed file can become visible with an mtime a little older than one already seen
# (lib/social_media.new_landing_files says how).
LOOKBACK_NS = 2 * 60 * 1_000_000_000
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
cleaned_job = dg.define_asset_job(
    "cleaned_layer_refresh",
    selection=list(CLEANED_LAYER),
    partitions_def=daily,
)


@dg.sensor(job=social_media_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def social_media_landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Requests a run of each 15-minute partition that received new webhook files (lib/arrivals.py
    has the cursor rule)."""
    landing = Settings.from_env().data_dir / "landing"
    cursor = int(context.cursor or 0)
    arrivals = [
        Arrival(f"{path.name}@{mtime}", mtime, f"{window:%Y-%m-%d-%H:%M}")
        for path, mtime, window in new_landing_files(landing, cursor, LOOKBACK_NS)
    ]
    return _result(plan_runs(arrivals, cursor, MAX_RUNS_PER_TICK))


@dg.sensor(job=call_center_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def call_center_drop_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Requests a run of the 12-hour partition of each new or re-exported CSV in the drop folder
    (a re-export gets a new mtime, so a new run key)."""
    settings = Settings.from_env()
    cursor = int(context.cursor or 0)
    arrivals = [
        Arrival(f"{path.name}@{mtime}", mtime, f"{window_start(stamp, 12 * 60):%Y-%m-%d-%H:%M}")
        for path, mtime, stamp in new_exports(
            settings.call_center_drop_dir, cursor - LOOKBACK_NS, settings.call_center_filename_pattern
        )
    ]
    return _result(plan_runs(arrivals, cursor, MAX_RUNS_PER_TICK))


@dg.sensor(job=cleaned_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def duplicate_review_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Re-runs the cleaned layer for the day of each newly decided near-duplicate pair (`complaints
    review accept|reject`), so the decision is honoured; automation carries it on to the marts. The
    cursor is the number of decision-log lines already handled."""
    handled = int(context.cursor or 0)
    log = decision_log(Settings.from_env().data_dir, handled)
    if not log.height:
        return dg.SensorResult(run_requests=[], cursor=str(handled))
    last = int(log.get_column("line").max())
    days = sorted(set(log.get_column("received_date").to_list()))
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=day, run_key=f"review-decisions:{last}:{day}") for day in days],
        cursor=str(last + 1),
    )


def _result(plan) -> dg.SensorResult:
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=p, run_key=k) for p, k in sorted(plan.runs.items())],
        cursor=str(plan.cursor),
    )


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

SENSORS = [social_media_landing_sensor, call_center_drop_sensor, duplicate_review_sensor, automation_sensor]
SCHEDULES = [sms_and_web_forms_schedule, call_center_schedule, customers_daily_schedule]
JOBS = [social_media_job, sms_and_web_forms_job, call_center_job, customers_job, cleaned_job]
