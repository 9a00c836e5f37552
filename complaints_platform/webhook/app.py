"""The social-media webhook receiver: verify a Standard Webhooks request, land it durably, answer.

Contract: README, "Social media: signed webhooks". Checks run in this order and a rejected request
writes nothing: content type (415), body size (413), signature (401), webhook-id (400), UTF-8 and a
JSON object (400).

Exactly once on disk, under any crash: the id's index entry (``landing/social_media/_ids/<id>``,
naming the event's file) is written first, then the event itself is fsync'd and renamed into
``landing/social_media/date=YYYY-MM-DD/HHMM/<webhook-id>.json``, and only then does the 202 go
out. A delivery whose id is indexed and whose file exists is a replay: 200, nothing written. A
delivery whose id is indexed but whose file is missing (the process died between the two writes,
before answering) re-points the index at the current receipt window and stores the event there,
so the sender's retry lands it once, in the window it was finally received in.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from math import floor
from pathlib import Path

import anyio
from standardwebhooks.webhooks import Webhook, WebhookVerificationError, hmac_data
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from complaints_platform.lib.lake import make_private_dir, write_bytes_atomic
from complaints_platform.lib.social_media import channel_dir, ids_dir, receipt_window, window_dir

DEFAULT_MAX_BODY_BYTES = 1_048_576
WEBHOOK_PATH = "/webhooks/social"
# A leading '.' is refused too: it would name a hidden file the landing scanners skip as in flight,
# and '.' or '..' would name a folder, not a file, under _ids/.
WEBHOOK_ID_PATTERN = re.compile(r"^(?!\.)[A-Za-z0-9_.:-]{1,128}$")
TIMESTAMP_PATTERN = re.compile(r"^[0-9]{1,12}$")


class _RawBodyWebhook(Webhook):
    """Standard Webhooks signs the raw body bytes, but ``Webhook.verify`` decodes them as UTF-8
    first and fails with UnicodeDecodeError on anything else. Handing it the bytes as Latin-1 text
    (one character per byte, lossless) and signing those same bytes lets the signature be judged
    before the encoding, so a forged non-UTF-8 body gets 401 and a signed one gets 400."""

    def sign(self, msg_id: str, timestamp: datetime, data: str) -> str:
        timestamp_str = str(floor(timestamp.replace(tzinfo=UTC).timestamp()))
        signed = f"{msg_id}.{timestamp_str}.".encode() + data.encode("latin-1")
        return "v1," + base64.b64encode(hmac_data(self._whsecret, signed)).decode("ascii")


def _error(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "rejected", "error": message}, status_code=status_code)


class _IdLocks:
    """One lock per webhook id held while it is checked and stored, so two concurrent deliveries
    of the same id cannot both write. Locks are dropped once nobody holds or waits for them.
    In-process only: serve() runs a single worker process."""

    def __init__(self) -> None:
        self._locks: dict[str, anyio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, anyio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (``_TooLarge``) as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def _is_json_content_type(value: str | None) -> bool:
    return bool(value) and value.split(";", 1)[0].strip().lower() == "application/json"


def _iso_utc(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _indexed_file(landing_root: Path, index_file: Path) -> Path | None:
    """The event file an index entry names, or None if the entry is missing or unreadable."""
    try:
        relative = index_file.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return landing_root / relative if relative else None


def _store_event(
    landing_root: Path, webhook_id: str, webhook_timestamp: int, body_text: str
) -> str | None:
    """Land one event exactly once; None if it is already landed. Blocking IO.

    Index first, event second: whichever write a crash interrupts, a retry of the same id ends
    with one event file (see the module docstring).
    """
    index_file = ids_dir(landing_root) / webhook_id
    landed = _indexed_file(landing_root, index_file)
    if landed is not None and landed.exists():
        return None
    received_at = datetime.now(UTC)
    target_dir = window_dir(landing_root, receipt_window(received_at))
    # make_private_dir restricts only the folder it is given (mkdir -p leaves parents at the
    # umask), so every level holding raw posts is made owner-only explicitly.
    channel = channel_dir(landing_root)
    for folder in (landing_root, channel, ids_dir(landing_root), target_dir.parent, target_dir):
        make_private_dir(folder)
    target = target_dir / f"{webhook_id}.json"
    relative = target.relative_to(landing_root).as_posix()
    write_bytes_atomic(relative.encode("utf-8"), index_file, private=True)
    envelope = {
        "webhook_id": webhook_id,
        "webhook_timestamp": webhook_timestamp,
        "received_at": _iso_utc(received_at),
        "body": body_text,
    }
    payload = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
    write_bytes_atomic(payload, target, private=True)
    return relative


def remove_interrupted_writes(landing_root: Path, now: datetime | None = None) -> int:
    """Delete the temporary files a killed receiver left (``.<name>.<hex>.tmp``: never acknowledged,
    never read) in the id index and the windows of the last day; how many. Run before serving."""
    now = now or datetime.now(UTC)
    days = {window_dir(landing_root, now - timedelta(days=back)).parent for back in (0, 1)}
    removed = 0
    for folder in [ids_dir(landing_root), *(w for day in days if day.is_dir() for w in day.iterdir())]:
        for leftover in folder.glob(".*.tmp") if folder.is_dir() else ():
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def create_app(
    landing_root: Path, secret: str, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> Starlette:
    """The receiver as an ASGI app, landing events under ``landing_root``; secret: ``whsec_...``.

    It is the only writer of its landing folder (one worker process), so temporary files found
    there when it starts are what an earlier, killed receiver left: they are removed first.
    """
    landing_root = Path(landing_root)
    remove_interrupted_writes(landing_root)
    verifier = _RawBodyWebhook(secret)
    locks = _IdLocks()

    async def receive_social(request: Request) -> JSONResponse:
        if not _is_json_content_type(request.headers.get("content-type")):
            return _error(415, "Content-Type must be application/json")
        try:
            body = await _read_body(request, max_body_bytes)
        except _TooLarge:
            return _error(413, f"body exceeds {max_body_bytes} bytes")

        webhook_id = request.headers.get("webhook-id", "")
        timestamp = request.headers.get("webhook-timestamp", "")
        signature = request.headers.get("webhook-signature", "")
        if not (webhook_id and timestamp and signature):
            return _error(401, "missing webhook-id, webhook-timestamp or webhook-signature")
        if not TIMESTAMP_PATTERN.match(timestamp):
            return _error(401, "webhook-timestamp must be unix seconds")
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": signature,
        }
        try:
            verifier.verify(body.decode("latin-1"), headers, json_parse=False)
        except (WebhookVerificationError, ValueError) as exc:  # ValueError: malformed signature
            return _error(401, f"signature rejected: {exc}" if str(exc) else "signature rejected")

        if not WEBHOOK_ID_PATTERN.match(webhook_id):
            return _error(
                400, "webhook-id must match [A-Za-z0-9_.:-]{1,128} and not start with '.'"
            )
        try:
            body_text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "body is not UTF-8")
        try:
            payload = json.loads(body_text)
        except (ValueError, RecursionError):
            return _error(400, "body is not valid JSON")
        if not isinstance(payload, dict):
            return _error(400, "body must be a JSON object")

        async with locks.hold(webhook_id):
            stored = await run_in_threadpool(
                _store_event, landing_root, webhook_id, int(timestamp), body_text
            )
        if stored is None:
            return JSONResponse({"status": "duplicate"}, status_code=200)
        return JSONResponse({"status": "accepted"}, status_code=202)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route(WEBHOOK_PATH, receive_social, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def serve(data_dir: Path, secret: str, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the receiver with uvicorn, landing events under ``<data_dir>/landing``."""
    import uvicorn

    app = create_app(Path(data_dir) / "landing", secret)
    uvicorn.run(app, host=host, port=port, workers=1, server_header=False)
