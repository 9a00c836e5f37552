"""Where the platform's data and sources are: one place, read from the environment.

A deployment points the platform at its own sources by setting these variables (or by writing them
to ``<data dir>/platform.env``, which the demo does with generated secrets). Nothing here is a
secret default for production: secrets have no default and fail loudly when they are needed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from complaints_platform.lib.phone_region import DEFAULT_REGION, check_region

ENV_FILE_NAME = "platform.env"
# The most items the SMS API gives in one page (its `limit`; README, "SMS: the provider's REST API").
SMS_API_MAX_PAGE_SIZE = 500
EXECUTORS = ("in_process", "multiprocess")


def _data_dir() -> Path:
    return Path(os.environ.get("COMPLAINTS_DATA_DIR", "data")).resolve()


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def _lookup(name: str, file_values: dict[str, str], default: str | None = None) -> str | None:
    return os.environ.get(name) or file_values.get(name) or default


def _list(value: str | None) -> tuple[str, ...]:
    """A comma-separated setting."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


class MissingSetting(RuntimeError):
    """A setting the platform needs was not given."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    webhook_secret: str | None = None
    pii_key: str | None = None
    sms_api_url: str = "http://127.0.0.1:8766"
    sms_api_token: str | None = None
    # SMS API: how long one page is retried before the run fails, the first backoff (doubling,
    # with jitter), one request's timeout, and the page size asked for (the API's largest: each
    # page is a request and is landed with an fsync before the next, so fewer pages pull faster).
    sms_api_retry_seconds: float = 120.0
    sms_api_backoff_seconds: float = 1.0
    sms_api_timeout_seconds: float = 30.0
    sms_api_page_size: int = SMS_API_MAX_PAGE_SIZE
    call_center_dir: Path | None = None
    call_center_timezone: str = "Europe/London"
    call_center_column_map: dict[str, str] = field(default_factory=dict)
    call_center_filename_pattern: str = r"(?P<ts>\d{8}T\d{4})"
    web_forms_db_url: str | None = None
    crm_dir: Path | None = None
    default_phone_region: str = DEFAULT_REGION
    fiscal_year_start_month: int = 4
    # The brand's own social accounts: their replies repeat by design and are never merged.
    brand_handles: tuple[str, ...] = ()
    duplicate_merge_at: float = 0.75
    # Records received a day that the cleaned layer cleans in one bucket (a larger day is spilled
    # to Parquet and cleaned a bucket at a time, in bounded memory).
    cleaning_rows_per_bucket: int = 500_000
    duplicate_review_at: float = 0.50
    # Case statuses accepted beyond the standard ones (lib/cleaning.py ALLOWED_STATUSES).
    extra_statuses: tuple[str, ...] = ()
    # How a run executes its steps: "in_process" (all in the run's process) or "multiprocess" (a
    # process per step, Dagster's default). See definitions.py for why in_process is the default.
    executor: str = "in_process"

    @classmethod
    def from_env(cls) -> "Settings":
        data_dir = _data_dir()
        file_values = read_env_file(data_dir / ENV_FILE_NAME)
        # The file's values become environment variables of this process (the environment wins), so
        # secrets can be referenced by name (Dagster shows the name, never the value).
        for key, value in file_values.items():
            os.environ.setdefault(key, value)
        column_map = _lookup("COMPLAINTS_CALL_CENTER_COLUMN_MAP", file_values)
        call_center_dir = _lookup("COMPLAINTS_CALL_CENTER_DIR", file_values)
        crm_dir = _lookup("COMPLAINTS_CRM_DIR", file_values)
        return cls(
            data_dir=data_dir,
            webhook_secret=_lookup("COMPLAINTS_WEBHOOK_SECRET", file_values),
            pii_key=_lookup("COMPLAINTS_PII_KEY", file_values),
            sms_api_url=_lookup("COMPLAINTS_SMS_API_URL", file_values, cls.sms_api_url),
            sms_api_token=_lookup("COMPLAINTS_SMS_API_TOKEN", file_values),
            sms_api_retry_seconds=float(
                _lookup("COMPLAINTS_SMS_API_RETRY_SECONDS", file_values, str(cls.sms_api_retry_seconds))
            ),
            sms_api_backoff_seconds=float(
                _lookup("COMPLAINTS_SMS_API_BACKOFF_SECONDS", file_values, str(cls.sms_api_backoff_seconds))
            ),
            sms_api_timeout_seconds=float(
                _lookup("COMPLAINTS_SMS_API_TIMEOUT_SECONDS", file_values, str(cls.sms_api_timeout_seconds))
            ),
            sms_api_page_size=int(_lookup("COMPLAINTS_SMS_API_PAGE_SIZE", file_values, str(cls.sms_api_page_size))),
            call_center_dir=Path(call_center_dir) if call_center_dir else None,
            call_center_timezone=_lookup(
                "COMPLAINTS_CALL_CENTER_TZ", file_values, cls.call_center_timezone
            ),
            call_center_column_map=json.loads(column_map) if column_map else {},
            call_center_filename_pattern=_lookup(
                "COMPLAINTS_CALL_CENTER_FILENAME_PATTERN",
                file_values,
                cls.call_center_filename_pattern,
            ),
            web_forms_db_url=_lookup("COMPLAINTS_WEB_FORMS_DB_URL", file_values),
            crm_dir=Path(crm_dir) if crm_dir else None,
            default_phone_region=_lookup("COMPLAINTS_PHONE_REGION", file_values, cls.default_phone_region).upper(),
            fiscal_year_start_month=int(
                _lookup("COMPLAINTS_FISCAL_YEAR_START_MONTH", file_values, str(cls.fiscal_year_start_month))
            ),
            brand_handles=_list(_lookup("COMPLAINTS_BRAND_HANDLES", file_values)),
            extra_statuses=_list(_lookup("COMPLAINTS_EXTRA_STATUSES", file_values)),
            duplicate_merge_at=float(_lookup("COMPLAINTS_DUPLICATE_MERGE_AT", file_values, str(cls.duplicate_merge_at))),
            duplicate_review_at=float(
                _lookup("COMPLAINTS_DUPLICATE_REVIEW_AT", file_values, str(cls.duplicate_review_at))
            ),
            cleaning_rows_per_bucket=int(
                _lookup("COMPLAINTS_CLEANING_ROWS_PER_BUCKET", file_values, str(cls.cleaning_rows_per_bucket))
            ),
            executor=_lookup("COMPLAINTS_EXECUTOR", file_values, cls.executor),
        )

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.call_center_timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise MissingSetting(
                f"COMPLAINTS_CALL_CENTER_TZ={self.call_center_timezone!r} is not a time zone (e.g. Europe/London)"
            ) from error
        try:
            check_region(self.default_phone_region)
        except ValueError as error:
            raise MissingSetting(f"COMPLAINTS_PHONE_REGION: {error}") from error
        if not 0 < self.duplicate_review_at <= self.duplicate_merge_at <= 1:
            raise MissingSetting(
                "COMPLAINTS_DUPLICATE_REVIEW_AT and COMPLAINTS_DUPLICATE_MERGE_AT must satisfy 0 < review <= merge <= 1"
            )
        if not (self.sms_api_retry_seconds >= 0 and self.sms_api_backoff_seconds > 0 and self.sms_api_timeout_seconds > 0):
            raise MissingSetting(
                "COMPLAINTS_SMS_API_RETRY_SECONDS must be >= 0, COMPLAINTS_SMS_API_BACKOFF_SECONDS and "
                "COMPLAINTS_SMS_API_TIMEOUT_SECONDS > 0"
            )
        if not 1 <= self.sms_api_page_size <= SMS_API_MAX_PAGE_SIZE:
            raise MissingSetting(f"COMPLAINTS_SMS_API_PAGE_SIZE must be from 1 to {SMS_API_MAX_PAGE_SIZE} (the API's limit)")
        if self.executor not in EXECUTORS:
            raise MissingSetting(f"COMPLAINTS_EXECUTOR={self.executor!r} is not one of {', '.join(EXECUTORS)}")
        if self.cleaning_rows_per_bucket < 1:
            raise MissingSetting("COMPLAINTS_CLEANING_ROWS_PER_BUCKET must be a positive number of records")
        if not 1 <= self.fiscal_year_start_month <= 12:
            raise MissingSetting("COMPLAINTS_FISCAL_YEAR_START_MONTH must be a month number, 1 to 12")

    # Defaults that live under the data directory unless a deployment points elsewhere.
    @property
    def call_center_drop_dir(self) -> Path:
        return self.call_center_dir or self.data_dir / "landing" / "call_center"

    @property
    def crm_snapshot_dir(self) -> Path:
        return self.crm_dir or self.data_dir / "landing" / "crm"

    @property
    def web_forms_url(self) -> str:
        return self.web_forms_db_url or f"sqlite:///{self.data_dir / 'oltp' / 'web_forms.sqlite'}"

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            env = "COMPLAINTS_" + name.upper()
            raise MissingSetting(
                f"{env} is not set: export it or add it to {self.data_dir / ENV_FILE_NAME}"
            )
        return value
