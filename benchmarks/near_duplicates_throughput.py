"""Measure near-duplicate throughput (find_pairs + resolve, records/s) at day-partition scale.

    .venv/bin/python benchmarks/near_duplicates_throughput.py [--records 100000 1000000] [--repeats 3]

The quality benchmark (near_duplicates_benchmark.py) plants a copy or a second complaint for half the
customers, so 70 % of its records share their contact; a real day is not like that. Here the same
generator (``simulate.near_duplicates.planted_set``) is run with few copies and few second
complaints, so that most contacts send one complaint and about 13 % of the records share their
contact with another record within two days. Generating the records is not timed. Writes
``benchmarks/results/near_duplicates_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from complaints_platform.lib.near_duplicates import find_pairs, resolve  # noqa: E402
from complaints_platform.simulate.near_duplicates import planted_set  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "near_duplicates_throughput.json"
# A copy of 3.5 % of complaints and a second complaint from 3.5 % of customers: about 13 % of the
# records share a contact (within two days: the generated days are two long).
REPEAT_SHARE = 0.035
RECORDS_PER_CUSTOMER = (1 + REPEAT_SHARE) ** 2


def realistic_day(records: int, seed: int = 1) -> pl.DataFrame:
    customers = round(records / RECORDS_PER_CUSTOMER)
    planted = planted_set(customers=customers, seed=seed, duplicate_share=REPEAT_SHARE, second_complaint_share=REPEAT_SHARE)
    return planted.records.drop("story_id", "kind").with_columns(pl.lit(True).alias("is_new"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    runs = []
    for size in args.records:
        day = realistic_day(size)
        shared = day.filter(pl.len().over("contact_token") > 1).height / day.height
        find_seconds, resolve_seconds, cpu_seconds = [], [], []
        for _ in range(args.repeats):
            started, cpu_started = time.perf_counter(), time.process_time()
            pairs = find_pairs(day)
            found = time.perf_counter()
            resolution = resolve(pairs)
            find_seconds.append(found - started)
            resolve_seconds.append(time.perf_counter() - found)
            cpu_seconds.append(time.process_time() - cpu_started)
        seconds = statistics.median(f + r for f, r in zip(find_seconds, resolve_seconds))
        run = {
            "records": day.height, "share_of_records_sharing_a_contact": round(shared, 4), "candidate_pairs": pairs.height,
            "merged": resolution.links.height, "queued": resolution.review.height,
            "seconds_find_pairs": round(statistics.median(find_seconds), 3),
            "seconds_resolve": round(statistics.median(resolve_seconds), 3),
            "seconds": round(seconds, 3), "records_per_second": round(day.height / seconds),
            # All threads' CPU time: less swayed than the wall clock by others on a shared machine.
            "cpu_seconds": round(statistics.median(cpu_seconds), 3),
        }
        runs.append(run)
        print(json.dumps(run))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"repeats": args.repeats, "statistic": "median", "runs": runs}, indent=2))
    print(f"written {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
