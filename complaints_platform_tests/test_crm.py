"""CRM snapshots: choosing the right day's file and reading it into typed columns."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from complaints_platform.lib.crm import (
    CRM_SCHEMA,
    latest_snapshot,
    read_crm_snapshot,
    snapshot_date,
)

HEADER = "account_number,full_name,email,phone,social_handle,plan,region,signup_date"


def test_snapshot_date_from_the_file_name() -> None:
    assert snapshot_date(Path("landing/crm/customers_2026-11-21.csv")) == date(2026, 11, 21)
    assert snapshot_date(Path("CUSTOMERS_2026-01-05.CSV")) == date(2026, 1, 5)
    bad_names = [
        "customers_2026-11-21.csv.tmp",
        "customers_20261121.csv",
        "customers_2026-02-30.csv",
    ]
    for name in bad_names:
        with pytest.raises(ValueError):
            snapshot_date(Path(name))


def test_latest_snapshot_on_or_before_a_day(tmp_path: Path) -> None:
    for name in [
        "customers_2026-11-19.csv",
        "customers_2026-11-21.csv",
        "customers_2026-11-23.csv",
        ".customers_2026-11-22.csv",  # a copy in progress
        "customers_2026-11-22.csv.tmp",
        "customers_2026-02-30.csv",
        "notes.txt",
    ]:
        (tmp_path / name).write_text(HEADER + "\n")
    assert latest_snapshot(tmp_path, date(2026, 11, 22)) == tmp_path / "customers_2026-11-21.csv"
    assert latest_snapshot(tmp_path, date(2026, 11, 21)) == tmp_path / "customers_2026-11-21.csv"
    assert latest_snapshot(tmp_path, date(2026, 12, 31)) == tmp_path / "customers_2026-11-23.csv"
    assert latest_snapshot(tmp_path, date(2026, 11, 18)) is None
    assert latest_snapshot(tmp_path / "missing", date(2026, 11, 22)) is None


def test_read_snapshot_in_windows_1252_with_reordered_columns(tmp_path: Path) -> None:
    path = tmp_path / "customers_2026-11-21.csv"
    path.write_bytes(
        (
            "Region,Account_Number,full_name,email,phone,social_handle,plan,signup_date,old_id\r\n"
            "North,ACC-00001,José Müller,jose@example.com,07700900123,@jose,Unlimited,2024-03-01,9\r\n"
            "\r\n"
            'South,ACC-00002,"O’Brien, Zoë",,,,Basic,01/02/2023,10\r\n'
        ).encode("cp1252")
    )
    frame = read_crm_snapshot(path)
    assert frame.schema == pl.Schema(CRM_SCHEMA)
    assert frame.to_dicts() == [
        {
            "account_number": "ACC-00001",
            "full_name": "José Müller",
            "email": "jose@example.com",
            "phone": "07700900123",
            "social_handle": "@jose",
            "plan": "Unlimited",
            "region": "North",
            "signup_date": date(2024, 3, 1),
        },
        {
            "account_number": "ACC-00002",
            "full_name": "O’Brien, Zoë",
            "email": None,
            "phone": None,
            "social_handle": None,
            "plan": "Basic",
            "region": "South",
            "signup_date": None,  # not YYYY-MM-DD
        },
    ]


@pytest.mark.parametrize("rows_per_frame", [1, 2])
def test_a_snapshot_read_a_few_customers_at_a_time_gives_the_same_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows_per_frame: int
) -> None:
    path = tmp_path / "customers_2026-11-21.csv"
    path.write_text(
        HEADER + "\r\n"
        + "".join(f'ACC-{n},"Name\r\n{n}",n{n}@example.com,,,Basic,North,2024-01-0{n}\r\n' for n in range(1, 6))
        + "\r\nACC-6,Last,,,,,,\r\n",
        newline="",
    )
    whole = read_crm_snapshot(path)
    assert whole["account_number"].to_list() == [f"ACC-{n}" for n in range(1, 7)]
    assert whole["full_name"][0] == "Name\r\n1"  # a quoted line break stays in its value
    monkeypatch.setattr("complaints_platform.lib.crm.ROWS_PER_FRAME", rows_per_frame)
    assert_frame_equal(read_crm_snapshot(path), whole)


def test_read_snapshot_utf8_bom_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "customers_2026-11-21.csv"
    path.write_bytes(("\ufeff" + HEADER + "\nACC-1,Ann,,,,,,2020-01-01\n").encode("utf-8"))
    assert read_crm_snapshot(path)["account_number"].to_list() == ["ACC-1"]

    path.write_bytes(b"")
    empty = read_crm_snapshot(path)
    assert empty.height == 0 and empty.schema == pl.Schema(CRM_SCHEMA)


def test_read_snapshot_rejects_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "customers_2026-11-21.csv"
    path.write_text("account_number,full_name,email\nACC-1,Ann,a@x\n")
    missing = "missing columns: phone, social_handle, plan, region, signup_date"
    with pytest.raises(ValueError, match=missing):
        read_crm_snapshot(path)
    path.write_text(HEADER + "\nACC-1,Ann,,,,,,2020-01-01\nACC-2,Bo,,,\n")
    with pytest.raises(ValueError, match=r"customers_2026-11-21.csv:3: expected 8 fields, found 5"):
        read_crm_snapshot(path)
