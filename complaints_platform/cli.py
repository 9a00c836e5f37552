"""The `complaints` command: demo, UI, the webhook receiver, the SMS simulator, the review queue,
quarantine replay, dbt parse."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import warnings
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from complaints_platform.lib.settings import Settings

# runtime (and with it dagster) is imported by the commands that need it: the webhook receiver must
# restart in well under a second after a crash, and importing dagster alone takes about two.


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("COMPLAINTS_DATA_DIR", "data")).resolve()


def cmd_demo(args: argparse.Namespace) -> int:
    from complaints_platform.simulate.demo import run_demo

    run_demo(_data_dir(args), date.fromisoformat(args.day) if args.day else None, args.seed)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """dagster dev (webserver + daemon) on the data dir's instance, with default signal handling."""
    from complaints_platform import runtime

    runtime.prepare_environment(_data_dir(args))
    command = [
        sys.executable, "-m", "dagster", "dev",
        "-w", str(runtime.REPO_ROOT / "workspace.yaml"),
        "-h", args.host, "-p", str(args.port),
    ]
    print(f"Dagster UI on http://{args.host}:{args.port} (instance {os.environ['DAGSTER_HOME']})", flush=True)
    _start_demo_sources(_data_dir(args))
    # Become dagster dev, with default signal handling: a parent that ignored SIGINT/SIGTERM would
    # otherwise leave it unstoppable (STACK.md), and no wrapper process is left to orphan it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.chdir(runtime.REPO_ROOT)
    os.execv(sys.executable, command)


WEBHOOK_PORT = 8765


def _start_demo_sources(data_dir: Path) -> None:
    """After a demo, keep its world alive beside the UI: the SMS simulator the schedules pull from
    and the webhook receiver the sensor watches (children in this process group: they stop with it)."""
    messages = data_dir / "simulator" / "sms_messages.jsonl"
    if not messages.exists():
        return
    from complaints_platform.simulate.servers import port_is_free

    sms_port = urlsplit(Settings.from_env().sms_api_url).port or 8766
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    for name, port, extra in (
        ("sms-simulator", sms_port, ["--messages", str(messages)]),
        ("webhook", WEBHOOK_PORT, []),
    ):
        if not port_is_free(port):
            print(f"Not starting the demo's {name}: port {port} is in use", flush=True)
            continue
        log = data_dir / "logs" / f"{name}-ui.log"
        with open(log, "ab") as out:
            subprocess.Popen(
                [sys.executable, "-m", "complaints_platform.cli", name, *extra, "--port", str(port)], stdout=out, stderr=out
            )
        print(f"Demo {name} on http://127.0.0.1:{port} (log {log})", flush=True)


def cmd_webhook(args: argparse.Namespace) -> int:
    from complaints_platform.webhook.app import serve

    data_dir = _data_dir(args)
    os.environ["COMPLAINTS_DATA_DIR"] = str(data_dir)
    secret = Settings.from_env().require("webhook_secret")
    serve(data_dir, secret, host=args.host, port=args.port)
    return 0


def cmd_sms_simulator(args: argparse.Namespace) -> int:
    from complaints_platform.simulate.sms_provider import serve

    data_dir = _data_dir(args)
    os.environ["COMPLAINTS_DATA_DIR"] = str(data_dir)
    token = Settings.from_env().require("sms_api_token")
    messages = Path(args.messages or data_dir / "simulator" / "sms_messages.jsonl")
    faults = Path(args.faults) if args.faults else None
    serve(messages, token, host=args.host, port=args.port, faults_file=faults)
    return 0


def cmd_dbt_parse(args: argparse.Namespace) -> int:
    """Write dbt_project/target/manifest.json, which the Dagster definitions load."""
    from dbt.cli.main import dbtRunner

    from complaints_platform import runtime

    project = runtime.REPO_ROOT / "dbt_project"
    os.environ.setdefault("COMPLAINTS_DATA_DIR", str(_data_dir(args)))
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    result = dbtRunner().invoke(["parse", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project)])
    return 0 if result.success else 1


def cmd_review(args: argparse.Namespace) -> int:
    """The near-duplicate review queue: list it, accept or reject a pair."""
    import getpass

    import polars as pl

    from complaints_platform.lib.review import ReviewError, queued_pairs, record_decision

    data_dir = _data_dir(args)
    if args.action == "list":
        queue = queued_pairs(data_dir)
        if args.day:
            queue = queue.filter(pl.col("received_date") == date.fromisoformat(args.day))
        if not queue.height:
            print("The review queue is empty.")
            return 0
        for row in queue.head(args.limit).iter_rows(named=True):
            print(f"{row['pair_id']}  similarity {row['similarity']:.2f}  received {row['received_date']}")
            print(f"    earlier  [{row['candidate_channel']}] {row['candidate_text_masked'][:160]!r}")
            print(f"    later    [{row['channel']}] {row['text_masked'][:160]!r}")
        print(f"{queue.height} pair(s) awaiting a decision: complaints review accept|reject PAIR_ID")
        return 0
    try:
        line = record_decision(data_dir, args.pair_id, args.action, args.by or getpass.getuser(), args.note or "")
    except ReviewError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    outcome = "merged into" if args.action == "accept" else "kept apart from"
    print(
        f"Recorded: {line['complaint_id']} {outcome} {line['candidate_of']}. It takes effect when "
        f"{line['received_date']} is next materialized: the duplicate_review_sensor starts that run "
        f"(or materialize complaints_cleaned for {line['received_date']} in the UI)."
    )
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    """The quarantine: list it by day and rule, or replay records after a fix."""
    import polars as pl

    from complaints_platform.lib.quarantine import quarantined, where_now

    data_dir = _data_dir(args)
    selected = quarantined(data_dir, args.day or None, args.rule, args.channel)
    if not selected.height:
        print("No quarantined records match.")
        return 0
    if args.action == "list":
        summary = selected.group_by("received_date", "channel", "rule").len().sort("received_date", "channel", "rule")
        for row in summary.iter_rows(named=True):
            print(f"{row['received_date']}  {row['channel']:13} {row['rule']:24} {row['len']:>6}")
        for row in selected.head(args.limit).iter_rows(named=True):
            print(f"  {row['source_location']}: {row['rule']}: {row['reason']}")
        return 0

    import dagster as dg

    from complaints_platform import runtime
    from complaints_platform.definitions import build_definitions
    from complaints_platform.lib.silver import CLEANED_LAYER

    runtime.prepare_environment(data_dir)
    defs = build_definitions(Settings.from_env())
    instance = dg.DagsterInstance.get()
    days = sorted({d.isoformat() for d in selected.get_column("received_date").to_list()})
    print(f"Replaying {selected.height} quarantined record(s) of {len(days)} day(s): {', '.join(days)}", flush=True)
    for day in days:
        result = runtime.run_assets(defs, instance, [*CLEANED_LAYER, "complaints_categorised"], (day, day), {"replay": "quarantine"})
        print(f"  cleaned layer and categories {day}: {'ok' if result.success else 'FAILED'} (run {result.run_id[:8]})", flush=True)
        if not result.success:
            return 1
    if not args.no_warehouse:
        result = runtime.run_assets(defs, instance, [*runtime.warehouse_keys(defs), "analytics_duckdb"], tags={"replay": "quarantine"})
        print(f"  warehouse and analysts' copy: {'ok' if result.success else 'FAILED'} (run {result.run_id[:8]})", flush=True)
        if not result.success:
            return 1
    outcome = where_now(data_dir, selected)
    for row in outcome.group_by("outcome", "rule").len().sort("outcome").iter_rows(named=True):
        print(f"  now {row['outcome']:12} {row['rule'] or '':24} {row['len']:>6}")
    still = outcome.filter(pl.col("outcome") == "quarantined").height
    print(f"{selected.height - still} record(s) left the quarantine; {still} still there (see the rules above).")
    return 0


def cmd_correct_category(args: argparse.Namespace) -> int:
    """Record an analyst's category for one complaint; the next category_corrections and
    category_model materializations read it (and complaints_categorised applies it)."""
    from complaints_platform.lib.category_training import complaint_exists, record_correction
    from complaints_platform.lib.silver import CATEGORIES

    data_dir = _data_dir(args)
    if args.category not in CATEGORIES:
        print(f"unknown category {args.category!r}; one of: {', '.join(CATEGORIES)}", file=sys.stderr)
        return 2
    if not complaint_exists(data_dir, args.complaint_id):
        print(f"no complaint {args.complaint_id!r} in {data_dir}/silver/complaints_cleaned", file=sys.stderr)
        return 1
    path = record_correction(data_dir, args.complaint_id, args.category, args.by or os.environ.get("USER", ""), args.note)
    print(f"recorded: {args.complaint_id} -> {args.category} ({path})")
    return 0


def main(argv: list[str] | None = None) -> int:
    # Dagster marks some APIs the platform relies on as beta/preview; say so once, in the README.
    warnings.filterwarnings("ignore", message=".*is currently in (beta|preview)")
    parser = argparse.ArgumentParser(prog="complaints", description=__doc__)
    parser.add_argument("--data-dir", help="the data directory (default: $COMPLAINTS_DATA_DIR or ./data)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate a day of complaints, ingest it through the real edges, materialize everything")
    demo.add_argument("--day", help="the day to generate (YYYY-MM-DD, default yesterday UTC)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)

    ui = sub.add_parser("ui", help="the Dagster webserver and daemon on the demo's instance")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)

    webhook = sub.add_parser("webhook", help="the social-media webhook receiver (needs COMPLAINTS_WEBHOOK_SECRET)")
    webhook.add_argument("--host", default="127.0.0.1")
    webhook.add_argument("--port", type=int, default=WEBHOOK_PORT)
    webhook.set_defaults(func=cmd_webhook)

    sms = sub.add_parser("sms-simulator", help="the SMS provider simulator on loopback (needs COMPLAINTS_SMS_API_TOKEN)")
    sms.add_argument("--host", default="127.0.0.1")
    sms.add_argument("--port", type=int, default=8766)
    sms.add_argument("--messages", help="JSONL file of messages to serve (default <data>/simulator/sms_messages.jsonl)")
    sms.add_argument(
        "--faults",
        help='JSON fault plan to misbehave by, e.g. {"faults": [{"kind": "status", "page": 2, "times": 3}], '
        '"duplicate_pages": [2]} (see simulate/sms_provider.py FaultPlan)',
    )
    sms.set_defaults(func=cmd_sms_simulator)

    review = sub.add_parser("review", help="the near-duplicate review queue: list, accept or reject pairs")
    review_sub = review.add_subparsers(dest="action", required=True)
    listing = review_sub.add_parser("list", help="pairs awaiting a decision, most similar first")
    listing.add_argument("--day", help="only pairs received on this day (YYYY-MM-DD)")
    listing.add_argument("--limit", type=int, default=50)
    for action, meaning in (("accept", "they are one complaint: merge the later"), ("reject", "two complaints: keep apart")):
        decide = review_sub.add_parser(action, help=meaning)
        decide.add_argument("pair_id")
        decide.add_argument("--by", help="who decides (default: the login name)")
        decide.add_argument("--note", help="why, for the log")
    review.set_defaults(func=cmd_review)

    quarantine = sub.add_parser("quarantine", help="list quarantined records, or replay them after a fix")
    quarantine_sub = quarantine.add_subparsers(dest="action", required=True)
    for action, meaning in (
        ("list", "counts by day, channel and rule, and the first records"),
        ("replay", "re-run the cleaned layer (and on to the analysts' file) for the days holding the records"),
    ):
        command = quarantine_sub.add_parser(action, help=meaning)
        command.add_argument("--day", action="append", help="a receipt day YYYY-MM-DD (repeatable; default all)")
        command.add_argument("--rule", help="only records that broke this rule")
        command.add_argument("--channel", help="only this channel")
        if action == "list":
            command.add_argument("--limit", type=int, default=20)
        else:
            command.add_argument("--no-warehouse", action="store_true", help="stop after the cleaned layer and categories")
    quarantine.set_defaults(func=cmd_quarantine)
    correct = sub.add_parser("correct-category", help="set a complaint's category by hand (the model learns from it)")
    correct.add_argument("complaint_id")
    correct.add_argument("category")
    correct.add_argument("--note", default="", help="why (kept with the correction)")
    correct.add_argument("--by", default="", help="who (default $USER)")
    correct.set_defaults(func=cmd_correct_category)

    parse = sub.add_parser("dbt-parse", help="write the dbt manifest the Dagster definitions load")
    parse.set_defaults(func=cmd_dbt_parse)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
