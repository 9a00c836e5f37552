"""The category model: analysts' corrections, the versioned model, and every cleaned partition categorised.

Logic lives in lib/categories.py (student, routing, cards), lib/category_teacher.py (the slow vote),
lib/category_rules.py and lib/category_training.py (pool, corrections, promotion gate)."""


from collections import Counter
from typing import TYPE_CHECKING

import dagster as dg
import polars as pl

from complaints_platform.defs.partitions import daily
from complaints_platform.defs.resources import LakeResource
from complaints_platform.defs.staging import commit_if_passed
from complaints_platform.lib import lake as lakelib
from complaints_platform.lib.quality import CATEGORISED_CONTRACT, ValidationResult, validate
from complaints_platform.lib.silver import CATEGORISED_SCHEMA, CLEANED_SCHEMA, NOT_A_COMPLAINT

if TYPE_CHECKING:
    from complaints_platform.lib import categories as cat

# The category libraries are imported where they are used: scikit-learn under them takes 1.5 s to
# import, and every Dagster process (each step, the webserver, the daemon, the code server behind
# every sensor tick) imports this module with the Definitions.

TRAINING_TEXTS = 12_000
HELDOUT_TEXTS = 3_000
SEED = 20261122
CURRENT_POINTER = "CURRENT"
CATEGORISED_CHECK = "categorised_contract"
# What a rerun of a day reads of its last categorisation (the teacher's verdicts are reused).
REUSED_COLUMNS = ["complaint_id", "text_masked", "category", "category_confidence", "category_path", "model_version"]
PROMOTION_CHECK = "candidate_not_worse"
# Cleaned rows categorised at once (a 1M day is 20 batches). The step alone on the 1M day peaked at
# 2,077 MiB with batches of 500,000, 1,749 MiB with 200,000 and 1,632 MiB with 100,000 under Dagster;
# outside it 1,462 MiB with 100,000 and 1,338 MiB with 50,000; all in the same time.
CATEGORISE_BATCH_ROWS = 50_000


def model_root(lake: LakeResource):
    return lake.root / "models" / "category_model"


def corrections_path(lake: LakeResource):
    return lake.root / "silver" / "category_corrections" / "corrections.parquet"


def load_current_model(lake: LakeResource) -> "cat.CategoryModel | None":
    from complaints_platform.lib import categories as cat

    pointer = model_root(lake) / CURRENT_POINTER
    return cat.load_model(model_root(lake) / pointer.read_text().strip()) if pointer.exists() else None


def read_corrections(lake: LakeResource) -> pl.DataFrame:
    from complaints_platform.lib.category_training import CORRECTIONS_SCHEMA

    path = corrections_path(lake)
    return pl.read_parquet(path) if path.exists() else pl.DataFrame(schema=CORRECTIONS_SCHEMA)


def _silver_frame(lake: LakeResource, asset: str, columns: list[str]) -> pl.DataFrame:
    files = sorted((lake.root / "silver" / asset).glob("date=*/part.parquet"))
    if not files:
        return pl.DataFrame(schema={c: pl.String() for c in columns})
    return pl.concat([pl.read_parquet(f, columns=columns) for f in files])


def _batches_of(source):
    """``categorise_batches``' reader of a day's cleaned file (none: an empty day)."""
    if source.exists():
        return lambda columns: lakelib.parquet_batches(source, columns, CATEGORISE_BATCH_ROWS)
    return lambda columns: iter([pl.DataFrame(schema=CLEANED_SCHEMA).select(columns or list(CLEANED_SCHEMA))])


@dg.asset(
    deps=["complaints_cleaned"],
    group_name="categories",
    kinds={"polars", "parquet"},
    description=(
        "Analysts' category corrections, one row per corrected complaint (the latest correction "
        "wins), with the complaint's masked text and the category the model had given it. Read "
        "from CSV files in corrections/category/ (written by `complaints correct-category`, or "
        "dropped by an analyst with columns complaint_id,category[,note,corrected_by]); a fixed "
        "fifth of corrected complaints is held out to judge models, the rest is trained on. "
        "Corrections naming an unknown category or complaint are rejected with a reason."
    ),
)
def category_corrections(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    from complaints_platform.lib import category_training as training

    complaints = _silver_frame(lake, "complaints_cleaned", ["complaint_id", "text_masked"])
    # The model's earlier answer, for the before/after view only (not a dependency: it is downstream).
    categorised = _silver_frame(lake, "complaints_categorised", ["complaint_id", "category"])
    complaints = complaints.join(categorised.unique("complaint_id", keep="last"), on="complaint_id", how="left")
    accepted, rejected = training.resolve_corrections(training.read_correction_files(lake.root), complaints)
    lakelib.write_parquet_atomic(accepted, corrections_path(lake))
    lakelib.write_parquet_atomic(rejected, corrections_path(lake).with_name("rejected.parquet"))
    changed = accepted.filter(pl.col("previous_category") != pl.col("category"))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": accepted.height,
            "rejected": rejected.height,
            "rejected_reasons": dict(rejected.group_by("reason").len().iter_rows()) if rejected.height else {},
            "by_category": dict(accepted.group_by("category").len().iter_rows()) if accepted.height else {},
            "held_out": accepted.filter(pl.col("split") == "holdout").height,
            "changed_the_model_answer": changed.height,
            "fingerprint": training.corrections_fingerprint(accepted),
        }
    )


@dg.asset(
    deps=["complaints_cleaned", "category_corrections"],
    group_name="categories",
    kinds={"scikit-learn"},
    check_specs=[
        dg.AssetCheckSpec(
            PROMOTION_CHECK,
            asset="category_model",
            description=(
                "The candidate's macro-F1 on the gate set (synthetic held-out corpus + held-out "
                "corrections) is not worse than the current model's. When it is worse the candidate "
                "is kept as an artifact but not promoted (CURRENT is unchanged) and this check "
                "fails with a warning; categorising goes on with the model in service, which is why "
                "the check does not block."
            ),
        )
    ],
    description=(
        "The complaint category model over poor_network, incorrect_billing, bad_customer_service, "
        "device_equipment and other (not a complaint). A fast student (TF-IDF word and character "
        "n-grams + logistic regression) trained on synthetic text, on a slow teacher's labels of "
        "the platform's own recent complaints (keyword rules + MiniLM embeddings) and on analysts' "
        "corrections; texts the student is unsure of go to the teacher when categorising. Every "
        "version is stored under models/category_model/<version>/ with a card (metrics, training "
        "data, code version) and promoted to CURRENT only if it is not worse on the gate set. "
        "Not partitioned: one model serves every partition."
    ),
)
def category_model(context: dg.AssetExecutionContext, lake: LakeResource):
    from complaints_platform.lib import categories as cat
    from complaints_platform.lib import category_training as training
    from complaints_platform.lib.category_corpus import heldout_corpus, training_corpus
    from complaints_platform.lib.category_teacher import Teacher

    teacher = Teacher()
    cleaned_texts = _silver_frame(lake, "complaints_cleaned", ["text_masked"]).get_column("text_masked")
    pool = training.sample_pool(cleaned_texts, training.POOL_SAMPLE, SEED)
    corrections = read_corrections(lake)
    data = cat.TrainingData(
        synthetic=training_corpus(TRAINING_TEXTS, SEED),
        teacher_labelled=training.teacher_labels(teacher, pool),
        corrections=training.corrections_for(corrections, "train"),
    )
    candidate = cat.train_category_model(data, seed=SEED)
    current = load_current_model(lake)
    comparison = training.compare(candidate, current, heldout_corpus(HELDOUT_TEXTS, SEED + 1), corrections)
    promoted = comparison["promote"]
    candidate.metrics = {**comparison["after"], "comparison": training.comparison_summary(comparison)}
    candidate.examples = cat.explain_with_examples(candidate, pool or data.synthetic[0][:2000])
    candidate.training_summary["teacher"] = teacher.version
    candidate.training_summary["pool_sampled"] = len(pool)
    candidate.training_summary["promoted"] = promoted
    folder = cat.save_model(candidate, model_root(lake) / candidate.version)
    if promoted:
        lakelib.write_bytes_atomic(candidate.version.encode(), model_root(lake) / CURRENT_POINTER)
    serving = candidate.version if promoted else current.version
    context.log.info(
        f"category model {candidate.version}: gate macro-F1 {comparison['gate_macro_f1_after']:.4f} "
        f"(current {comparison['gate_macro_f1_before']}); {'promoted' if promoted else 'NOT promoted'}"
    )
    yield dg.MaterializeResult(
        metadata={
            "model_version": candidate.version,
            "serving_version": serving,
            "previous_version": current.version if current else "none",
            "path": dg.MetadataValue.path(str(folder)),
            "teacher": teacher.version,
            "training_texts": dict((k, v["n_texts"]) for k, v in data.summary().items()),
            **{k: v for k, v in training.comparison_summary(comparison).items() if v is not None},
            "top_terms": {k: ", ".join(v) for k, v in cat.top_terms(candidate, 8).items()},
            "examples": dg.MetadataValue.json(candidate.examples),
        }
    )
    yield dg.AssetCheckResult(
        check_name=PROMOTION_CHECK,
        passed=promoted,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "candidate": candidate.version,
            "current": current.version if current else "none",
            "gate_macro_f1_candidate": comparison["gate_macro_f1_after"],
            "gate_macro_f1_current": comparison["gate_macro_f1_before"] if current else "none",
            "tolerance": training.PROMOTION_TOLERANCE,
        },
    )


@dg.asset(
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["complaints_cleaned", "category_model", "category_corrections"],
    group_name="categories",
    kinds={"scikit-learn", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            CATEGORISED_CHECK,
            asset="complaints_categorised",
            blocking=True,
            description=(
                "Pandera contract: every record has a known category, a confidence in [0, 1], the "
                "path that decided it, is_complaint false exactly for 'other', and a model version."
            ),
        )
    ],
    description=(
        "Every cleaned record with its category, the confidence, is_complaint (false for replies, "
        "marketing, spam and chatter: kept and flagged, never counted as complaints), the path that "
        "decided (student, teacher for texts the student was unsure of, or an analyst's correction) "
        "and the model version that labelled it. Daily partitions by receipt day; re-categorising "
        "history with a new model is a backfill of this asset."
    ),
)
def complaints_categorised(context: dg.AssetExecutionContext, lake: LakeResource):
    from complaints_platform.lib import categories as cat
    from complaints_platform.lib.category_teacher import Teacher
    from complaints_platform.lib.category_training import MAX_TEACHER_PER_RUN

    model = load_current_model(lake)
    if model is None:
        raise dg.Failure("no category model yet: materialize category_model first")
    teacher, corrections = Teacher(), read_corrections(lake)
    window = context.partition_time_window
    # A day at a time, staged (as the cleaned layer), and each day in batches of rows read from
    # its cleaned file twice (lib/categories.py, categorise_batches) and written as they come: a
    # backfill holds one batch in memory, and nothing is put in place unless every day passes the
    # blocking contract (checked batch by batch; the cleaned contract already made ids unique).
    contracts, rows, confidence = [], 0, 0.0
    by_category: Counter[str] = Counter()
    by_path: Counter[str] = Counter()

    def checked(batches):
        nonlocal rows, confidence
        for frame in batches:
            contracts.append(validate(CATEGORISED_CONTRACT, frame))
            rows += frame.height
            confidence += float(frame.get_column("category_confidence").sum() or 0.0)
            by_category.update(dict(frame.group_by("category").len().iter_rows()))
            by_path.update(dict(frame.group_by("category_path").len().iter_rows()))
            yield frame

    with lakelib.StagedFiles() as staged:
        for day in lakelib.days_between(window.start, window.end):
            source = lakelib.silver_partition_path(lake.root, "complaints_cleaned", day)
            target = lakelib.silver_partition_path(lake.root, "complaints_categorised", day)
            previous = pl.scan_parquet(target).select(REUSED_COLUMNS) if target.exists() else None
            read = _batches_of(source)
            batches = checked(cat.categorise_batches(read, model, teacher, MAX_TEACHER_PER_RUN, corrections, previous))
            staged.write_with(target, lambda tmp: lakelib.write_parquet_batches(batches, tmp, CATEGORISED_SCHEMA))
        contract = ValidationResult.combine(contracts)
        check = dg.AssetCheckResult(check_name=CATEGORISED_CHECK, passed=contract.passed, metadata=contract.metadata())
        yield from commit_if_passed(staged, [check])  # else the marts keep the last good categories
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "model_version": model.version,
            "teacher": teacher.version,
            "by_category": dict(by_category.most_common()),
            "not_complaints": by_category.get(NOT_A_COMPLAINT, 0),
            "by_path": dict(by_path.most_common()),
            "teacher_share": round(by_path.get("teacher", 0) / max(rows, 1), 4),
            "mean_confidence": round(confidence / rows, 4) if rows else 0.0,
        }
    )
    yield check
