"""Webhook receiver throughput and latency on loopback.

The real receiver (`complaints webhook`, one uvicorn worker, each group commit fsync'd before its 202s)
in one process; the sender (`complaints_platform.simulate.webhook_sender`, httpx, signed events)
in another. For each concurrency level: events per second acknowledged and p50/p99 latency of the
acknowledged requests, median over repeats. Results in benchmarks/results/webhook-<when>.json.

    .venv/bin/python benchmarks/webhook_benchmark.py [--events 5000] [--concurrency 1 8 32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from complaints_platform.lib.social_media import parse_social_media_landing
from complaints_platform.simulate.servers import cli_server, free_port

RESULTS = Path(__file__).parent / "results"


def one_run(events: int, concurrency: int, secret: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as tmp:
        data_dir = Path(tmp)
        os.environ["COMPLAINTS_DATA_DIR"] = str(data_dir)
        with cli_server(["webhook"], free_port(), data_dir / "webhook.log") as url:
            report = data_dir / "report.json"
            subprocess.run(
                [sys.executable, "-m", "complaints_platform.simulate.webhook_sender", "--url", url,
                 "--count", str(events), "--concurrency", str(concurrency), "--report", str(report)],
                check=True, stdout=subprocess.DEVNULL,
            )
            result = json.loads(report.read_text())
        landing = data_dir / "landing"
        files = sorted((landing / "social_media").glob("date=*/*/*.json*"))
        landed = parse_social_media_landing(files, landing)["record_id"].n_unique()
    result["landed"], result["files"] = landed, len(files)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    os.environ["COMPLAINTS_WEBHOOK_SECRET"] = secret

    rows = []
    for concurrency in args.concurrency:
        runs = [one_run(args.events, concurrency, secret) for _ in range(args.repeat)]
        assert all(r["acknowledged"] == r["landed"] == args.events for r in runs), runs
        rows.append({
            "concurrency": concurrency,
            "events": args.events,
            "events_per_second": statistics.median(r["events_per_second"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "runs": runs,
        })
        print(f"concurrency {concurrency:>3}: {rows[-1]['events_per_second']:>7.0f} events/s  "
              f"p50 {rows[-1]['p50_ms']:6.1f} ms  p99 {rows[-1]['p99_ms']:6.1f} ms", flush=True)

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"webhook-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "repeat": args.repeat,
        "results": rows,
    }, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
