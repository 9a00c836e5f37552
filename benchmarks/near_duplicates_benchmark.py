"""Measure near-duplicate merging on planted duplicates of known truth: precision, recall, the review
queue, and speed.

    .venv/bin/python benchmarks/near_duplicates_benchmark.py [--customers 5000] [--seeds 11 12 13]

For each seed, ``simulate.near_duplicates.planted_set`` makes complaints of ``--customers``
customers over two days: each complaint (a "story") may be sent again, in another channel's register
or reposted with typos and a "still waiting" lead, and a third of the customers make a second,
different complaint within two days, half of them on the same channel in the same boilerplate (the
hard negatives). ``lib.near_duplicates`` finds and decides the pairs with the platform's thresholds
(and a few others, to show the trade-off). Writes ``benchmarks/results/near_duplicates.json``.
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

from complaints_platform.lib.near_duplicates import MERGE_AT, REVIEW_AT, Thresholds, find_pairs, resolve  # noqa: E402
from complaints_platform.simulate.near_duplicates import planted_set, score_merge  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "near_duplicates.json"
ALTERNATIVES = [(0.85, 0.6), (0.70, 0.45)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13])
    args = parser.parse_args()

    runs = []
    for seed in args.seeds:
        planted = planted_set(customers=args.customers, seed=seed)
        started = time.perf_counter()
        pairs = find_pairs(planted.records.with_columns(pl.lit(True).alias("is_new")))
        seconds = time.perf_counter() - started
        scores = {}
        for merge_at, review_at in [(MERGE_AT, REVIEW_AT), *ALTERNATIVES]:
            resolution = resolve(pairs, None, Thresholds(merge_at, review_at))
            scores[f"merge>={merge_at} review>={review_at}"] = score_merge(planted, resolution.links, resolution.review).as_dict()
        runs.append({
            "seed": seed, "records": planted.records.height, "planted_duplicates": planted.duplicates,
            "candidate_pairs": pairs.height, "seconds_find_and_score": round(seconds, 3),
            "records_per_second": round(planted.records.height / seconds), "scores": scores,
        })
        platform = scores[f"merge>={MERGE_AT} review>={REVIEW_AT}"]
        print(f"seed {seed}: {planted.records.height} records, {planted.duplicates} planted duplicates, "
              f"{pairs.height} pairs scored in {seconds:.2f}s")
        for name, score in scores.items():
            print(f"  {name:24} precision {score['precision']:.4f}  recall {score['recall']:.4f}  "
                  f"queued {score['queued']:4} ({score['queued_true']} true)  recall after review {score['recall_after_review']:.4f}")
        assert platform["merged"] > 0

    key = f"merge>={MERGE_AT} review>={REVIEW_AT}"
    summary = {
        name: statistics.median(run["scores"][key][name] for run in runs)
        for name in ("precision", "recall", "recall_after_review")
    }
    summary["queued_share_of_records"] = statistics.median(run["scores"][key]["queued"] / run["records"] for run in runs)
    summary["records_per_second"] = statistics.median(run["records_per_second"] for run in runs)
    print(f"median over {len(runs)} seeds at the platform's thresholds ({key}): {json.dumps(summary)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"thresholds": key, "median": summary, "runs": runs}, indent=2))
    print(f"written {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
