"""Where the cleaned step's time and memory go: the cleaned asset's day (``_clean_day``: screening,
the buckets, near-duplicates, the sorted write, the checks' summary) on one day of a lake, outside
Dagster, with the RSS of this process and its children (the masking helpers, DuckDB's sort) sampled
every 0.1 s and a mark at each phase.

    .venv/bin/python benchmarks/cleaned_step_trace.py LAKE DAY [--out DIR] [--rows-per-bucket N]

LAKE is a data directory the pipeline benchmark (or the demo) left, e.g.
/tmp/complaints-pipeline-bench/1M/lake, with the day's bronze and CRM customers in it; its
platform.env gives the PII key. The lake's files are not changed: the day's silver files are
staged beside them and discarded (the spill folder, inside LAKE, is removed too). With --out, the
four staged files are copied there first, to compare two versions of the code (or bucket sizes)
against each other or against the lake's own silver files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
import time
from pathlib import Path


import complaints_platform.lib.cleaning as cleaning
from complaints_platform.defs.cleaned import complaints as cleaned_asset
from complaints_platform.defs.resources import CleaningResource
from complaints_platform.lib import lake as lakelib
from complaints_platform.lib.phone_region import DEFAULT_REGION
from complaints_platform.lib.pii import PiiMasker
from complaints_platform.lib.review import current_decisions
from complaints_platform.lib.settings import Settings, read_env_file
from pipeline_benchmark import tree_sizes

PHASES = ("_copies_moved", "_idf_corpus", "earlier_candidates", "find_pairs", "resolve")
OUTPUTS = {
    "cleaned": "complaints_cleaned",
    "quarantine": "complaints_quarantine",
    "duplicates": "complaint_duplicates",
    "review": "duplicate_review_queue",
}


def tree_rss() -> int:
    """Bytes resident in this process and its children (counted as the pipeline benchmark counts them)."""
    return sum(tree_sizes(os.getpid()).values())


class Trace:
    def __init__(self) -> None:
        self.start, self.peak, self.peak_at = time.perf_counter(), 0, 0.0
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            rss = tree_rss()
            if rss > self.peak:
                self.peak, self.peak_at = rss, time.perf_counter() - self.start
            time.sleep(0.1)

    def mark(self, name: str) -> None:
        cpu = sum(os.times()[:2])  # this process's threads (helpers are not in it)
        print(f"{time.perf_counter() - self.start:8.1f} s  {cpu:8.1f} s cpu  {tree_rss() >> 20:7,} MiB now  "
              f"{self.peak >> 20:7,} MiB peak so far  {name}", flush=True)

    def wrap(self, module, name: str) -> None:
        inner = getattr(module, name)

        def traced(*args, **kwargs):
            self.mark(f"{name} starts")
            result = inner(*args, **kwargs)
            self.mark(f"{name} ends")
            return result

        setattr(module, name, traced)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lake", type=Path)
    parser.add_argument("day", help="YYYY-MM-DD")
    parser.add_argument("--out", type=Path, help="write the four frames here")
    parser.add_argument("--rows-per-bucket", type=int, default=Settings.cleaning_rows_per_bucket,
                        help="COMPLAINTS_CLEANING_ROWS_PER_BUCKET (default %(default)s)")
    args = parser.parse_args()
    env = read_env_file(args.lake / "platform.env")
    brand = [h for h in env.get("COMPLAINTS_BRAND_HANDLES", "").split(",") if h]

    trace = Trace()
    for name in PHASES:
        trace.wrap(cleaning, name)
    trace.wrap(lakelib, "write_sorted_parquet")
    masker = PiiMasker(env["COMPLAINTS_PII_KEY"], env.get("COMPLAINTS_PHONE_REGION", DEFAULT_REGION).upper())
    resource = CleaningResource(brand_handles=brand, rows_per_bucket=args.rows_per_bucket)
    with lakelib.StagedFiles() as staged:
        summary = cleaned_asset._clean_day(
            args.lake, args.day, staged, masker,
            cleaned_asset._prior_days(args.lake, args.day, {args.day}, staged),
            current_decisions(args.lake), resource, resource.brand_contacts(masker), Log(trace),
        )
        trace.mark("the day cleaned, staged and summarised")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            for name, asset in OUTPUTS.items():
                shutil.copyfile(staged.current(lakelib.silver_partition_path(args.lake, asset, args.day)), args.out / f"{name}.parquet")
            trace.mark("copied")
    # Leaving the block discards the staged files: the lake's own files stay as they were.
    print(f"accounting {summary.accounting}; peak {trace.peak >> 20:,} MiB at {trace.peak_at:.1f} s")


class Log:
    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def info(self, message: str) -> None:
        self.trace.mark(message)


if __name__ == "__main__":
    main()
