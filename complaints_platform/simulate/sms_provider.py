"""A small stand-in for the SMS provider's REST API (README, "SMS: the provider's REST API").

It serves a fixed list of messages the way the provider does: ``GET /v1/messages`` with a Bearer
token, a ``[since, until)`` window on ``received_at``, ``limit`` and an opaque ``cursor``. Messages
are passed through exactly as given, including malformed ones (a missing body, a number where a
string belongs), because the real provider does that too and the platform must cope. Only a
message whose ``received_at`` cannot be read is never served: it has no place in any window.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from bisect import bisect_left
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
DEFAULT_PORT = 8766


def _json_response(payload: Any, status_code: int = 200, headers: dict | None = None) -> Response:
    # json.dumps rather than JSONResponse: the provider passes through whatever it holds, and
    # JSONResponse refuses values (NaN) that a JSONL file may legitimately contain.
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def _error(status_code: int, message: str, headers: dict | None = None) -> Response:
    return _json_response({"error": message}, status_code=status_code, headers=headers)


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 string as an aware UTC datetime (no offset means UTC); None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def encode_cursor(offset: int) -> str:
    raw = json.dumps({"offset": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The offset inside a cursor; ValueError if it is not one this provider issued."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        offset = json.loads(raw)["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise ValueError("cursor is not valid") from exc
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ValueError("cursor is not valid")
    return offset


def _sort_key(received_at: datetime, message: dict) -> tuple[datetime, str]:
    # Ids are compared as text so a malformed item (id missing or a number) still sorts.
    message_id = message.get("id")
    return received_at, "" if message_id is None else str(message_id)


def create_app(messages: list[dict], token: str, max_limit: int = 500) -> Starlette:
    """The provider's API over ``messages``, protected by the Bearer ``token``."""
    servable: list[tuple[tuple[datetime, str], dict]] = []
    unreadable = 0
    for message in messages:
        received_at = (
            parse_timestamp(message.get("received_at")) if isinstance(message, dict) else None
        )
        if received_at is None:
            unreadable += 1
            continue
        servable.append((_sort_key(received_at, message), message))
    servable.sort(key=lambda pair: pair[0])
    keys = [key[0] for key, _ in servable]
    if unreadable:
        log.warning(
            "sms simulator: %d of %d messages have no readable received_at and are never served",
            unreadable,
            len(messages),
        )
    expected_auth = f"Bearer {token}".encode()

    async def list_messages(request: Request) -> Response:
        given_auth = request.headers.get("authorization", "").encode()
        if not token or not hmac.compare_digest(given_auth, expected_auth):
            return _error(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})

        params = request.query_params
        window: dict[str, datetime] = {}
        for name in ("since", "until"):
            if name not in params:
                return _error(400, f"{name} is required (ISO-8601)")
            value = parse_timestamp(params[name])
            if value is None:
                return _error(400, f"{name} is not an ISO-8601 timestamp: {params[name]!r}")
            window[name] = value
        if window["until"] < window["since"]:
            return _error(400, "until is before since")

        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return _error(400, f"limit must be an integer from 1 to {max_limit}")
        if not 1 <= limit <= max_limit:
            return _error(400, f"limit must be an integer from 1 to {max_limit}")

        offset = 0
        if params.get("cursor"):
            try:
                offset = decode_cursor(params["cursor"])
            except ValueError as exc:
                return _error(400, str(exc))

        first = bisect_left(keys, window["since"])
        end = bisect_left(keys, window["until"])
        start = first + offset
        stop = min(start + limit, end)
        page = [message for _, message in servable[start:stop]]
        next_cursor = encode_cursor(offset + limit) if stop < end else None
        return _json_response({"data": page, "next_cursor": next_cursor})

    async def healthz(request: Request) -> Response:
        return _json_response({"status": "ok", "messages": len(servable)})

    return Starlette(
        routes=[
            Route("/v1/messages", list_messages, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def load_messages(path: Path) -> list[dict]:
    """Messages from a JSONL file, one JSON value a line (blank lines skipped), kept as written."""
    messages: list[dict] = []
    with Path(path).open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                messages.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{line_number}: not JSON: {exc.msg}") from exc
    return messages


def serve(
    messages_file: Path, token: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT
) -> None:
    """Run the simulator with uvicorn until interrupted."""
    import uvicorn

    app = create_app(load_messages(messages_file), token)
    uvicorn.run(app, host=host, port=port, log_level="info")
