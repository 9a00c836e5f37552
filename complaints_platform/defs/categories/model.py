"""The category model: trained and versioned, then applied to every cleaned partition."""


import dagster as dg
import polars as pl

from complaints_platform.defs.partitions import daily
from complaints_platform.defs.resources import LakeResource
from complaints_platform.lib import lake as lakelib
from complaints_platform.lib.categories import (
    categorise,
    evaluate,
    load_model,
    save_model,
    top_terms,
    train_category_model,
)
from complaints_platform.lib.category_corpus import heldout_corpus, training_corpus
from complaints_platform.lib.quality import CATEGORISED_CONTRACT, validate
from complaints_platform.lib.silver import CLEANED_SCHEMA

TRAINING_TEXTS = 12_000
HELDOUT_TEXTS = 3_000
SEED = 20261122
CURRENT_POINTER = "CURRENT"
CATEGORISED_CHECK = "categorised_contract"


def model_root(lake: LakeResource):
    return lake.root / "models" / "category_model"


@dg.asset(
    group_name="categories",
    kinds={"scikit-learn"},
    description=(
        "The complaint category model (TF-IDF word and character n-grams + linear classifier) over "
        "poor_network, incorrect_billing, bad_customer_service, device_equipment and other. Each "
        "materialization trains a version named by a hash of its training data and code, stores it "
        "under models/category_model/<version>/ and makes it current. Held-out metrics are measured "
        "on text written with different phrasing from the training text. Not partitioned: one model "
        "serves every partition."
    ),
)
def category_model(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    texts, labels = training_corpus(TRAINING_TEXTS, SEED)
    model = train_category_model(texts, labels, SEED)
    held_texts, held_labels = heldout_corpus(HELDOUT_TEXTS, SEED + 1)
    metrics = evaluate(model, held_texts, held_labels)
    model.metrics = {"heldout": metrics}
    folder = save_model(model, model_root(lake) / model.version)
    lakelib.write_bytes_atomic(model.version.encode(), model_root(lake) / CURRENT_POINTER)
    context.log.info(f"category model {model.version}: held-out macro-F1 {metrics['macro_f1']:.3f}")
    return dg.MaterializeResult(
        metadata={
            "model_version": model.version,
            "path": dg.MetadataValue.path(str(folder)),
            "training_texts": len(texts),
            "heldout_texts": len(held_texts),
            "heldout_macro_f1": round(metrics["macro_f1"], 4),
            "heldout_accuracy": round(metrics["accuracy"], 4),
            "heldout_f1_per_class": {k: round(v["f1"], 4) for k, v in metrics["per_class"].items()},
            "top_terms": {k: ", ".join(v) for k, v in top_terms(model, 8).items()},
        }
    )


@dg.asset(
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["complaints_cleaned", "category_model"],
    group_name="categories",
    kinds={"scikit-learn", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            CATEGORISED_CHECK,
            asset="complaints_categorised",
            blocking=True,
            description="Pandera contract: every complaint has a known category, a confidence in [0, 1] and a model version.",
        )
    ],
    description=(
        "Every cleaned complaint with its category, the model's confidence and the model version "
        "that labelled it. Daily partitions by receipt day, like complaints_cleaned; the marts read it."
    ),
)
def complaints_categorised(context: dg.AssetExecutionContext, lake: LakeResource):
    pointer = model_root(lake) / CURRENT_POINTER
    if not pointer.exists():
        raise dg.Failure("no category model yet: materialize category_model first")
    model = load_model(model_root(lake) / pointer.read_text().strip())
    window = context.partition_time_window
    days = {}
    for day in lakelib.days_between(window.start, window.end):
        source = lakelib.silver_partition_path(lake.root, "complaints_cleaned", day)
        cleaned = pl.read_parquet(source) if source.exists() else pl.DataFrame(schema=CLEANED_SCHEMA)
        days[day] = categorise(cleaned, model)
    everything = pl.concat(days.values())
    contract = validate(CATEGORISED_CONTRACT, everything)
    check = dg.AssetCheckResult(check_name=CATEGORISED_CHECK, passed=contract.passed, metadata=contract.metadata())
    if not contract.passed:
        yield check  # blocking: nothing is written, the marts keep the last good categories
        raise dg.Failure("categorised contract failed; nothing was written")
    for day, frame in days.items():
        lakelib.write_parquet_atomic(frame, lakelib.silver_partition_path(lake.root, "complaints_categorised", day))
    by_category = {r["category"]: r["len"] for r in everything.group_by("category").len().iter_rows(named=True)}
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": everything.height,
            "model_version": model.version,
            "by_category": by_category,
            "mean_confidence": round(float(everything.get_column("category_confidence").mean() or 0.0), 4),
        }
    )
    yield check
