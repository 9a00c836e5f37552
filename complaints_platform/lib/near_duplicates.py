"""Near-duplicate complaints: the same complaint sent twice by one customer, worded differently.

A customer who tweets a complaint and then sends it again by SMS, or reposts it with a typo and
"still waiting!!" in front, has made one complaint. Candidates are found within blocks: the same
contact token (a keyed token of the customer's account, e-mail, phone or handle: masked data still
joins) and event times within ``WINDOW``; each record is compared with at most ``MAX_EARLIER``
earlier complaints of its contact, so one very active contact cannot blow up the pairs.

Similarity is rapidfuzz's ``partial_ratio`` on normalised text (lower case, punctuation removed,
PII tokens kept): the best alignment of the shorter text within the longer one, so a complaint
wrapped in another channel's boilerplate ("Hi, ... Please get back to me", an agent's "cust adv
... esc to TL") still matches itself. Below ``SHORT_TEXT`` characters a partial match says little
("help"), so short texts are compared whole (``ratio``). rapidfuzz rather than splink: the decision
here is one text comparison inside a block already known to be the same person, which rapidfuzz's
C++ scorers do directly over all pairs at once (``cpdist``); splink's strength, probabilistic
linkage over many fields with trained m/u weights, has no fields to weigh here.

Each pair is then decided, in this order:
- a person's decision from the review queue (accept: merge; reject: keep apart), whatever the score;
- ``similarity >= merge_at``: merged (the earlier received complaint is kept);
- ``review_at <= similarity < merge_at``: kept apart and written to the review queue;
- otherwise kept apart.
The thresholds come from the planted-duplicate benchmark (benchmarks/near_duplicates_benchmark.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from sklearn.feature_extraction.text import TfidfVectorizer

MERGE_AT = 0.75
REVIEW_AT = 0.50
WINDOW = timedelta(hours=48)
MAX_EARLIER = 20
SHORT_TEXT = 25
IDF_SAMPLE = 20_000

ACCEPT, REJECT = "accept", "reject"

# What find_pairs needs of each complaint.
COMPLAINT_COLUMNS = ("complaint_id", "channel", "contact_token", "text_masked", "received_at", "event_at")

PAIR_SCHEMA: dict[str, pl.DataType] = {
    "complaint_id": pl.String(),  # the later complaint, which would be removed if merged
    "candidate_of": pl.String(),  # the earlier complaint it may repeat (kept either way)
    "similarity": pl.Float64(),
    "channel": pl.String(),
    "candidate_channel": pl.String(),
    "text_masked": pl.String(),
    "candidate_text_masked": pl.String(),
    "event_at": pl.Datetime("us", "UTC"),
    "candidate_event_at": pl.Datetime("us", "UTC"),
    "received_date": pl.Date(),  # the partition of the later complaint (a decision re-runs this day)
}
# The review queue: pairs in the grey band, each with the id a person accepts or rejects.
REVIEW_SCHEMA: dict[str, pl.DataType] = {"pair_id": pl.String(), **PAIR_SCHEMA}
# A person's decisions on pairs (the latest per pair counts).
DECISIONS_SCHEMA: dict[str, pl.DataType] = {
    "pair_id": pl.String(), "complaint_id": pl.String(), "candidate_of": pl.String(), "decision": pl.String(),
}


@dataclass(frozen=True)
class Thresholds:
    merge_at: float = MERGE_AT
    review_at: float = REVIEW_AT

    def __post_init__(self) -> None:
        if not 0 < self.review_at <= self.merge_at <= 1:
            raise ValueError(f"need 0 < review_at <= merge_at <= 1, got {self.review_at} and {self.merge_at}")


def pair_id(earlier: str, later: str) -> str:
    return "p" + hashlib.sha256(f"{earlier}|{later}".encode()).hexdigest()[:15]


def normalised_text(column: str) -> pl.Expr:
    """Lower case, runs of punctuation and spaces to one space; PII tokens (<KIND:abc>) survive."""
    return pl.col(column).str.to_lowercase().str.replace_all(r"[^\w<>:]+", " ").str.strip_chars()


def similarity(earlier: pl.Series, later: pl.Series, corpus: pl.Series | None = None) -> pl.Series:
    """Pairwise similarity in [0, 1] of normalised texts (element i of one with element i of the
    other): the mean of an alignment score and a boilerplate-aware one.

    - rapidfuzz ``partial_ratio``: the shorter text's best alignment within the longer, so a
      complaint wrapped in another channel's register still matches itself, typos and all (short
      texts are compared whole, ``ratio``: a partial match of "help" says nothing);
    - cosine of character 3-5-gram TF-IDF vectors, with document frequencies from ``corpus`` (the
      batch's texts): n-grams every web form or agent note shares ("I have been a customer for
      years", "cust adv") weigh little, so two different complaints in the same boilerplate score
      low where the alignment alone would score them high.
    """
    if not earlier.len():
        return pl.Series("similarity", [], dtype=pl.Float64)
    a, b = earlier.to_list(), later.to_list()
    partial = pl.Series(process.cpdist(a, b, scorer=fuzz.partial_ratio, workers=-1), dtype=pl.Float64) / 100
    whole = pl.Series(process.cpdist(a, b, scorer=fuzz.ratio, workers=-1), dtype=pl.Float64) / 100
    short = pl.select(pl.min_horizontal(earlier.str.len_chars(), later.str.len_chars()) < SHORT_TEXT).to_series()
    corpus = corpus if corpus is not None else pl.concat([earlier, later])
    if corpus.len() > IDF_SAMPLE:  # document frequencies from a sample are as good, and cheaper
        corpus = corpus.sample(IDF_SAMPLE, seed=0)
    vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32)
    vectoriser.fit(corpus.to_list())
    # Each text is vectorised once, however many pairs it is in.
    texts = pl.concat([earlier, later]).unique(maintain_order=True)
    position = {text: i for i, text in enumerate(texts.to_list())}
    vectors = vectoriser.transform(texts.to_list())
    rows_a = vectors[[position[t] for t in a]]
    rows_b = vectors[[position[t] for t in b]]
    cosine = np.asarray(rows_a.multiply(rows_b).sum(axis=1)).ravel()
    frame = pl.DataFrame({"partial": partial, "whole": whole, "short": short, "cosine": pl.Series(cosine, dtype=pl.Float64)})
    return frame.select(
        ((pl.when(pl.col("short")).then(pl.col("whole")).otherwise(pl.col("partial")) + pl.col("cosine").clip(0, 1)) / 2)
        .alias("similarity")
    ).to_series()


def find_pairs(complaints: pl.DataFrame, exclude_contacts: set[str] | frozenset[str] = frozenset()) -> pl.DataFrame:
    """Candidate pairs (earlier, later) of one contact within WINDOW, with their similarity.

    ``complaints`` has COMPLAINT_COLUMNS plus ``is_new`` (False for complaints of earlier days,
    which can only be the earlier side of a pair). ``exclude_contacts``: tokens that are not
    customers (the brand's own accounts, whose replies repeat by design)."""
    ordered = (
        complaints.filter(pl.col("contact_token").is_not_null() & ~pl.col("contact_token").is_in(list(exclude_contacts)))
        .with_columns(normalised_text("text_masked").alias("norm"))
        .sort(["contact_token", "received_at", "complaint_id"])
    )
    shifted = []
    for k in range(1, MAX_EARLIER + 1):
        earlier = [pl.col(c).shift(k).over("contact_token").alias(f"e_{c}") for c in (*COMPLAINT_COLUMNS, "norm")]
        pairs = ordered.with_columns(earlier).filter(
            pl.col("is_new")
            & pl.col("e_complaint_id").is_not_null()
            & (pl.col("e_complaint_id") != pl.col("complaint_id"))  # a record updated on a later day
            & ((pl.col("event_at") - pl.col("e_event_at")).abs() <= WINDOW)
        )
        if not pairs.height:
            break  # no contact has k earlier complaints in reach: none has more
        shifted.append(pairs)
    if not shifted:
        return pl.DataFrame(schema={**PAIR_SCHEMA, "identical": pl.Boolean})
    pairs = pl.concat(shifted)
    scores = similarity(pairs.get_column("e_norm"), pairs.get_column("norm"), ordered.get_column("norm"))
    return pairs.select(
        "complaint_id",
        pl.col("e_complaint_id").alias("candidate_of"),
        scores,
        "channel",
        pl.col("e_channel").alias("candidate_channel"),
        "text_masked",
        pl.col("e_text_masked").alias("candidate_text_masked"),
        "event_at",
        pl.col("e_event_at").alias("candidate_event_at"),
        pl.col("received_at").dt.date().alias("received_date"),
        (pl.col("norm") == pl.col("e_norm")).alias("identical"),
    )


@dataclass(frozen=True)
class Resolution:
    links: pl.DataFrame  # complaint_id, duplicate_of (the complaint finally kept), similarity, rule
    review: pl.DataFrame  # REVIEW_SCHEMA: pairs in the grey band nobody has decided yet


def resolve(pairs: pl.DataFrame, decisions: pl.DataFrame | None = None, thresholds: Thresholds = Thresholds()) -> Resolution:
    """Decide every pair (see module doc) and point each merged complaint at the one kept.

    ``decisions``: DECISIONS_SCHEMA, the latest per pair. A complaint merged with
    several earlier ones is linked to its most similar; chains (C repeats B, B repeats A) end at
    the earliest complaint, A."""
    decided = (
        pairs.join(decisions.select("complaint_id", "candidate_of", "decision"), on=["complaint_id", "candidate_of"], how="left")
        if decisions is not None and decisions.height
        else pairs.with_columns(pl.lit(None, dtype=pl.String).alias("decision"))
    )
    merged_rule = (
        pl.when(pl.col("decision") == ACCEPT).then(pl.lit("reviewed_duplicate"))
        .when(pl.col("decision") == REJECT).then(None)
        .when(pl.col("identical")).then(pl.lit("same_contact_same_text"))
        .when(pl.col("similarity") >= thresholds.merge_at).then(pl.lit("near_duplicate"))
        .otherwise(None)
    )
    decided = decided.with_columns(merged_rule.alias("rule"))
    best = (
        decided.filter(pl.col("rule").is_not_null())
        .sort(["complaint_id", "similarity", "candidate_event_at"], descending=[False, True, False])
        .group_by("complaint_id", maintain_order=True)
        .first()
        .select("complaint_id", pl.col("candidate_of").alias("duplicate_of"), "similarity", "rule")
    )
    links = _to_roots(best)
    removed = links.get_column("complaint_id")
    review = (
        decided.filter(
            pl.col("decision").is_null()
            & pl.col("rule").is_null()
            & (pl.col("similarity") >= thresholds.review_at)
            & ~pl.col("complaint_id").is_in(removed.implode())
        )
        .with_columns(
            pl.struct("candidate_of", "complaint_id")
            .map_elements(lambda r: pair_id(r["candidate_of"], r["complaint_id"]), return_dtype=pl.String)
            .alias("pair_id")
        )
        .select(list(REVIEW_SCHEMA))
        .cast(REVIEW_SCHEMA)
        .sort(["received_date", "similarity"], descending=[False, True])
    )
    return Resolution(links=links, review=review)


def _to_roots(links: pl.DataFrame) -> pl.DataFrame:
    """Follow duplicate_of until it names a complaint that is itself kept."""
    for _ in range(MAX_EARLIER + 1):
        step = links.join(
            links.select(pl.col("complaint_id").alias("duplicate_of"), pl.col("duplicate_of").alias("__next")),
            on="duplicate_of",
            how="left",
        )
        if step.get_column("__next").null_count() == step.height:
            return links
        links = step.with_columns(pl.coalesce("__next", "duplicate_of").alias("duplicate_of")).drop("__next")
    raise RuntimeError("duplicate links form a cycle")  # impossible: a link always points earlier
