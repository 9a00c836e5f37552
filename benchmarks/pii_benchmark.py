"""Measure the PII masker on labelled complaint texts: recall and precision per kind, and speed.

    .venv/bin/python benchmarks/pii_benchmark.py [--n 5000] [--seed 0]
    .venv/bin/python benchmarks/pii_benchmark.py --throughput [--sizes 100000 1000000]

Masks ``--n`` texts from ``complaints_platform_tests.pii_labelled`` with ``PiiMasker`` under a fixed
key, prints a table per kind and writes everything (including misses and false positives to read)
to ``benchmarks/results/pii.json``. The scoring rules are in ``pii_labelled``'s docstring.

``--throughput`` measures the column functions the pipeline calls (``mask_text_expr``,
``token_expr``, ``find_unmasked_pii`` as lib/quality.py calls it, and the bulk
``find_unmasked_pii_expr``) on realistic generated complaints, as generated and with every text made
distinct, against masking row by row; it writes ``benchmarks/results/pii_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, without installing the tests

from complaints_platform.lib import pii  # noqa: E402
from complaints_platform.lib.pii import PiiMasker  # noqa: E402
from complaints_platform.simulate.generator import complaint_text, generate_customers  # noqa: E402
from complaints_platform_tests.pii_labelled import KINDS, Scores, labelled_texts, score_masking  # noqa: E402

KEY = "pii-benchmark-key"
RESULTS = ROOT / "benchmarks" / "results" / "pii.json"
THROUGHPUT_RESULTS = ROOT / "benchmarks" / "results" / "pii_throughput.json"
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


# --- throughput -----------------------------------------------------------------------------------

CHANNELS = ("social_media", "sms", "call_center", "web_form")
CATEGORIES = ("poor_network", "incorrect_billing", "bad_customer_service", "device_equipment", "other")
SIGN_OFFS = ("Regards, {name}", "Thanks\n{name}", "Cheers {name}", "- {first}", "Kind regards,\n{name}", "my name is {name}")
LABELLED_SHARE = 0.03  # texts from the labelled set: cards, IBANs, IPs, NI numbers, names, odd formats
SIGN_OFF_SHARE = 0.05  # of a customer's complaints, signed with their name


def realistic_texts(n: int, seed: int) -> list[str]:
    """Complaints as the simulator writes them on its four channels (about 12% of a customer's
    carry a phone, e-mail or account number; every tweet opens with the brand's @handle), 5% of
    customers' signed with their name, and 3% from the labelled set for the rarer kinds."""
    rng = random.Random(seed)
    customers = generate_customers(min(max(n // 20, 100), 30_000), seed)
    labelled = [t.text for t in labelled_texts(max(int(n * LABELLED_SHARE), 1), seed)]
    texts = []
    for _ in range(n):
        if rng.random() < LABELLED_SHARE:
            texts.append(labelled[rng.randrange(len(labelled))])
            continue
        customer = customers[rng.randrange(len(customers))] if rng.random() < 0.8 else None
        text, _ = complaint_text(rng, CHANNELS[rng.randrange(4)], CATEGORIES[rng.randrange(5)], customer)
        if customer is not None and rng.random() < SIGN_OFF_SHARE:
            name = customer["full_name"]
            text += " " + SIGN_OFFS[rng.randrange(len(SIGN_OFFS))].format(name=name, first=name.split()[0])
        texts.append(text)
    return texts


def made_distinct(texts: list[str], seed: int) -> list[str]:
    """Every text given a random tag of letters, so no two are alike (the simulator's templates
    repeat far more than people's words do) and masking each distinct text once gains nothing."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["[" + "".join(rng.choice(letters) for _ in range(8)) + "] " + t for t in texts]


def identifier_frame(n: int, seed: int) -> pl.DataFrame:
    """Structured contact fields of ``n`` complaints: 40% of each filled, from n / 20 customers."""
    rng = random.Random(seed)
    customers = generate_customers(min(max(n // 20, 100), 30_000), seed + 1)
    fields = {"PHONE": "phone", "EMAIL": "email", "HANDLE": "social_handle", "ACCOUNT": "account_number"}
    columns = {kind: [] for kind in fields}
    for _ in range(n):
        customer = customers[rng.randrange(len(customers))]
        for kind, field in fields.items():
            columns[kind].append(customer[field] if rng.random() < 0.4 else None)
    return pl.DataFrame(columns, schema={kind: pl.String for kind in fields})


def _timed(work) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _rate(rows: int, wall: float, cpu: float) -> dict:
    return {"rows": rows, "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "per_second": round(rows / wall)}


def throughput(sizes: list[int], sample: int, seed: int) -> dict:
    masker = PiiMasker(KEY)
    masker.mask_text("warm up 07700 900123")
    bulk_find = getattr(pii, "find_unmasked_pii_expr", None)  # absent before issue 5
    result = {"load_average_at_start": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(), "sizes": []}
    for n in sizes:
        started = time.perf_counter()
        generated = realistic_texts(n, seed)
        ids = identifier_frame(n, seed)
        print(f"\n{n:,} texts generated in {time.perf_counter() - started:.0f} s")
        entry = {"n": n, "variants": {}, "token_expr": {}}
        for variant, texts in (("as generated", generated), ("every text distinct", made_distinct(generated, seed))):
            frame = pl.DataFrame({"text": texts})
            PiiMasker(KEY).mask_text("warm up 07700 900123")
            bulk = PiiMasker(KEY)
            masked, wall, cpu = _timed(lambda: frame.select(bulk.mask_text_expr("text")))
            rows = {"distinct_texts": frame["text"].n_unique(), "mask_text_expr": _rate(n, wall, cpu)}
            head = frame.head(sample)
            per_row = PiiMasker(KEY)
            by_row, wall, cpu = _timed(
                lambda: head.select(pl.col("text").map_elements(per_row.mask_text, return_dtype=pl.String))
            )
            rows["mask_text per row (sample)"] = _rate(head.height, wall, cpu)
            assert by_row["text"].to_list() == masked["text"].head(sample).to_list(), "bulk and per-row differ"
            found, wall, cpu = _timed(lambda: masked.select(
                pl.col("text").map_elements(lambda t: ",".join(pii.find_unmasked_pii(t)), return_dtype=pl.String)
            ))
            rows["find_unmasked_pii per row, masked text"] = _rate(n, wall, cpu)
            if bulk_find is not None:
                bulk_found, wall, cpu = _timed(lambda: masked.select(bulk_find("text").list.join(",")))
                rows["find_unmasked_pii_expr, masked text"] = _rate(n, wall, cpu)
                assert bulk_found["text"].to_list() == found["text"].to_list(), "bulk and per-row checks differ"
                _, wall, cpu = _timed(lambda: frame.select(bulk_find("text")))
                rows["find_unmasked_pii_expr, raw text"] = _rate(n, wall, cpu)
            entry["variants"][variant] = rows
            print(f"  {variant}: {rows['distinct_texts']:,} distinct")
            for name, r in rows.items():
                if isinstance(r, dict):
                    print(f"    {name:<42}{r['per_second']:>12,} rows/s  ({r['seconds']:.2f} s, {r['cpu_seconds']:.2f} s CPU here)")
        tokens = PiiMasker(KEY)
        for kind in ids.columns:
            _, wall, cpu = _timed(lambda: ids.select(tokens.token_expr(kind, kind)))
            entry["token_expr"][kind] = _rate(n, wall, cpu)
            print(f"    token_expr {kind:<31}{entry['token_expr'][kind]['per_second']:>12,} rows/s  "
                  f"({ids[kind].drop_nulls().n_unique():,} distinct values)")
        result["sizes"].append(entry)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="labelled texts to mask (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the labelled set (default 0)")
    parser.add_argument("--out", type=Path, default=None, help=f"JSON results (default {RESULTS.relative_to(ROOT)})")
    parser.add_argument("--throughput", action="store_true", help="measure rows/s of the column functions instead")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="texts per throughput run")
    parser.add_argument("--sample", type=int, default=50_000, help="texts masked row by row for comparison")
    args = parser.parse_args(argv)

    if args.throughput:
        out = args.out or THROUGHPUT_RESULTS
        result = throughput(args.sizes, args.sample, args.seed)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {out}")
        return 0
    args.out = args.out or RESULTS

    texts = labelled_texts(args.n, args.seed)
    masker = PiiMasker(KEY)
    masker.mask_text("warm up 07700 900123")  # phonenumbers loads its metadata on first use
    started = time.perf_counter()
    masked = [masker.mask_text(t.text) for t in texts]
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    bulk = PiiMasker(KEY).mask_texts(pl.Series([t.text for t in texts])).to_list()
    bulk_seconds = time.perf_counter() - started
    assert bulk == masked, "mask_texts and mask_text differ"
    scores = score_masking(texts, masked, keep_examples=200)
    rows = _rows(scores)

    print(
        f"PII masker on {len(texts)} labelled texts (seed {args.seed}): {len(texts) / seconds:,.0f} texts/s row by row, "
        f"{len(texts) / bulk_seconds:,.0f} texts/s as a column (the same masks)\n"
    )
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
        "texts_per_second_as_a_column": round(len(texts) / bulk_seconds, 1),
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
