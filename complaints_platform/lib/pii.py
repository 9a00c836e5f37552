"""What personal data is, and how it is masked: the one module that owns that rule.

Masks are keyed deterministic tokens, ``<KIND:abcdefghij>``: an HMAC-SHA256 of the normalised value
under a secret key (``COMPLAINTS_PII_KEY``). The same phone number, written any way on any channel,
becomes the same token, so joins and duplicate detection still work on masked data; rotating the key
re-tokenises everything on the next full rebuild. Without the key nobody can reverse a token.

Detected in free text: e-mail addresses, payment card numbers (Luhn-valid only), IBANs
(mod-97-valid only), phone numbers (``phonenumbers``, national and international formats), IPv4
addresses, account numbers (``AC`` + 8 digits, the CRM's shape), US SSNs and UK National Insurance
numbers, social handles, and a name after "my name is" / a sign-off. Structured fields (name,
e-mail, phone, handle, account number) are tokenised whole.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

import phonenumbers
import polars as pl

# Token digests use the letters a-p (hex shifted), so no digit of a token can look like a number.
TOKEN_PATTERN = r"<[A-Z]+:[a-p]{10}>"
_HEX_TO_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")

# '@' may be percent-encoded where an address sits inside a URL (?email=jane%40example.com).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_CARD = re.compile(r"(?<!\d)(?:\d[ .\u00a0-]?){12,18}\d(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b", re.IGNORECASE)
# An address may end a sentence ('... is 192.168.1.20.'): a full stop after it is punctuation.
_IPV4 = re.compile(
    r"(?<!\d)(?<!\d\.)(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\d|\.\d)"
)
_ACCOUNT = re.compile(r"\bAC[ -]?\d{8}\b", re.IGNORECASE)
_DATE_LIKE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_PRICE_LIKE = re.compile(r"\d+(?:,\d{3})*\.\d{2}")
_CURRENCY_SIGNS = ("£", "$", "€")
_DIGIT = re.compile(r"\d")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{2,30}\b")
# Letters of Latin-script names, accents included (Łukasz, Siân, Müller); re has no \p{Lu}.
_UPPER = "".join(ch for ch in map(chr, range(0x41, 0x250)) if ch.isupper() and ch.isalpha())
_LOWER = "".join(ch for ch in map(chr, range(0x61, 0x250)) if ch.islower() and ch.isalpha())
# A capitalised name word, with an inner capital after a prefix (MacLeod, McDonald, DiMaggio) or an
# apostrophe or hyphen (O'Brien, Jean-Luc); a name is one or two such words.
_CAP_WORD = rf"[{_UPPER}](?:[{_LOWER}'’-]|[{_UPPER}](?=[{_LOWER}]))*[{_LOWER}]"
_ANY_WORD = rf"[{_UPPER}{_LOWER}][{_UPPER}{_LOWER}'’-]*[{_UPPER}{_LOWER}]"
_CAP_NAME = rf"{_CAP_WORD}(?:[ \t]+{_CAP_WORD})?"
_ANY_NAME = rf"{_ANY_WORD}(?:[ \t]+{_ANY_WORD})?"
# "my name is" / "my name's" is followed by a name however it is written; after the weaker leads
# ("this is", "I am") only a capitalised word is a name, or "I am very unhappy" would lose its
# words. After a sign-off that ends a line or the text ("Cheers imran müller."), nothing but a name
# stands, however it is written. A dash sign-off ("- Daniel." at the very end) is a name when
# capitalised and not one of the words people end complaints with.
_MY_NAME = re.compile(rf"(?P<lead>\bmy name(?: is|'s|’s)\s+)(?P<name>{_ANY_NAME})", re.IGNORECASE)
_NAMED = re.compile(rf"(?P<lead>\b(?i:this is|i am|i'm|i’m)\s+)(?P<name>{_CAP_NAME})")
# After a sign-off, a capitalised name anywhere ("Regards, Ngozi Smith. Sincerely, ..."), but not
# one the sentence goes on from ("Thanks Virgin Media, really helpful" addresses a brand); a name in
# any case only where it ends a line or the text, emoji and hashtags aside ("Cheers imran müller.").
_SIGN_OFF = r"(?i:(?:kind |best |warm )?regards|(?:many )?thanks|thank you|cheers|sincerely|yours truly)[,!.]?\s+"
_SIGNED_OFF = re.compile(rf"(?P<lead>\b{_SIGN_OFF})(?P<name>{_ANY_NAME})(?=[^\w\n]*(?:#\w+[^\w\n]*)*(?:\n|$))")
_SIGNED_OFF_CAP = re.compile(
    rf"(?P<lead>\b{_SIGN_OFF})(?P<name>{_CAP_NAME})(?![\w'’-])(?![ \t]+[{_UPPER}])(?!\s*,\s*[{_LOWER}])"
)
_DASH_SIGNED = re.compile(
    rf"(?P<lead>(?:^|\n|\s)[-–—][ \t]*)(?P<name>{_CAP_NAME})(?=[^\w\n]*(?:#\w+[^\w\n]*)*$)"
)
_NOT_NAMES = {
    "thanks", "thank", "regards", "cheers", "please", "pls", "help", "urgent", "again", "still", "waiting",
    "sorted", "nothing", "never", "no", "not", "none", "ok", "okay", "sincerely", "best", "kind", "useless",
    "fix", "sort", "today", "now", "asap", "shocking", "terrible", "awful", "disgusting", "ridiculous",
    "for", "you", "u", "ur", "your", "the", "a", "an", "all", "everything", "anything", "that", "this",
    "it", "me", "us", "guys", "team", "everyone", "anyway", "though", "lol", "very", "so", "in",
    "advance", "much", "lot", "telco", "mate",
}


def _is_name(candidate: str) -> bool:
    return candidate.split()[0].casefold() not in _NOT_NAMES


def _luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_card(candidate: str) -> bool:
    """A payment card number: 13-19 digits (separators allowed) passing the Luhn check."""
    digits = re.sub(r"\D", "", candidate)
    return 13 <= len(digits) <= 19 and _luhn_valid(digits)


def _iban_valid(iban: str) -> bool:
    iban = iban.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def _looks_like_phone(raw: str, before: str = "", after: str = "") -> bool:
    """Phone candidates need 7+ digits, must stand alone (not inside an id such as '9f2c8283132')
    and must not be a date or an amount of money."""
    raw = raw.strip()
    return (
        len(_DIGIT.findall(raw)) >= 7
        and not before[-1:].isalnum()
        and not after[:1].isalnum()
        and not _DATE_LIKE.match(raw)  # a date, or a date and time (15-12-2025 14:10)
        and not _PRICE_LIKE.fullmatch(raw)
        and not before.rstrip().endswith(_CURRENCY_SIGNS)
    )


class PiiMasker:
    """Tokenises identifiers and masks free text under one secret key."""

    def __init__(self, key: str, default_region: str = "GB"):
        if not key:
            raise ValueError("a PII key is required (COMPLAINTS_PII_KEY)")
        self._key = key.encode("utf-8")
        self.default_region = default_region

    # --- normalisation: the same value written differently gets the same token ---------------
    def normalise_phone(self, value: str) -> str:
        try:
            number = phonenumbers.parse(value, self.default_region)
            if phonenumbers.is_possible_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pass
        return re.sub(r"\D", "", value)

    _NORMALISERS: dict[str, Callable[[str], str]] = {
        "EMAIL": lambda v: v.strip().lower().replace("%40", "@"),
        "ACCOUNT": lambda v: re.sub(r"[\s-]", "", v).upper(),
        "HANDLE": lambda v: v.strip().lstrip("@").lower(),
        "NAME": lambda v: " ".join(v.casefold().split()),
        "CARD": lambda v: re.sub(r"\D", "", v),
        "IBAN": lambda v: v.replace(" ", "").upper(),
    }

    def token(self, kind: str, value: str | None) -> str | None:
        if value is None or not str(value).strip():
            return None
        value = str(value)
        if kind == "PHONE":
            normalised = self.normalise_phone(value)
        else:
            normalised = self._NORMALISERS.get(kind, str.strip)(value)
        digest = hmac.new(self._key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()
        return f"<{kind}:{digest[:10].translate(_HEX_TO_LETTERS)}>"

    # --- free text ------------------------------------------------------------------------
    def mask_text(self, text: str | None) -> str | None:
        if text is None:
            return None
        text = _EMAIL.sub(lambda m: self.token("EMAIL", m.group()), text)
        text = _IBAN.sub(
            lambda m: self.token("IBAN", m.group()) if _iban_valid(m.group()) else m.group(), text
        )
        text = _CARD.sub(self._mask_card, text)
        text = _ACCOUNT.sub(lambda m: self.token("ACCOUNT", m.group()), text)
        text = _SSN.sub(lambda m: self.token("NATIONALID", m.group()), text)
        text = _NINO.sub(lambda m: self.token("NATIONALID", m.group()), text)
        text = _IPV4.sub(lambda m: self.token("IP", m.group()), text)
        text = self._mask_phones(text)
        text = _HANDLE.sub(lambda m: self.token("HANDLE", m.group()), text)
        for pattern in (_MY_NAME, _SIGNED_OFF, _SIGNED_OFF_CAP, _NAMED, _DASH_SIGNED):
            text = pattern.sub(self._mask_name, text)
        return text

    def _mask_name(self, match: re.Match) -> str:
        name = match.group("name")
        return match.group("lead") + (self.token("NAME", name) if _is_name(name) else name)

    def _mask_card(self, match: re.Match) -> str:
        """Mask the longest run of whole digit groups that is a card: a number followed by more
        digits (an expiry '09/27', a CVV) is still found."""
        text = match.group()
        groups = re.split(r"(?<=\d)(?=[ .\u00a0-])", text)
        for end in range(len(groups), 0, -1):
            candidate = "".join(groups[:end])
            if _is_card(candidate):
                return self.token("CARD", re.sub(r"\D", "", candidate)) + "".join(groups[end:])
        return text

    def _mask_phones(self, text: str) -> str:
        if len(_DIGIT.findall(text)) < 7:  # no phone number has fewer digits; skip the slow matcher
            return text
        pieces, last = [], 0
        for match in phonenumbers.PhoneNumberMatcher(
            text, self.default_region, leniency=phonenumbers.Leniency.POSSIBLE
        ):
            if not _looks_like_phone(
                match.raw_string, text[max(0, match.start - 2) : match.start], text[match.end : match.end + 1]
            ):
                continue
            pieces.append(text[last : match.start])
            pieces.append(
                self.token("PHONE", phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))
            )
            last = match.end
        pieces.append(text[last:])
        return "".join(pieces)

    def mask_record(self, raw: str | None, known: dict[str, str | None]) -> str | None:
        """Mask a raw payload: first the values its own fields are known to hold (a name, an
        e-mail, a phone as the source wrote them: patterns cannot find a name), then free text."""
        if raw is None:
            return None
        for kind, value in known.items():
            value = (value or "").strip()
            if len(value) >= 2:
                raw = re.sub(re.escape(value), self.token(kind, value), raw, flags=re.IGNORECASE)
        return self.mask_text(raw)

    # --- polars ---------------------------------------------------------------------------
    def mask_text_expr(self, column: str) -> pl.Expr:
        return pl.col(column).map_elements(self.mask_text, return_dtype=pl.String, skip_nulls=True)

    def token_expr(self, kind: str, column: str) -> pl.Expr:
        return pl.col(column).map_elements(
            lambda v: self.token(kind, v), return_dtype=pl.String, skip_nulls=True
        )


def find_unmasked_pii(text: str | None, default_region: str = "GB") -> list[str]:
    """Kinds of raw PII still present in a text that should be masked (for checks)."""
    if not text:
        return []
    found = []
    if _EMAIL.search(text):
        found.append("EMAIL")
    if any(_is_card(m.group()) for m in _CARD.finditer(text)):
        found.append("CARD")
    if any(_iban_valid(m.group()) for m in _IBAN.finditer(text)):
        found.append("IBAN")
    if any(
        _looks_like_phone(m.raw_string, text[max(0, m.start - 2) : m.start], text[m.end : m.end + 1])
        for m in phonenumbers.PhoneNumberMatcher(
            text, default_region, leniency=phonenumbers.Leniency.POSSIBLE
        )
    ):
        found.append("PHONE")
    return found
