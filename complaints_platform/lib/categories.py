"""The category model: which of CATEGORIES a (PII-masked) complaint text is about.

A scikit-learn Pipeline of two steps:

- ``TextFeatures``: the text normalised (lower case; masked-PII tokens such as ``<PHONE:...>`` and
  raw handles or e-mails removed, so a prediction never depends on whose number it was), then TF-IDF of word 1-2-grams and of char_wb 2-5-grams (sublinear tf; the
  characters make it robust to typos and abbreviations). It computes what a FeatureUnion of two
  TfidfVectorizers would, vectorised with polars and numpy: scikit-learn's char analyzer is a
  Python loop that scores about 4,000 texts a second, this about 35,000 on one core (2026-12).
- LogisticRegression, chosen over SGD and ComplementNB by held-out macro-F1; its probability of
  the chosen class is the confidence column.

It is trained on synthetic text (lib/category_corpus.py). Its honest score is the one on the
independently written held-out corpus; real complaints will score lower still (STACK.md).

A model's ``version`` is a content hash of its training data, seed, hyperparameters and
CODE_VERSION: the same inputs always give the same version, and any change gives a new one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.pipeline import Pipeline

from complaints_platform.lib.frames import compacted, give_back
from complaints_platform.lib.lake import atomic_path, write_bytes_atomic
from complaints_platform.lib.silver import CATEGORIES, CATEGORISED_SCHEMA, NOT_A_COMPLAINT

# Bump when the pipeline's code or features change, so the model version changes with it.
CODE_VERSION = "categories-2"

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"

HYPERPARAMETERS: dict[str, Any] = {
    "word_ngram_range": (1, 2),
    "word_min_df": 2,
    # 3-5 rather than 2-5: about twice the texts/s for the same held-out macro-F1 (benchmarks/README).
    "char_ngram_range": (3, 5),
    "char_min_df": 3,
    "char_hash_bits": 20,
    "classifier": "logistic_regression",
    "C": 4.0,
    "max_iter": 300,
    "routing_threshold": 0.55,
}

# Masked PII (lib/pii.py writes <KIND:abcdefghij>; hex digests are accepted too) and raw handles
# or e-mails are removed, not replaced by a kind word: a placeholder's own n-grams dilute the rest
# of a short text, and measured on 600 held-out texts with four tokens appended, kind words changed
# 50 predictions and removal none, at the same macro-F1. Rust-regex syntax (polars): no look-around.
_NORMALISE_RULES = (
    (r"<[A-Z]+:[0-9a-z]+>", " "),
    (r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", " "),
    (r"(^|[^\w@])@\w{2,30}", "${1} "),
    (r"(?i)\b(?:https?://|www\.)\S+", " weblink "),
    (r"\s+", " "),
)
_WORD_PATTERN = r"[\p{L}\p{N}_]+"  # as Python's \w; Rust's \w also matches joiners (U+200D)
# Function words say nothing about a category on their own, but synthetic training text can make
# them look as if they do (one template starts "the ...", another "I ..."). They are dropped as
# unigrams only: bigrams such as "no signal" or "on hold" keep them.
STOP_UNIGRAMS = frozenset(
    "a an the i me my we our you your it its is am are was were be been of to and or in on at "
    "for with this that these those so just s t ve m ll d re".split()
)
_SPACE, _SEPARATOR = 32, 0
_CHUNK = 2048
_PARALLEL_BLOCK = 8192
_WORKERS = max(1, min(4, os.cpu_count() or 1))


def normalise_series(texts) -> pl.Series:
    """Lower-cased texts, whitespace collapsed, masked PII and raw handles or e-mails removed, links
    as the word ``weblink``: a prediction never depends on who wrote the text or on their masks."""
    expr = pl.col("t").fill_null("")
    for pattern, replacement in _NORMALISE_RULES:
        expr = expr.str.replace_all(pattern, replacement)
    column = texts.cast(pl.String) if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String)
    frame = pl.DataFrame({"t": column})
    return frame.select(expr.str.strip_chars().str.to_lowercase()).to_series()


def normalise_text(text: str | None) -> str:
    return normalise_series([text])[0]


def _counts(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_rows, n_cols), dtype=np.float32
    )
    matrix.sum_duplicates()
    return matrix


def _word_terms(norm: pl.Series, max_n: int) -> pl.DataFrame:
    """(row, term) for every word 1..max_n-gram of every text (max_n of 1 or 2)."""
    words = (
        pl.DataFrame({"term": norm.str.extract_all(_WORD_PATTERN)})
        .with_row_index("row")
        .explode("term")
        .drop_nulls("term")
    )
    unigrams = words.filter(~pl.col("term").is_in(list(STOP_UNIGRAMS)))
    if max_n < 2:
        return unigrams
    following = words.select(pl.col("row").shift(-1).alias("next_row"), pl.col("term").shift(-1).alias("next"))
    bigrams = (
        pl.concat([words, following], how="horizontal")
        .filter(pl.col("row") == pl.col("next_row"))
        .select("row", (pl.col("term") + " " + pl.col("next")).alias("term"))
    )
    return pl.concat([unigrams, bigrams])


@dataclass
class _WordVocabulary:
    """A fitted word vocabulary (unigrams and ``"a b"`` bigrams, ``TextFeatures.word_terms_``) as
    word ids: each distinct word of its terms has an id (``ids``: term -> wid), ``unigram[wid]`` is the
    word's column or -1, and a bigram's column is found by its key ``wid_a * len(unigram) + wid_b``
    in the sorted ``bigram_keys``. A text's words are then joined once, as words, and its bigrams
    looked up as integers: no bigram string is built for a pair the vocabulary does not have."""

    ids: pl.DataFrame
    unigram: np.ndarray
    bigram_keys: np.ndarray
    bigram_cols: np.ndarray

    @classmethod
    def of(cls, terms: list[str]) -> _WordVocabulary:
        split = [term.split(" ") for term in terms]
        words = sorted({word for parts in split for word in parts})
        wid = {word: i for i, word in enumerate(words)}
        unigram = np.full(len(words), -1, dtype=np.int64)
        keys, cols = [], []
        for col, parts in enumerate(split):
            if len(parts) == 1 and parts[0] not in STOP_UNIGRAMS:
                unigram[wid[parts[0]]] = col
            elif len(parts) == 2:
                keys.append(wid[parts[0]] * len(words) + wid[parts[1]])
                cols.append(col)
        keys, cols = np.asarray(keys, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        return cls(
            ids=pl.DataFrame({"term": words, "wid": np.arange(len(words), dtype=np.int64)}),
            unigram=unigram,
            bigram_keys=keys[order],
            bigram_cols=cols[order],
        )

    def occurrences(self, norm: pl.Series, max_n: int) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every vocabulary term in the normalised texts: word 1-grams (function
        words excepted) and, with ``max_n`` of 2, 2-grams, as ``_word_terms`` finds them."""
        words = (
            pl.DataFrame({"term": norm.str.extract_all(_WORD_PATTERN)})
            .with_row_index("row")
            .explode("term")
            .drop_nulls("term")
            .join(self.ids, on="term", how="left", maintain_order="left")
        )
        rows = words.get_column("row").to_numpy().astype(np.int64)
        wid = words.get_column("wid").fill_null(-1).to_numpy()
        known = wid >= 0
        unigram = np.full(len(wid), -1, dtype=np.int64)
        unigram[known] = self.unigram[wid[known]]
        found_rows, found_cols = [rows[unigram >= 0]], [unigram[unigram >= 0]]
        if max_n >= 2 and len(self.bigram_keys) and len(wid) > 1:
            pair = (rows[:-1] == rows[1:]) & known[:-1] & known[1:]
            keys = wid[:-1][pair] * len(self.unigram) + wid[1:][pair]
            at = np.minimum(np.searchsorted(self.bigram_keys, keys), len(self.bigram_keys) - 1)
            hit = self.bigram_keys[at] == keys
            found_rows.append(rows[:-1][pair][hit])
            found_cols.append(self.bigram_cols[at[hit]])
        return np.concatenate(found_rows), np.concatenate(found_cols)


_HASH_BASE = np.uint64(0x100000001B3)
_HASH_MIX = np.uint64(0x9E3779B97F4A7C15)
_ORDER_SALT = 0x632BE59BD9B4E019


def _char_buckets(norm: pl.Series, lo: int, hi: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, bucket) of every char_wb n-gram (lo <= n <= hi) of every text, hashed to 2**bits buckets.

    Same n-grams as scikit-learn's ``char_wb`` analyzer (each word padded with one space; no n-gram
    spans two words), computed with numpy rolling hashes over all texts at once: about 20x faster
    than the analyzer's Python loop."""
    padded = (" " + norm + " ").to_list()
    lengths = np.fromiter((len(t) for t in padded), dtype=np.int64, count=len(padded))
    codes = np.frombuffer("\x00".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    row_of = np.repeat(np.arange(len(padded), dtype=np.int32), lengths + 1)[: len(codes)]
    seps = np.concatenate(([0], np.cumsum(codes == _SEPARATOR)))
    spaces = np.concatenate(([0], np.cumsum(codes == _SPACE)))
    rows, buckets = [], []
    hashes = np.zeros(len(codes), dtype=np.uint64)
    for n in range(1, hi + 1):
        m = len(codes) - n + 1
        if m <= 0:
            break
        hashes = hashes[:m] * _HASH_BASE + codes[n - 1 : n - 1 + m]
        if n < lo:
            continue
        keep = seps[n : n + m] == seps[:m]
        if n > 2:  # interior characters must not be spaces (word-bounded n-grams)
            keep &= spaces[n - 1 : n - 1 + m] == spaces[1 : 1 + m]
        mixed = (hashes[keep] + np.uint64(_ORDER_SALT * n % 2**64)) * _HASH_MIX
        buckets.append((mixed >> np.uint64(64 - bits)).astype(np.int64))
        rows.append(row_of[:m][keep])
    if not rows:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(buckets)


def _idf(document_frequency: np.ndarray, n_documents: int) -> np.ndarray:
    # scikit-learn's smooth idf, so weights read the same as TfidfVectorizer's.
    return (np.log((1 + n_documents) / (1 + document_frequency)) + 1).astype(np.float32)


class TextFeatures(TransformerMixin, BaseEstimator):
    """TF-IDF of word 1-2-grams and char_wb 2-5-grams, sublinear tf, each block L2-normalised.

    The equivalent of a FeatureUnion of two TfidfVectorizers (words with an exact vocabulary, char
    n-grams hashed into buckets and pruned to those seen in ``char_min_df`` training texts), with the
    text normalised first. Vectorised with polars and numpy so one core scores tens of thousands of
    texts a second."""

    def __init__(
        self,
        word_ngram_range: tuple[int, int] = (1, 2),
        word_min_df: int = 2,
        char_ngram_range: tuple[int, int] = (2, 5),
        char_min_df: int = 3,
        char_hash_bits: int = 20,
    ):
        self.word_ngram_range = word_ngram_range
        self.word_min_df = word_min_df
        self.char_ngram_range = char_ngram_range
        self.char_min_df = char_min_df
        self.char_hash_bits = char_hash_bits

    def fit(self, texts, y=None):
        norm = normalise_series(texts)
        n_docs = len(norm)
        lo, hi = self.word_ngram_range
        terms = _word_terms(norm, hi)
        if lo > 1:
            terms = terms.filter(pl.col("term").str.count_matches(" ") >= lo - 1)
        vocabulary = (
            terms.unique()
            .group_by("term")
            .len()
            .filter(pl.col("len") >= self.word_min_df)
            .sort("term")
        )
        self.word_terms_ = vocabulary["term"].to_list()
        self.word_idf_ = _idf(vocabulary["len"].to_numpy(), n_docs)

        document_frequency = np.zeros(1 << self.char_hash_bits, dtype=np.int64)
        for i in range(0, n_docs, _CHUNK):
            chunk = norm[i : i + _CHUNK]
            rows, buckets = _char_buckets(chunk, *self.char_ngram_range, self.char_hash_bits)
            seen = _counts(rows, buckets, len(chunk), 1 << self.char_hash_bits)
            document_frequency += np.bincount(seen.indices, minlength=1 << self.char_hash_bits)
        kept = np.flatnonzero(document_frequency >= self.char_min_df)
        self.char_column_ = np.full(1 << self.char_hash_bits, -1, dtype=np.int32)
        self.char_column_[kept] = np.arange(len(kept), dtype=np.int32)
        self.char_idf_ = _idf(document_frequency[kept], n_docs)
        self._word_vocabulary = self._idf_all = None
        return self

    # Caches of the fitted attributes, built on first use after ``fit`` or a load (pickles leave
    # them out): a fitted attribute replaced by hand afterwards is not seen until then.
    def _vocabulary(self) -> _WordVocabulary:
        if getattr(self, "_word_vocabulary", None) is None:
            self._word_vocabulary = _WordVocabulary.of(self.word_terms_)
        return self._word_vocabulary

    def _idf(self) -> np.ndarray:
        if getattr(self, "_idf_all", None) is None:
            self._idf_all = np.concatenate([self.word_idf_, self.char_idf_])
        return self._idf_all

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_word_vocabulary"] = state["_idf_all"] = None  # caches, rebuilt on first use
        return state

    def transform(self, texts) -> sp.csr_matrix:
        norm = normalise_series(texts)
        # Chunks keep the numpy work arrays small enough to be reused rather than freshly mapped,
        # which is several times faster than one pass over a large batch.
        blocks = [self._transform_normalised(norm[i : i + _CHUNK]) for i in range(0, len(norm), _CHUNK)]
        if not blocks:
            return sp.csr_matrix((0, len(self.word_idf_) + len(self.char_idf_)), dtype=np.float32)
        return blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")

    def _transform_normalised(self, norm: pl.Series) -> sp.csr_matrix:
        """Both blocks' features of one chunk as one canonical CSR matrix, built from the (row,
        column) of every term occurrence: counted with one sort, weighted, and each block of each
        row L2-normalised (no per-block matrices stacked, no diagonal product)."""
        n_docs, n_words = len(norm), len(self.word_terms_)
        word_rows, word_cols = self._vocabulary().occurrences(norm, self.word_ngram_range[1])
        char_rows, buckets = _char_buckets(norm, *self.char_ngram_range, self.char_hash_bits)
        char_cols = self.char_column_[buckets]
        known = char_cols >= 0
        n_cols = n_words + len(self.char_idf_)
        # One key per occurrence, row * n_cols + column (int32 where a chunk's keys fit: half the
        # bytes to sort): sorted, equal keys are one cell's count. Sorted by timsort ("stable"):
        # the keys come as a few blocks (the words', each n-gram length's), each in ascending rows,
        # and it sorts them in 0.41 s per 100,000 texts against the default quicksort's 0.58 s.
        # The same sorted array either way.
        kind = np.int32 if n_docs * n_cols < 2**31 else np.int64
        keys = np.concatenate([
            word_rows.astype(kind) * kind(n_cols) + word_cols.astype(kind),
            char_rows[known].astype(kind) * kind(n_cols) + (char_cols[known].astype(kind) + kind(n_words)),
        ])
        keys.sort(kind="stable")
        first = np.flatnonzero(np.diff(keys, prepend=kind(-1)))
        counts = np.diff(first, append=len(keys))
        keys = keys[first]
        # Row r's cells are the keys in [r * n_cols, (r + 1) * n_cols): its words, then its chars.
        row_starts = np.arange(n_docs, dtype=kind) * kind(n_cols)
        bounds = np.append(np.searchsorted(keys, np.stack([row_starts, row_starts + n_words], axis=1).ravel()), len(keys))
        indptr = bounds[::2]
        cols = (keys - np.repeat(row_starts, np.diff(indptr))).astype(np.int32)
        data = ((1.0 + np.log(counts)) * self._idf()[cols]).astype(np.float32)
        # Each row's word block and char block to unit length (a block without terms stays zero).
        sums = np.concatenate(([0.0], np.cumsum(np.square(data, dtype=np.float64))))
        norms = np.sqrt(sums[bounds[1:]] - sums[bounds[:-1]])
        norms[norms == 0] = 1.0
        data *= np.repeat((1.0 / norms).astype(np.float32), np.diff(bounds))
        return sp.csr_matrix((data, cols, indptr), shape=(n_docs, n_cols))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        chars = [f"char_bucket_{b}" for b in np.flatnonzero(self.char_column_ >= 0)]
        return np.asarray(list(self.word_terms_) + chars, dtype=object)


@dataclass
class CategoryModel:
    pipeline: Pipeline  # the fast student
    version: str  # 12 hex characters: sha256 of training data + hyperparameters + CODE_VERSION
    trained_at: datetime
    metrics: dict[str, Any] = field(default_factory=dict)
    training_summary: dict[str, Any] = field(default_factory=dict)
    # Texts the student scores below this confidence go to the teacher (the slow path).
    routing_threshold: float = 0.0
    examples: dict[str, list[str]] = field(default_factory=dict)


def build_pipeline(seed: int = 0, hyperparameters: dict[str, Any] | None = None) -> Pipeline:
    hp = {**HYPERPARAMETERS, **(hyperparameters or {})}
    features = TextFeatures(
        word_ngram_range=tuple(hp["word_ngram_range"]),
        word_min_df=hp["word_min_df"],
        char_ngram_range=tuple(hp["char_ngram_range"]),
        char_min_df=hp["char_min_df"],
        char_hash_bits=hp["char_hash_bits"],
    )
    classifier = LogisticRegression(C=hp["C"], max_iter=hp["max_iter"], random_state=seed)
    return Pipeline([("features", features), ("classifier", classifier)])


def model_version(
    texts: list[str], labels: list[str], seed: int, hyperparameters: dict[str, Any], weights: list[float] | None = None
) -> str:
    digest = hashlib.sha256()
    digest.update(CODE_VERSION.encode())
    digest.update(json.dumps(hyperparameters, sort_keys=True, default=list).encode())
    digest.update(str(seed).encode())
    for text, label in zip(texts, labels, strict=True):
        digest.update(label.encode())
        digest.update(b"\x1f")
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    if weights is not None and any(w != 1.0 for w in weights):
        digest.update(np.asarray(weights, dtype=np.float64).tobytes())
    return digest.hexdigest()[:12]


@dataclass
class TrainingData:
    """What a student learns from, by source: the synthetic corpus, the teacher's labels of the
    platform's own unlabelled texts, and analysts' corrections (weighted up: a person said so)."""

    synthetic: tuple[list[str], list[str]]
    teacher_labelled: tuple[list[str], list[str]] = ([], [])
    corrections: tuple[list[str], list[str]] = ([], [])
    correction_weight: float = 3.0

    def texts_labels_weights(self) -> tuple[list[str], list[str], list[float]]:
        texts, labels, weights = [], [], []
        for (t, y), w in (
            (self.synthetic, 1.0),
            (self.teacher_labelled, 1.0),
            (self.corrections, self.correction_weight),
        ):
            texts += list(t)
            labels += list(y)
            weights += [w] * len(t)
        return texts, labels, weights

    def summary(self) -> dict[str, Any]:
        def per_class(labels):
            counts = Counter(labels)
            return {c: counts.get(c, 0) for c in CATEGORIES}

        return {
            source: {"n_texts": len(pair[0]), "n_texts_per_class": per_class(pair[1])}
            for source, pair in (
                ("synthetic", self.synthetic),
                ("teacher_labelled", self.teacher_labelled),
                ("corrections", self.corrections),
            )
        }


def train_category_model(
    texts: list[str] | TrainingData,
    labels: list[str] | None = None,
    seed: int = 0,
    evaluate_on: tuple[list[str], list[str]] | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> CategoryModel:
    """Fit the student on labelled texts (a list with ``labels``, or a ``TrainingData``); with
    ``evaluate_on`` (texts, labels), fill ``metrics``."""
    data = texts if isinstance(texts, TrainingData) else TrainingData((list(texts), list(labels or [])))
    texts, labels, weights = data.texts_labels_weights()
    unknown = set(labels) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"labels outside CATEGORIES: {sorted(unknown)}")
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    hp = {**HYPERPARAMETERS, **(hyperparameters or {})}
    pipeline = build_pipeline(seed, hp)
    started = datetime.now(timezone.utc)
    pipeline.fit(texts, labels, classifier__sample_weight=np.asarray(weights, dtype=np.float64))
    seconds = (datetime.now(timezone.utc) - started).total_seconds()
    counts = Counter(labels)
    model = CategoryModel(
        pipeline=pipeline,
        version=model_version(texts, labels, seed, hp, weights),
        trained_at=started,
        routing_threshold=float(hp["routing_threshold"]),
        training_summary={
            "n_texts": len(texts),
            "n_texts_per_class": {c: counts.get(c, 0) for c in CATEGORIES},
            "sources": data.summary(),
            "correction_weight": data.correction_weight,
            "seed": seed,
            "hyperparameters": hp,
            "code_version": CODE_VERSION,
            "training_seconds": round(seconds, 2),
        },
    )
    if evaluate_on is not None:
        model.metrics = evaluate(model, *evaluate_on)
    return model


def predict_categories(model: CategoryModel, texts: list[str]) -> tuple[list[str], list[float]]:
    """The student's most likely category of each text and its probability (in (0, 1])."""
    labels, confidence = _predict_student(model, texts)
    return [CATEGORIES[i] for i in labels], confidence.tolist()


def _predict_student(model: CategoryModel, texts) -> tuple[np.ndarray, np.ndarray]:
    """Indices into CATEGORIES and the probability of each, for the student alone (the bulk path).

    Large batches are scored in blocks on a small thread pool: polars, numpy and scipy release the
    GIL for most of the work, so two cores score about 1.5x what one does. ``texts``: a list or
    a polars Series (a day's column stays in polars: no Python string per text)."""
    if not isinstance(texts, pl.Series):
        texts = list(texts)
    if not len(texts):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    to_category = np.asarray([CATEGORIES.index(str(c)) for c in model.pipeline.classes_])

    def best_of(block) -> tuple[np.ndarray, np.ndarray]:
        # Each block's probabilities become its best class at once: a day's whole matrix (10M texts
        # x 5 classes) would be 0.4 GB, twice over while the blocks are stacked.
        proba = model.pipeline.predict_proba(block)
        best = proba.argmax(axis=1)
        return to_category[best], proba[np.arange(len(best)), best].astype(np.float64)

    if len(texts) <= 2 * _PARALLEL_BLOCK:
        return best_of(texts)
    blocks = [texts[i : i + _PARALLEL_BLOCK] for i in range(0, len(texts), _PARALLEL_BLOCK)]
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        scored = list(pool.map(best_of, blocks))
    return np.concatenate([labels for labels, _ in scored]), np.concatenate([confidence for _, confidence in scored])


PATH_STUDENT, PATH_TEACHER = "student", "teacher"


def predict_routed(
    model: CategoryModel, texts, teacher=None, max_teacher: int | None = None, known=None
) -> tuple[list[str], np.ndarray, list[str]]:
    """Categories, confidences and the path that decided each text.

    The student scores every text; those under ``model.routing_threshold`` go to ``teacher`` (a
    lib/category_teacher.Teacher), least confident first, at most ``max_teacher`` of them (the rest
    keep the student's answer), so a run's cost is bounded whatever the day's volume.

    ``known``: the teacher's earlier verdicts on these very texts, as two arrays (the index in
    CATEGORIES per text, -1 where there is none; the confidence per text); those are reused, not
    asked again, and do not count against ``max_teacher``."""
    routing = _Routing(model, teacher, max_teacher)
    routing.add(texts if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String), known)
    labels, confidence, path = routing.finish()
    return [CATEGORIES[i] for i in labels], confidence, path.tolist()


class _Routing:
    """``predict_routed`` over texts given a batch at a time: the student's answers for every text,
    and the texts the teacher will see, chosen over all batches (the least confident unsure ones,
    at most ``max_teacher``: only those texts are kept, not the batches')."""

    def __init__(self, model: CategoryModel, teacher=None, max_teacher: int | None = None) -> None:
        self.model, self.teacher, self.max_teacher = model, teacher, max_teacher
        self._labels: list[np.ndarray] = []
        self._confidence: list[np.ndarray] = []
        self._reused: list[np.ndarray] = []
        self._unsure = pl.DataFrame(schema={"row": pl.Int64, "confidence": pl.Float64, "text": pl.String})
        self._rows = 0

    def add(self, texts: pl.Series, known=None) -> None:
        labels, confidence = _predict_student(self.model, texts)
        reused = np.zeros(len(labels), dtype=bool)
        if self.teacher is not None and len(labels):
            if known is not None:
                known_labels, known_confidence = known
                reused = known_labels >= 0
                labels[reused] = known_labels[reused]
                confidence[reused] = known_confidence[reused]
            unsure = np.flatnonzero((confidence < self.model.routing_threshold) & ~reused)
            # Least confident first; ties in the order of the texts (as a stable sort of them all).
            # Compacted: the texts kept, not the batch's buffers they are views into (lib/frames.py).
            self._unsure = pl.concat([
                self._unsure,
                compacted(pl.DataFrame({"row": unsure + self._rows, "confidence": confidence[unsure], "text": texts.gather(unsure)},
                                       schema=self._unsure.schema)),
            ]).sort("confidence", "row")
            if self.max_teacher is not None:
                self._unsure = self._unsure.head(self.max_teacher)
        self._labels.append(labels)
        self._confidence.append(confidence)
        self._reused.append(reused)
        self._rows += len(labels)

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every text's index in CATEGORIES, confidence and path, in the order given."""
        concat = lambda parts, dtype: np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)  # noqa: E731
        labels, confidence = concat(self._labels, np.int64), concat(self._confidence, np.float64)
        path = np.where(concat(self._reused, bool), PATH_TEACHER, PATH_STUDENT).astype(object)
        if self._unsure.height:
            rows = self._unsure.get_column("row").to_numpy()
            proba = self.teacher.probabilities(self._unsure.get_column("text").to_list())
            labels[rows] = proba.argmax(axis=1)
            confidence[rows] = proba.max(axis=1)
            path[rows] = PATH_TEACHER
        return labels, confidence, path


def score(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix (rows = truth)."""
    labels_order = list(CATEGORIES)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels_order, zero_division=0
    )
    return {
        "n": len(truth),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, labels=labels_order, average="macro", zero_division=0)), 4),
        "per_class": {
            c: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, c in enumerate(labels_order)
        },
        "labels": labels_order,
        "confusion_matrix": confusion_matrix(truth, predicted, labels=labels_order).tolist(),
    }


def evaluate(model: CategoryModel, texts: list[str], labels: list[str], teacher=None) -> dict[str, Any]:
    """``score`` of the student alone, or of the routed path when a ``teacher`` is given (then also
    the share of texts it sent to the teacher)."""
    if teacher is None:
        predicted, _ = predict_categories(model, texts)
        return score(labels, predicted)
    predicted, _, path = predict_routed(model, texts, teacher)
    return {**score(labels, predicted), "teacher_share": round(path.count(PATH_TEACHER) / max(len(path), 1), 4)}


def top_terms(model: CategoryModel, k: int = 10) -> dict[str, list[str]]:
    """The ``k`` word n-grams that most raise each category's score (for explanations in the UI)."""
    features: TextFeatures = model.pipeline.named_steps["features"]
    names = features.word_terms_
    classifier = model.pipeline.named_steps["classifier"]
    weights = classifier.coef_ if hasattr(classifier, "coef_") else classifier.feature_log_prob_
    out: dict[str, list[str]] = {}
    for row, category in zip(weights, classifier.classes_):
        order = np.argsort(np.asarray(row[: len(names)]))[::-1]
        terms = (names[i] for i in order)
        out[str(category)] = [t for _, t in zip(range(k), terms)]
    return out


def top_examples(texts: list[str], labels: list[str], confidence, k: int = 3, max_chars: int = 160) -> dict[str, list[str]]:
    """The ``k`` most confidently labelled (masked) texts of each category, shortened for display."""
    frame = pl.DataFrame({"text": list(texts), "category": list(labels), "confidence": np.asarray(confidence, dtype=np.float64)})
    out = {c: [] for c in CATEGORIES}
    top = frame.unique("text").sort("confidence", descending=True).group_by("category", maintain_order=True).head(k)
    for row in top.iter_rows(named=True):
        out[row["category"]].append(row["text"][:max_chars])
    return out


def explain_with_examples(model: CategoryModel, texts: list[str], k: int = 3) -> dict[str, list[str]]:
    """Per category, the ``k`` texts (of ``texts``, e.g. recent real complaints) the model is surest of."""
    labels, confidence = predict_categories(model, texts)
    return top_examples(texts, labels, confidence, k)


def model_card(model: CategoryModel) -> dict[str, Any]:
    """Everything a reader needs to trust or reject a model version (written as metadata.json)."""
    return {
        "version": model.version,
        "trained_at": model.trained_at.isoformat(),
        "code_version": CODE_VERSION,
        "routing_threshold": model.routing_threshold,
        "metrics": model.metrics,
        "training_summary": model.training_summary,
        "categories": list(CATEGORIES),
        "top_terms": top_terms(model, 10),
        "examples": model.examples,
    }


def save_model(model: CategoryModel, folder: Path) -> Path:
    """Write ``model.joblib`` and its card ``metadata.json`` into ``folder`` (atomically, each)."""
    folder = Path(folder)
    with atomic_path(folder / MODEL_FILE) as tmp:
        joblib.dump(model.pipeline, tmp, compress=3)
    write_bytes_atomic(json.dumps(model_card(model), indent=2, default=list).encode(), folder / METADATA_FILE)
    return folder


def load_model(folder: Path) -> CategoryModel:
    """Read a model written by ``save_model``."""
    folder = Path(folder)
    metadata = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    pipeline = joblib.load(folder / MODEL_FILE)
    return CategoryModel(
        pipeline=pipeline,
        version=metadata["version"],
        trained_at=datetime.fromisoformat(metadata["trained_at"]),
        metrics=metadata.get("metrics", {}),
        training_summary=metadata.get("training_summary", {}),
        routing_threshold=float(metadata.get("routing_threshold", 0.0)),
        examples=metadata.get("examples", {}),
    )


def categorise(
    cleaned: pl.DataFrame,
    model: CategoryModel,
    teacher=None,
    max_teacher: int | None = None,
    corrections: pl.DataFrame | None = None,
    previous: pl.DataFrame | pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """The cleaned complaints with their category, its confidence, whether it is a complaint at all
    (``other`` is not: replies, marketing, spam, chatter are kept and flagged, never dropped), the
    path that decided it and the model version: ``categorise_batches`` over the frame as one batch."""
    return pl.concat(list(categorise_batches(lambda columns: iter([cleaned.select(columns or cleaned.columns)]),
                                             model, teacher, max_teacher, corrections, previous)))


def categorise_batches(
    read: Callable[[list[str] | None], Iterator[pl.DataFrame]],
    model: CategoryModel,
    teacher=None,
    max_teacher: int | None = None,
    corrections: pl.DataFrame | None = None,
    previous: pl.DataFrame | pl.LazyFrame | None = None,
) -> Iterator[pl.DataFrame]:
    """A day's cleaned complaints categorised (see ``categorise``), a batch at a time, in two passes
    over ``read(columns)`` (the day's batches in one order each time; ``None``: every column), so
    a day never has to fit in memory: the first reads ids and texts, scores them with the student
    and picks the teacher's texts over the whole day (the least confident, ``max_teacher`` at
    most); the second reads whole rows and yields each batch with its categories. ``teacher``:
    a lib/category_teacher.Teacher, or anything with its ``probabilities`` and ``release``.

    An analyst's correction (``corrections``: complaint_id, category) wins over both paths, with
    confidence 1 and path ``correction``.

    ``previous``: this partition as it was last categorised. A day is re-categorised each time one
    of its windows arrives; the teacher's verdict on a complaint whose text and model version are
    unchanged is taken from there instead of embedding the text again, so a rerun costs the
    student's time plus the teacher's on new texts only (and texts past an earlier run's
    ``max_teacher`` get their turn)."""
    verdicts = _teacher_verdicts(previous, model) if teacher is not None and previous is not None else None
    routing = _Routing(model, teacher, max_teacher)
    for batch in read(["complaint_id", "text_masked"]):
        routing.add(batch.get_column("text_masked"), _known(batch, verdicts) if verdicts is not None else None)
    give_back()  # what scoring the batches freed, before the teacher's encoder loads
    labels, confidence, path = routing.finish()
    if teacher is not None:
        teacher.release()  # the second pass needs no encoder
    names = np.asarray(CATEGORIES, dtype=object)
    fixed = corrections.select("complaint_id", pl.col("category").alias("_corrected")) if corrections is not None and corrections.height else None
    start = 0
    for batch in read(None):
        end = start + batch.height
        frame = batch.with_columns(
            pl.Series("category", names[labels[start:end]], dtype=pl.String),
            pl.Series("category_confidence", confidence[start:end], dtype=pl.Float64),
            pl.Series("category_path", path[start:end], dtype=pl.String),
            pl.lit(model.version).alias("model_version"),
        )
        start = end
        if fixed is not None:
            frame = frame.join(fixed, on="complaint_id", how="left", maintain_order="left").with_columns(
                pl.coalesce("_corrected", "category").alias("category"),
                pl.when(pl.col("_corrected").is_not_null()).then(1.0).otherwise(pl.col("category_confidence")).alias("category_confidence"),
                pl.when(pl.col("_corrected").is_not_null()).then(pl.lit("correction")).otherwise(pl.col("category_path")).alias("category_path"),
            )
        yield frame.with_columns(is_complaint_expr()).cast(CATEGORISED_SCHEMA).select(list(CATEGORISED_SCHEMA))
    if start != len(labels):
        raise RuntimeError(f"the second pass read {start} rows, the first {len(labels)}")


def _teacher_verdicts(previous: pl.DataFrame | pl.LazyFrame, model: CategoryModel) -> pl.DataFrame:
    """The teacher's verdicts of the last run under this model version (lazily: a scan of the last
    file reads the teacher's few rows, not the day's texts)."""
    return (
        previous.lazy()
        .filter((pl.col("category_path") == PATH_TEACHER) & (pl.col("model_version") == model.version))
        .select(
            "complaint_id",
            pl.col("text_masked").alias("_known_text"),
            pl.col("category").alias("_known"),
            pl.col("category_confidence").alias("_known_confidence"),
        )
        .unique("complaint_id", keep="last")
        .collect()
    )


def _known(batch: pl.DataFrame, verdicts: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``predict_routed``'s ``known`` for a batch (complaint_id, text_masked): the verdict where the
    complaint's text is unchanged. Joined on the id alone and the text compared beside it: a join
    on the text would copy the texts once more."""
    unchanged = pl.col("_known_text") == pl.col("text_masked")
    matched = batch.join(verdicts, on="complaint_id", how="left", maintain_order="left").select(
        pl.when(unchanged)
        .then(pl.col("_known"))
        .replace_strict(CATEGORIES, list(range(len(CATEGORIES))), default=-1, return_dtype=pl.Int64),
        pl.when(unchanged).then(pl.col("_known_confidence")).fill_null(0.0),
    )
    return tuple(matched.get_column(c).to_numpy().astype(dtype) for c, dtype in (("_known", np.int64), ("_known_confidence", np.float64)))


def is_complaint_expr() -> pl.Expr:
    """The one rule: a record is a complaint unless its category is ``other``."""
    return (pl.col("category") != NOT_A_COMPLAINT).alias("is_complaint")
