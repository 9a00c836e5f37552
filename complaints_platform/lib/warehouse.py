"""Publishing the analysts' DuckDB file."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from complaints_platform.lib.lake import atomic_path


def publish_analytics_copy(warehouse: Path, target: Path) -> tuple[Path, list[str]]:
    """Copy the warehouse to ``target`` atomically; returns the target and its table names.

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
