"""The bulk masker (``mask_texts``, ``mask_text_expr``, ``token_expr``, ``find_unmasked_pii_in``)
gives byte for byte what the per-row functions give, on the labelled corpus, generated complaints,
random PII-shaped texts and edge cases (issue 5); and the polars prefilters it skips rows by cover
what Python's regexes match, character class by character class."""

from __future__ import annotations

import random
import re

import phonenumbers
import polars as pl
import pytest

from complaints_platform.lib import pii
from complaints_platform.lib.pii import PiiMasker, find_unmasked_pii, find_unmasked_pii_expr, find_unmasked_pii_in
from complaints_platform.simulate.generator import complaint_text, generate_customers
from complaints_platform_tests.pii_labelled import labelled_texts

KEY = "test-key-vectorised"


@pytest.fixture(scope="module")
def masker() -> PiiMasker:
    return PiiMasker(KEY)


def _mask_text_before_issue_5(m: PiiMasker, text: str | None) -> str | None:
    """``PiiMasker.mask_text`` as it was written before the bulk path (commit d9b22fa), verbatim:
    the oracle both paths are held to."""
    if text is None:
        return None
    text = pii._EMAIL.sub(lambda g: m.token("EMAIL", g.group()), text)
    text = pii._IBAN.sub(
        lambda g: m.token("IBAN", g.group()) if pii._iban_valid(g.group()) else g.group(), text
    )
    text = pii._CARD.sub(m._mask_card, text)
    text = pii._ACCOUNT.sub(lambda g: m.token("ACCOUNT", g.group()), text)
    text = pii._SSN.sub(lambda g: m.token("NATIONALID", g.group()), text)
    text = pii._NINO.sub(lambda g: m.token("NATIONALID", g.group()), text)
    text = pii._IPV4.sub(lambda g: m.token("IP", g.group()), text)
    text = m._mask_phones(text)
    text = pii._HANDLE.sub(lambda g: m.token("HANDLE", g.group()), text)
    for pattern in (pii._MY_NAME, pii._SIGNED_OFF, pii._SIGNED_OFF_CAP, pii._NAMED, pii._DASH_SIGNED):
        text = pattern.sub(m._mask_name, text)
    return text


def _find_unmasked_pii_before_issue_5(text: str | None, default_region: str = "GB") -> list[str]:
    if not text:
        return []
    found = []
    if pii._EMAIL.search(text):
        found.append("EMAIL")
    if any(pii._is_card(g.group()) for g in pii._CARD.finditer(text)):
        found.append("CARD")
    if any(pii._iban_valid(g.group()) for g in pii._IBAN.finditer(text)):
        found.append("IBAN")
    if any(
        pii._looks_like_phone(g.raw_string, text[max(0, g.start - 2) : g.start], text[g.end : g.end + 1])
        for g in phonenumbers.PhoneNumberMatcher(text, default_region, leniency=phonenumbers.Leniency.POSSIBLE)
    ):
        found.append("PHONE")
    return found


# --- corpora -----------------------------------------------------------------------------------

_PIECES = [
    "0", "1", "7", "9", "07700 900123", "+44 7700 900123", "(0)7700-900-123", "4111 1111 1111 1111",
    "4111-1111-1111-1112", "AC12345678", "ac-1234 5678", "123-45-6789", "AB 12 34 56 C", "192.168.1.20",
    "1.2.3.4.5", "@jane_d", "@", "a@b.com", "x%40y.org", "GB82 WEST 1234 5698 7654 32", "gb82west12345698765432",
    " ", "  ", "\n", "\t", "\x1c", "\xa0", "\u2009", "-", "–", "—", ".", ",", "!", "(", ")", "/", "ext. ", " x",
    "#", ";ext=", "anexo ", "my name is ", "My Name's ", "this is ", "I am ", "i’m ", "Regards, ", "thanks\n",
    "Cheers ", "Kind regards,\n", "sincerely ", "yours truly ", "Jane", "Doe", "jane", "Łukasz", "Zoë", "MacLeod",
    "O'Brien", "ı", "İ", "ſ", "K", "٣", "٤٥", "१२३", "０７７００", "😡", "#fail", "<PHONE:abcdefghij>",
    "<NAME:abcdefghij>", "ok", "thanks for nothing", "2026-11-21", "15-12-2025 14:10", "£12.50", "$1,234.56", ":30",
]


def _random_texts(n: int, seed: int) -> list[str]:
    """Texts strung together from PII, near-PII, lead phrases, separators and odd characters, so
    every step meets its edge cases and the steps meet each other's output."""
    rng = random.Random(seed)
    return ["".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 12))) for _ in range(n)]


def _generated_texts(n: int, seed: int) -> list[str]:
    """Complaints as the simulator writes them, some with a name signed off at the end."""
    rng = random.Random(seed)
    customers = generate_customers(300, seed)
    channels = ["social_media", "sms", "call_center", "web_form"]
    categories = ["poor_network", "incorrect_billing", "bad_customer_service", "device_equipment", "other"]
    texts = []
    for i in range(n):
        customer = rng.choice(customers) if rng.random() < 0.8 else None
        text, _ = complaint_text(rng, channels[i % 4], rng.choice(categories), customer)
        if customer and rng.random() < 0.2:
            text += rng.choice([" Regards, {}", "\nThanks\n{}", " my name is {}", " - {}"]).format(customer["full_name"])
        texts.append(text)
    return texts


EDGE_CASES = [
    None, "", " ", "\n", "@", "@a", "@ab", "a@b", "%40", "<HANDLE:abcdefghij> <PHONE:abcdefghij> already masked",
    "ring <PHONE:abcdefghij> or 07700 900123", "call ٠٧٧٠٠ ٩٠٠١٢٣ please", "call ０７７００ ９００１２３",
    "iban gb82 west 1234 5698 7654 32", "acct ac 12345678 and AC-12345678", "Regards,\x1cJane Doe",
    "no signal 😡😡\n- Zoë.", "Cheers imran müller.", "my name is ſam", "this is İstanbul calling",
    "thanks\u2009Jane", "07700\u00a0900123", "+44 7700 900123 ext. 12", "123 ext 4567", "1234567",
    "12 34 56 7", "a" * 400, "0" * 300, "\u200b07700900123", "tel:+447700900123", "ends with a dash -",
]


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[str | None]]:
    return {
        "labelled": [t.text for t in labelled_texts(5000, 0)],  # the benchmark's set
        "generated": _generated_texts(3000, 11),
        "random": _random_texts(4000, 5),
        "edge": EDGE_CASES,
    }


def _reference(m: PiiMasker, texts: list[str | None]) -> tuple[list[str | None], list[str | None]]:
    """The texts the oracle can mask, and its masks (its IBAN check raises on some letters, see
    the test below)."""
    kept, masked = [], []
    for text in texts:
        try:
            masked.append(_mask_text_before_issue_5(m, text))
        except ValueError:
            continue
        kept.append(text)
    return kept, masked


# --- the same output -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["labelled", "generated", "random", "edge"])
def test_bulk_masking_is_byte_identical_to_the_per_row_masker(masker, corpus, name):
    texts, expected = _reference(masker, corpus[name])
    assert len(texts) > 0.95 * len(corpus[name])
    assert [masker.mask_text(t) for t in texts] == expected
    got = masker.mask_texts(pl.Series(texts, dtype=pl.String)).to_list()
    diffs = [(t, e, g) for t, e, g in zip(texts, expected, got) if e != g]
    assert not diffs, diffs[:5]
    assert len(got) == len(texts)


def test_an_iban_shaped_run_with_a_dotted_capital_i_is_masked_alike_on_both_paths(masker):
    # Matched case-insensitively, 'İ' fits the IBAN pattern but is no base-36 digit: left as found.
    text = "iban İS12 ABCD EFGH IJKL"
    assert masker.mask_text(text) == text
    assert masker.mask_texts(pl.Series(["fine", text])).to_list() == ["fine", text]


def test_each_step_only_changes_texts_its_prefilter_picks(masker, corpus):
    """The bulk path's premise, checked step by step on the texts each step really sees."""
    changed: dict[str, list[str]] = {kind: [] for kind, _ in masker._STEPS}
    for text in _reference(masker, [t for name in ("labelled", "generated", "random") for t in corpus[name]])[0]:
        for kind, step in masker._STEPS:
            new = step(masker, text)
            if new != text:
                changed[kind].append(text)
            text = new
    for kind, texts in changed.items():
        picked = pl.Series(texts, dtype=pl.String).str.contains(f"{pii._PREFILTER[kind]}|{pii._RX_OTHER_DIGIT}")
        missed = [t for t, p in zip(texts, picked.to_list()) if not p]
        assert not missed, (kind, missed[:5])
    assert all(len(changed[kind]) >= 20 for kind in changed if kind != "SSN"), {k: len(v) for k, v in changed.items()}


def test_a_large_batch_shared_with_helper_processes_is_masked_the_same(corpus, monkeypatch):
    monkeypatch.setattr(pii, "_PARALLEL_MIN_TEXTS", 10)
    monkeypatch.setattr(pii, "_HELPER_START_TEXTS", 100)
    texts, expected = _reference(PiiMasker(KEY), corpus["generated"] + corpus["labelled"][:1000])
    assert PiiMasker(KEY, workers=3).mask_texts(pl.Series(texts)).to_list() == expected


def test_a_helper_that_fails_leaves_its_slice_to_this_process(corpus, monkeypatch):
    monkeypatch.setattr(pii, "_PARALLEL_MIN_TEXTS", 10)
    monkeypatch.setattr(pii, "_HELPER_START_TEXTS", 100)  # the helper has a slice to leave
    monkeypatch.setattr(pii, "_HELPER_COMMAND", "import sys; sys.exit(3)")
    texts, expected = _reference(PiiMasker(KEY), corpus["generated"])
    with pytest.warns(UserWarning, match="helper failed"):
        assert PiiMasker(KEY, workers=2).mask_texts(pl.Series(texts)).to_list() == expected


def test_bulk_masking_keeps_nulls_order_and_length(masker):
    texts = pl.Series("text", [None, "ring 07700 900123", "", None, "ring 07700 900123", "no pii here"])
    out = masker.mask_texts(texts)
    assert out.name == "text" and out.dtype == pl.String
    assert out.to_list() == [masker.mask_text(t) for t in texts.to_list()]
    assert masker.mask_texts(pl.Series([], dtype=pl.String)).to_list() == []
    assert masker.mask_texts(pl.Series([None, None])).to_list() == [None, None]
    assert texts.to_list()[1] == "ring 07700 900123", "the input series is left as it was"


def test_mask_text_expr_in_eager_and_lazy_frames(masker):
    frame = pl.DataFrame({"g": [1, 1, 2, 2], "text": ["@jane hi", None, "mail a@b.com", "plain"]})
    expected = [masker.mask_text(t) for t in frame["text"].to_list()]
    assert frame.with_columns(masker.mask_text_expr("text"))["text"].to_list() == expected
    assert frame.lazy().select(masker.mask_text_expr("text")).collect()["text"].to_list() == expected
    lazy = frame.lazy().filter(pl.col("g") == 2).select(masker.mask_text_expr("text").alias("m")).collect()
    assert lazy["m"].to_list() == expected[2:]


# --- tokens --------------------------------------------------------------------------------------


def test_token_expr_gives_the_per_value_token(masker):
    frame = pl.DataFrame({
        "phone": ["+44 7700 900123", "07700900123", None, "", "   ", "07700900123", "not a phone"],
        "handle": ["@Jane", "@jane", None, "@sam", "@Jane", "", "x"],
        "number": [1, 2, None, 1, 3, 4, 5],
    })
    out = frame.select(
        masker.token_expr("PHONE", "phone"), masker.token_expr("HANDLE", "handle"), masker.token_expr("ACCOUNT", "number")
    )
    for kind, column in (("PHONE", "phone"), ("HANDLE", "handle"), ("ACCOUNT", "number")):
        assert out[column].to_list() == [masker.token(kind, v) for v in frame[column].to_list()], column
    assert out.schema == {"phone": pl.String, "handle": pl.String, "number": pl.String}
    empty = pl.DataFrame({"phone": [None, None]}).select(masker.token_expr("PHONE", "phone"))
    assert empty["phone"].to_list() == [None, None] and empty["phone"].dtype == pl.String


def _identifiers(n: int, seed: int = 5) -> pl.DataFrame:
    """Identifier columns as bronze holds them: the same customer's values written several ways."""
    rng = random.Random(seed)
    customers = generate_customers(max(n // 4, 10), seed=seed)
    rows = [rng.choice(customers) for _ in range(n)]
    def written(value, kind):
        if value is None or rng.random() < 0.1:
            return rng.choice([None, "", "  "])
        if kind == "PHONE":
            digits = re.sub(r"\D", "", value)
            return rng.choice([value, "0" + digits[2:] if digits.startswith("44") else value, f"({digits[:3]}) {digits[3:]}"])
        return rng.choice([value, value.upper(), f" {value} "])
    return pl.DataFrame(
        {
            "phone": [written(r["phone"], "PHONE") for r in rows],
            "email": [written(r["email"], "EMAIL") for r in rows],
            "handle": [written(r["social_handle"], "HANDLE") for r in rows],
            "name": [written(r["full_name"], "NAME") for r in rows],
            "other_phone": [written(r["phone"], "PHONE") for r in rows],
        },
        schema={c: pl.String for c in ("phone", "email", "handle", "name", "other_phone")},
    )


_KINDS = {"phone": "PHONE", "email": "EMAIL", "handle": "HANDLE", "name": "NAME", "other_phone": "PHONE"}


def test_tokenise_gives_each_column_the_per_value_token(masker):
    frame = _identifiers(3_000)
    out = masker.tokenise(frame, _KINDS)
    assert out.columns == list(_KINDS) and out.height == frame.height
    for column, kind in _KINDS.items():
        assert out[column].to_list() == [masker.token(kind, v) for v in frame[column].to_list()], column
    assert out["phone"].null_count() > 0 and out["phone"].n_unique() > 100
    empty = masker.tokenise(pl.DataFrame({"phone": [None, None]}, schema={"phone": pl.String}), {"phone": "PHONE"})
    assert empty["phone"].to_list() == [None, None] and empty["phone"].dtype == pl.String


def test_tokens_shared_with_helper_processes_in_batches_are_the_same(masker, monkeypatch):
    frame = _identifiers(4_000, seed=11)
    expected = {column: [masker.token(kind, v) for v in frame[column].to_list()] for column, kind in _KINDS.items()}
    monkeypatch.setattr(pii, "_HELPER_START_TOKENS", {"PHONE": 100, "*": 100})
    monkeypatch.setattr(pii, "_TOKEN_BATCH", 700)  # several batches, each shared
    out = PiiMasker(KEY, workers=3).tokenise(frame, _KINDS)
    assert {column: out[column].to_list() for column in _KINDS} == expected


def test_a_token_helper_that_fails_leaves_its_slice_to_this_process(masker, monkeypatch):
    frame = _identifiers(500, seed=3)
    expected = [masker.token("PHONE", v) for v in frame["phone"].to_list()]
    monkeypatch.setattr(pii, "_HELPER_START_TOKENS", {"PHONE": 10, "*": 10})
    monkeypatch.setattr(pii, "_HELPER_COMMAND", "import sys; sys.exit(3)")
    with pytest.warns(UserWarning, match="helper failed"):
        assert PiiMasker(KEY, workers=2).tokens("PHONE", frame["phone"]).to_list() == expected


def test_plainly_written_numbers_start_no_helper(masker, monkeypatch):
    """An SMS provider's numbers (E.164) and plainly written national ones need no parse, so a batch
    of them is not worth a helper's start; the same count written with the international prefix is."""
    started = []
    real_start = pii._start_helper
    monkeypatch.setattr(pii, "_HELPER_START_TOKENS", {"PHONE": 100, "*": 100_000})
    monkeypatch.setattr(pii, "_start_helper", lambda *args: started.append(args) or real_start(*args))
    e164 = pl.Series([f"+447700{n:06d}" for n in range(1_000)])
    national = pl.Series([f"07700 {n:06d}" for n in range(1_000)])
    international = pl.Series([f"0044 7700 {n:06d}" for n in range(1_000)])
    shared = PiiMasker(KEY, workers=2)
    assert shared.tokens("PHONE", e164).to_list() == [masker.token("PHONE", v) for v in e164]
    assert shared.tokens("PHONE", national).to_list() == shared.tokens("PHONE", e164).to_list()
    assert started == []
    assert shared.tokens("PHONE", international).to_list() == shared.tokens("PHONE", e164).to_list()
    assert len(started) == 1


def test_raw_records_masked_in_bulk_are_masked_as_one_by_one(masker, corpus):
    texts = corpus["generated"][:300] + corpus["labelled"][:300]
    frame = _identifiers(len(texts), seed=7)
    raws = [f'{{"name": "{n}", "phone": "{p}", "text": {t!r}}}' if i % 7 else None for i, (n, p, t) in enumerate(zip(frame["name"], frame["phone"], texts))]
    known = pl.DataFrame({"NAME": frame["name"], "PHONE": frame["phone"], "EMAIL": frame["email"]})
    expected = [
        masker.mask_record(raw, {"NAME": n, "PHONE": p, "EMAIL": e})
        for raw, n, p, e in zip(raws, frame["name"], frame["phone"], frame["email"])
    ]
    got = masker.mask_records(pl.Series("raw", raws, dtype=pl.String), known)
    assert got.to_list() == expected and got.name == "raw"
    assert sum(1 for raw, masked in zip(raws, expected) if raw and masked != raw) > 200


def test_cached_tokens_are_the_tokens(masker):
    fresh = PiiMasker(KEY)
    values = [("PHONE", "07700 900123"), ("EMAIL", " Jane@Example.com"), ("NAME", "Jane Doe")]
    first = [fresh.token(k, v) for k, v in values]
    assert [fresh.token(k, v) for k, v in values] == first == [masker.token(k, v) for k, v in values]


# --- finding what is left ------------------------------------------------------------------------


def test_find_unmasked_pii_in_bulk_is_the_per_row_check(masker, corpus):
    texts = [t for name in ("labelled", "generated", "random", "edge") for t in corpus[name]]
    texts = texts + [masker.mask_text(t) for t in corpus["labelled"][:1000]]
    checkable, expected = [], []
    for text in texts:
        try:
            expected.append(_find_unmasked_pii_before_issue_5(text))
        except ValueError:
            continue
        checkable.append(text)
    assert [find_unmasked_pii(t) for t in checkable] == expected
    got = find_unmasked_pii_in(pl.Series(checkable, dtype=pl.String)).to_list()
    assert got == [None if t is None else e for t, e in zip(checkable, expected)]
    frame = pl.DataFrame({"text": ["mail a@b.com", None, "nothing"]})
    assert frame.select(find_unmasked_pii_expr("text"))["text"].to_list() == [["EMAIL"], None, []]


def _checkable(masker: PiiMasker, corpus) -> tuple[list[str | None], list[list[str] | None]]:
    """Texts with leaks of every kind and without, and what the per-row check finds in each."""
    texts = [t for name in ("labelled", "generated", "edge") for t in corpus[name]]
    texts += [masker.mask_text(t) for t in corpus["generated"]]
    return texts, [None if t is None else find_unmasked_pii(t) for t in texts]


def test_a_large_check_shared_with_helper_processes_finds_the_same(masker, corpus, monkeypatch):
    texts, expected = _checkable(masker, corpus)
    assert sum(bool(e) for e in expected) > 500 and sum(e == [] for e in expected) > 500
    started = []
    real_start = pii._start_helper
    monkeypatch.setattr(pii, "_start_helper", lambda *args: started.append(args) or real_start(*args))
    monkeypatch.setattr(pii, "_HELPER_START_FIND_CHARS", 20_000)
    assert find_unmasked_pii_in(pl.Series(texts, dtype=pl.String), workers=3).to_list() == expected
    assert len(started) == 2, "two helpers beside this process"
    assert find_unmasked_pii_in(pl.Series(texts[:20], dtype=pl.String), workers=3).to_list() == expected[:20]
    assert len(started) == 2, "a batch too short to repay a helper's start is checked here"
    few_long = ["x " * 30_000, "call 07700 900123 " + "y " * 30_000]
    assert find_unmasked_pii_in(pl.Series(few_long), workers=4).to_list() == [[], ["PHONE"]]
    assert len(started) == 2, "fewer texts than processes: no helper is started for an empty slice"


def test_a_check_helper_that_fails_leaves_its_slice_to_this_process(masker, corpus, monkeypatch):
    texts, expected = _checkable(masker, corpus)
    monkeypatch.setattr(pii, "_HELPER_START_FIND_CHARS", 20_000)
    monkeypatch.setattr(pii, "_HELPER_COMMAND", "import sys; sys.exit(3)")
    with pytest.warns(UserWarning, match="helper failed"):
        assert find_unmasked_pii_in(pl.Series(texts, dtype=pl.String), workers=2).to_list() == expected


# --- the prefilters' character classes cover Python's --------------------------------------------

_ALL_CHARACTERS = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)


def _rust_matches(pattern: str) -> set[str]:
    chars = pl.Series(list(_ALL_CHARACTERS))
    return set(chars.filter(chars.str.contains(f"^(?:{pattern})$")).to_list())


def test_every_python_digit_is_ascii_or_sends_its_row_through_every_step():
    python_digits = set(re.findall(r"\d", _ALL_CHARACTERS))
    assert python_digits - set("0123456789") <= _rust_matches(pii._RX_OTHER_DIGIT)


def test_the_whitespace_class_covers_pythons():
    assert set(re.findall(r"\s", _ALL_CHARACTERS)) <= _rust_matches(pii._RX_SPACE)


def test_case_folds_cover_pythons_ignorecase():
    for letter in "abcdefghijklmnopqrstuvwxyz":
        python = set(re.findall(letter, _ALL_CHARACTERS, re.IGNORECASE))
        assert python == {letter, letter.upper(), *pii._CASE_FOLDS.get(letter, "")}, letter
    assert set(re.findall("[A-Z]", _ALL_CHARACTERS, re.IGNORECASE)) <= _rust_matches(pii._RX_LETTER_I)


def test_phone_punctuation_covers_phonenumbers():
    punctuation = f"[{phonenumbers.phonenumberutil._VALID_PUNCTUATION}]"
    assert set(re.findall(punctuation, _ALL_CHARACTERS, re.IGNORECASE | re.UNICODE)) <= set(pii._PHONE_PUNCTUATION)
