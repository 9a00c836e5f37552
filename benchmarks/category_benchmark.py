"""Measure every categorisation path on hand-written tweet-like complaints and on real SMS spam.

    .venv/bin/python benchmarks/category_benchmark.py [--pool 2000] [--bulk 100000]

Paths: the keyword rules alone; the teacher (rules + MiniLM embedding classifier + prototypes);
the student trained on synthetic text only; the student trained on synthetic text + the teacher's
labels of a pool of the platform's own incoming texts (the demo generator's, standing in for silver
``complaints_cleaned``); and the combined path (that student, with texts under its routing
threshold sent to the teacher). Prints a table and writes ``benchmarks/results/category.json``.

The held-out set (benchmarks/heldout_tweets.tsv) is never trained on. The UCI SMS Spam
Collection (../shared/data/real, real SMS) measures how much real spam is flagged as not a
complaint, and how much real personal chatter (ham) is.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from complaints_platform.lib import categories as cat  # noqa: E402
from complaints_platform.lib import category_training as training  # noqa: E402
from complaints_platform.lib.category_corpus import training_corpus  # noqa: E402
from complaints_platform.lib.category_rules import predict_by_rules, rule_scores  # noqa: E402
from complaints_platform.lib.category_teacher import Teacher  # noqa: E402
from complaints_platform.lib.silver import CATEGORIES, CHANNEL_NAMES  # noqa: E402
from complaints_platform.simulate.generator import complaint_text  # noqa: E402

HELDOUT = ROOT / "benchmarks" / "heldout_tweets.tsv"
UCI_SMS = ROOT.parent / "shared" / "data" / "real" / "sms_spam_collection_uci" / "SMSSpamCollection"
RESULTS = ROOT / "benchmarks" / "results" / "category.json"
SEED = 20261122


def read_heldout(path: Path = HELDOUT) -> tuple[list[str], list[str]]:
    frame = pl.read_csv(path, separator="\t", quote_char=None)
    return frame.get_column("text").to_list(), frame.get_column("label").to_list()


def read_uci(path: Path = UCI_SMS) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"spam": [], "ham": []}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        label, _, text = line.partition("\t")
        if label in out:
            out[label].append(text.strip())
    return out


def incoming_pool(n: int, seed: int) -> list[str]:
    """Stand-in for silver complaints_cleaned: the demo generator's texts, labels thrown away."""
    rng = random.Random(seed)
    return [complaint_text(rng, rng.choice(CHANNEL_NAMES), rng.choice(CATEGORIES), None)[0] for _ in range(n)]


def texts_per_second(function, texts: list[str], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function(texts)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", type=int, default=2000, help="incoming texts the teacher labels for the student")
    parser.add_argument("--bulk", type=int, default=100_000, help="texts in the bulk-speed run")
    args = parser.parse_args()

    texts, labels = read_heldout()
    teacher = Teacher()
    if teacher.voices == ("rules",):
        print("WARNING: embeddings unavailable; the teacher is the rules alone", file=sys.stderr)
    synthetic = training_corpus(12_000, SEED)
    student = cat.train_category_model(cat.TrainingData(synthetic), seed=SEED)
    pool = incoming_pool(args.pool, SEED)
    started = time.perf_counter()
    pool_labelled = training.teacher_labels(teacher, pool)
    pool_seconds = time.perf_counter() - started
    student_pool = cat.train_category_model(cat.TrainingData(synthetic, pool_labelled), seed=SEED)

    def routed(model):
        return lambda xs: cat.predict_routed(model, xs, teacher)[0]

    paths = {
        "rules": predict_by_rules,
        "teacher": lambda xs: teacher.predict(xs)[0],
        "student (synthetic)": lambda xs: cat.predict_categories(student, xs)[0],
        "student (synthetic + teacher-labelled pool)": lambda xs: cat.predict_categories(student_pool, xs)[0],
        "combined (student + pool, unsure -> teacher)": routed(student_pool),
    }
    results: dict = {"heldout_n": len(texts), "heldout_per_class": {c: labels.count(c) for c in CATEGORIES},
                     "teacher": teacher.version, "pool": {"n": len(pool), "kept_by_teacher": len(pool_labelled[0]),
                                                           "teacher_texts_per_second": round(len(pool) / pool_seconds, 1)},
                     "paths": {}}
    uci = read_uci() if UCI_SMS.exists() else None
    for name, predict in paths.items():
        metrics = cat.score(labels, predict(texts))
        entry = {"macro_f1": metrics["macro_f1"], "f1": {c: v["f1"] for c, v in metrics["per_class"].items()},
                 "confusion_matrix": metrics["confusion_matrix"]}
        if uci:
            for kind in ("spam", "ham"):
                predicted = predict(uci[kind])
                entry[f"uci_{kind}_flagged_not_a_complaint"] = round(predicted.count("other") / len(predicted), 4)
        results["paths"][name] = entry
    _, _, route = cat.predict_routed(student_pool, texts, teacher)
    results["teacher_share"] = {"heldout": round(route.count("teacher") / len(route), 4)}
    _, _, route = cat.predict_routed(student_pool, incoming_pool(3000, SEED + 7), teacher)
    results["teacher_share"]["incoming"] = round(route.count("teacher") / len(route), 4)

    bulk = (texts * (args.bulk // len(texts) + 1))[: args.bulk]
    speed = {
        "rules": texts_per_second(rule_scores, bulk),
        "student": texts_per_second(lambda xs: cat.predict_categories(student_pool, xs), bulk),
        "teacher": texts_per_second(teacher.probabilities, texts, repeats=1),
    }
    share = results["teacher_share"]["incoming"]
    # Combined: every text through the student, the unsure share also through the teacher.
    speed["combined (at the incoming teacher share)"] = 1 / (1 / speed["student"] + share / speed["teacher"])
    results["texts_per_second"] = {k: round(v) for k, v in speed.items()}
    results["cpu_count"] = os.cpu_count()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    header = f"{'path':48} {'macro-F1':>8} " + " ".join(f"{c[:12]:>12}" for c in CATEGORIES) + "  spam->other  ham->other"
    print(header)
    for name, entry in results["paths"].items():
        print(f"{name:48} {entry['macro_f1']:8.3f} " + " ".join(f"{entry['f1'][c]:12.3f}" for c in CATEGORIES)
              + f"  {entry.get('uci_spam_flagged_not_a_complaint', float('nan')):11.3f}"
              + f"  {entry.get('uci_ham_flagged_not_a_complaint', float('nan')):9.3f}")
    print("teacher share:", results["teacher_share"], " pool:", results["pool"])
    print("texts/s:", results["texts_per_second"])
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
