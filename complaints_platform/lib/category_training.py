"""How a category model version is made, judged and promoted, and how analysts' corrections feed it.

One materialization of ``category_model``:

1. the teacher (lib/category_teacher.py) labels a sample of the platform's own recent, unlabelled
   complaint texts (silver ``complaints_cleaned``); labels it is not sure of (vote share under
   ``POOL_MIN_SHARE``) are left out;
2. the student learns from the synthetic corpus + those teacher labels + analysts' corrections
   (their training split, weighted up);
3. candidate and current model are scored on the same gate set: the synthetic held-out corpus
   (written by a different "author" than the training text) plus the held-out split of the
   corrections (a fixed fifth of corrected complaints, chosen by a hash of their id, never trained
   on);
4. the candidate is promoted (made CURRENT) only if its gate macro-F1 is not worse than the current
   model's by more than ``PROMOTION_TOLERANCE``. Either way it is kept as an artifact with its card.

Corrections: one row per (complaint, category) an analyst set, from CSV files in
``<data>/corrections/category/`` (``complaints correct-category`` writes one file per correction;
an analyst may drop a CSV with the columns complaint_id,category[,note,corrected_by]). The latest
correction of a complaint wins. A correction naming an unknown category or a complaint the platform
does not have is rejected with a reason, never applied.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from complaints_platform.lib import categories as cat
from complaints_platform.lib.lake import write_bytes_atomic
from complaints_platform.lib.silver import CATEGORIES

POOL_SAMPLE = 1500  # unlabelled texts the teacher labels per build (about 10 s at 150 texts/s)
POOL_MIN_SHARE = 0.5  # teacher labels below this vote share are not trained on
PROMOTION_TOLERANCE = 0.005  # macro-F1 points a candidate may lose on the gate set (seed noise)
CORRECTION_HOLDOUT_BUCKETS = 5  # one bucket in five of corrected complaints is held out
MAX_TEACHER_PER_RUN = 2000  # unsure texts one complaints_categorised run may send to the teacher

CORRECTION_COLUMNS = ("complaint_id", "category", "corrected_at", "corrected_by", "note", "source_file", "read_error")
CORRECTIONS_SCHEMA: dict[str, pl.DataType] = {
    "complaint_id": pl.String(),
    "category": pl.String(),  # the analyst's category
    "corrected_at": pl.Datetime("us", "UTC"),
    "corrected_by": pl.String(),
    "note": pl.String(),
    "text_masked": pl.String(),  # the complaint's (masked) text, what the model learns from
    "previous_category": pl.String(),  # what the model had said, when known
    "split": pl.String(),  # train or holdout
}
REJECTED_SCHEMA: dict[str, pl.DataType] = {
    "complaint_id": pl.String(),
    "category": pl.String(),
    "source_file": pl.String(),
    "reason": pl.String(),
}


def corrections_dir(root: Path) -> Path:
    return Path(root) / "corrections" / "category"


def record_correction(root: Path, complaint_id: str, category: str, corrected_by: str = "", note: str = "",
                      now: datetime | None = None) -> Path:
    """Append one analyst correction (a new CSV file: appends never race or rewrite history)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; one of {', '.join(CATEGORIES)}")
    if not complaint_id.strip():
        raise ValueError("a complaint id is required")
    now = now or datetime.now(timezone.utc)
    frame = pl.DataFrame({
        "complaint_id": [complaint_id.strip()],
        "category": [category],
        "corrected_at": [now.astimezone(timezone.utc).isoformat()],
        "corrected_by": [corrected_by],
        "note": [note],
    })
    target = corrections_dir(root) / f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.csv"
    write_bytes_atomic(frame.write_csv().encode(), target)
    return target


def complaint_exists(root: Path, complaint_id: str) -> bool:
    """Whether the cleaned layer holds a complaint with this id (any day)."""
    files = sorted((Path(root) / "silver" / "complaints_cleaned").glob("date=*/part.parquet"))
    if not files:
        return False
    found = pl.scan_parquet(files).filter(pl.col("complaint_id") == complaint_id.strip()).select(pl.len()).collect()
    return found.item() > 0


def read_correction_files(root: Path) -> pl.DataFrame:
    """Every correction row in the folder, as strings, with the file it came from."""
    frames = []
    for path in sorted(corrections_dir(root).glob("*.csv")):
        try:
            frame = pl.read_csv(path, infer_schema=False)
            if "complaint_id" not in frame.columns or "category" not in frame.columns:
                raise ValueError("needs the columns complaint_id and category")
        except Exception as error:  # a file an analyst got wrong is rejected, never a crash
            frame = pl.DataFrame({"read_error": [f"unreadable correction file: {error}"[:300]]})
        frames.append(frame.with_columns(pl.lit(path.name).alias("source_file")))
    if not frames:
        return pl.DataFrame(schema={c: pl.String() for c in CORRECTION_COLUMNS})
    everything = pl.concat(frames, how="diagonal_relaxed")
    for column in CORRECTION_COLUMNS:
        if column not in everything.columns:
            everything = everything.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    return everything.select(CORRECTION_COLUMNS)


def holdout_split_expr() -> pl.Expr:
    """A fixed fifth of corrected complaints, by a hash of the id: held out, never trained on."""
    return (
        pl.when(pl.col("complaint_id").hash(seed=20261122) % CORRECTION_HOLDOUT_BUCKETS == 0)
        .then(pl.lit("holdout"))
        .otherwise(pl.lit("train"))
        .alias("split")
    )


def resolve_corrections(raw: pl.DataFrame, complaints: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accepted, rejected): the latest valid correction per complaint, joined to its masked text.

    ``complaints`` has complaint_id, text_masked and optionally category (the model's)."""
    raw = raw.with_columns(
        pl.col("complaint_id").str.strip_chars(),
        pl.col("category").str.strip_chars().str.to_lowercase(),
        pl.col("corrected_at").str.to_datetime(time_zone="UTC", strict=False),
    )
    known = complaints.select(
        "complaint_id", "text_masked",
        (pl.col("category") if "category" in complaints.columns else pl.lit(None, dtype=pl.String)).alias("previous_category"),
    ).unique("complaint_id", keep="last")
    checked = raw.join(known, on="complaint_id", how="left").with_columns(
        pl.when(pl.col("read_error").is_not_null())
        .then(pl.col("read_error"))
        .when(pl.col("complaint_id").is_null() | (pl.col("complaint_id") == ""))
        .then(pl.lit("no complaint_id"))
        .when(~pl.col("category").is_in(list(CATEGORIES)) | pl.col("category").is_null())
        .then(pl.lit("unknown category; one of " + ", ".join(CATEGORIES)))
        .when(pl.col("text_masked").is_null())
        .then(pl.lit("no such complaint in the cleaned layer"))
        .alias("reason")
    )
    rejected = checked.filter(pl.col("reason").is_not_null()).select(list(REJECTED_SCHEMA)).cast(REJECTED_SCHEMA)
    accepted = (
        checked.filter(pl.col("reason").is_null())
        .sort("corrected_at", "source_file", nulls_last=False)
        .unique("complaint_id", keep="last", maintain_order=True)
        .with_columns(holdout_split_expr())
        .select(list(CORRECTIONS_SCHEMA))
        .cast(CORRECTIONS_SCHEMA)
        .sort("complaint_id")
    )
    return accepted, rejected


def corrections_for(corrections: pl.DataFrame, split: str) -> tuple[list[str], list[str]]:
    part = corrections.filter(pl.col("split") == split)
    return part.get_column("text_masked").to_list(), part.get_column("category").to_list()


def sample_pool(texts: pl.Series, n: int = POOL_SAMPLE, seed: int = 0) -> list[str]:
    """A deterministic sample of distinct non-empty texts (the teacher's unlabelled pool)."""
    distinct = texts.drop_nulls().filter(texts.drop_nulls().str.strip_chars() != "").unique().sort()
    if distinct.len() > n:
        distinct = distinct.sample(n, seed=seed).sort()
    return distinct.to_list()


def teacher_labels(teacher, texts: list[str], min_share: float = POOL_MIN_SHARE) -> tuple[list[str], list[str]]:
    """The texts the teacher labels with at least ``min_share`` of the vote, and those labels."""
    if not texts:
        return [], []
    labels, share = teacher.predict(texts)
    kept = [i for i, s in enumerate(share) if s >= min_share]
    return [texts[i] for i in kept], [labels[i] for i in kept]


def gate_set(synthetic_heldout: tuple[list[str], list[str]], corrections: pl.DataFrame) -> tuple[list[str], list[str]]:
    held_texts, held_labels = corrections_for(corrections, "holdout")
    return list(synthetic_heldout[0]) + held_texts, list(synthetic_heldout[1]) + held_labels


def compare(candidate: cat.CategoryModel, current: cat.CategoryModel | None, synthetic_heldout, corrections: pl.DataFrame) -> dict[str, Any]:
    """Before/after metrics on the gate set and its parts, and whether the candidate may be promoted."""
    gate = gate_set(synthetic_heldout, corrections)
    held = corrections_for(corrections, "holdout")

    def metrics(model):
        if model is None:
            return None
        out = {"gate": cat.evaluate(model, *gate), "synthetic_heldout": cat.evaluate(model, *synthetic_heldout)}
        out["corrections_holdout"] = cat.evaluate(model, *held) if held[0] else None
        return out

    after, before = metrics(candidate), metrics(current)
    after_f1 = after["gate"]["macro_f1"]
    before_f1 = before["gate"]["macro_f1"] if before else None
    promote = before_f1 is None or after_f1 >= before_f1 - PROMOTION_TOLERANCE
    return {
        "after": after,
        "before": before,
        "gate_macro_f1_after": after_f1,
        "gate_macro_f1_before": before_f1,
        "gate_n": len(gate[0]),
        "corrections_holdout_n": len(held[0]),
        "promote": promote,
        "tolerance": PROMOTION_TOLERANCE,
    }


def corrections_fingerprint(corrections: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    for row in corrections.select("complaint_id", "category").iter_rows():
        digest.update("\x1f".join(row).encode())
    return digest.hexdigest()[:12]


def comparison_summary(comparison: dict[str, Any]) -> dict[str, Any]:
    """The before/after numbers of ``compare`` flattened for a materialization's metadata."""
    after, before = comparison["after"], comparison["before"]

    def part(metrics, name, key):
        if metrics is None or metrics.get(name) is None:
            return None
        value = metrics[name]
        return value["macro_f1"] if key == "macro_f1" else {c: v["f1"] for c, v in value["per_class"].items()}

    return {
        "gate_texts": comparison["gate_n"],
        "gate_macro_f1_before": part(before, "gate", "macro_f1"),
        "gate_macro_f1_after": part(after, "gate", "macro_f1"),
        "gate_f1_per_class_before": part(before, "gate", "per_class"),
        "gate_f1_per_class_after": part(after, "gate", "per_class"),
        "corrections_holdout_texts": comparison["corrections_holdout_n"],
        "corrections_holdout_macro_f1_before": part(before, "corrections_holdout", "macro_f1"),
        "corrections_holdout_macro_f1_after": part(after, "corrections_holdout", "macro_f1"),
        "promotion_tolerance": comparison["tolerance"],
        "promoted": comparison["promote"],
    }
