"""Social-media posts: where the webhook receiver lands them, and how they become bronze rows.

The receiver (``complaints_platform.webhook``; ``webhook.store`` writes) appends each batch of
envelopes it acknowledges together to its own segment of the receipt window, one envelope per line:
``landing/social_media/date=YYYY-MM-DD/HHMM/<segment>.jsonl``; the ``HHMM`` folder is the 15-minute
UTC window of receipt, which is the event's partition. The SQLite index
``landing/social_media/_ids.sqlite`` says which ids are landed, in which segment, and how many bytes
of each segment are indexed: readers stop there, so they see exactly the acknowledged lines.
Receivers before segments stored one envelope per file (``<webhook-id>.json``, written under a
hidden temporary name first; index entries ``_ids/<webhook-id>``); those are read too.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl

from complaints_platform.lib.bronze import empty_bronze, to_bronze
from complaints_platform.lib.lake import day_folder, day_of_folder

CHANNEL = "social_media"
WINDOW = timedelta(minutes=15)
IDS_DIR_NAME = "_ids"  # one file per id: the index of receivers before segments, still honoured
IDS_DB_NAME = "_ids.sqlite"
EVENT_SUFFIX = ".json"  # one envelope per file (receivers before segments; hand-placed files)
SEGMENT_SUFFIX = ".jsonl"  # one envelope per line, appended a batch at a time
EVENT_TIME_ZONE = "UTC"  # created_at is ISO-8601; one without an offset is read as UTC

# A file written just before midnight can land (get its mtime) just after it; scan one day back.
_MTIME_SCAN_SLACK = timedelta(days=1)
# Event files are read by this many threads at once: a cold read waits on the disk, and a disk
# answers many outstanding reads about as fast as one (measured: 31k cold files in 9.4 s with one
# reader, 4.6 s with 64, on this machine's virtual disk).
READ_THREADS = 32
READ_BATCH = 128  # files per task: a task per file costs more than a warm read


def _as_utc(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise ValueError(f"expected an aware datetime, got naive {ts.isoformat()}")
    return ts.astimezone(UTC)


def receipt_window(ts: datetime) -> datetime:
    """Start of the 15-minute UTC window containing ``ts`` (which must carry a time zone)."""
    ts = _as_utc(ts)
    return ts.replace(minute=ts.minute - ts.minute % 15, second=0, microsecond=0)


def channel_dir(landing_root: Path) -> Path:
    return landing_root / CHANNEL


def window_dir(landing_root: Path, window_start: datetime) -> Path:
    """The landing folder of one receipt window: ``social_media/date=YYYY-MM-DD/HHMM``."""
    window_start = receipt_window(window_start)
    return channel_dir(landing_root) / day_folder(f"{window_start:%Y-%m-%d}") / f"{window_start:%H%M}"


def ids_dir(landing_root: Path) -> Path:
    return channel_dir(landing_root) / IDS_DIR_NAME


def ids_db(landing_root: Path) -> Path:
    return channel_dir(landing_root) / IDS_DB_NAME


class LandedIds:
    """The receiver's index: which webhook ids are landed, and the file (relative to the landing
    root) holding each; and, per segment, how many of its bytes are indexed. SQLite in WAL mode
    with ``synchronous=FULL``: a commit is durable when it returns, and one commit records a whole
    batch. One writer (the receiver) at a time.

    Ids recorded by a receiver before segments (``_ids/<webhook-id>`` files) are looked up there
    when the database does not know them."""

    def __init__(self, landing_root: Path) -> None:
        self.landing_root = Path(landing_root)
        path = ids_db(self.landing_root)
        if not path.exists():  # created owner-only; SQLite gives its -wal and -shm files the same mode
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("pragma journal_mode = wal")
        self._db.execute("pragma synchronous = full")
        self._db.execute("create table if not exists landed (webhook_id text primary key, location text not null)")
        self._db.execute("create table if not exists segments (location text primary key, indexed_bytes integer not null)")
        self._legacy = ids_dir(self.landing_root)

    def location(self, webhook_id: str) -> str | None:
        row = self._db.execute("select location from landed where webhook_id = ?", (webhook_id,)).fetchone()
        if row is not None:
            return row[0]
        try:
            return (self._legacy / webhook_id).read_text(encoding="utf-8").strip() or None
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
            return None

    def is_landed(self, webhook_id: str) -> bool:
        """Indexed, and the file its index entry names exists."""
        location = self.location(webhook_id)
        return location is not None and (self.landing_root / location).exists()

    def register_segment(self, location: str) -> None:
        """Note a segment, durably, before its file is made: recovery looks at every noted one."""
        with self._db:
            self._db.execute("begin")
            self._db.execute("insert or ignore into segments values (?, 0)", (location,))

    def segments(self) -> list[tuple[str, int]]:
        """(segment, indexed bytes) for every segment the index knows."""
        return self._db.execute("select location, indexed_bytes from segments order by location").fetchall()

    def record(self, locations: dict[str, str], segment_bytes: dict[str, int] | None = None) -> None:
        """Point each id at its file, and note each segment's indexed length, in one durable commit."""
        with self._db:
            self._db.execute("begin")
            self._db.executemany("insert or replace into landed values (?, ?)", locations.items())
            self._db.executemany("insert or replace into segments values (?, ?)", (segment_bytes or {}).items())

    def close(self) -> None:
        self._db.close()


def indexed_lengths(landing_root: Path) -> dict[str, int]:
    """How many bytes of each segment are indexed (acknowledged or acknowledgeable), read from the
    receiver's index while it runs; empty when there is no index."""
    path = ids_db(landing_root)
    if not path.exists():
        return {}
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("select location, indexed_bytes from segments"))
    except sqlite3.OperationalError:  # an index with no segments table yet
        return {}
    finally:
        db.close()


def _folder_date(folder: Path) -> date | None:
    day = day_of_folder(folder.name)
    return date.fromisoformat(day) if day is not None else None


def _folder_window(day: date, folder: Path) -> datetime | None:
    name = folder.name
    if len(name) != 4 or not name.isdigit():
        return None
    hour, minute = int(name[:2]), int(name[2:])
    if hour > 23 or minute > 59 or minute % 15:
        return None
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _windows(
    landing_root: Path, first_day: date | None = None, last_day: date | None = None
) -> Iterator[tuple[datetime, Path]]:
    """Yield (window_start, folder) for every receipt-window folder between two days (inclusive)."""
    root = channel_dir(landing_root)
    if not root.is_dir():
        return
    for day_folder in sorted(root.iterdir()):
        day = _folder_date(day_folder)
        if day is None or not day_folder.is_dir():
            continue
        if (first_day and day < first_day) or (last_day and day > last_day):
            continue
        for folder in sorted(day_folder.iterdir()):
            window_start = _folder_window(day, folder)
            if window_start is not None and folder.is_dir():
                yield window_start, folder


def segment_name(opened_at: datetime, writer: str) -> str:
    """A segment's file name: when it was opened first, so names sort in landing order."""
    return f"{_as_utc(opened_at):%H%M%S%f}-{writer}{SEGMENT_SUFFIX}"


def complete_lines(content: bytes) -> list[bytes]:
    """A segment's whole lines. What follows the last newline is an append still in flight (or
    one a crash tore, never acknowledged): not yet an event."""
    return content.split(b"\n")[:-1]


def _is_landed_file(name: str) -> bool:
    return name.endswith((EVENT_SUFFIX, SEGMENT_SUFFIX)) and not name.startswith(".")


def _event_files(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if _is_landed_file(e.name) and e.is_file())
    return [folder / name for name in names]


def landing_files_for_window(
    landing_root: Path, window_start: datetime, window_end: datetime
) -> list[Path]:
    """Event files whose receipt window starts in [window_start, window_end), over any number
    of windows (a backfill run covers many)."""
    start, end = _as_utc(window_start), _as_utc(window_end)
    if end <= start:
        return []
    last_day = (end - timedelta(microseconds=1)).date()
    files: list[Path] = []
    for window, folder in _windows(landing_root, start.date(), last_day):
        if start <= window < end:
            files.extend(_event_files(folder))
    return files


def new_landing_files(
    landing_root: Path, after_mtime_ns: int, lookback_ns: int
) -> list[tuple[Path, int, datetime]]:
    """(path, mtime_ns, window_start) of event files whose mtime_ns > after_mtime_ns - lookback_ns.

    For a sensor whose cursor is the largest mtime it has seen: a file can show up with an mtime
    older than the cursor (a one-event file keeps the mtime it was written with when it is renamed
    into place; a file's listing and another file's change can interleave), and the lookback finds
    it again; the sensor's run keys make the repeats harmless. Sorted by mtime.
    """
    threshold = after_mtime_ns - lookback_ns
    first_day = None
    if threshold > 0:
        threshold_time = datetime.fromtimestamp(threshold / 1e9, tz=UTC)
        first_day = (threshold_time - _MTIME_SCAN_SLACK).date()
    found: list[tuple[Path, int, datetime]] = []
    for window, folder in _windows(landing_root, first_day):
        for path in _event_files(folder):
            try:
                mtime_ns = path.stat().st_mtime_ns
            except FileNotFoundError:  # removed between listing and stat
                continue
            if mtime_ns > threshold:
                found.append((path, mtime_ns, window))
    found.sort(key=lambda item: (item[1], str(item[0])))
    return found


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _string(
    obj: dict, key: str, where: str, errors: list[str], required: bool = False
) -> str | None:
    """``obj[key]`` if it is a string; else None, noting why in ``errors`` (absent is fine
    unless ``required``)."""
    value = obj.get(key)
    if isinstance(value, str):
        return value
    if value is None and not required:
        return None
    if value is None:
        errors.append(f"{where}{key} is missing")
    else:
        errors.append(f"{where}{key} is {_type_name(value)}, expected string")
    return None


def _parse_received_at(value: str, errors: list[str]) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors.append(f"envelope received_at is not ISO-8601: {value!r}")
        return None
    if parsed.tzinfo is None:
        errors.append(f"envelope received_at has no time zone: {value!r}")
        return None
    return parsed.astimezone(UTC)


def _parse_body(body: str, row: dict, errors: list[str]) -> None:
    """Fill the post's columns from the request body; note in ``errors`` what is wrong."""
    try:
        payload = _loads(body)
    except (ValueError, RecursionError) as exc:
        errors.append(f"body is not valid JSON: {exc}")
        return
    if not isinstance(payload, dict):
        errors.append(f"body is {_type_name(payload)}, expected object")
        return
    row["event_type"] = _string(payload, "type", "body.", errors)
    data = payload.get("data")
    if not isinstance(data, dict):
        if data is None:
            errors.append("body.data is missing")
        else:
            errors.append(f"body.data is {_type_name(data)}, expected object")
        return
    row["text"] = _string(data, "text", "data.", errors, required=True)
    row["event_time_text"] = _string(data, "created_at", "data.", errors)
    row["platform"] = _string(data, "platform", "data.", errors)
    row["post_id"] = _string(data, "post_id", "data.", errors)
    row["in_reply_to"] = _string(data, "in_reply_to", "data.", errors)
    author = data.get("author")
    if isinstance(author, dict):
        row["author_name"] = _string(author, "display_name", "data.author.", errors)
        row["handle"] = _string(author, "handle", "data.author.", errors)
    elif author is not None:
        errors.append(f"data.author is {_type_name(author)}, expected object")


def _loads(text: str | bytes):
    """``json.loads``, by orjson where it can: the standard library decides (and words the error)
    whenever orjson refuses, so what is accepted, and why not, is the standard library's."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _parse_envelope(content: bytes | OSError, record_id: str, source_location: str) -> dict:
    """One bronze row for one stored envelope; ``record_id`` is used when it names no webhook id."""
    row: dict = {
        "record_id": record_id,
        "source_location": source_location,
        "event_time_zone": EVENT_TIME_ZONE,
    }
    errors: list[str] = []
    if isinstance(content, OSError):
        row["parse_error"] = f"envelope unreadable: {content.strerror or content}"
        return row
    try:
        envelope = _loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        row["raw"] = content.decode("utf-8", errors="replace")
        row["parse_error"] = f"envelope is not valid JSON: {exc}"
        return row
    if not isinstance(envelope, dict):
        row["raw"] = content.decode("utf-8", errors="replace")
        row["parse_error"] = f"envelope is {_type_name(envelope)}, expected object"
        return row

    webhook_id = _string(envelope, "webhook_id", "envelope ", errors, required=True)
    if webhook_id:
        row["record_id"] = webhook_id
    received_at = _string(envelope, "received_at", "envelope ", errors, required=True)
    if received_at is not None:
        row["received_at"] = _parse_received_at(received_at, errors)
    body = _string(envelope, "body", "envelope ", errors, required=True)
    if body is None:
        row["raw"] = content.decode("utf-8", errors="replace")
    else:
        row["raw"] = body
        _parse_body(body, row, errors)
    row["parse_error"] = "; ".join(errors) or None
    return row


def _parse_file(path: Path, content: bytes | OSError, source_location: str) -> list[dict]:
    """The rows of one landed file: a segment has one envelope per whole line
    (``<location>:<line>``, blank lines skipped), any other file is one envelope."""
    if path.suffix != SEGMENT_SUFFIX or isinstance(content, OSError):
        return [_parse_envelope(content, path.stem, source_location)]
    return [
        _parse_envelope(line, f"{path.stem}:{number}", f"{source_location}:{number}")
        for number, line in enumerate(complete_lines(content), start=1)
        if line.strip()
    ]


def _with_receipt_time(row: dict, path: Path) -> dict:
    """Bronze never has a null receipt time: an unreadable envelope falls back to the file's mtime."""
    if row.get("received_at") is None:
        try:
            row["received_at"] = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except OSError:
            row["received_at"] = datetime.now(UTC)
    return row


def _read(paths: list[tuple[Path, int | None]]) -> list[bytes | OSError]:
    """Each file's bytes, the first ``limit`` of them where a limit is given."""
    contents: list[bytes | OSError] = []
    for path, limit in paths:
        try:
            with open(path, "rb") as handle:
                contents.append(handle.read() if limit is None else handle.read(limit))
        except OSError as exc:
            contents.append(exc)
    return contents


def _source_location(path: Path, landing_root: Path, prefixes: dict[Path, str]) -> str:
    folder = path.parent
    if folder not in prefixes:
        try:
            prefixes[folder] = folder.relative_to(landing_root).as_posix() + "/"
        except ValueError:
            prefixes[folder] = folder.as_posix() + "/"
    return prefixes[folder] + path.name


def parse_social_media_landing(files: list[Path], landing_root: Path) -> pl.DataFrame:
    """Bronze rows for landed webhook envelopes: one row per envelope, bad ones with ``parse_error``."""
    if not files:
        return empty_bronze(CHANNEL)
    prefixes: dict[Path, str] = {}
    locations = [_source_location(path, landing_root, prefixes) for path in files]
    # A segment is read as far as the index has recorded it: lines appended after that are not
    # acknowledged yet (and would be cut if their sync failed). Segments it does not know are read
    # whole (complete lines only).
    indexed = indexed_lengths(landing_root) if any(p.suffix == SEGMENT_SUFFIX for p in files) else {}
    reads = [(path, indexed.get(location)) for path, location in zip(files, locations)]
    batches = [reads[i : i + READ_BATCH] for i in range(0, len(reads), READ_BATCH)]
    with ThreadPoolExecutor(READ_THREADS) as readers:
        contents = [content for batch in readers.map(_read, batches) for content in batch]
    return to_bronze(
        CHANNEL,
        [
            _with_receipt_time(row, path)
            for path, content, location in zip(files, contents, locations)
            for row in _parse_file(path, content, location)
        ],
    )
