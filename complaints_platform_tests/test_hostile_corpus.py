"""The hostile input corpus through every channel's real landing path and the real assets.

Each input of ``hostile_corpus/`` (see its ``manifest.json`` and ``make_corpus.py``) enters as
production would: webhook bodies POSTed to the real receiver over HTTP (those it accepts are
landed as the envelopes it writes, at the corpus's receipt time; those it refuses must be refused),
call-centre CSVs dropped in the drop folder, form rows written into the SQLite OLTP table by
another writer, SMS served by the provider simulator over HTTP (plus whole pages injected in front
of it). Then bronze and the cleaned layer are materialized with Dagster, and every record must end
where the manifest says: silver, quarantine (with its rule and a reason) or duplicates, matched back
by its source location; the accounting equation must hold and nothing may crash the day's run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import dagster as dg
import httpx
import polars as pl
import pytest

from complaints_platform.definitions import build_definitions
from complaints_platform.lib import lake
from complaints_platform.lib.cleaning import FORMULA_TRIGGERS
from complaints_platform.lib.settings import Settings
from complaints_platform.lib.silver import CLEANED_LAYER
from complaints_platform.lib.web_forms import TABLE_NAME, complaint_forms, create_schema
from complaints_platform.runtime import run_assets
from complaints_platform.simulate.sms_provider import create_app as sms_provider_app
from complaints_platform.simulate.sms_provider import load_messages
from complaints_platform.webhook.app import create_app as webhook_app
from complaints_platform.simulate.servers import serve_in_thread

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parent / "hostile_corpus"
DAY = "2026-11-24"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"hostile-corpus-secret-0123456789").decode()
BRONZE_ASSETS = {"social_media": "social_media_raw", "sms": "sms_raw", "call_center": "call_center_raw", "web_forms": "web_forms_raw"}


def load_manifest() -> list[dict]:
    return json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))


@contextmanager
def served(app) -> Iterator[str]:
    """An ASGI app on a free loopback port, served by uvicorn in a background thread."""
    with serve_in_thread(app) as url:
        yield url


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _set_mtime(path: Path, moment: datetime) -> None:
    ns = int(moment.timestamp() * 1e9)
    os.utime(path, ns=(ns, ns))


# --- landing, channel by channel ---------------------------------------------------------------------


def _signed(webhook_id: str, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers over the raw bytes (a non-UTF-8 body is signed as sent)."""
    timestamp = str(int(time.time()))
    key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def land_social_media(data_dir: Path, entries: list[dict], scratch: Path) -> dict[str, int]:
    """POST every body to the real receiver (landing in ``scratch``); re-land each accepted
    envelope in the lake at the corpus's receipt time. Envelope files are landed as they are."""
    landing = data_dir / "landing"
    statuses: dict[str, int] = {}
    with served(webhook_app(scratch, WEBHOOK_SECRET)) as url, httpx.Client(timeout=30) as client:
        for entry in entries:
            if "/bodies/" not in entry["input"]:
                continue
            body = (CORPUS / entry["input"]).read_bytes()
            answer = client.post(f"{url}/webhooks/social", content=body, headers=_signed(entry["id"], body))
            statuses[entry["id"]] = answer.status_code
            if entry["expected"] == "rejected" or answer.status_code != 202:
                continue
            [envelope] = [
                landed
                for segment in scratch.glob("social_media/date=*/*/*.jsonl")
                for landed in map(json.loads, segment.read_bytes().splitlines())
                if landed["webhook_id"] == entry["id"]
            ]
            assert envelope["body"] == body.decode("utf-8"), "the receiver stores the body exactly as received"
            received = _utc(entry["received_at"])
            envelope.update(webhook_timestamp=int(received.timestamp()), received_at=entry["received_at"])
            target = landing / entry["locator"]
            lake.write_bytes_atomic(json.dumps(envelope, ensure_ascii=False).encode("utf-8"), target, private=True)
            _set_mtime(target, received)
    for entry in entries:
        if "/envelopes/" in entry["input"]:
            target = landing / entry["locator"]
            lake.write_bytes_atomic((CORPUS / entry["input"]).read_bytes(), target, private=True)
            _set_mtime(target, datetime.fromisoformat(f"{DAY}T12:01:00+00:00"))
    return statuses


def land_call_center(data_dir: Path, entries: list[dict]) -> None:
    drop = data_dir / "landing" / "call_center"
    for path in sorted((CORPUS / "call_center").iterdir()):
        lake.write_bytes_atomic(path.read_bytes(), drop / path.name, private=True)
    for entry in entries:
        if entry.get("mtime"):
            _set_mtime(drop / Path(entry["input"]).name, _utc(entry["mtime"]))


def _sql_value(value):
    """A corpus value as the other writer stored it: {"$blob": hex} bytes, {"$text_bytes": hex}
    bytes stored as TEXT (so not necessarily UTF-8); anything else as is."""
    if isinstance(value, dict) and "$blob" in value:
        return "?", bytes.fromhex(value["$blob"])
    if isinstance(value, dict) and "$text_bytes" in value:
        return "CAST(? AS TEXT)", bytes.fromhex(value["$text_bytes"])
    return "?", value


def land_web_forms(data_dir: Path) -> Path:
    """Rows written straight into the SQLite table, as another writer (not our ORM) would."""
    database = data_dir / "oltp" / "web_forms.sqlite"
    create_schema(f"sqlite:///{database}")
    rows = [json.loads(line) for line in (CORPUS / "web_forms/rows.jsonl").read_text(encoding="utf-8").splitlines()]
    known = set(complaint_forms.c.keys())
    with sqlite3.connect(database) as connection:
        for column in sorted({key for row in rows for key in row} - known):  # schema drift: a new column
            connection.execute(f'ALTER TABLE {TABLE_NAME} ADD COLUMN "{column}" TEXT')
        for row in rows:
            placeholders, values = zip(*(_sql_value(v) for v in row.values()), strict=True)
            columns = ", ".join(f'"{c}"' for c in row)
            connection.execute(f"INSERT INTO {TABLE_NAME} ({columns}) VALUES ({', '.join(placeholders)})", values)
    return database


def with_injected_pages(app, pages: dict[str, bytes]):
    """The provider, except that the first page of a window starting at a key of ``pages``
    (``since`` as the client sends it) is answered with that body, status 200."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/v1/messages":
            query = parse_qs(scope["query_string"].decode())
            body = pages.get(query.get("since", [""])[0])
            if body is not None and not query.get("cursor"):
                headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return wrapped


def _page_since(page: Path) -> str:
    return f"{DAY}T{page.stem[:2]}:{page.stem[2:]}:00Z"


def served_sms_locations(data_dir: Path) -> dict[str, str]:
    """Each item the provider served (as canonical JSON) -> its bronze source location, read
    from the pages landed as received."""
    locations: dict[str, str] = {}
    for page in sorted((data_dir / "landing" / "sms").glob("date=*/*/page-*.json")):
        window = page.parent.name
        label = f"{page.parent.parent.name.removeprefix('date=')} {window[:2]}:{window[2:]}"
        number = int(page.stem.removeprefix("page-"))
        for index, item in enumerate(json.loads(page.read_text(encoding="utf-8"))["data"], start=1):
            locations[json.dumps(item, sort_keys=True, ensure_ascii=False)] = f"sms-api {label} page {number} item {index}"
    return locations


def _sms_key(entry: dict) -> str:
    path, line = entry["input"].rsplit(":", 1)
    item = json.loads((CORPUS / path).read_text(encoding="utf-8").splitlines()[int(line) - 1])
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


# --- the test -------------------------------------------------------------------------------------------


def test_every_hostile_input_ends_where_the_contracts_say(data_dir, tmp_path, monkeypatch):
    manifest = load_manifest()
    by_channel = Counter(entry["channel"] for entry in manifest)
    assert len(manifest) >= 200 and set(by_channel) == set(BRONZE_ASSETS), by_channel

    statuses = land_social_media(data_dir, [e for e in manifest if e["channel"] == "social_media"], tmp_path / "scratch")
    land_call_center(data_dir, [e for e in manifest if e["channel"] == "call_center"])
    database = land_web_forms(data_dir)

    token = Settings.from_env().sms_api_token
    pages = {_page_since(p): p.read_bytes() for p in sorted((CORPUS / "sms" / "pages").glob("*.json"))}
    provider = with_injected_pages(sms_provider_app(load_messages(CORPUS / "sms/messages.jsonl"), token), pages)
    bad_windows = sorted(p.stem for p in (CORPUS / "sms" / "pages").glob("*.json") if p.stem != "1600")
    with served(provider) as sms_url:
        monkeypatch.setenv("COMPLAINTS_SMS_API_URL", sms_url)
        # A page that is not JSON may be retried: keep that short here.
        monkeypatch.setenv("COMPLAINTS_SMS_API_RETRY_SECONDS", "1")
        monkeypatch.setenv("COMPLAINTS_SMS_API_BACKOFF_SECONDS", "0.2")
        defs = build_definitions(Settings.from_env())
        with dg.instance_for_test() as instance:
            for selection, partitions in [
                (["social_media_raw", "web_forms_raw"], (f"{DAY}-00:00", f"{DAY}-23:45")),
                (["call_center_raw"], (f"{DAY}-00:00", f"{DAY}-00:00")),
                (["sms_raw"], (f"{DAY}-00:00", f"{DAY}-21:45")),
            ]:
                result = run_assets(defs, instance, selection, partitions)
                assert result.success, selection
            # Each contract-breaking page fails its own window's run; nothing is invented for it.
            failed_windows = {}
            for hhmm in bad_windows:
                partition = f"{DAY}-{hhmm[:2]}:{hhmm[2:]}"
                failed_windows[hhmm] = not run_assets(defs, instance, ["sms_raw"], (partition, partition)).success
            cleaned_run = run_assets(defs, instance, list(CLEANED_LAYER), (DAY, DAY))
            assert cleaned_run.success
            checks = {e.check_name: e.passed for e in cleaned_run.get_asset_check_evaluations()}
            # The categories too (the model trains on the day's cleaned texts: about 15 s).
            assert run_assets(defs, instance, ["category_corrections", "category_model"]).success
            categorised_run = run_assets(defs, instance, ["complaints_categorised"], (DAY, DAY))
            assert categorised_run.success
            checks.update({e.check_name: e.passed for e in categorised_run.get_asset_check_evaluations()})
    blocking = ("cleaned_contract", "records_accounted_for", "no_unmasked_pii", "categorised_contract")
    assert all(checks[name] for name in blocking), checks

    bronze = {
        channel: pl.read_parquet(lake.bronze_files_for_day(data_dir, asset, DAY)).with_columns(pl.lit(channel).alias("channel"))
        for channel, asset in BRONZE_ASSETS.items()
    }
    bronze_rows = pl.concat([f.select("channel", "source_location", "text") for f in bronze.values()])
    silver = {a: pl.read_parquet(data_dir / f"silver/{a}/date={DAY}/part.parquet") for a in CLEANED_LAYER}
    cleaned, quarantine, duplicates = silver["complaints_cleaned"], silver["complaints_quarantine"], silver["complaint_duplicates"]
    outcomes = pl.concat(
        [
            cleaned.select("channel", "source_location", pl.lit("silver").alias("outcome"), pl.lit(None, pl.String).alias("rule"),
                           pl.lit(None, pl.String).alias("reason"), "text_masked", "event_at"),
            quarantine.select("channel", "source_location", pl.lit("quarantine").alias("outcome"), "rule", "reason"),
            duplicates.select("channel", "source_location", pl.lit("duplicate").alias("outcome"), "rule"),
        ],
        how="diagonal",
    )

    categorised = pl.read_parquet(data_dir / f"silver/complaints_categorised/date={DAY}/part.parquet")
    assert sorted(categorised["complaint_id"]) == sorted(cleaned["complaint_id"])
    assert categorised.join(cleaned, on="complaint_id").filter(pl.col("text_masked") != pl.col("text_masked_right")).height == 0
    assert categorised["category"].null_count() == 0

    # The accounting equation, and nothing in bronze without an outcome.
    assert bronze_rows.height == cleaned.height + quarantine.height + duplicates.height == outcomes.height
    assert outcomes.select("channel", "source_location").is_unique().all()

    served_sms = served_sms_locations(data_dir)
    landed_1600 = data_dir / "landing" / "sms" / f"date={DAY}" / "1600" / "page-00001.json"
    assert landed_1600.read_bytes() == (CORPUS / "sms/pages/1600.json").read_bytes()
    scratch_files = {p.name for p in (tmp_path / "scratch").rglob("*.json")}

    def rows_for(entry: dict) -> pl.DataFrame:
        channel, frame = entry["channel"], outcomes.filter(pl.col("channel") == entry["channel"])
        if channel == "web_forms":
            return frame.filter(pl.col("source_location").str.ends_with(" " + entry["locator"]))
        if channel == "sms":
            if " item " in entry["input"]:
                location = f"sms-api {DAY} 16:00 page 1 item {entry['input'].rsplit(' ', 1)[1]}"
            else:
                location = served_sms.get(_sms_key(entry))
            return frame.filter(pl.col("source_location") == location)
        if channel == "call_center" and not entry["locator"].rsplit("/", 1)[1].count(":"):
            return frame.filter(pl.col("source_location").str.starts_with(entry["locator"] + ":"))  # a whole file
        return frame.filter(pl.col("source_location") == entry["locator"])

    problems: list[str] = []
    matched: set[tuple[str, str]] = set()
    for entry in manifest:
        expected, rule, where = entry["expected"], entry["rule"], f"{entry['id']} ({entry['hostile']})"
        if expected == "rejected":
            if statuses.get(entry["id"]) != rule or f"{entry['id']}.json" in scratch_files:
                problems.append(f"{where}: receiver answered {statuses.get(entry['id'])}, expected {rule} and nothing landed")
            continue
        if expected == "run_fails":
            hhmm = Path(entry["input"]).stem
            window = data_dir / "bronze" / "sms_raw" / f"date={DAY}"
            if not failed_windows[hhmm] or any(window.glob(f"*{hhmm}*")):
                problems.append(f"{where}: the window's run should fail and write no bronze")
            continue
        if expected == "not_served":
            if _sms_key(entry) in served_sms:
                problems.append(f"{where}: the provider served it")
            continue
        if expected in ("no_records", "skipped"):
            locator = entry["locator"]
            in_bronze = bronze_rows.filter(
                (pl.col("source_location") == locator) | pl.col("source_location").str.starts_with(locator + ":")
            )
            if in_bronze.height:
                problems.append(f"{where}: expected no record, bronze has {in_bronze['source_location'].to_list()}")
            continue
        found = rows_for(entry)
        whole_file = entry["channel"] == "call_center" and ":" not in entry["locator"].rsplit("/", 1)[1]
        if (found.height < 1) if whole_file else (found.height != 1):
            problems.append(f"{where}: expected one {expected} row, found {found.height}")
            continue
        matched.update(found.select("channel", "source_location").iter_rows())
        outcome_rules = set(found.select("outcome", "rule").iter_rows())
        if outcome_rules != {(expected, rule)}:
            problems.append(f"{where}: expected {expected} {rule or ''}, got {sorted(outcome_rules, key=str)}")
            continue
        got = found.row(0, named=True)
        if expected == "quarantine" and not all((r or "").strip() for r in found["reason"]):
            problems.append(f"{where}: quarantined without a reason")
        if entry.get("event_at") and got["event_at"] != _utc(entry["event_at"]):
            problems.append(f"{where}: event_at {got['event_at']}, expected {entry['event_at']}")
        if "neutralised" in entry and got["text_masked"].startswith("'") != entry["neutralised"]:
            problems.append(f"{where}: neutralised should be {entry['neutralised']}: {got['text_masked'][:60]!r}")
        if entry.get("text_contains") and entry["text_contains"] not in got["text_masked"]:
            problems.append(f"{where}: text {got['text_masked'][:60]!r} lacks {entry['text_contains']!r}")
        if entry.get("neutralised"):
            original = bronze_rows.filter(pl.col("source_location") == got["source_location"])["text"].item()
            if not original.startswith(FORMULA_TRIGGERS):
                problems.append(f"{where}: bronze must keep the original text, has {original[:40]!r}")
    strays = set(outcomes.select("channel", "source_location").iter_rows()) - matched
    problems += [f"an outcome no corpus item expects: {channel} {location}" for channel, location in sorted(strays)]

    # Nothing a spreadsheet would run reaches silver's display text.
    for frame, column in ((cleaned, "text_masked"), (quarantine, "reason"), (quarantine, "raw_masked")):
        led = frame.filter(pl.col(column).str.contains("^[=+@\t\r-]"))
        problems += [f"{column} starts a formula: {value[:40]!r}" for value in led[column]]
    with sqlite3.connect(database) as connection:  # the SQL-looking text was only ever text
        assert connection.execute(f"select count(*) from {TABLE_NAME}").fetchone()[0] == by_channel["web_forms"]

    _print_summary(manifest, outcomes)
    assert not problems, "\n".join(problems)


def _print_summary(manifest: list[dict], outcomes: pl.DataFrame) -> None:
    expected = Counter(
        (e["expected"], "" if e["rule"] is None else str(e["rule"])) for e in manifest
    )
    actual = Counter((r["outcome"], r["rule"] or "") for r in outcomes.iter_rows(named=True))
    channels = Counter(e["channel"] for e in manifest)
    lines = [
        "",
        f"hostile corpus: {len(manifest)} inputs ({', '.join(f'{c} {n}' for c, n in sorted(channels.items()))})",
        f"{'outcome':<12}{'rule / status':<26}{'inputs':>8}{'records':>9}",
    ]
    for outcome, rule in sorted(set(expected) | set(actual)):
        lines.append(f"{outcome:<12}{rule:<26}{expected.get((outcome, rule), 0):>8}{actual.get((outcome, rule), 0):>9}")
    lines.append("(inputs: manifest items; records: rows in silver, cleaned + quarantine + duplicates; "
                 "an item naming a whole file can be several)")
    print("\n".join(lines))
