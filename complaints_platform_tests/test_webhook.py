"""The webhook receiver end to end: real HTTP to uvicorn on loopback, files checked on disk."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from complaints_platform.lib.social_media import (
    LandedIds,
    parse_social_media_landing,
    receipt_window,
    window_dir,
)
from complaints_platform.webhook import store as store_module
from complaints_platform.webhook.app import create_app
from complaints_platform.webhook.store import Delivery, store_batch
from complaints_platform.simulate.servers import serve_in_thread

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"complaints-test-secret-0123456789").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"somebody-elses-secret-0123456789").decode()
SMALL_LIMIT = 4096  # the test app's body limit, so an oversize body stays small on the wire

POST = {
    "type": "social.post.created",
    "timestamp": "2026-11-21T14:03:25.120Z",
    "data": {
        "platform": "twitter",
        "post_id": "1859923412",
        "author": {"handle": "@jdoe", "display_name": "Jane Doe"},
        "text": "@TelcoCare no signal in Leeds since 8am!! \u2014 caf\u00e9 wifi too",
        "created_at": "2026-11-21T14:03:22+00:00",
        "in_reply_to": None,
        "lang": "en",
    },
}


@dataclass
class Receiver:
    url: str
    landing_root: Path
    client: httpx.Client

    def post(
        self,
        body: bytes | str,
        webhook_id: str = "msg_1",
        *,
        secret: str = SECRET,
        timestamp: datetime | None = None,
        signed_body: bytes | str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        sign: bool = True,
    ) -> httpx.Response:
        content = body.encode() if isinstance(body, str) else body
        all_headers = {"content-type": content_type}
        if sign:
            signed = content if signed_body is None else signed_body
            all_headers.update(signature_headers(webhook_id, signed, secret, timestamp))
        all_headers.update(headers or {})
        return self.client.post(self.url + "/webhooks/social", content=content, headers=all_headers)

    def event_files(self) -> list[Path]:
        root = self.landing_root / "social_media"
        return sorted(p for p in root.glob("date=*/*/*") if p.is_file()) if root.exists() else []

    def all_files(self) -> list[Path]:
        return sorted(p for p in self.landing_root.rglob("*") if p.is_file())

    def landed_ids(self) -> list[str]:
        ids = LandedIds(self.landing_root)
        try:
            return [row[0] for row in ids._db.execute("select webhook_id from landed")]
        finally:
            ids.close()

    def indexed(self, webhook_id: str) -> str | None:
        ids = LandedIds(self.landing_root)
        try:
            return ids.location(webhook_id)
        finally:
            ids.close()


def signature_headers(
    webhook_id: str, body: bytes | str, secret: str = SECRET, timestamp: datetime | None = None
) -> dict[str, str]:
    timestamp = timestamp or datetime.now(UTC)
    text = body.decode() if isinstance(body, bytes) else body
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, timestamp, text),
    }


@contextmanager
def running_receiver(landing_root: Path, **app_options: int) -> Iterator[Receiver]:
    """The receiver served by uvicorn in a background thread on a free loopback port."""
    with serve_in_thread(create_app(landing_root, SECRET, **app_options)) as url, httpx.Client(timeout=10) as client:
        yield Receiver(url, landing_root, client)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    with running_receiver(tmp_path / "landing", max_body_bytes=SMALL_LIMIT) as running:
        yield running


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_valid_event_is_landed_whole_and_private(receiver: Receiver) -> None:
    body = json.dumps(POST, ensure_ascii=False, indent=1)  # indentation must survive byte for byte
    before = datetime.now(UTC)
    response = receiver.post(body, "msg_2Qx:abc.1-z")
    after = datetime.now(UTC)

    assert response.status_code == 202
    assert response.json() == {"status": "accepted"}
    [event_file] = receiver.event_files()
    envelope = json.loads(event_file.read_text(encoding="utf-8"))
    assert set(envelope) == {"webhook_id", "webhook_timestamp", "received_at", "body"}
    assert envelope["webhook_id"] == "msg_2Qx:abc.1-z"
    assert envelope["body"] == body
    assert abs(envelope["webhook_timestamp"] - before.timestamp()) < 2
    assert envelope["received_at"].endswith("Z") and len(envelope["received_at"]) == 27
    received_at = datetime.fromisoformat(envelope["received_at"])
    assert before <= received_at <= after

    window = receipt_window(received_at)
    relative = event_file.relative_to(receiver.landing_root).as_posix()
    assert re.fullmatch(rf"social_media/date={window:%Y-%m-%d}/{window:%H%M}/[0-9]{{12}}-[0-9a-f]{{12}}\.jsonl", relative)
    assert event_file.read_bytes().count(b"\n") == 1  # one envelope, one line, even for an indented body
    assert receiver.indexed("msg_2Qx:abc.1-z") == relative
    index = receiver.landing_root / "social_media" / "_ids.sqlite"
    lock = receiver.landing_root / "social_media" / "_receiver.lock"
    others = set(receiver.all_files()) - {event_file}
    assert others == {index, index.with_name("_ids.sqlite-wal"), index.with_name("_ids.sqlite-shm"), lock}
    for path in receiver.all_files():  # no temp files left; the index (and its WAL) owner-only too
        assert _mode(path) == 0o600, path
    for folder in (
        receiver.landing_root,
        receiver.landing_root / "social_media",
        event_file.parent.parent,
        event_file.parent,
    ):
        assert _mode(folder) == 0o700, folder

    frame = parse_social_media_landing([event_file], receiver.landing_root)
    row = frame.row(0, named=True)
    assert row["record_id"] == "msg_2Qx:abc.1-z"
    assert row["source_location"] == relative + ":1"
    assert row["raw"] == body
    assert row["text"] == POST["data"]["text"]
    assert row["received_at"] == received_at
    assert row["parse_error"] is None


def test_several_signatures_one_valid_is_accepted(receiver: Receiver) -> None:
    body = json.dumps(POST)
    good = signature_headers("msg_rotated", body)["webhook-signature"]
    old = signature_headers("msg_rotated", body, OTHER_SECRET)["webhook-signature"]
    response = receiver.post(body, "msg_rotated", headers={"webhook-signature": f"{old} {good}"})
    assert response.status_code == 202
    assert len(receiver.event_files()) == 1


def test_replayed_id_is_acknowledged_and_stored_once(receiver: Receiver) -> None:
    body = json.dumps(POST)
    assert receiver.post(body, "msg_replay").status_code == 202
    [event_file] = receiver.event_files()
    first_bytes = event_file.read_bytes()

    again = receiver.post(body, "msg_replay")
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert receiver.event_files() == [event_file]
    assert event_file.read_bytes() == first_bytes


def test_a_receiver_restarted_after_a_crash_indexes_what_was_appended_and_cuts_a_torn_line(tmp_path: Path) -> None:
    """A receiver died days ago after appending a batch durably but before indexing it (so it never
    answered), in the middle of appending the next. Until a receiver runs again, readers see only
    the indexed line; the restarted receiver indexes the whole line (its retry is a replay), cuts
    the torn one (its retry is stored once) and stamps the segment so the sensor reads it again."""
    landing = tmp_path / "landing"
    window = window_dir(landing, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    window.mkdir(parents=True)
    segment = window / "090000000000-0123456789ab.jsonl"
    location = segment.relative_to(landing).as_posix()
    indexed = Delivery("msg_indexed", 1, json.dumps(POST)).envelope() + b"\n"
    appended = Delivery("msg_appended", 1, json.dumps(POST)).envelope() + b"\n"
    segment.write_bytes(indexed + appended + Delivery("msg_torn", 1, json.dumps(POST)).envelope()[:40])
    os.utime(segment, (1_700_000_000, 1_700_000_000))
    ids = LandedIds(landing)
    ids.register_segment(location)
    ids.record({"msg_indexed": location}, {location: len(indexed)})
    ids.close()
    assert parse_social_media_landing([segment], landing)["record_id"].to_list() == ["msg_indexed"]

    with running_receiver(landing) as receiver:
        assert receiver.post(json.dumps(POST), "msg_appended").json() == {"status": "duplicate"}
        assert segment.read_bytes() == indexed + appended
        assert segment.stat().st_mtime > 1_700_000_000
        assert receiver.indexed("msg_appended") == location
        assert receiver.post(json.dumps(POST), "msg_torn").status_code == 202
        assert receiver.post(json.dumps(POST), "msg_indexed").status_code == 200
        frame = parse_social_media_landing(receiver.event_files(), landing)
    assert sorted(frame["record_id"].to_list()) == ["msg_appended", "msg_indexed", "msg_torn"]
    assert frame["parse_error"].null_count() == 3


def test_an_indexed_id_whose_file_is_gone_is_stored_again(receiver: Receiver) -> None:
    (receiver.landing_root / "social_media").mkdir(parents=True, exist_ok=True)
    ids = LandedIds(receiver.landing_root)
    ids.record({"msg_gone": "social_media/date=2026-11-20/0900/090000000000-0123456789ab.jsonl"})
    ids.close()

    assert receiver.post(json.dumps(POST), "msg_gone").status_code == 202
    [event_file] = receiver.event_files()
    assert event_file.parent == window_dir(receiver.landing_root, datetime.now(UTC))
    assert receiver.indexed("msg_gone") == event_file.relative_to(receiver.landing_root).as_posix()
    assert receiver.post(json.dumps(POST), "msg_gone").status_code == 200


def test_ids_landed_by_a_receiver_before_segments_are_still_replays(receiver: Receiver) -> None:
    """The one-file-per-id index of earlier receivers is honoured: a landed id is a replay, an id
    whose file never landed is stored."""
    ids = receiver.landing_root / "social_media" / "_ids"
    old_window = receiver.landing_root / "social_media" / "date=2026-11-20" / "0900"
    for folder in (ids, old_window):
        folder.mkdir(parents=True)
    (old_window / "msg_old.json").write_text("{}")
    (ids / "msg_old").write_text("social_media/date=2026-11-20/0900/msg_old.json")
    (ids / "msg_lost").write_text("social_media/date=2026-11-20/0900/msg_lost.json")

    assert receiver.post(json.dumps(POST), "msg_old").status_code == 200
    assert receiver.post(json.dumps(POST), "msg_lost").status_code == 202
    segments = [p for p in receiver.event_files() if p.suffix == ".jsonl"]
    assert len(segments) == 1 and json.loads(segments[0].read_text())["webhook_id"] == "msg_lost"
    assert receiver.indexed("msg_lost") == segments[0].relative_to(receiver.landing_root).as_posix()


def test_a_starting_receiver_removes_the_temporary_files_a_killed_one_left(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    now = datetime.now(UTC)
    window = window_dir(landing, now)
    ids = landing / "social_media" / "_ids"
    for folder in (window, ids):
        folder.mkdir(parents=True)
    (window / ".093000123456-0123456789ab.jsonl.0f0f.tmp").write_bytes(b'{"webhook_id": "msg_a", "bo')
    (ids / ".msg_a.1234.tmp").write_bytes(b"social_media/")
    (window / "msg_b.json").write_bytes(b"{}")  # landed events are never touched
    create_app(landing, SECRET)
    assert sorted(p.name for p in landing.rglob("*") if p.is_file()) == ["msg_b.json"]


def test_a_batch_is_appended_durably_before_it_is_indexed(receiver: Receiver, monkeypatch) -> None:
    """Order of the writes: the index never names an id whose line is not durably on disk, and the
    segment is stamped after the commit (a sensor run started by the change reads the lines)."""
    written: list[str] = []
    real_record, real_write, real_sync = LandedIds.record, store_module.os.write, store_module.os.fdatasync
    real_utime = store_module.os.utime

    def recording_utime(target, *args, **kwargs) -> None:
        written.append("stamp")
        real_utime(target, *args, **kwargs)

    def recording_record(self, locations, segment_bytes=None) -> None:
        written.append("index")
        real_record(self, locations, segment_bytes)

    def recording_write(fd: int, data) -> int:
        written.append("append")
        return real_write(fd, data)

    def recording_sync(fd: int) -> None:
        written.append("sync")
        real_sync(fd)

    monkeypatch.setattr(LandedIds, "record", recording_record)
    monkeypatch.setattr(store_module.os, "write", recording_write)
    monkeypatch.setattr(store_module.os, "fdatasync", recording_sync)
    monkeypatch.setattr(store_module.os, "utime", recording_utime)
    assert receiver.post(json.dumps(POST), "msg_order").status_code == 202
    monkeypatch.undo()
    assert written == ["append", "sync", "index", "stamp"]


def test_a_failed_append_is_not_acknowledged_is_cut_back_and_its_retry_lands_once(receiver: Receiver, monkeypatch) -> None:
    """Disk full while making a batch durable: 503 (nothing acknowledged), the segment is cut back
    to the lines before it, and the sender's retry is stored once."""
    body = json.dumps(POST)
    assert receiver.post(body, "msg_before").status_code == 202
    [segment] = receiver.event_files()
    before = segment.read_bytes()
    real_sync = store_module.os.fdatasync
    failures = [OSError(28, "No space left on device")]

    def failing_sync(fd: int) -> None:
        if failures:
            raise failures.pop()
        real_sync(fd)

    monkeypatch.setattr(store_module.os, "fdatasync", failing_sync)
    first = receiver.post(body, "msg_full")
    assert first.status_code == 503 and "No space left" in first.json()["error"]
    assert segment.read_bytes() == before
    assert receiver.post(body, "msg_full").status_code == 202
    frame = parse_social_media_landing(receiver.event_files(), receiver.landing_root)
    assert frame["record_id"].to_list() == ["msg_before", "msg_full"]


def test_an_index_failure_is_not_acknowledged_and_its_retry_finds_the_event_stored_once(
    receiver: Receiver, monkeypatch
) -> None:
    """The batch's lines are durable but its index commit fails: 503, and before the next batch the
    receiver recovers, indexing them, so the retry is a replay and bronze has the event once."""
    real_record = LandedIds.record
    failures = [sqlite3.OperationalError("disk I/O error")]

    def failing_record(self, locations, segment_bytes=None) -> None:
        if failures:
            raise failures.pop()
        real_record(self, locations, segment_bytes)

    monkeypatch.setattr(LandedIds, "record", failing_record)
    first = receiver.post(json.dumps(POST), "msg_unindexed")
    assert first.status_code == 503 and "disk I/O error" in first.json()["error"]
    assert receiver.post(json.dumps(POST), "msg_unindexed").json() == {"status": "duplicate"}
    assert receiver.post(json.dumps(POST), "msg_next").status_code == 202
    frame = parse_social_media_landing(receiver.event_files(), receiver.landing_root)
    assert sorted(frame["record_id"].to_list()) == ["msg_next", "msg_unindexed"]


def test_a_batch_is_appended_once_per_window_and_each_id_stored_once(tmp_path: Path) -> None:
    """The group commit itself: replays inside and outside the batch are not stored again, a batch
    that spans a window boundary goes to each window's segment, and later batches append to them."""
    landing = tmp_path / "landing"
    (landing / "social_media").mkdir(parents=True)
    ids = LandedIds(landing)
    writer = store_module.SegmentWriter(landing, ids)
    before = datetime(2026, 11, 21, 14, 14, 59, 900000, tzinfo=UTC)
    after = datetime(2026, 11, 21, 14, 15, 0, 100000, tzinfo=UTC)
    assert store_batch(ids, writer, [Delivery("msg_0", 1, json.dumps(POST), before)]) == [True]

    batch = [
        Delivery("msg_1", 1, json.dumps(POST), before),
        Delivery("msg_0", 1, json.dumps(POST), before),  # landed by the earlier batch
        Delivery("msg_2", 1, json.dumps(POST), after),
        Delivery("msg_1", 1, json.dumps(POST), after),  # a second delivery within the batch
        Delivery("msg_3", 1, json.dumps(POST), after),
    ]
    assert store_batch(ids, writer, batch) == [True, False, True, False, True]
    writer.close()

    segments = sorted(landing.glob("social_media/date=*/*/*.jsonl"))
    assert [p.parent.name for p in segments] == ["1400", "1415"]
    frame = parse_social_media_landing(segments, landing)
    assert frame["record_id"].to_list() == ["msg_0", "msg_1", "msg_2", "msg_3"]
    assert frame["source_location"].str.extract(r":(\d+)$").to_list() == ["1", "2", "1", "2"]
    by_id = dict(zip(frame["record_id"], frame["received_at"]))
    assert by_id["msg_1"] == before and by_id["msg_3"] == after
    assert ids.location("msg_2") == ids.location("msg_3") == segments[1].relative_to(landing).as_posix()
    assert ids.segments() == [(p.relative_to(landing).as_posix(), p.stat().st_size) for p in segments]
    ids.close()


def _writer(landing: Path) -> tuple[LandedIds, "store_module.SegmentWriter"]:
    (landing / "social_media").mkdir(parents=True, exist_ok=True)
    ids = LandedIds(landing)
    return ids, store_module.SegmentWriter(landing, ids)


def test_a_batch_failing_in_its_second_window_leaves_nothing_to_land_twice(tmp_path: Path, monkeypatch) -> None:
    """The first window's lines are durable when the second window's append fails: recovery
    indexes them, so their retries are replays, and the second window's retry is stored."""
    landing = tmp_path / "landing"
    ids, writer = _writer(landing)
    before = datetime(2026, 11, 21, 14, 14, 59, tzinfo=UTC)
    after = datetime(2026, 11, 21, 14, 15, 1, tzinfo=UTC)
    batch = [Delivery("msg_a", 1, json.dumps(POST), before), Delivery("msg_b", 1, json.dumps(POST), after)]
    real_write, calls = store_module.os.write, []

    def second_write_fails(fd: int, data) -> int:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(store_module.os, "write", second_write_fails)
    with pytest.raises(OSError):
        store_batch(ids, writer, batch)
    monkeypatch.undo()
    writer.close()
    assert store_module.recover(landing, ids) == 1

    writer = store_module.SegmentWriter(landing, ids)
    assert store_batch(ids, writer, [Delivery("msg_a", 1, "{}", after), Delivery("msg_b", 1, "{}", after)]) == [False, True]
    writer.close()
    ids.close()
    frame = parse_social_media_landing(sorted(landing.glob("social_media/date=*/*/*.jsonl")), landing)
    assert sorted(frame["record_id"].to_list()) == ["msg_a", "msg_b"]


def test_a_segment_that_cannot_be_cut_back_is_abandoned_and_recovered(tmp_path: Path, monkeypatch) -> None:
    """The sync fails and so does the cut: the writer never appends to that segment again (the next
    batch starts a new one), and recovery drops the unacknowledged lines' torn end."""
    landing = tmp_path / "landing"
    ids, writer = _writer(landing)
    when = datetime(2026, 11, 21, 14, 3, tzinfo=UTC)
    assert store_batch(ids, writer, [Delivery("msg_ok", 1, json.dumps(POST), when)]) == [True]
    [first] = landing.glob("social_media/date=*/*/*.jsonl")
    monkeypatch.setattr(store_module.os, "fdatasync", lambda fd: (_ for _ in ()).throw(OSError(5, "I/O error")))
    monkeypatch.setattr(store_module.os, "ftruncate", lambda fd, size: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(OSError):
        store_batch(ids, writer, [Delivery("msg_lost_sync", 1, json.dumps(POST), when)])
    monkeypatch.undo()
    with open(first, "ab") as handle:  # as if the failed append had torn mid-line
        handle.write(b'{"webhook_id": "msg_half')
    assert store_batch(ids, writer, [Delivery("msg_next", 1, json.dumps(POST), when)]) == [True]
    writer.close()
    segments = sorted(landing.glob("social_media/date=*/*/*.jsonl"))
    assert len(segments) == 2  # msg_next went to a new segment
    store_module.recover(landing, ids)
    ids.close()
    assert not first.read_bytes().endswith(b"msg_half")
    frame = parse_social_media_landing(segments, landing)
    assert sorted(frame["record_id"].to_list()) == ["msg_lost_sync", "msg_next", "msg_ok"]  # durable after all
    assert frame["parse_error"].null_count() == 3


def test_the_committer_drops_cancelled_deliveries_stores_what_is_queued_at_stop_and_then_refuses(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    committer = store_module.GroupCommitter(landing)
    cancelled = Delivery("msg_cancelled", 1, "{}")
    assert cancelled.done.cancel()  # the request went away before its batch was taken
    committer.submit(cancelled)
    queued = [committer.submit(Delivery(f"msg_q{n}", 1, "{}")) for n in range(50)]
    committer.stop()
    assert [f.result(timeout=5) for f in queued] == [True] * 50
    late = committer.submit(Delivery("msg_late", 1, "{}"))
    with pytest.raises(OSError, match="shutting down"):
        late.result(timeout=5)
    frame = parse_social_media_landing(sorted(landing.glob("social_media/date=*/*/*.jsonl")), landing)
    assert sorted(frame["record_id"].to_list()) == sorted(f"msg_q{n}" for n in range(50))


def test_a_second_receiver_on_the_same_landing_folder_stores_nothing(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    first, second = store_module.GroupCommitter(landing), store_module.GroupCommitter(landing)
    assert first.submit(Delivery("msg_first", 1, "{}")).result(timeout=5) is True
    with pytest.raises(OSError, match="another receiver"):
        second.submit(Delivery("msg_second", 1, "{}")).result(timeout=5)
    first.stop()
    assert second.submit(Delivery("msg_second", 1, "{}")).result(timeout=5) is True  # the lock is free
    second.stop()


def test_many_concurrent_deliveries_are_all_landed_once(receiver: Receiver) -> None:
    body = json.dumps(POST)

    def deliver(n: int) -> int:
        webhook_id = f"msg_many_{n}"
        return receiver.client.post(
            receiver.url + "/webhooks/social",
            content=body,
            headers={"content-type": "application/json", **signature_headers(webhook_id, body)},
        ).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(deliver, range(200)))
    assert statuses == [202] * 200
    frame = parse_social_media_landing(receiver.event_files(), receiver.landing_root)
    assert sorted(frame["record_id"].to_list()) == sorted(f"msg_many_{n}" for n in range(200))
    assert frame["parse_error"].null_count() == 200


def test_concurrent_deliveries_of_one_id_write_once(receiver: Receiver) -> None:
    body = json.dumps(POST)
    headers = signature_headers("msg_race", body)

    def deliver(_: int) -> int:
        with httpx.Client(timeout=10) as client:
            return client.post(
                receiver.url + "/webhooks/social",
                content=body,
                headers={"content-type": "application/json", **headers},
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(deliver, range(8)))
    assert statuses == [200] * 7 + [202]
    frame = parse_social_media_landing(receiver.event_files(), receiver.landing_root)
    assert frame["record_id"].to_list() == ["msg_race"]


@pytest.mark.parametrize(
    ("case", "expected_status"),
    [
        ("tampered_body", 401),
        ("wrong_secret", 401),
        ("expired_timestamp", 401),
        ("future_timestamp", 401),
        ("unsigned", 401),
        ("garbage_signature", 401),
        ("wrong_content_type", 415),
        ("no_content_type", 415),
        ("malformed_json", 400),
        ("json_array", 400),
        ("not_utf8", 400),
        ("bad_webhook_id", 400),
        ("dot_webhook_id", 400),
        ("oversize_declared", 413),
        ("oversize_streamed", 413),
    ],
)
def test_rejected_requests_write_nothing(
    receiver: Receiver, case: str, expected_status: int
) -> None:
    body = json.dumps(POST)
    if case == "tampered_body":
        response = receiver.post(body.replace("Leeds", "Leads"), signed_body=body)
    elif case == "wrong_secret":
        response = receiver.post(body, secret=OTHER_SECRET)
    elif case == "expired_timestamp":
        response = receiver.post(body, timestamp=datetime.now(UTC) - timedelta(minutes=6))
    elif case == "future_timestamp":
        response = receiver.post(body, timestamp=datetime.now(UTC) + timedelta(minutes=6))
    elif case == "unsigned":
        response = receiver.post(body, sign=False)
    elif case == "garbage_signature":
        response = receiver.post(body, headers={"webhook-signature": "not-a-signature"})
    elif case == "wrong_content_type":
        response = receiver.post(body, content_type="text/plain")
    elif case == "no_content_type":
        response = receiver.client.post(
            receiver.url + "/webhooks/social",
            content=body.encode(),
            headers=signature_headers("msg_1", body),
        )
    elif case == "malformed_json":
        response = receiver.post('{"type": "social.post.created", "data": {')
    elif case == "json_array":
        response = receiver.post("[1, 2, 3]")
    elif case == "not_utf8":
        # Signed over the raw bytes, so only the encoding is wrong.
        raw = json.dumps(POST).replace("Leeds", "Li\xe8ge").encode("latin-1")
        headers = signature_headers("msg_1", "")
        timestamp = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
        headers["webhook-signature"] = _sign_bytes("msg_1", timestamp, raw)
        response = receiver.post(raw, sign=False, headers=headers)
    elif case == "bad_webhook_id":
        response = receiver.post(body, "../../etc/passwd")
    elif case == "dot_webhook_id":
        response = receiver.post(body, "..")
    elif case == "oversize_declared":
        response = receiver.post("{" + " " * SMALL_LIMIT + "}")
    elif case == "oversize_streamed":
        big = ("{" + " " * SMALL_LIMIT + "}").encode()
        headers = {"content-type": "application/json", **signature_headers("msg_1", big)}

        def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
            for start in range(0, len(big), 1024):
                yield big[start : start + 1024]

        response = receiver.client.post(
            receiver.url + "/webhooks/social", content=chunks(), headers=headers
        )
    else:  # pragma: no cover
        raise AssertionError(case)

    assert response.status_code == expected_status, response.text
    assert response.json()["status"] == "rejected"
    assert receiver.event_files() == []
    assert receiver.landed_ids() == []


def test_signed_non_utf8_needs_the_right_secret_to_get_past_401(receiver: Receiver) -> None:
    raw = b'{"text": "Li\xe8ge"}'
    timestamp = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": _sign_bytes("msg_1", timestamp, raw, OTHER_SECRET),
    }
    assert receiver.post(raw, sign=False, headers=headers).status_code == 401


def test_default_limit_is_one_mebibyte(tmp_path: Path) -> None:
    def body_of(size: int) -> str:
        return '{"pad": "' + "x" * (size - 11) + '"}'

    with running_receiver(tmp_path / "landing") as receiver:
        assert receiver.post(body_of(1_048_577), "msg_big").status_code == 413
        assert receiver.event_files() == []
        assert receiver.post(body_of(1_048_576), "msg_big").status_code == 202
        [event_file] = receiver.event_files()
        assert len(json.loads(event_file.read_text())["body"]) == 1_048_576


def test_healthz(receiver: Receiver) -> None:
    response = receiver.client.get(receiver.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _sign_bytes(webhook_id: str, timestamp: datetime, raw: bytes, secret: str = SECRET) -> str:
    """A Standard Webhooks signature over raw bytes (the library's sign() takes text only)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{int(timestamp.timestamp())}.".encode() + raw
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
