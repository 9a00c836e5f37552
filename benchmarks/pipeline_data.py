"""Landing inputs at scale for the pipeline benchmark, and the truth to check the pipeline against.

``generate(inputs, day, records, seed)`` writes one day of complaints, ``records`` received records
split over the four channels (social media 31.25 %, SMS 31.25 %, call centre 18.75 %, web forms
18.75 %, the demo's proportions), in the shapes the platform's real edges deliver:

- social media: landed by the webhook receiver's own group commit (``store_batch`` in
  ``complaints_platform/webhook/store.py``), in receipt order: one segment per 15-minute window
  (``landing/social_media/date=D/HHMM/<segment>.jsonl``, one envelope ``{"webhook_id",
  "webhook_timestamp", "received_at", "body"}`` per line, ``body`` the exact request body) and the
  id index ``landing/social_media/_ids.sqlite``. Only what the receiver accepts is landed: malformed
  and mis-signed deliveries and webhook retries never reach the disk, so they are not generated;
- SMS: a JSONL file of the provider's messages for the real SMS simulator
  (``complaints_platform/simulate/sms_provider.py``), which serves them over HTTP to ``sms_raw``;
- call centre: two CSV exports in the drop folder (``calls_DT0000.csv`` UTF-8 with a BOM and a
  ragged row or two, ``calls_DT1200.csv`` Windows-1252 with a blank line; local Europe/London
  times in two formats; notes spanning lines);
- web forms: rows in the SQLite OLTP table ``complaint_forms`` (created by the platform's own
  ``create_schema``), plus, for the 10 % of forms updated later in the day, the earlier extract that
  captured their first version (``landing/web_forms/date=D/HHMM/extract-....parquet``, as
  ``web_forms_raw`` writes it), so the update arrives as a second version;
- the CRM snapshot ``landing/crm/customers_D.csv``.

Texts reuse the demo generator's vocabulary (``simulate/generator.py``: its gists, openers, tails,
agent shorthand, web-form boilerplate, spam, brand replies, names) plus a few neutral sentences of
this module's, to reach realistic lengths (tweets about 100 characters, SMS 70, agent notes 180,
web forms 350). 12 % of customers' texts carry PII (a phone in one of six formats, an account
number, an e-mail). Planted mess, as shares of each channel: social 1.2 % without text, 0.3 %
with an unreadable time, 3 % late (made 1-3 days before receipt), one brand reply in 40; SMS 6 %
spam, 0.8 % without a body, 1.6 % served twice; call centre 0.2 % ragged rows, 0.3 % unknown
status; web forms 0.2 % empty messages, 10 % updated; and 4 % of all records are the same
complaint sent again by the same customer on a second channel (identical text, 4-50 minutes
later). Everything is vectorised with numpy and polars; only the webhook envelopes and the CSV/JSONL
serialisation loop over records.

The truth (``truth.parquet``): one row per received record with its channel, expected complaint_id,
category, expected outcome (clean / quarantine / duplicate), the rule, and for a planted copy the
complaint_id of its original.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import sqlite3
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl

from complaints_platform.lib.cleaning import complaint_id
from complaints_platform.lib.social_media import LandedIds
from complaints_platform.lib.web_forms import EXTRACT_SCHEMA, create_schema
from complaints_platform.simulate import generator as demo
from complaints_platform.webhook.store import MAX_BATCH, Delivery, SegmentWriter, store_batch

SHARES = {"social_media": 0.3125, "sms": 0.3125, "call_center": 0.1875, "web_forms": 0.1875}
CATEGORY_NAMES = ["poor_network", "incorrect_billing", "bad_customer_service", "device_equipment", "other"]
CATEGORY_P = [0.82 * w for w in (0.34, 0.26, 0.22, 0.18)] + [0.18]
GISTS_PER_CATEGORY = 4000
PII_SHARE = 0.12
KNOWN_SHARE = 0.90
COPY_SHARE = 0.04
SOCIAL_NO_TEXT, SOCIAL_BAD_TIME, SOCIAL_LATE, SOCIAL_BRAND_EVERY = 0.012, 0.003, 0.03, 40
SMS_SPAM, SMS_NO_BODY, SMS_TWICE = 0.06, 0.008, 0.016
CALL_RAGGED, CALL_UNKNOWN_STATUS = 0.002, 0.003
FORM_EMPTY, FORM_UPDATED = 0.002, 0.10
UTC = timezone.utc
TZ_LONDON = "Europe/London"

# Neutral sentences (this module's own) that lengthen texts without changing their category.
SOCIAL_EXTRA = [
    "third time this week", "sort it out", "absolutely fuming", "been a customer 10 years",
    "not good enough", "anyone else having this?", "really not happy", "getting ridiculous now",
]
CALL_EXTRA = [
    "adv of 72h SLA", "checked acc history", "prev contact 3 days ago", "offered goodwill credit, declined",
    "cust wants written resp", "ref given", "ticket updated", "cust asked for mgr",
]
WEB_EXTRA = [
    "I have already called twice about this and got nowhere.",
    "I have been with you for over five years and never had this before.",
    "This is not the service I am paying for every month.",
    "Please treat this as a formal complaint.",
    "I expect this to be resolved within the week.",
    "Nobody has explained to me what is actually going on.",
    "I would like a response in writing, by email if possible.",
    "My neighbours do not seem to have the same problem, so I do not understand it.",
    "I have checked the status page and it says everything is fine, which it is not.",
    "If this is not fixed I will have to consider leaving.",
]


@dataclass
class Generated:
    day: date
    records: int
    customers: int
    per_channel: dict[str, int]
    copies: int
    seconds: float
    text_chars_mean: dict[str, float]
    sms_messages_file: Path


# --------------------------------------------------------------------------------------------------
# small vectorised helpers
# --------------------------------------------------------------------------------------------------


def _ids(rng: np.random.Generator, n: int, length: int, alphabet: str, prefix: str = "") -> list[str]:
    codes = np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8)
    chars = codes[rng.integers(0, len(codes), size=(n, length))]
    return [prefix + s.decode("ascii") for s in chars.view(f"S{length}").ravel()]


def _pick(rng: np.random.Generator, pool: list[str], n: int) -> pl.Series:
    return pl.Series(pool, dtype=pl.String).gather(rng.integers(0, len(pool), n))


def _maybe(rng: np.random.Generator, pool: list[str], n: int, keep: np.ndarray) -> pl.Series:
    """A pick from ``pool`` where ``keep``, else null."""
    picked = _pick(rng, pool, n)
    return pl.select(pl.when(pl.lit(pl.Series(keep))).then(pl.lit(picked)).otherwise(None)).to_series()


def _mask(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    return rng.random(n) < share


def phone_format_expr(national: pl.Expr, choice: pl.Expr) -> pl.Expr:
    """The six ways the demo writes a UK number (generator.phone_formats), chosen per row."""
    rest = national.str.slice(1)
    formats = [
        pl.concat_str([pl.lit("+44 "), rest.str.slice(0, 4), pl.lit(" "), rest.str.slice(4)]),
        national,
        pl.concat_str([pl.lit("(0)"), rest.str.slice(0, 4), pl.lit("-"), rest.str.slice(4, 3), pl.lit("-"), rest.str.slice(7)]),
        pl.concat_str([pl.lit("+44"), rest]),
        pl.concat_str([national.str.slice(0, 5), pl.lit(" "), national.str.slice(5)]),
        pl.concat_str([pl.lit("+44 (0)"), rest.str.slice(0, 4), pl.lit(" "), rest.str.slice(4)]),
    ]
    expr = pl.when(choice == 0).then(formats[0])
    for i, f in enumerate(formats[1:], start=1):
        expr = expr.when(choice == i).then(f)
    return expr.otherwise(national)


def _event_times(rng: np.random.Generator, day: date, n: int) -> np.ndarray:
    """Seconds since midnight, by the demo's hour-of-day weights."""
    weights = np.asarray(demo._HOUR_WEIGHTS, dtype=float)
    hours = rng.choice(24, size=n, p=weights / weights.sum())
    return hours * 3600 + rng.integers(0, 3600, n)


def _to_dt(day: date, seconds: np.ndarray) -> pl.Series:
    base = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000
    micros = np.asarray(seconds, dtype=np.int64) * 1_000_000 + base
    return pl.Series(micros).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


# --------------------------------------------------------------------------------------------------
# customers
# --------------------------------------------------------------------------------------------------


def make_customers(n: int, rng: np.random.Generator) -> pl.DataFrame:
    first_ascii = [demo._ascii(f) for f in demo._FIRST_NAMES]
    last_ascii = [demo._ascii(s) for s in demo._SURNAMES]
    fi = rng.integers(0, len(demo._FIRST_NAMES), n)
    li = rng.integers(0, len(demo._SURNAMES), n)
    idx = np.arange(n, dtype=np.int64)
    frame = pl.DataFrame(
        {
            "idx": idx,
            "first": pl.Series(demo._FIRST_NAMES).gather(fi),
            "last": pl.Series(demo._SURNAMES).gather(li),
            "first_ascii": pl.Series(first_ascii).gather(fi),
            "last_ascii": pl.Series(last_ascii).gather(li),
            "upper": _mask(rng, n, 0.04),
            "domain": _pick(rng, demo._EMAIL_DOMAINS, n),
            "phone_fmt": rng.integers(0, 6, n),
            "plan": _pick(rng, demo._PLANS, n),
            "region": _pick(rng, demo._REGIONS, n),
            "signup": pl.Series((rng.integers(0, 365 * 11, n) + (date(2014, 1, 1) - date(1970, 1, 1)).days).astype(np.int32)).cast(pl.Date),
        }
    )
    clean = lambda col: pl.col(col).str.to_lowercase().str.replace_all(r"[^a-z0-9.]", "")  # noqa: E731
    return frame.with_columns(
        pl.concat_str([pl.col("first"), pl.lit(" "), pl.col("last")]).alias("name"),
        # Account numbers: an affine bijection of the index onto 8 digits (unique, looks random).
        pl.concat_str([pl.lit("AC"), ((pl.col("idx") * 7919 + 12345) % 90_000_000 + 10_000_000).cast(pl.String)]).alias("account_number"),
        pl.concat_str([clean("first_ascii"), pl.lit("."), clean("last_ascii"), pl.col("idx").cast(pl.String), pl.lit("@"), pl.col("domain")]).alias("email"),
        pl.concat_str([pl.lit("@"), clean("first_ascii").str.replace_all(r"\.", "").str.slice(0, 6), pl.lit("_"),
                       clean("last_ascii").str.replace_all(r"\.", "").str.slice(0, 5), pl.col("idx").cast(pl.String)]).alias("social_handle"),
        # Customers' mobiles 077xxxxxxxx; strangers get 078..., spam senders 079...
        pl.concat_str([pl.lit("077"), pl.col("idx").cast(pl.String).str.zfill(8)]).alias("national"),
    ).with_columns(
        pl.when(pl.col("upper")).then(pl.col("name").str.to_uppercase()).otherwise(pl.col("name")).alias("full_name"),
        phone_format_expr(pl.col("national"), pl.col("phone_fmt")).alias("phone"),
    )


def write_crm(customers: pl.DataFrame, path: Path) -> None:
    _private_dir(path.parent)
    out = customers.select(
        "account_number", "full_name", "email", "phone", "social_handle", "plan", "region",
        pl.col("signup").dt.strftime("%Y-%m-%d").alias("signup_date"),
    )
    out.write_csv(path)
    os.chmod(path, 0o600)


# --------------------------------------------------------------------------------------------------
# texts
# --------------------------------------------------------------------------------------------------


def gist_pool(seed: int) -> dict[str, list[str]]:
    rng = random.Random(f"bench-gists:{seed}")
    return {c: [demo.complaint_gist(rng, c) for _ in range(GISTS_PER_CATEGORY)] for c in CATEGORY_NAMES}


def _nullable(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr == "").then(None).otherwise(expr)


def _texts(frame: pl.DataFrame, channel: str, rng: np.random.Generator) -> pl.Series:
    """The complaint text in the channel's register (see generator.complaint_text), vectorised.

    ``frame`` has: gist, pii (bool), pii_phrase, phone_text (a formatted phone for agent notes),
    category."""
    n = frame.height
    g = pl.col("gist")
    extra = pl.when(pl.col("pii")).then(pl.col("pii_phrase")).otherwise(None)
    if channel == "social_media":
        opener = _pick(rng, [o.format(brand=demo.BRAND_HANDLE) for o in demo._SOCIAL_OPENERS], n)
        tail = _pick(rng, demo._SOCIAL_TAILS, n)
        more = _maybe(rng, SOCIAL_EXTRA, n, _mask(rng, n, 0.5))
        upper = pl.Series(_mask(rng, n, 0.08))
        text = pl.concat_str([_nullable(pl.lit(opener)), g, pl.lit(more), extra], separator=" ", ignore_nulls=True) + pl.lit(tail)
        text = pl.when(pl.lit(upper)).then(text.str.to_uppercase()).otherwise(text)
    elif channel == "sms":
        lower = pl.Series(_mask(rng, n, 0.7))
        short = pl.Series(_mask(rng, n, 0.4))
        body = pl.when(pl.lit(lower)).then(g.str.to_lowercase()).otherwise(g)
        body = pl.when(pl.lit(short)).then(body.str.replace_all("you", "u", literal=True).str.replace_all("please", "pls", literal=True)).otherwise(body)
        text = pl.concat_str([body, extra], separator=" ", ignore_nulls=True) + pl.lit(_pick(rng, demo._SMS_ENDS, n))
    elif channel == "call_center":
        lead = _pick(rng, demo._AGENT_LEADS, n)
        trail_pool = {c: demo._AGENT_TRAILS[c] for c in CATEGORY_NAMES}
        trails = np.empty(n, dtype=object)
        cats = frame.get_column("category").to_numpy()
        for c, pool in trail_pool.items():
            where = np.flatnonzero(cats == c)
            trails[where] = np.asarray(pool, dtype=object)[rng.integers(0, len(pool), len(where))]
        trail = pl.Series(trails, dtype=pl.String)
        sep = pl.Series(np.where(_mask(rng, n, 0.25), "\n", ". "), dtype=pl.String)
        generic = _pick(rng, demo._AGENT_GENERIC, n)
        k = rng.integers(1, 3, n)
        more1 = _maybe(rng, CALL_EXTRA, n, k >= 1)
        more2 = _maybe(rng, CALL_EXTRA, n, k >= 2)
        text = pl.concat_str(
            [pl.lit(lead), pl.lit(" "), g, pl.lit(sep), pl.lit(trail), pl.lit(". "), pl.lit(generic),
             pl.concat_str([pl.lit(". "), pl.lit(more1)]),
             pl.concat_str([pl.lit(". "), pl.lit(more2)]),
             pl.when(pl.col("pii")).then(pl.concat_str([pl.lit(". cust mob "), pl.col("phone_text")])).otherwise(None)],
            ignore_nulls=True,
        )
    else:
        opener = _nullable(pl.lit(_pick(rng, demo._WEB_OPENERS, n)))
        middle = _nullable(pl.lit(_pick(rng, demo._WEB_MIDDLES, n)))
        end = _nullable(pl.lit(_pick(rng, demo._WEB_ENDS, n)))
        k = rng.integers(1, 5, n)
        extras = [pl.lit(_maybe(rng, WEB_EXTRA, n, k > j)) for j in range(4)]
        sentence = pl.concat_str([g.str.slice(0, 1).str.to_uppercase(), g.str.slice(1), pl.lit(".")])
        pii = pl.when(pl.col("pii")).then(
            pl.concat_str([pl.col("pii_phrase").str.slice(0, 1).str.to_uppercase(), pl.col("pii_phrase").str.slice(1), pl.lit(".")])
        ).otherwise(None)
        text = pl.concat_str([opener, sentence, middle, *extras, pii, end], separator=" ", ignore_nulls=True)
    return frame.select(text.alias("text")).to_series()


def _pii_phrases(frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    n = frame.height
    kind = pl.lit(pl.Series(rng.integers(0, 5, n)))
    other_format = phone_format_expr(pl.col("national"), pl.lit(pl.Series(rng.integers(0, 6, n))))
    phrase = (
        pl.when(kind == 0).then(pl.concat_str([pl.lit("my number is "), pl.col("phone")]))
        .when(kind == 1).then(pl.concat_str([pl.lit("acc no "), pl.col("account_number")]))
        .when(kind == 2).then(pl.concat_str([pl.lit("email me on "), pl.col("email")]))
        .when(kind == 3).then(pl.concat_str([pl.lit("account "), pl.col("account_number")]))
        .otherwise(pl.concat_str([pl.lit("call me on "), other_format]))
    )
    return frame.with_columns(
        phrase.alias("pii_phrase"),
        phone_format_expr(pl.col("national"), pl.lit(pl.Series(rng.integers(0, 6, n)))).alias("phone_text"),
    )


# --------------------------------------------------------------------------------------------------
# the day
# --------------------------------------------------------------------------------------------------


def _channel_counts(records: int) -> dict[str, int]:
    counts = {c: int(round(records * s)) for c, s in SHARES.items()}
    counts["web_forms"] += records - sum(counts.values())
    return counts


def _base(channel: str, n: int, day: date, customers: pl.DataFrame, gists: dict, rng: np.random.Generator,
          known_share: float = KNOWN_SHARE) -> pl.DataFrame:
    """``n`` complaints of one channel: category, customer (or none), event time, text."""
    cats = np.asarray(CATEGORY_NAMES, dtype=object)[rng.choice(5, size=n, p=np.asarray(CATEGORY_P) / sum(CATEGORY_P))]
    known = _mask(rng, n, known_share)
    cust = np.where(known, rng.integers(0, customers.height, n), -1)
    frame = pl.DataFrame({"category": pl.Series(cats, dtype=pl.String), "cust": cust, "seconds": _event_times(rng, day, n)})
    gist = np.empty(n, dtype=object)
    for c in CATEGORY_NAMES:
        where = np.flatnonzero(cats == c)
        gist[where] = np.asarray(gists[c], dtype=object)[rng.integers(0, GISTS_PER_CATEGORY, len(where))]
    people = customers.select(
        pl.col("idx").alias("cust"), "full_name", "first", "first_ascii", "email", "phone", "national",
        "social_handle", "account_number",
    )
    frame = frame.with_columns(pl.Series("gist", gist, dtype=pl.String)).join(people, on="cust", how="left", maintain_order="left")
    frame = _pii_phrases(frame, rng).with_columns(
        (pl.col("cust") >= 0).alias("known"),
        ((pl.col("cust") >= 0) & pl.lit(pl.Series(_mask(rng, n, PII_SHARE)))).alias("pii"),
    )
    return frame.with_columns(_texts(frame, channel, rng), pl.lit(channel).alias("channel"))


def generate(inputs: Path, day: date, records: int, seed: int = 7, customers_ratio: float = 0.5,
             window: tuple[int, int] | None = None, crm: bool = True, tag: str = "day",
             n_customers: int | None = None) -> Generated:
    """Write the landing inputs for ``records`` received records on ``day`` under ``inputs``.

    ``window``: (start, end) seconds after midnight to which event times are squeezed (the
    incremental benchmark's single 15-minute window); there the call centre (12-hourly) sends
    nothing and its share goes to the other channels."""
    started = time.perf_counter()
    rng = np.random.default_rng(abs(hash((seed, day.isoformat(), tag))) % 2**32)
    inputs = Path(inputs)
    # The same seed and count give the same customers, so another batch (the incremental window)
    # of the same CRM passes ``n_customers`` of the day it follows.
    n_customers = n_customers or max(1000, int(records * customers_ratio))
    customers = make_customers(n_customers, np.random.default_rng(seed))
    if crm:
        write_crm(customers, inputs / "landing" / "crm" / f"customers_{day:%Y-%m-%d}.csv")
    gists = gist_pool(seed)
    counts = _channel_counts(records)
    if window is not None:
        moved = counts.pop("call_center")
        counts["social_media"] += moved // 2
        counts["sms"] += moved - moved // 2
    # Extras that are part of a channel's received records.
    brand_n = counts["social_media"] // SOCIAL_BRAND_EVERY
    spam_n = int(round(counts["sms"] * SMS_SPAM))
    twice_n = int(round(counts["sms"] * SMS_TWICE))
    # Within a single window (incremental) no form is updated later: the update would fall outside it.
    updated_n = 0 if window else int(round(counts.get("web_forms", 0) / (1 + FORM_UPDATED) * FORM_UPDATED))
    base_n = {
        "social_media": counts["social_media"] - brand_n,
        "sms": counts["sms"] - spam_n - twice_n,
        "call_center": counts.get("call_center", 0),
        "web_forms": counts.get("web_forms", 0) - updated_n,
    }
    frames = {c: _base(c, n, day, customers, gists, rng) for c, n in base_n.items() if n > 0}
    if window is not None:
        lo, hi = window
        for c, f in frames.items():
            frames[c] = f.with_columns(pl.lit(pl.Series(rng.integers(lo, hi - 60, f.height))).alias("seconds"))

    # Cross-channel copies: the same customer sends the same text again on another channel.
    pool = []
    for c in ("social_media", "sms", "web_forms"):
        if c not in frames:
            continue
        f = frames[c].with_row_index("row")
        limit = (window[1] - 61) if window else 23 * 3600
        ok = f.filter(pl.col("known") & (pl.col("category") != "other") & (pl.col("seconds") < limit - 3000))
        pool.append(ok.select(pl.lit(c).alias("channel"), "row"))
    copy_pairs = pl.DataFrame(schema={"o_channel": pl.String, "o_row": pl.UInt32, "c_channel": pl.String, "c_row": pl.UInt32})
    if pool:
        eligible = pl.concat(pool)
        want = int(round(records * COPY_SHARE))
        # Pair random eligible records; a pair within one channel is dropped, so draw a third more.
        picked = eligible.sample(min(3 * want, eligible.height - eligible.height % 2), seed=int(rng.integers(2**31)), shuffle=True)
        half = picked.height // 2
        pairs = pl.concat(
            [picked.head(half).rename({"channel": "o_channel", "row": "o_row"}),
             picked.slice(half, half).rename({"channel": "c_channel", "row": "c_row"})],
            how="horizontal",
        ).filter(pl.col("o_channel") != pl.col("c_channel"))
        copy_pairs = pairs.head(want)
    for c in frames:
        frames[c] = frames[c].with_row_index("row").with_columns(
            pl.lit(False).alias("is_copy"), pl.lit(False).alias("is_original"), pl.lit(None, pl.String).alias("copy_key")
        )
    for o_channel in ("social_media", "sms", "web_forms"):
        for c_channel in ("social_media", "sms", "web_forms"):
            sel = copy_pairs.filter((pl.col("o_channel") == o_channel) & (pl.col("c_channel") == c_channel))
            if not sel.height:
                continue
            originals = frames[o_channel].join(sel.select(pl.col("o_row").alias("row"), "c_row"), on="row", how="inner")
            delay = pl.Series(rng.integers(4 * 60, 50 * 60, originals.height))
            replacement = originals.select(
                pl.col("c_row").alias("row"), pl.col("cust").alias("r_cust"), pl.col("category").alias("r_category"),
                pl.col("text").alias("r_text"), pl.col("pii").alias("r_pii"),
                (pl.col("seconds") + pl.lit(delay)).alias("r_seconds"),
                pl.concat_str([pl.lit(o_channel + ":"), pl.col("row").cast(pl.String)]).alias("r_key"),
            )
            people = customers.select(pl.col("idx").alias("r_cust"), "full_name", "first", "first_ascii", "email", "phone",
                                      "national", "social_handle", "account_number")
            replacement = replacement.join(people, on="r_cust", how="left")
            target = frames[c_channel].join(replacement, on="row", how="left", maintain_order="left")
            hit = pl.col("r_cust").is_not_null()
            target = target.with_columns(
                *(pl.when(hit).then(pl.col(f"r_{x}")).otherwise(pl.col(x)).alias(x) for x in ("cust", "category", "text", "pii", "seconds")),
                *(pl.when(hit).then(pl.col(f"{x}_right")).otherwise(pl.col(x)).alias(x)
                  for x in ("full_name", "first", "first_ascii", "email", "phone", "national", "social_handle", "account_number")),
                pl.when(hit).then(True).otherwise(pl.col("is_copy")).alias("is_copy"),
                pl.when(hit).then(pl.col("r_key")).otherwise(pl.col("copy_key")).alias("copy_key"),
            ).select(frames[c_channel].columns)
            frames[c_channel] = target
            frames[o_channel] = frames[o_channel].with_columns(
                pl.when(pl.col("row").is_in(sel.get_column("o_row").implode())).then(True).otherwise(pl.col("is_original")).alias("is_original")
            )
    for c in frames:
        frames[c] = frames[c].with_columns((~pl.col("is_copy") & ~pl.col("is_original")).alias("plain"))

    truth_parts, text_chars = [], {}
    sms_file = inputs / "simulator" / f"sms_messages-{tag}.jsonl"
    writers = {"social_media": _social, "sms": _sms, "call_center": _call_center, "web_forms": _web_forms}
    extras = {"social_media": brand_n, "sms": (spam_n, twice_n), "call_center": None, "web_forms": updated_n}
    for c, frame in frames.items():
        frame = frame.with_columns(_to_dt(day, frame.get_column("seconds").to_numpy()).alias("event_at"))
        truth = writers[c](frame, inputs, day, rng, extras[c], sms_file)
        truth_parts.append(truth)
        text_chars[c] = round(float(truth.filter(pl.col("text_chars") > 0).get_column("text_chars").mean() or 0), 1)
    truth = pl.concat(truth_parts, how="diagonal_relaxed")
    # Copies point at their original's complaint_id.
    keys = truth.filter(pl.col("origin_key").is_not_null()).select(pl.col("origin_key").alias("copy_key"), pl.col("complaint_id").alias("copy_of"))
    truth = truth.join(keys, on="copy_key", how="left", maintain_order="left")
    truth = truth.with_columns(
        pl.when(pl.col("copy_key").is_not_null()).then(pl.lit("duplicate")).otherwise(pl.col("outcome")).alias("outcome"),
        pl.when(pl.col("copy_key").is_not_null()).then(pl.lit("same_contact_same_text")).otherwise(pl.col("rule")).alias("rule"),
    )
    truth.write_parquet(inputs / f"truth-{tag}.parquet")
    per_channel = dict(truth.group_by("channel").len().iter_rows())
    return Generated(day, truth.height, n_customers, per_channel, copy_pairs.height, round(time.perf_counter() - started, 2),
                     text_chars, sms_file)


def _truth(frame: pl.DataFrame, channel: str, outcome: pl.Expr, rule: pl.Expr) -> pl.DataFrame:
    ids = frame.get_column("record_id").to_list()
    return frame.select(
        pl.lit(channel).alias("channel"),
        "record_id",
        pl.Series("complaint_id", [complaint_id(channel, r) for r in ids], dtype=pl.String),
        "category",
        outcome.alias("outcome"),
        rule.alias("rule"),
        pl.col("copy_key"),
        pl.when(pl.col("is_original")).then(pl.concat_str([pl.lit(channel + ":"), pl.col("row").cast(pl.String)])).otherwise(None).alias("origin_key"),
        pl.col("text").str.len_chars().fill_null(0).alias("text_chars"),
    )


# --- social media ------------------------------------------------------------------------------


def _iso_offsets(ts: pl.Expr, choice: pl.Expr, z: pl.Expr) -> pl.Expr:
    """generator._iso_mixed: the instant with offset 0 (Z or +00:00), +01:00 or -05:00."""
    base = "%Y-%m-%dT%H:%M:%S"
    return (
        pl.when(choice == 1).then((ts + pl.duration(hours=1)).dt.strftime(base) + "+01:00")
        .when(choice == 2).then((ts - pl.duration(hours=5)).dt.strftime(base) + "-05:00")
        .when(z).then(ts.dt.strftime(base) + "Z")
        .otherwise(ts.dt.strftime(base) + "+00:00")
    )


def _social(frame: pl.DataFrame, inputs: Path, day: date, rng, brand_n: int, _sms_file) -> pl.DataFrame:
    # Brand replies during office hours (8-22 h), or within the window when only one is generated.
    lo, hi = int(frame.get_column("seconds").min()), int(frame.get_column("seconds").max()) + 1
    lo, hi = (lo, hi) if hi - lo < 3 * 3600 else (8 * 3600, 22 * 3600)
    brand_seconds = rng.integers(lo, hi, brand_n)
    brand = pl.DataFrame({
        "category": ["other"] * brand_n, "text": _pick(rng, demo._BRAND_REPLIES, brand_n),
        "seconds": brand_seconds, "is_brand": [True] * brand_n,
    }).with_columns(_to_dt(day, brand_seconds).alias("event_at"))
    frame = pl.concat([frame.with_columns(pl.lit(False).alias("is_brand")), brand], how="diagonal_relaxed")
    total = frame.height
    plain = frame.get_column("plain").fill_null(True).to_numpy() & ~frame.get_column("is_brand").to_numpy()
    roll = rng.random(total)
    no_text = plain & (roll < SOCIAL_NO_TEXT)
    bad_time = plain & (roll >= SOCIAL_NO_TEXT) & (roll < SOCIAL_NO_TEXT + SOCIAL_BAD_TIME)
    late = plain & (roll >= 0.5) & (roll < 0.5 + SOCIAL_LATE)
    day_end = (datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)) - timedelta(seconds=1)
    frame = frame.with_columns(
        pl.Series("webhook_id", _ids(rng, total, 27, "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", "msg_")).alias("record_id"),
        pl.Series(rng.integers(10**17, 10**18, total)).cast(pl.String).alias("post_id"),
        pl.Series(np.where(rng.random(total) < 0.8, "twitter", "facebook")).alias("platform"),
        pl.min_horizontal(pl.col("event_at") + pl.duration(seconds=pl.lit(pl.Series(rng.integers(1, 120, total)))), pl.lit(day_end)).alias("received_at"),
        (pl.col("event_at") - pl.duration(days=pl.lit(pl.Series(rng.integers(1, 4, total))))).alias("late_at"),
        pl.Series("late", late), pl.Series("no_text", no_text), pl.Series("bad_time", bad_time),
        pl.Series("text_absent", rng.random(total) < 0.5),
        pl.Series("off", rng.choice(5, total, p=[0.6, 0, 0.2, 0.2, 0]).astype(np.int64)).alias("offset_choice"),
        pl.Series("z", rng.random(total) < 0.5),
        pl.Series("stamp_delay", rng.integers(1, 10, total)),
        pl.Series("display_choice", rng.integers(0, 4, total)),
        pl.Series("anon_name", _pick(rng, ["Sam", "J", "🌸 Lou 🌸", "Mr Grumpy"], total)),
        pl.arange(0, total).alias("anon_n"),
    ).with_columns(pl.when(pl.col("late")).then(pl.col("late_at")).otherwise(pl.col("event_at")).alias("created"))
    frame = frame.with_columns(
        pl.when(pl.col("bad_time")).then(pl.lit("yesterday")).otherwise(
            _iso_offsets(pl.col("created"), pl.col("offset_choice"), pl.col("z"))).alias("created_at"),
        ((pl.col("created") + pl.duration(seconds=pl.col("stamp_delay"))).dt.strftime("%Y-%m-%dT%H:%M:%S.%3fZ")).alias("timestamp"),
        pl.col("received_at").dt.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").alias("received_text"),
        (pl.col("received_at").dt.epoch("s") - pl.col("stamp_delay")).alias("webhook_timestamp"),
        pl.col("received_at").dt.strftime("date=%Y-%m-%d").alias("day_dir"),
        (pl.col("received_at").dt.hour().cast(pl.String).str.zfill(2)
         + (pl.col("received_at").dt.minute() // 15 * 15).cast(pl.String).str.zfill(2)).alias("window_dir"),
        pl.when(pl.col("is_brand")).then(pl.lit(demo.BRAND_HANDLE))
        .when(pl.col("known")).then(pl.col("social_handle"))
        .otherwise(pl.concat_str([pl.lit("@user"), (pl.col("anon_n") + 10_000).cast(pl.String)])).alias("handle"),
        pl.when(pl.col("is_brand")).then(pl.lit("Telco Care"))
        .when(pl.col("known")).then(
            pl.when(pl.col("display_choice") == 0).then(pl.col("full_name"))
            .when(pl.col("display_choice") == 1).then(pl.col("first"))
            .when(pl.col("display_choice") == 2).then(pl.col("first") + " 🙃")
            .otherwise(pl.col("full_name").str.to_titlecase())
        ).otherwise(pl.col("anon_name")).alias("display_name"),
        pl.when(pl.col("is_brand")).then(pl.Series(rng.integers(10**17, 10**18, total)).cast(pl.String)).otherwise(None).alias("in_reply_to"),
    )
    # Landed by the receiver's own group commit (store_batch), in receipt order, a batch at a time.
    landing = inputs / "landing"
    _private_dir(landing / "social_media")
    ids = LandedIds(landing)
    writer = SegmentWriter(landing, ids)
    cols = ["record_id", "webhook_timestamp", "received_at", "timestamp", "platform", "post_id", "handle",
            "display_name", "text", "created_at", "in_reply_to", "no_text", "text_absent"]
    batch: list[Delivery] = []
    for (wid, wts, rec, stamp, plat, post, handle, disp, text, created, reply, no_text_, absent) in (
            frame.sort("received_at").select(cols).iter_rows()):
        data = {"platform": plat, "post_id": post, "author": {"handle": handle, "display_name": disp},
                "text": text, "created_at": created, "in_reply_to": reply, "lang": "en"}
        if no_text_:
            if absent:
                del data["text"]
            else:
                data["text"] = None
        body = json.dumps({"type": "social.post.created", "timestamp": stamp, "data": data})
        batch.append(Delivery(wid, int(wts), body, rec.replace(tzinfo=UTC)))
        if len(batch) == MAX_BATCH:  # full batches, as the receiver commits under a steady flood
            store_batch(ids, writer, batch)
            batch = []
    if batch:
        store_batch(ids, writer, batch)
    writer.close()
    ids.close()
    outcome = pl.when(pl.col("no_text") | pl.col("bad_time")).then(pl.lit("quarantine")).otherwise(pl.lit("clean"))
    rule = (pl.when(pl.col("no_text")).then(pl.lit("missing_text"))
            .when(pl.col("bad_time")).then(pl.lit("unparseable_timestamp")).otherwise(None))
    frame = frame.with_columns(pl.when(pl.col("no_text")).then(None).otherwise(pl.col("text")).alias("text"),
                               pl.col("is_original").fill_null(False), pl.col("row").fill_null(-1))
    return _truth(frame, "social_media", outcome, rule)


# --- SMS ---------------------------------------------------------------------------------------


def _sms(frame: pl.DataFrame, inputs: Path, day: date, rng, extras, sms_file: Path) -> pl.DataFrame:
    spam_n, twice_n = extras
    lo, hi = int(frame.get_column("seconds").min()), int(frame.get_column("seconds").max()) + 1
    spam_seconds = rng.integers(lo, hi, spam_n)
    spam = pl.DataFrame({
        "category": ["other"] * spam_n, "text": _pick(rng, demo._SPAM_TEXTS, spam_n), "seconds": spam_seconds,
        "sender": pl.Series([f"+4479{10_000_000 + i}" for i in range(spam_n)], dtype=pl.String),
    }).with_columns(_to_dt(day, spam_seconds).alias("event_at"), pl.lit(True).alias("plain"))
    frame = pl.concat([frame, spam], how="diagonal_relaxed").with_columns(pl.col("known").fill_null(False))
    total = frame.height
    plain = frame.get_column("plain").fill_null(True).to_numpy() & frame.get_column("sender").is_null().to_numpy()
    no_body = plain & (rng.random(total) < SMS_NO_BODY / (1 - SMS_SPAM))
    frame = frame.with_columns(
        pl.Series("record_id", _ids(rng, total, 32, "0123456789abcdef", "SM")),
        pl.when(pl.col("sender").is_not_null()).then(pl.col("sender"))
        .when(pl.col("known")).then(pl.concat_str([pl.lit("+44"), pl.col("national").str.slice(1)]))
        .otherwise(pl.concat_str([pl.lit("+4478"), (pl.arange(0, total) + 10_000_000).cast(pl.String)])).alias("from"),
        pl.col("event_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("received_text"),
        pl.Series("no_body", no_body), pl.Series("absent", rng.random(total) < 0.5),
    ).with_columns(pl.max_horizontal(pl.lit(1), (pl.col("text").str.len_chars() + 152) // 153).alias("segments"))
    # Served twice: a plain, clean message appears on two overlapping pages.
    candidates = np.flatnonzero(plain & ~no_body)
    twice = rng.choice(candidates, size=min(twice_n, len(candidates)), replace=False)
    frame = frame.with_columns(pl.Series("twice_source", np.isin(np.arange(total), twice)))
    messages = []
    for rid, sender, body, rec, seg, nb, absent in frame.select("record_id", "from", "text", "received_text", "segments", "no_body", "absent").iter_rows():
        m = {"id": rid, "from": sender, "to": demo.SMS_INBOUND_NUMBER, "body": body, "received_at": rec, "segments": seg}
        if nb:
            if absent:
                del m["body"]
            else:
                m["body"] = None
        messages.append(m)
    for i in twice:
        messages.append(dict(messages[i]))
    messages.sort(key=lambda m: (m["received_at"], m["id"]))
    sms_file.parent.mkdir(parents=True, exist_ok=True)
    with open(sms_file, "a", encoding="utf-8") as out:
        out.writelines(json.dumps(m, ensure_ascii=False) + "\n" for m in messages)
    frame = frame.with_columns(pl.col("is_original").fill_null(False), pl.col("row").fill_null(-1),
                               pl.col("is_copy").fill_null(False))
    outcome = pl.when(pl.col("no_body")).then(pl.lit("quarantine")).otherwise(pl.lit("clean"))
    rule = pl.when(pl.col("no_body")).then(pl.lit("missing_text")).otherwise(None)
    first = _truth(frame.with_columns(pl.when(pl.col("no_body")).then(None).otherwise(pl.col("text")).alias("text")), "sms", outcome, rule)
    again = _truth(frame.filter(pl.col("twice_source")).with_columns(pl.lit(None, pl.String).alias("copy_key"), pl.lit(False).alias("is_original")),
                   "sms", pl.lit("duplicate"), pl.lit("same_source_record"))
    return pl.concat([first, again])


# --- call centre -------------------------------------------------------------------------------


def _call_center(frame: pl.DataFrame, inputs: Path, day: date, rng, _extra, _sms_file) -> pl.DataFrame:
    n = frame.height
    frame = frame.sort("seconds").with_columns(pl.col("row"))
    fmt_long = rng.random(n) < 0.6
    status = np.asarray(["open", "resolved", "escalated", "callback"], dtype=object)[rng.choice(4, n, p=[0.3, 0.4, 0.2, 0.1])]
    unknown = rng.random(n) < CALL_UNKNOWN_STATUS
    ragged = (rng.random(n) < CALL_RAGGED) & ~unknown
    typed_choice = rng.integers(0, 4, n)
    local = pl.col("event_at").dt.convert_time_zone(TZ_LONDON)
    resolved_local = local + pl.duration(seconds=pl.col("wait") + pl.col("handle") + pl.col("extra"))
    frame = frame.with_columns(
        pl.Series("wait", rng.integers(5, 2400, n)), pl.Series("handle", rng.integers(60, 1800, n)),
        pl.Series("extra", rng.integers(0, 5400, n)), pl.Series("fmt_long", fmt_long),
        pl.Series("status_base", status, dtype=pl.String), pl.Series("unknown", unknown), pl.Series("ragged", ragged),
        pl.Series("typed_choice", typed_choice), pl.Series("cap", rng.random(n) < 0.1),
        pl.Series("has_account", rng.random(n) < 0.7), pl.Series("acc_lower", rng.random(n) < 0.15),
        pl.Series("has_phone", rng.random(n) < 0.8), pl.Series("agent", rng.integers(100, 1000, n)),
        pl.Series("anon_name", _pick(rng, ["", "unknown", "Mr Hill", "Ms Ortega"], n)),
    ).with_columns(
        pl.format("CALL-{}-{}", pl.lit(f"{day:%Y%m%d}"), (pl.arange(0, n) + 1).cast(pl.String).str.zfill(7)).alias("record_id"),
        pl.when(pl.col("fmt_long")).then(local.dt.strftime("%Y-%m-%d %H:%M:%S")).otherwise(local.dt.strftime("%d/%m/%Y %H:%M")).alias("started"),
        pl.when(pl.col("unknown")).then(pl.lit("pending"))
        .when(pl.col("cap")).then(pl.col("status_base").str.to_titlecase()).otherwise(pl.col("status_base")).alias("status"),
        pl.when(pl.col("status_base") == "resolved").then(
            pl.when(pl.col("fmt_long")).then(resolved_local.dt.strftime("%Y-%m-%d %H:%M:%S")).otherwise(resolved_local.dt.strftime("%d/%m/%Y %H:%M"))
        ).otherwise(pl.lit("")).alias("resolved"),
        pl.when(~pl.col("known")).then(pl.col("anon_name"))
        .when(pl.col("typed_choice") == 0).then(pl.col("full_name"))
        .when(pl.col("typed_choice") == 1).then(pl.col("full_name").str.to_lowercase())
        .when(pl.col("typed_choice") == 2).then(pl.col("full_name").str.split(" ").list.last())
        .otherwise(pl.col("full_name").str.to_uppercase()).alias("typed"),
        pl.when(pl.col("known") & pl.col("has_account")).then(
            pl.when(pl.col("acc_lower")).then(pl.col("account_number").str.to_lowercase()).otherwise(pl.col("account_number"))
        ).otherwise(pl.lit("")).alias("account"),
        pl.when(pl.col("known") & pl.col("has_phone")).then(pl.col("phone_text")).otherwise(pl.lit("")).alias("caller_phone"),
    )
    drop = inputs / "landing" / "call_center"
    _private_dir(drop)
    parts = []
    for start_hour in (0, 12):
        part = frame.filter((pl.col("event_at").dt.hour() >= start_hour) & (pl.col("event_at").dt.hour() < start_hour + 12))
        if not part.height:
            continue
        cp1252 = start_hour == 12
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(demo.CALL_CENTER_COLUMNS)
        blank_at = int(rng.integers(0, part.height)) if cp1252 else -1
        rows = part.select("record_id", "started", pl.format("AG{}", pl.col("agent")), "account", "typed", "caller_phone",
                           "text", "status", "resolved", pl.col("wait").cast(pl.String), pl.col("handle").cast(pl.String), "ragged")
        for j, row in enumerate(rows.iter_rows()):
            values = list(row[:-1])
            if row[-1]:
                values += ["", "stray value"]
            if j == blank_at:
                out.write("\r\n")
            writer.writerow(values)
        text = out.getvalue()
        data = text.encode("cp1252", errors="replace") if cp1252 else b"\xef\xbb\xbf" + text.encode("utf-8")
        path = drop / f"calls_{day:%Y%m%d}T{start_hour:02d}00.csv"
        _write_private(path, data)
        parts.append(part)
    frame = pl.concat(parts).with_columns(pl.col("is_original").fill_null(False))
    outcome = pl.when(pl.col("ragged") | pl.col("unknown")).then(pl.lit("quarantine")).otherwise(pl.lit("clean"))
    rule = pl.when(pl.col("ragged")).then(pl.lit("unparseable_record")).when(pl.col("unknown")).then(pl.lit("unknown_status")).otherwise(None)
    # A ragged row's record id is file:line, not its call id; it is quarantined either way.
    return _truth(frame, "call_center", outcome, rule)


# --- web forms ---------------------------------------------------------------------------------


SQLA_TIME = "%Y-%m-%d %H:%M:%S.%6f"  # how SQLAlchemy stores a DateTime in SQLite


def _web_forms(frame: pl.DataFrame, inputs: Path, day: date, rng, updated_n: int, _sms_file) -> pl.DataFrame:
    n = frame.height
    first_ids = day.toordinal() * 10_000_000
    plain = frame.get_column("plain").to_numpy()
    empty = plain & (rng.random(n) < FORM_EMPTY)
    eligible = np.flatnonzero(plain & ~empty)
    updated = np.zeros(n, dtype=bool)
    updated[rng.choice(eligible, size=min(updated_n, len(eligible)), replace=False)] = True
    latest = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
    subjects = np.empty(n, dtype=object)
    cats = frame.get_column("category").to_numpy()
    for c in CATEGORY_NAMES:
        where = np.flatnonzero(cats == c)
        pool = demo._WEB_SUBJECTS[c]
        subjects[where] = np.asarray(pool, dtype=object)[rng.integers(0, len(pool), len(where))]
    frame = frame.with_columns(
        (pl.arange(0, n) + first_ids + 1).alias("id"),
        pl.Series("empty", empty), pl.Series("updated", updated),
        pl.Series("subject", subjects, dtype=pl.String),
        pl.Series("has_phone", rng.random(n) < 0.7), pl.Series("has_account", rng.random(n) < 0.65),
        pl.Series("later_minutes", rng.integers(10, 300, n)),
        pl.Series("new_status", np.where(rng.random(n) < 0.5, "in_progress", "closed")),
        pl.Series("walk_first", _pick(rng, demo._FIRST_NAMES, n)), pl.Series("walk_last", _pick(rng, demo._SURNAMES, n)),
        pl.Series("walk_domain", _pick(rng, demo._EMAIL_DOMAINS, n)),
        pl.Series("empty_text", _pick(rng, ["", "   "], n)),
    ).with_columns(
        pl.col("id").cast(pl.String).alias("record_id"),
        pl.when(pl.col("known")).then(pl.col("full_name")).otherwise(pl.concat_str([pl.col("walk_first"), pl.lit(" "), pl.col("walk_last")])).alias("form_name"),
        pl.when(pl.col("known")).then(pl.col("email")).otherwise(
            pl.concat_str([pl.lit("visitor"), pl.col("id").cast(pl.String), pl.lit("@"), pl.col("walk_domain")])).alias("form_email"),
        pl.when(~pl.col("has_phone")).then(None).when(pl.col("known")).then(pl.col("phone_text")).otherwise(
            pl.concat_str([pl.lit("078"), (pl.col("id") % 100_000_000).cast(pl.String).str.zfill(8)])).alias("form_phone"),
        pl.when(pl.col("known") & pl.col("has_account")).then(pl.col("account_number")).otherwise(None).alias("form_account"),
        pl.when(pl.col("empty")).then(pl.col("empty_text")).otherwise(pl.col("text")).alias("message"),
        pl.col("event_at").dt.replace_time_zone(None).alias("submitted"),
        pl.min_horizontal(pl.col("event_at") + pl.duration(minutes=pl.col("later_minutes")), pl.lit(latest)).dt.replace_time_zone(None).alias("later"),
    )
    current = frame.select(
        "id", pl.col("submitted").dt.strftime(SQLA_TIME).alias("submitted_at"),
        pl.when(pl.col("updated")).then(pl.col("later")).otherwise(pl.col("submitted")).dt.strftime(SQLA_TIME).alias("updated_at"),
        pl.col("form_name").alias("full_name"), pl.col("form_email").alias("email"), pl.col("form_phone").alias("phone"),
        pl.col("form_account").alias("account_number"), "subject", "message",
        pl.when(pl.col("updated")).then(pl.col("new_status")).otherwise(pl.lit("new")).alias("status"),
    )
    db = inputs / "oltp" / "web_forms.sqlite"
    db.parent.mkdir(parents=True, exist_ok=True)
    create_schema(f"sqlite:///{db}")
    with sqlite3.connect(db) as con:
        con.executemany(
            "insert into complaint_forms (id, submitted_at, updated_at, full_name, email, phone, account_number, subject, message, status) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            current.iter_rows(),
        )
    # The first version of each updated form, as the extraction of its window captured it then.
    firsts = frame.filter(pl.col("updated")).select(
        "id", pl.col("submitted").dt.replace_time_zone("UTC").alias("submitted_at"),
        pl.col("submitted").dt.replace_time_zone("UTC").alias("updated_at"),
        pl.col("form_name").alias("full_name"), pl.col("form_email").alias("email"), pl.col("form_phone").alias("phone"),
        pl.col("form_account").alias("account_number"), "subject", "message", pl.lit("new").alias("status"),
    )
    # Whatever else the extract holds today (EXTRACT_SCHEMA evolves): null, as for a clean row.
    firsts = firsts.with_columns(
        *(pl.lit(None, dtype).alias(name) for name, dtype in EXTRACT_SCHEMA.items() if name not in firsts.columns)
    ).select(list(EXTRACT_SCHEMA)).cast(EXTRACT_SCHEMA).with_columns(
        pl.col("updated_at").dt.truncate("15m").alias("__window")
    )
    for (window,), part in firsts.partition_by("__window", as_dict=True).items():
        folder = inputs / "landing" / "web_forms" / f"date={window:%Y-%m-%d}" / f"{window:%H%M}"
        _private_dir(folder)
        taken = window + timedelta(minutes=17)
        path = folder / f"extract-{taken:%Y%m%dT%H%M%S%f}Z.parquet"
        part.drop("__window").sort("updated_at", "id").write_parquet(path, compression="zstd", statistics=True)
        os.chmod(path, 0o600)
    frame = frame.with_columns(pl.col("is_original").fill_null(False))
    outcome = pl.when(pl.col("empty")).then(pl.lit("quarantine")).otherwise(pl.lit("clean"))
    rule = pl.when(pl.col("empty")).then(pl.lit("missing_text")).otherwise(None)
    latest_versions = _truth(frame.with_columns(pl.when(pl.col("empty")).then(None).otherwise(pl.col("text")).alias("text")), "web_forms", outcome, rule)
    first_versions = _truth(frame.filter(pl.col("updated")).with_columns(pl.lit(None, pl.String).alias("copy_key"), pl.lit(False).alias("is_original")),
                            "web_forms", pl.lit("duplicate"), pl.lit("same_source_record"))
    return pl.concat([latest_versions, first_versions])


if __name__ == "__main__":  # a quick look: python benchmarks/pipeline_data.py /tmp/x 20000
    import sys

    target, n = Path(sys.argv[1]), int(sys.argv[2])
    made = generate(target, date.today() - timedelta(days=3), n)
    print(made)
