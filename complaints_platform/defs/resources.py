"""Resources: the platform's connections to its lake and its sources, configured from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import httpx

from complaints_platform.lib.near_duplicates import Thresholds
from complaints_platform.lib.phone_region import DEFAULT_REGION
from complaints_platform.lib.pii import PiiMasker
from complaints_platform.lib.settings import Settings
from complaints_platform.lib.sms import SmsRetryPolicy


class LakeResource(dg.ConfigurableResource):
    """The data directory (landing, bronze, silver, reference, models, DuckDB files)."""

    data_dir: str

    @property
    def root(self) -> Path:
        return Path(self.data_dir)


class PiiResource(dg.ConfigurableResource):
    """The secret key that masks personal data (keyed deterministic tokens)."""

    key: str = ""
    default_region: str = DEFAULT_REGION

    def masker(self) -> PiiMasker:
        if not self.key:
            raise dg.Failure("COMPLAINTS_PII_KEY is not set: the platform will not write unmasked data")
        return PiiMasker(self.key, self.default_region)


class SmsApiResource(dg.ConfigurableResource):
    """The SMS provider's REST API, and how long a page is retried before a run fails (backoff
    from ``retry_base_seconds``, doubling with jitter, each wait at most ``retry_max_backoff_seconds``)."""

    base_url: str
    token: str = ""
    page_size: int = Settings.sms_api_page_size
    timeout_seconds: float = 30.0
    retry_max_seconds: float = 120.0
    retry_base_seconds: float = 1.0
    retry_max_backoff_seconds: float = 30.0

    def retry_policy(self) -> SmsRetryPolicy:
        return SmsRetryPolicy(
            max_total_seconds=self.retry_max_seconds,
            base_backoff_seconds=self.retry_base_seconds,
            max_backoff_seconds=self.retry_max_backoff_seconds,
        )

    def client(self) -> httpx.Client:
        if not self.token:
            raise dg.Failure("COMPLAINTS_SMS_API_TOKEN is not set")
        return httpx.Client(timeout=self.timeout_seconds)


class WebFormsDbResource(dg.ConfigurableResource):
    """The website's OLTP database (SQLAlchemy URL: SQLite or PostgreSQL)."""

    url: str


class CallCenterDropResource(dg.ConfigurableResource):
    """The folder the CRM drops its call-centre CSV exports in, and how to read them."""

    folder: str
    timezone: str = "Europe/London"
    filename_pattern: str = r"(?P<ts>\d{8}T\d{4})"
    column_map_json: str = "{}"

    @property
    def column_map(self) -> dict[str, str]:
        return json.loads(self.column_map_json)


class CrmSnapshotResource(dg.ConfigurableResource):
    """The folder holding daily CRM customer snapshots (customers_YYYY-MM-DD.csv)."""

    folder: str


class CleaningResource(dg.ConfigurableResource):
    """The cleaned layer's configurable rules: how near-duplicates are decided
    (lib/near_duplicates.py), whose posts are never merged, and case statuses accepted beyond the
    standard ones (a source that starts using a new status: add it, then replay its quarantine)."""

    merge_at: float = 0.75
    review_at: float = 0.50
    brand_handles: list[str] = []
    extra_statuses: list[str] = []
    rows_per_bucket: int = Settings.cleaning_rows_per_bucket

    def buckets(self, received: int) -> int:
        """Buckets a day of ``received`` records is cleaned in (lib/cleaning.py, ``screen_day``)."""
        return max(1, -(-received // self.rows_per_bucket))

    def thresholds(self) -> Thresholds:
        return Thresholds(merge_at=self.merge_at, review_at=self.review_at)

    def brand_contacts(self, masker: PiiMasker) -> frozenset[str]:
        """The brand accounts' contact tokens (a handle's token is its contact token)."""
        return frozenset(masker.token("HANDLE", handle) for handle in self.brand_handles)


def resources_from_settings(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "lake": LakeResource(data_dir=str(settings.data_dir)),
        # Secrets by name: the UI shows the variable's name, never its value.
        "pii": PiiResource(key=dg.EnvVar("COMPLAINTS_PII_KEY"), default_region=settings.default_phone_region),
        "sms_api": SmsApiResource(
            base_url=settings.sms_api_url,
            token=dg.EnvVar("COMPLAINTS_SMS_API_TOKEN"),
            timeout_seconds=settings.sms_api_timeout_seconds,
            page_size=settings.sms_api_page_size,
            retry_max_seconds=settings.sms_api_retry_seconds,
            retry_base_seconds=settings.sms_api_backoff_seconds,
        ),
        "web_forms_db": WebFormsDbResource(url=settings.web_forms_url),
        "call_center": CallCenterDropResource(
            folder=str(settings.call_center_drop_dir),
            timezone=settings.call_center_timezone,
            filename_pattern=settings.call_center_filename_pattern,
            column_map_json=json.dumps(settings.call_center_column_map),
        ),
        "crm": CrmSnapshotResource(folder=str(settings.crm_snapshot_dir)),
        "cleaning": CleaningResource(
            merge_at=settings.duplicate_merge_at,
            review_at=settings.duplicate_review_at,
            brand_handles=list(settings.brand_handles),
            extra_statuses=list(settings.extra_statuses),
            rows_per_bucket=settings.cleaning_rows_per_bucket,
        ),
    }
