"""Reference data: the fiscal calendar and the masked customer list."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from complaints_platform.lib.crm import CRM_SCHEMA
from complaints_platform.lib.pii import PiiMasker
from complaints_platform.lib.reference import CUSTOMERS_SCHEMA, fiscal_calendar, mask_customers


def _day(calendar: pl.DataFrame, day: date) -> dict:
    return calendar.filter(pl.col("date") == day).to_dicts()[0]


def _fiscal(row: dict) -> tuple:
    return row["fiscal_year"], row["fiscal_quarter"], row["fiscal_month"], row["fiscal_year_label"]


# --- fiscal calendar ---------------------------------------------------------------------------


def test_april_start_year_boundary():
    calendar = fiscal_calendar(date(2026, 3, 30), date(2026, 4, 2))
    assert _fiscal(_day(calendar, date(2026, 3, 31))) == (2026, 4, 12, "FY2026")
    assert _fiscal(_day(calendar, date(2026, 4, 1))) == (2027, 1, 1, "FY2027")


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 4, 30), (2027, 1, 1)),
        (date(2026, 6, 30), (2027, 1, 3)),
        (date(2026, 7, 1), (2027, 2, 4)),
        (date(2026, 12, 31), (2027, 3, 9)),
        (date(2027, 1, 1), (2027, 4, 10)),
        (date(2027, 3, 31), (2027, 4, 12)),
    ],
)
def test_april_start_quarters_and_months(day, expected):
    calendar = fiscal_calendar(date(2026, 4, 1), date(2027, 3, 31))
    row = _day(calendar, day)
    assert (row["fiscal_year"], row["fiscal_quarter"], row["fiscal_month"]) == expected


def test_a_fiscal_year_is_one_unbroken_run_of_365_or_366_days():
    calendar = fiscal_calendar(date(2023, 4, 1), date(2026, 3, 31))
    sizes = dict(calendar.group_by("fiscal_year").agg(pl.len()).iter_rows())
    assert sizes == {2024: 366, 2025: 365, 2026: 365}  # FY2024 holds 29 February 2024
    assert calendar.get_column("fiscal_year").is_sorted()
    months = calendar.group_by("fiscal_year").agg(pl.col("fiscal_month").unique().sort())
    assert all(m == list(range(1, 13)) for m in months.get_column("fiscal_month").to_list())


def test_january_start_is_the_calendar_year():
    calendar = fiscal_calendar(date(2025, 1, 1), date(2026, 12, 31), fiscal_year_start_month=1)
    assert calendar.height == 730
    assert (calendar.get_column("fiscal_year") == calendar.get_column("year")).all()
    assert (calendar.get_column("fiscal_month") == calendar.get_column("month").cast(pl.Int32)).all()
    assert _fiscal(_day(calendar, date(2025, 12, 31))) == (2025, 4, 12, "FY2025")
    assert _fiscal(_day(calendar, date(2026, 1, 1))) == (2026, 1, 1, "FY2026")


def test_october_start():
    calendar = fiscal_calendar(date(2026, 9, 30), date(2026, 10, 1), fiscal_year_start_month=10)
    assert _fiscal(_day(calendar, date(2026, 9, 30))) == (2026, 4, 12, "FY2026")
    assert _fiscal(_day(calendar, date(2026, 10, 1))) == (2027, 1, 1, "FY2027")


def test_calendar_columns():
    calendar = fiscal_calendar(date(2026, 11, 20), date(2026, 11, 23))
    assert calendar.get_column("date").to_list() == [date(2026, 11, d) for d in (20, 21, 22, 23)]
    assert calendar.get_column("day_name").to_list() == ["Friday", "Saturday", "Sunday", "Monday"]
    assert calendar.get_column("day_of_week").to_list() == [5, 6, 7, 1]
    assert calendar.get_column("is_weekend").to_list() == [False, True, True, False]
    assert calendar.get_column("month_name").unique().to_list() == ["November"]
    assert calendar.get_column("iso_week").to_list() == [47, 47, 47, 48]


@pytest.mark.parametrize("month", [0, 13])
def test_bad_start_month_is_refused(month):
    with pytest.raises(ValueError):
        fiscal_calendar(date(2026, 1, 1), date(2026, 1, 2), fiscal_year_start_month=month)


# --- masked customers --------------------------------------------------------------------------


def _crm(rows: list[dict]) -> pl.DataFrame:
    base = {"full_name": None, "email": None, "phone": None, "social_handle": None, "plan": "basic",
            "region": "north", "signup_date": date(2022, 1, 1)}
    return pl.DataFrame([{**base, **row} for row in rows], schema=CRM_SCHEMA)


def test_customer_tokens_are_the_maskers_tokens():
    masker = PiiMasker("reference-key")
    crm = _crm(
        [
            {"account_number": "AC12345678", "full_name": "Jane Doe", "email": "Jane.Doe@Example.com",
             "phone": "07700 900123", "social_handle": "@JaneDoe", "plan": "unlimited"},
            {"account_number": "AC87654321", "full_name": "Omar Ali"},
        ]
    )
    customers = mask_customers(crm, masker, date(2026, 11, 21))
    assert customers.schema == pl.Schema(CUSTOMERS_SCHEMA)
    jane = customers.row(0, named=True)
    assert jane == {
        "customer_key": masker.token("ACCOUNT", "AC12345678"),
        "name_token": masker.token("NAME", "jane doe"),
        "email_token": masker.token("EMAIL", "jane.doe@example.com"),
        # The same number as a complaint would write it.
        "phone_token": masker.token("PHONE", "+44 7700 900123"),
        "handle_token": masker.token("HANDLE", "janedoe"),
        "plan": "unlimited",
        "region": "north",
        "signup_date": date(2022, 1, 1),
        "snapshot_date": date(2026, 11, 21),
    }
    # ...and the token the masker puts in free text for that number.
    assert jane["phone_token"] in masker.mask_text("ring 07700900123")
    omar = customers.row(1, named=True)
    assert (omar["email_token"], omar["phone_token"], omar["handle_token"]) == (None, None, None)


def test_no_raw_identifier_survives_masking():
    masker = PiiMasker("reference-key")
    crm = _crm([{"account_number": "AC12345678", "full_name": "Jane Doe", "email": "jane@example.com",
                 "phone": "07700 900123", "social_handle": "@janedoe"}])
    customers = mask_customers(crm, masker, date(2026, 11, 21))
    values = " ".join(str(v) for v in customers.row(0))
    for raw in ("AC12345678", "Jane", "jane@example.com", "07700", "janedoe"):
        assert raw not in values


def test_customers_without_an_account_are_dropped_and_the_last_row_per_account_wins():
    masker = PiiMasker("reference-key")
    crm = _crm(
        [
            {"account_number": "AC12345678", "plan": "basic"},
            {"account_number": None, "full_name": "No Account"},
            {"account_number": "AC12345678", "plan": "unlimited"},
            {"account_number": "AC11111111", "plan": "basic"},
        ]
    )
    customers = mask_customers(crm, masker, date(2026, 11, 21))
    assert customers.select("customer_key", "plan").rows() == [
        (masker.token("ACCOUNT", "AC12345678"), "unlimited"),
        (masker.token("ACCOUNT", "AC11111111"), "basic"),
    ]


def test_different_keys_give_different_customer_keys():
    crm = _crm([{"account_number": "AC12345678"}])
    one = mask_customers(crm, PiiMasker("key-one"), date(2026, 11, 21)).get_column("customer_key").item()
    two = mask_customers(crm, PiiMasker("key-two"), date(2026, 11, 21)).get_column("customer_key").item()
    assert one != two
