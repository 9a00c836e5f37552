"""SMS: pull one window of messages from the provider's REST API and parse the pages into bronze.

The contract is in the README ("SMS: the provider's REST API"). Pages are kept exactly as
received (``SmsPage.body``) so they can be landed before anything is parsed; parsing is structural
only and never drops an item: a malformed one becomes a row with ``parse_error`` set.

Resilience: each page is one request retried (tenacity) with exponential backoff and jitter on
connection errors, timeouts, 5xx, 429 (waiting as long as its Retry-After asks) and bodies that
are not JSON (a cut-off 200), until a page has been failing for the policy's budget.
``pull_sms_window`` lands each page, then a checkpoint, before asking for the next, so a window
interrupted at page n resumes at page n: no page is fetched into the lake twice and none skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import tenacity

from complaints_platform.lib.bronze import (
    PY_WHITESPACE,
    bronze_select,
    joined_errors,
    text_series,
    to_bronze,
    utc_time_as_python_reads_it,
)
from complaints_platform.lib.lake import write_bytes_atomic

CHANNEL = "sms"
MESSAGES_PATH = "/v1/messages"
MAX_PAGE_SIZE = 500
INT32_MAX = 2**31 - 1
CHECKPOINT_NAME = "_cursor.json"
PAGE_GLOB = "page-*.json"


@dataclass
class SmsPage:
    """One page of the API's answer: its 1-based number in the window, the URL, the raw text,
    and the next_cursor it gave (None on the last page). ``data``: the page's items as decoded from
    ``body`` when it was fetched (its next_cursor is read from them), so that parsing the window
    does not decode the page again; None for a page read back from landing."""

    number: int
    url: str
    body: str
    next_cursor: str | None = None
    data: list[Any] | None = field(default=None, repr=False, compare=False)


class SmsApiError(ValueError):
    """The API answered 2xx with something that is not a page of the contract."""


class SmsPageNotJson(SmsApiError):
    """A 2xx body that is not JSON at all: most often cut off in transit, so worth asking again."""


@dataclass(frozen=True)
class SmsRetryPolicy:
    """How long one page is retried: backoff ``base * 2**(n-1)`` plus up to ``base`` of jitter,
    each wait at most ``max_backoff_seconds``, and no wait that would end more than
    ``max_total_seconds`` after the page's first attempt (a request in flight can overrun that
    by at most its own timeout)."""

    max_total_seconds: float = 120.0
    base_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0


class SmsApiGaveUp(RuntimeError):
    """A page kept failing with retryable errors until the retry budget was spent."""

    def __init__(
        self,
        window: str,
        page: int,
        attempts: int,
        seconds: float,
        budget: float,
        last_error: str,
        asked_wait: float | None = None,
    ) -> None:
        self.window, self.page, self.attempts, self.seconds = window, page, attempts, seconds
        self.budget, self.last_error, self.asked_wait = budget, last_error, asked_wait
        super().__init__(self.describe())

    def describe(self) -> str:
        text = (
            f"SMS API window {self.window}, page {self.page}: gave up after {self.attempts} "
            f"attempt{'s' if self.attempts != 1 else ''} over {self.seconds:.1f} s (retry budget "
            f"{self.budget:g} s); last error: {self.last_error}"
        )
        if self.asked_wait is not None:
            text += f"; waiting the {self.asked_wait:g} s it asked for would pass the budget"
        return text


class SmsPullFailed(RuntimeError):
    """A window's pull stopped at one page; what is landed stays and a rerun resumes there."""

    def __init__(self, message: str, page: int, pages_landed: int, cause: BaseException) -> None:
        self.page, self.pages_landed, self.cause = page, pages_landed, cause
        super().__init__(message)


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
        raise SmsPageNotJson(
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


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date; None if neither."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def is_retryable(exc: BaseException) -> bool:
    """Worth asking again: no connection, a timeout, a cut connection, 429, 5xx, a non-JSON body.

    Other 4xx (a bad token, a bad parameter) and JSON that breaks the contract will not mend.
    """
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, (httpx.TransportError, SmsPageNotJson))


def describe_error(exc: BaseException) -> str:
    """One line for a failed request: 'HTTP 503 Service Unavailable', 'ReadTimeout: timed out'."""
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        text = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
        if response.headers.get("retry-after"):
            text += f" (Retry-After: {response.headers['retry-after']})"
        return text
    if isinstance(exc, SmsApiError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _asked_wait(exc: BaseException | None) -> float | None:
    """The seconds a 429 or 503 asked the client to wait (Retry-After), if it asked."""
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in (429, 503):
        return retry_after_seconds(exc.response.headers.get("retry-after"))
    return None


class _wait_retry_after_or(tenacity.wait.wait_base):
    """The server's Retry-After when it gave one (429 or 503), else the fallback backoff."""

    def __init__(self, fallback: tenacity.wait.wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        asked = _asked_wait(retry_state.outcome.exception() if retry_state.outcome else None)
        return asked if asked is not None else self.fallback(retry_state)


def _get_page(
    client: httpx.Client, url: str, token: str, params: dict[str, str | int], number: int
) -> tuple[httpx.Response, list[Any], str | None]:
    response = request_sms_page(client, url, token, params)
    items, next_cursor = read_sms_page(number, response.text)
    return response, items, next_cursor


def _request_with_retries(
    policy: SmsRetryPolicy,
    window: str,
    number: int,
    on_retry: Callable[[str], None] | None,
) -> tenacity.Retrying:
    def gave_up(state: tenacity.RetryCallState):
        exc = state.outcome.exception()
        raise SmsApiGaveUp(
            window, number, state.attempt_number, state.seconds_since_start or 0.0,
            policy.max_total_seconds, describe_error(exc), _asked_wait(exc),
        ) from exc

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is not None:
            on_retry(
                f"SMS API window {window}, page {number}: "
                f"{describe_error(state.outcome.exception())}; attempt {state.attempt_number + 1} "
                f"in {state.upcoming_sleep:.1f} s"
            )

    backoff = tenacity.wait_exponential_jitter(
        initial=policy.base_backoff_seconds,
        max=policy.max_backoff_seconds,
        jitter=policy.base_backoff_seconds,
    )
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_retryable),
        wait=_wait_retry_after_or(backoff),
        stop=tenacity.stop_before_delay(policy.max_total_seconds),
        before_sleep=before_sleep,
        retry_error_callback=gave_up,
    )


def iter_sms_pages(
    client: httpx.Client,
    base_url: str,
    token: str,
    since: datetime,
    until: datetime,
    page_size: int = 200,
    *,
    retry: SmsRetryPolicy | None = None,
    cursor: str | None = None,
    first_number: int = 1,
    cursors_seen: frozenset[str] = frozenset(),
    on_retry: Callable[[str], None] | None = None,
) -> Iterator[SmsPage]:
    """The window's pages one at a time, from ``cursor`` (None: the first page) until next_cursor
    is null; the next request is made only when the caller asks for the next page.

    With a ``retry`` policy, retryable failures (``is_retryable``) are retried and SmsApiGaveUp
    is raised once the budget is spent; without one, every request is tried once. Other failures
    raise at once: httpx.HTTPStatusError (the page number added as a note) or SmsApiError.
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}, got {page_size}")
    url = base_url.rstrip("/") + MESSAGES_PATH
    window = {"since": format_api_time(since), "until": format_api_time(until), "limit": page_size}
    label = f"{window['since']}..{window['until']}"
    seen = set(cursors_seen)
    number = first_number
    while True:
        params = window if cursor is None else {**window, "cursor": cursor}
        try:
            if retry is None:
                response, items, cursor = _get_page(client, url, token, params, number)
            else:
                retrying = _request_with_retries(retry, label, number, on_retry)
                response, items, cursor = retrying(_get_page, client, url, token, params, number)
        except httpx.HTTPStatusError as exc:
            exc.add_note(f"SMS API page {number} of window {label}")
            raise
        if cursor is not None and cursor in seen:
            # A provider that hands back an old cursor would otherwise loop forever.
            raise SmsApiError(f"SMS API page {number} repeats an earlier next_cursor {cursor!r}")
        yield SmsPage(number=number, url=str(response.request.url), body=response.text, next_cursor=cursor, data=items)
        if cursor is None:
            return
        seen.add(cursor)
        number += 1


def fetch_sms_window(
    client: httpx.Client,
    base_url: str,
    token: str,
    since: datetime,
    until: datetime,
    page_size: int = 200,
    retry: SmsRetryPolicy | None = None,
) -> list[SmsPage]:
    """Every page of messages received in ``[since, until)``, following next_cursor until null.

    Raises as ``iter_sms_pages`` does; nothing is landed (``pull_sms_window`` lands as it goes).
    """
    return list(iter_sms_pages(client, base_url, token, since, until, page_size, retry=retry))


# --- landing a window page by page, with a checkpoint to resume from ---------------------------


@dataclass
class SmsPull:
    """What ``pull_sms_window`` ends with: every page of the window, how many were asked of the
    API in this pull and how many were read back from the landing folder."""

    pages: list[SmsPage]
    fetched: int
    reused: int


def page_file_name(number: int) -> str:
    return f"page-{number:05d}.json"


def read_checkpoint(folder: Path, since: datetime, until: datetime) -> dict[str, Any] | None:
    """The window's checkpoint if it is there, is this window's, and every page it lists is on
    disk; None otherwise (the window is then pulled from its first page)."""
    path = folder / CHECKPOINT_NAME
    try:
        checkpoint = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not isinstance(checkpoint, dict) or (checkpoint.get("since"), checkpoint.get("until")) != (
        format_api_time(since),
        format_api_time(until),
    ):
        return None
    try:
        on_disk = all((folder / page_file_name(page["number"])).is_file() for page in checkpoint["pages"])
    except (KeyError, TypeError):
        return None
    return checkpoint if on_disk else None


def _landed_pages(folder: Path, checkpoint: dict[str, Any]) -> list[SmsPage]:
    return [
        SmsPage(
            number=page["number"],
            url=page["url"],
            body=(folder / page_file_name(page["number"])).read_text(encoding="utf-8"),
            next_cursor=page["next_cursor"],
        )
        for page in checkpoint["pages"]
    ]


def _checkpoint(since: datetime, until: datetime, page_size: int, pages: list[SmsPage]) -> dict[str, Any]:
    last_cursor = pages[-1].next_cursor if pages else None
    return {
        "since": format_api_time(since),
        "until": format_api_time(until),
        "limit": page_size,
        "pages": [{"number": p.number, "url": p.url, "next_cursor": p.next_cursor} for p in pages],
        "next_cursor": last_cursor,
        "complete": bool(pages) and last_cursor is None,
    }


def clear_landed_window(folder: Path) -> None:
    """Forget what was landed for a window (its pages and checkpoint) before pulling it afresh."""
    (folder / CHECKPOINT_NAME).unlink(missing_ok=True)
    for page in folder.glob(PAGE_GLOB):
        page.unlink()


def pull_sms_window(
    client: httpx.Client,
    base_url: str,
    token: str,
    since: datetime,
    until: datetime,
    folder: Path,
    page_size: int = 200,
    retry: SmsRetryPolicy | None = None,
    refetch: bool = False,
    on_retry: Callable[[str], None] | None = None,
) -> SmsPull:
    """Every page of the window, landing each in ``folder`` (``page-NNNNN.json``, as received)
    and then the checkpoint ``_cursor.json`` before asking for the next page.

    A window whose checkpoint says complete is read back from ``folder`` without calling the API;
    an incomplete one continues from the checkpoint's next_cursor, so the pages already landed
    are not asked for again. ``refetch`` forgets what was landed and pulls the window afresh.
    Raises SmsPullFailed (naming the window, the page, the last error, the attempts and seconds,
    and what is landed) when a page cannot be had.
    """
    checkpoint = None if refetch else read_checkpoint(folder, since, until)
    if checkpoint is None:
        clear_landed_window(folder)  # pages without a checkpoint of theirs are not trusted
        checkpoint = _checkpoint(since, until, page_size, [])
    pages = _landed_pages(folder, checkpoint)
    reused = len(pages)
    if checkpoint["complete"]:
        return SmsPull(pages, fetched=0, reused=reused)
    remaining = iter_sms_pages(
        client, base_url, token, since, until, page_size,
        retry=retry,
        cursor=checkpoint["next_cursor"],
        first_number=len(pages) + 1,
        cursors_seen=frozenset(p.next_cursor for p in pages if p.next_cursor),
        on_retry=on_retry,
    )
    try:
        for page in remaining:
            write_bytes_atomic(page.body.encode("utf-8"), folder / page_file_name(page.number), private=True)
            pages.append(page)
            checkpoint = _checkpoint(since, until, page_size, pages)
            write_bytes_atomic(
                json.dumps(checkpoint, indent=1).encode("utf-8"), folder / CHECKPOINT_NAME, private=True
            )
    except (SmsApiGaveUp, SmsApiError, httpx.HTTPError) as exc:
        raise _pull_failed(exc, since, until, folder, len(pages)) from exc
    return SmsPull(pages, fetched=len(pages) - reused, reused=reused)


def _pull_failed(
    exc: BaseException, since: datetime, until: datetime, folder: Path, landed: int
) -> SmsPullFailed:
    page = landed + 1
    if isinstance(exc, SmsApiGaveUp):
        text = exc.describe()
    else:
        window = f"{format_api_time(since)}..{format_api_time(until)}"
        text = (
            f"SMS API window {window}, page {page}: {describe_error(exc)}; not retried (only "
            "connection errors, timeouts, 429, 5xx and bodies that are not JSON are)"
        )
    if landed:
        kept = "Page 1 is" if landed == 1 else f"Pages 1-{landed} are"
        text += f". {kept} landed in {folder}; rerunning the partition resumes at page {page}"
    return SmsPullFailed(text + ".", page=page, pages_landed=landed, cause=exc)


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


# An item's raw text: what json.dumps(item, ensure_ascii=False, sort_keys=True) gives, from one
# encoder made once (json.dumps makes one per call: 4.9 us an item against 2.5 us).
_RAW_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def _item_row(item: Any, location: str, page_number: int, window_start: datetime) -> dict:
    raw = _RAW_ENCODER.encode(item)
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

    A window whose every item is an object with the API's types is parsed column by column
    (``_ordinary_window``); any other window item by item (``_item_row``), with the same rows.
    """
    if window_start.tzinfo is None:
        raise ValueError("window_start must be timezone-aware (UTC)")
    window_start = window_start.astimezone(timezone.utc)
    payloads: list[tuple[SmsPage, list[Any] | SmsApiError]] = []
    for page in pages:
        try:
            items = page.data if page.data is not None else _page_payload(page.number, page.body)["data"]
            payloads.append((page, items))
        except SmsApiError as exc:
            payloads.append((page, exc))
    if payloads and not any(isinstance(items, SmsApiError) for _, items in payloads):
        frame = _ordinary_window(payloads, partition_label, window_start)
        if frame is not None:
            return frame
    rows: list[dict] = []
    for page, items in payloads:
        if isinstance(items, SmsApiError):
            rows.append(
                {
                    "record_id": record_hash(page.body),
                    "source_location": f"sms-api {partition_label} page {page.number}",
                    "received_at": window_start,
                    "raw": page.body,
                    "parse_error": str(items),
                    "event_time_zone": "UTC",
                    "api_page": page.number,
                }
            )
            continue
        for index, item in enumerate(items, start=1):
            location = f"sms-api {partition_label} page {page.number} item {index}"
            rows.append(_item_row(item, location, page.number, window_start))
    return to_bronze(CHANNEL, rows)


# The item fields that are text, in the order ``_item_row`` checks them.
_TEXT_FIELDS = ("id", "body", "from", "to", "received_at")
# The API's received_at (UTC, whole seconds): the one form read in polars; any other is read row by row.
_API_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
_API_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _ordinary_window(
    payloads: list[tuple[SmsPage, list[Any]]], partition_label: str, window_start: datetime
) -> pl.DataFrame | None:
    """The rows ``_item_row`` gives a window's items, column by column, without a Python call per
    item but the raw text's encoding; None when an item is one only the row rules read (not an
    object, a field of another JSON type, a lone surrogate, a received_at in another form or not a
    real time)."""
    items = [item for _, page_items in payloads for item in page_items]
    if not items or not all(type(item) is dict for item in items):
        return None
    segments = [item.get("segments") for item in items]
    if not all(type(value) is int for value in segments if value is not None):  # bool is no count
        return None
    try:
        texts = [text_series(name, [item.get(name) for item in items]) for name in _TEXT_FIELDS]
        if any(series is None for series in texts):
            return None
        frame = pl.DataFrame(
            [
                *texts,
                pl.Series("segments", segments, dtype=pl.Int64, strict=True),
                pl.Series("raw", [_RAW_ENCODER.encode(item) for item in items], dtype=pl.String),
            ]
        )
    except (TypeError, OverflowError, UnicodeEncodeError):  # a count past Int64; a lone surrogate
        return None
    received = pl.col("received_at")
    parsed, readable = utc_time_as_python_reads_it(received, _API_TIME, _API_TIME_FORMAT)
    readable = received.is_null() | readable
    if not frame.select(readable.all()).item():
        return None
    counts = np.asarray([len(page_items) for _, page_items in payloads])
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    frame = frame.with_columns(
        pl.Series("api_page", np.repeat([page.number for page, _ in payloads], counts), dtype=pl.Int64),
        pl.Series("item", np.arange(len(items)) - starts + 1, dtype=pl.Int64),
    )
    id_ = pl.col("id")
    unnamed = id_.is_null() | (id_.str.strip_chars(PY_WHITESPACE) == "")
    segments_out = pl.col("segments").is_not_null() & ~pl.col("segments").is_between(0, INT32_MAX)

    def missing(name: str) -> pl.Expr:
        return pl.when(pl.col(name).is_null()).then(pl.lit(f"missing {name}"))

    # An item without a usable id is named by its raw text's hash (few: computed for those alone).
    hashes = {raw: record_hash(raw) for raw in frame.filter(unnamed).get_column("raw").to_list()}
    return bronze_select(
        CHANNEL,
        frame,
        {
            "record_id": pl.when(unnamed).then(pl.col("raw").replace_strict(hashes, default=None, return_dtype=pl.String)).otherwise(id_),
            "source_location": pl.concat_str(
                pl.lit(f"sms-api {partition_label} page "), pl.col("api_page"), pl.lit(" item "), pl.col("item")
            ),
            "received_at": pl.coalesce(parsed, pl.lit(window_start)),
            "raw": pl.col("raw"),
            "parse_error": joined_errors(
                [
                    pl.when(id_.is_null()).then(pl.lit("missing id")).when(unnamed).then(pl.lit("id is empty")),
                    missing("body"),
                    missing("from"),
                    pl.when(segments_out).then(pl.format("segments {} is out of range", "segments")),
                    missing("received_at"),
                ]
            ),
            "event_time_text": received,
            "event_time_zone": pl.lit("UTC"),
            "text": pl.col("body"),
            "phone": pl.col("from"),
            "to_number": pl.col("to"),
            "segments": pl.when(segments_out).then(None).otherwise(pl.col("segments")),
            "api_page": pl.col("api_page"),
        },
    )
