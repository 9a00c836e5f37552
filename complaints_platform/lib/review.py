"""People's decisions on near-duplicate pairs: where they are kept and how they are read back.

The review queue (silver/duplicate_review_queue, and ``review_duplicate_pairs`` in the analysts'
DuckDB file) lists pairs the platform is unsure of. A person accepts a pair (the later complaint is
merged into the earlier) or rejects it (they stay two complaints) with ``complaints review accept|
reject PAIR_ID``. Each decision is one JSON line appended, under a lock and fsync'd, to
``<data>/review/duplicate_decisions.jsonl``: an append-only log, so who decided what and when is
never lost, and the latest decision on a pair wins. The cleaned layer reads the log at every
materialization, and the review sensor re-runs the day of each newly decided pair.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from complaints_platform.lib import lake
from complaints_platform.lib.near_duplicates import ACCEPT, DECISIONS_SCHEMA, REJECT, REVIEW_SCHEMA
from complaints_platform.lib.silver import REVIEW_QUEUE_ASSET
DECISION_LOG_SCHEMA: dict[str, pl.DataType] = {
    **DECISIONS_SCHEMA,
    "received_date": pl.String(),  # the day (partition) the decision changes
    "decided_at": pl.String(),
    "decided_by": pl.String(),
    "note": pl.String(),
}


class ReviewError(ValueError):
    """A decision that cannot be recorded (unknown pair, bad decision)."""


def decisions_path(root: Path) -> Path:
    return Path(root) / "review" / "duplicate_decisions.jsonl"


def queued_pairs(root: Path) -> pl.DataFrame:
    """Every pair in the review queue, all days (REVIEW_SCHEMA)."""
    files = sorted((Path(root) / "silver" / REVIEW_QUEUE_ASSET).glob("date=*/part.parquet"))
    return lake.read_parquet_files(files, REVIEW_SCHEMA)


def record_decision(root: Path, pair_id: str, decision: str, decided_by: str, note: str = "") -> dict:
    """Append a person's decision on a queued pair; returns the line written."""
    if decision not in (ACCEPT, REJECT):
        raise ReviewError(f"decision must be {ACCEPT!r} or {REJECT!r}, not {decision!r}")
    queued = queued_pairs(root).filter(pl.col("pair_id") == pair_id)
    # A pair decided before has left the queue; its decision can still be changed.
    decided = decision_log(root).filter(pl.col("pair_id") == pair_id)
    if queued.height:
        row = queued.row(0, named=True)
        row["received_date"] = row["received_date"].isoformat()
    elif decided.height:
        row = decided.row(-1, named=True)
    else:
        raise ReviewError(f"no pair {pair_id!r} in the review queue (see `complaints review list`)")
    line = {
        "pair_id": pair_id,
        "complaint_id": row["complaint_id"],
        "candidate_of": row["candidate_of"],
        "decision": decision,
        "received_date": row["received_date"],
        "decided_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "decided_by": decided_by,
        "note": note,
    }
    path = decisions_path(root)
    lake.make_private_dir(path.parent)
    with open(path, "a", encoding="utf-8") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        try:
            log.write(json.dumps(line) + "\n")
            log.flush()
            os.fsync(log.fileno())
        finally:
            fcntl.flock(log, fcntl.LOCK_UN)
    return line


def decision_log(root: Path, start_line: int = 0) -> pl.DataFrame:
    """The decision log from line ``start_line`` (0-based) on, in order, with each line's number."""
    path = decisions_path(root)
    if not path.exists():
        return pl.DataFrame(schema={"line": pl.Int64, **DECISION_LOG_SCHEMA})
    with open(path, encoding="utf-8") as log:
        fcntl.flock(log, fcntl.LOCK_SH)
        try:
            lines = log.read().splitlines()
        finally:
            fcntl.flock(log, fcntl.LOCK_UN)
    rows = [{"line": n, **json.loads(text)} for n, text in enumerate(lines) if n >= start_line and text.strip()]
    return pl.DataFrame(rows, schema={"line": pl.Int64, **DECISION_LOG_SCHEMA})


def current_decisions(root: Path) -> pl.DataFrame:
    """The latest decision on each pair (DECISIONS_SCHEMA)."""
    return (
        decision_log(root)
        .sort("line")
        .group_by("pair_id", maintain_order=True)
        .last()
        .select(list(DECISIONS_SCHEMA))
    )
