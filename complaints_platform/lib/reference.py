"""Reference data: the masked customer dimension's source and the fiscal calendar."""

from __future__ import annotations

from datetime import date

import polars as pl

from complaints_platform.lib.pii import PiiMasker

CUSTOMERS_SCHEMA: dict[str, pl.DataType] = {
    "customer_key": pl.String(),  # token of the account number: joins to silver's customer_key
    "name_token": pl.String(),
    "email_token": pl.String(),
    "phone_token": pl.String(),
    "handle_token": pl.String(),
    "plan": pl.String(),
    "region": pl.String(),
    "signup_date": pl.Date(),
    "snapshot_date": pl.Date(),
}


# The CRM's identifier columns: the token column each becomes, and its kind.
_TOKENISED = {
    "account_number": ("customer_key", "ACCOUNT"),
    "full_name": ("name_token", "NAME"),
    "email": ("email_token", "EMAIL"),
    "phone": ("phone_token", "PHONE"),
    "social_handle": ("handle_token", "HANDLE"),
}


def mask_customers(crm: pl.DataFrame, masker: PiiMasker, snapshot: date) -> pl.DataFrame:
    """The CRM snapshot with every identifier replaced by its token (same tokens as silver)."""
    crm = crm.filter(pl.col("account_number").is_not_null())
    tokens = masker.tokenise(crm, {column: kind for column, (_, kind) in _TOKENISED.items()})
    return (
        crm.select(
            *(tokens.get_column(column).alias(token) for column, (token, _) in _TOKENISED.items()),
            "plan",
            "region",
            pl.col("signup_date").cast(pl.Date, strict=False),
            pl.lit(snapshot).alias("snapshot_date"),
        )
        .unique(subset="customer_key", keep="last", maintain_order=True)
        .cast(CUSTOMERS_SCHEMA)
    )


def fiscal_calendar(start: date, end: date, fiscal_year_start_month: int = 4) -> pl.DataFrame:
    """One row per date; the fiscal year is named by the calendar year in which it ends."""
    if not 1 <= fiscal_year_start_month <= 12:
        raise ValueError("fiscal_year_start_month must be 1..12")
    offset = fiscal_year_start_month - 1
    days = pl.DataFrame({"date": pl.date_range(start, end, "1d", eager=True)})
    shifted_month = (pl.col("month") - 1 - offset) % 12  # 0-based month within the fiscal year
    return days.with_columns(
        pl.col("date").dt.year().alias("year"),
        pl.col("date").dt.month().alias("month"),
        pl.col("date").dt.weekday().alias("day_of_week"),
        pl.col("date").dt.strftime("%A").alias("day_name"),
        pl.col("date").dt.strftime("%B").alias("month_name"),
        (pl.col("date").dt.weekday() >= 6).alias("is_weekend"),
        pl.col("date").dt.week().alias("iso_week"),
    ).with_columns(
        (pl.col("year") + (pl.col("month") >= fiscal_year_start_month).cast(pl.Int32) * (1 if offset else 0))
        .cast(pl.Int32)
        .alias("fiscal_year"),
        (shifted_month // 3 + 1).cast(pl.Int32).alias("fiscal_quarter"),
        (shifted_month + 1).cast(pl.Int32).alias("fiscal_month"),
    ).with_columns(pl.format("FY{}", pl.col("fiscal_year")).alias("fiscal_year_label"))
