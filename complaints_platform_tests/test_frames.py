from __future__ import annotations

import polars as pl

from complaints_platform.lib.frames import compacted


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
