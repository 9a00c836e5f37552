"""The SMS edge: the provider simulator over real HTTP, the window pull, and the bronze parse."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import polars as pl
import pytest

from complaints_platform.lib.bronze import bronze_schema
from complaints_platform.lib.sms import (
    INT32_MAX,
    SmsPage,
    fetch_sms_window,
    parse_sms_pages,
    record_hash,
)
from complaints_platform.simulate.servers import serve_in_thread
from complaints_platform.simulate.sms_provider import (
    create_app,
    decode_cursor,
    encode_cursor,
    load_messages,
)

TOKEN = "test-token-3f9a"
WINDOW_START = datetime(2026, 11, 21, 14, 0, tzinfo=timezone.utc)
WINDOW_END = WINDOW_START + timedelta(minutes=15)
LABEL = "2026-11-21-14:00"


def _message(message_id: str, received_at: str, body: str = "no signal again", **extra) -> dict:
    return {
        "id": message_id,
        "from": "+447700900123",
        "to": "+447800000100",
        "body": body,
        "received_at": received_at,
        "segments": 1,
        **extra,
    }


def _good_messages() -> list[dict]:
    """23 well-formed messages inside the 14:00 window, 30 s apart."""
    return [
        _message(f"SM{k:03d}", f"{WINDOW_START + timedelta(seconds=30 * k):%Y-%m-%dT%H:%M:%S}Z")
        for k in range(23)
    ]


MISSING_BODY = {"id": "SMnobody", "from": "+447700900555", "received_at": "2026-11-21T14:03:00Z"}
NUMERIC_ID = _message(12345, "2026-11-21T14:04:00Z", body="id is a number")
NO_FROM = {"id": "SMnofrom", "body": "who sent this", "received_at": "2026-11-21T14:06:00Z"}
BAD_SEGMENTS = _message("SMsegs", "2026-11-21T14:08:00Z", segments="2")

MESSAGES: list[dict] = [
    *_good_messages(),
    # Same received_at, listed out of id order: the API orders by (received_at, id).
    _message("SMtie-b", "2026-11-21T14:12:00Z"),
    _message("SMtie-a", "2026-11-21T14:12:00Z"),
    # Boundaries: since is inclusive and until exclusive.
    _message("SMbefore", "2026-11-21T13:59:59.999999Z"),
    _message("SMuntil", "2026-11-21T14:15:00Z"),
    _message("SMafter", "2026-11-21T14:20:00Z"),
    # Offsets and naive text are read as instants (naive means UTC).
    _message("SMoffset", "2026-11-21T15:05:00+01:00", body="café broadband £30 🙁"),
    _message("SMnaive", "2026-11-21 14:07:30"),
    # Malformed but servable: the provider passes them through.
    MISSING_BODY,
    NUMERIC_ID,
    NO_FROM,
    BAD_SEGMENTS,
    # Unreadable received_at: never served.
    _message("SMbadtime", "yesterday at tea time"),
    {"id": "SMnotime", "from": "+447700900999", "body": "no timestamp"},
]

IN_WINDOW_IDS = [
    *[f"SM{k:03d}" for k in range(23)],
    "SMtie-a",
    "SMtie-b",
    "SMoffset",
    "SMnaive",
    "SMnobody",
    12345,
    "SMnofrom",
    "SMsegs",
]


@pytest.fixture(scope="module")
def sms_api() -> Iterator[str]:
    """The simulator on a free loopback port, served by uvicorn in a background thread."""
    with serve_in_thread(create_app(MESSAGES, TOKEN)) as url:
        yield url


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def _items(pages: list[SmsPage]) -> list[dict]:
    return [item for page in pages for item in json.loads(page.body)["data"]]


# --- the simulator and the pull, over real HTTP ------------------------------------------------


def test_pagination_returns_every_message_in_the_window_once(sms_api, client):
    pages = fetch_sms_window(client, sms_api, TOKEN, WINDOW_START, WINDOW_END, page_size=4)

    ids = [item["id"] for item in _items(pages)]
    assert len(pages) == 8  # 31 items, 4 a page
    assert [page.number for page in pages] == list(range(1, 9))
    assert sorted(ids, key=str) == sorted(IN_WINDOW_IDS, key=str)
    assert len(ids) == len(set(ids))
    # Ordered by (received_at, id): the tie comes out a before b, the offset item at 14:05Z.
    assert ids.index("SMtie-a") + 1 == ids.index("SMtie-b")
    assert ids.index("SM010") < ids.index("SMoffset") < ids.index("SM011")
    # Served as held: the malformed item arrives unchanged.
    assert MISSING_BODY in _items(pages)
    # Each page records the URL asked, and the token is not in it.
    assert pages[0].url.startswith(f"{sms_api}/v1/messages?")
    assert "cursor=" in pages[1].url and TOKEN not in pages[1].url


def test_one_page_when_the_window_fits(sms_api, client):
    pages = fetch_sms_window(client, sms_api, TOKEN, WINDOW_START, WINDOW_END)
    assert len(pages) == 1
    assert json.loads(pages[0].body)["next_cursor"] is None
    assert len(_items(pages)) == len(IN_WINDOW_IDS)


def test_since_is_inclusive_and_until_exclusive(sms_api, client):
    def ids(since: datetime, until: datetime) -> list:
        pages = fetch_sms_window(client, sms_api, TOKEN, since, until, page_size=2)
        return [item["id"] for item in _items(pages)]

    next_window = ids(WINDOW_END, WINDOW_END + timedelta(minutes=15))
    assert next_window == ["SMuntil", "SMafter"]
    assert ids(WINDOW_START - timedelta(microseconds=1), WINDOW_START) == ["SMbefore"]
    assert ids(WINDOW_START, WINDOW_START + timedelta(microseconds=1)) == ["SM000"]
    assert ids(WINDOW_START, WINDOW_START) == []
    everything = ids(WINDOW_START - timedelta(days=1), WINDOW_START + timedelta(days=1))
    assert len(everything) == len(IN_WINDOW_IDS) + 3  # unreadable received_at: never served


def test_bad_token_is_an_error(sms_api, client):
    with pytest.raises(httpx.HTTPStatusError) as caught:
        fetch_sms_window(client, sms_api, "wrong-token", WINDOW_START, WINDOW_END)
    assert caught.value.response.status_code == 401
    assert any("page 1" in note for note in caught.value.__notes__)

    params = {"since": "2026-11-21T14:00:00Z", "until": "2026-11-21T14:15:00Z"}
    unauthenticated = client.get(f"{sms_api}/v1/messages", params=params)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "params",
    [
        {"until": "2026-11-21T14:15:00Z"},
        {"since": "2026-11-21T14:00:00Z"},
        {"since": "not a time", "until": "2026-11-21T14:15:00Z"},
        {"since": "2026-11-21T14:15:00Z", "until": "2026-11-21T14:00:00Z"},
        {"since": "2026-11-21T14:00:00Z", "until": "2026-11-21T14:15:00Z", "limit": "0"},
        {"since": "2026-11-21T14:00:00Z", "until": "2026-11-21T14:15:00Z", "limit": "501"},
        {"since": "2026-11-21T14:00:00Z", "until": "2026-11-21T14:15:00Z", "limit": "ten"},
        {"since": "2026-11-21T14:00:00Z", "until": "2026-11-21T14:15:00Z", "cursor": "!!"},
        {"since": "2026-11-21T14:00:00Z", "until": "2026-11-21T14:15:00Z", "cursor": "e30"},
    ],
)
def test_bad_parameters_get_400(sms_api, client, params):
    response = client.get(
        f"{sms_api}/v1/messages", params=params, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 400
    assert response.json()["error"]


def test_default_limit_and_healthz(sms_api, client):
    response = client.get(
        f"{sms_api}/v1/messages",
        params={"since": "2026-11-20T00:00:00Z", "until": "2026-11-22T00:00:00Z", "limit": "30"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    body = response.json()
    assert response.status_code == 200 and len(body["data"]) == 30
    assert decode_cursor(body["next_cursor"]) == 30
    assert client.get(f"{sms_api}/healthz").json()["status"] == "ok"


def test_cursor_is_base64_of_the_offset():
    assert encode_cursor(50) == "eyJvZmZzZXQiOiA1MH0"  # the README's example
    assert decode_cursor(encode_cursor(1234)) == 1234


def test_unreadable_received_at_is_counted_in_a_log_line(caplog):
    with caplog.at_level(logging.WARNING, logger="complaints_platform.simulate.sms_provider"):
        create_app(MESSAGES, TOKEN)
    assert f"2 of {len(MESSAGES)} messages" in caplog.text


def test_load_messages_reads_jsonl(tmp_path):
    path = tmp_path / "messages.jsonl"
    lines = [json.dumps(message, ensure_ascii=False) for message in MESSAGES[:3]]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    assert load_messages(path) == MESSAGES[:3]
    path.write_text('{"id": "SM1"}\n{not json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="messages.jsonl:2"):
        load_messages(path)


# --- failures of the provider that fetch must surface ------------------------------------------


def _client_answering(*bodies: str) -> httpx.Client:
    answers = iter(bodies)
    return httpx.Client(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, text=next(answers)))
    )


@pytest.mark.parametrize(
    "body, message",
    [
        ("<html>gateway</html>", "page 2 is not JSON"),
        ('{"items": []}', 'page 2 is not a JSON object with a "data" list'),
        ('{"data": {}, "next_cursor": null}', 'page 2 is not a JSON object with a "data" list'),
        ('{"data": [], "next_cursor": "c1"}', "page 2 repeats an earlier next_cursor"),
    ],
)
def test_fetch_raises_on_a_malformed_page(body, message):
    with _client_answering('{"data": [], "next_cursor": "c1"}', body) as client:
        with pytest.raises(ValueError, match=message):
            fetch_sms_window(client, "http://sms.test", TOKEN, WINDOW_START, WINDOW_END)


def test_fetch_refuses_a_naive_window():
    with _client_answering() as client, pytest.raises(ValueError, match="time zone"):
        fetch_sms_window(client, "http://sms.test", TOKEN, datetime(2026, 11, 21), WINDOW_END)


# --- parsing pages into bronze -----------------------------------------------------------------


def test_parse_gives_one_row_per_item_with_parse_errors_for_malformed_ones(sms_api, client):
    pages = fetch_sms_window(client, sms_api, TOKEN, WINDOW_START, WINDOW_END, page_size=10)
    frame = parse_sms_pages(pages, LABEL, WINDOW_START)

    assert frame.schema == pl.Schema(bronze_schema("sms"))
    assert frame.height == len(IN_WINDOW_IDS)  # nothing dropped
    assert frame["record_id"].n_unique() == frame.height
    assert frame["received_at"].null_count() == 0
    assert frame["event_time_zone"].unique().to_list() == ["UTC"]

    good = frame.filter(pl.col("record_id") == "SM000").row(0, named=True)
    assert good == {
        **good,
        "source_location": f"sms-api {LABEL} page 1 item 1",
        "received_at": WINDOW_START,
        "parse_error": None,
        "event_time_text": "2026-11-21T14:00:00Z",
        "text": "no signal again",
        "phone": "+447700900123",
        "to_number": "+447800000100",
        "segments": 1,
        "api_page": 1,
        "email": None,
        "handle": None,
    }
    assert json.loads(good["raw"]) == MESSAGES[0]

    offset = frame.filter(pl.col("record_id") == "SMoffset").row(0, named=True)
    assert offset["received_at"] == datetime(2026, 11, 21, 14, 5, tzinfo=timezone.utc)
    assert offset["event_time_text"] == "2026-11-21T15:05:00+01:00"
    assert offset["text"] == "café broadband £30 🙁"
    assert "café broadband £30 🙁" in offset["raw"]  # ensure_ascii=False

    naive = frame.filter(pl.col("record_id") == "SMnaive").row(0, named=True)
    assert naive["received_at"] == datetime(2026, 11, 21, 14, 7, 30, tzinfo=timezone.utc)
    assert naive["parse_error"] is None

    errors = dict(
        frame.filter(pl.col("parse_error").is_not_null())
        .select("record_id", "parse_error")
        .iter_rows()
    )
    numeric_id_hash = record_hash(json.dumps(NUMERIC_ID, ensure_ascii=False, sort_keys=True))
    assert errors == {
        "SMnobody": "missing body",
        numeric_id_hash: "id is not a string (got number)",
        "SMnofrom": "missing from",
        "SMsegs": "segments is not a whole number (got string)",
    }
    no_body = frame.filter(pl.col("record_id") == "SMnobody").row(0, named=True)
    assert no_body["text"] is None and no_body["phone"] == "+447700900555"
    numeric_id_row = frame.filter(pl.col("record_id") == numeric_id_hash)
    assert numeric_id_row["text"].to_list() == ["id is a number"]
    # Page and item numbers point back to the landed page.
    last = frame.row(-1, named=True)
    assert last["api_page"] == 4 and last["source_location"] == f"sms-api {LABEL} page 4 item 1"


def test_parse_keeps_items_the_api_should_never_send():
    page_items = [
        "just a string",
        {"id": "SM1", "from": "+4477", "body": "hi", "received_at": "sometime"},
        {"id": "SM2", "from": "+4477", "body": "hi", "received_at": 1732197802, "segments": 2**40},
        {"id": " ", "from": 447700, "body": ["a"], "to": None},
    ]
    pages = [
        SmsPage(1, "http://sms.test/v1/messages?p=1", json.dumps({"data": page_items})),
        SmsPage(2, "http://sms.test/v1/messages?p=2", "<html>502 Bad Gateway</html>"),
    ]
    frame = parse_sms_pages(pages, LABEL, WINDOW_START)

    assert frame.height == 5
    assert frame["received_at"].to_list() == [WINDOW_START] * 5
    assert frame["parse_error"].null_count() == 0
    rows = frame.rows(named=True)
    assert rows[0]["parse_error"] == "item is not an object (got string)"
    assert rows[0]["raw"] == '"just a string"'
    assert rows[1]["parse_error"] == "received_at 'sometime' is not an ISO-8601 timestamp"
    assert rows[1]["event_time_text"] == "sometime" and rows[1]["record_id"] == "SM1"
    assert rows[2]["parse_error"] == (
        "segments 1099511627776 is out of range; received_at is not a string (got number)"
    )
    assert rows[3]["parse_error"] == (
        "id is empty; body is not a string (got array); from is not a string (got number); "
        "missing received_at"
    )
    assert rows[3]["record_id"].startswith("sha256:")
    assert rows[4]["source_location"] == f"sms-api {LABEL} page 2"
    assert rows[4]["raw"] == "<html>502 Bad Gateway</html>" and rows[4]["api_page"] == 2
    assert "page 2 is not JSON" in rows[4]["parse_error"]
    # Deterministic: the same pages give the same frame.
    assert parse_sms_pages(pages, LABEL, WINDOW_START).equals(frame)


def test_parse_of_no_pages_is_an_empty_bronze_frame():
    frame = parse_sms_pages([], LABEL, WINDOW_START)
    assert frame.height == 0 and frame.schema == pl.Schema(bronze_schema("sms"))


def _ordinary_items() -> list[dict]:
    """Items of the API's types, awkward in every way the row rules have a word for."""
    at = "2026-11-21T14:00:00Z"
    return [
        {"id": "SM1", "from": "+447700900123", "to": "+447800000100", "body": "no signal", "received_at": at, "segments": 1},
        {"id": "SM2", "from": "+447700900124", "body": None, "received_at": "2026-11-21T14:14:59Z"},  # body null, no to
        {"id": "SM3", "from": "+447700900125", "to": None, "body": "café £30 🙁 \x00\x1f \u2028 \"q\" \\", "received_at": at, "segments": 0},
        {"id": "  SM4  ", "from": "+447700900126", "body": "id kept as sent", "received_at": at, "segments": INT32_MAX},
        {"id": " ", "from": "+447700900127", "body": "blank id", "received_at": at, "segments": INT32_MAX + 1},
        {"id": "\x1c", "from": "+447700900128", "body": "an id Python reads as blank", "received_at": at, "segments": -1},
        {"from": "+447700900129", "body": "no id, no time", "extra": {"nested": [1, 2.5, None, True]}},
        {"id": "SM8", "body": "no sender", "received_at": at, "zeta": 1, "alpha": "keys sorted in raw"},
    ]


@pytest.mark.parametrize(
    "odd",
    [
        None,
        {"to": 447800000100},
        {"segments": True},
        {"segments": 2.0},
        {"received_at": "2026-11-21T15:05:00+01:00"},
        {"received_at": " 2026-11-21T14:05:00Z"},
        {"received_at": "2026-02-30T14:05:00Z"},
        {"received_at": "2026-12-31T23:59:60Z"},
        {"body": "half an emoji \ud83d"},
        {"received_at": "0000-01-01T00:00:00Z"},  # polars reads year 0, Python does not
        {"segments": 2**128},  # past every polars integer
        {"body": json.loads("[" * 500 + "]" * 500)},  # refused before polars would spend seconds naming its type
    ],
)
def test_an_ordinary_window_is_parsed_by_column_as_item_by_item(column_path, odd: dict | None) -> None:
    """A window whose items all have the API's types is parsed column by column, with the rows
    (values, errors, raw text, hashes for items without an id) item-by-item parsing gives; one
    item of another type or time form sends the whole window item by item."""
    from polars.testing import assert_frame_equal

    from complaints_platform.lib import sms

    items = _ordinary_items()
    if odd is not None:
        items[2] = {**items[2], **odd}
    pages = [
        SmsPage(1, "http://sms.test/v1/messages?p=1", json.dumps({"data": items[:5], "next_cursor": "b2Zmc2V0PTU="})),
        SmsPage(2, "http://sms.test/v1/messages?p=2", json.dumps({"data": items[5:], "next_cursor": None})),
    ]
    by_column = column_path(sms, "_ordinary_window")
    frame = parse_sms_pages(pages, LABEL, WINDOW_START)
    column_path(sms, "_ordinary_window", off=True)
    assert_frame_equal(frame, parse_sms_pages(pages, LABEL, WINDOW_START))
    assert by_column == [odd is None]
    if odd is not None:
        return
    rows = frame.rows(named=True)
    assert [r["source_location"] for r in rows[4:6]] == [f"sms-api {LABEL} page 1 item 5", f"sms-api {LABEL} page 2 item 1"]
    assert rows[1]["parse_error"] == "missing body" and rows[1]["received_at"] == datetime(2026, 11, 21, 14, 14, 59, tzinfo=timezone.utc)
    assert rows[3]["record_id"] == "  SM4  " and rows[3]["segments"] == INT32_MAX
    assert rows[4]["record_id"] == record_hash(rows[4]["raw"])
    assert rows[4]["parse_error"] == f"id is empty; segments {INT32_MAX + 1} is out of range" and rows[4]["segments"] is None
    assert rows[5]["parse_error"] == "id is empty; segments -1 is out of range"
    assert rows[6]["parse_error"] == "missing id; missing received_at" and rows[6]["received_at"] == WINDOW_START
    assert rows[7]["parse_error"] == "missing from"
    assert rows[7]["raw"].index('"alpha"') < rows[7]["raw"].index('"body"') < rows[7]["raw"].index('"zeta"')
    assert rows[2]["raw"] == json.dumps(items[2], ensure_ascii=False, sort_keys=True)


def test_a_field_that_is_not_text_is_refused_before_polars_sees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The column path takes a field as text only if every value is text or null, checked in
    Python: polars, refusing a value, first names its type, which for a list nested 500 deep
    (2 KB that any sender can post) took 7 s and gigabytes."""
    from complaints_platform.lib import bronze

    assert bronze.text_series("t", ["a", None, "é😀"]).to_list() == ["a", None, "é😀"]

    def no_polars(*args, **kwargs):
        raise AssertionError("polars was given a value that is not text")

    monkeypatch.setattr(bronze.pl, "Series", no_polars)
    deep = json.loads("[" * 500 + "]" * 500)
    for odd in (deep, 42, True, 1.5, {"a": "b"}, b"bytes"):
        assert bronze.text_series("t", ["a", odd, None]) is None
