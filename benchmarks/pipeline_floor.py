"""The floor of the pipeline benchmark: DuckDB alone reading the same landing inputs and writing as
many Parquet rows as the pipeline writes, with trivial logic in between.

    .venv/bin/python benchmarks/pipeline_floor.py --lake LAKE --sms-messages FILE --out DIR [--day D]

One DuckDB connection (all cores, ``memory_limit`` 4 GB), three passes, every file zstd Parquet like the lake's:

1. landing -> "bronze": the webhook segments (``read_json`` over the glob, the body's fields
   pulled out with ``json_extract_string``), the SMS provider's messages (the JSONL file the
   simulator serves: the bytes ``sms_raw`` receives over HTTP), the call-centre CSV exports
   (``read_csv``; the Windows-1252 file transcoded to UTF-8 first), the web-forms table (read with Python's
   sqlite3, DuckDB having no SQLite reader installed here, plus the earlier extracts' Parquet), one
   row per received record;
2. bronze -> "silver": a regex masks e-mails and digit runs, the same source record keeps its
   latest version, a record without text is set aside: cleaned + quarantined + duplicates, as many
   rows as received;
3. silver -> "categorised": the cleaned rows with a constant category.

So it writes received + received + cleaned rows: what the pipeline writes to Parquet (bronze,
the four silver assets, the categories), without the pipeline's logic (PII detection, time-zone
handling, near-duplicates, the category model, checks) and without Dagster or dbt. The ratio
pipeline / floor says how far the platform is from the cost of moving its data once per layer.
Prints one JSON object (seconds per pass, rows).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time
from pathlib import Path

import duckdb
import polars as pl

FILES_PER_READ = 40_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, required=True, help="a data dir holding landing/ and oltp/")
    parser.add_argument("--sms-messages", type=Path, required=True, help="the SMS simulator's JSONL file")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--day", help="only SMS messages received on this day (YYYY-MM-DD)")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit (default 4GB)")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    landing = args.lake / "landing"
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # Bounded like a well-behaved job on a shared 2-core box; insertion order is not needed.
    con.execute(f"SET memory_limit = '{args.memory_limit}'")
    con.execute("SET preserve_insertion_order = false")

    t = time.perf_counter()
    # The receiver's segments (one envelope per line) in one read; any one-envelope-per-file landings
    # of earlier receivers in batches of folders (over a glob of 312,000 small files at once, DuckDB
    # 1.5.5 ran out of memory, 18.8 GiB, at 1M records).
    columns = "{webhook_id: 'VARCHAR', webhook_timestamp: 'BIGINT', received_at: 'VARCHAR', body: 'VARCHAR'}"
    windows = sorted(p for p in (landing / "social_media").glob("date=*/*") if p.is_dir())
    reads = []
    if any(next(w.glob("*.jsonl"), None) for w in windows):
        reads.append(f"read_json('{landing}/social_media/date=*/*/*.jsonl', format = 'newline_delimited', columns = {columns})")
    current, size = [], 0
    for window in windows:
        legacy = sum(1 for e in os.scandir(window) if e.name.endswith(".json"))
        if legacy:
            current.append(f"'{window}/*.json'")
            size += legacy
        if size >= FILES_PER_READ:
            reads.append(f"read_json([{', '.join(current)}], format = 'unstructured', columns = {columns})")
            current, size = [], 0
    if current:
        reads.append(f"read_json([{', '.join(current)}], format = 'unstructured', columns = {columns})")
    for i, source in enumerate(reads):
        select = f"""
            select 'social_media' as channel, webhook_id as record_id, received_at, body as raw,
                   json_extract_string(body, '$.data.text') as text,
                   json_extract_string(body, '$.data.created_at') as event_time_text,
                   json_extract_string(body, '$.data.author.handle') as handle,
                   json_extract_string(body, '$.data.author.display_name') as author_name
            from {source}
        """
        con.execute(f"create table social as {select}" if i == 0 else f"insert into social {select}")
    seconds["read_social_media"] = time.perf_counter() - t

    t = time.perf_counter()
    day_filter = f"where received_at like '{args.day}%'" if args.day else ""
    con.execute(f"""
        create table sms as
        select 'sms' as channel, id as record_id, received_at, to_json(m)::varchar as raw, body as text,
               received_at as event_time_text, "from" as phone
        from read_json('{args.sms_messages}', format = 'newline_delimited',
             columns = {{id: 'VARCHAR', "from": 'VARCHAR', "to": 'VARCHAR', body: 'VARCHAR', received_at: 'VARCHAR', segments: 'BIGINT'}}) as m
        {day_filter}
    """)
    seconds["read_sms"] = time.perf_counter() - t

    t = time.perf_counter()
    parts = []
    for path in sorted((landing / "call_center").glob("calls_*.csv")):
        data = path.read_bytes()
        if not data.startswith(b"\xef\xbb\xbf"):
            # DuckDB reads UTF-8, UTF-16 and strict Latin-1 only: a Windows-1252 export is transcoded.
            path = out / f"{path.stem}.utf8.csv"
            path.write_bytes(data.decode("cp1252", errors="replace").encode("utf-8"))
        parts.append(
            f"select * from read_csv('{path}', header = true, all_varchar = true, "
            f"strict_mode = false, ignore_errors = true)"
        )
    con.execute(f"""
        create table calls as
        select 'call_center' as channel, call_id as record_id, call_started_at as event_time_text,
               notes as text, caller_name as author_name, caller_phone as phone, account_number, status
        from ({' union all by name '.join(parts)})
    """)
    seconds["read_call_center"] = time.perf_counter() - t

    t = time.perf_counter()
    rows = []
    db = args.lake / "oltp" / "web_forms.sqlite"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as sq:
        rows = sq.execute(
            "select id, submitted_at, updated_at, full_name, email, phone, account_number, subject, message, status "
            "from complaint_forms"
        ).fetchall()
    forms = pl.DataFrame(rows, schema=["id", "submitted_at", "updated_at", "full_name", "email", "phone",
                                       "account_number", "subject", "message", "status"], orient="row")
    # Handed over as a Parquet file written by polars (native): through Arrow, importing pyarrow alone
    # costs a second.
    forms.write_parquet(out / "forms_rows.parquet")
    con.execute(f"create view forms_rows as select * from read_parquet('{out}/forms_rows.parquet')")
    extracts = sorted((landing / "web_forms").glob("date=*/*/extract-*.parquet"))
    earlier = ""
    if extracts:
        files = ", ".join(f"'{p}'" for p in extracts)
        earlier = (f"union all select cast(id as varchar), cast(updated_at as varchar), cast(submitted_at as varchar), "
                   f"message, full_name, email, phone, account_number, status from read_parquet([{files}], union_by_name = true)")
    con.execute(f"""
        create table forms as
        select 'web_forms' as channel, record_id, received_at, event_time_text, text, author_name, email, phone,
               account_number, status
        from (
            select cast(id as varchar) as record_id, updated_at as received_at, submitted_at as event_time_text,
                   message as text, full_name as author_name, email, phone, account_number, status
            from forms_rows
            {earlier}
        )
    """)
    seconds["read_web_forms"] = time.perf_counter() - t

    t = time.perf_counter()
    con.execute("""
        create table bronze as
        select * from social union all by name select * from sms
        union all by name select * from calls union all by name select * from forms
    """)
    received = con.execute("select count(*) from bronze").fetchone()[0]
    for channel in ("social_media", "sms", "call_center", "web_forms"):
        con.execute(f"copy (select * from bronze where channel = '{channel}') to '{out}/bronze_{channel}.parquet' "
                    "(format parquet, compression zstd)")
    seconds["write_bronze"] = time.perf_counter() - t

    t = time.perf_counter()
    con.execute(r"""
        create table silver as
        select *,
               regexp_replace(text, '[\w.+-]+@[\w-]+(\.[\w-]+)+|\+?\d[\d ()-]{6,}\d', '<PII>', 'g') as text_masked,
               row_number() over (partition by channel, record_id order by received_at desc) as version
        from read_parquet('""" + str(out) + """/bronze_*.parquet')
    """)
    con.execute(f"copy (select * exclude (version) from silver where text is null or trim(text) = '') to '{out}/quarantine.parquet' (format parquet, compression zstd)")
    con.execute(f"copy (select * exclude (version) from silver where not (text is null or trim(text) = '') and version > 1) to '{out}/duplicates.parquet' (format parquet, compression zstd)")
    con.execute(f"copy (select * exclude (version) from silver where not (text is null or trim(text) = '') and version = 1) to '{out}/cleaned.parquet' (format parquet, compression zstd)")
    seconds["write_silver"] = time.perf_counter() - t

    t = time.perf_counter()
    con.execute(f"copy (select *, 'other' as category, 1.0 as category_confidence from read_parquet('{out}/cleaned.parquet')) "
                f"to '{out}/categorised.parquet' (format parquet, compression zstd)")
    cleaned = con.execute(f"select count(*) from read_parquet('{out}/cleaned.parquet')").fetchone()[0]
    seconds["write_categorised"] = time.perf_counter() - t

    seconds["total"] = time.perf_counter() - started
    print(json.dumps({
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "received_rows": received,
        "cleaned_rows": cleaned,
        "parquet_rows_written": 2 * received + cleaned,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
