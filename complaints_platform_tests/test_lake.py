"""The lake on disk: whole-file atomic replacement, owner-only raw layers, partition windows."""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from complaints_platform.lib import lake


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def _umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


# --- atomic writes -----------------------------------------------------------------------------


def test_rewrite_replaces_the_whole_file(tmp_path):
    target = lake.silver_partition_path(tmp_path, "complaints_cleaned", "2026-11-21")
    lake.write_parquet_atomic(pl.DataFrame({"id": [1, 2, 3], "text": ["a", "b", "c"]}), target)
    lake.write_parquet_atomic(pl.DataFrame({"id": [9], "text": ["z"]}), target)
    assert pl.read_parquet(target).to_dict(as_series=False) == {"id": [9], "text": ["z"]}
    # Only the target is left in the folder: no temporary files.
    assert [p.name for p in target.parent.iterdir()] == ["part.parquet"]


def test_rewriting_the_same_frame_twice_gives_the_same_rows(tmp_path):
    frame = pl.DataFrame({"id": [1, 2], "at": [_utc(2026, 11, 21), _utc(2026, 11, 22)]})
    target = tmp_path / "x" / "part.parquet"
    lake.write_parquet_atomic(frame, target)
    lake.write_parquet_atomic(frame, target)
    assert pl.read_parquet(target).equals(frame)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "part.parquet"
    lake.write_parquet_atomic(pl.DataFrame({"id": [1]}), target)
    with pytest.raises(RuntimeError):
        with lake.atomic_path(target) as tmp:
            tmp.write_bytes(b"half a file")
            raise RuntimeError("disk full")
    assert pl.read_parquet(target).get_column("id").to_list() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["part.parquet"]


def test_staged_files_are_put_in_place_together_on_commit(tmp_path):
    old, new = pl.DataFrame({"x": [1]}), pl.DataFrame({"x": [2, 3]})
    first, second = tmp_path / "date=2026-11-20" / "part.parquet", tmp_path / "date=2026-11-21" / "part.parquet"
    lake.write_parquet_atomic(old, first)
    with lake.StagedFiles() as staged:
        staged_first = staged.write_parquet(new, first)
        staged.write_parquet(new, second)
        # Until the commit, readers see the old file only; the run itself reads what it staged.
        assert pl.read_parquet(first).equals(old) and not second.exists()
        assert sorted(tmp_path.glob("*/*.parquet")) == [first]
        assert staged.current(first) == staged_first and pl.read_parquet(staged.current(first)).equals(new)
        assert staged.current(tmp_path / "date=2026-11-22" / "part.parquet") is None
        assert staged.commit() == [first, second]
    assert pl.read_parquet(first).equals(new) and pl.read_parquet(second).equals(new)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["part.parquet", "part.parquet"]


def test_staged_files_not_committed_are_deleted_and_the_old_files_kept(tmp_path):
    old = pl.DataFrame({"x": [1]})
    target = tmp_path / "date=2026-11-20" / "part.parquet"
    lake.write_parquet_atomic(old, target)
    with pytest.raises(RuntimeError, match="a blocking check failed"):
        with lake.StagedFiles() as staged:
            staged.write_parquet(pl.DataFrame({"x": [2]}), target)
            staged.write_parquet(pl.DataFrame({"x": [3]}), target)  # staged twice: the first copy goes at once
            staged.write_parquet(pl.DataFrame({"x": [4]}), tmp_path / "date=2026-11-21" / "part.parquet")
            assert len([p for p in tmp_path.rglob(".*") if p.is_file()]) == 2
            raise RuntimeError("a blocking check failed")
    assert pl.read_parquet(target).equals(old)
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()] == ["date=2026-11-20/part.parquet"]


def _age(path: Path, seconds: float) -> None:
    os.utime(path, (path.stat().st_atime - seconds, path.stat().st_mtime - seconds))


def test_a_killed_runs_staged_files_are_swept_by_the_next_run_but_a_live_runs_are_not(tmp_path):
    target = tmp_path / "date=2026-11-20" / "part[1].parquet"  # a glob character in the name
    target.parent.mkdir()
    killed = target.with_name(".part[1].parquet.0123abcd.tmp")  # staged, then the process was SIGKILLed
    live = target.with_name(".part[1].parquet.4567cdef.tmp")  # another run's, staged a minute ago
    other = target.with_name(".part2.parquet.89abcdef.tmp")  # an old one of another partition: its own run sweeps it
    for path in (killed, live, other):
        path.write_bytes(b"half a file")
    day_and_a_bit = (lake.STALE_TEMP_AGE + timedelta(hours=1)).total_seconds()
    _age(killed, day_and_a_bit)
    _age(other, day_and_a_bit)
    with lake.StagedFiles() as staged:
        staged.write_parquet(pl.DataFrame({"x": [1]}), target)
        staged.commit()
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([other.name, live.name, target.name])


def test_a_long_runs_staged_files_stay_young_so_another_run_never_sweeps_them(tmp_path):
    first, second = tmp_path / "date=2026-11-20" / "part.parquet", tmp_path / "date=2026-11-21" / "part.parquet"
    with lake.StagedFiles() as backfill:
        staged_first = backfill.write_parquet(pl.DataFrame({"x": [1]}), first)
        _age(staged_first, (lake.STALE_TEMP_AGE + timedelta(hours=1)).total_seconds())  # a day of work later
        backfill.write_parquet(pl.DataFrame({"x": [2]}), second)
        with lake.StagedFiles() as other_run:  # a run of the first day meanwhile
            other_run.write_parquet(pl.DataFrame({"x": [9]}), first)
        assert staged_first.exists()
        backfill.commit()
    assert pl.read_parquet(first)["x"].to_list() == [1] and pl.read_parquet(second)["x"].to_list() == [2]


def test_write_bytes_atomic(tmp_path):
    target = tmp_path / "landing" / "sms" / "page.json"
    lake.write_bytes_atomic(b'{"a": 1}', target)
    lake.write_bytes_atomic(b"{}", target)
    assert target.read_bytes() == b"{}"
    assert [p.name for p in target.parent.iterdir()] == ["page.json"]


def test_private_write_makes_every_created_folder_and_the_file_owner_only(tmp_path):
    root = tmp_path / "data"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    target = lake.bronze_partition_path(root, "sms_raw", _utc(2026, 11, 21, 14, 15))
    with _umask(0o000):  # a permissive umask must not leak into raw-PII folders
        lake.write_parquet_atomic(pl.DataFrame({"phone": ["+447700900123"]}), target, private=True)
    assert target == root / "bronze" / "sms_raw" / "date=2026-11-21" / "1415.parquet"
    for folder in (root / "bronze", root / "bronze" / "sms_raw", target.parent):
        assert _mode(folder) == 0o700, folder
    assert _mode(target) == 0o600
    assert _mode(root) == 0o755, "an existing folder is not changed"
    assert pl.read_parquet(target).get_column("phone").to_list() == ["+447700900123"]

    # A second file in the same, now existing, folder is private too.
    second = lake.bronze_partition_path(root, "sms_raw", _utc(2026, 11, 21, 14, 30))
    lake.write_bytes_atomic(b"raw", second, private=True)
    assert _mode(second) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["1415.parquet", "1430.parquet"]


def test_make_private_dir_on_an_existing_folder_is_a_no_op(tmp_path):
    assert lake.make_private_dir(tmp_path) == tmp_path
    nested = lake.make_private_dir(tmp_path / "a" / "b")
    assert nested.is_dir()
    assert _mode(tmp_path / "a") == _mode(nested) == 0o700


# --- reading partitions ------------------------------------------------------------------------


def test_read_parquet_files(tmp_path):
    schema = {"id": pl.Int64, "text": pl.String}
    assert lake.read_parquet_files([], schema).schema == pl.Schema(schema)
    day = "2026-11-21"
    assert lake.bronze_files_for_day(tmp_path, "sms_raw", day) == []
    for minute, ids in ((30, [3]), (0, [1, 2])):
        lake.write_parquet_atomic(
            pl.DataFrame({"id": ids}), lake.bronze_partition_path(tmp_path, "sms_raw", _utc(2026, 11, 21, 14, minute))
        )
    files = lake.bronze_files_for_day(tmp_path, "sms_raw", day)
    assert [f.name for f in files] == ["1400.parquet", "1430.parquet"]
    assert lake.read_parquet_files(files, schema).get_column("id").to_list() == [1, 2, 3]


def test_parquet_chunks_gather_small_files_and_split_large_ones_in_order(tmp_path):
    schema = {"id": pl.Int64, "extra": pl.String}
    files = []
    for n, ids in enumerate([[1, 2, 3], [], [4, 5, 6, 7, 8], [9]]):
        files.append(tmp_path / f"{n}.parquet")
        frame = pl.DataFrame({"id": ids}, schema={"id": pl.Int64})
        (frame.with_columns(pl.lit("x").alias("extra")) if n == 3 else frame).write_parquet(files[-1], row_group_size=2)
    chunks = list(lake.parquet_chunks(files, 4, schema))
    assert [c.height for c in chunks] == [7, 2]  # 3 + the large file's first batch of 4; its last row + 1
    assert pl.concat(chunks, how="diagonal_relaxed").get_column("id").to_list() == list(range(1, 10))
    assert chunks[-1].get_column("extra").to_list() == [None, "x"]
    assert [c.schema for c in lake.parquet_chunks([], 4, schema)] == [pl.Schema(schema)]


# --- windows -----------------------------------------------------------------------------------


def test_frames_written_as_they_come_read_back_in_batches(tmp_path):
    schema = {"id": pl.String, "at": pl.Datetime("us", "UTC"), "n": pl.Int32}
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    frames = [pl.DataFrame({"id": [f"r{i}", f"s{i}"], "at": [at, at + timedelta(hours=i)], "n": [i, None]}, schema=schema) for i in range(3)]
    target = tmp_path / "out.parquet"
    lake.write_parquet_batches(iter(frames), target, schema)
    whole = pl.concat(frames)
    assert pl.read_parquet(target).equals(whole) and pl.read_parquet(target).schema == pl.Schema(schema)
    batches = list(lake.parquet_batches(target, None, 4))
    assert [b.height for b in batches] == [4, 2] and pl.concat(batches).equals(whole)
    assert pl.concat(lake.parquet_batches(target, ["n"], 5)).equals(whole.select("n"))
    assert lake.parquet_rows([target, target]) == 12 and lake.parquet_rows([]) == 0

    lake.write_parquet_batches(iter([]), target, schema)  # nothing: an empty file of the schema
    assert pl.read_parquet(target).schema == pl.Schema(schema) and pl.read_parquet(target).height == 0


def test_files_sorted_together_beyond_memory(tmp_path):
    """write_sorted_parquet: the rows of several files in one order, in a file polars reads back in
    the same types (DuckDB writes it, spilling to the folder given)."""
    schema = {"at": pl.Datetime("us", "UTC"), "id": pl.String, "n": pl.Int32}
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    parts = [
        pl.DataFrame({"at": [at + timedelta(minutes=m) for m in minutes], "id": ids, "n": [1] * len(ids)}, schema=schema)
        for minutes, ids in (([5, 1, 1], ["b", "z", "a"]), ([3, 1], ["c", "m"]))
    ]
    files = []
    for n, part in enumerate(parts):
        files.append(tmp_path / f"part-{n}.parquet")
        part.write_parquet(files[-1])
    lake.write_sorted_parquet(files, tmp_path / "sorted.parquet", ["at", "id"], tmp_path)
    result = pl.read_parquet(tmp_path / "sorted.parquet")
    assert result.schema == pl.Schema(schema)
    assert result.equals(pl.concat(parts).sort("at", "id"))
    assert result["id"].to_list() == ["a", "m", "z", "c", "b"]


def test_split_windows():
    start = _utc(2026, 11, 21, 14)
    assert lake.split_windows(start, start + timedelta(hours=1), 15) == [
        _utc(2026, 11, 21, 14, m) for m in (0, 15, 30, 45)
    ]
    assert lake.split_windows(start, start, 15) == []
    assert lake.split_windows(start, start - timedelta(hours=1), 15) == []
    # A range that is not a whole number of windows is covered by a last, partial one.
    assert lake.split_windows(start, start + timedelta(minutes=40), 15) == [
        _utc(2026, 11, 21, 14, m) for m in (0, 15, 30)
    ]
    # Across midnight.
    assert lake.split_windows(_utc(2026, 11, 21, 23, 45), _utc(2026, 11, 22, 0, 15), 15) == [
        _utc(2026, 11, 21, 23, 45),
        _utc(2026, 11, 22, 0, 0),
    ]


def test_days_between():
    assert lake.days_between(_utc(2026, 11, 21), _utc(2026, 11, 22)) == ["2026-11-21"]
    assert lake.days_between(_utc(2026, 11, 21), _utc(2026, 11, 21)) == []
    assert lake.days_between(_utc(2026, 12, 30), _utc(2027, 1, 2)) == ["2026-12-30", "2026-12-31", "2027-01-01"]
    # UTC days have 24 hours even on a DST change in London.
    assert lake.days_between(_utc(2026, 3, 28), _utc(2026, 3, 31)) == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert lake.days_between(_utc(2028, 2, 28), _utc(2028, 3, 1)) == ["2028-02-28", "2028-02-29"]


@pytest.mark.parametrize(
    ("now", "step", "expected"),
    [
        (_utc(2026, 11, 21, 14, 7, 33), 15, _utc(2026, 11, 21, 13, 45)),
        # Exactly on a boundary: the window that just closed.
        (_utc(2026, 11, 21, 14, 0), 15, _utc(2026, 11, 21, 13, 45)),
        (_utc(2026, 11, 21, 14, 14, 59, 999_999), 15, _utc(2026, 11, 21, 13, 45)),
        # Just after midnight: the last window of the previous day.
        (_utc(2026, 11, 21, 0, 5), 15, _utc(2026, 11, 20, 23, 45)),
        (_utc(2027, 1, 1, 0, 0), 15, _utc(2026, 12, 31, 23, 45)),
        (_utc(2026, 11, 21, 14, 7), 60, _utc(2026, 11, 21, 13, 0)),
        (_utc(2026, 11, 21, 14, 7), 24 * 60, _utc(2026, 11, 20, 0, 0)),
        # An aware time in another zone is read as the same instant in UTC.
        (datetime(2026, 7, 21, 15, 7, tzinfo=timezone(timedelta(hours=1))), 15, _utc(2026, 7, 21, 13, 45)),
    ],
)
def test_previous_window_start(now, step, expected):
    result = lake.previous_window_start(now, step)
    assert result == expected
    assert result.utcoffset() == timedelta(0)


def test_window_start_contains_the_moment():
    assert lake.window_start(_utc(2026, 11, 21, 14, 7), 15) == _utc(2026, 11, 21, 14, 0)
    assert lake.window_start(_utc(2026, 11, 21, 14, 15), 15) == _utc(2026, 11, 21, 14, 15)
    assert lake.window_start(_utc(2026, 11, 21, 0, 0), 15) == _utc(2026, 11, 21, 0, 0)


def test_paths():
    root = Path("/lake")
    assert lake.window_file_name(_utc(2026, 11, 21, 9, 5)) == "0905.parquet"
    assert lake.silver_partition_path(root, "complaints_cleaned", "2026-11-21") == Path(
        "/lake/silver/complaints_cleaned/date=2026-11-21/part.parquet"
    )
    assert lake.silver_glob(root, "complaints_cleaned") == "/lake/silver/complaints_cleaned/*/*.parquet"


def test_a_day_folder_is_named_by_its_iso_day_only():
    """The one rule every reader of date= folders follows (the cleaned layer's earlier days, the
    warehouse's changed days, the landing windows): any other name is no day's folder."""
    assert lake.day_of_folder("date=2026-11-20") == "2026-11-20"
    assert lake.date_dir(Path("/x"), "silver", "a", "2026-11-20").name == "date=2026-11-20"
    for name in ("date=20261120", "date=2026-11-20.bak", "date=2026-1-5", "date=old", "date=", "2026-11-20", "restored"):
        assert lake.day_of_folder(name) is None, name
