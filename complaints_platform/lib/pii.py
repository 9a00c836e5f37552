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

Free text is masked by an ordered list of steps, each seeing the previous step's output. A column is
masked in bulk (``mask_texts``, ``mask_text_expr``) with exactly the same result as ``mask_text`` on
every row: a polars (Rust) regex per step, a superset of what the step could ever change, picks the
rows the step runs on, so most rows never reach Python; each distinct text is masked once.
"""

from __future__ import annotations

import functools
import hmac
import os
import pickle
import re
import string
import subprocess
import sys
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
import polars as pl

from complaints_platform.lib.phone_region import DEFAULT_REGION, check_region

# Token digests use the letters a-p (hex shifted), so no digit of a token can look like a number.
TOKEN_PATTERN = r"<[A-Z]+:[a-p]{10}>"
_HEX_TO_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def token_digest(column: str) -> pl.Expr:
    """A column of tokens as numbers (null, or not a token: null): a token's ten letters read as a
    base-26 number, whose digits a-p are 10-25. Two tokens of one kind are equal exactly when their
    digests are, so a join of millions of tokens can compare 8 bytes instead of strings of 20."""
    token = pl.col(column)
    return pl.when(token.str.contains(f"^{TOKEN_PATTERN}$")).then(token.str.slice(-11, 10).str.to_integer(base=26))


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


# --- prefilters: which rows a step could change, as polars (Rust) regexes ---------------------------
# Each is a superset of its step's Python pattern, written without look-arounds: a row it does not
# match is one the step leaves as it is, so the step need not run there. Python's classes are
# Unicode-aware and Rust's differ at the edges, so the prefilters spell out classes that cover
# Python's (complaints_platform_tests/test_pii_vectorised.py checks every code point): digits are
# ASCII here, and a row holding any other decimal digit goes through every step.
_RX_OTHER_DIGIT = r"[\d&&[^0-9]]"
_RX_SPACE = r"[\s\x1C-\x1F]"  # Python's \s also holds the information separators U+001C-U+001F
_RX_META = set(r"\.+*?()|[]{}^$#&-~")
# Under IGNORECASE Python's re also matches İ and ı for i, K (Kelvin) for k and ſ (long s) for s.
_CASE_FOLDS = {"i": "\u0130\u0131", "k": "\u212a", "s": "\u017f"}
# phonenumbers' punctuation inside a number (_VALID_PUNCTUATION, case-insensitive: x and X).
_PHONE_PUNCTUATION = (
    " ()-./X[]x~\u00a0\u00ad\u200b\u2010\u2011\u2012\u2013\u2014\u2015\u2053\u2060\u2212\u223c"
    "\u3000\u30fc\uff08\uff09\uff0d\uff0e\uff0f\uff3b\uff3d\uff5e"
)


def _rx_char(ch: str) -> str:
    if ch in _RX_META:
        return "\\" + ch
    return ch if ch.isascii() and ch.isprintable() else f"\\x{{{ord(ch):X}}}"


def _rx_class(chars: str) -> str:
    return "[" + "".join(_rx_char(ch) for ch in chars) + "]"


def _rx_words(*words: str) -> str:
    """The words as Python's re matches them case-insensitively."""
    def letter(ch: str) -> str:
        if ch.isascii() and ch.isalpha():
            return _rx_class(ch.lower() + ch.upper() + _CASE_FOLDS.get(ch.lower(), ""))
        return _rx_char(ch)
    return "(?:" + "|".join("".join(letter(ch) for ch in word) for word in words) + ")"


_RX_LETTER_I = _rx_class(string.ascii_letters + "".join(_CASE_FOLDS.values()))  # [A-Z], IGNORECASE
_RX_ALNUM_I = _rx_class(string.ascii_letters + string.digits + "".join(_CASE_FOLDS.values()))
_RX_PHONE_GAP = _rx_class(_PHONE_PUNCTUATION) + "{0,4}"
# An extension (' ext. 12', ';ext=12', ' x12', ' #12'): blanks, a word of at most 12 characters, blanks.
_RX_PHONE_EXTENSION = r"[ \x{A0}\t,]*[^0-9]{0,12}[ \x{A0}\t,\-]*"
_RX_UPPER = _rx_class(_UPPER)
_RX_LETTER = _rx_class(_UPPER + _LOWER)
_SIGN_OFF_WORDS = _rx_words("regards", "thanks", "thank you", "cheers", "sincerely", "yours truly")
# A name of one or two words (the inner-capital look-ahead of _CAP_WORD dropped), and what may follow
# a name that ends a line or the text: no letter or digit of Python's \w, hashtags aside.
_RX_NAME_PART = _rx_class(_UPPER + _LOWER + "'’-")
_RX_ANY_NAME = f"{_RX_LETTER}{_RX_NAME_PART}*{_RX_LETTER}(?:[ \t]+{_RX_LETTER}{_RX_NAME_PART}*{_RX_LETTER})?"
_RX_CAP_WORD = f"{_RX_UPPER}{_RX_NAME_PART}*{_rx_class(_LOWER)}"
_RX_CAP_NAME = f"{_RX_CAP_WORD}(?:[ \t]+{_RX_CAP_WORD})?"
_RX_REST_OF_LINE = r"[^A-Za-z0-9_\n]*(?:#[^\n]*)?"


def _rx_phone() -> str:
    """Seven digits apart by at most four of phonenumbers' punctuation, one gap possibly an
    extension: a phone the masker keeps has 7+ digits, and its text is a run phonenumbers matches."""
    def digits(n: int) -> str:
        return f"[0-9](?:{_RX_PHONE_GAP}[0-9]){{{n - 1}}}"

    runs = [digits(7)] + [f"{digits(k)}{_RX_PHONE_EXTENSION}[0-9]{{{7 - k}}}" for k in range(1, 7)]
    return "|".join(f"(?:{run})" for run in runs)


_PREFILTER = {
    "EMAIL": r"(?:@|%40)[A-Za-z0-9\-]+\.[A-Za-z0-9\-]",
    "IBAN": f"{_RX_LETTER_I}{{2}}[0-9]{{2}} ?{_RX_ALNUM_I}{{4}} ?{_RX_ALNUM_I}{{4}}",
    "CARD": r"[0-9](?:[ .\x{A0}\-]?[0-9]){12}",
    "ACCOUNT": _rx_words("ac") + r"[ \-]?[0-9]{8}",
    "SSN": r"[0-9]{3}\-[0-9]{2}\-[0-9]{4}",
    "NINO": r"[A-CEGHJ-PR-TW-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]",
    "IP": r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]",
    "PHONE": _rx_phone(),
    "HANDLE": r"@[A-Za-z0-9_]{2}",
    "MY_NAME": _rx_words("my name is", "my name's", "my name’s") + _RX_SPACE,
    "SIGNED_OFF": f"{_SIGN_OFF_WORDS}[,!.]?{_RX_SPACE}+{_RX_ANY_NAME}{_RX_REST_OF_LINE}(?:\\n|$)",
    "SIGNED_OFF_CAP": f"{_SIGN_OFF_WORDS}[,!.]?{_RX_SPACE}+{_RX_UPPER}",
    "NAMED": _rx_words("this is", "i am", "i'm", "i’m") + f"{_RX_SPACE}+{_RX_UPPER}",
    "DASH_SIGNED": f"(?:^|{_RX_SPACE})[\\-–—][ \\t]*{_RX_CAP_NAME}{_RX_REST_OF_LINE}\\n?$",
}
# Checked on every row first: a row none of the steps could change is returned as it is.
_ANY_PREFILTER = "|".join(f"(?:{rx})" for rx in [*_PREFILTER.values(), _RX_OTHER_DIGIT])


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
    # Matched case-insensitively, a run may hold 'İ' or the Kelvin sign: never an IBAN, and no base-36 digit.
    if not (15 <= len(iban) <= 34 and iban.isascii()):
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


def _names_after(pattern: re.Pattern) -> Callable[[PiiMasker, str], str]:
    def mask_names(masker: PiiMasker, text: str) -> str:
        return pattern.sub(masker._mask_name, text)

    return mask_names


class PiiMasker:
    """Tokenises identifiers and masks free text under one secret key."""

    def __init__(self, key: str, default_region: str = DEFAULT_REGION, workers: int | None = None):
        """``workers``: processes that share a large column's masking (``mask_texts``); by default
        the CPUs this process may run on, at most four."""
        if not key:
            raise ValueError("a PII key is required (COMPLAINTS_PII_KEY)")
        check_region(default_region)
        self._key = key.encode("utf-8")
        self.default_region = default_region
        self.workers = workers
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._keyed: dict[str, hmac.HMAC] = {}  # keyed once per kind (_tokens_of); not copied with the masker
        self._quick_e164 = _e164_without_parse(default_region)

    def __getstate__(self) -> dict:
        # An HMAC object cannot be copied out of its process: a copy keys its own again.
        return {**self.__dict__, "_keyed": {}}

    # --- normalisation: the same value written differently gets the same token ---------------
    def normalise_phone(self, value: str) -> str:
        quick = self._quick_e164(value)  # as written by an SMS provider, or a plainly written number
        if quick is not None:
            return quick
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
        cached = self._tokens.get((kind, value, self.default_region))
        if cached is not None:
            return cached
        token = self._tokens_of(kind, [value])[0]
        if len(self._tokens) >= _TOKEN_CACHE_SIZE:  # a bound, not an eviction policy: tokens are cheap
            self._tokens.clear()
        self._tokens[(kind, value, self.default_region)] = token
        return token

    def _tokens_of(self, kind: str, values: list[str | None]) -> list[str | None]:
        """The token of each value (``token``'s, without its cache: a bulk batch's values are
        distinct). The HMAC is keyed once per kind, with the kind's prefix already fed, and copied
        for each value: ``hmac.digest`` sets up the key and looks SHA-256 up in OpenSSL on every
        call, twice the time of the copy."""
        normalise = self.normalise_phone if kind == "PHONE" else self._NORMALISERS.get(kind, str.strip)
        keyed = self._keyed.get(kind)
        if keyed is None:
            keyed = self._keyed[kind] = hmac.new(self._key, f"{kind}:".encode(), "sha256")
        tokens = []
        for value in values:
            if value is None or not value.strip():
                tokens.append(None)
                continue
            mac = keyed.copy()
            mac.update(normalise(value).encode())
            tokens.append(f"<{kind}:{mac.hexdigest()[:10].translate(_HEX_TO_LETTERS)}>")
        return tokens

    # --- free text ------------------------------------------------------------------------
    def mask_text(self, text: str | None) -> str | None:
        """One text masked: the reference that ``mask_texts`` gives the same result as."""
        if text is None:
            return None
        for _, step in self._STEPS:
            text = step(self, text)
        return text

    def mask_texts(self, texts: pl.Series) -> pl.Series:
        """A column of texts masked, each exactly as ``mask_text`` masks it (nulls stay null).

        Every row is first checked against all steps' prefilters at once; the rows no step could
        change (most of them) are returned as they are. The rest are masked once per distinct text,
        step by step, each step running in Python only on the rows its prefilter picks; a row a step
        changed has the later steps' prefilters checked again on its new text. Over 100,000 such
        texts are shared with helper processes (``workers``).
        """
        texts = texts.cast(pl.String)
        rows = texts.str.contains(_ANY_PREFILTER).arg_true()
        if rows.len() == 0:
            return texts
        values = texts.gather(rows).to_list()
        distinct = list(dict.fromkeys(values))
        masked = dict(zip(distinct, self._shared("mask", distinct)))
        return texts.clone().scatter(rows, [masked[v] for v in values])

    def _shared(self, task: str, items: list) -> list:
        """``task`` on ``items`` (masking distinct texts, or tokenising values, ``_run``), a large
        batch shared with helper processes: both are Python and hold the GIL. Each process does its
        slice exactly as this one would."""
        workers = _workers(self.workers)
        work = len(items)
        if task == "mask":
            minimum, head_start = _PARALLEL_MIN_TEXTS, _HELPER_START_TEXTS
        else:
            kind = task.removeprefix("token:")
            head_start = _HELPER_START_TOKENS.get(kind, _HELPER_START_TOKENS["*"])
            minimum = 2 * head_start
            if kind == "PHONE":  # what a helper would save: the parses (a plainly written number has none)
                sample = items[:: max(1, len(items) // _WORK_SAMPLE)]  # estimated: the test costs a few us
                work = round(len(items) * sum(self._quick_e164(item) is None for item in sample) / max(1, len(sample)))
        if workers < 2 or work < minimum:
            return self._run(task, items)
        return _in_helpers(task, items, workers, head_start, self._key.decode("utf-8"), self.default_region, self._run)

    def _run(self, task: str, items: list) -> list:
        """``task``: "mask" (distinct texts), or "token:KIND" (values of that kind)."""
        if task == "mask":
            return self._mask_distinct(items)
        return self._tokens_of(task.removeprefix("token:"), items)

    def _mask_distinct(self, texts: list[str]) -> list[str]:
        texts = list(texts)
        kinds = [kind for kind, _ in self._STEPS]
        # runs[i, j]: step j must run on text i (its prefilter matches the text as it is now).
        runs = _prefilter_matrix(texts, kinds, other_digits=True)
        other_digit = runs[:, -1].copy()
        runs[other_digit] = True  # a digit Rust's [0-9] does not see: every step runs
        for j, (_, step) in enumerate(self._STEPS):
            changed = []
            for i in np.flatnonzero(runs[:, j]).tolist():
                text = texts[i]
                new = step(self, text)
                if new != text:
                    texts[i] = new
                    changed.append(i)
            if changed and j + 1 < len(kinds):
                again = _prefilter_matrix([texts[i] for i in changed], kinds[j + 1 :])
                runs[changed, j + 1 : len(kinds)] = again | other_digit[changed, None]
        return texts

    # --- the steps, in order --------------------------------------------------------------
    def _mask_emails(self, text: str) -> str:
        return _EMAIL.sub(lambda m: self.token("EMAIL", m.group()), text)

    def _mask_ibans(self, text: str) -> str:
        return _IBAN.sub(lambda m: self.token("IBAN", m.group()) if _iban_valid(m.group()) else m.group(), text)

    def _mask_cards(self, text: str) -> str:
        return _CARD.sub(self._mask_card, text)

    def _mask_accounts(self, text: str) -> str:
        return _ACCOUNT.sub(lambda m: self.token("ACCOUNT", m.group()), text)

    def _mask_ssns(self, text: str) -> str:
        return _SSN.sub(lambda m: self.token("NATIONALID", m.group()), text)

    def _mask_ninos(self, text: str) -> str:
        return _NINO.sub(lambda m: self.token("NATIONALID", m.group()), text)

    def _mask_ips(self, text: str) -> str:
        return _IPV4.sub(lambda m: self.token("IP", m.group()), text)

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

    def _mask_handles(self, text: str) -> str:
        return _HANDLE.sub(lambda m: self.token("HANDLE", m.group()), text)

    # Each step sees the previous one's output; the kinds are keys of _PREFILTER.
    _STEPS: tuple[tuple[str, Callable[[PiiMasker, str], str]], ...] = (
        ("EMAIL", _mask_emails),
        ("IBAN", _mask_ibans),
        ("CARD", _mask_cards),
        ("ACCOUNT", _mask_accounts),
        ("SSN", _mask_ssns),
        ("NINO", _mask_ninos),
        ("IP", _mask_ips),
        ("PHONE", _mask_phones),
        ("HANDLE", _mask_handles),
        ("MY_NAME", _names_after(_MY_NAME)),
        ("SIGNED_OFF", _names_after(_SIGNED_OFF)),
        ("SIGNED_OFF_CAP", _names_after(_SIGNED_OFF_CAP)),
        ("NAMED", _names_after(_NAMED)),
        ("DASH_SIGNED", _names_after(_DASH_SIGNED)),
    )

    def mask_record(self, raw: str | None, known: dict[str, str | None]) -> str | None:
        """Mask a raw payload: first the values its own fields are known to hold (a name, an
        e-mail, a phone as the source wrote them: patterns cannot find a name), then free text."""
        return self.mask_text(self._mask_known(raw, known))

    def mask_records(self, raws: pl.Series, known: pl.DataFrame) -> pl.Series:
        """A column of raw payloads masked, each as ``mask_record`` masks it; ``known``: a column
        per kind (NAME, EMAIL, ...) of the values each row's fields hold. The free text is masked
        in bulk (``mask_texts``)."""
        kinds = known.columns
        return self.mask_texts(
            pl.Series(
                raws.name,
                [self._mask_known(raw, dict(zip(kinds, values))) for raw, *values in zip(raws.to_list(), *known.get_columns())],
                dtype=pl.String,
            )
        )

    def _mask_known(self, raw: str | None, known: dict[str, str | None]) -> str | None:
        if raw is None:
            return None
        for kind, value in known.items():
            value = (value or "").strip()
            if len(value) >= 2:
                raw = re.sub(re.escape(value), self.token(kind, value), raw, flags=re.IGNORECASE)
        return raw

    # --- polars ---------------------------------------------------------------------------
    def mask_text_expr(self, column: str) -> pl.Expr:
        return pl.col(column).map_batches(self.mask_texts, return_dtype=pl.String, is_elementwise=True)

    def tokens(self, kind: str, values: pl.Series) -> pl.Series:
        """A column of identifiers tokenised, each as ``token`` does (blank and null give null):
        one token per distinct value, a large batch of them shared with helper processes
        (``workers``): a phone number's normalisation (phonenumbers) and every HMAC are Python,
        and a day has hundreds of thousands of them."""
        values = values.cast(pl.String)
        distinct = values.drop_nulls().unique()
        tokens = pl.concat(
            [
                # A batch at a time: a CRM of millions is not held as Python strings all at once.
                pl.Series(self._shared(f"token:{kind}", batch.to_list()), dtype=pl.String)
                for batch in (distinct.slice(start, _TOKEN_BATCH) for start in range(0, distinct.len(), _TOKEN_BATCH))
            ]
            or [pl.Series([], dtype=pl.String)]
        )
        return values.replace_strict(distinct, tokens, default=None, return_dtype=pl.String)

    def tokenise(self, frame: pl.DataFrame, kinds: Mapping[str, str]) -> pl.DataFrame:
        """The identifier columns of ``frame`` named in ``kinds`` (column -> kind), each tokenised
        (``tokens``) under its own name, one column after the other."""
        return pl.DataFrame([self.tokens(kind, frame.get_column(column)).alias(column) for column, kind in kinds.items()])

    def token_expr(self, kind: str, column: str) -> pl.Expr:
        return pl.col(column).map_batches(
            lambda values: self.tokens(kind, values), return_dtype=pl.String, is_elementwise=True
        )


_TOKEN_CACHE_SIZE = 200_000
# A helper process takes about a second to import polars and phonenumbers: below this many distinct
# texts to mask (some 2 s of work) it does not pay; meanwhile this process masks some 40,000.
_PARALLEL_MIN_TEXTS = 100_000
_HELPER_START_TEXTS = 40_000
# A helper's start is worth some 35,000 phone numbers' tokens (phonenumbers' parse is pure Python,
# some 35 us a number), or 500,000 of another kind (a copied HMAC and a string method, some 2 us);
# sharing pays from twice that.
_HELPER_START_TOKENS = {"PHONE": 35_000, "*": 500_000}
# ... or some 2,000,000 characters of texts checked for unmasked PII (raw payloads cost phonenumbers'
# matcher about 0.9 us a character, their timestamps and ids included: about 2 s of work).
_HELPER_START_FIND_CHARS = 2_000_000
_TOKEN_BATCH = 1_000_000
# Values a batch's share of phone numbers that need a parse is estimated on (the distinct values
# come in hash order, so every n-th is a fair sample).
_WORK_SAMPLE = 1_000
_HELPER_COMMAND = "from complaints_platform.lib.pii import _serve_helper; _serve_helper()"


@functools.cache
def _e164_as_written(region: str) -> Callable[[str], bool]:
    """Whether phonenumbers, parsing a value in ``region``, would give it back unchanged as E.164:
    '+', the region's country code, then a national number that phonenumbers leaves as it is: one
    of a possible length (general_desc), not starting with 0, and not starting with what the
    region's national_prefix_for_parsing strips (GB's is '0|180020'). Parsing is pure Python, some
    12-35 us a number; this test is about 1 us, and an SMS provider writes every number this way.
    Read from the library's own metadata, so a metadata change changes the test with it; where the
    country code's digits start with a shorter country code, or the region is unknown, nothing
    takes this path. complaints_platform_tests/test_pii.py holds it equal to the parse."""
    found = _code_metadata(region)
    if found is None:
        return lambda value: False
    digits, metadata = found
    lengths = frozenset(metadata.general_desc.possible_length)
    shape = re.compile(rf"\+{digits}([1-9][0-9]*)")
    strips = re.compile(metadata.national_prefix_for_parsing) if metadata.national_prefix_for_parsing else None

    def as_written(value: str) -> bool:
        found = shape.fullmatch(value)
        if found is None:
            return False
        national = found.group(1)
        return len(national) in lengths and (strips is None or strips.match(national) is None)

    return as_written


def _code_metadata(region: str) -> tuple[str, PhoneMetadata] | None:
    """The digits of ``region``'s country code and the metadata phonenumbers reads a number of that
    code by (its main region's), or None where a number cannot be told without a parse: the region
    is unknown, or the code's digits start with a shorter country code."""
    code = phonenumbers.country_code_for_region(region)
    main = phonenumbers.region_code_for_country_code(code) if code else None
    metadata = PhoneMetadata.metadata_for_region(main) if main else None
    digits = str(code)
    if metadata is None or any(int(digits[:n]) in COUNTRY_CODE_TO_REGION_CODE for n in range(1, len(digits))):
        return None
    return digits, metadata


# A phone number written with digits, spaces, hyphens and parentheses alone, '+' in front or not
# ('07700 900123', '(0)7700-900-123', '+44 (0)7700 900123').
_PLAIN_PHONE = re.compile(r"\+?[0-9 ()-]{1,40}")
_PLAIN_PHONE_SEPARATORS = re.compile(r"[ ()-]")


@functools.cache
def _e164_without_parse(region: str) -> Callable[[str], str | None]:
    """The E.164 form phonenumbers would give a value written plainly in ``region``, where it can be
    told without a parse (else None: parse it). Such a value is digits with spaces, hyphens and
    parentheses (``_PLAIN_PHONE``), either '+' and the region's country code or a national number
    that neither the region's international prefix (GB's '00') nor its country code starts; the
    national number is stripped of the national prefix as phonenumbers strips it
    (national_prefix_for_parsing, unless the whole number fits the region's pattern and the rest
    does not), and the result must be a number ``_e164_as_written`` takes. Regions whose prefix is
    rewritten (a transform rule: AR, BR, JE), and those that are not their code's main region, only
    take numbers already written in E.164. complaints_platform_tests/test_pii.py holds it equal to
    the parse on numbers written every way the platform sees, in eleven regions."""
    as_written = _e164_as_written(region)
    found = _code_metadata(region)
    if found is None or found[1].id != region or found[1].national_prefix_transform_rule:
        return lambda value: value if as_written(value) else None
    digits, metadata = found
    strips = re.compile(metadata.national_prefix_for_parsing) if metadata.national_prefix_for_parsing else None
    idd = re.compile(metadata.international_prefix) if metadata.international_prefix else None
    whole = re.compile(metadata.general_desc.national_number_pattern)
    local_only = frozenset(metadata.general_desc.possible_length_local_only)

    def kept(national: str) -> str | None:
        """What phonenumbers keeps of a national number (None: it may keep the prefix)."""
        prefix = strips.match(national) if strips is not None else None
        if prefix is None:
            return national
        rest = national[prefix.end():]
        if whole.fullmatch(national) and not whole.fullmatch(rest):
            return None
        return None if len(rest) in local_only else rest

    def e164(value: str) -> str | None:
        if as_written(value):
            return value
        if _PLAIN_PHONE.fullmatch(value) is None:
            return None
        compact = _PLAIN_PHONE_SEPARATORS.sub("", value)
        if compact.startswith("+"):
            national = compact[1 + len(digits):] if compact.startswith(digits, 1) else None
        elif compact.startswith(digits) or (idd is not None and idd.match(compact)):
            national = None
        else:
            national = compact
        national = kept(national) if national else None
        if national is None:
            return None
        candidate = f"+{digits}{national}"
        return candidate if as_written(candidate) else None

    return e164


def _workers(workers: int | None) -> int:
    """Processes a large batch is shared among: as asked, or the CPUs this process may run on, at
    most four."""
    return workers or min(_usable_cpus(), 4)


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _start_helper(key: str, region: str, task: str, items: list) -> tuple[subprocess.Popen, bytes]:
    """A fresh interpreter (not a fork: polars' thread pool does not survive one) with the items
    to work on; the key travels over its stdin, never on a command line."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    helper = subprocess.Popen(
        [sys.executable, "-c", _HELPER_COMMAND],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    return helper, pickle.dumps((key, region, task, items), protocol=pickle.HIGHEST_PROTOCOL)


def _in_helpers(
    task: str, items: list, workers: int, head_start: int, key: str, region: str, run_here: Callable[[str, list], list]
) -> list:
    """``task`` on ``items`` shared with ``workers - 1`` helper processes (``_run_task``): they get
    equal slices; this process, which need not start, does ``head_start`` items more meanwhile
    (``run_here``), and a helper's slice too if the helper fails. The results in the items' order."""
    share = max(0, (len(items) - head_start) // workers)
    if share == 0:  # a few long texts: nothing for a helper to do
        return run_here(task, items)
    own = len(items) - share * (workers - 1)
    slices = [items[own + n * share : own + (n + 1) * share] for n in range(workers - 1)]
    helpers = [_start_helper(key, region, task, part) for part in slices]
    with ThreadPoolExecutor(len(helpers)) as threads:
        replies = [threads.submit(helper.communicate, payload) for helper, payload in helpers]
        try:
            done = run_here(task, items[:own])
            for part, (helper, _), reply in zip(slices, helpers, replies):
                out, err = reply.result()
                if helper.returncode == 0:
                    done += pickle.loads(out)
                else:  # done here instead: the same result, later
                    warnings.warn(f"PII helper failed ({helper.returncode}): {err.decode()[-500:]}")
                    done += run_here(task, part)
        finally:
            for helper, _ in helpers:
                if helper.poll() is None:
                    helper.kill()
    return done


def _run_task(key: str, region: str, task: str, items: list) -> list:
    """A helper's task: "find" (``find_unmasked_pii`` of each text, no key needed), else a
    masker's (``PiiMasker._run``)."""
    if task == "find":
        return _find_each(items, region)
    return PiiMasker(key, region, workers=1)._run(task, items)


def _serve_helper() -> None:
    """A helper process's body: the task and its items pickled on stdin, the results pickled to stdout."""
    reply = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the reply
    key, region, task, items = pickle.load(sys.stdin.buffer)
    pickle.dump(_run_task(key, region, task, items), reply)
    reply.close()


def _prefilter_matrix(texts: list[str], kinds: list[str], other_digits: bool = False) -> np.ndarray:
    """Which of ``kinds``' prefilters match each text (rows x kinds), or whether a text holds a
    decimal digit other than 0-9."""
    patterns = [_PREFILTER[kind] for kind in kinds] + ([_RX_OTHER_DIGIT] if other_digits else [])
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String}).select(
        pl.col("text").str.contains(rx).alias(str(n)) for n, rx in enumerate(patterns)
    )
    return frame.to_numpy().astype(bool, copy=False).reshape(len(texts), len(patterns))


def find_unmasked_pii(text: str | None, default_region: str = DEFAULT_REGION) -> list[str]:
    """Kinds of raw PII still present in a text that should be masked (for checks)."""
    if not text:
        return []
    found = []
    # What each kind needs at least (an '@', 13 digits for a card, 2 for an IBAN, 7 for a phone)
    # is checked first: most texts (masked ones above all) have none of it.
    digits = len(_DIGIT.findall(text))
    if ("@" in text or "%40" in text) and _EMAIL.search(text):
        found.append("EMAIL")
    if digits >= 13 and any(_is_card(m.group()) for m in _CARD.finditer(text)):
        found.append("CARD")
    if digits >= 2 and any(_iban_valid(m.group()) for m in _IBAN.finditer(text)):
        found.append("IBAN")
    if digits >= 7 and any(
        _looks_like_phone(m.raw_string, text[max(0, m.start - 2) : m.start], text[m.end : m.end + 1])
        for m in phonenumbers.PhoneNumberMatcher(
            text, default_region, leniency=phonenumbers.Leniency.POSSIBLE
        )
    ):
        found.append("PHONE")
    return found


_UNMASKED_KINDS = ("EMAIL", "CARD", "IBAN", "PHONE")


def find_unmasked_pii_in(texts: pl.Series, default_region: str = DEFAULT_REGION, workers: int | None = None) -> pl.Series:
    """``find_unmasked_pii`` of every text of a column (a list of kinds; null for a null text),
    in Python only for the rows a kind's prefilter matches, each distinct text once; a batch of
    many characters is shared with helper processes (``workers``, as ``PiiMasker``'s)."""
    check_region(default_region)  # in a region phonenumbers does not know, no national number would be found
    texts = texts.cast(pl.String)
    pattern = "|".join(f"(?:{_PREFILTER[kind]})" for kind in _UNMASKED_KINDS) + f"|{_RX_OTHER_DIGIT}"
    rows = texts.str.contains(pattern).arg_true()
    values = texts.gather(rows).to_list()
    distinct = list(dict.fromkeys(values))
    kinds = dict(zip(distinct, _find_shared(distinct, default_region, workers)))
    hits = pl.DataFrame(
        {"row": rows, "kinds": [kinds[v] for v in values]},
        schema={"row": rows.dtype, "kinds": pl.List(pl.String)},
    )
    return (
        texts.to_frame("text")
        .with_row_index("row")
        .join(hits, on="row", how="left", maintain_order="left")
        .select(
            pl.when(pl.col("text").is_not_null())
            .then(pl.col("kinds").fill_null(pl.lit([], dtype=pl.List(pl.String))))
            .alias(texts.name)
        )
        .to_series()
    )


def _find_each(texts: list[str], region: str) -> list[list[str]]:
    return [find_unmasked_pii(text, region) for text in texts]


def _find_shared(texts: list[str], region: str, workers: int | None = None) -> list[list[str]]:
    """``find_unmasked_pii`` of each text, shared with helper processes when the texts are long
    enough in all to repay a helper's start: phonenumbers' matcher, the check's cost, is pure Python
    and reads every candidate run of digits (a raw payload's timestamps and ids too)."""
    workers, characters = _workers(workers), sum(map(len, texts))
    if workers < 2 or characters < 2 * _HELPER_START_FIND_CHARS:
        return _find_each(texts, region)
    # The head start in texts: this process's share of the characters, at the batch's mean length.
    head_start = _HELPER_START_FIND_CHARS * len(texts) // characters
    return _in_helpers("find", texts, workers, head_start, "", region, lambda _, items: _find_each(items, region))


def find_unmasked_pii_expr(column: str, default_region: str = DEFAULT_REGION) -> pl.Expr:
    return pl.col(column).map_batches(
        lambda texts: find_unmasked_pii_in(texts, default_region),
        return_dtype=pl.List(pl.String),
        is_elementwise=True,
    )
