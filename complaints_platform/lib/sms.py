"""SMS: pull one window of messages from the provider's REST API and parse the pages into bronze.

The contract is in the README ("SMS: the provider's REST API"). Pages are kept exactly as
received (``SmsPage.body``) so they can be landed before anything is parsed; parsing is structural
only and never drops an item: a malformed one becomes a row with ``parse_error`` set.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx
import polars as pl

from complaints_platform.lib.bronze import to_bronze

CHANNEL = "sms"
MESSAGES_PATH = "/v1/messages"
MAX_PAGE_SIZE = 500
INT32_MAX = 2**31 - 1


@dataclass
class SmsPage:
    """One page of the API's answer: its 1-based number in the window, the URL, the raw text."""

    number: int
    url: str
    body: str


class SmsApiError(ValueError):
    """The API answered 2xx with something that is not a page of the contract."""


def format_api_time(value: datetime) -> str:
    """An aware datetime as the ISO-8601 UTC text the API takes: '2026-11-21T14:00:00Z'."""
    if value.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; the SMS API window must be in UTC")
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def request_sms_page(
    client: httpx.Client, url: str, token: str, params: dict[str, str | int]
) -> httpx.Response:
    """One GET of one page; raises httpx.HTTPStatusError on a non-2xx answer.

    This is the single request a retry policy will wrap: it has no side effects besides the call.
    """
    response = client.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response


def _page_payload(number: int, body: str) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise SmsApiError(
            f"SMS API page {number} is not JSON: {exc.msg} (at char {exc.pos})"
        ) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise SmsApiError(f'SMS API page {number} is not a JSON object with a "data" list')
    return payload


def read_sms_page(number: int, body: str) -> tuple[list[Any], str | None]:
    """A page's items and next cursor from its raw text; SmsApiError naming the page if not."""
    payload = _page_payload(number, body)
    next_cursor = payload.get("next_cursor")
    if next_cursor is not None and (not isinstance(next_cursor, str) or not next_cursor):
        raise SmsApiError(f"SMS API page {number} has a next_cursor that is neither null nor text")
    return payload["data"], next_cursor


def fetch_sms_window(
    client: httpx.Client,
    base_url: str,
    token: str,
    since: datetime,
    until: datetime,
    page_size: int = 200,
) -> list[SmsPage]:
    """Every page of messages received in ``[since, until)``, following next_cursor until null.

    Raises httpx.HTTPStatusError on a non-2xx answer (the page number added as a note) and
    SmsApiError (a ValueError) on a page that is not JSON with a "data" list.
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}, got {page_size}")
    url = base_url.rstrip("/") + MESSAGES_PATH
    window = {"since": format_api_time(since), "until": format_api_time(until), "limit": page_size}
    pages: list[SmsPage] = []
    cursors_seen: set[str] = set()
    cursor: str | None = None
    while True:
        number = len(pages) + 1
        params = window if cursor is None else {**window, "cursor": cursor}
        try:
            response = request_sms_page(client, url, token, params)
        except httpx.HTTPStatusError as exc:
            exc.add_note(f"SMS API page {number} of window {window['since']}..{window['until']}")
            raise
        _, cursor = read_sms_page(number, response.text)
        pages.append(SmsPage(number=number, url=str(response.request.url), body=response.text))
        if cursor is None:
            return pages
        if cursor in cursors_seen:
            # A provider that hands back an old cursor would otherwise loop forever.
            raise SmsApiError(f"SMS API page {number} repeats an earlier next_cursor {cursor!r}")
        cursors_seen.add(cursor)


def parse_received_at(value: str) -> datetime | None:
    """ISO-8601 text as an aware UTC datetime (the API's times are UTC, so no offset means UTC)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _text_field(item: dict, name: str, required: bool, errors: list[str]) -> str | None:
    """``item[name]`` if it is text; else None, noting why in ``errors`` when that is an error."""
    value = item.get(name)
    if value is None:
        if required:
            errors.append(f"missing {name}")
        return None
    if not isinstance(value, str):
        errors.append(f"{name} is not a string (got {_json_type(value)})")
        return None
    return value


def _segments(item: dict, errors: list[str]) -> int | None:
    value = item.get("segments")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        errors.append(f"segments is not a whole number (got {_json_type(value)})")
        return None
    if not 0 <= value <= INT32_MAX:
        errors.append(f"segments {value} is out of range")
        return None
    return value


def record_hash(raw: str) -> str:
    """A stable stand-in record_id for an item without a usable id."""
    return "sha256:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def _item_row(item: Any, location: str, page_number: int, window_start: datetime) -> dict:
    raw = json.dumps(item, ensure_ascii=False, sort_keys=True)
    row: dict[str, Any] = {
        "source_location": location,
        "received_at": window_start,
        "raw": raw,
        "event_time_zone": "UTC",
        "api_page": page_number,
    }
    if not isinstance(item, dict):
        row["record_id"] = record_hash(raw)
        row["parse_error"] = f"item is not an object (got {_json_type(item)})"
        return row

    errors: list[str] = []
    record_id = _text_field(item, "id", required=True, errors=errors)
    if record_id is not None and not record_id.strip():
        errors.append("id is empty")
        record_id = None
    row["record_id"] = record_id if record_id is not None else record_hash(raw)
    row["text"] = _text_field(item, "body", required=True, errors=errors)
    row["phone"] = _text_field(item, "from", required=True, errors=errors)
    row["to_number"] = _text_field(item, "to", required=False, errors=errors)
    row["segments"] = _segments(item, errors)

    received_text = _text_field(item, "received_at", required=True, errors=errors)
    row["event_time_text"] = received_text
    if received_text is not None:
        received_at = parse_received_at(received_text)
        if received_at is None:
            # received_at is never null in bronze: the window start stands in; parse_error says so.
            errors.append(f"received_at {received_text!r} is not an ISO-8601 timestamp")
        else:
            row["received_at"] = received_at

    row["parse_error"] = "; ".join(errors) or None
    return row


def parse_sms_pages(
    pages: list[SmsPage], partition_label: str, window_start: datetime
) -> pl.DataFrame:
    """The bronze frame of one window's pages: one row per item, in page and item order.

    ``source_location`` is 'sms-api <partition_label> page <n> item <i>' (both 1-based). An item
    whose received_at is missing or unreadable is stamped with ``window_start``. A page that is not
    a JSON object with a "data" list gives one row holding the whole page, with parse_error set.
    """
    if window_start.tzinfo is None:
        raise ValueError("window_start must be timezone-aware (UTC)")
    window_start = window_start.astimezone(timezone.utc)
    rows: list[dict] = []
    for page in pages:
        try:
            items = _page_payload(page.number, page.body)["data"]
        except SmsApiError as exc:
            rows.append(
                {
                    "record_id": record_hash(page.body),
                    "source_location": f"sms-api {partition_label} page {page.number}",
                    "received_at": window_start,
                    "raw": page.body,
                    "parse_error": str(exc),
                    "event_time_zone": "UTC",
                    "api_page": page.number,
                }
            )
            continue
        for index, item in enumerate(items, start=1):
            location = f"sms-api {partition_label} page {page.number} item {index}"
            rows.append(_item_row(item, location, page.number, window_start))
    return to_bronze(CHANNEL, rows)
