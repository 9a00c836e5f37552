"""Partitions by cadence. end_offset=1 makes the window in progress a partition too, so streamed
data is visible before its window closes (re-materializing it later replaces it whole)."""

import dagster as dg

START = "2026-01-01"

every_15_minutes = dg.TimeWindowPartitionsDefinition(
    cron_schedule="*/15 * * * *", start=f"{START}-00:00", fmt="%Y-%m-%d-%H:%M", end_offset=1
)
every_12_hours = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 */12 * * *", start=f"{START}-00:00", fmt="%Y-%m-%d-%H:%M", end_offset=1
)
daily = dg.DailyPartitionsDefinition(start_date=START, end_offset=1)
