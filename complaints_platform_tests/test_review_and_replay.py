"""Through Dagster and the CLI: a person decides a queued near-duplicate pair and the sensor's run
honours it; a quarantined record is replayed after a fix and flows through, exactly once."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import polars as pl
import pytest

from complaints_platform.cli import main
from complaints_platform.definitions import build_definitions
from complaints_platform.lib.settings import Settings
from complaints_platform.lib.silver import CLEANED_LAYER
from complaints_platform.lib.web_forms import create_schema, upsert_forms
from complaints_platform.runtime import run_assets

pytestmark = pytest.mark.integration

DAY = "2026-11-20"


def _form(i: int, minute: int, message: str, status: str = "new", account: str = "AC10000001") -> dict:
    at = datetime(2026, 11, 20, 9, minute)
    return {"id": i, "submitted_at": at, "updated_at": at, "full_name": "Ana Núñez", "email": "ana@example.com",
            "phone": None, "account_number": account, "subject": "Internet", "message": message, "status": status}


FORMS = [
    _form(1, 0, "my internet keeps dropping every evening, can someone look at the line please"),
    _form(2, 30, "the broadband keeps cutting out every evening, can someone check the line"),  # grey band
    _form(3, 40, "You charged me for a phone I returned in October", status="Awaiting customer", account="AC10000002"),
]


def _silver(root, asset) -> pl.DataFrame:
    return pl.read_parquet(root / "silver" / asset / f"date={DAY}" / "part.parquet")


def _run_day(defs, instance):
    result = run_assets(defs, instance, [*CLEANED_LAYER, "complaints_categorised"], (DAY, DAY))
    assert result.success
    return result


def test_review_decision_and_quarantine_replay(data_dir, monkeypatch, capsys):
    url = f"sqlite:///{data_dir / 'oltp' / 'web_forms.sqlite'}"
    (data_dir / "oltp").mkdir()
    create_schema(url)
    upsert_forms(url, FORMS)
    defs = build_definitions(Settings.from_env())
    instance = dg.DagsterInstance.get()
    assert run_assets(defs, instance, ["category_model"]).success
    assert run_assets(defs, instance, ["web_forms_raw"], (f"{DAY}-09:00", f"{DAY}-09:45")).success
    _run_day(defs, instance)

    queue = _silver(data_dir, "duplicate_review_queue")
    assert queue.height == 1
    pair = queue.row(0, named=True)
    assert _silver(data_dir, "complaints_quarantine").select("rule").to_series().to_list() == ["unknown_status"]
    assert _silver(data_dir, "complaints_cleaned").height == 2

    assert main(["review", "list"]) == 0
    assert pair["pair_id"] in capsys.readouterr().out
    assert main(["review", "accept", pair["pair_id"], "--by", "ana", "--note", "same fault"]) == 0
    assert main(["review", "accept", "p-not-a-pair"]) == 2

    # The sensor asks for the day again; that run honours the decision.
    from complaints_platform.defs.automation import duplicate_review_sensor

    requests = duplicate_review_sensor(dg.build_sensor_context(instance=instance)).run_requests
    assert [r.partition_key for r in requests] == [DAY]
    _run_day(defs, instance)
    duplicates = _silver(data_dir, "complaint_duplicates")
    assert duplicates.select("complaint_id", "duplicate_of", "rule").rows() == [
        (pair["complaint_id"], pair["candidate_of"], "reviewed_duplicate")
    ]
    assert _silver(data_dir, "duplicate_review_queue").height == 0
    assert _silver(data_dir, "complaints_cleaned").height == 1

    # The web form uses a status the platform did not know: accept it, then replay the quarantine.
    monkeypatch.setenv("COMPLAINTS_EXTRA_STATUSES", "awaiting_customer")
    assert main(["quarantine", "replay", "--day", DAY, "--rule", "unknown_status", "--no-warehouse"]) == 0
    assert "1 record(s) left the quarantine; 0 still there" in capsys.readouterr().out
    assert main(["quarantine", "replay", "--day", DAY, "--rule", "unknown_status"]) == 0
    assert "No quarantined records match" in capsys.readouterr().out
    _run_day(build_definitions(Settings.from_env()), instance)  # the day run again (settings reloaded): still once
    cleaned = _silver(data_dir, "complaints_cleaned")
    assert cleaned.filter(pl.col("source_record_id") == "3").select("status").to_series().to_list() == ["awaiting_customer"]
    assert _silver(data_dir, "complaints_quarantine").height == 0
    assert cleaned.height + _silver(data_dir, "complaint_duplicates").height == 3  # received = cleaned + dups + 0
    categorised = _silver(data_dir, "complaints_categorised")
    assert sorted(categorised["source_record_id"].to_list()) == ["1", "3"]
