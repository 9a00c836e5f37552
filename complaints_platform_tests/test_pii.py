"""PII masking: what is found in free text, how it is tokenised, and what must be left alone."""

from __future__ import annotations

import copy
import hmac
import random
import re
import string

import phonenumbers
from phonenumbers import PhoneMetadata
import polars as pl
import pytest

from complaints_platform.lib.pii import TOKEN_PATTERN, PiiMasker, _e164_as_written, _e164_without_parse, find_unmasked_pii, token_digest

KEY = "test-key-7d1c"
TOKEN = re.compile(r"<(?P<kind>[A-Z]+):[a-p]{10}>")


@pytest.fixture(scope="module")
def masker() -> PiiMasker:
    return PiiMasker(KEY)


def _kinds(text: str) -> list[str]:
    return [m["kind"] for m in TOKEN.finditer(text)]


# --- tokens ------------------------------------------------------------------------------------


def test_a_key_is_required():
    with pytest.raises(ValueError):
        PiiMasker("")


@pytest.mark.parametrize(
    "written",
    [
        "07700 900123",
        "07700900123",
        "+44 7700 900123",
        "+447700900123",
        "0044 7700 900123",
        "447700900123",
        "(0)7700-900-123",
        "+44 (0)7700-900-123",
        "07700.900.123",
    ],
)
def test_the_same_phone_written_any_way_gets_the_same_token(masker, written):
    assert masker.normalise_phone(written) == "+447700900123"
    assert masker.token("PHONE", written) == masker.token("PHONE", "07700 900123")


def _parsed_e164(value: str, region: str) -> str | None:
    """What phonenumbers itself makes of a value: its E.164 form if it is a possible number."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if phonenumbers.is_possible_number(number) else None


# Regions whose metadata differ where it matters: GB strips '0' and '180020', IT keeps a leading
# zero, AR and MX rewrite mobile prefixes, US and IN have one-digit and shared codes, BR carriers.
@pytest.mark.parametrize("region", ["GB", "IE", "DE", "FR", "IT", "US", "IN", "BR", "MX", "AR", "JE"])
def test_a_number_taken_as_written_is_what_phonenumbers_gives_back(region):
    code = phonenumbers.country_code_for_region(region)
    rng = random.Random(region)
    values = [f"+{code}{''.join(rng.choices(string.digits, k=n))}" for n in range(3, 17) for _ in range(1_500)]
    values += [f"+{code}{lead}{''.join(rng.choices(string.digits, k=n))}" for lead in ("0", "1", "180020", "9", "15") for n in range(2, 12)]
    as_written = _e164_as_written(region)
    taken = [value for value in values if as_written(value)]
    # Used in each region but AR, whose prefix for parsing ('0?...') matches at the start of every number.
    assert len(taken) > 1_000 or (region == "AR" and not taken)
    assert [value for value in taken if _parsed_e164(value, region) != value] == []
    masker = PiiMasker(KEY, region)
    assert all(masker.normalise_phone(value) == value for value in taken)


def _written_every_way(region: str, rng: random.Random, n: int) -> list[str]:
    """Phone numbers of ``region`` as people, agents and forms write them: national numbers of
    every length with and without the national prefix, '+' and the code with and without '(0)',
    the international prefix, the code without '+'; spaces, hyphens and parentheses anywhere."""
    code = str(phonenumbers.country_code_for_region(region))
    prefix = PhoneMetadata.metadata_for_region(region).national_prefix or "0"
    leads = ["", "", "", prefix, prefix, "0", "1", "9", "180020", "15", code, "00"]
    values = []
    for _ in range(n):
        national = rng.choice(leads) + "".join(rng.choices(string.digits, k=rng.randint(1, 14)))
        written = rng.choice([
            national, f"{prefix}{national}", f"+{code}{national}", f"+{code} ({prefix}){national}", f"({prefix}){national}",
            f"00{code}{national}", f"{code}{national}", f"+{code} {national}",
        ])
        for _ in range(rng.choice([0, 0, 1, 2, 3])):  # separators where a person might put them, or anywhere
            at = rng.randint(0, len(written))
            written = written[:at] + rng.choice([" ", " ", "-", "(", ")", "  "]) + written[at:]
        values.append(written)
    return values


@pytest.mark.parametrize("region", ["GB", "IE", "DE", "FR", "IT", "US", "IN", "BR", "MX", "AR", "JE"])
def test_a_plainly_written_number_is_what_phonenumbers_makes_of_it(region):
    rng = random.Random(f"plain-{region}")
    values = _written_every_way(region, rng, 30_000)
    quick = _e164_without_parse(region)
    taken = {value: quick(value) for value in values if quick(value) is not None}
    assert {value: e164 for value, e164 in taken.items() if _parsed_e164(value, region) != e164} == {}
    # Regions that rewrite their prefix (AR, BR, JE) take only numbers written in E.164.
    national = [value for value in taken if not value.startswith("+")]
    assert len(national) > 50 or (region in ("AR", "BR", "JE") and not national)
    assert len(taken) > 150 or (region == "AR" and not taken)  # (see the test above)
    masker = PiiMasker(KEY, region)
    assert all(masker.normalise_phone(value) == e164 for value, e164 in taken.items())


def test_the_ways_the_platform_sees_a_uk_number_need_no_parse():
    quick = _e164_without_parse("GB")
    for value in ["07700900123", "07700 900123", "(0)7700-900-123", "+44 7700 900123", "+44 (0)7700 900123", "+447700900123"]:
        assert quick(value) == "+447700900123" == _parsed_e164(value, "GB"), value
    # Left to the parse: the international prefix, the code without '+', other characters, a
    # number that still starts with GB's other national prefix (180020) once '0' is stripped, a
    # wrong length, another country.
    for value in ["00447700900123", "447700900123", "07700.900123", "07700 900123 ext 2", "0180020123456", "0770090012345", "+33612345678"]:
        assert quick(value) is None, value


def test_a_number_the_parse_would_change_is_not_taken_as_written():
    as_written = _e164_as_written("GB")
    assert as_written("+447700900123")
    for value in ["+4407700900123", "+441800201234", "+44770090", "+44 7700 900123", "+447700900123 ", "+33612345678", "07700900123"]:
        assert not as_written(value), value
    assert _parsed_e164("+4407700900123", "GB") == "+447700900123"  # the national prefix after the code, stripped


def test_a_different_phone_gets_a_different_token(masker):
    assert masker.token("PHONE", "07700 900124") != masker.token("PHONE", "07700 900123")


def test_token_format(masker):
    for kind, value in [
        ("PHONE", "07700 900123"),
        ("EMAIL", "jane@example.com"),
        ("ACCOUNT", "AC12345678"),
        ("NAME", "Jane Doe"),
        ("HANDLE", "@jane"),
    ]:
        token = masker.token(kind, value)
        assert re.fullmatch(rf"<{kind}:[a-p]{{10}}>", token)
        assert re.fullmatch(TOKEN_PATTERN, token)
        assert not re.search(r"\d", token), "a token must not contain digits that look like a number"


def test_a_tokens_digest_is_equal_exactly_when_the_token_is(masker):
    emails = [f"customer{n}@example.com" for n in range(20_000)]
    tokens = pl.DataFrame({"token": [masker.token("EMAIL", e) for e in emails] + [masker.token("EMAIL", emails[7])]})
    digests = tokens.with_columns(token_digest("token").alias("digest"))
    assert digests.get_column("digest").null_count() == 0
    assert digests.get_column("digest").n_unique() == digests.get_column("token").n_unique() == 20_000
    # The same token always gives the same digest: the row repeated has the row's digest.
    assert digests.row(-1) == digests.row(7)
    # The ten letters as a number: all a (digit 10) and all p (digit 25) are the ends of the range.
    ends = pl.DataFrame({"token": ["<EMAIL:aaaaaaaaaa>", "<EMAIL:pppppppppp>"]}).select(token_digest("token")).to_series()
    assert ends.to_list() == [sum(10 * 26**n for n in range(10)), sum(25 * 26**n for n in range(10))]


@pytest.mark.parametrize("value", [None, "", "jane@example.com", "<EMAIL:abc>", "<EMAIL:abcdefghijz>", "x<EMAIL:abcdefghij>"])
def test_what_is_not_a_token_has_no_digest(value):
    assert pl.DataFrame({"token": [value]}, schema={"token": pl.String}).select(token_digest("token")).item() is None


def test_different_keys_give_different_tokens(masker):
    other = PiiMasker("another-key")
    for kind, value in [("PHONE", "07700 900123"), ("EMAIL", "jane@example.com"), ("NAME", "Jane Doe")]:
        assert other.token(kind, value) != masker.token(kind, value)
        assert PiiMasker(KEY).token(kind, value) == masker.token(kind, value)


@pytest.mark.parametrize(
    ("kind", "value", "normalised"),
    [
        ("EMAIL", " Jane.Doe%40Example.COM ", "jane.doe@example.com"),
        ("PHONE", "07700 900123", "+447700900123"),
        ("NAME", "  JANE   Doé ", "jane doé"),
        ("HANDLE", "@Jane_D", "jane_d"),
        ("ACCOUNT", "ac 1234-5678", "AC12345678"),
        ("IP", " 10.0.0.1 ", "10.0.0.1"),
    ],
)
def test_a_token_is_the_keyed_hmac_of_the_kind_and_normalised_value(masker, kind, value, normalised):
    # What every token already in a lake was made by: a change here re-tokenises history.
    digest = hmac.digest(KEY.encode(), f"{kind}:{normalised}".encode(), "sha256").hex()[:10]
    expected = f"<{kind}:{digest.translate(str.maketrans('0123456789abcdef', 'abcdefghijklmnop'))}>"
    assert PiiMasker(KEY).token(kind, value) == expected
    bulk = PiiMasker(KEY, workers=1).tokens(kind, pl.Series([value, None, "  ", value]))
    assert bulk.to_list() == [expected, None, None, expected]


def test_a_masker_that_has_made_tokens_can_be_copied():
    used = PiiMasker(KEY, workers=1)
    token = used.token("EMAIL", "jane@example.com")
    copied = copy.deepcopy(used)
    assert copied.token("EMAIL", "jane@example.com") == token
    assert copied.tokens("HANDLE", pl.Series(["@jane"])).to_list() == used.tokens("HANDLE", pl.Series(["@jane"])).to_list()


def test_the_kind_is_part_of_the_token(masker):
    # The same characters as a name and as a handle are different identifiers.
    assert masker.token("NAME", "jane") != masker.token("HANDLE", "jane")


@pytest.mark.parametrize(
    ("kind", "a", "b"),
    [
        ("EMAIL", " Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("ACCOUNT", "ac 1234-5678", "AC12345678"),
        ("HANDLE", "@Jane_D", "jane_d"),
        ("NAME", "  JANE   doe ", "Jane Doe"),
        ("CARD", "4111-1111-1111-1111", "4111111111111111"),
        ("IBAN", "gb82 west 1234 5698 7654 32", "GB82WEST12345698765432"),
    ],
)
def test_identifiers_are_normalised_before_tokenising(masker, kind, a, b):
    assert masker.token(kind, a) == masker.token(kind, b)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_identifiers_have_no_token(masker, value):
    assert masker.token("PHONE", value) is None
    assert masker.token("EMAIL", value) is None


# --- free text ---------------------------------------------------------------------------------


def test_phone_in_text_gets_the_structured_fields_token(masker):
    token = masker.token("PHONE", "+447700900123")
    assert masker.mask_text("call me on 07700 900123 please") == f"call me on {token} please"
    assert masker.mask_text("my number is +44 7700 900123.") == f"my number is {token}."
    assert masker.mask_text("ring (0)7700-900-123 today") == f"ring {token} today"


def test_landline_is_masked(masker):
    out = masker.mask_text("call 020 7946 0958 or 0207 946 0958")
    token = masker.token("PHONE", "+442079460958")
    assert out == f"call {token} or {token}"


def test_email_is_masked(masker):
    out = masker.mask_text("mail me at Jane.Doe+bills@example.co.uk now")
    assert out == f"mail me at {masker.token('EMAIL', 'jane.doe+bills@example.co.uk')} now"
    assert "@" not in out, "the e-mail's domain must not be left behind as a handle"


def test_luhn_valid_card_is_masked_but_an_order_number_is_not(masker):
    card = masker.token("CARD", "4111111111111111")
    assert masker.mask_text("card 4111 1111 1111 1111 charged twice") == f"card {card} charged twice"
    assert masker.mask_text("card 4111-1111-1111-1111") == f"card {card}"
    # 13 digits that fail the Luhn check: an order number, left for the analyst.
    assert masker.mask_text("order 1234567890123 not delivered") == "order 1234567890123 not delivered"


def test_valid_iban_is_masked(masker):
    token = masker.token("IBAN", "GB82WEST12345698765432")
    assert masker.mask_text("refund to GB82 WEST 1234 5698 7654 32 please") == f"refund to {token} please"
    assert masker.mask_text("IBAN GB82WEST12345698765432") == f"IBAN {token}"


def test_iban_failing_mod97_is_not_masked_as_an_iban(masker):
    out = masker.mask_text("IBAN GB83 WEST 1234 5698 7654 32 typo")
    assert "<IBAN:" not in out
    assert out.startswith("IBAN GB83 WEST 1234 ")
    assert masker.mask_text("IBAN GB83WEST12345698765432") == "IBAN GB83WEST12345698765432"


def test_ipv4_is_masked_but_a_version_string_is_not(masker):
    assert masker.mask_text("router at 192.168.1.20 drops") == (
        f"router at {masker.token('IP', '192.168.1.20')} drops"
    )
    assert masker.mask_text("firmware 1.2.3.4.5 and 999.1.1.1") == "firmware 1.2.3.4.5 and 999.1.1.1"


def test_account_numbers_are_masked(masker):
    token = masker.token("ACCOUNT", "AC12345678")
    assert masker.mask_text("account AC12345678 and ac-12345678") == f"account {token} and {token}"
    # Nine digits is not the CRM's shape.
    assert "<ACCOUNT:" not in masker.mask_text("ref AC123456789")


def test_ssn_and_national_insurance_numbers_are_masked(masker):
    assert _kinds(masker.mask_text("ssn 123-45-6789")) == ["NATIONALID"]
    out = masker.mask_text("NI AB 12 34 56 C and AB123456D")
    assert _kinds(out) == ["NATIONALID", "NATIONALID"]
    assert out == f"NI {masker.token('NATIONALID', 'AB 12 34 56 C')} and {masker.token('NATIONALID', 'AB123456D')}"


def test_handles_are_masked(masker):
    out = masker.mask_text("@vodafone_uk sort it out, ask @JaneD99")
    assert out == (
        f"{masker.token('HANDLE', 'vodafone_uk')} sort it out, ask {masker.token('HANDLE', 'janed99')}"
    )


@pytest.mark.parametrize(
    ("text", "lead", "name"),
    [
        ("My name is John Smith and my bill is wrong", "My name is ", "John Smith"),
        ("my name is john smith", "my name is ", "john smith"),
        ("no signal. Regards, Jane Doe", "Regards, ", "Jane Doe"),
        ("no signal.\nThanks\nBob", "Thanks\n", "Bob"),
        ("Cheers Imran", "Cheers ", "Imran"),
        ("my name's Megan Jones!!", "my name's ", "Megan Jones"),
        ("no 4g in the flat. Many thanks, Łukasz Ahmed.", "Many thanks, ", "Łukasz Ahmed"),
        ("I'm Ryan MacLeod.\nPlease look into this", "I'm ", "Ryan MacLeod"),
        ("still broken. Cheers imran müller.", "Cheers ", "imran müller"),
        ("Kind regards,\nwei hughes", "Kind regards,\n", "wei hughes"),
        ("Sincerely,\nZoë Chen #fail", "Sincerely,\n", "Zoë Chen"),
        ("cancel my contract 🙏\n- Daniel.", "- ", "Daniel"),
    ],
)
def test_names_after_an_introduction_or_sign_off_are_masked(masker, text, lead, name):
    out = masker.mask_text(text)
    assert f"{lead}{masker.token('NAME', name)}" in out
    assert name not in out


@pytest.mark.parametrize(
    "text",
    [
        "This is ridiculous, I am very unhappy with the service",
        "i'm fed up. thanks for nothing",
        "this is the third time I am calling",
        "Thanks Virgin Media, really helpful 🙄 #fail",
        "no refund yet - Still waiting.",
        "cheers for nothing",
        "thanks so much",
    ],
)
def test_ordinary_words_after_this_is_or_i_am_are_not_names(masker, text):
    assert masker.mask_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "since 2026-11-21 and 21/11/2026 and 21.11.2026 and 21-11-2026",
        "charged £1,234.56 instead of £12.50",
        "the bill says £12345.67 and €99999.99",
        "they took $12345.67 and 1234567.00 GBP",
        "a bill of £1234567 is absurd",
    ],
)
def test_dates_and_prices_are_not_masked_as_phones(masker, text):
    assert masker.mask_text(text) == text
    assert "PHONE" not in find_unmasked_pii(text)


def test_pii_at_the_start_and_end_of_the_text(masker):
    email = masker.token("EMAIL", "a@b.com")
    phone = masker.token("PHONE", "07700900123")
    assert masker.mask_text("a@b.com") == email
    assert masker.mask_text("07700 900123") == phone
    assert masker.mask_text("07700 900123 is my number, mail a@b.com") == f"{phone} is my number, mail {email}"


def test_pii_inside_a_url_is_masked(masker):
    email = masker.token("EMAIL", "a@b.com")
    assert masker.mask_text("see https://x.com/?email=a@b.com") == f"see https://x.com/?email={email}"
    phone = masker.token("PHONE", "07700900123")
    assert masker.mask_text("https://x.com/?phone=07700900123&x=1") == f"https://x.com/?phone={phone}&x=1"
    assert masker.mask_text("see http://example.com/page") == "see http://example.com/page"


def test_text_without_pii_is_unchanged(masker):
    text = "No 4G in Leeds since Monday, 3 bars at most. Fix it!"
    assert masker.mask_text(text) == text
    assert masker.mask_text("") == ""
    assert masker.mask_text(None) is None


def test_masking_is_idempotent(masker):
    once = masker.mask_text("ring 07700 900123 or a@b.com, card 4111 1111 1111 1111. Regards, Jane Doe")
    assert masker.mask_text(once) == once


# --- polars expressions ------------------------------------------------------------------------


def test_polars_expressions_mask_and_tokenise_columns(masker):
    frame = pl.DataFrame({"text": ["ring 07700 900123", None], "phone": ["+44 7700 900123", None]})
    out = frame.select(masker.mask_text_expr("text"), masker.token_expr("PHONE", "phone"))
    token = masker.token("PHONE", "07700900123")
    assert out.to_dict(as_series=False) == {"text": [f"ring {token}", None], "phone": [token, None]}


# --- finding what is left ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mail me at jane@example.com", "EMAIL"),
        ("call 07700 900123", "PHONE"),
        ("call +44 7700 900123", "PHONE"),
        ("card 4111111111111111", "CARD"),
        ("iban GB82WEST12345698765432", "IBAN"),
    ],
)
def test_find_unmasked_pii_finds_raw_values(masker, text, kind):
    assert kind in find_unmasked_pii(text)
    assert find_unmasked_pii(masker.mask_text(text)) == []


def test_find_unmasked_pii_ignores_what_is_not_pii():
    assert find_unmasked_pii(None) == []
    assert find_unmasked_pii("") == []
    assert find_unmasked_pii("no signal since 2026-11-21") == []
    assert find_unmasked_pii("order 1234567890123") == []  # fails Luhn
    assert "IBAN" not in find_unmasked_pii("GB83WEST12345698765432")  # fails mod 97


def test_masked_output_of_a_mixed_text_has_nothing_left(masker):
    text = (
        "Hi @vodafone_uk, my name is Jane Doe, account AC12345678, ring +44 7700 900123 or "
        "jane@example.com; you charged card 4111 1111 1111 1111 and not GB82 WEST 1234 5698 7654 32"
    )
    out = masker.mask_text(text)
    assert find_unmasked_pii(out) == []
    assert sorted(set(_kinds(out))) == ["ACCOUNT", "CARD", "EMAIL", "HANDLE", "IBAN", "NAME", "PHONE"]


def test_lower_case_iban_and_dotted_card_are_masked_whole():
    masker = PiiMasker("k")
    masked = masker.mask_text("iban gb82 west 1234 5698 7654 32, card 4111.1111.1111.1111")
    assert masked == f"iban {masker.token('IBAN', 'GB82WEST12345698765432')}, card {masker.token('CARD', '4111111111111111')}"
    assert find_unmasked_pii(masked) == []


def test_a_raw_record_has_its_own_fields_masked_even_where_no_pattern_could_find_them():
    masker = PiiMasker("k")
    raw = '{"full_name": "Ana Núñez", "note": "ana núñez again", "email": "ana@example.com"}'
    masked = masker.mask_record(raw, {"NAME": "Ana Núñez", "EMAIL": "ana@example.com", "PHONE": None})
    assert "Núñez" not in masked and "núñez" not in masked and "ana@example.com" not in masked
    assert masked.count(masker.token("NAME", "Ana Núñez")) == 2


def test_an_iban_shaped_run_with_non_ascii_letters_is_left_alone_not_a_crash():
    # Matched case-insensitively, 'İ' (and the Kelvin sign) fit the IBAN pattern but have no base-36 value.
    masker = PiiMasker("test-key")
    text = "iban İS12 ABCD EFGH IJKL and \u212aW12 ABCD EFGH IJKL"
    assert masker.mask_text(text) == text
    assert find_unmasked_pii(text) == []
