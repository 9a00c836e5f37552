"""The warehouse's incremental builds (which receipt days changed since the last one), publishing the
analysts' DuckDB file, and proving it holds no raw PII first."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from complaints_platform.lib.lake import atomic_path, day_of_folder, write_bytes_atomic
from complaints_platform.lib.pii import find_unmasked_pii_in

# A cheap pre-filter in DuckDB: only values that could hold an e-mail, phone, card or IBAN (an '@',
# a run of digits, or a country code and check digits) are read into Python and checked properly.
_CANDIDATE = r"@|%40|[0-9][0-9 .()\-]{5,}[0-9]|[A-Za-z]{2}[0-9]{2}"


# Identifier columns are not scanned: hashes, the sources' own ids and file:line locations are
# digits by design (a 20-hex-digit complaint id can pass the Luhn check). Every other text column is,
# so a new free-text column is covered without anyone remembering to add it.
IDENTIFIER_SUFFIXES = ("_id", "_key", "_token", "_of")
IDENTIFIER_COLUMNS = {"source_location", "model_version"}


# Incremental builds. The complaint tables (dbt's int_changed_complaints, int_complaint_receipts,
# fct_complaint_sources, fct_complaints) are recomputed only for the complaints on receipt days whose
# silver files changed since the last successful build; dbt reads those days from CHANGES_FILE
# (dbt_project/macros/incremental_scope.sql). Anything else that changes them everywhere forces a
# full rebuild: a new CRM snapshot (customer_key), a changed fiscal calendar (the facts' dates were
# tested against it), a changed dbt project, a lost or unreadable state. An incremental build also
# tests only what it changed (get_where_subquery in that macro file).
INCREMENTAL_MODELS = frozenset({"int_changed_complaints", "int_complaint_receipts", "fct_complaint_sources", "fct_complaints"})
INCREMENTAL_INPUTS = ("complaints_categorised", "complaint_duplicates")
# What the analysts' copy's PII scan stamps per receipt day (its own state, PUBLISHED_STATE_FILE):
# the incremental inputs, and the silver the warehouse reads through views only.
PUBLISHED_INPUTS = (*INCREMENTAL_INPUTS, "complaints_quarantine", "duplicate_review_queue")
STATE_FILE = "lake_state.json"
PUBLISHED_STATE_FILE = "published_lake_state.json"  # the lake as the last publish that passed scanned it
CHANGES_FILE = "lake_changes.json"
STATE_VERSION = 3


def _file_stamps(folder: Path, pattern: str) -> dict[str, list[int]]:
    """``{relative path: [size, mtime_ns, inode]}``. Every lake write renames a new file into place,
    so a rewritten file has a new inode even where the clock is too coarse to move the mtime."""
    stamps = {}
    for path in sorted(folder.glob(pattern)) if folder.exists() else []:
        stat = path.stat()
        stamps[path.relative_to(folder).as_posix()] = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
    return stamps


def _project_digest(project_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted([project_dir / "dbt_project.yml", *project_dir.glob("models/**/*"), *project_dir.glob("macros/**/*")]):
        if path.is_file():
            digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _holds_other_days(path: Path, day: str) -> bool:
    """Whether a day's file holds a row received on another day. dbt finds a day's rows by their
    received_date, so such a file can only be rebuilt in a full build. A row without one counts: no
    day's filter finds it."""
    frame = pl.scan_parquet(path).filter(pl.col("received_date").ne_missing(date.fromisoformat(day))).select(pl.len())
    return frame.collect().item() > 0


def lake_state(
    root: Path, project_dir: Path, previous: dict | None = None, inputs: tuple[str, ...] = INCREMENTAL_INPUTS,
    settings: dict[str, str] | None = None,
) -> dict:
    """What a warehouse build (or the publish's scan) reads, stamped: the silver ``inputs`` per
    receipt day (with the files holding rows of other days), and what forces a full rebuild (or
    scan) when it changes (a silver file outside the date=YYYY-MM-DD folders, the CRM snapshots,
    the fiscal calendar, the dbt project, and ``settings``, what the consumer's result depends on
    besides the lake: the publish's scan, the phone region). Only files whose stamp differs from
    ``previous`` are opened."""
    comparable = previous and previous.get("version") == STATE_VERSION and previous.get("inputs") == list(inputs)
    known = previous.get("days", {}) if comparable else {}
    known_foreign = set(previous.get("foreign", [])) if known else set()
    days: dict[str, dict[str, list[int]]] = {}
    foreign = []
    outside_days = {}  # files the staging views read (*/*.parquet, as in sources.yml) outside date= folders
    for asset in inputs:
        folder = root / "silver" / asset
        for name, stamp in _file_stamps(folder, "*/*.parquet").items():
            subfolder, file_name = name.split("/", 1)
            day = day_of_folder(subfolder)
            if day is None:
                outside_days[f"{asset}/{name}"] = stamp
                continue
            key = f"{asset}/{file_name}"
            days.setdefault(day, {})[key] = stamp
            unchanged = known.get(day, {}).get(key) == stamp
            if (f"{day}/{key}" in known_foreign) if unchanged else _holds_other_days(folder / name, day):
                foreign.append(f"{day}/{key}")
    return {
        "version": STATE_VERSION,
        "inputs": list(inputs),
        "days": days,
        "foreign": sorted(foreign),
        "rebuild_on_change": {
            "silver_outside_days": outside_days,
            # every file stg_customers reads (dbt_project/models/staging/sources.yml), not only date=*
            "customers": _file_stamps(root / "reference" / "customers", "*/*.parquet"),
            # dim_date: an incremental build tests only the changed facts' dates against it
            "fiscal_calendar": _file_stamps(root / "reference" / "fiscal_calendar", "*.parquet"),
            "dbt_project": _project_digest(project_dir),
            **(settings or {}),
        },
    }


def changed_days(previous: dict | None, current: dict) -> list[str] | None:
    """The receipt days whose stamped silver inputs differ between two states (a file new, rewritten or
    gone), or None when the warehouse must be rebuilt whole: no comparable previous state, a change
    that forces a full rebuild, or a changed day with a file, now or before, holding other days' rows."""
    if (
        not previous
        or previous.get("version") != current["version"]
        or previous.get("inputs") != current["inputs"]
        or previous.get("rebuild_on_change") != current["rebuild_on_change"]
    ):
        return None
    before, now = previous.get("days", {}), current["days"]
    days = sorted(day for day in before.keys() | now.keys() if before.get(day) != now.get(day))
    mixed = {key.split("/", 1)[0] for key in [*previous.get("foreign", []), *current["foreign"]]}
    return None if mixed & set(days) else days


@dataclass(frozen=True)
class BuildPlan:
    """How one dbt build treats the incremental complaint tables."""

    full_refresh: bool
    changed_days: list[str] | None  # handed to dbt; None: nothing to hand (a full build, or none built)
    save_state: bool  # whether the lake state may be saved once the build succeeds
    reason: str


def plan_build(
    previous: dict | None, current: dict, selected: set[str], warehouse_exists: bool, requested_full: bool
) -> BuildPlan:
    """Incremental where the last build's state can be trusted, full otherwise (see lake_state)."""
    incremental = selected & INCREMENTAL_MODELS
    days = changed_days(previous, current)
    if not incremental:
        return BuildPlan(False, None, False, "no incremental table selected")
    if requested_full:
        return BuildPlan(True, None, True, "full rebuild: requested")
    if incremental != INCREMENTAL_MODELS:
        # The selected tables are rebuilt whole. The others still describe the lake of the previous
        # state, which is only the lake now if no receipt day changed since (as when a new CRM
        # snapshot alone rebuilds fct_complaints).
        # fct_complaints is the one that reads the CRM (customer_key).
        comparable = previous is not None and previous.get("version") == STATE_VERSION
        same_days = comparable and previous.get("days") == current["days"]
        before, now = (previous or {}).get("rebuild_on_change", {}), current["rebuild_on_change"]
        same_rest = before == now or ("fct_complaints" in incremental and all(
            before.get(key) == now[key] for key in ("dbt_project", "silver_outside_days")))
        return BuildPlan(True, None, same_days and same_rest,
                         "full rebuild: only some of the incremental complaint tables selected")
    if not warehouse_exists or days is None:
        return BuildPlan(True, None, True, "full rebuild: first build, a new CRM snapshot, a changed dbt project, "
                                             "a failed last build, a day's file holding other days' rows "
                                             "or a silver file outside the date= folders")
    listed = f" ({', '.join(days)})" if days else ""
    return BuildPlan(False, days, True, f"incremental: {len(days)} changed receipt day(s){listed}")


def take_state(
    path: Path, root: Path, project_dir: Path, inputs: tuple[str, ...] = INCREMENTAL_INPUTS,
    settings: dict[str, str] | None = None,
) -> tuple[dict | None, dict]:
    """The lake state a run saved at ``path`` when it last succeeded, and the lake's state now (of
    ``inputs`` and with ``settings``, as in lake_state). The saved one is removed: until this run succeeds and saves the
    new one (save_state), the next run has nothing to compare with and does everything."""
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        previous = None  # none yet, or unreadable
    current = lake_state(root, project_dir, previous, inputs, settings)
    path.unlink(missing_ok=True)
    return previous, current


def save_state(path: Path, state: dict) -> None:
    write_bytes_atomic(json.dumps(state).encode(), path)


class UnmaskedPiiError(RuntimeError):
    """Raw personal data found where analysts could open it."""

    def __init__(self, findings: dict[str, dict[str, int]]):
        self.findings = findings
        where = "; ".join(f"{column}: {kinds}" for column, kinds in findings.items())
        super().__init__(f"unmasked PII found, not published: {where}")


# A column with at most this many distinct values in its first PROBE_ROWS rows is read as a category
# (channel, status, rule): its distinct values are found first and only they are matched, which
# DuckDB does from a table's dictionaries in milliseconds. Free text is matched row by row first:
# nearly every text is distinct, so finding the distinct texts would cost more than matching them.
PROBE_ROWS = 10_000
CATEGORY_MAX_DISTINCT = 1_000


def _candidates_sql(con: duckdb.DuckDBPyConnection, relation: str, column: str, where: str = "true") -> str:
    """The query for a column's distinct values that pass the candidate pre-filter (one parameter)."""
    distinct = con.execute(
        f"select count(distinct {column}) from (select {column} from {relation} where {where} limit {PROBE_ROWS})"
    ).fetchone()[0]
    if distinct <= CATEGORY_MAX_DISTINCT:
        # The limit keeps DuckDB from pushing the match below the distinct (it would match every row).
        return (
            f"select v from (select distinct {column} as v from {relation} where {column} is not null and {where} "
            f"limit 9223372036854775807) where regexp_matches(v, ?)"
        )
    return (
        f"select distinct {column} from {relation} "
        f"where {column} is not null and {where} and regexp_matches({column}, ?)"
    )


# The views over the silver assets of PUBLISHED_INPUTS (the staging view of each, and the review
# queue's view for people): a publish after one that passed scans only their changed receipt days
# (see unmasked_pii_in). Each filters on received_date, the day of the file it comes from.
VIEWS_BY_RECEIPT_DAY = {"stg_complaints", "stg_duplicates", "stg_quarantine", "stg_review_queue", "review_duplicate_pairs"}
# The staging views over the reference data lake_state stamps in its rebuild_on_change (the CRM
# snapshots, the fiscal calendar; the views' SQL is in the dbt project's digest): when changed
# days are known, none of that changed since the last scan that passed, so these views are not
# scanned again. stg_customers is a window over every CRM snapshot, which grows by one a day.
VIEWS_OF_STAMPED_REFERENCE = {"stg_customers", "stg_fiscal_calendar"}


def _in_days(days: list[str]) -> str:
    listed = ", ".join(f"date '{date.fromisoformat(day)}'" for day in days)
    return f"received_date in ({listed})" if days else "false"


def unmasked_pii_in(
    con: duckdb.DuckDBPyConnection, region: str, only_days: list[str] | None = None
) -> dict[str, dict[str, int]]:
    """Every text column (but identifiers) of every table and view: ``{"table.column": {kind:
    distinct values}}`` for values still holding an e-mail, phone, card or IBAN (lib/pii.py decides,
    reading national phone numbers in ``region``, the masker's).

    ``only_days``: the receipt days whose silver files changed since the last scan that passed; the
    views in VIEWS_BY_RECEIPT_DAY are then scanned on those days only (their other files have not
    changed since they passed) and those in VIEWS_OF_STAMPED_REFERENCE not at all. None scans
    everything."""
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR' order by 1, 2, 3"
    ).fetchall()
    findings: dict[str, dict[str, int]] = {}
    for schema, table, column in columns:
        if column.endswith(IDENTIFIER_SUFFIXES) or column in IDENTIFIER_COLUMNS:
            continue
        if only_days is not None and table in VIEWS_OF_STAMPED_REFERENCE:
            continue
        where = _in_days(only_days) if only_days is not None and table in VIEWS_BY_RECEIPT_DAY else "true"
        texts = con.execute(_candidates_sql(con, f'"{schema}"."{table}"', f'"{column}"', where), [_CANDIDATE]).pl().to_series()
        kinds = Counter(kind for found in find_unmasked_pii_in(texts, region).to_list() for kind in found)
        if kinds:
            findings[f"{schema}.{table}.{column}"] = dict(kinds)
    return findings


def publish_analytics_copy(
    warehouse: Path, target: Path, region: str, only_days: list[str] | None = None
) -> tuple[Path, list[str]]:
    """Copy the warehouse to ``target`` atomically, unless any text in it still holds raw PII
    (``UnmaskedPiiError``; ``region`` and ``only_days`` as in unmasked_pii_in); returns the target
    and its table names.

    The caller must hold the warehouse's single-writer pool, so nothing writes the warehouse while
    it is checkpointed and copied. Analysts with the old file open keep reading the old file (the
    rename swaps the directory entry only); new connections see the new one.
    """
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run the dbt build first")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CHECKPOINT")
    with atomic_path(target) as tmp:
        shutil.copyfile(warehouse, tmp)
        with duckdb.connect(str(tmp), read_only=True) as con:
            # What analysts would open is scanned before it replaces the old copy: a leak raises,
            # the temporary file is removed, and the previous copy stays.
            findings = unmasked_pii_in(con, region, only_days)
            if findings:
                raise UnmaskedPiiError(findings)
            tables = [
                r[0]
                for r in con.execute(
                    "select table_schema || '.' || table_name from information_schema.tables order by 1"
                ).fetchall()
            ]
    return target, tables


def table_row_counts(database: Path) -> dict[str, int]:
    """Rows in each table and view of the main schema (opened read-only)."""
    with duckdb.connect(str(database), read_only=True) as con:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()]
        return {name: con.execute(f'select count(*) from main."{name}"').fetchone()[0] for name in names}
