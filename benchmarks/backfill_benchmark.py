"""A month backfilled: one run per asset over the whole range, against one run per partition.

    .venv/bin/python benchmarks/backfill_benchmark.py --days 30 --per-day 3000 --sample 6

Every asset of the pipeline declares ``BackfillPolicy.single_run()``: a backfill of a range
(launched from the UI, or ``dagster asset materialize --partition-range``) is one run, and the asset
loops over the range's windows inside it. This measures what that buys, on the real Definitions
through the real ``dagster asset materialize`` CLI and the real SMS simulator over HTTP:

1. Generates ``--days`` days of landing inputs (``benchmarks/pipeline_data.py``, ``--per-day``
   received records a day over the four channels), the days ending 3 days before today. Not timed.
2. Setup on a template lake, not timed: fiscal calendar, category model, the CRM customers.
3. Single runs: (a) social media, SMS and web forms over every 15-minute window of the month (one
   run, ``days x 96`` partitions); (b) the call centre's 12-hour windows (one run); (c) the cleaned
   layer and the categories over the month's days (one run); (d) the dbt build and the analysts'
   copy (unpartitioned: one run either way). Wall time and peak RSS of each CLI process tree.
   Then the checks: bronze rows per day and channel = generated, the accounting equation per day,
   categorised = cleaned, and the marts' totals = the silver totals.
4. Per-partition runs, on a copy of that lake (its own Dagster instance): ``--sample`` 15-minute
   windows, ``--sample`` 12-hour windows and ``--sample`` days spread over the month, one CLI run
   each (a per-partition backfill launches exactly these runs). The month's per-partition cost is
   projected as median run x partitions: running all 2,880 would take hours. Every file such a
   run rewrote must be byte-identical to the single run's (same content, same row order).

Results: ``benchmarks/results/backfill-<days>d-<per_day>-<timestamp>.json`` (git-ignored) and a
table. All data lives under ``--root`` (default ``/tmp/complaints-backfill-bench``), never ./data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import polars as pl  # noqa: E402
from pipeline_benchmark import (  # noqa: E402
    BRONZE_ASSETS,
    CLEANED_LAYER,
    RESULTS,
    SMS_TOKEN,
    Bench,
    _brief,
    _file_digest,
    _link_tree,
    machine,
    median,
)

FIFTEEN_MINUTE_ASSETS = ["social_media_raw", "sms_raw", "web_forms_raw"]
DAILY_ASSETS = [*CLEANED_LAYER, "complaints_categorised"]


def spread(items: list, k: int) -> list:
    """``k`` items evenly spread over ``items``, first and last included."""
    if k >= len(items):
        return list(items)
    if k <= 1:
        return [items[len(items) // 2]]
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def digests(folder: Path) -> dict[str, str]:
    """Content hash of every Parquet file under ``folder``, by relative path."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet")) if not p.name.startswith(".")}


class BackfillBench(Bench):
    def __init__(self, args: argparse.Namespace):
        args.scale, args.repeat = args.per_day, 1
        args.root = args.root or "/tmp/complaints-backfill-bench"
        super().__init__(args)
        self.last_day = self.day
        self.first_day = self.day - timedelta(days=args.days - 1)
        self.days = [self.first_day + timedelta(days=i) for i in range(args.days)]

    # --- 1. inputs -----------------------------------------------------------------------------
    def generate(self) -> None:
        import pipeline_data

        manifest = self.inputs / "manifest.json"
        wanted = {"days": [d.isoformat() for d in self.days], "per_day": self.records, "seed": self.args.seed,
                  "customers_ratio": self.args.customers_ratio, "generator": _file_digest(Path(pipeline_data.__file__))}
        if self.args.reuse_data and manifest.exists() and json.loads(manifest.read_text()).get("wanted") == wanted:
            print(f"Reusing the inputs in {self.inputs}", flush=True)
            return
        if self.inputs.exists():
            shutil.rmtree(self.inputs)
        print(f"Generating {self.records:,} records a day for {len(self.days)} days in {self.inputs} ...", flush=True)
        started, customers, parts, totals = time.perf_counter(), None, [], {}
        for d in self.days:
            made = pipeline_data.generate(self.inputs, d, self.records, self.args.seed, self.args.customers_ratio,
                                          tag=f"d{d:%Y%m%d}", n_customers=customers)
            customers = customers or made.customers
            parts.append(made.sms_messages_file)
            for channel, n in made.per_channel.items():
                totals[channel] = totals.get(channel, 0) + n
        with open(self.inputs / "simulator" / "sms_messages-all.jsonl", "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)
        generated = {"seconds": round(time.perf_counter() - started, 1), "per_channel": totals,
                     "records": sum(totals.values()), "customers": customers}
        manifest.write_text(json.dumps({"wanted": wanted, "generated": generated}, indent=2))
        print(f"  generated in {generated['seconds']:.0f}s: {totals}", flush=True)

    def truth(self) -> pl.DataFrame:
        return pl.concat([pl.read_parquet(self.inputs / f"truth-d{d:%Y%m%d}.parquet").with_columns(day=pl.lit(d))
                          for d in self.days], how="diagonal_relaxed")

    # --- 2. setup (Bench.setup) ---------------------------------------------------------------
    def customer_days(self) -> tuple[str, str]:
        return self.first_day.isoformat(), self.last_day.isoformat()

    # --- 3. single runs ------------------------------------------------------------------------
    def single_runs(self, lake: Path) -> list[dict]:
        first, last = self.first_day.isoformat(), self.last_day.isoformat()
        print(f"Single runs over {first}..{last}:", flush=True)
        return [
            self.materialize(lake, "single-a-bronze-15min", FIFTEEN_MINUTE_ASSETS,
                             partition_range=(f"{first}-00:00", f"{last}-23:45")),
            self.materialize(lake, "single-b-bronze-call-centre", ["call_center_raw"],
                             partition_range=(f"{first}-00:00", f"{last}-12:00")),
            self.materialize(lake, "single-c-cleaned-categorised", DAILY_ASSETS, partition_range=(first, last)),
            self.materialize(lake, "single-d-marts", [*self.dbt_models, "analytics_duckdb"]),
        ]

    def verify(self, lake: Path) -> dict:
        import duckdb

        truth, checks = self.truth(), {}

        def rows(asset: str, day: date) -> int:
            return sum(pl.scan_parquet(f).select(pl.len()).collect().item()
                       for f in sorted((lake / "bronze" / asset / f"date={day}").glob("*.parquet")))

        def silver(asset: str) -> pl.DataFrame:
            return pl.concat([pl.read_parquet(lake / "silver" / asset / f"date={d}" / "part.parquet").with_columns(day=pl.lit(d))
                              for d in self.days], how="diagonal_relaxed")

        expected = {f"{d}|{c}": n for d, c, n in truth.group_by("day", "channel").len().iter_rows()}
        actual = {f"{d}|{c}": rows(a, d) for d in self.days for c, a in BRONZE_ASSETS.items()}
        actual = {k: v for k, v in actual.items() if v or k in expected}
        checks["bronze rows per day and channel = generated"] = expected == actual
        cleaned, quarantine, dups, categorised = (silver(a) for a in
                                                  ("complaints_cleaned", "complaints_quarantine", "complaint_duplicates", "complaints_categorised"))
        per_day = lambda f: dict(f.group_by("day").len().iter_rows())  # noqa: E731
        received = {d: sum(rows(a, d) for a in BRONZE_ASSETS.values()) for d in self.days}
        balanced = {d: per_day(cleaned).get(d, 0) + per_day(quarantine).get(d, 0) + per_day(dups).get(d, 0) for d in self.days}
        checks["every day: received = cleaned + quarantined + duplicates"] = received == balanced
        checks["quarantined = generated quarantined"] = quarantine.height == truth.filter(pl.col("outcome") == "quarantine").height
        checks["categorised rows = cleaned rows"] = categorised.height == cleaned.height
        with duckdb.connect(str(lake / "analytics.duckdb"), read_only=True) as con:
            q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
            checks["fct_complaints rows = cleaned rows"] = q("select count(*) from fct_complaints") == cleaned.height
            checks["mart_complaints_daily complaints = categorised is_complaint"] = (
                int(q("select coalesce(sum(complaints), 0) from mart_complaints_daily"))
                == categorised.filter(pl.col("is_complaint")).height)
            checks["fct_complaint_sources rows = cleaned + duplicates"] = (
                q("select count(*) from fct_complaint_sources") == cleaned.height + dups.height)
        return {"passed": all(checks.values()), "checks": checks, "received": sum(received.values()),
                "cleaned": cleaned.height, "quarantined": quarantine.height, "duplicates": dups.height}

    # --- 4. per-partition runs -----------------------------------------------------------------
    def copy_lake(self, source: Path, target: Path) -> None:
        """The lake's files hard-linked (the pipeline replaces files by rename, never in place), with
        a fresh Dagster instance of its own."""
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for part in source.iterdir():
            if part.name not in ("dagster_home", "platform.env"):
                _link_tree(part, target / part.name)
        home = target / "dagster_home"
        home.mkdir()
        shutil.copy2(source / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        (target / "platform.env").write_text("".join(f"{k}={v}\n" for k, v in sorted(self.env(target).items())
                                                     if k.startswith("COMPLAINTS_")))
        os.chmod(target / "platform.env", 0o600)

    def per_partition_runs(self, single: Path, lake: Path) -> dict:
        k = self.args.sample
        windows = [datetime(d.year, d.month, d.day, tzinfo=timezone.utc) + timedelta(minutes=15 * i)
                   for d in self.days for i in range(96)]
        halves = [datetime(d.year, d.month, d.day, tzinfo=timezone.utc) + timedelta(hours=12 * i) for d in self.days for i in range(2)]
        kinds = {
            "bronze-15min": (FIFTEEN_MINUTE_ASSETS, [f"{w:%Y-%m-%d-%H:%M}" for w in spread(windows, k)], len(windows), "bronze"),
            "bronze-call-centre": (["call_center_raw"], [f"{w:%Y-%m-%d-%H:%M}" for w in spread(halves, k)], len(halves), "bronze"),
            "cleaned-categorised": (DAILY_ASSETS, [d.isoformat() for d in spread(self.days, k)], len(self.days), "silver"),
        }
        self.copy_lake(single, lake)
        before = {layer: digests(single / layer) for layer in ("bronze", "silver")}
        out = {}
        for kind, (assets, partitions, total, layer) in kinds.items():
            print(f"Per-partition runs, {kind} ({len(partitions)} of {total}):", flush=True)
            runs = []
            for p in partitions:
                stamp = time.time()
                run = self.materialize(lake, f"per-{kind}-{p}", assets, partition=p)
                # Files this run replaced: written after it started (a rename gives the new inode its own mtime).
                rewritten = {rel: h for rel, h in digests(lake / layer).items()
                             if (lake / layer / rel).stat().st_mtime >= stamp}
                run["files_rewritten"] = len(rewritten)
                run["files_identical_to_single_run"] = sum(1 for rel, h in rewritten.items() if before[layer].get(rel) == h)
                runs.append(run)
            per_run = median([r["wall_seconds"] for r in runs])
            out[kind] = {
                "partitions_in_month": total, "sampled": partitions, "runs": [_brief(r) | {k2: r[k2] for k2 in
                                                                                          ("files_rewritten", "files_identical_to_single_run")}
                                                                             for r in runs],
                "all_ok": all(r["ok"] for r in runs),
                "median_run_seconds": per_run,
                "projected_month_seconds": round(per_run * total, 1) if per_run is not None else None,
                "files_rewritten": sum(r["files_rewritten"] for r in runs),
                "files_identical_to_single_run": sum(r["files_identical_to_single_run"] for r in runs),
            }
        return out


def print_summary(results: dict) -> None:
    single, per = results["single_run"], results["per_partition"]
    rows = [("bronze-15min", "single-a-bronze-15min"), ("bronze-call-centre", "single-b-bronze-call-centre"),
            ("cleaned-categorised", "single-c-cleaned-categorised")]
    print(f"\n{results['days']} days x {results['per_day']:,} records/day = {results['records']:,} records "
          f"(load average after: {results['machine'].get('loadavg_after')})")
    print(f"{'assets':22} {'partitions':>10} {'single run':>11} {'per-partition run':>18} {'all, projected':>16} {'speed-up':>9}")
    for kind, label in rows:
        s, p = single["runs"][label], per[kind]
        projected = p["projected_month_seconds"]
        speedup = f"{projected / s['wall_seconds']:.0f}x" if projected and s.get("wall_seconds") else "-"
        print(f"{kind:22} {p['partitions_in_month']:>10} {s['wall_seconds']:>10.1f}s {p['median_run_seconds']:>17.1f}s "
              f"{(projected or 0) / 3600:>15.2f}h {speedup:>9}")
    d = single["runs"]["single-d-marts"]
    print(f"{'dbt + analysts copy':22} {'-':>10} {d['wall_seconds']:>10.1f}s  (unpartitioned: one run either way)")
    print(f"single runs end to end: {single['total_seconds']:.1f}s, peak RSS {single['peak_rss_tree_mib']:.0f} MiB; "
          f"verification {'PASSED' if single['verification']['passed'] else 'FAILED'}")
    for name, ok in single["verification"]["checks"].items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    identical = sum(p["files_identical_to_single_run"] for p in per.values())
    rewritten = sum(p["files_rewritten"] for p in per.values())
    print(f"per-partition runs rewrote {rewritten} files; {identical} byte-identical to the single run's")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=3000, help="received records a day (default 3,000)")
    parser.add_argument("--sample", type=int, default=6, help="per-partition runs of each kind (default 6)")
    parser.add_argument("--day", help="the month's last day (default: 3 days before today, UTC)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers-ratio", type=float, default=0.5)
    parser.add_argument("--executor", choices=["in_process", "multiprocess"], default="in_process", help="COMPLAINTS_EXECUTOR of the runs")
    parser.add_argument("--root")
    parser.add_argument("--reuse-data", action="store_true")
    args = parser.parse_args()
    args.profile_rate, args.profile_idle = 50, False

    bench = BackfillBench(args)
    bench.root.mkdir(parents=True, exist_ok=True)
    results = {"benchmark": "backfill", "days": args.days, "per_day": args.per_day, "records": args.days * args.per_day,
               "first_day": bench.first_day.isoformat(), "last_day": bench.last_day.isoformat(), "executor": args.executor,
               "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
               "command": " ".join([Path(sys.executable).name, *sys.argv])}
    bench.generate()

    from complaints_platform.simulate.servers import cli_server, free_port

    os.environ["COMPLAINTS_SMS_API_TOKEN"] = SMS_TOKEN
    os.environ["COMPLAINTS_DATA_DIR"] = str(bench.root / "simulator")
    with cli_server(["sms-simulator", "--messages", str(bench.inputs / "simulator" / "sms_messages-all.jsonl")], free_port(),
                    bench.logs / "sms-simulator.log", timeout=120.0) as url:
        bench.sms_url = url
        bench.setup()
        single = bench.root / "lake-single"
        bench.fresh_day_lake(single)
        runs = bench.single_runs(single)
        results["single_run"] = {
            "runs": {r["label"]: _brief(r) for r in runs},
            "total_seconds": round(sum(r["wall_seconds"] for r in runs), 1),
            "peak_rss_tree_mib": max(r["peak_rss_tree_mib"] for r in runs),
        }
        if not all(r["ok"] for r in runs):
            print("a single run failed; see the logs above", flush=True)
            return 1
        results["single_run"]["verification"] = bench.verify(single)
        results["per_partition"] = bench.per_partition_runs(single, bench.root / "lake-per-partition")
    results["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"backfill-{args.days}d-{args.per_day}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print_summary(results)
    print(f"\nResults: {out}")
    per = results["per_partition"].values()
    ok = (results["single_run"]["verification"]["passed"] and all(p["all_ok"] for p in per)
          and all(p["files_identical_to_single_run"] == p["files_rewritten"] for p in per))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
