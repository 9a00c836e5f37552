"""A small stand-in for the SMS provider's REST API (README, "SMS: the provider's REST API").

It serves a fixed list of messages the way the provider does: ``GET /v1/messages`` with a Bearer
token, a ``[since, until)`` window on ``received_at``, ``limit`` and an opaque ``cursor``. Messages
are passed through exactly as given, including malformed ones (a missing body, a number where a
string belongs), because the real provider does that too and the platform must cope. Only a
message whose ``received_at`` cannot be read is never served: it has no place in any window.

For testing the client's resilience it can also misbehave on purpose, deterministically: a
``FaultPlan`` says which requests (by page, or by their order) are slowed, answered 5xx or 429
with Retry-After, given a 200 whose body is cut off, or cut off mid-body, and which pages start
with the previous page's last item again. Every request is logged (``app.state.requests``, also
``GET /_simulator/requests``). Without a plan it behaves exactly as the provider does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
from bisect import bisect_left
from dataclasses import dataclass, field, fields
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


FAULT_KINDS = ("delay", "status", "truncate", "drop")


@dataclass(frozen=True)
class Fault:
    """One way to misbehave, and which requests to misbehave on.

    ``kind``: ``delay`` (wait ``seconds``, then answer normally), ``status`` (answer ``status``,
    with a ``Retry-After: <retry_after>`` header when given: seconds or an HTTP-date),
    ``truncate`` (a 200 whose JSON body is cut in half, Content-Length matching the cut body) or
    ``drop`` (a 200 whose headers promise the whole body, then the connection is closed halfway).
    It hits requests for ``page`` (1-based, from the cursor and limit) of the window starting at
    ``since`` (ISO-8601; None: any window), or the ``request``-th request to /v1/messages
    (1-based); the first ``times`` of those (None: every one). No selector: every request.
    """

    kind: str
    page: int | None = None
    request: int | None = None
    times: int | None = 1
    status: int = 503
    retry_after: str | None = None
    seconds: float = 0.0
    since: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, got {self.kind!r}")
        if self.since is not None and parse_timestamp(self.since) is None:
            raise ValueError(f"fault since is not an ISO-8601 timestamp: {self.since!r}")

    def matches(self, request_number: int, page: int, since: datetime) -> bool:
        if self.request is not None and self.request != request_number:
            return False
        if self.since is not None and parse_timestamp(self.since) != since:
            return False
        return self.page is None or self.page == page


@dataclass(frozen=True)
class FaultPlan:
    """The faults to inject, tried in order (the first that still applies to a request wins),
    and the pages (2 and up) that repeat the previous page's last item as their first."""

    faults: tuple[Fault, ...] = ()
    duplicate_pages: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def from_dict(cls, data: dict) -> "FaultPlan":
        """From ``{"faults": [{"kind": "status", "page": 2, "times": 3}, ...],
        "duplicate_pages": [2]}`` (the JSON file ``complaints sms-simulator --faults`` reads)."""
        known = {f.name for f in fields(Fault)}
        faults = []
        for entry in data.get("faults", []):
            unknown = set(entry) - known
            if unknown:
                raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
            faults.append(Fault(**entry))
        return cls(tuple(faults), frozenset(data.get("duplicate_pages", [])))

    @classmethod
    def load(cls, path: Path) -> "FaultPlan":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


class _CutOffResponse(Response):
    """Sends the headers (with the whole body's Content-Length) and half the body, then stops:
    the server closes the connection, as a dropped connection mid-transfer looks to a client."""

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})


def _sort_key(received_at: datetime, message: dict) -> tuple[datetime, str]:
    # Ids are compared as text so a malformed item (id missing or a number) still sorts.
    message_id = message.get("id")
    return received_at, "" if message_id is None else str(message_id)


def create_app(
    messages: list[dict], token: str, max_limit: int = 500, faults: FaultPlan | None = None
) -> Starlette:
    """The provider's API over ``messages``, protected by the Bearer ``token``, misbehaving as
    ``faults`` says (none by default)."""
    plan = faults or FaultPlan()
    hits = [0] * len(plan.faults)
    requests_log: list[dict] = []
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
        entry: dict[str, Any] = {"request": len(requests_log) + 1, "page": None, "fault": None}
        requests_log.append(entry)
        response = await _answer(request, entry)
        entry["status"] = response.status_code
        return response

    def _fault_for(request_number: int, page: int, since: datetime) -> Fault | None:
        for index, fault in enumerate(plan.faults):
            if fault.matches(request_number, page, since) and (fault.times is None or hits[index] < fault.times):
                hits[index] += 1
                return fault
        return None

    async def _answer(request: Request, entry: dict[str, Any]) -> Response:
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

        page_number = offset // limit + 1
        entry.update(page=page_number, offset=offset, limit=limit, cursor=params.get("cursor") or None,
                     since=params["since"], until=params["until"])
        fault = _fault_for(entry["request"], page_number, window["since"])
        if fault is not None:
            entry["fault"] = fault.kind
            log.info("sms simulator: request %d (page %d): %s", entry["request"], page_number, fault.kind)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        elif fault is not None and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            return _error(fault.status, "injected fault", headers)

        first = bisect_left(keys, window["since"])
        end = bisect_left(keys, window["until"])
        start = first + offset
        stop = min(start + limit, end)
        page = [message for _, message in servable[start:stop]]
        if page_number in plan.duplicate_pages and first < start < end:
            page.insert(0, servable[start - 1][1])  # the previous page's last item, again
        next_cursor = encode_cursor(offset + limit) if stop < end else None
        response = _json_response({"data": page, "next_cursor": next_cursor})
        if fault is not None and fault.kind == "truncate":
            return Response(response.body[: len(response.body) // 2], media_type="application/json")
        if fault is not None and fault.kind == "drop":
            return _CutOffResponse(response.body, media_type="application/json")
        return response

    async def healthz(request: Request) -> Response:
        return _json_response({"status": "ok", "messages": len(servable)})

    async def simulator_requests(request: Request) -> Response:
        return _json_response(requests_log)

    app = Starlette(
        routes=[
            Route("/v1/messages", list_messages, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/_simulator/requests", simulator_requests, methods=["GET"]),
        ]
    )
    app.state.requests = requests_log
    return app


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
    messages_file: Path,
    token: str,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    faults_file: Path | None = None,
) -> None:
    """Run the simulator with uvicorn until interrupted (with the FaultPlan in ``faults_file``)."""
    import uvicorn

    faults = FaultPlan.load(faults_file) if faults_file else None
    app = create_app(load_messages(messages_file), token, faults=faults)
    uvicorn.run(app, host=host, port=port, log_level="info")
