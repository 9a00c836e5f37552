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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

if TYPE_CHECKING:  # imported where matrices are built: every Dagster process loads this module
    import scipy.sparse as sp

MERGE_AT = 0.75
REVIEW_AT = 0.50
WINDOW = timedelta(hours=48)
MAX_EARLIER = 20
SHORT_TEXT = 25
IDF_SAMPLE = 20_000
# Pairs in a block, and blocks scored at once (similarity). On a 1M-record day's bucket of 369k
# pairs: one block of 20,000 at a time 12.2-12.8 s and 130 MiB more at the peak; two of 20,000
# 9.5-10.1 s and 220-229 MiB; two of 10,000 9.5-9.6 s and 95-99 MiB.
SIMILARITY_BLOCK = 10_000
SIMILARITY_THREADS = 2
NGRAMS = (3, 4, 5)  # character n-gram lengths of the TF-IDF cosine

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
# The review queue's order: by day, the most similar first (then by pair, so that it is one order).
REVIEW_ORDER = ["received_date", "similarity", "pair_id"]
REVIEW_DESCENDING = [False, True, False]
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


# A fitted TF-IDF cosine (``tfidf_cosine``): element i of ``earlier`` with element i of ``later``.
Cosine = Callable[[pl.Series, pl.Series], np.ndarray]


def similarity(earlier: pl.Series, later: pl.Series, corpus: pl.Series | Cosine | None = None) -> pl.Series:
    """Pairwise similarity in [0, 1] of normalised texts (element i of one with element i of the
    other): the mean of an alignment score and a boilerplate-aware one.

    - rapidfuzz ``partial_ratio``: the shorter text's best alignment within the longer, so a
      complaint wrapped in another channel's register still matches itself, typos and all (short
      texts are compared whole, ``ratio``: a partial match of "help" says nothing);
    - cosine of character 3-5-gram TF-IDF vectors, with document frequencies from ``corpus`` (the
      batch's texts, ``IDF_SAMPLE`` of them at most): n-grams every web form or agent note shares
      ("I have been a customer for years", "cust adv") weigh little, so two different complaints in
      the same boilerplate score low where the alignment alone would score them high.

    ``corpus`` may also be the cosine already fitted on one (``tfidf_cosine``): a day cleaned in
    buckets fits it once, not once per bucket.
    """
    if not earlier.len():
        return pl.Series("similarity", [], dtype=pl.Float64)
    cosine = corpus if callable(corpus) else tfidf_cosine(corpus if corpus is not None else pl.concat([earlier, later]))
    # In blocks: each block's texts become Python strings for rapidfuzz and vectors for the
    # cosine, and only SIMILARITY_THREADS blocks' are alive at a time. Much of the cosine runs on
    # one core (scipy's sparse products), so two blocks at once keep the second core busy while one
    # of them is there; scipy, polars and rapidfuzz release the GIL for most of their work.
    with ThreadPoolExecutor(SIMILARITY_THREADS) as pool:
        scores = list(
            pool.map(
                lambda start: _block_similarity(
                    earlier.slice(start, SIMILARITY_BLOCK), later.slice(start, SIMILARITY_BLOCK), cosine
                ),
                range(0, earlier.len(), SIMILARITY_BLOCK),
            )
        )
    return pl.concat(scores).alias("similarity")


def _block_similarity(earlier: pl.Series, later: pl.Series, cosine: Cosine) -> pl.Series:
    a, b = earlier.to_list(), later.to_list()
    partial = pl.Series(process.cpdist(a, b, scorer=fuzz.partial_ratio, workers=-1), dtype=pl.Float64) / 100
    whole = pl.Series(process.cpdist(a, b, scorer=fuzz.ratio, workers=-1), dtype=pl.Float64) / 100
    del a, b
    short = pl.select(pl.min_horizontal(earlier.str.len_chars(), later.str.len_chars()) < SHORT_TEXT).to_series()
    frame = pl.DataFrame(
        {"partial": partial, "whole": whole, "short": short, "cosine": pl.Series(cosine(earlier, later), dtype=pl.Float64)}
    )
    return frame.select(
        ((pl.when(pl.col("short")).then(pl.col("whole")).otherwise(pl.col("partial")) + pl.col("cosine").clip(0, 1)) / 2)
        .alias("similarity")
    ).to_series()


def _idf_sample(corpus: pl.Series) -> pl.Series:
    """Document frequencies from a sample are as good, and the fit's cost stays bounded."""
    return corpus.sample(IDF_SAMPLE, seed=0) if corpus.len() > IDF_SAMPLE else corpus


def tfidf_cosine(corpus: pl.Series) -> Cosine:
    """Fitted on ``corpus`` (``IDF_SAMPLE`` of its texts at most): a function giving the cosine of
    the TF-IDF vectors of each pair (element i of ``earlier`` with element i of ``later``), as
    sklearn's ``TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
    dtype=np.float32)`` fitted on that sample gives it.

    sklearn counts n-grams in a Python loop per text (about 8,000 texts/s on the development machine); here the counts are
    built from the distinct words instead (a char_wb n-gram never crosses a word): each distinct
    word's n-grams once, then (n-grams x words @ words x texts) transposed. sklearn's own TfidfTransformer
    weighs and normalises the counts, so the vectors are sklearn's to the bit. Each call vectorises
    only its own distinct texts through their own distinct words: a vector depends on its text and
    the corpus alone, so scoring pairs in blocks gives the same result, and memory stays bounded by
    the blocks scored at once (all 1.2M distinct texts of 630k pairs at once peaked at 3.8 GB; the
    n-grams of every pair's words at once added 0.9 GB at 1M records)."""
    # Imported here: scikit-learn takes 1.5 s to import, and every Dagster process (each step, the
    # webserver, the daemon, every sensor tick's code server) imports this module with the Definitions.
    from sklearn.feature_extraction.text import TfidfTransformer

    corpus = _idf_sample(corpus).fill_null("")
    # sklearn's vocabulary: the corpus's n-grams in string order (polars sorts by code point, as Python).
    corpus_words = _words(corpus).select("word").unique().with_row_index("w")
    vocabulary = _word_ngrams(corpus_words).select(pl.col("gram").unique().sort()).with_row_index("f")

    def counts(texts: pl.Series) -> sp.csr_matrix:
        """texts x vocabulary n-gram counts, through the texts' own distinct words (n-grams unseen
        in the corpus are ignored, as by sklearn)."""
        # Each distinct word with the texts it occurs in, once per occurrence: a word's count in a
        # text is the sum of its duplicate entries, which scipy adds up when it builds the matrix
        # (one group_by on the words; counting per text and word first took twice as long).
        by_word = _words(texts).group_by("word").agg("doc").with_row_index("w")
        words = by_word.select("w", "word")
        grams = _word_ngrams(words).join(vocabulary, on="gram")
        # Canonical CSR (each row's columns in order), as CountVectorizer leaves it: the product is
        # taken n-grams x texts and transposed into texts x n-grams by scipy's counting sort, which
        # leaves every row's columns in order and costs less than sorting the rows of the product
        # taken the other way (0.08 s against 0.10-0.12 s for 40,000 texts). The counts are whole
        # numbers, exact in float32 in any order of summing, so the values are sklearn's to the bit.
        grams_words = _csr(grams["f"], grams["w"], grams["count"], (vocabulary.height, words.height))
        occurrences = by_word.select("w", "doc").explode("doc")
        once = pl.repeat(1.0, occurrences.height, dtype=pl.Float32, eager=True)
        words_texts = _csr(occurrences["w"], occurrences["doc"], once, (words.height, texts.len()))
        return (grams_words @ words_texts).T.tocsr()

    if not vocabulary.height:
        return lambda earlier, later: np.zeros(earlier.len())
    transformer = TfidfTransformer(sublinear_tf=True).fit(counts(corpus))

    def cosine(earlier: pl.Series, later: pl.Series) -> np.ndarray:
        earlier, later = earlier.fill_null(""), later.fill_null("")
        texts = pl.concat([earlier, later]).unique().rename("text")
        vectors = transformer.transform(counts(texts), copy=False)
        position = texts.to_frame().with_row_index("i")
        rows = [
            pl.DataFrame({"text": side}).join(position, on="text", how="left", maintain_order="left")["i"].to_numpy()
            for side in (earlier, later)
        ]
        return np.asarray(vectors[rows[0]].multiply(vectors[rows[1]]).sum(axis=1)).ravel()

    return cosine


def _words(texts: pl.Series) -> pl.DataFrame:
    """doc (position in ``texts``), word: every word of normalised texts (single spaces, lower
    case; sklearn lower-cases too)."""
    return (
        texts.to_frame("text")
        .with_row_index("doc")
        .select("doc", pl.col("text").str.to_lowercase().str.split(" ").alias("word"))
        .explode("word")
        .filter(pl.col("word") != "")
    )


def _word_ngrams(words: pl.DataFrame) -> pl.DataFrame:
    """w, gram, count: sklearn's char_wb n-grams of each word (columns w, word), every substring of
    3 to 5 characters of the word padded with one space on each side (a padded word shorter than n
    has none of length n)."""
    padded = words.select("w", pl.concat_str(pl.lit(" "), "word", pl.lit(" ")).alias("padded")).with_columns(
        pl.col("padded").str.len_chars().alias("length")
    )
    grams = [
        padded.filter(pl.col("length") >= n)
        .with_columns(pl.int_ranges(0, pl.col("length") - n + 1).alias("offset"))
        .explode("offset")
        .select("w", pl.col("padded").str.slice("offset", n).alias("gram"))
        for n in NGRAMS
    ]
    return pl.concat(grams).group_by("w", "gram").agg(pl.len().cast(pl.Float32).alias("count"))


def _csr(rows: pl.Series, columns: pl.Series, values: pl.Series, shape: tuple[int, int]) -> sp.csr_matrix:
    import scipy.sparse as sp

    return sp.csr_matrix((values.to_numpy(), (rows.to_numpy(), columns.to_numpy())), shape=shape, dtype=np.float32)


def find_pairs(
    complaints: pl.DataFrame, exclude_contacts: set[str] | frozenset[str] = frozenset(), corpus: pl.Series | Cosine | None = None
) -> pl.DataFrame:
    """Candidate pairs (earlier, later) of one contact within WINDOW, with their similarity.

    ``complaints`` has COMPLAINT_COLUMNS plus ``is_new`` (False for complaints of earlier days,
    which can only be the earlier side of a pair). ``exclude_contacts``: tokens that are not
    customers (the brand's own accounts, whose replies repeat by design). ``corpus``: normalised
    texts to take document frequencies from, or the cosine fitted on them (``similarity``); by
    default a sample of the complaints' own, so a part of a day given the day's corpus scores its
    pairs as the whole day would."""
    order = ["contact_token", "received_at", "complaint_id"]
    customers = complaints.filter(
        pl.col("contact_token").is_not_null() & ~pl.col("contact_token").is_in(list(exclude_contacts))
    )
    # Most contacts send one complaint: only a contact with more than one, one of them new, can
    # have a pair.
    blocked = (
        customers.select(*COMPLAINT_COLUMNS, "is_new")
        .filter((pl.len().over("contact_token") > 1) & pl.col("is_new").any().over("contact_token"))
        .sort(order)
        .with_columns(normalised_text("text_masked").alias("norm"))
    )
    # Each record with the k-th earlier record of its contact, k = 1 .. MAX_EARLIER.
    lags = (
        blocked.select(pl.int_range(pl.len()).alias("row"), pl.int_range(pl.len()).over("contact_token").alias("rank"))
        .filter(pl.col("rank") > 0)
        .select("row", pl.int_ranges(1, pl.min_horizontal("rank", MAX_EARLIER) + 1).alias("k"))
        .explode("k")
    )
    # Which (record, k) are pairs is decided on three columns; only those pairs gather the rest
    # (every column of every lag first cost 0.4 GB at 1M records).
    keys = blocked.select("complaint_id", "event_at", "is_new")
    lags = lags.filter(
        pl.concat(
            [keys.gather(lags["row"]), keys.gather(lags["row"] - lags["k"]).select(pl.all().name.prefix("e_"))],
            how="horizontal",
        )
        .select(
            pl.col("is_new")
            & (pl.col("e_complaint_id") != pl.col("complaint_id"))  # a record updated on a later day
            & ((pl.col("event_at") - pl.col("e_event_at")).abs() <= WINDOW)
        )
        .to_series()
    )
    # Ordered by k, then the later record's place.
    lags = lags.sort("k", "row")
    earlier = blocked.gather(lags["row"] - lags["k"]).select(pl.all().name.prefix("e_"))
    pairs = pl.concat([lags, blocked.gather(lags["row"]), earlier], how="horizontal")
    if not pairs.height:
        return pl.DataFrame(schema={**PAIR_SCHEMA, "identical": pl.Boolean})
    if corpus is None:  # document frequencies from all the batch's texts (the sample, if drawn, in the order above)
        texts = customers.get_column("text_masked")
        if texts.len() > IDF_SAMPLE:
            texts = _idf_sample(customers.select(pl.col("text_masked").sort_by(order)).to_series())
        corpus = texts.to_frame().select(normalised_text("text_masked")).to_series()
    # Scored in the order of the later record, so a block holds a few contacts' records whole and
    # vectorises each of their texts once, not once per block it appears in (at 1M records 487k
    # texts vectorised instead of 845k). A pair's score depends on its two texts and the corpus
    # alone, so the order changes no score.
    by_record = pairs.select(pl.arg_sort_by("row", "k")).to_series()
    scores = similarity(
        pairs.get_column("e_norm").gather(by_record), pairs.get_column("norm").gather(by_record), corpus
    ).gather(by_record.arg_sort())
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


def earlier_candidates(prior: pl.DataFrame | pl.LazyFrame, new: pl.DataFrame) -> pl.DataFrame:
    """The complaints received earlier that a new one may repeat: those of the new complaints'
    contacts made within ``WINDOW`` of them (by event time, so a copy delivered days late still
    meets its original). On a LazyFrame over Parquet only the matching row groups are read."""
    contacts = new.get_column("contact_token").drop_nulls().unique()
    if not contacts.len():
        return pl.DataFrame(schema={c: new.schema[c] for c in COMPLAINT_COLUMNS})
    first, last = new.get_column("event_at").min(), new.get_column("event_at").max()
    return (
        prior.lazy()
        .select(*COMPLAINT_COLUMNS)
        .filter(
            pl.col("event_at").is_between(first - WINDOW, last + WINDOW)
            & pl.col("contact_token").is_in(contacts.implode())
        )
        .collect()
    )


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
        .select("complaint_id", pl.col("candidate_of").alias("duplicate_of"), "similarity", "rule", "event_at", "candidate_event_at")
    )
    links = _to_roots(_without_mutual_links(best).drop("event_at", "candidate_event_at"))
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
        .sort(REVIEW_ORDER, descending=REVIEW_DESCENDING)
    )
    return Resolution(links=links, review=review)


def _without_mutual_links(links: pl.DataFrame) -> pl.DataFrame:
    """Where two complaints each point at the other, keep only the link to the earlier made one.

    A link points at an earlier received record, but a record received again (a form updated, a
    call re-exported) is compared as received now: its copy that arrived in between then points at
    it and it at its copy. The complaint made first is the one kept (ties: the smaller id)."""
    reverse = links.select(
        pl.col("duplicate_of").alias("complaint_id"), pl.col("complaint_id").alias("duplicate_of"), pl.lit(True).alias("__mutual")
    )
    flagged = links.join(reverse, on=["complaint_id", "duplicate_of"], how="left")
    points_later = (pl.col("candidate_event_at") > pl.col("event_at")) | (
        (pl.col("candidate_event_at") == pl.col("event_at")) & (pl.col("duplicate_of") > pl.col("complaint_id"))
    )
    return flagged.filter(~(pl.col("__mutual").fill_null(False) & points_later)).drop("__mutual")


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
