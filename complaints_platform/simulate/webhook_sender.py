"""A social-media provider's delivery side: signed webhooks sent concurrently, retried until answered.

Used by the receiver's fault test and its benchmark, from a process of its own. It behaves as
Standard Webhooks senders do: each event has a fixed ``webhook-id``; every attempt is signed
afresh (the timestamp must be within the receiver's tolerance); a connection error, a timeout or a
5xx is retried with backoff until the receiver answers 2xx or the sender's deadline passes; a 4xx
is final. Each acknowledged event is appended to a JSONL file with its status and latency.

    python -m complaints_platform.simulate.webhook_sender --url http://127.0.0.1:8765 \\
        --count 20000 --concurrency 32 --acks acks.jsonl   # secret: COMPLAINTS_WEBHOOK_SECRET
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook

WEBHOOK_PATH = "/webhooks/social"
TEXTS = (
    "@TelcoCare no signal in {town} since this morning, calls keep dropping",
    "@TelcoCare charged twice on my bill this month, account {n}, sort it out",
    "@TelcoCare waited 50 minutes on hold and got cut off. Useless service",
    "@TelcoCare my router keeps rebooting every hour, third one this year",
    "@TelcoCare 4G down again in {town}, can't even load a page",
)
TOWNS = ("Leeds", "Bristol", "Cardiff", "Glasgow", "Norwich", "York", "Derby")


def event_body(index: int, run_id: str) -> str:
    """The JSON body of the ``index``-th synthetic post (deterministic per index)."""
    rng = random.Random(index)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    text = rng.choice(TEXTS).format(town=rng.choice(TOWNS), n=rng.randrange(10**7, 10**8))
    return json.dumps(
        {
            "type": "social.post.created",
            "timestamp": now,
            "data": {
                "platform": "twitter",
                "post_id": f"{run_id}-{index}",
                "author": {"handle": f"@user{index % 5000}", "display_name": f"User {index % 5000}"},
                "text": text,
                "created_at": now,
                "in_reply_to": None,
                "lang": "en",
            },
        }
    )


def webhook_id(index: int, run_id: str) -> str:
    return f"msg_{run_id}_{index:07d}"


@dataclass
class SendReport:
    """What the sender saw: events, attempts, answers by status, latency of acknowledged requests."""

    events: int = 0
    acknowledged: int = 0
    attempts: int = 0
    transport_errors: int = 0
    given_up: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict:
        data = asdict(self)
        data.pop("latencies_ms")
        data["events_per_second"] = round(self.acknowledged / self.seconds, 1) if self.seconds else None
        data["p50_ms"] = self.percentile(0.50)
        data["p99_ms"] = self.percentile(0.99)
        return data


async def send_events(
    url: str,
    secret: str,
    count: int,
    concurrency: int = 32,
    run_id: str = "run",
    acks_path: Path | None = None,
    deadline_seconds: float = 600.0,
    timeout_seconds: float = 10.0,
) -> SendReport:
    """Deliver ``count`` events to the receiver at ``url``, each retried until acknowledged."""
    signer = Webhook(secret)
    report = SendReport(events=count)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)
    started = time.monotonic()
    deadline = started + deadline_seconds
    acks = acks_path.open("a", encoding="utf-8", buffering=1) if acks_path else None
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def deliver(client: httpx.AsyncClient, index: int) -> None:
        event_id, body = webhook_id(index, run_id), event_body(index, run_id)
        backoff = 0.05
        while time.monotonic() < deadline:
            now = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "webhook-id": event_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signer.sign(event_id, now, body),
            }
            report.attempts += 1
            sent_at = time.perf_counter()
            try:
                response = await client.post(url + WEBHOOK_PATH, content=body, headers=headers)
            except httpx.TransportError:
                report.transport_errors += 1
            else:
                status = str(response.status_code)
                report.statuses[status] = report.statuses.get(status, 0) + 1
                if response.is_success:
                    report.acknowledged += 1
                    report.latencies_ms.append((time.perf_counter() - sent_at) * 1000)
                    if acks:
                        acks.write(json.dumps({"webhook_id": event_id, "status": response.status_code}) + "\n")
                    return
                if response.status_code < 500:
                    report.given_up += 1  # a 4xx is final: the provider drops the event
                    return
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 1.0)
        report.given_up += 1

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await deliver(client, index)

    try:
        async with httpx.AsyncClient(timeout=timeout_seconds, limits=limits) as client:
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    finally:
        if acks:
            acks.close()
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--run-id", default="run")
    parser.add_argument("--acks", type=Path)
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds before giving up")
    parser.add_argument("--report", type=Path, help="write the summary JSON here")
    args = parser.parse_args(argv)
    secret = os.environ.get("COMPLAINTS_WEBHOOK_SECRET")
    if not secret:
        print("COMPLAINTS_WEBHOOK_SECRET is not set", file=sys.stderr)
        return 2
    report = asyncio.run(
        send_events(args.url, secret, args.count, args.concurrency, args.run_id, args.acks, args.deadline)
    )
    summary = json.dumps(report.summary())
    if args.report:
        args.report.write_text(summary)
    print(summary, flush=True)
    return 0 if report.acknowledged == report.events else 1


if __name__ == "__main__":
    sys.exit(main())
