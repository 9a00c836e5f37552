"""The webhook receiver's storage: group commit into append-only segments, exactly once.

Group commit: verified events queue for one writer thread, which stores whatever queued while the
previous batch was being made durable as one batch, so under load many events share one append and
one commit, and a lone event waits for nobody. Events are appended, one envelope per line, to the
writer's segment of their receipt window, ``landing/social_media/date=YYYY-MM-DD/HHMM/<segment>.jsonl``
(the folder is the 15-minute UTC window of receipt: the event's partition), so a window holds a few
files however many events it receives.

Exactly once on disk, under any crash: a batch's lines are appended and fdatasync'd first, its ids
recorded in the index (``landing/social_media/_ids.sqlite``: each id's segment, each segment's
indexed length) in one durable commit second, and only then does any of its deliveries get its 202.
Readers stop at a segment's indexed length. When the writer starts, and after any batch that
failed, ``recover`` indexes the whole lines past a segment's indexed length (durable, but not
indexed) and cuts a torn last line (never acknowledged), in every segment the index knows, before
the next batch is stored. A delivery whose id is indexed and whose file exists is a replay: 200,
nothing written. One receiver at a time: the writer holds a lock on the landing folder.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import queue
import sqlite3
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from complaints_platform.lib.lake import fsync_path, make_private_dir
from complaints_platform.lib.social_media import (
    LandedIds,
    channel_dir,
    complete_lines,
    ids_dir,
    receipt_window,
    segment_name,
    window_dir,
)

MAX_BATCH = 1024  # events per commit at most: bounds a batch's wait under a flood
MAX_BATCH_BYTES = 16 * 1_048_576  # and its bodies' size (a body can be up to 1 MiB)
logger = logging.getLogger(__name__)


def _iso_utc(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Delivery:
    """A verified event waiting for its batch; ``done`` resolves to True (stored) or False (a
    replay of an id already landed)."""

    webhook_id: str
    webhook_timestamp: int
    body_text: str
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    done: Future = field(default_factory=Future)

    def envelope(self) -> bytes:
        return json.dumps(
            {
                "webhook_id": self.webhook_id,
                "webhook_timestamp": self.webhook_timestamp,
                "received_at": _iso_utc(self.received_at),
                "body": self.body_text,
            },
            ensure_ascii=False,
        ).encode("utf-8")


class SegmentWriter:
    """This receiver's open segments, one per receipt window, appended to and never rewritten.
    Each receiver run (and each reopening after a failed batch) writes its own segments
    (``<opened HHMMSSffffff>-<writer id>.jsonl``), so no file is ever appended to by two writers,
    nor after a crash tore its end. A segment is noted in the index before its file is made."""

    KEEP_OPEN = 2  # the current window and the one before (a batch can straddle the boundary)

    def __init__(self, landing_root: Path, ids: LandedIds) -> None:
        self.landing_root = landing_root
        self.ids = ids
        self.writer_id = uuid.uuid4().hex[:12]
        self._open: dict[datetime, tuple[int, str, int]] = {}  # window -> (fd, location, size)

    def append(self, window: datetime, data: bytes) -> tuple[str, int]:
        """Append whole lines and make them durable; (segment, relative to the landing root; its
        length after them). On failure the segment is cut back to what it held before."""
        fd, location, size = self._open.get(window) or self._create(window)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fdatasync(fd)
        except OSError:
            try:
                os.ftruncate(fd, size)
                os.fdatasync(fd)
            except OSError:  # cannot restore it: never append to it again (recovery cuts it)
                del self._open[window]
                _close_quietly(fd)
            raise
        self._open[window] = (fd, location, size + len(data))
        for stale in sorted(self._open)[: -self.KEEP_OPEN]:
            _close_quietly(self._open.pop(stale)[0])
        return location, size + len(data)

    def stamp(self, window: datetime) -> None:
        """Set the segment's mtime to now, after its lines are indexed: a sensor that sees the
        change starts a run that reads them (readers stop at the indexed length)."""
        if window in self._open:
            os.utime(self._open[window][0])

    def _create(self, window: datetime) -> tuple[int, str, int]:
        folder = window_dir(self.landing_root, window)
        # make_private_dir restricts only the folder it is given (mkdir -p leaves parents at the
        # umask), so every level holding raw posts is made owner-only explicitly.
        for level in (self.landing_root, channel_dir(self.landing_root), folder.parent, folder):
            make_private_dir(level)
        path = folder / segment_name(datetime.now(UTC), self.writer_id)
        location = path.relative_to(self.landing_root).as_posix()
        self.ids.register_segment(location)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fsync_path(folder)  # the new name survives a power loss
        except OSError:
            _close_quietly(fd)
            raise
        self._open[window] = (fd, location, 0)
        return self._open[window]

    def close(self) -> None:
        for fd, _, _ in self._open.values():
            _close_quietly(fd)
        self._open.clear()


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def store_batch(ids: LandedIds, writer: SegmentWriter, batch: list[Delivery]) -> list[bool]:
    """Land a batch exactly once: for each delivery, whether it was stored (False: already landed,
    or an earlier delivery of the same id in this batch). Blocking IO.

    Appended first (durably), indexed second, in one commit: a failure or crash between the two
    leaves durable lines the index does not know yet, which ``recover`` indexes before the next
    batch is stored, so a retry of one of them is a replay.
    """
    stored, seen = [], set()
    by_window: dict[datetime, list[Delivery]] = {}
    for delivery in batch:
        new = delivery.webhook_id not in seen and not ids.is_landed(delivery.webhook_id)
        seen.add(delivery.webhook_id)
        stored.append(new)
        if new:
            by_window.setdefault(receipt_window(delivery.received_at), []).append(delivery)
    locations: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for window, deliveries in sorted(by_window.items()):
        segment, size = writer.append(window, b"".join(d.envelope() + b"\n" for d in deliveries))
        locations.update((d.webhook_id, segment) for d in deliveries)
        sizes[segment] = size
    if locations:
        ids.record(locations, sizes)
        for window in by_window:
            writer.stamp(window)
    return stored


def recover(landing_root: Path, ids: LandedIds) -> int:
    """Make the index whole again after a crash or a failed batch; how many ids it had missed.
    In every segment the index knows whose file is longer than its indexed length, the whole lines
    past that length (appended durably; the writer died or failed before indexing them) are
    indexed, a torn last line (never acknowledged) is cut off, and the file is stamped so the
    sensor reads it again."""
    missed: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for location, known in ids.segments():
        segment = landing_root / location
        try:
            if segment.stat().st_size <= known:
                continue
        except FileNotFoundError:  # noted, but the writer died before making it
            continue
        with open(segment, "r+b") as handle:
            handle.seek(known)
            tail = handle.read()
            whole = tail.rfind(b"\n") + 1
            if whole < len(tail):
                handle.truncate(known + whole)
                os.fsync(handle.fileno())
        for line in complete_lines(tail[:whole]):
            try:
                missed[json.loads(line)["webhook_id"]] = location
            except (ValueError, KeyError, TypeError, RecursionError):
                continue  # not an envelope: bronze quarantines the line
        sizes[location] = known + whole
    if sizes:
        ids.record(missed, sizes)
        for location in sizes:
            os.utime(landing_root / location)
        logger.warning("recovered %d unindexed events in %d segments", len(missed), len(sizes))
    return len(missed)


class _Store:
    """What the writer thread holds while storing: the landing folder's lock (one receiver at a
    time), the index and the open segments."""

    LOCK_NAME = "_receiver.lock"

    def __init__(self, landing_root: Path) -> None:
        make_private_dir(landing_root)
        make_private_dir(channel_dir(landing_root))
        self._lock = os.open(channel_dir(landing_root) / self.LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _close_quietly(self._lock)
            raise OSError(f"another receiver is storing into {landing_root}") from None
        self.ids: LandedIds | None = None
        self.writer: SegmentWriter | None = None
        try:
            self.ids = LandedIds(landing_root)
            recover(landing_root, self.ids)
            self.writer = SegmentWriter(landing_root, self.ids)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.ids is not None:
            try:
                self.ids.close()
            except sqlite3.Error:
                pass
        _close_quietly(self._lock)  # closing the descriptor releases the lock


class GroupCommitter:
    """One writer thread storing queued deliveries a batch at a time (see the module docstring)."""

    def __init__(
        self, landing_root: Path, max_batch: int = MAX_BATCH, max_batch_bytes: int = MAX_BATCH_BYTES
    ) -> None:
        self.landing_root = landing_root
        self.max_batch = max_batch
        self.max_batch_bytes = max_batch_bytes
        self._queue: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopping = False

    def start(self) -> None:
        """Start the writer (it recovers the index at once); idempotent. ``submit`` also starts it."""
        with self._lock:
            self._ensure_running()

    def _ensure_running(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="webhook-commit", daemon=True)
            self._thread.start()

    def submit(self, delivery: Delivery) -> Future:
        with self._lock:
            if self._stopping:
                delivery.done.set_exception(OSError("the receiver is shutting down"))
                return delivery.done
            self._ensure_running()
            self._queue.put(delivery)
        return delivery.done

    def stop(self) -> None:
        """Store what is queued, then stop the writer."""
        with self._lock:
            self._stopping = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()

    def _next_batch(self) -> tuple[list[Delivery], bool]:
        """The deliveries queued now (at least one, waiting for it), up to the batch limits;
        whether the stop sentinel came. Deliveries whose request was cancelled are dropped."""
        batch: list[Delivery] = []
        size, stopping, item = 0, False, self._queue.get()
        while True:
            if item is None:
                stopping = True
                break
            if item.done.set_running_or_notify_cancel():
                batch.append(item)
                size += len(item.body_text)
            if len(batch) >= self.max_batch or size >= self.max_batch_bytes:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return batch, stopping

    def _run(self) -> None:
        """Store batch after batch. The store is opened, and ``recover`` run, when the thread
        starts and again after any batch that failed: whatever that batch left half done (lines
        appended but not indexed) is made whole before the next is stored."""
        store: _Store | None = None
        try:
            try:
                store = _Store(self.landing_root)
            except Exception as exc:  # tried again with the first batch, which gets the error
                logger.warning("webhook store not opened yet: %s", exc)
            stopping = False
            while not stopping:
                batch, stopping = self._next_batch()
                if not batch:
                    continue
                try:
                    store = store or _Store(self.landing_root)
                    results = store_batch(store.ids, store.writer, batch)
                except Exception as exc:  # nothing of this batch is acknowledged; senders retry
                    for delivery in batch:
                        delivery.done.set_exception(exc)
                    if store is not None:
                        store.close()
                        store = None
                else:
                    for delivery, stored in zip(batch, results):
                        delivery.done.set_result(stored)
        finally:
            if store is not None:
                store.close()
            self._fail_queued()

    def _fail_queued(self) -> None:
        """Answer whatever is still queued when the writer ends (it is not stored)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None and item.done.set_running_or_notify_cancel():
                item.done.set_exception(OSError("the receiver stopped before storing this event"))


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


