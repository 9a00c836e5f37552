"""category_corrections, category_model and complaints_categorised materialized for real on a hand-made
day: versions as artifacts with cards, corrections through the CLI, before/after metrics, the
promotion gate, and every record naming the model that labelled it."""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from complaints_platform.cli import main as cli
from complaints_platform.definitions import build_definitions
from complaints_platform.defs.categories import model as model_defs
from complaints_platform.lib import category_corpus, lake
from complaints_platform.lib.category_corpus import training_corpus
from complaints_platform.lib.silver import CATEGORIES
from complaints_platform.lib.settings import Settings
from complaints_platform.runtime import run_assets
from complaints_platform_tests.test_category_paths import _cleaned

pytestmark = pytest.mark.integration

DAY = "2026-11-21"
TEXTS = {
    "c001": "@TelcoCare no signal in Leeds since Monday, calls dropping all day",
    "c002": "you charged me twice for November and the refund never came",
    "c003": "on hold for 90 minutes then the agent hung up on me",
    "c004": "the new router keeps rebooting and the power light flashes red",
    "c005": "Hi there, sorry to hear that! Please DM us your account number ^JB",
    "c006": "FREE MSG: you have won a £500 voucher, text WIN to 80086 to claim",
    "c007": "my broadband is ok but the bill went up again without warning",
}


def _models(root):
    return root / "models" / "category_model"


def _current(root) -> str:
    return (_models(root) / "CURRENT").read_text().strip()


def _run(defs, instance, selection, day=None):
    result = run_assets(defs, instance, selection, (day, day) if day else None)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    materialized = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    return result, checks, materialized


def test_versions_corrections_and_the_promotion_gate(data_dir, monkeypatch):
    cleaned = _cleaned(list(TEXTS.values()), list(TEXTS))
    lake.write_parquet_atomic(cleaned, lake.silver_partition_path(data_dir, "complaints_cleaned", DAY))
    defs = build_definitions(Settings.from_env())
    with dg.instance_for_test() as instance:
        # 1. First build: no current model, so the candidate is promoted; its card is complete.
        result, checks, meta = _run(defs, instance, ["category_corrections", "category_model"])
        assert result.success and checks == {"candidate_not_worse": True}
        first = _current(data_dir)
        card = json.loads((_models(data_dir) / first / "metadata.json").read_text())
        assert card["version"] == first == meta["category_model"]["model_version"].value
        assert card["training_summary"]["sources"]["synthetic"]["n_texts"] == model_defs.TRAINING_TEXTS
        assert card["training_summary"]["pool_sampled"] == len(TEXTS)  # the platform's own texts, teacher-labelled
        assert card["training_summary"]["promoted"] is True and card["code_version"]
        assert set(card["top_terms"]) == set(CATEGORIES) and set(card["examples"]) == set(CATEGORIES)
        assert card["metrics"]["gate"]["macro_f1"] > 0.7 and "per_class" in card["metrics"]["synthetic_heldout"]

        # 2. Categorise the day: every record names the model that labelled it, with a confidence.
        result, checks, meta = _run(defs, instance, ["complaints_categorised"], DAY)
        assert result.success and checks == {"categorised_contract": True}
        day = pl.read_parquet(lake.silver_partition_path(data_dir, "complaints_categorised", DAY)).sort("complaint_id")
        assert set(day["model_version"]) == {first}
        assert ((day["category_confidence"] > 0) & (day["category_confidence"] <= 1)).all()
        assert day.filter(pl.col("complaint_id").is_in(["c005", "c006"]))["is_complaint"].to_list() == [False, False]
        assert day["is_complaint"].sum() == 5
        assert meta["complaints_categorised"]["not_complaints"].value == 2

        # 3. An analyst corrects c007 (billing, not network) through the CLI; bad input is refused.
        assert cli(["--data-dir", str(data_dir), "correct-category", "c007", "incorrect_billing", "--note", "bill, not network"]) == 0
        assert cli(["--data-dir", str(data_dir), "correct-category", "c404", "other"]) == 1
        assert cli(["--data-dir", str(data_dir), "correct-category", "c001", "weather"]) == 2
        assert cli(["--data-dir", str(data_dir), "correct-category", "c005", "bad_customer_service"]) == 0

        result, checks, meta = _run(defs, instance, ["category_corrections", "category_model"])
        assert result.success and checks == {"candidate_not_worse": True}
        corrections = pl.read_parquet(data_dir / "silver" / "category_corrections" / "corrections.parquet")
        assert sorted(corrections.select("complaint_id", "category").rows()) == [
            ("c005", "bad_customer_service"), ("c007", "incorrect_billing")]
        assert meta["category_corrections"]["dagster/row_count"].value == 2
        second = _current(data_dir)
        assert second != first  # the corrections changed the training data, so the version
        model_meta = meta["category_model"]
        assert model_meta["previous_version"].value == first
        assert model_meta["gate_macro_f1_before"].value > 0.7 and model_meta["gate_macro_f1_after"].value > 0.7
        trained_on = json.loads((_models(data_dir) / second / "metadata.json").read_text())["training_summary"]["sources"]
        assert trained_on["corrections"]["n_texts"] == corrections.filter(pl.col("split") == "train").height

        result, _, _ = _run(defs, instance, ["complaints_categorised"], DAY)
        day = pl.read_parquet(lake.silver_partition_path(data_dir, "complaints_categorised", DAY)).sort("complaint_id")
        assert set(day["model_version"]) == {second}
        fixed = day.filter(pl.col("category_path") == "correction").select("complaint_id", "category", "category_confidence", "is_complaint")
        assert fixed.rows() == [("c005", "bad_customer_service", 1.0, True), ("c007", "incorrect_billing", 1.0, True)]

        # 4. Injected fault: a training corpus with every label rotated makes a much worse candidate.
        #    It is kept as an artifact, NOT promoted, and the blocking check fails.
        def rotated_corpus(n, seed):
            texts, labels = training_corpus(n, seed)
            return texts, [CATEGORIES[(CATEGORIES.index(y) + 1) % len(CATEGORIES)] for y in labels]

        # The asset imports the corpus module's function when it runs, so patch it there.
        monkeypatch.setattr(category_corpus, "training_corpus", rotated_corpus)
        result, checks, meta = _run(defs, instance, ["category_model"])
        assert checks == {"candidate_not_worse": False}
        rejected = meta["category_model"]["model_version"].value
        assert _current(data_dir) == second != rejected
        assert meta["category_model"]["serving_version"].value == second
        card = json.loads((_models(data_dir) / rejected / "metadata.json").read_text())
        assert card["training_summary"]["promoted"] is False
        assert card["metrics"]["comparison"]["gate_macro_f1_after"] < card["metrics"]["comparison"]["gate_macro_f1_before"]
