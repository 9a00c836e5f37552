"""End to end: the demo's generated day through the real edges and the whole asset graph.

Webhooks over HTTP to the receiver, SMS pulled over HTTP from the simulator, CSVs from the drop
folder, forms from SQLite, the real dbt build; then assertions on the rows that reach the marts,
against the generator's known answers.
"""

from collections import Counter
from datetime import date

import duckdb
import polars as pl
import pytest

from complaints_platform.lib.cleaning import complaint_id
from complaints_platform.lib.pii import find_unmasked_pii
from complaints_platform.simulate.demo import run_demo
from complaints_platform.simulate.generator import generate_day

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 20)
SEED = 11
VOLUMES = {"social_media": 80, "sms": 80, "call_center": 50, "web_forms": 50}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("pipeline") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMPLAINTS_DATA_DIR", str(data_dir))
        for name in ("COMPLAINTS_WEBHOOK_SECRET", "COMPLAINTS_PII_KEY", "COMPLAINTS_SMS_API_TOKEN", "COMPLAINTS_SMS_API_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("DAGSTER_HOME", str(data_dir / "dagster_home"))
        report = run_demo(data_dir, DAY, SEED, VOLUMES)
    truth = pl.DataFrame(generate_day(DAY, seed=SEED, complaints_per_channel=VOLUMES).truth)
    return data_dir, report, truth


def _silver(data_dir, asset) -> pl.DataFrame:
    return pl.read_parquet(f"{data_dir}/silver/{asset}/*/*.parquet")


def test_every_run_succeeded_and_webhooks_were_answered_as_expected(demo_run):
    _, report, truth = demo_run
    assert all(ok for _, ok, _ in report.runs)
    expected = Counter(
        status for status in generate_day(DAY, seed=SEED, complaints_per_channel=VOLUMES).social_events
        for status in [status.expect_status]
    )
    assert report.webhook_answers == dict(expected)


def test_bronze_holds_every_record_that_reached_the_platform(demo_run):
    data_dir, _, truth = demo_run
    expected = dict(truth.filter(pl.col("reaches_bronze")).group_by("channel").len().rows())
    for channel, asset in [("social_media", "social_media_raw"), ("sms", "sms_raw"),
                           ("call_center", "call_center_raw"), ("web_forms", "web_forms_raw")]:
        assert pl.read_parquet(f"{data_dir}/bronze/{asset}/*/*.parquet").height == expected[channel], channel


def test_accounting_quarantine_and_duplicates_match_the_planted_truth(demo_run):
    data_dir, _, truth = demo_run
    cleaned, quarantine, duplicates = (_silver(data_dir, a) for a in ("complaints_cleaned", "complaints_quarantine", "complaint_duplicates"))
    bronze_total = truth.filter(pl.col("reaches_bronze")).height
    assert bronze_total == cleaned.height + quarantine.height + duplicates.height

    assert quarantine.height == truth.filter(pl.col("expected_outcome") == "quarantine").height
    assert quarantine["reason"].null_count() == 0 and quarantine["source_location"].null_count() == 0

    same_record = duplicates.filter(pl.col("rule") == "same_source_record").height
    assert same_record == truth.filter((pl.col("rule") == "same_source_record") & pl.col("reaches_bronze")).height

    # Cross-channel copies: the same pairs as planted (which side is kept is the first received).
    ids = {complaint_id(r["channel"], r["source_record_id"]): r["source_record_id"]
           for r in pl.concat([cleaned.select("channel", "source_record_id"), duplicates.select("channel", "source_record_id")]).iter_rows(named=True)}
    found = {frozenset((r["source_record_id"], ids[r["duplicate_of"]]))
             for r in duplicates.filter(pl.col("rule") == "same_contact_same_text").iter_rows(named=True)}
    planted = {frozenset((r["source_id"], r["is_cross_channel_copy_of"]))
               for r in truth.filter(pl.col("rule") == "same_contact_same_text").iter_rows(named=True)}
    assert found == planted


def test_marts_count_every_cleaned_complaint_once(demo_run):
    data_dir, _, _ = demo_run
    cleaned = _silver(data_dir, "complaints_cleaned")
    with duckdb.connect(str(data_dir / "analytics.duckdb"), read_only=True) as con:
        assert con.execute("select count(*), count(distinct complaint_id) from fct_complaints").fetchone() == (cleaned.height, cleaned.height)
        assert con.execute("select sum(complaints + not_complaints) from mart_complaints_daily").fetchone()[0] == cleaned.height
        # Records flagged as not a complaint are kept in fct_complaints and never counted as complaints.
        flagged = con.execute("select count(*) from fct_complaints where not is_complaint").fetchone()[0]
        assert con.execute("select sum(not_complaints) from mart_complaints_daily").fetchone()[0] == flagged
        assert con.execute("select count(*) from fct_complaints where is_complaint = (category = 'other')").fetchone()[0] == 0
        by_channel = dict(con.execute("select channel, sum(complaints + not_complaints) from mart_complaints_daily group by 1").fetchall())
        assert by_channel == dict(cleaned.group_by("channel").len().rows())
        calls = cleaned.filter(pl.col("channel") == "call_center")
        mart = con.execute("select sum(calls), sum(resolved) from mart_call_center_resolution").fetchone()
        assert mart == (calls.height, calls.filter(pl.col("status") == "resolved").height)
        # Social events are delivered now, a day or more after they were made: late, and counted
        # on the day they were made.
        late = con.execute("select count(*) from fct_complaints where channel = 'social_media' and is_late").fetchone()[0]
        assert late == cleaned.filter(pl.col("channel") == "social_media").height
        assert con.execute("select min(event_date) from mart_complaints_daily where channel = 'social_media'").fetchone()[0] <= DAY


def test_categories_agree_with_the_generators_labels(demo_run):
    data_dir, _, truth = demo_run
    categorised = _silver(data_dir, "complaints_categorised")
    labelled = categorised.join(truth.select(pl.col("source_id").alias("source_record_id"), "channel", pl.col("category").alias("truth")),
                                on=["source_record_id", "channel"], how="inner").unique("complaint_id")
    accuracy = (labelled["category"] == labelled["truth"]).mean()
    assert labelled.height > 0.9 * categorised.height
    assert accuracy >= 0.8, accuracy  # out-of-sample text from a different author than the training text
    assert categorised["model_version"].n_unique() == 1


def test_nothing_analysts_can_open_holds_raw_pii(demo_run):
    data_dir, _, _ = demo_run
    leaks = []
    with duckdb.connect(str(data_dir / "analytics.duckdb"), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name from information_schema.columns where data_type = 'VARCHAR' and table_schema = 'main'"
        ).fetchall()
        # Identifier columns (ids, keys, tokens, versions, source locations) are not free text: a numeric
        # record id can look like a phone number without being one.
        free_text = [(t, c) for t, c in columns if not c.endswith(("_id", "_key", "_token", "_version", "_location"))]
        assert ("fct_complaints", "text_masked") in free_text or ("stg_complaints", "text_masked") in free_text
        for table, column in free_text:
            for (value,) in con.execute(f'select distinct "{column}" from "{table}" where "{column}" is not null').fetchall():
                if find_unmasked_pii(value):
                    leaks.append((table, column, value[:80]))
    assert leaks == []
    # Raw PII stays in landing and bronze, readable by the owner only.
    for layer in ("landing", "bronze"):
        for path in (data_dir / layer).rglob("*"):
            assert path.stat().st_mode & 0o077 == 0, path
