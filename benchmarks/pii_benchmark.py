"""Measure the PII masker on labelled complaint texts: recall and precision per kind, and speed.

    .venv/bin/python benchmarks/pii_benchmark.py [--n 5000] [--seed 0]

Masks ``--n`` texts from ``complaints_platform_tests.pii_labelled`` with ``PiiMasker`` under a fixed
key, prints a table per kind and writes everything (including misses and false positives to read)
to ``benchmarks/results/pii.json``. The scoring rules are in ``pii_labelled``'s docstring.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, without installing the tests

from complaints_platform.lib.pii import PiiMasker  # noqa: E402
from complaints_platform_tests.pii_labelled import KINDS, Scores, labelled_texts, score_masking  # noqa: E402

KEY = "pii-benchmark-key"
RESULTS = ROOT / "benchmarks" / "results" / "pii.json"
# The targets: recall on the kinds with a fixed shape, precision over all tokens.
RECALL_TARGET = {"EMAIL": 0.99, "PHONE": 0.99, "CARD": 0.99, "IBAN": 0.99, "IP": 0.99}
PRECISION_TARGET = 0.97


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _rows(scores: Scores) -> list[dict]:
    rows = []
    for kind in KINDS:
        rows.append({
            "kind": kind,
            "support": scores.support[kind],
            "recall": scores.recall(kind),
            "masked_any_kind": scores.masked[kind] / scores.support[kind] if scores.support[kind] else None,
            "partial": scores.partial[kind],
            "split": scores.split[kind],
            "tokens": scores.tokens[kind],
            "precision": scores.precision(kind),
            "false_positives": scores.false_positives[kind],
            "overreach": scores.overreach[kind],
            "recall_target": RECALL_TARGET.get(kind),
        })
    return rows


def _table(rows: list[dict], scores: Scores) -> str:
    head = f"{'kind':<11}{'support':>8}{'recall':>9}{'masked':>9}{'partial':>8}{'tokens':>8}{'precision':>10}{'FP':>6}{'over':>6}  target"
    lines = [head, "-" * len(head)]
    for r in rows:
        target = ""
        if r["recall_target"] is not None:
            ok = r["recall"] is not None and r["recall"] >= r["recall_target"]
            target = f"recall >= {r['recall_target']}: {'met' if ok else 'MISSED'}"
        lines.append(
            f"{r['kind']:<11}{r['support']:>8}{_fmt(r['recall']):>9}{_fmt(r['masked_any_kind']):>9}{r['partial']:>8}"
            f"{r['tokens']:>8}{_fmt(r['precision']):>10}{r['false_positives']:>6}{r['overreach']:>6}  {target}"
        )
    overall = scores.precision()
    met = overall is not None and overall >= PRECISION_TARGET
    lines.append(
        f"{'ALL':<11}{sum(scores.support.values()):>8}{'':>9}{'':>9}{'':>8}{sum(scores.tokens.values()):>8}"
        f"{_fmt(overall):>10}{sum(scores.false_positives.values()):>6}{'':>6}  "
        f"precision >= {PRECISION_TARGET}: {'met' if met else 'MISSED'}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="labelled texts to mask (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the labelled set (default 0)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS.relative_to(ROOT)})")
    args = parser.parse_args(argv)

    texts = labelled_texts(args.n, args.seed)
    masker = PiiMasker(KEY)
    masker.mask_text("warm up 07700 900123")  # phonenumbers loads its metadata on first use
    started = time.perf_counter()
    masked = [masker.mask_text(t.text) for t in texts]
    seconds = time.perf_counter() - started
    scores = score_masking(texts, masked, keep_examples=200)
    rows = _rows(scores)

    print(f"PII masker on {len(texts)} labelled texts (seed {args.seed}): {len(texts) / seconds:,.0f} texts/s\n")
    print(_table(rows, scores))
    print("\nrecall: every letter/digit of the span replaced by a token of its kind; masked: by a token of any kind;")
    print("partial: some letters/digits left in place; FP: tokens on no labelled span; over: tokens that also ate")
    print("unlabelled letters/digits next to a span.")
    if scores.confusions:
        print("\nkind confusions (labelled -> token):")
        for (label, token), count in scores.confusions.most_common():
            print(f"  {label} -> {token}: {count}")
    print("\nformats below full recall (kind, format: recalled/support):")
    for (kind, fmt), c in sorted(scores.by_format.items()):
        if c["recalled"] < c["support"]:
            print(f"  {kind}, {fmt}: {c['recalled']}/{c['support']}")
    print("\ndistractors masked (must stay as written):")
    for name, c in sorted(scores.distractors.items()):
        print(f"  {name}: {c['masked']}/{c['support']}")

    result = {
        "n_texts": len(texts),
        "seed": args.seed,
        "texts_per_second": round(len(texts) / seconds, 1),
        "targets": {"recall": RECALL_TARGET, "precision_overall": PRECISION_TARGET},
        "precision_overall": scores.precision(),
        "kinds": rows,
        "confusions": [{"labelled": a, "token": b, "count": n} for (a, b), n in scores.confusions.most_common()],
        "by_format": [
            {"kind": k, "format": f, "support": c["support"], "recalled": c["recalled"]}
            for (k, f), c in sorted(scores.by_format.items())
        ],
        "by_placement": [
            {"kind": k, "placement": p, "support": c["support"], "recalled": c["recalled"]}
            for (k, p), c in sorted(scores.by_placement.items())
        ],
        "distractors": {name: {"support": c["support"], "masked": c["masked"]} for name, c in sorted(scores.distractors.items())},
        "misses": [{"kind": k, "format": f, "value": v, "masked_text": t} for k, f, v, t in scores.misses],
        "false_positives": [{"token_kind": k, "replaced": r, "text": t} for k, r, t in scores.false_positive_examples],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
