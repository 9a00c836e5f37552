"""The social-media webhook receiver: verify a Standard Webhooks request, land it durably, answer.

Contract: README, "Social media: signed webhooks". Checks run in this order and a rejected request
writes nothing: content type (415), body size (413), signature (401), webhook-id (400), UTF-8 and a
JSON object (400).

Storage (group commit, exactly once) is ``complaints_platform.webhook.store``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from math import floor
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError, hmac_data
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from complaints_platform.webhook.store import Delivery, GroupCommitter, remove_interrupted_writes

DEFAULT_MAX_BODY_BYTES = 1_048_576
WEBHOOK_PATH = "/webhooks/social"
# A leading '.' is refused too: in the one-file-per-id index of earlier receivers (still read), it
# would name a hidden file, and '.' or '..' a folder, under _ids/.
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


def create_app(
    landing_root: Path, secret: str, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> Starlette:
    """The receiver as an ASGI app, landing events under ``landing_root``; secret: ``whsec_...``.

    It is the only writer of its landing folder (one worker process), so temporary files found
    there when it starts are what an earlier, killed receiver left: they are removed first. Its
    writer thread starts (and recovers the index) with the app's lifespan, or else with the first
    event, and stores what is queued and stops when the lifespan ends.
    """
    landing_root = Path(landing_root)
    remove_interrupted_writes(landing_root)
    verifier = _RawBodyWebhook(secret)
    committer = GroupCommitter(landing_root)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        committer.start()  # recovers the index before the first delivery
        try:
            yield
        finally:
            await asyncio.to_thread(committer.stop)

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

        delivery = Delivery(webhook_id, int(timestamp), body_text)
        try:
            stored = await asyncio.wrap_future(committer.submit(delivery))
        except (OSError, sqlite3.Error) as exc:  # the disk or the index failed: nothing acknowledged
            return _error(503, f"not stored, retry later: {exc}")
        if not stored:
            return JSONResponse({"status": "duplicate"}, status_code=200)
        return JSONResponse({"status": "accepted"}, status_code=202)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route(WEBHOOK_PATH, receive_social, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def serve(data_dir: Path, secret: str, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the receiver with uvicorn, landing events under ``<data_dir>/landing``."""
    import uvicorn

    app = create_app(Path(data_dir) / "landing", secret)
    uvicorn.run(app, host=host, port=port, workers=1, server_header=False)
