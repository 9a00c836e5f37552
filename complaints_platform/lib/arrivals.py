"""Which landed files are new, and which partition runs they need: the rule both sensors share.

A sensor's cursor is the largest file modification time (ns) it has handed to a run: small and
monotonic, never the wall clock. Files within a short lookback before the cursor are looked at
again (a file renamed into place can carry an mtime a little older than one already seen); a
partition whose set of files is unchanged gets the same run key, so Dagster launches nothing new.
When more partitions are waiting than one tick may request, the oldest go first and the cursor
stops short of the first file left waiting, so nothing is skipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Arrival:
    name: str  # file name (or another stable identity of the file version)
    mtime_ns: int
    partition: str


@dataclass
class Plan:
    runs: dict[str, str]  # partition key -> run key
    cursor: int


def run_key(partition: str, names: list[str]) -> str:
    digest = hashlib.sha1("\n".join(sorted(names)).encode()).hexdigest()[:16]
    return f"{partition}:{digest}"


def plan_runs(arrivals: list[Arrival], cursor: int, limit: int) -> Plan:
    """Runs for the partitions with arrivals, oldest first, at most ``limit``; the new cursor."""
    by_partition: dict[str, list[Arrival]] = {}
    for arrival in arrivals:
        by_partition.setdefault(arrival.partition, []).append(arrival)
    ordered = sorted(by_partition.items(), key=lambda item: (min(a.mtime_ns for a in item[1]), item[0]))
    chosen, waiting = ordered[:limit], ordered[limit:]
    runs = {partition: run_key(partition, [a.name for a in files]) for partition, files in chosen}
    handed = [a.mtime_ns for _, files in chosen for a in files]
    new_cursor = max([cursor, *handed])
    if waiting:
        first_waiting = min(a.mtime_ns for _, files in waiting for a in files)
        new_cursor = max(cursor, min(new_cursor, first_waiting - 1))
    return Plan(runs=runs, cursor=new_cursor)
