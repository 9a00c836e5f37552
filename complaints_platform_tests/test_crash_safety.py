"""Crash-safe, idempotent materialization: a run SIGKILLed mid-write leaves no partial partition
visible to readers, its rerun gives exactly the rows of a clean run, and two runs of one partition
racing (a sensor and a backfill) cannot double rows.

Runs are the real `dagster asset materialize` command in child processes on one instance; the
kill is SIGKILL of the run's whole process group the moment a write is in flight (its temporary
file is on disk). The clean run is the same selection materialized in-process in another data
directory with the same secrets; "the same rows" is compared as content hashes per file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from complaints_platform import runtime
from complaints_platform.definitions import build_definitions
from complaints_platform.lib import lake
from complaints_platform.lib.settings import Settings
from complaints_platform.lib.silver import CLEANED_LAYER
from complaints_platform.lib.social_media import window_dir
from complaints_platform.simulate.generator import generate_day

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 18)
D = f"{DAY:%Y-%m-%d}"
# (selection, partition range): the sources, then the day's cleaned layer.
RUNS = [
    (["customers"], (D, D)),
    (["social_media_raw"], (f"{D}-00:00", f"{D}-23:45")),
    (["call_center_raw"], (f"{D}-00:00", f"{D}-12:00")),
    (list(CLEANED_LAYER), (D, D)),
]


def _land(data_dir: Path) -> None:
    demo = generate_day(DAY, seed=11, complaints_per_channel={"social_media": 1500, "call_center": 1500})
    lake.write_bytes_atomic(demo.crm_csv(), data_dir / "landing" / "crm" / demo.crm_file_name, private=True)
    for name, payload in demo.call_center_files.items():
        lake.write_bytes_atomic(payload, data_dir / "landing" / "call_center" / name, private=True)
    delivered = [e for e in demo.social_events if e.expect_status == 202]
    start = datetime.combine(DAY, datetime.min.time(), UTC)
    for i, event in enumerate(delivered):  # received through the day, as the receiver lands them
        received = start + timedelta(seconds=i * 86_399 // len(delivered))
        envelope = {"webhook_id": event.webhook_id, "webhook_timestamp": int(received.timestamp()),
                    "received_at": received.isoformat().replace("+00:00", "Z"), "body": event.body}
        target = window_dir(data_dir / "landing", received) / f"{event.webhook_id}.json"
        lake.write_bytes_atomic(json.dumps(envelope).encode(), target, private=True)


def _visible_files(data_dir: Path) -> list[Path]:
    """What a reader globbing the lake sees: Parquet files not hidden (in-flight writes are)."""
    return sorted(
        p for layer in ("bronze", "silver") for p in (data_dir / layer).rglob("*.parquet")
        if not any(part.startswith(".") for part in p.relative_to(data_dir).parts)
    )


def _content_hashes(data_dir: Path) -> dict[str, str]:
    """sha256 of each visible file's rows (columns and rows in a canonical order)."""
    hashes = {}
    for path in _visible_files(data_dir):
        frame = pl.read_parquet(path)
        frame = frame.select(sorted(frame.columns))
        rows = sorted(repr(row) for row in frame.rows())
        hashes[path.relative_to(data_dir).as_posix()] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return hashes


def _command(selection: list[str], partitions: tuple[str, str]) -> list[str]:
    first, last = partitions
    chosen = ["--partition", first] if first == last else ["--partition-range", f"{first}...{last}"]
    return [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "complaints_platform.definitions",
            "--select", ",".join(selection), *chosen]


def _start(data_dir: Path, selection: list[str], partitions: tuple[str, str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "COMPLAINTS_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(runtime.dagster_home(data_dir))}
    with open(log, "ab") as out:
        return subprocess.Popen(_command(selection, partitions), env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=runtime.REPO_ROOT, start_new_session=True)


def _run(data_dir: Path, selection: list[str], partitions: tuple[str, str], log: Path) -> None:
    proc = _start(data_dir, selection, partitions, log)
    assert proc.wait(timeout=600) == 0, f"{selection} failed; see {log}"


def _kill_mid_write(data_dir: Path, selection, partitions, watch: Path, nth_write: int, log: Path) -> bool:
    """Start the run, SIGKILL its process group once ``nth_write`` temporary files have been seen
    in ``watch``; True if it was killed while writing (False: it finished first)."""
    proc = _start(data_dir, selection, partitions, log)
    seen: set[str] = set()
    while proc.poll() is None:
        try:
            seen |= {n for n in os.listdir(watch) if n.endswith(".tmp")}
        except FileNotFoundError:
            pass
        if len(seen) >= nth_write:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.0005)
    return False


def _assert_readers_see_only_whole_files(data_dir: Path) -> None:
    for path in _visible_files(data_dir):
        pl.read_parquet(path)  # a torn file would not parse (footer missing)


@pytest.fixture
def two_lakes(tmp_path: Path, data_dir: Path) -> tuple[Path, Path]:
    """The same landed day in two data dirs with the same secrets: ``reference`` and ``crashed``."""
    _land(data_dir)
    crashed = tmp_path / "crashed"
    shutil.copytree(data_dir, crashed, symlinks=True)
    shutil.rmtree(runtime.dagster_home(crashed))
    runtime.dagster_home(crashed).mkdir()
    shutil.copy(runtime.dagster_home(data_dir) / "dagster.yaml", runtime.dagster_home(crashed))
    return data_dir, crashed


def test_sigkill_mid_write_leaves_whole_partitions_and_the_rerun_matches_a_clean_run(two_lakes):
    reference, crashed = two_lakes
    defs = build_definitions(Settings.from_env())
    instance = dg.DagsterInstance.get()
    for selection, partitions in RUNS:
        result = runtime.run_assets(defs, instance, selection, partitions)
        assert result.success, selection
    clean = _content_hashes(reference)
    assert any(k.startswith("silver/complaints_cleaned/") for k in clean)

    logs = crashed / "logs"
    logs.mkdir()
    bronze_day = crashed / "bronze" / "social_media_raw" / f"date={D}"
    silver_day = crashed / "silver" / "complaints_cleaned" / f"date={D}"
    _run(crashed, *RUNS[0], logs / "customers.log")
    # Killed in the middle of writing the day's quarter-hours, twice, at different files.
    for nth in (7, 53):
        assert _kill_mid_write(crashed, *RUNS[1], bronze_day, nth, logs / "bronze.log"), "run ended before the kill"
        _assert_readers_see_only_whole_files(crashed)
        assert len(list(bronze_day.glob("*.parquet"))) < 96  # it really was cut short
    _run(crashed, *RUNS[1], logs / "bronze.log")
    _run(crashed, *RUNS[2], logs / "call_center.log")
    # Killed while the cleaned layer's first file is being written: nothing of the day is visible.
    assert _kill_mid_write(crashed, *RUNS[3], silver_day, 1, logs / "cleaned.log"), "run ended before the kill"
    _assert_readers_see_only_whole_files(crashed)
    assert not list(silver_day.glob("*.parquet"))
    _run(crashed, *RUNS[3], logs / "cleaned.log")

    assert _content_hashes(crashed) == clean
    left = list(crashed.rglob(".*.tmp"))
    print(f"\ncrash test: {len(clean)} files identical to the clean run; {len(left)} temporary files left by the kills")


def test_two_runs_of_the_same_partition_racing_cannot_double_rows(two_lakes):
    reference, racing = two_lakes
    defs = build_definitions(Settings.from_env())
    instance = dg.DagsterInstance.get()
    for selection, partitions in RUNS:
        assert runtime.run_assets(defs, instance, selection, partitions).success
    clean = _content_hashes(reference)

    logs = racing / "logs"
    logs.mkdir()
    _run(racing, *RUNS[0], logs / "customers.log")
    for selection, partitions in RUNS[1:]:
        # A sensor's run and a backfill's run of the same partitions, at the same time.
        procs = [_start(racing, selection, partitions, logs / f"race-{i}.log") for i in range(2)]
        assert [p.wait(timeout=600) for p in procs] == [0, 0], selection
    assert _content_hashes(racing) == clean
    cleaned = pl.read_parquet(racing / "silver" / "complaints_cleaned" / f"date={D}" / "part.parquet")
    assert cleaned["complaint_id"].is_unique().all()
