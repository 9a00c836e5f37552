"""The cleaned layer's shapes: one canonical schema for complaints from every channel.

Files: ``silver/<asset>/date=YYYY-MM-DD/part.parquet``, one per daily partition, where the date is
the UTC day the platform *received* the records (so a late record lands in the day it arrived and
its ``event_at`` says when it was made). Nothing in silver holds raw PII: texts are masked and
identifiers are keyed tokens (``lib/pii.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from complaints_platform.lib.bronze import UTC_DATETIME

CATEGORIES = (
    "poor_network",
    "incorrect_billing",
    "bad_customer_service",
    "device_equipment",
    "other",
)
# The category of everything that is not a complaint: brand or agent replies, marketing, spam,
# thanks, questions, chatter. Such records are kept and flagged (is_complaint = false).
NOT_A_COMPLAINT = "other"
# Which path decided a record's category: the fast student model, the slow teacher vote (texts the
# student was unsure of), or an analyst's correction.
CATEGORY_PATHS = ("student", "teacher", "correction")

CHANNEL_NAMES = ("social_media", "sms", "call_center", "web_forms")

# No complaint can be older than the platform's sources (and the fiscal calendar starts here).
EARLIEST_EVENT = datetime(2020, 1, 1, tzinfo=timezone.utc)
# Clocks disagree a little: a time this far past another (or past now) is still believable.
CLOCK_SKEW = timedelta(minutes=15)

# The cleaned layer's assets: one multi-asset writes all four, so they are always selected together.
REVIEW_QUEUE_ASSET = "duplicate_review_queue"
CLEANED_LAYER = ("complaints_cleaned", "complaints_quarantine", "complaint_duplicates", REVIEW_QUEUE_ASSET)

CLEANED_SCHEMA: dict[str, pl.DataType] = {
    "complaint_id": pl.String(),  # deterministic: hash of channel + source record id
    "channel": pl.String(),  # one of CHANNEL_NAMES
    "source_record_id": pl.String(),  # the channel's own id
    "source_location": pl.String(),  # where the original is (file:line, API page, table row)
    "customer_key": pl.String(),  # token of the CRM account number, when the customer is known
    "contact_token": pl.String(),  # token of the best contact (account, e-mail, phone or handle)
    "author_token": pl.String(),  # token of the person's name or handle
    "event_at": UTC_DATETIME,  # when the complaint was made (source's clock, normalised to UTC)
    "received_at": UTC_DATETIME,  # when the platform received it
    "event_date": pl.Date(),
    "received_date": pl.Date(),  # the partition
    "text_masked": pl.String(),  # the complaint text with PII replaced by tokens
    "status": pl.String(),  # case status where the channel has one
    "resolved_at": UTC_DATETIME,
    "wait_seconds": pl.Int32(),  # call centre only
    "handle_seconds": pl.Int32(),  # call centre only
    "duplicate_count": pl.Int32(),  # source records merged into this complaint (1 = unique)
}

CATEGORISED_SCHEMA: dict[str, pl.DataType] = {
    **CLEANED_SCHEMA,
    "category": pl.String(),  # one of CATEGORIES
    "category_confidence": pl.Float64(),  # the model's probability for that category
    "category_path": pl.String(),  # which path decided: student (fast) or teacher (slow)
    "is_complaint": pl.Boolean(),  # false for category other (kept, flagged, out of complaint counts)
    "model_version": pl.String(),
}

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "channel": pl.String(),
    "source_record_id": pl.String(),
    "source_location": pl.String(),
    "received_at": UTC_DATETIME,
    "received_date": pl.Date(),
    "rule": pl.String(),  # short machine name of the rule broken, e.g. unparseable_timestamp
    "reason": pl.String(),  # a sentence for a person
    "raw_masked": pl.String(),  # the payload as received, PII masked (the original stays in bronze)
}
# The quarantine's columns that may quote what a customer wrote: masked, and checked for leaks.
QUARANTINE_TEXT_COLUMNS = ["reason", "raw_masked"]

DUPLICATES_SCHEMA: dict[str, pl.DataType] = {
    "complaint_id": pl.String(),  # the removed copy
    "duplicate_of": pl.String(),  # the complaint kept
    "channel": pl.String(),
    "source_record_id": pl.String(),
    "source_location": pl.String(),
    "received_date": pl.Date(),
    # same_source_record | same_contact_same_text | near_duplicate | reviewed_duplicate
    "rule": pl.String(),
    "similarity": pl.Float64(),  # text similarity to the complaint kept, 0-1 (1 for a copy of the record)
}
