"""A labelled set of complaint texts with known PII spans, and how to score a masker against it.

``labelled_texts(n, seed)`` writes complaint texts the way the four channels do (SMS, tweets,
call-centre notes, web forms) and inserts personal data of every kind the masker handles, in the
formats people really use: national and international phone numbers, cards grouped with spaces,
dashes or dots, spaced and unspaced IBANs, addresses inside URLs and tel:/mailto: links, PII at the
very start or end of the text and hard against punctuation or emoji. Every inserted value is
recorded as a span ``(start, end, kind)``. The texts also carry distractors (an order number that
fails Luhn, an IBAN that fails mod 97, prices, dates, times, version strings, durations), recorded
separately: they look like PII and must be left as written.

``score_masking(texts, masked)`` lines each masked text up with its original, finds which original
characters each ``<KIND:...>`` token replaced, and counts per kind:

- recall: a span is recalled when every letter and digit of it was replaced and at least one of the
  tokens that replaced it is of the span's kind (a span replaced only by tokens of another kind is a
  confusion; one with letters or digits left in place is partial);
- precision: a token is a false positive of its kind when it replaced nothing of any labelled span.

The same seed always gives the same texts, so a change in the numbers is a change in the masker.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

KINDS = ("EMAIL", "PHONE", "CARD", "IBAN", "IP", "ACCOUNT", "HANDLE", "NAME", "NATIONALID")
TOKEN = re.compile(r"<(?P<kind>[A-Z]+):[a-p]{10}>")


@dataclass(frozen=True)
class LabelledText:
    """A text and where its personal data is. ``formats`` and ``placements`` run parallel to
    ``spans`` (how the value was written; where it sits: url, start, end, emoji, punct, plain)."""

    text: str
    spans: list[tuple[int, int, str]]
    formats: list[str] = field(default_factory=list)
    placements: list[str] = field(default_factory=list)
    distractors: list[tuple[int, int, str]] = field(default_factory=list)
    register: str = ""


# --- values --------------------------------------------------------------------------------------


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _pick(rng: random.Random, weighted: dict[str, int]) -> str:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def _luhn_check_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(digits: str) -> bool:
    return _luhn_check_digit(digits[:-1]) == digits[-1]


def iban_check_digits(country: str, bban: str) -> str:
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{98 - int(numeric) % 97:02d}"


def iban_valid(iban: str) -> bool:
    iban = iban.replace(" ", "").upper()
    numeric = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(numeric) % 97 == 1


_FIRST = [
    "Jane", "John", "Sarah", "Mohammed", "Priya", "Aoife", "Kwame", "Emma", "Oliver", "Chloe", "Liam",
    "Fatima", "Tom", "Grace", "Ngozi", "Daniel", "Hannah", "Imran", "Megan", "Ryan", "Sophie", "Wei",
    "Siân", "José", "Zoë", "Łukasz", "Chloé", "Ana", "Björn", "Dafydd",
]
_LAST = [
    "Smith", "Jones", "Patel", "Khan", "Williams", "Brown", "Taylor", "Okafor", "Murphy", "Evans",
    "Wilson", "Ahmed", "Clarke", "Hughes", "Nowak", "García", "Müller", "Ó Briain", "MacLeod", "Chen",
]
_ASCII_FIRST = [f for f in _FIRST if f.isascii()]
_ASCII_LAST = [s for s in _LAST if s.isascii() and " " not in s]
_MAIL_DOMAINS = [
    "gmail.com", "outlook.com", "hotmail.co.uk", "yahoo.co.uk", "btinternet.com", "icloud.com",
    "sky.com", "proton.me", "live.co.uk", "aol.com",
]
_SUB_DOMAINS = [
    "mail.example.co.uk", "student.leeds.ac.uk", "staff.uni-bristol.ac.uk", "nhs.net",
    "mx.my-company.example.com", "eu.mail.example.org",
]
_BRANDS = ["Vodafone", "Sky", "EE", "BT", "Three", "Virgin Media", "O2"]
_BRAND_HANDLES = ["@VodafoneUK", "@EE", "@ThreeUK", "@O2", "@SkyHelpTeam", "@BTCare", "@virginmedia"]


def _email(rng: random.Random) -> tuple[str, str]:
    fmt = _pick(rng, {"plain": 34, "plus": 10, "subdomain": 12, "upper": 6, "mixed_case": 6,
                      "digits_underscore": 12, "hyphen_domain": 5, "short": 5})
    first, last = rng.choice(_ASCII_FIRST).lower(), rng.choice(_ASCII_LAST).lower()
    local = rng.choice([f"{first}.{last}", f"{first}{last}", f"{first[0]}.{last}", f"{first}_{last}"])
    domain = rng.choice(_MAIL_DOMAINS)
    if fmt == "plus":
        local += "+" + rng.choice(["bills", "vodafone", "complaints", "news", "2026"])
    elif fmt == "subdomain":
        domain = rng.choice(_SUB_DOMAINS)
    elif fmt == "digits_underscore":
        local = f"{first}_{last[:3]}{_digits(rng, rng.choice([2, 4]))}"
    elif fmt == "hyphen_domain":
        domain = rng.choice(["my-isp.co.uk", "smith-family.me.uk", "north-east-lettings.com"])
    elif fmt == "short":
        local, domain = first[0], rng.choice(["b.com", "x.io", "e.org"])
    value = f"{local}@{domain}"
    if fmt == "upper":
        value = value.upper()
    elif fmt == "mixed_case":
        value = f"{local.title()}@{domain.title()}"
    return value, fmt


def _uk_mobile(rng: random.Random) -> str:
    return "7" + rng.choice("134589") + _digits(rng, 8)  # without the trunk 0


def _phone(rng: random.Random) -> tuple[str, str]:
    fmt = _pick(rng, {
        "uk_mobile_spaced": 18, "uk_mobile_compact": 10, "uk_mobile_dashed": 5, "uk_mobile_dotted": 2,
        "uk_mobile_intl": 10, "uk_mobile_intl_compact": 6, "uk_mobile_00": 4, "uk_mobile_trunk_paren": 3,
        "uk_mobile_intl_trunk": 3, "uk_mobile_nbsp": 2,
        "uk_london": 7, "uk_geographic": 7, "uk_geographic_paren": 2,
        "us": 4, "us_paren": 2, "fr": 3, "de": 2, "ie": 2, "in": 2, "es": 1, "pl": 1,
    })
    m = _uk_mobile(rng)
    if fmt.startswith("uk_mobile"):
        return {
            "uk_mobile_spaced": f"0{m[:4]} {m[4:]}",
            "uk_mobile_compact": f"0{m}",
            "uk_mobile_dashed": f"0{m[:4]}-{m[4:7]}-{m[7:]}",
            "uk_mobile_dotted": f"0{m[:4]}.{m[4:7]}.{m[7:]}",
            "uk_mobile_intl": f"+44 {m[:4]} {m[4:]}",
            "uk_mobile_intl_compact": f"+44{m}",
            "uk_mobile_00": f"0044 {m[:4]} {m[4:]}",
            "uk_mobile_trunk_paren": f"(0){m[:4]} {m[4:]}",
            "uk_mobile_intl_trunk": f"+44 (0){m[:4]} {m[4:]}",
            "uk_mobile_nbsp": f"0{m[:4]}\u00a0{m[4:]}",  # pasted from a web page or a PDF
        }[fmt], fmt
    local = rng.choice("2345678") + _digits(rng, 3)
    if fmt == "uk_london":
        return f"020 {rng.choice('378')}{_digits(rng, 3)} {_digits(rng, 4)}", fmt
    if fmt in ("uk_geographic", "uk_geographic_paren"):
        area = rng.choice(["0161", "0113", "0121", "0141", "0131", "0117", "0114", "0191", "0151"])
        area = f"({area})" if fmt == "uk_geographic_paren" else area
        return f"{area} {local[:3]} {local[3]}{_digits(rng, 3)}", fmt
    if fmt in ("us", "us_paren"):
        npa, nxx = rng.choice(["415", "212", "646", "312", "617", "202", "310"]), local[:3]
        return (f"+1 {npa}-{nxx}-{_digits(rng, 4)}" if fmt == "us" else f"+1 ({npa}) {nxx}-{_digits(rng, 4)}"), fmt
    pairs = lambda: " ".join(_digits(rng, 2) for _ in range(4))  # noqa: E731
    return {
        "fr": f"+33 {rng.choice('67')} {pairs()}",
        "de": rng.choice([f"+49 30 {_digits(rng, 8)}", f"+49 15{rng.choice('1279')} {_digits(rng, 8)}"]),
        "ie": f"+353 8{rng.choice('35679')} {_digits(rng, 3)} {_digits(rng, 4)}",
        "in": f"+91 9{_digits(rng, 4)} {_digits(rng, 5)}",
        "es": f"+34 6{_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}",
        "pl": f"+48 5{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}",
    }[fmt], fmt


def _card_digits(rng: random.Random) -> str:
    prefix, length = rng.choice([
        ("4", 16), ("4", 16), ("4", 16), ("51", 16), ("53", 16), ("55", 16), ("2221", 16), ("2720", 16),
        ("34", 15), ("37", 15), ("6011", 16), ("6759", 16),
    ])
    payload = prefix + _digits(rng, length - len(prefix) - 1)
    return payload + _luhn_check_digit(payload)


def _card(rng: random.Random) -> tuple[str, str]:
    digits = _card_digits(rng)
    sep_name = _pick(rng, {"spaces": 50, "compact": 25, "dashes": 15, "dots": 5, "nbsp": 2})
    sep = {"spaces": " ", "compact": "", "dashes": "-", "dots": ".", "nbsp": "\u00a0"}[sep_name]
    if len(digits) == 15:  # American Express prints 4-6-5
        groups = [digits[:4], digits[4:10], digits[10:]]
        fmt = f"amex15_{sep_name}"
    else:
        groups = [digits[i : i + 4] for i in range(0, 16, 4)]
        fmt = f"card16_{sep_name}"
    return sep.join(groups), fmt


_IBAN_SHAPES = {
    "GB": lambda rng: rng.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL", "NAIA", "MONZ", "SRLG"]) + _digits(rng, 14),
    "DE": lambda rng: _digits(rng, 18),
    "FR": lambda rng: _digits(rng, 10) + _digits(rng, 10) + rng.choice("0123456789ABCM") + _digits(rng, 2),
    "NL": lambda rng: rng.choice(["ABNA", "INGB", "RABO", "TRIO", "SNSB", "BUNQ"]) + _digits(rng, 10),
}


def _iban_compact(rng: random.Random, country: str | None = None) -> str:
    country = country or rng.choice(["GB", "GB", "DE", "FR", "NL"])
    bban = _IBAN_SHAPES[country](rng)
    return country + iban_check_digits(country, bban) + bban


def _iban_written(rng: random.Random, compact: str) -> tuple[str, str]:
    style = _pick(rng, {"spaced": 55, "compact": 35, "lower_spaced": 5, "lower_compact": 5})
    value = " ".join(compact[i : i + 4] for i in range(0, len(compact), 4)) if "spaced" in style else compact
    return (value.lower() if style.startswith("lower") else value), f"{compact[:2]}_{style}"


def _iban(rng: random.Random) -> tuple[str, str]:
    return _iban_written(rng, _iban_compact(rng))


def _octet(rng: random.Random) -> str:
    return str(rng.choice([rng.randint(0, 9), rng.randint(10, 99), rng.randint(100, 255)]))


def _ip(rng: random.Random) -> tuple[str, str]:
    fmt = _pick(rng, {"private_192": 35, "private_10": 15, "private_172": 8, "cgnat": 5, "public": 37})
    value = {
        "private_192": lambda: f"192.168.{rng.choice(['0', '1', '1', _octet(rng)])}.{_octet(rng)}",
        "private_10": lambda: f"10.{_octet(rng)}.{_octet(rng)}.{_octet(rng)}",
        "private_172": lambda: f"172.{rng.randint(16, 31)}.{_octet(rng)}.{_octet(rng)}",
        "cgnat": lambda: f"100.{rng.randint(64, 127)}.{_octet(rng)}.{_octet(rng)}",
        "public": lambda: f"{rng.randint(1, 223)}.{_octet(rng)}.{_octet(rng)}.{_octet(rng)}",
    }[fmt]()
    return value, fmt


def _account(rng: random.Random) -> tuple[str, str]:
    fmt = _pick(rng, {"compact": 70, "lower": 10, "dashed": 10, "spaced": 10})
    d = _digits(rng, 8)
    return {"compact": f"AC{d}", "lower": f"ac{d}", "dashed": f"AC-{d}", "spaced": f"AC {d}"}[fmt], fmt


def _handle(rng: random.Random) -> tuple[str, str]:
    fmt = _pick(rng, {"brand": 40, "person": 45, "person_digits": 15})
    if fmt == "brand":
        return rng.choice(_BRAND_HANDLES), fmt
    base = rng.choice(_ASCII_FIRST) + rng.choice(["_", "", ""]) + rng.choice(_ASCII_LAST)
    base = base if rng.random() < 0.5 else base.lower()
    return ("@" + base + (_digits(rng, 2) if fmt == "person_digits" else ""))[:16], fmt


def _name(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    value = first if rng.random() < 0.4 else f"{first} {last}"
    return value, ("unicode" if not value.isascii() else "ascii") + ("_full" if " " in value else "_first")


_NI_FIRST, _NI_SECOND = "ABCEGHJKLMNOPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"


def _national_id(rng: random.Random) -> tuple[str, str]:
    prefix = "GB"
    while prefix in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ"):
        prefix = rng.choice(_NI_FIRST) + rng.choice(_NI_SECOND)
    d, suffix = _digits(rng, 6), rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{prefix} {d[:2]} {d[2:4]} {d[4:]} {suffix}", "nino_spaced"
    return f"{prefix}{d}{suffix}", "nino_compact"


_VALUES = {
    "EMAIL": _email, "PHONE": _phone, "CARD": _card, "IBAN": _iban, "IP": _ip, "ACCOUNT": _account,
    "HANDLE": _handle, "NAME": _name, "NATIONALID": _national_id,
}


# --- distractors: they look like PII and are not ----------------------------------------------


def _luhn_failing_number(rng: random.Random) -> str:
    while True:
        number = rng.choice("123456789") + _digits(rng, rng.randint(12, 15))
        if not luhn_valid(number):
            return number


def _invalid_iban(rng: random.Random) -> str:
    compact = _iban_compact(rng)
    while True:  # check digits 00 and 97 (or 01 and 98) agree mod 97, so a changed pair may still pass
        wrong = compact[:2] + f"{rng.randint(2, 98):02d}" + compact[4:]
        if not iban_valid(wrong):
            return _iban_written(rng, wrong)[0]


def _date(rng: random.Random) -> str:
    y, mo, d = rng.randint(2025, 2027), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([f"{y}-{mo:02d}-{d:02d}", f"{d:02d}/{mo:02d}/{y}", f"{d}/{mo}/{y}", f"{d:02d}.{mo:02d}.{y}",
                       f"{d:02d}-{mo:02d}-{y}", f"{d:02d}/{mo:02d}/{y % 100:02d}"])


def _time(rng: random.Random) -> str:
    h, mi = rng.randint(0, 23), rng.randint(0, 59)
    return rng.choice([f"{h:02d}:{mi:02d}", f"{h}:{mi:02d}", f"{h % 12 or 12}:{mi:02d}{'am' if h < 12 else 'pm'}"])


_DISTRACTORS = {
    "luhn_failing_number": (
        _luhn_failing_number, ["order number {}", "tracking no {}", "my order {} never arrived", "ref {}"]),
    "invalid_iban": (_invalid_iban, ["the IBAN on your letter ({}) bounces", "your bank {} rejected it"]),
    "order_ref": (lambda rng: f"#{rng.randint(10000, 999999)}", ["order {}", "ticket {}", "case {} still open"]),
    "price": (
        lambda rng: rng.choice(["£", "£", "€", "$"]) + rng.choice(
            [f"{rng.randint(5, 99)}.{rng.randint(0, 99):02d}", f"{rng.randint(1000, 9999)}.{rng.randint(0, 99):02d}",
             f"{rng.randint(1, 9)},{rng.randint(100, 999)}.{rng.randint(0, 99):02d}", f"{rng.randint(10, 999)}"]),
        ["charged {}", "my bill was {}", "{} taken from my account", "refund of {}"]),
    "date": (_date, ["since {}", "on {}", "due {}", "from {} onwards"]),
    "time": (_time, ["at {}", "around {}", "called at {} today"]),
    "date_time": (lambda rng: f"{_date(rng)} {_time(rng)}", ["at {}", "logged {}"]),
    "version": (
        lambda rng: rng.choice(["1.2.3.4.5", f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
                                f"{rng.randint(1, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
                                f"10.0.{rng.randint(19041, 22631)}.{rng.randint(1000, 4000)}"]),
        ["firmware {}", "app version {}", "router software {}"]),
    "duration": (
        lambda rng: rng.choice([f"{rng.randint(2, 12)} hours", f"{rng.randint(5, 90)} mins", f"{rng.randint(2, 14)} days",
                                f"{rng.randint(1, 3)}h {rng.randint(5, 55)}m", f"{rng.randint(2, 9)} weeks"]),
        ["for {}", "{} on hold", "down for {}"]),
    "data_amount": (
        lambda rng: rng.choice([f"{rng.randint(1, 99)}.{rng.randint(1, 9)}GB", f"{rng.randint(100, 900)}MB",
                                f"{rng.randint(1, 9)}.{rng.randint(1, 9)} Mbps"]),
        ["used {}", "speed {}", "only {} of data"]),
}


# --- where the values go ---------------------------------------------------------------------------

# A URL copied from a browser's address bar carries an e-mail address as "name%40domain".
_PERCENT_ENCODED = "https://account.example.co.uk/prefs?email={}&src=app"

# Templates hold one "{}" for the value.
_LEADS = {
    "EMAIL": ["email me at {}", "my email is {}", "contact: {}", "{} is my email", "pls reply to {}",
              "Email: {}", "send it to {} not the old one", "email address changed to {}", "reply to:{}"],
    "PHONE": ["call me on {}", "my number is {}", "ring {} pls", "cb on {}", "{} is my mobile", "Tel: {}",
              "contact no {}", "text me at {}", "alt number {}", "from my work phone {}"],
    "CARD": ["charged my card {} twice", "card number {}", "paid with {}", "card: {}", "{} was charged",
             "read out card {} - advised not to share", "debit card {} exp 09/27", "card {} 09/27"],
    "IBAN": ["refund to {}", "my IBAN is {}", "IBAN: {}", "pay it back into {}", "bank details {} please",
             "{} is my account for the refund"],
    "IP": ["router IP {}", "my IP address is {}", "ip {} keeps changing", "gateway {} not responding",
           "can't ping {}", "WAN IP {}"],
    "ACCOUNT": ["account {}", "acc no {}", "my account number is {}", "Account: {}", "{} is my account"],
    "HANDLE": ["{} sort it out", "hey {}", "cc {}", "{} why is this happening", "DM'd {} twice"],
    "NATIONALID": ["NI number {}", "NINO {}", "national insurance no. {}"],
}
# The share of each kind's values that sit inside a URL or a link, and those URLs.
_URL_SHARE = {"EMAIL": 0.10, "PHONE": 0.06, "IP": 0.20, "ACCOUNT": 0.08}
_URL_LEADS = {
    "EMAIL": ["https://account.example.co.uk/unsubscribe?email={}", "mailto:{}",
              "https://x.example/?email={}&ref=sms", _PERCENT_ENCODED],
    "PHONE": ["tel:{}", "https://x.example/callback?phone={}&t=1", "https://wa.me/{}"],
    "IP": ["http://{}/admin", "https://{}:8443/status"],
    "ACCOUNT": ["https://my.example.co.uk/account?id={}"],
}
# Names are found after an introduction or in a sign-off; sign-offs close the text.
_NAME_LEADS = {
    "my name is {}": "any", "My name is {}": "start", "my name's {}": "any", "This is {}": "start",
    "I'm {}": "start", "Regards, {}": "end", "Kind regards,\n{}": "end", "Thanks,\n{}": "end",
    "Cheers {}": "end", "Many thanks, {}": "end", "- {}": "end", "Sincerely,\n{}": "end",
}
_WRAPPERS = [("(", ")"), ("[", "]"), ('"', '"'), ("“", "”"), ("'", "'"), ("*", "*"), ("<", ">")]

_FILLERS = {
    "sms": ["no signal again", "been charged twice this month", "internet keeps dropping", "pls sort it",
            "still waiting 4 a refund", "why is my bill so high", "cant get through on the phone",
            "3rd time texting u", "sort it out!!", "no 4g in the flat since mon", "ur app wont let me log in",
            "roaming charges r a joke", "cancel my contract", "the engineer never came", "déjà vu, same fault"],
    "tweet": ["Worst customer service ever", "No broadband for days now", "Been on hold for an hour",
              "Still no refund", "Sort it out please 🙄", "#outage #broadband", "Paying for fibre, getting dial-up",
              "Absolute joke of a company", "Thanks {brand}, really helpful 🙄", "Is anyone else's internet down?",
              "Signal in Leeds city centre is non-existent", "Three weeks and counting 😤", "Café wifi is faster"],
    "call_note": ["Cust called re: billing dispute", "Advised fix within 48h", "Raised ticket with network team",
                  "Customer unhappy with roaming charges", "Offered goodwill credit", "Escalated to tier 2",
                  "DPA passed", "Cust requests callback", "Explained early termination fee",
                  "Router restarted remotely, no change", "Cust very upset, wants to cancel"],
    "form": ["Subject: Complaint about my bill", "I am writing to complain about the service I have received",
             "Please could you look into this urgently", "I have been a loyal customer for years",
             "The broadband has been dropping every evening", "I expect a full refund",
             "Nobody has replied to my previous complaint", "The direct debit was taken twice",
             "Your engineer did not turn up", "I would like this escalated"],
}
_JOINERS = {
    "sms": [" ", ". ", ", ", "! ", " - ", "\n", " 😡 ", "😡 ", " 🙏 ", "... ", "!! "],
    "tweet": [" ", ". ", "! ", " 😡 ", "🤬 ", " 🙄 ", "\n", " - "],
    "call_note": [". ", "; ", "\n", " - ", ". "],
    "form": [". ", ".\n", "\n\n", ", ", ". "],
}
_ENDINGS = {
    "sms": ["", "", ".", "!!", " 😡", "😡", "?"],
    "tweet": ["", " #fail", " 😡", "!", " #customerservice"],
    "call_note": [".", "", "."],
    "form": [".", "", ".\n"],
}
_REGISTERS = {"sms": 30, "tweet": 25, "call_note": 20, "form": 25}
_KIND_WEIGHTS = {
    "sms": {"EMAIL": 12, "PHONE": 25, "CARD": 10, "IBAN": 8, "IP": 4, "ACCOUNT": 14, "HANDLE": 2, "NAME": 14, "NATIONALID": 2},
    "tweet": {"EMAIL": 10, "PHONE": 14, "CARD": 5, "IBAN": 3, "IP": 6, "ACCOUNT": 8, "HANDLE": 30, "NAME": 6, "NATIONALID": 0},
    "call_note": {"EMAIL": 15, "PHONE": 22, "CARD": 12, "IBAN": 12, "IP": 12, "ACCOUNT": 18, "HANDLE": 1, "NAME": 4, "NATIONALID": 5},
    "form": {"EMAIL": 20, "PHONE": 18, "CARD": 12, "IBAN": 12, "IP": 8, "ACCOUNT": 14, "HANDLE": 2, "NAME": 16, "NATIONALID": 4},
}


def _pii_piece(rng: random.Random, kind: str, register: str, bare: bool) -> tuple[str, list]:
    value, fmt = _VALUES[kind](rng)
    if kind == "NAME":
        if register == "sms" and rng.random() < 0.3:
            value, fmt = value.lower(), fmt + "_lower"
        template = rng.choice(list(_NAME_LEADS))
        position = _NAME_LEADS[template]
    else:
        template, position = rng.choice(_LEADS[kind]), "any"
        if kind == "HANDLE" and rng.random() < 0.6:
            position = "start"  # a tweet opens by naming whom it is addressed to
    in_url = not bare and rng.random() < _URL_SHARE.get(kind, 0.0)
    if bare:
        template, position = "{}", "start"
    elif in_url:
        template = rng.choice(_URL_LEADS[kind])
    if in_url and kind == "PHONE":  # links carry the number without spaces
        m = _uk_mobile(rng)
        value, fmt = rng.choice([(f"0{m}", "uk_mobile_compact"), (f"+44{m}", "uk_mobile_intl_compact")])
        if "wa.me" in template:
            value, fmt = f"44{m}", "uk_mobile_intl_digits"
    if template == _PERCENT_ENCODED:
        value, fmt = value.replace("@", "%40"), fmt + "_percent_encoded"
    before, after = template.split("{}")
    opener = closer = ""
    if not in_url and kind != "NAME" and rng.random() < 0.15:
        opener, closer = rng.choice(_WRAPPERS)
        if opener == "<" and kind != "EMAIL":  # angle brackets are how mail clients quote addresses
            opener, closer = "(", ")"
    return position, [
        (before + opener, None),
        (value, ("PII", kind, fmt, "url" if in_url else "")),
        (closer + after, None),
    ]


# How often each distractor turns up: prices and dates are everywhere, a mistyped IBAN is rare.
_DISTRACTOR_WEIGHTS = {
    "price": 20, "date": 20, "time": 12, "date_time": 10, "duration": 12, "order_ref": 10,
    "data_amount": 6, "version": 4, "luhn_failing_number": 4, "invalid_iban": 2,
}


def _distractor_piece(rng: random.Random) -> tuple[str, list]:
    name = _pick(rng, _DISTRACTOR_WEIGHTS)
    make, templates = _DISTRACTORS[name]
    before, after = rng.choice(templates).split("{}")
    return "any", [(before, None), (make(rng), ("DIS", name)), (after, None)]


def _placement(text: str, start: int, end: int, hint: str) -> str:
    if hint:
        return hint
    if start == 0:
        return "start"
    if end == len(text):
        return "end"
    neighbours = text[start - 1] + text[end]
    if any(ord(ch) >= 0x2190 for ch in neighbours):  # arrows, symbols and emoji
        return "emoji"
    if any(not ch.isspace() for ch in neighbours):
        return "punct"
    return "plain"


def _one_text(rng: random.Random) -> LabelledText:
    register = _pick(rng, _REGISTERS)
    n_pii = rng.choices([0, 1, 2, 3], weights=[8, 45, 32, 15])[0]
    kinds = rng.choices(list(_KIND_WEIGHTS[register]), weights=list(_KIND_WEIGHTS[register].values()), k=n_pii)
    # Some texts open with the bare value, so PII sits at the very first character.
    # Names are only recognisable after an introduction, so they never open the text bare.
    bare = []
    if kinds and kinds[-1] != "NAME" and rng.random() < 0.08:
        bare = [_pii_piece(rng, kinds.pop(), register, bare=True)]
    pieces = [_pii_piece(rng, kind, register, bare=False) for kind in kinds]
    pieces += [_distractor_piece(rng) for _ in range(rng.choices([0, 1, 2], weights=[35, 40, 25])[0])]
    pieces += [
        ("start" if f.startswith("Subject:") else "any", [(f.replace("{brand}", rng.choice(_BRANDS)), None)])
        for f in rng.sample(_FILLERS[register], rng.randint(1, 3))
    ]
    rng.shuffle(pieces)
    ordered = [p for _, p in bare] + [p for pos, p in pieces if pos == "start"]
    ordered += [p for pos, p in pieces if pos == "any"] + [p for pos, p in pieces if pos == "end"]

    text, spans, formats, hints, distractors = "", [], [], [], []
    for i, piece in enumerate(ordered):
        if i:
            text += rng.choice(_JOINERS[register])
        for chunk, label in piece:
            if label and label[0] == "PII":
                spans.append((len(text), len(text) + len(chunk), label[1]))
                formats.append(label[2])
                hints.append(label[3])
            elif label:
                distractors.append((len(text), len(text) + len(chunk), label[1]))
            text += chunk
    text += rng.choice(_ENDINGS[register])
    return LabelledText(
        text=text,
        spans=spans,
        formats=formats,
        placements=[_placement(text, s, e, h) for (s, e, _), h in zip(spans, hints)],
        distractors=distractors,
        register=register,
    )


def labelled_texts(n: int, seed: int) -> list[LabelledText]:
    """``n`` complaint texts with their PII spans; the same ``seed`` always gives the same texts."""
    rng = random.Random(seed)
    return [_one_text(rng) for _ in range(n)]


# --- scoring -------------------------------------------------------------------------------------


def token_regions(original: str, masked: str, spans: list[tuple[int, int, str]] = ()) -> list[tuple[int, int, str]]:
    """Which characters of ``original`` each token of ``masked`` replaced, as (start, end, kind).

    A masked text is its original with some substrings replaced by tokens, so the text between
    tokens is found in the original in order. Where that placing is ambiguous (the same literal
    occurs twice, e.g. a single space between two tokens) the placing that lines tokens up with the
    labelled spans is taken; the masked text is the same under every placing.
    """
    literals = TOKEN.split(masked)[::2]
    kinds = [m["kind"] for m in TOKEN.finditer(masked)]
    if not kinds:
        if masked != original:
            raise ValueError(f"masked text is not its original: {masked!r} vs {original!r}")
        return []
    at = [""] * len(original)
    for s, e, k in spans:
        for c in range(s, e):
            at[c] = k
    prefix_any, prefix_kind = [0], defaultdict(lambda: [0])
    for k in set(kinds):
        prefix_kind[k] = [0]
    for c in range(len(original)):
        prefix_any.append(prefix_any[-1] + (at[c] != ""))
        for k in set(kinds):
            prefix_kind[k].append(prefix_kind[k][-1] + (at[c] == k))

    def score(a: int, b: int, kind: str) -> int:
        return prefix_any[b] - prefix_any[a] + prefix_kind[kind][b] - prefix_kind[kind][a]

    def occurrences(i: int) -> list[int]:
        lit = literals[i]
        if i == 0:
            return [0] if original.startswith(lit) else []
        if i == len(literals) - 1:
            p = len(original) - len(lit)
            return [p] if p >= 0 and original.endswith(lit) else []
        if not lit:
            return list(range(len(original) + 1))
        found, p = [], original.find(lit)
        while p != -1:
            found.append(p)
            p = original.find(lit, p + 1)
        return found

    best: dict[int, tuple[int, int | None]] = {p: (0, None) for p in occurrences(0)}
    trail = [best]
    for i in range(1, len(literals)):
        step: dict[int, tuple[int, int | None]] = {}
        for p in occurrences(i):
            for q, (total, _) in best.items():
                a = q + len(literals[i - 1])
                if p > a and (p not in step or total + score(a, p, kinds[i - 1]) > step[p][0]):
                    step[p] = (total + score(a, p, kinds[i - 1]), q)
        best = step
        trail.append(best)
    if not best:
        raise ValueError(f"masked text is not its original with tokens: {masked!r} vs {original!r}")
    starts, p = [], next(iter(best))
    for i in range(len(literals) - 1, -1, -1):
        starts.append(p)
        p = trail[i][p][1]
    starts.reverse()
    return [(starts[i] + len(literals[i]), starts[i + 1], kinds[i]) for i in range(len(kinds))]


@dataclass
class Scores:
    """Counts from masking a labelled set; ``recall``/``precision`` per kind read them."""

    support: Counter = field(default_factory=Counter)  # labelled spans per kind
    recalled: Counter = field(default_factory=Counter)  # fully replaced, by a token of its kind
    masked: Counter = field(default_factory=Counter)  # fully replaced, by a token of any kind
    partial: Counter = field(default_factory=Counter)  # some letters or digits left in place
    split: Counter = field(default_factory=Counter)  # recalled, but as more than one token
    tokens: Counter = field(default_factory=Counter)  # tokens produced per token kind
    false_positives: Counter = field(default_factory=Counter)  # tokens that replaced no labelled span
    overreach: Counter = field(default_factory=Counter)  # tokens that also swallowed unlabelled letters/digits
    confusions: Counter = field(default_factory=Counter)  # (labelled kind, token kind) on the same span
    by_format: dict = field(default_factory=lambda: defaultdict(Counter))  # (kind, format) -> support/recalled
    by_placement: dict = field(default_factory=lambda: defaultdict(Counter))  # (kind, placement) -> ...
    distractors: dict = field(default_factory=lambda: defaultdict(Counter))  # name -> support/masked
    misses: list = field(default_factory=list)  # (kind, format, value, masked text) of spans not recalled
    false_positive_examples: list = field(default_factory=list)  # (token kind, replaced, text)

    def recall(self, kind: str) -> float | None:
        return self.recalled[kind] / self.support[kind] if self.support[kind] else None

    def precision(self, kind: str | None = None) -> float | None:
        produced = self.tokens[kind] if kind else sum(self.tokens.values())
        wrong = self.false_positives[kind] if kind else sum(self.false_positives.values())
        return (produced - wrong) / produced if produced else None


def _alnum(text: str, start: int, end: int) -> list[int]:
    return [c for c in range(start, end) if text[c].isalnum()]


def score_masking(texts: list[LabelledText], masked: list[str], keep_examples: int = 50) -> Scores:
    """Score masked texts against their labels (see the module docstring for the rules)."""
    scores = Scores()
    for item, out in zip(texts, masked, strict=True):
        regions = token_regions(item.text, out, item.spans)
        owner = [None] * len(item.text)  # index of the token that replaced each character
        for t, (a, b, _) in enumerate(regions):
            for c in range(a, b):
                owner[c] = t
        labelled = set()
        for (s, e, kind), fmt, where in zip(item.spans, item.formats, item.placements):
            labelled.update(range(s, e))
            chars = _alnum(item.text, s, e)
            covering = {owner[c] for c in chars if owner[c] is not None}
            covering_kinds = {regions[t][2] for t in covering}
            full = all(owner[c] is not None for c in chars)
            hit = full and kind in covering_kinds
            scores.support[kind] += 1
            scores.by_format[(kind, fmt)]["support"] += 1
            scores.by_placement[(kind, where)]["support"] += 1
            for other in sorted(covering_kinds - {kind}):
                scores.confusions[(kind, other)] += 1
            if full:
                scores.masked[kind] += 1
            elif covering:
                scores.partial[kind] += 1
            if hit:
                scores.recalled[kind] += 1
                scores.by_format[(kind, fmt)]["recalled"] += 1
                scores.by_placement[(kind, where)]["recalled"] += 1
                if len(covering) > 1:
                    scores.split[kind] += 1
            elif len(scores.misses) < keep_examples:
                scores.misses.append((kind, fmt, item.text[s:e], out))
        for s, e, name in item.distractors:
            scores.distractors[name]["support"] += 1
            if any(owner[c] is not None for c in range(s, e)):
                scores.distractors[name]["masked"] += 1
        for a, b, kind in regions:
            scores.tokens[kind] += 1
            if not any(c in labelled for c in range(a, b)):
                scores.false_positives[kind] += 1
                if len(scores.false_positive_examples) < keep_examples:
                    scores.false_positive_examples.append((kind, item.text[a:b], item.text))
            elif any(c not in labelled for c in _alnum(item.text, a, b)):
                scores.overreach[kind] += 1
    return scores
