"""The `complaints` command: demo, UI, the webhook receiver, the SMS simulator, dbt parse."""

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

from complaints_platform import runtime
from complaints_platform.lib.settings import Settings


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("COMPLAINTS_DATA_DIR", "data")).resolve()


def cmd_demo(args: argparse.Namespace) -> int:
    from complaints_platform.simulate.demo import run_demo

    run_demo(_data_dir(args), date.fromisoformat(args.day) if args.day else None, args.seed)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """dagster dev (webserver + daemon) on the data dir's instance, with default signal handling."""
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
    serve(messages, token, host=args.host, port=args.port)
    return 0


def cmd_dbt_parse(args: argparse.Namespace) -> int:
    """Write dbt_project/target/manifest.json, which the Dagster definitions load."""
    from dbt.cli.main import dbtRunner

    project = runtime.REPO_ROOT / "dbt_project"
    os.environ.setdefault("COMPLAINTS_DATA_DIR", str(_data_dir(args)))
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    result = dbtRunner().invoke(["parse", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project)])
    return 0 if result.success else 1


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
    sms.set_defaults(func=cmd_sms_simulator)

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
