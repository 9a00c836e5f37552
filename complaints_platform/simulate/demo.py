"""The demo: a generated day of complaints sent through the real edges, then the whole asset graph.

1. Generate a day (``simulate/generator.py``): every channel, with typos, PII, duplicates, late
   and malformed records.
2. Send it in as production would: signed webhooks POSTed to the receiver over HTTP; SMS served by
   the provider simulator over HTTP and pulled by the asset; call-centre CSVs dropped in the folder;
   form rows written to the OLTP database (SQLite) with a later round of updates; a CRM snapshot.
3. Materialize every asset on the persistent Dagster instance (so the UI shows the runs): sources
   as partition-range runs, then the cleaned layer, categories, dbt and the analysts' copy.
4. Print what landed where.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb
import httpx
from standardwebhooks.webhooks import Webhook

from complaints_platform import runtime
from complaints_platform.runtime import run_assets
from complaints_platform.lib import lake
from complaints_platform.lib.silver import CLEANED_LAYER
from complaints_platform.lib.web_forms import create_schema, upsert_forms
from complaints_platform.simulate.generator import DemoDay, generate_day
from complaints_platform.simulate.servers import cli_server, free_port, port_is_free


@dataclass
class DemoReport:
    day: date
    webhook_answers: dict[int, int] = field(default_factory=dict)
    runs: list[tuple[str, bool, float]] = field(default_factory=list)
    seconds: float = 0.0
    log: Path = Path("demo.log")


def reset_data_dir(data_dir: Path) -> None:
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)


def send_social_events(demo: DemoDay, url: str, secret: str) -> dict[int, int]:
    """POST every generated event, signed (or deliberately mis-signed); count the answers."""
    signer, forger = Webhook(secret), Webhook("whsec_" + "Zm9yZ2VkLXNlY3JldC1mb3ItdGVzdHM=")
    answers: dict[int, int] = {}
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for event in demo.social_events:
            now = datetime.now(timezone.utc)
            signing = forger if event.expect_status == 401 else signer
            signature = signing.sign(event.webhook_id, now, event.body)
            response = client.post(
                "/webhooks/social",
                content=event.body.encode("utf-8"),
                headers={
                    "content-type": "application/json",
                    "webhook-id": event.webhook_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signature,
                },
            )
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
    return answers


def land_day(demo: DemoDay, data_dir: Path, secrets: dict[str, str], logs: Path) -> tuple[dict[int, int], list[dict]]:
    """Send the generated day through the real edges except SMS (served later, while pulled)."""
    crm_dir = data_dir / "landing" / "crm"
    lake.write_bytes_atomic(demo.crm_csv(), crm_dir / f"customers_{demo.day:%Y-%m-%d}.csv", private=True)

    drop = data_dir / "landing" / "call_center"
    for name, payload in demo.call_center_files.items():
        lake.write_bytes_atomic(payload, drop / name, private=True)

    # Forms: first versions now; later updates after the first extraction (as time would pass).
    url = f"sqlite:///{data_dir / 'oltp' / 'web_forms.sqlite'}"
    (data_dir / "oltp").mkdir(parents=True, exist_ok=True)
    create_schema(url)
    seen, first, updates = set(), [], []
    for row in sorted(demo.web_form_rows, key=lambda r: r["updated_at"]):
        (updates if row["id"] in seen else first).append(row)
        seen.add(row["id"])
    upsert_forms(url, first)

    with cli_server(["webhook"], free_port(), logs / "webhook.log") as webhook_url:
        answers = send_social_events(demo, webhook_url, secrets["COMPLAINTS_WEBHOOK_SECRET"])
    return answers, updates


def _run(report: DemoReport, defs: dg.Definitions, instance: dg.DagsterInstance, label: str, selection: list[str], partition_range: tuple[str, str] | None = None) -> None:
    started = time.monotonic()
    # dbt's own output goes to the log, not the terminal (the run's events are in the UI).
    with open(report.log, "a") as log, contextlib.redirect_stdout(log):
        result = run_assets(defs, instance, selection, partition_range, {"demo": label})
    elapsed = time.monotonic() - started
    report.runs.append((label, result.success, elapsed))
    status = "ok" if result.success else "FAILED"
    print(f"  {status:6} {label:66} {elapsed:6.1f}s  run {result.run_id[:8]}", flush=True)
    if not result.success:
        for event in result.all_events:
            if event.is_failure:
                print(f"         {event.message}", flush=True)
        raise SystemExit(f"demo run '{label}' failed; see the run {result.run_id} in the UI (make ui)")


def materialize_everything(
    report: DemoReport, demo: DemoDay, data_dir: Path, sms_url: str, form_updates: list[dict]
) -> None:
    from complaints_platform.definitions import build_definitions
    from complaints_platform.defs.partitions import every_15_minutes
    from complaints_platform.lib.settings import Settings

    defs = build_definitions(Settings.from_env())
    instance = dg.DagsterInstance.get()
    day = demo.day
    today = datetime.now(timezone.utc).date()
    last_window = every_15_minutes.get_last_partition_key()
    quarter_hours = (f"{day:%Y-%m-%d}-00:00", last_window)
    days = (f"{day:%Y-%m-%d}", f"{today:%Y-%m-%d}")

    _run(report, defs, instance, "reference data and category model", ["fiscal_calendar", "category_corrections", "category_model"])
    _run(report, defs, instance, f"customers {days[0]}..{days[1]}", ["customers"], days)
    _run(report, defs, instance, f"social media, SMS, web forms {quarter_hours[0]}..{quarter_hours[1]}",
         ["social_media_raw", "sms_raw", "web_forms_raw"], quarter_hours)
    if form_updates:
        upsert_forms(f"sqlite:///{data_dir / 'oltp' / 'web_forms.sqlite'}", form_updates)
        first = min(r["updated_at"] for r in form_updates)
        last = max(r["updated_at"] for r in form_updates)
        window = (_quarter(first), _quarter(last))
        _run(report, defs, instance, f"web forms updates {window[0]}..{window[1]}", ["web_forms_raw"], window)
    _run(report, defs, instance, f"call centre {day:%Y-%m-%d}-00:00..12:00", ["call_center_raw"],
         (f"{day:%Y-%m-%d}-00:00", f"{day:%Y-%m-%d}-12:00"))
    _run(report, defs, instance, f"cleaned and categorised {days[0]}..{days[1]}",
         [*CLEANED_LAYER, "complaints_categorised"], days)
    _run(report, defs, instance, "dbt build (warehouse, star schema, marts) + analysts' copy",
         [*runtime.warehouse_keys(defs), "analytics_duckdb"])


def _quarter(ts: datetime) -> str:
    ts = ts.replace(minute=ts.minute - ts.minute % 15, second=0, microsecond=0)
    return f"{ts:%Y-%m-%d-%H:%M}"


def summary(data_dir: Path, report: DemoReport) -> str:
    con = duckdb.connect()
    def count(glob: str) -> int:
        files = list(data_dir.glob(glob))
        if not files:
            return 0
        return con.execute(f"select count(*) from read_parquet({[str(f) for f in files]!r}, union_by_name=true)").fetchone()[0]

    lines = [f"\nDemo day {report.day} done in {report.seconds:.0f}s.", "", "Webhooks answered: " + ", ".join(f"{k}: {v}" for k, v in sorted(report.webhook_answers.items()))]
    lines += ["", "Rows per layer:"]
    for asset in ("social_media_raw", "sms_raw", "call_center_raw", "web_forms_raw"):
        lines.append(f"  bronze/{asset:28} {count(f'bronze/{asset}/*/*.parquet'):>7}")
    for asset in (*CLEANED_LAYER, "complaints_categorised"):
        lines.append(f"  silver/{asset:28} {count(f'silver/{asset}/*/*.parquet'):>7}")
    analytics = data_dir / "analytics.duckdb"
    with duckdb.connect(str(analytics), read_only=True) as adb:
        for (name,) in adb.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_name like 'fct_%' or table_name like 'dim_%' or table_name like 'mart_%' order by 1"
        ).fetchall():
            lines.append(f"  warehouse {name:35} {adb.execute(f'select count(*) from {name}').fetchone()[0]:>7}")
        lines += ["", "Quarantined by rule:"]
        quarantine = [str(f) for f in data_dir.glob("silver/complaints_quarantine/*/*.parquet")]
        for rule, n in con.execute(f"select rule, count(*) from read_parquet({quarantine!r}) group by 1 order by 2 desc").fetchall():
            lines.append(f"  {rule:30} {n:>5}")
        dups = [str(f) for f in data_dir.glob("silver/complaint_duplicates/*/*.parquet")]
        lines += ["", "Duplicates removed by rule:"]
        for rule, n in con.execute(f"select rule, count(*) from read_parquet({dups!r}) group by 1 order by 2 desc").fetchall():
            lines.append(f"  {rule:30} {n:>5}")
        queued = adb.execute("select count(*) from review_duplicate_pairs").fetchone()[0]
        lines.append(f"  {'pairs awaiting a person (review queue)':30} {queued:>5}   -> .venv/bin/complaints review list")
        fct = adb.execute("select table_schema from information_schema.tables where table_name = 'fct_complaints'").fetchone()[0]
        lines += ["", "Complaints by category:"]
        for cat, n in adb.execute(f"select category, count(*) from {fct}.fct_complaints group by 1 order by 2 desc").fetchall():
            lines.append(f"  {cat:30} {n:>5}")
    lines += [
        "",
        f"Analysts' DuckDB file: {analytics}",
        "A first query (open it read-only; the pipeline republishes it atomically):",
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{analytics}', read_only=True).sql('select * from {fct}.mart_complaints_daily order by complaints desc limit 10'))\"",
        "",
        "Social-media events are delivered now (webhooks must be signed within 5 minutes), so all of",
        "them arrive after the day they were made: they land in today's receipt partition, count",
        "towards the day they were made in the marts, and show as is_late in fct_complaints.",
        "",
        "See the runs, checks and assets in the Dagster UI: make ui  (then http://127.0.0.1:3000).",
        "On its first start the sensors find the demo's files and ingest them once more (same rows).",
    ]
    return "\n".join(lines)


def run_demo(
    data_dir: Path, day: date | None, seed: int, complaints_per_channel: dict[str, int] | None = None
) -> DemoReport:
    started = time.monotonic()
    data_dir = data_dir.resolve()
    day = day or (datetime.now(timezone.utc).date() - timedelta(days=1))
    print(f"Demo: one day of complaints ({day}) into {data_dir}", flush=True)
    reset_data_dir(data_dir)
    sms_port = 8766 if port_is_free(8766) else free_port()
    secrets = runtime.write_demo_secrets(data_dir, {"COMPLAINTS_SMS_API_URL": f"http://127.0.0.1:{sms_port}"})
    runtime.prepare_environment(data_dir)
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    report = DemoReport(day=day, log=logs / "demo_runs.log")

    demo = generate_day(day, seed=seed, complaints_per_channel=complaints_per_channel)
    generated = demo.summary()["channels"]
    print("Generated: " + ", ".join(f"{c} {v['delivered']}" for c, v in generated.items()) + " deliveries", flush=True)
    print("Sending social-media webhooks, dropping call-centre exports, writing web forms and the CRM snapshot ...", flush=True)
    report.webhook_answers, form_updates = land_day(demo, data_dir, secrets, logs)

    messages = data_dir / "simulator" / "sms_messages.jsonl"
    messages.parent.mkdir(parents=True, exist_ok=True)
    messages.write_text("".join(json.dumps(m) + "\n" for m in demo.sms_messages))
    print("Materializing the asset graph:", flush=True)
    with cli_server(["sms-simulator", "--messages", str(messages)], sms_port, logs / "sms_simulator.log") as sms_url:
        materialize_everything(report, demo, data_dir, sms_url, form_updates)
    report.seconds = time.monotonic() - started
    print(summary(data_dir, report), flush=True)
    return report
