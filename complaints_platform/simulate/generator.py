"""A generated day of complaints on every channel, with the mess real sources deliver, and its truth.

``generate_day(day, seed)`` returns a ``DemoDay``: a CRM snapshot, signed-webhook deliveries for
social media, SMS messages for the provider simulator, two call-centre CSV exports and the rows of
the website's ``complaint_forms`` table, each shaped exactly as README "Input contracts" says. It is
deterministic for (day, seed); the customers depend on the seed only, so several days share them.

Planted on purpose, and recorded in ``truth`` (one row per record delivered, see ``TruthRow``):
late and malformed social events, tampered signatures, webhook retries, SMS with no body or an
unreadable time, SMS delivered twice, spam, call notes spanning lines, a ragged CSV row, a blank
line, a BOM file and a Windows-1252 file, form rows updated later, empty form messages, PII in free
text, and ~4 % of complaints sent again by the same customer with the identical text on a second
channel within the hour.

The complaint texts come from this module's own phrase pools, written separately from the category
model's training text (lib/category_corpus.py) and sharing nothing with it but the category names,
so the demo's category accuracy is an honest out-of-sample figure.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from complaints_platform.lib.silver import CATEGORIES, CHANNEL_NAMES

DEFAULT_VOLUMES = {"social_media": 250, "sms": 250, "call_center": 150, "web_forms": 150}
CRM_COLUMNS = ("account_number", "full_name", "email", "phone", "social_handle", "plan", "region", "signup_date")
CALL_CENTER_COLUMNS = (
    "call_id", "call_started_at", "agent_id", "account_number", "caller_name", "caller_phone",
    "notes", "status", "resolved_at", "wait_seconds", "handle_seconds",
)
CALL_CENTER_TZ = ZoneInfo("Europe/London")
BRAND_HANDLE = "@TelcoCare"
SMS_INBOUND_NUMBER = "+447800000100"
CROSS_CHANNEL_SHARE = 0.04
OUTCOMES = ("clean", "quarantine", "rejected", "duplicate")

# Shares of the planted mess (of each channel's base records).
SOCIAL_LATE, SOCIAL_MALFORMED, SOCIAL_TAMPERED, SOCIAL_NO_TEXT, SOCIAL_RETRIED = 0.03, 0.012, 0.012, 0.012, 0.02
SMS_MALFORMED, SMS_DUPLICATED, SMS_SPAM = 0.012, 0.016, 0.06
FORM_UPDATED = 0.10


@dataclass(frozen=True)
class SocialDelivery:
    """One POST to the webhook receiver.

    ``expect_status`` is the receiver's answer the delivery should get: 202 a new event, 200 a
    retry of a webhook-id already accepted (not stored again), 400 a body that is not valid JSON,
    401 a delivery the sender must sign with the wrong secret (``tamper``)."""

    webhook_id: str
    body: str
    expect_status: int = 202
    note: str = ""

    @property
    def tamper(self) -> bool:
        return self.expect_status == 401


@dataclass
class DemoDay:
    day: date
    seed: int
    customers: list[dict]
    social_events: list[SocialDelivery]
    sms_messages: list[dict]
    call_center_files: dict[str, bytes]
    web_form_rows: list[dict]
    # One row per record delivered on any channel (including rejected, retried and updated ones):
    # channel, source_id, category, customer_account, event_at (UTC ISO), text,
    # is_cross_channel_copy_of (source id or None), expected_outcome (OUTCOMES), rule (why, when
    # not clean), reaches_bronze (False when the receiver or the provider never passes it on),
    # late, pii_in_text, note.
    truth: list[dict] = field(default_factory=list)

    @property
    def crm_file_name(self) -> str:
        return f"customers_{self.day:%Y-%m-%d}.csv"

    def crm_csv(self) -> bytes:
        """The CRM snapshot as UTF-8 CSV bytes with a header row (README "Reference data")."""
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=CRM_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.customers)
        return out.getvalue().encode("utf-8")

    def summary(self) -> dict:
        """Records per channel, per expected outcome, and the planted cases worth knowing about."""
        per_channel: dict[str, dict[str, int]] = {}
        for row in self.truth:
            counts = per_channel.setdefault(row["channel"], {o: 0 for o in OUTCOMES})
            counts[row["expected_outcome"]] += 1
        for channel, counts in per_channel.items():
            counts["delivered"] = sum(1 for r in self.truth if r["channel"] == channel)
            counts["reaches_bronze"] = sum(1 for r in self.truth if r["channel"] == channel and r["reaches_bronze"])
        return {
            "day": self.day.isoformat(),
            "customers": len(self.customers),
            "channels": per_channel,
            "cross_channel_copies": sum(1 for r in self.truth if r["is_cross_channel_copy_of"]),
            "rules": dict(Counter(r["rule"] for r in self.truth if r["rule"])),
            "categories_of_clean": dict(Counter(r["category"] for r in self.truth if r["expected_outcome"] == "clean")),
        }


# ==================================================================================================
# Customers
# ==================================================================================================

_FIRST_NAMES = [
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Freya", "Poppy", "Harry", "Oliver", "George",
    "Noah", "Jack", "Leo", "Arthur", "Oscar", "Mohammed", "Aisha", "Fatima", "Yusuf", "Priya", "Arjun",
    "Wei", "Mei", "Hannah", "Callum", "Rhys", "Cerys", "Eilidh", "Fraser", "Siobhan", "Declan",
    "Zoë", "Chloé", "José", "Björn", "Siân", "Oisín", "Renée", "François", "Søren", "Łukasz",
    "Małgorzata", "Anaïs", "Jürgen", "Inés", "Dvořák", "Thảo", "Kofi", "Adaeze", "Tomás", "Núria",
]
_SURNAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Khan",
    "Wright", "Thompson", "Evans", "Walker", "Roberts", "Green", "Hall", "Wood", "Hughes", "Clarke",
    "O'Brien", "McDonald", "MacLeod", "Campbell", "Murphy", "Kelly", "Okafor", "Mensah", "Chen",
    "Nguyen", "Kowalski", "Nowak", "Müller", "García", "Núñez", "Ødegaard", "Ní Bhriain", "Öztürk",
    "Lefèvre", "Škoda", "Nguyễn", "Dąbrowski", "Ó Súilleabháin", "Fernández", "Rossi", "Begum",
]
_PLANS = ["SIM Only 12GB", "SIM Only Unlimited", "Pay Monthly 5G 100GB", "Pay Monthly Unlimited Max",
          "Home Fibre 150", "Home Fibre 500", "Home Fibre 900", "PAYG Essentials", "Family Bundle", "Business Mobile"]
_REGIONS = ["London", "South East", "South West", "East of England", "West Midlands", "East Midlands",
            "North West", "North East", "Yorkshire and the Humber", "Wales", "Scotland", "Northern Ireland"]
_EMAIL_DOMAINS = ["example.com", "example.co.uk", "example.net", "example.org", "mail.example.com"]


_UNDECOMPOSABLE = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "ß": "ss"})


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum() or ch in " .-'"))


def _handle_part(name: str) -> str:
    return "".join(ch for ch in _ascii(name).lower() if ch.isalnum())


def _uk_mobile(index: int) -> str:
    """A UK mobile number in national digits; 07700 900000-900999 is Ofcom's drama range."""
    block, line = divmod(index, 1000)
    return f"07700{900 + block:03d}{line:03d}"


def phone_formats(national: str, rng: random.Random) -> str:
    """The same UK number written the ways people and systems write it."""
    rest = national[1:]  # 7700900123
    return _pick(rng, [
        f"+44 {rest[:4]} {rest[4:]}",
        national,
        f"(0){rest[:4]}-{rest[4:7]}-{rest[7:]}",
        f"+44{rest}",
        f"{national[:5]} {national[5:]}",
        f"+44 (0){rest[:4]} {rest[4:]}",
    ])


def e164(national: str) -> str:
    return "+44" + national[1:]


def generate_customers(n_customers: int, seed: int) -> list[dict]:
    """The CRM snapshot: ``n_customers`` rows, the same for a seed whatever the day."""
    rng = random.Random(f"crm:{seed}")
    accounts = rng.sample(range(10_000_000, 99_999_999), n_customers)
    numbers = rng.sample(range(min(n_customers * 3, 99_000)), n_customers)
    customers, handles = [], set()
    for i in range(n_customers):
        first, last = _pick(rng, _FIRST_NAMES), _pick(rng, _SURNAMES)
        full_name = f"{first} {last}"
        user = _ascii(f"{first}.{last}").lower().replace(" ", "").replace("'", "")
        handle = "@" + _handle_part(first) + _pick(rng, ["_", "", ""]) + _handle_part(last)[:8]
        handle = handle[:13] + str(rng.randint(1, 999))
        while handle in handles:
            handle += str(rng.randint(0, 9))
        handles.add(handle)
        signup = date(2014, 1, 1) + timedelta(days=rng.randint(0, 365 * 11))
        customers.append({
            "account_number": f"AC{accounts[i]}",
            "full_name": full_name if rng.random() > 0.04 else full_name.upper(),
            "email": f"{user}{rng.randint(1, 99) if rng.random() < 0.4 else ''}@{_pick(rng, _EMAIL_DOMAINS)}",
            "phone": phone_formats(_uk_mobile(numbers[i]), rng),
            "social_handle": handle,
            "plan": _pick(rng, _PLANS),
            "region": _pick(rng, _REGIONS),
            "signup_date": signup.isoformat(),
            "_national": _uk_mobile(numbers[i]),
        })
    return customers


# ==================================================================================================
# Complaint texts: this module's own phrase pools (the "demo author").
# ==================================================================================================

_TOWNS = ["Huddersfield", "Barnsley", "Stoke", "Northampton", "Peterborough", "Gloucester", "Worcester",
          "Falkirk", "Paisley", "Wrexham", "Rotherham", "Doncaster", "Slough", "Basildon", "Torquay", "Hastings"]


def _pick(rng: random.Random, pool):
    return pool[rng.randrange(len(pool))]


def _gist_slots(rng: random.Random) -> dict[str, str]:
    return {
        "town": _pick(rng, _TOWNS),
        "hrs": str(rng.randint(2, 30)),
        "days": str(rng.randint(2, 12)),
        "mins": str(rng.choice([25, 35, 50, 70, 80, 100, 110])),
        "gbp": f"£{rng.randint(6, 240)}.{rng.randint(0, 99):02d}",
        "gbp2": f"£{rng.randint(10, 60)}",
        "mbps": f"{rng.choice(['0.4', '1', '1.5', '3'])}mb",
        "k": str(rng.randint(2, 6)),
        "wk": _pick(rng, ["Mon", "Tues", "Weds", "Thurs", "Fri", "Sat", "Sun"]),
        "phone_model": _pick(rng, ["S23", "iPhone 12", "iPhone 16", "A15", "Pixel 9", "Edge 40", "Find X5"]),
    }


# Short gists of a complaint, per category, in this author's voice.
_GISTS = {
    "poor_network": [
        "signal's been non-existent at home since {wk}", "phone keeps jumping between H+ and no signal",
        "broadband dies every night around 9", "can't hold a call for more than 2 mins",
        "internet speed is shocking, {mbps} on a good day", "lost all service after the storm and it hasn't come back",
        "whole postcode has no phone signal", "work video calls drop every 10 minutes",
        "phone says No Service in the middle of {town}", "the fibre keeps resetting itself, the line is rubbish",
        "{days} days without home internet now", "texts take hours to come through",
        "calls go dead after a few seconds", "no data whatsoever on the A road out of {town}",
        "wifi calling is the only way I can ring anyone from my house", "downloads stall and never finish",
        "outage in {town} again??", "upload speed has collapsed to nothing",
        "the line crackles so much I can't hear a word", "the football stream keeps buffering, internet is awful",
        "mobile data just doesn't work in {town} station", "4G has been dead in our road for {days} days",
        "broadband has dropped {k} times today already", "the network's been down since this morning",
    ],
    "incorrect_billing": [
        "you've charged me {gbp} for calls to numbers I don't know", "price went up again even though I'm mid-contract",
        "been charged twice for the same month again", "my refund of {gbp} still hasn't shown up",
        "why am I paying for a line I cancelled?", "direct debit came out early and now I'm overdrawn",
        "the bill has a {gbp2} 'service charge' nobody explained", "charged roaming on holiday even with the add-on",
        "exit fee of {gbp} when I was already out of contract", "this month's bill is {gbp} more than my contract says",
        "charged for phone insurance I never took out", "the discount I was promised never appeared on the bill",
        "you took a payment after I'd switched to another network", "paying {gbp2} a month more than the advert said",
        "billed for a router I returned weeks ago", "my account says I owe {gbp} but I've paid every bill",
        "got a bill for {gbp} for data I never used", "the annual increase was applied twice",
    ],
    "bad_customer_service": [
        "on hold for {mins} mins then cut off", "nobody called me back like they promised",
        "the bot keeps sending me the same useless link", "been passed to {k} different teams and nobody can help",
        "staff at the {town} shop were really rude to my mum", "complaint has been open {days} days with zero updates",
        "engineer appointment missed and no one told me", "keep being told someone will email me, nothing ever comes",
        "the agent hung up when I asked for a manager", "waited in all day for a technician who never came",
        "every time I ring I get a different answer", "my complaint was closed without anyone speaking to me",
        "the live chat says an agent will join shortly, {mins} mins later still nobody",
        "the person on the phone was sarcastic and unhelpful", "nobody at your company seems to read emails",
        "I was promised a call from a supervisor on {wk}, never happened",
    ],
    "device_equipment": [
        "new phone arrived dead and won't turn on", "the hub keeps rebooting every hour",
        "new sim says SIM not provisioned", "eSIM won't activate on my new {phone_model}",
        "screen has lines across it after 2 weeks", "battery goes from 100 to 20 by lunchtime",
        "replacement handset still not sent after {days} days", "phone stuck on the logo screen",
        "router delivered without the power cable", "phone came back from repair still broken",
        "my {phone_model} gets hot and shuts down", "the sim card you sent doesn't fit, wrong size",
        "the touchscreen on the new phone randomly stops responding", "the wifi booster you sent is faulty",
        "my upgrade phone has been 'processing' for {days} days and hasn't shipped", "charging port on the {phone_model} has stopped working",
        "the set-top box won't load any channels", "the camera on the new {phone_model} is blurry",
    ],
    "other": [
        "what time does the {town} shop shut today?", "can I get a PAC code by text?", "do you do SIM only deals for students?",
        "thanks for sorting my upgrade so quickly yesterday!", "is the new {phone_model} in stock yet?",
        "love the new app, much easier", "how do I add international calls to my plan?",
        "can you tell me when my contract ends please", "the guy in the {town} store was brilliant, thank you",
        "how do I set up a new voicemail pin?", "moving to {town} next month, can I take my broadband with me?",
        "cheers for the quick reply", "ok thanks that worked", "does my plan include EU roaming?",
    ],
}

_SPAM_TEXTS = [
    "WINNER!! Your number has been picked for a £500 shopping voucher. Claim at the link before midnight",
    "Your parcel could not be delivered. Pay the £2.99 redelivery fee now",
    "You are owed £2,340 in mis-sold finance. Reply YES for a free check",
    "FREE spins for new players, 18+, text SPIN now",
    "Congrats, you've been chosen for our customer survey, win an iPad, call now",
    "Cheap loans approved in minutes, no credit checks, reply LOAN",
]

_SOCIAL_OPENERS = ["{brand}", "{brand}", "Hey {brand}", "{brand} seriously", "{brand} pls", "@ {brand}", ""]
_SOCIAL_TAILS = ["", "", " #annoyed", " 😤", " 🙄🙄", " #fail", " !!!", " 😡", " ffs", " #help", " 🤬 #nothappy"]
_SMS_ENDS = ["", "", " pls sort", " plz help", " ??", " asap", " thx", " ty"]
_WEB_SUBJECTS = {
    "poor_network": ["No signal", "Internet keeps dropping", "Network problem", "Broadband fault"],
    "incorrect_billing": ["Wrong bill", "Overcharged", "Refund", "Billing error"],
    "bad_customer_service": ["Complaint about staff", "Nobody called back", "Terrible support"],
    "device_equipment": ["Faulty phone", "Router not working", "SIM problem", "Order not arrived"],
    "other": ["Question", "Enquiry", "Feedback", "Contract question"],
}
_WEB_OPENERS = ["Hi,", "Hello,", "Dear Telco,", "To the complaints team,", "", ""]
_WEB_MIDDLES = [
    "This has been going on for a while now.", "I have tried everything suggested on your website.",
    "I have been a customer for years and I am disappointed.", "I work from home so this really matters.",
    "My elderly father relies on this.", "",
]
_WEB_ENDS = ["Please get back to me.", "Can someone contact me to resolve this.", "Thanks.", "I look forward to your reply.", ""]

_AGENT_LEADS = ["cust adv", "CLR states", "cust rang re", "caller c/o", "cust chasing", "Cust calling about", "cx says"]
_AGENT_TRAILS = {
    "poor_network": ["ran checks, area fault logged", "line test ok, sent to NOC", "adv restart + raised ticket"],
    "incorrect_billing": ["bill reviewed, credit raised", "passed to billing", "refund req submitted"],
    "bad_customer_service": ["apologised, complaint logged", "esc to TL", "cb booked 24h"],
    "device_equipment": ["swap approved", "returns label sent", "repair booked"],
    "other": ["info given", "query answered", "no further action"],
}
_AGENT_GENERIC = ["DPA ok", "acc verified", "cust v unhappy", "cust calm", "tbc", "will f/u", "notes added"]


def _pii_phrase(rng: random.Random, customer: dict) -> str:
    return _pick(rng, [
        f"my number is {customer['phone']}",
        f"acc no {customer['account_number']}",
        f"email me on {customer['email']}",
        f"account {customer['account_number']}",
        f"call me on {phone_formats(customer['_national'], rng)}",
    ])


def gist_template(rng: random.Random, category: str, other_than: str | None = None) -> str:
    """One of the category's complaint templates (another than ``other_than``, when given)."""
    return _pick(rng, [t for t in _GISTS[category] if t != other_than])


def complaint_gist(rng: random.Random, category: str, template: str | None = None) -> str:
    """What a complaint is about, before a channel's register wraps it."""
    return (template or gist_template(rng, category)).format_map(_gist_slots(rng))


def complaint_text(
    rng: random.Random, channel: str, category: str, customer: dict | None, gist: str | None = None
) -> tuple[str, bool]:
    """A complaint (or other message) in the channel's register; also whether it carries PII."""
    gist = gist or complaint_gist(rng, category)
    pii = customer is not None and rng.random() < 0.12
    extra = _pii_phrase(rng, customer) if pii else ""
    if channel == "social_media":
        opener = _pick(rng, _SOCIAL_OPENERS).format(brand=BRAND_HANDLE)
        text = " ".join(p for p in (opener, gist, extra) if p) + _pick(rng, _SOCIAL_TAILS)
        if rng.random() < 0.08:
            text = text.upper()
    elif channel == "sms":
        text = gist.lower() if rng.random() < 0.7 else gist
        text = text.replace("you", "u").replace("please", "pls") if rng.random() < 0.4 else text
        text = " ".join(p for p in (text, extra) if p) + _pick(rng, _SMS_ENDS)
    elif channel == "call_center":
        lead = _pick(rng, _AGENT_LEADS)
        trail = _pick(rng, _AGENT_TRAILS[category])
        generic = _pick(rng, _AGENT_GENERIC)
        sep = "\n" if rng.random() < 0.25 else ". "
        text = f"{lead} {gist}{sep}{trail}. {generic}"
        if pii:
            text += f". cust mob {phone_formats(customer['_national'], rng)}"
    else:
        body = [_pick(rng, _WEB_OPENERS), gist[:1].upper() + gist[1:] + ".", _pick(rng, _WEB_MIDDLES)]
        if pii:
            body.append(extra[:1].upper() + extra[1:] + ".")
        body.append(_pick(rng, _WEB_ENDS))
        text = " ".join(p for p in body if p)
    return text, pii


# ==================================================================================================
# The day
# ==================================================================================================

_HOUR_WEIGHTS = [1, 1, 0.5, 0.5, 0.5, 1, 2, 4, 7, 9, 9, 8, 8, 8, 8, 8, 8, 9, 10, 10, 9, 7, 4, 2]


def _moment(rng: random.Random, day: date, start_hour: int = 0, end_hour: int = 24) -> datetime:
    hours = list(range(start_hour, end_hour))
    hour = rng.choices(hours, weights=[_HOUR_WEIGHTS[h] for h in hours])[0]
    return datetime.combine(day, time(hour), tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(3600))


def _iso_z(moment: datetime, millis: bool = False) -> str:
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def _iso_mixed(rng: random.Random, moment: datetime) -> str:
    """The same instant written with one of the offsets social platforms use."""
    offset = _pick(rng, [timedelta(0), timedelta(0), timedelta(hours=1), timedelta(hours=-5), timedelta(0)])
    text = moment.astimezone(timezone(offset)).replace(microsecond=0).isoformat()
    return text.replace("+00:00", "Z") if offset == timedelta(0) and rng.random() < 0.5 else text


def _category(rng: random.Random, other_share: float = 0.18) -> str:
    complaint = [c for c in CATEGORIES if c != "other"]
    if rng.random() < other_share:
        return "other"
    return rng.choices(complaint, weights=[0.34, 0.26, 0.22, 0.18])[0]


def _truth(channel: str, source_id: str, category: str, customer: dict | None, event_at: datetime, text,
           outcome: str = "clean", rule: str | None = None, reaches_bronze: bool = True, late: bool = False,
           pii: bool = False, copy_of: str | None = None, note: str = "") -> dict:
    return {
        "channel": channel, "source_id": source_id, "category": category,
        "customer_account": customer["account_number"] if customer else None,
        "event_at": event_at.astimezone(timezone.utc).isoformat(), "text": text,
        "is_cross_channel_copy_of": copy_of, "expected_outcome": outcome, "rule": rule,
        "reaches_bronze": reaches_bronze, "late": late, "pii_in_text": pii, "note": note,
    }


@dataclass
class _Complaint:
    """One complaint before it is written out in its channel's shape."""

    channel: str
    category: str
    customer: dict | None
    event_at: datetime
    text: str | None
    pii: bool = False
    source_id: str = ""
    copy_of: _Complaint | None = None  # the original, when this is a cross-channel copy
    has_copy: bool = False  # an original with a copy stays clean, so the pair stays a pair
    sender: str | None = None  # SMS from a number outside the CRM
    note: str = ""

    @property
    def plain(self) -> bool:
        """Neither a copy nor an original with one: free to be made late, malformed, updated..."""
        return self.copy_of is None and not self.has_copy

    def truth(self, outcome: str = "clean", rule: str | None = None, **extra) -> dict:
        if self.copy_of is not None and outcome == "clean":
            outcome, rule = "duplicate", "same_contact_same_text"
        return _truth(
            self.channel, self.source_id, self.category, self.customer, extra.pop("event_at", self.event_at),
            extra.pop("text", self.text), outcome, rule, pii=self.pii,
            copy_of=self.copy_of.source_id if self.copy_of else None, **{"note": self.note, **extra},
        )


class _DayBuilder:
    def __init__(self, day: date, seed: int, customers: list[dict]):
        self.day, self.seed, self.customers = day, seed, customers
        self.rng = random.Random(f"demo:{seed}:{day.isoformat()}")
        self.truth: list[dict] = []

    def _token(self, n: int, alphabet: str = "0123456789abcdef") -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def base(self, channel: str, n: int) -> list[_Complaint]:
        out = []
        for _ in range(n):
            category = _category(self.rng)
            customer = _pick(self.rng, self.customers) if self.customers and self.rng.random() < 0.9 else None
            text, pii = complaint_text(self.rng, channel, category, customer)
            out.append(_Complaint(channel, category, customer, _moment(self.rng, self.day), text, pii))
        return out

    def spam_sms(self, n: int) -> list[_Complaint]:
        return [
            _Complaint("sms", "other", None, _moment(self.rng, self.day), _pick(self.rng, _SPAM_TEXTS),
                       sender="+447" + str(self.rng.randint(100_000_000, 999_999_999)), note="spam")
            for _ in range(n)
        ]

    def cross_channel_copies(self, by_channel: dict[str, list[_Complaint]]) -> None:
        """Copy ~4 % of complaints to a second channel: same customer, identical text, within an hour.

        Call-centre notes are the agent's words, never a customer's verbatim text, so copies move
        between social media, SMS and web forms only."""
        channels = ("social_media", "sms", "web_forms")
        pool = [
            c for ch in channels for c in by_channel[ch]
            if c.customer is not None and c.category != "other" and c.event_at.hour < 23
        ]
        total = sum(len(v) for v in by_channel.values())
        for original in self.rng.sample(pool, min(len(pool), round(total * CROSS_CHANNEL_SHARE))):
            target = _pick(self.rng, [ch for ch in channels if ch != original.channel])
            when = original.event_at + timedelta(minutes=self.rng.randint(4, 50))
            copy = _Complaint(target, original.category, original.customer, when, original.text, original.pii,
                              copy_of=original, note="same text sent on a second channel")
            original.has_copy = True
            by_channel[target].append(copy)

    def assign_ids(self, by_channel: dict[str, list[_Complaint]]) -> None:
        """Every record's source id, before any channel is written (a copy names its original's)."""
        for channel in CHANNEL_NAMES:
            by_channel[channel].sort(key=lambda c: c.event_at)
        for i, c in enumerate(by_channel["call_center"]):
            c.source_id = f"CALL-{self.day:%Y%m%d}-{i + 1:05d}"
        first_form_id = self.day.toordinal() * 10_000
        for i, c in enumerate(by_channel["web_forms"]):
            c.source_id = str(first_form_id + i + 1)
        for c in by_channel["sms"]:
            c.source_id = "SM" + self._token(32)
        for c in by_channel["social_media"]:
            c.source_id = "msg_" + self._token(27, "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")

    # --- social media -----------------------------------------------------------------------
    def social(self, complaints: list[_Complaint]) -> list[SocialDelivery]:
        rng = self.rng
        deliveries: list[SocialDelivery] = []
        for c in complaints:
            late = c.plain and rng.random() < SOCIAL_LATE
            created = c.event_at - timedelta(days=rng.randint(1, 3)) if late else c.event_at
            author = (
                {"handle": c.customer["social_handle"], "display_name": _display_name(rng, c.customer["full_name"])}
                if c.customer
                else {"handle": f"@user{rng.randint(10_000, 99_999_999)}",
                      "display_name": _pick(rng, ["Sam", "J", "🌸 Lou 🌸", "Mr Grumpy"])}
            )
            data = {
                "platform": "twitter" if rng.random() < 0.8 else "facebook",
                "post_id": str(rng.randint(10**17, 10**18)),
                "author": author,
                "text": c.text,
                "created_at": _iso_mixed(rng, created),
                "in_reply_to": None,
                "lang": "en",
            }
            roll = rng.random() if c.plain else 1.0
            outcome, rule, status, note = "clean", None, 202, "late: created 1-3 days earlier" if late else ""
            if roll < SOCIAL_NO_TEXT:
                if rng.random() < 0.5:
                    del data["text"]
                else:
                    data["text"] = None
                outcome, rule, note = "quarantine", "missing_text", "event without text"
            body = _json_body(created + timedelta(seconds=rng.randint(1, 9)), data)
            roll -= SOCIAL_NO_TEXT
            if 0 <= roll < SOCIAL_MALFORMED:
                body = body[: rng.randint(20, len(body) - 5)]  # truncated in transit: not JSON
                outcome, rule, status, note = "rejected", "malformed_json", 400, "truncated body, not JSON"
            elif 0 <= roll - SOCIAL_MALFORMED < SOCIAL_TAMPERED:
                outcome, rule, status, note = "rejected", "bad_signature", 401, "sign with the wrong secret"
            deliveries.append(SocialDelivery(c.source_id, body, status, note))
            self.truth.append(c.truth(outcome, rule, event_at=created, text=data.get("text"),
                                      reaches_bronze=status == 202, late=late, note=note or c.note))
        # Brand replies in the same feed: category other, never complaints.
        for _ in range(max(1, len(complaints) // 40)):
            when = _moment(rng, self.day, 8, 22)
            reply = _Complaint("social_media", "other", None, when, _pick(rng, _BRAND_REPLIES),
                               source_id="msg_" + self._token(27), note="brand reply")
            data = {"platform": "twitter", "post_id": str(rng.randint(10**17, 10**18)),
                    "author": {"handle": BRAND_HANDLE, "display_name": "Telco Care"}, "text": reply.text,
                    "created_at": _iso_mixed(rng, when), "in_reply_to": str(rng.randint(10**17, 10**18)), "lang": "en"}
            deliveries.append(SocialDelivery(reply.source_id, _json_body(when, data), 202, reply.note))
            self.truth.append(reply.truth())
        # Retries: the platform sends an accepted webhook again (same id, same body).
        accepted = [d for d in deliveries if d.expect_status == 202]
        for original in rng.sample(accepted, min(len(accepted), max(1, round(len(complaints) * SOCIAL_RETRIED)))):
            deliveries.append(SocialDelivery(original.webhook_id, original.body, 200, "retry of an accepted webhook"))
            first = next(t for t in self.truth if t["source_id"] == original.webhook_id)
            self.truth.append({**first, "expected_outcome": "duplicate", "rule": "webhook_replay",
                               "reaches_bronze": False, "is_cross_channel_copy_of": None, "note": "webhook retry"})
        return deliveries

    # --- SMS --------------------------------------------------------------------------------
    def sms(self, complaints: list[_Complaint]) -> list[dict]:
        rng = self.rng
        messages: list[dict] = []
        clean: list[dict] = []
        for c in complaints:
            sender = c.sender or (
                e164(c.customer["_national"]) if c.customer else "+447" + str(rng.randint(100_000_000, 999_999_999))
            )
            message = {"id": c.source_id, "from": sender, "to": SMS_INBOUND_NUMBER, "body": c.text,
                       "received_at": _iso_z(c.event_at), "segments": max(1, math.ceil(len(c.text or "") / 153))}
            outcome, rule, reaches, note = "clean", None, True, c.note
            if c.plain and not c.sender and rng.random() < SMS_MALFORMED:
                kind = rng.randrange(3)
                if kind == 0:
                    del message["body"]
                    outcome, rule, note = "quarantine", "missing_text", "no body field"
                elif kind == 1:
                    message["body"] = None
                    outcome, rule, note = "quarantine", "missing_text", "body is null"
                else:
                    message["received_at"] = _pick(rng, ["yesterday", "21/13/2026 25:61", ""])
                    outcome, rule, reaches, note = "rejected", "unreadable_received_at", False, "never served: no window can hold it"
            elif c.plain:
                clean.append(message)
            messages.append(message)
            self.truth.append(c.truth(outcome, rule, text=message.get("body"), reaches_bronze=reaches, note=note))
        # An overlapping page: the same message served twice.
        for original in rng.sample(clean, min(len(clean), max(1, round(len(complaints) * SMS_DUPLICATED)))):
            messages.append(dict(original))
            first = next(t for t in self.truth if t["source_id"] == original["id"])
            self.truth.append({**first, "expected_outcome": "duplicate", "rule": "same_source_record",
                               "note": "served twice (overlapping page)"})
        messages.sort(key=lambda m: (str(m.get("received_at")), m["id"]))
        return messages

    # --- call centre ------------------------------------------------------------------------
    def call_center(self, complaints: list[_Complaint]) -> dict[str, bytes]:
        """Two exports named by the start of the 12-hour UTC window they cover: the morning one
        UTF-8 with a BOM and a ragged row, the afternoon one Windows-1252 with a blank line."""
        rng = self.rng
        files = {}
        for start_hour in (0, 12):
            calls = [c for c in complaints if start_hour <= c.event_at.hour < start_hour + 12]
            cp1252 = start_hour == 12
            out = io.StringIO(newline="")
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(CALL_CENTER_COLUMNS)
            ragged_at = rng.randrange(len(calls)) if calls and not cp1252 else -1
            blank_at = rng.randrange(len(calls)) if calls and cp1252 else -1
            for j, c in enumerate(calls):
                local = c.event_at.astimezone(CALL_CENTER_TZ)
                fmt = "%Y-%m-%d %H:%M:%S" if rng.random() < 0.6 else "%d/%m/%Y %H:%M"
                status = rng.choices(["open", "resolved", "escalated", "callback"], weights=[3, 4, 2, 1])[0]
                wait, handle = rng.randint(5, 2400), rng.randint(60, 1800)
                resolved = ""
                if status == "resolved":
                    resolved = (local + timedelta(seconds=wait + handle + rng.randint(0, 5400))).strftime(fmt)
                customer = c.customer
                typed = _typed_name(rng, customer["full_name"]) if customer else _pick(rng, ["", "unknown", "Mr Hill", "Ms Ortega"])
                notes = _cp1252_safe(c.text) if cp1252 else c.text
                account = ""
                if customer and rng.random() < 0.7:
                    account = customer["account_number"] if rng.random() < 0.85 else customer["account_number"].lower()
                row = [
                    c.source_id, local.strftime(fmt), f"AG{rng.randint(100, 999)}", account,
                    _cp1252_safe(typed) if cp1252 else typed,
                    phone_formats(customer["_national"], rng) if customer and rng.random() < 0.8 else "",
                    notes, status if rng.random() < 0.9 else status.capitalize(), resolved, str(wait), str(handle),
                ]
                outcome, rule, note = "clean", None, "notes span lines" if "\n" in notes else ""
                if j == ragged_at:
                    row += ["", "stray value"]  # an export bug: two fields too many
                    outcome, rule, note = "quarantine", "unparseable_record", "ragged row"
                if j == blank_at:
                    out.write("\r\n")
                writer.writerow(row)
                self.truth.append(c.truth(outcome, rule, text=notes, note=note))
            name = f"calls_{self.day:%Y%m%d}T{start_hour:02d}00.csv"
            text = out.getvalue()
            files[name] = text.encode("cp1252") if cp1252 else b"\xef\xbb\xbf" + text.encode("utf-8")
        return files

    # --- web forms --------------------------------------------------------------------------
    def web_forms(self, complaints: list[_Complaint]) -> list[dict]:
        rng = self.rng
        rows: list[dict] = []
        plain = [i for i, c in enumerate(complaints) if c.plain]
        empty = set(rng.sample(plain, min(2, len(plain))))
        for i, c in enumerate(complaints):
            person = c.customer or _walk_in(rng)
            message, outcome, rule, note = c.text, "clean", None, c.note
            if i in empty:
                message = _pick(rng, ["", "   "])
                outcome, rule, note = "quarantine", "missing_text", "empty message"
            submitted = c.event_at.replace(tzinfo=None)  # the table holds naive UTC
            row = {
                "id": int(c.source_id), "submitted_at": submitted, "updated_at": submitted,
                "full_name": person["full_name"], "email": person["email"],
                "phone": phone_formats(person["_national"], rng) if rng.random() < 0.7 else None,
                "account_number": c.customer["account_number"] if c.customer and rng.random() < 0.65 else None,
                "subject": _pick(rng, _WEB_SUBJECTS[c.category]), "message": message, "status": "new",
            }
            rows.append(row)
            if outcome == "clean" and c.plain and rng.random() < FORM_UPDATED:
                later = min(submitted + timedelta(minutes=rng.randint(10, 300)),
                            datetime.combine(self.day, time(23, 59, 59)))
                rows.append({**row, "updated_at": later, "status": _pick(rng, ["in_progress", "closed"])})
                self.truth.append(c.truth("duplicate", "same_source_record", text=message,
                                          note="first version, superseded by a later update"))
                self.truth.append(c.truth(text=message, note="latest version of an updated form"))
            else:
                self.truth.append(c.truth(outcome, rule, text=message, note=note))
        rows.sort(key=lambda r: (r["updated_at"], r["id"]))
        return rows


def _json_body(timestamp: datetime, data: dict) -> str:
    # ASCII-only JSON (non-ASCII as \u escapes), as many webhook senders do: the signed bytes are
    # then the same however a receiver decodes them.
    return json.dumps({"type": "social.post.created", "timestamp": _iso_z(timestamp, millis=True), "data": data})


_BRAND_REPLIES = [
    "Hi there, sorry to hear this. Please DM us and we'll take a look ^KB",
    "Thanks for letting us know, can you DM us your postcode? ^RM",
    "Glad it's sorted, enjoy your weekend! ^AL",
]


def _display_name(rng: random.Random, full_name: str) -> str:
    first = full_name.split(" ")[0]
    return _pick(rng, [full_name, first, first + " 🙃", full_name.title()])


def _typed_name(rng: random.Random, full_name: str) -> str:
    return _pick(rng, [full_name, full_name.lower(), full_name.split(" ")[-1], full_name.upper()])


def _cp1252_safe(text: str) -> str:
    """What a Windows-1252 export can hold: letters it lacks lose their accents, emoji are dropped."""
    out = []
    for ch in text:
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            out.append(_ascii(ch))
    return "".join(out)


def _walk_in(rng: random.Random) -> dict:
    """Someone not (yet) in the CRM filling in the form."""
    first, last = _pick(rng, _FIRST_NAMES), _pick(rng, _SURNAMES)
    national = f"07700{rng.randint(950, 999)}{rng.randint(0, 999):03d}"
    return {"full_name": f"{first} {last}", "email": f"{_ascii(first).lower()}{rng.randint(1, 999)}@{_pick(rng, _EMAIL_DOMAINS)}",
            "_national": national}


def generate_day(
    day: date,
    seed: int = 7,
    n_customers: int = 300,
    complaints_per_channel: dict | None = None,
) -> DemoDay:
    """One day of complaints on every channel, deterministic for (day, seed); see the module doc.

    ``complaints_per_channel`` sets each channel's base records (default DEFAULT_VOLUMES); planted
    extras (retries, duplicates, brand replies, spam, form updates, cross-channel copies) come on top.
    """
    volumes = {**DEFAULT_VOLUMES, **(complaints_per_channel or {})}
    unknown = set(volumes) - set(CHANNEL_NAMES)
    if unknown:
        raise ValueError(f"unknown channels: {sorted(unknown)}")
    customers = generate_customers(n_customers, seed)
    builder = _DayBuilder(day, seed, customers)
    by_channel = {ch: builder.base(ch, volumes[ch]) for ch in CHANNEL_NAMES}
    by_channel["sms"] += builder.spam_sms(round(volumes["sms"] * SMS_SPAM))
    builder.cross_channel_copies(by_channel)
    builder.assign_ids(by_channel)
    social = builder.social(by_channel["social_media"])
    sms_messages = builder.sms(by_channel["sms"])
    call_files = builder.call_center(by_channel["call_center"])
    web_rows = builder.web_forms(by_channel["web_forms"])
    public_customers = [{k: v for k, v in c.items() if not k.startswith("_")} for c in customers]
    return DemoDay(
        day=day, seed=seed, customers=public_customers, social_events=social, sms_messages=sms_messages,
        call_center_files=call_files, web_form_rows=web_rows, truth=builder.truth,
    )
