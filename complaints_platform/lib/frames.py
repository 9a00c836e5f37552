"""Memory of frames: what a kept polars frame must not hold on to, which allocator Arrow uses, and
freed memory given back to the system between the phases of a step; and a large table cut to the
keys a small frame holds before it is looked up."""

from __future__ import annotations

import ctypes
import gc
from functools import cache

import polars as pl
import polars.selectors as cs


def compacted(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its string columns copied into buffers of their own.

    A polars string column is views into shared buffers. A filter, slice, gather or join of a large
    frame makes new views into the large frame's buffers and does not copy the bytes
    (pola-rs/polars#19497), so a few rows kept after the large frame is gone still hold all of its
    text: measured, the cleaned step's small per-bucket frames (duplicates, the review queue, a
    preview) held 0.3 GiB a bucket of 1M records. A frame kept across the chunks or buckets of a day
    goes through this. Appending the empty string makes each value anew; the tests hold that it
    does."""
    return frame.with_columns(cs.string() + "")


def rows_among(table: pl.DataFrame, column: str, keys: pl.Series) -> pl.DataFrame:
    """The rows of ``table`` whose ``column`` is one of ``keys`` (nulls never are). A join or an
    ``is_in`` hashes its right side on every call; against a large table (a 5M customers' CRM) cut
    first with this, which hashes the few ``keys`` and probes the table, each of a day's many chunks
    or buckets costs a third of the time (1.2-1.3 s -> 0.4 s a chunk at 10M records)."""
    return table.filter(pl.col(column).is_in(keys.drop_nulls().implode()))


@cache
def use_arrow_jemalloc() -> str:
    """Arrow's allocations (Parquet read a batch at a time and written batch by batch) made by its
    jemalloc pool, which returns freed pages at once, where the build has it; the name of the pool
    in use. Arrow's default on Linux, mimalloc, kept about 130 MiB of freed pages after the 1M day's
    cleaned step and the step peaked 120-150 MiB higher (measured outside Dagster; same time)."""
    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # a build without jemalloc keeps its default
        pass
    return pa.default_memory_pool().backend_name


@cache
def _malloc_trim():
    # The C library this process already has (not ctypes.util.find_library, which runs ldconfig in
    # a subprocess: a fork of a large process is counted at its size by whoever sums the RSS of a
    # process tree, as the benchmark does). glibc only.
    try:
        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    except (OSError, TypeError):  # no such handle (Windows)
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def give_back() -> None:
    """Collect garbage and return the C heap's free pages to the system (glibc's ``malloc_trim``;
    elsewhere only the collection). Between phases of a step whose next phase allocates more: the
    heap keeps what numpy, scipy, torch and Python freed, and a step's peak is measured on top of
    it (the 1M day's categorise step: 55 MiB after the student's pass, 170 MiB with the teacher's
    encoder let go)."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
