"""Publishing the analysts' DuckDB file, and proving it holds no raw PII first."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import duckdb

from complaints_platform.lib.lake import atomic_path
from complaints_platform.lib.pii import find_unmasked_pii

# A cheap pre-filter in DuckDB: only values that could hold an e-mail, phone, card or IBAN (an '@',
# a run of digits, or a country code and check digits) are read into Python and checked properly.
_CANDIDATE = r"@|%40|[0-9][0-9 .()\-]{5,}[0-9]|[A-Za-z]{2}[0-9]{2}"


# Identifier columns are not scanned: hashes, the sources' own ids and file:line locations are
# digits by design (a 20-hex-digit complaint id can pass the Luhn check). Every other text column is,
# so a new free-text column is covered without anyone remembering to add it.
IDENTIFIER_SUFFIXES = ("_id", "_key", "_token", "_of")
IDENTIFIER_COLUMNS = {"source_location", "model_version"}


class UnmaskedPiiError(RuntimeError):
    """Raw personal data found where analysts could open it."""

    def __init__(self, findings: dict[str, dict[str, int]]):
        self.findings = findings
        where = "; ".join(f"{column}: {kinds}" for column, kinds in findings.items())
        super().__init__(f"unmasked PII found, not published: {where}")


def unmasked_pii_in(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Every text column (but identifiers) of every table and view: ``{"table.column": {kind:
    distinct values}}`` for values still holding an e-mail, phone, card or IBAN (lib/pii.py decides)."""
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR' order by 1, 2, 3"
    ).fetchall()
    findings: dict[str, dict[str, int]] = {}
    for schema, table, column in columns:
        if column.endswith(IDENTIFIER_SUFFIXES) or column in IDENTIFIER_COLUMNS:
            continue
        values = con.execute(
            f'select distinct "{column}" from "{schema}"."{table}" '
            f'where "{column}" is not null and regexp_matches("{column}", ?)',
            [_CANDIDATE],
        ).fetchall()
        kinds = Counter(kind for (value,) in values for kind in find_unmasked_pii(value))
        if kinds:
            findings[f"{schema}.{table}.{column}"] = dict(kinds)
    return findings


def publish_analytics_copy(warehouse: Path, target: Path) -> tuple[Path, list[str]]:
    """Copy the warehouse to ``target`` atomically, unless any text in it still holds raw PII
    (``UnmaskedPiiError``); returns the target and its table names.

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
            findings = unmasked_pii_in(con)
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
