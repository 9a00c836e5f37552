from __future__ import annotations

import os

import polars as pl
import pytest

from complaints_platform.lib.frames import _malloc_trim, compacted, give_back, use_arrow_jemalloc
from complaints_platform.lib.lake import parquet_batches


def _string_bytes(frame: pl.DataFrame) -> int:
    """Bytes of the data buffers the frame's string columns point into."""
    table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
    return sum(
        buffer.size
        for column in table.columns
        for chunk in column.chunks
        for buffer in chunk.buffers()[2:]  # validity, views, then the data buffers
        if buffer is not None
    )


def test_a_few_rows_kept_of_a_large_frame_hold_only_their_own_text():
    large = pl.DataFrame(
        {
            "location": pl.int_range(0, 100_000, eager=True).cast(pl.String) + "/bronze/segment-with-a-long-name",
            "n": pl.int_range(0, 100_000, eager=True),
            "note": None,
        },
        schema_overrides={"note": pl.String},
    )
    kept = large.filter(pl.col("n").is_in([5, 77_777, 99_999]))
    # What the helper is for: polars' filter shares the large frame's buffers (4 MB for 3 rows).
    assert _string_bytes(kept) > 3_000_000
    small = compacted(kept)
    assert _string_bytes(small) < 200
    assert small.equals(kept) and small.schema == kept.schema


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(_malloc_trim() is None or not os.path.exists("/proc/self/statm"), reason="glibc's malloc_trim and /proc are Linux's")
def test_memory_freed_on_the_c_heap_is_given_back_to_the_system():
    # 2,000 blocks of 100 kB sit on the heap (below glibc's mmap threshold); all but the last are
    # freed, and the last pins the heap's top, so free() alone returns none of it to the system.
    blocks = [bytearray(100_000) for _ in range(2_000)]
    for block in blocks:
        block[::4096] = b"x" * len(block[::4096])  # touched: resident
    last = blocks[-1]
    del blocks
    held = _rss_bytes()
    give_back()
    assert held - _rss_bytes() > 100_000_000
    assert len(last) == 100_000


def test_parquet_batches_are_read_into_arrows_jemalloc_pool(tmp_path):
    import pyarrow as pa

    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow build has no jemalloc")
    path = tmp_path / "texts.parquet"
    pl.DataFrame({"text": [f"complaint {n} " * 10 for n in range(20_000)]}).write_parquet(path)
    before = pool.bytes_allocated()
    batch = next(parquet_batches(path, None, 20_000))
    assert use_arrow_jemalloc() == "jemalloc" and pa.default_memory_pool().backend_name == "jemalloc"
    assert pool.bytes_allocated() - before > 2_000_000  # the batch's texts live in that pool
    assert batch.height == 20_000
