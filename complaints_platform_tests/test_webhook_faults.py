"""2xx means durable: the receiver is SIGKILLed at random moments while a provider delivers tens of
thousands of signed events, and every acknowledged event is in bronze exactly once.

All edges are real: the receiver is the `complaints webhook` command in a child process, the
sender another process (`simulate/webhook_sender.py`) that retries what was not acknowledged, as
providers do, and bronze is the `social_media_raw` asset materialized from what landed. Only the
kill schedule is chosen by the test (random, seeded). COMPLAINTS_FAULT_EVENTS sets the event count.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import httpx
import polars as pl
import pytest

from complaints_platform.definitions import build_definitions
from complaints_platform.lib import lake
from complaints_platform.lib.settings import ENV_FILE_NAME, Settings, read_env_file
from complaints_platform.runtime import run_assets
from complaints_platform.simulate.servers import free_port

pytestmark = pytest.mark.integration

EVENTS = int(os.environ.get("COMPLAINTS_FAULT_EVENTS", "20000"))
MIN_KILLS = 10


def _start_receiver(port: int, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "complaints_platform.cli", "webhook", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"receiver exited with {proc.returncode}"
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("receiver did not come up")


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _bronze_partition_range(landing: Path) -> tuple[str, str]:
    """The first and last 15-minute partitions that received anything."""
    windows = sorted(
        f"{day.name.removeprefix('date=')}-{folder.name[:2]}:{folder.name[2:]}"
        for day in (landing / "social_media").glob("date=*")
        for folder in day.iterdir()
    )
    return windows[0], windows[-1]


def test_every_acknowledged_event_is_in_bronze_exactly_once_under_sigkill(data_dir: Path) -> None:
    secret = read_env_file(data_dir / ENV_FILE_NAME)["COMPLAINTS_WEBHOOK_SECRET"]
    logs = data_dir / "logs"
    logs.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    acks_path = data_dir / "acks.jsonl"
    rng = random.Random(20261202)

    receiver = _start_receiver(port, logs / "webhook.log")
    _wait_healthy(url, receiver)
    sender = subprocess.Popen(
        [sys.executable, "-m", "complaints_platform.simulate.webhook_sender", "--url", url,
         "--count", str(EVENTS), "--concurrency", "32", "--run-id", "kill",
         "--acks", str(acks_path), "--deadline", "900"],
        stdout=subprocess.PIPE,
        stderr=open(logs / "sender.log", "ab"),
        env={**os.environ, "COMPLAINTS_WEBHOOK_SECRET": secret},
    )
    kills = 0
    try:
        while sender.poll() is None:
            # Up for 0.2-2.5 s, then killed at whatever moment that is: mid-request, mid-append,
            # between the append and the index commit, or (every third time) before it finished starting.
            time.sleep(rng.uniform(0.2, 2.5))
            if sender.poll() is not None:
                break
            _kill(receiver)
            kills += 1
            receiver = _start_receiver(port, logs / "webhook.log")
            if kills % 3:
                _wait_healthy(url, receiver)
            else:
                time.sleep(rng.uniform(0.0, 0.5))
        out, _ = sender.communicate(timeout=60)
    finally:
        _kill(receiver)
        if sender.poll() is None:
            sender.kill()
    sent = json.loads(out.decode().strip().splitlines()[-1])

    acknowledged = Counter(json.loads(line)["webhook_id"] for line in acks_path.read_text().splitlines())
    landing = data_dir / "landing"
    first, last = _bronze_partition_range(landing)
    defs = build_definitions(Settings.from_env())
    result = run_assets(defs, dg.DagsterInstance.get(), ["social_media_raw"], (first, last))
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    bronze = pl.concat(
        [pl.read_parquet(p) for p in sorted((data_dir / "bronze" / "social_media_raw").rglob("*.parquet"))]
    )
    found = Counter(bronze["record_id"].to_list())
    duplicates = sum(n - 1 for n in found.values() if n > 1)
    lost = len(set(acknowledged) - set(found))
    orphans = len(list(landing.rglob(".*.tmp")))
    print(
        f"\nwebhook kill test: events sent {sent['events']}, attempts {sent['attempts']}, "
        f"receiver SIGKILLed {kills} times, acknowledged {len(acknowledged)}, found in bronze "
        f"{len(found)}, duplicates {duplicates}, lost {lost} "
        f"(transport errors {sent['transport_errors']}, answers {sent['statuses']}, "
        f"temporary files left {orphans})"
    )
    assert kills >= MIN_KILLS, f"only {kills} kills: the run was too short to prove anything"
    assert sent["transport_errors"] > 0, "no delivery was interrupted"
    assert len(acknowledged) == sent["events"] == EVENTS  # the sender got every event through
    assert lost == 0
    assert duplicates == 0
    assert set(found) == set(acknowledged)  # nothing landed that was not sent
    assert bronze["parse_error"].is_null().all()
    assert orphans == 0  # each restart removed what the kill before it left half-written
    assert lake.bronze_files_for_day(data_dir, "social_media_raw", first[:10])
