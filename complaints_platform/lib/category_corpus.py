"""Synthetic labelled text for the category model: a training corpus and an independent held-out one.

No labelled complaints of our own exist yet, so the model learns from generated text. Two things keep
that honest:

- The training text is compositional: many independent pieces (openers, problem statements from a
  wide vocabulary per category, details such as places, durations, amounts and devices, emotions,
  asks, sign-offs) in four registers (tweets, terse SMS, call-centre agent notes, web-form letters),
  with typos, casing, masked-PII tokens, and hard cases: two topics in one text (labelled by the main
  one), sarcasm, and "other" texts that are not complaints (praise, questions, promotions, brand
  replies, spam, chatter) even when they use network or billing words.
- The held-out corpus is written separately, as a different author would: its own phrase pools and
  its own sentence structures, sharing nothing with the training pools but the category names. Its
  scores therefore measure generalisation to unseen phrasing, not recall of templates. Real
  complaints are messier still: on real telecom tweets, template-trained models score well below
  their synthetic held-out figure (see STACK.md), so treat the held-out score as an upper bound.

Everything is deterministic for a seed.
"""

from __future__ import annotations

import random

from complaints_platform.lib.silver import CATEGORIES

COMPLAINT_CATEGORIES = tuple(c for c in CATEGORIES if c != "other")

# Share of each label in both corpora: "other" is a little more common because everything that is
# not a complaint (spam, praise, questions, brand replies) lands there.
LABEL_WEIGHTS = {
    "poor_network": 0.19,
    "incorrect_billing": 0.19,
    "bad_customer_service": 0.19,
    "device_equipment": 0.19,
    "other": 0.24,
}

_MASK_KINDS = ("PHONE", "EMAIL", "ACCOUNT", "HANDLE", "NAME", "CARD", "IP", "NATIONALID", "IBAN")


def masked_token(rng: random.Random, kind: str) -> str:
    """A token shaped like lib/pii.py's masks: ``<KIND:>`` + ten letters a-p."""
    return f"<{kind}:{''.join(rng.choice('abcdefghijklmnop') for _ in range(10))}>"


def _pick(rng: random.Random, pool):
    return pool[rng.randrange(len(pool))]


def _maybe(rng: random.Random, p: float, text: str) -> str:
    return text if rng.random() < p else ""


def _join(*parts: str, sep: str = " ") -> str:
    return sep.join(p.strip() for p in parts if p and p.strip())


# --------------------------------------------------------------------------------------------------
# Noise shared by both corpora: typos, casing. Neither carries category information.
# --------------------------------------------------------------------------------------------------

_KEYBOARD_NEIGHBOURS = {
    "a": "qws", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "y": "tu",
}


def add_typos(rng: random.Random, text: str, rate: float) -> str:
    """Randomly swap, drop, double or fat-finger letters in about ``rate`` of the words."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) < 4 or word.startswith("<") or rng.random() >= rate:
            continue
        j = rng.randrange(1, len(word) - 1)
        op = rng.randrange(4)
        if op == 0:
            word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
        elif op == 1:
            word = word[:j] + word[j + 1 :]
        elif op == 2:
            word = word[:j] + word[j] + word[j:]
        else:
            ch = word[j].lower()
            word = word[:j] + _pick(rng, _KEYBOARD_NEIGHBOURS.get(ch, ch)) + word[j + 1 :]
        words[i] = word
    return " ".join(words)


def _shout(text: str) -> str:
    # Masked tokens keep their exact shape even when the rest of the text is shouted.
    out, depth = [], 0
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        out.append(ch if depth else ch.upper())
    return "".join(out)


def _lower(text: str) -> str:
    out, depth = [], 0
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        out.append(ch if depth else ch.lower())
    return "".join(out)


# ==================================================================================================
# TRAINING AUTHOR. Everything below until HELD-OUT AUTHOR is used by training_corpus only.
# ==================================================================================================

_T_PLACES = [
    "Leeds", "Manchester", "Birmingham", "Bristol", "Glasgow", "Cardiff", "Norwich", "Hull",
    "Sheffield", "Derby", "Swansea", "Leicester", "Brighton", "Exeter", "Preston", "Reading",
    "Wigan", "Stockport", "Luton", "Dundee", "Bolton", "Croydon", "Salford", "Ipswich",
    "my flat", "the office", "town centre", "my mum's house", "the high street", "uni",
    "the estate", "the retail park", "my street", "the village", "work", "the station",
    "LS6", "M14", "B29", "BS3", "CF24", "NR2", "SE15", "G12",
]
_T_DURATIONS = [
    "3 days", "a week", "two weeks", "since Monday", "since Friday", "all weekend", "48 hours",
    "since yesterday", "since 8am", "a month", "5 days", "all day", "10 days", "since last Tuesday",
    "over a fortnight", "since the storm", "since Christmas", "six weeks", "since this morning",
]
_T_MINUTES = ["40", "45", "55", "65", "72", "90", "95", "120", "150", "38", "58"]
_T_DEVICES = [
    "iPhone 15", "iPhone 14 Pro", "iPhone 13", "Galaxy S24", "Galaxy A54", "Pixel 8", "Pixel 7a",
    "Moto G", "OnePlus 12", "Xiaomi 13", "Nokia G22", "iPad", "tablet", "handset", "phone",
    "Smart Hub", "router", "broadband hub", "mobile wifi dongle", "Galaxy Z Flip", "Oppo Reno",
]
_T_ROUTERS = ["router", "hub", "Smart Hub 2", "modem", "wifi extender", "mesh disc", "ONT box"]
_T_PLANS = [
    "Unlimited 5G", "SIM only 30GB", "SIM only 100GB", "Essentials 10GB", "Family plan",
    "Fibre 500", "Fibre 150", "Superfast 80", "Pay monthly 24m", "Student 50GB", "Unlimited Max",
]
_T_COUNTRIES = ["Spain", "France", "Portugal", "Greece", "Italy", "the US", "Turkey", "Dubai", "Ireland"]
_T_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]
_T_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "yesterday"]
_T_SPEEDS = ["0.2Mbps", "0.5 Mbps", "1.2mbps", "2Mbps", "300kbps", "0.8 meg"]
_T_BRANDS = ["@TelcoCare", "@Telco", "@TelcoHelp", "@telco_uk", "@TelcoCare"]
_T_AGENTS = ["Dave", "Priya", "Sam", "Jo", "Kieran", "Aisha", "Tom", "Megan", "Raj", "Beth"]
_T_GENS = ["4G", "5G", "3G", "data", "mobile data", "4g", "5g"]


def _t_amount(rng: random.Random) -> str:
    pounds = rng.choice([rng.randint(5, 99), rng.randint(100, 450)])
    return rng.choice([f"£{pounds}", f"£{pounds}.{rng.randint(0, 99):02d}", f"{pounds} quid", f"£{pounds}.00"])


def _t_slots(rng: random.Random) -> dict[str, str]:
    return {
        "place": _pick(rng, _T_PLACES),
        "dur": _pick(rng, _T_DURATIONS),
        "mins": _pick(rng, _T_MINUTES),
        "device": _pick(rng, _T_DEVICES),
        "router": _pick(rng, _T_ROUTERS),
        "plan": _pick(rng, _T_PLANS),
        "plan2": _pick(rng, _T_PLANS),
        "amount": _t_amount(rng),
        "amount2": _t_amount(rng),
        "country": _pick(rng, _T_COUNTRIES),
        "month": _pick(rng, _T_MONTHS),
        "day": _pick(rng, _T_DAYS),
        "speed": _pick(rng, _T_SPEEDS),
        "gen": _pick(rng, _T_GENS),
        "n": str(rng.randint(2, 9)),
        "hours": str(rng.randint(2, 6)),
        "clock": f"{rng.randint(5, 11)}pm",
        "brand": _pick(rng, _T_BRANDS),
        "agent": _pick(rng, _T_AGENTS),
        "ticket": str(rng.randint(100000, 9999999)),
        "year": str(rng.randint(2008, 2022)),
    }


# Problem statements per category. ISSUES are noun phrases (they fit "still {issue}", "cust called
# re {issue}"); STATEMENTS are first-person sentences.
_T_ISSUES = {
    "poor_network": [
        "no signal", "zero bars", "dropped calls", "calls cutting out", "{gen} not working",
        "{gen} down", "slow data", "mobile data crawling", "constant buffering", "no service",
        "SOS only on the phone", "emergency calls only", "a broadband outage", "broadband dropping every few minutes",
        "fibre down", "internet down", "patchy coverage", "the mast being down", "huge latency",
        "ping through the roof", "packet loss", "nothing loading", "pages timing out",
        "calls going straight to voicemail", "texts not sending", "one bar at best",
        "no 4G, just E on the screen", "speeds of {speed}", "video calls freezing",
        "an outage in {place}", "a total blackspot at home", "no calls indoors", "a dead landline",
        "no dial tone on the landline", "the connection dropping", "data not connecting",
        "crackly calls", "one way audio on calls", "wifi calling not kicking in", "no reception",
        "intermittent broadband", "the line dropping at night", "lag spikes", "rubbish coverage",
        "no network in {place}", "the internet cutting out", "no connection",
    ],
    "incorrect_billing": [
        "being overcharged by {amount}", "a double charge this month", "being charged twice for {month}",
        "a refund that never arrived", "the wrong amount taken by direct debit",
        "roaming charges from {country}", "roaming charges while I was in the UK",
        "a price rise mid contract", "a cancellation fee I was told I wouldn't pay", "bill shock",
        "being billed after cancelling", "an upgrade charge I never agreed to",
        "my monthly price going up again", "the discount missing from my bill", "premium SMS charges",
        "out of bundle charges", "a late payment fee", "an early termination charge",
        "a wrong final bill", "a credit that was never applied", "paying for {plan} but billed for {plan2}",
        "VAT charged twice", "third party charges on my bill", "a debt letter for a bill I paid",
        "data overage charges", "an inflation increase on my tariff", "a price that wasn't honoured",
        "full price after the promo ended early", "an extra {amount} on the bill",
        "two direct debits in one month", "a bill for a line I closed", "the annual price hike",
        "a refund of {amount} still missing", "charges for calls I never made", "a bill error",
        "being charged for insurance I cancelled", "an admin fee nobody mentioned",
    ],
    "bad_customer_service": [
        "waiting on hold for {mins} minutes", "a callback that never happened", "a rude agent",
        "a useless chat bot", "being passed around departments", "a complaint that's been ignored",
        "being cut off by the call centre", "no reply to my emails", "dismissive staff in the {place} store",
        "three advisors telling me three different things", "my ticket closed without contact",
        "a manager callback that never came", "nobody owning my case", "a live chat that keeps disconnecting",
        "advisors reading from a script", "being lied to by sales", "a two week wait for a reply",
        "zero follow up", "repeating my details every single call", "an engineer no show",
        "a missed appointment", "being hung up on", "no response to my complaint letter",
        "broken promises from your team", "the worst customer service I've had",
        "rude shop staff", "an advisor who didn't listen", "no escalation despite asking",
        "a deadlock letter after weeks of chasing", "being ignored on social media",
        "an hour in the queue", "the complaints team not replying", "being treated like an idiot",
        "an agent who couldn't speak to me properly", "the run around from your staff",
    ],
    "device_equipment": [
        "a faulty {device}", "my {device} screen flickering", "the battery dying in {hours} hours",
        "a replacement handset that never arrived", "SIM not recognised", "the eSIM activation failing",
        "the {router} rebooting itself", "orange flashing lights on the {router}", "an overheating {router}",
        "a cracked screen out of the box", "a phone that won't charge", "a repair taking {dur}",
        "the wrong phone being delivered", "my new {device} not being delivered",
        "a refurbished phone that's faulty", "a camera that won't focus", "a buzzing loudspeaker",
        "a microphone that doesn't work", "a phone stuck in a boot loop", "my handset overheating",
        "a loose charging port", "the TV box freezing", "a booster that won't pair",
        "a damaged SIM card", "a PUK locked SIM", "the phone still network locked",
        "a software update that bricked my phone", "an unresponsive touchscreen",
        "a handset dead after {n} weeks", "a swollen battery", "a dead {router}",
        "the power adapter for the {router} failing", "a ghost touching screen",
        "the eSIM QR code not working", "a missing courier parcel with my {device}",
        "a returned phone still not repaired", "the face unlock broken since the repair",
    ],
}

_T_STATEMENTS = {
    "poor_network": [
        "I've had no signal in {place} for {dur}", "my calls keep dropping after a minute",
        "can't get {gen} anywhere in {place}", "the internet has been down {dur}",
        "speed test says {speed} and I pay for fibre", "Netflix won't stop buffering",
        "can't even send a WhatsApp", "every call cuts out mid sentence",
        "my broadband goes off every evening around {clock}", "the whole street has lost connection",
        "the signal vanishes the moment I walk in the house", "I have to stand by the window to make a call",
        "gaming is impossible with this lag", "pages just spin and never load",
        "the phone has said emergency calls only all day", "the mast near {place} must be broken again",
        "working from home is impossible with this connection", "my texts are arriving hours late",
        "the 5G icon shows but nothing loads", "zoom keeps freezing and kicking me out",
        "the fibre light on the wall box is off and nothing connects", "calls sound robotic and break up",
        "the data is slower than dial up", "maps won't load while I'm driving",
        "there's no coverage at all on my commute", "nobody can get through to me, it goes straight to voicemail",
        "the wifi drops out every half hour and the line test fails", "I keep losing connection on video calls",
        "I can't stream anything after 6pm", "my landline has had no dial tone {dur}",
        "my mobile internet barely works in {place}", "half the time I have no bars at all",
        "uploads time out every single time", "the broadband keeps disconnecting and reconnecting",
        "the network has been useless {dur}", "I can't make or receive calls at home",
    ],
    "incorrect_billing": [
        "my bill is {amount} when it should be {amount2}", "you've taken money twice this month",
        "I was promised a refund of {amount} {dur} ago and still nothing",
        "there's a {amount} charge on my account I don't recognise",
        "my direct debit bounced because you took the wrong amount",
        "I cancelled in {month} and you're still billing me",
        "the sales rep said {amount} a month and now it's {amount2}",
        "I got charged roaming in {country} even with the travel add-on",
        "my bill has gone up again and nobody told me",
        "you've charged me an exit fee despite being out of contract",
        "I'm paying for {plan} but I'm on {plan2}", "the loyalty discount has vanished from my bill",
        "the invoice shows calls I never made", "I got a {amount} bill for data I never used",
        "I want my money back", "I've been charged for a handset I returned",
        "my account says I'm in arrears but I've paid every month",
        "you raised my price by {amount} in the middle of my contract",
        "I was told the upgrade was free and got billed {amount}",
        "the bill is double what it was last month", "I was charged a late fee when I paid on time",
        "I've overpaid by {amount} and can't get it back", "you charged my card without asking",
        "the price on my bill doesn't match my contract", "you took {amount} from my bank out of nowhere",
        "I'm still being billed for a line I closed in {month}",
    ],
    "bad_customer_service": [
        "I've been on hold for {mins} minutes and still nobody answered",
        "you promised to call me back on {day} and nobody did", "the agent hung up on me",
        "your chatbot just loops me round the same menu",
        "I've been transferred {n} times and still have no answer",
        "I've complained {n} times and heard nothing", "the woman on the phone was incredibly rude",
        "nobody in your shop could be bothered to help", "every time I call I get a different story",
        "you closed my complaint without fixing anything", "I've emailed {n} times with no response",
        "your staff clearly don't care", "I asked for a manager and was refused",
        "the live chat ended in the middle of the conversation",
        "I'm still waiting for the callback I was promised {dur} ago", "the advisor laughed at me",
        "I was told someone would ring within 48 hours and it's been a week",
        "nobody reads the messages I send you", "the engineer didn't turn up and nobody rang",
        "I've had to explain everything from scratch {n} times",
        "the store manager was patronising and unhelpful", "your team keeps making promises they don't keep",
        "I waited in for the appointment all day for nothing", "I was put on hold and then cut off",
        "the complaints department never replied", "the advisor refused to give me their name",
        "I've been fobbed off by every person I've spoken to", "the chat agent copied and pasted the same reply",
    ],
    "device_equipment": [
        "my new {device} died after {n} days", "the {router} you sent keeps restarting itself",
        "the replacement SIM still says no SIM", "the {device} I ordered was meant to arrive {day} and hasn't",
        "my phone's been at the repair centre for {dur}", "there's a green line down the screen since the update",
        "the eSIM QR code won't scan", "the {router} won't power on at all",
        "the battery is bulging and the back is lifting", "you sent the wrong model",
        "the handset gets red hot when it's charging", "the parcel with my new phone says delivered but never came",
        "my phone keeps freezing and restarting", "the box arrived with a cracked screen",
        "the wifi extender won't pair with the {router}", "the charger you supplied has stopped working",
        "the camera on my {device} is blurry out of the box", "the phone switches off at 30 percent",
        "the speaker crackles on every call since day one", "my {device} won't turn on after the update",
        "the sim tray was jammed when it arrived", "the repaired phone came back with the same fault",
        "the touchscreen stops responding every few minutes", "the {router} power light just blinks red",
        "the set top box keeps losing its picture", "my handset won't read the SIM card",
        "the refurb phone you sent has a dead pixel patch", "the earpiece is so quiet I can't hear anything",
    ],
}

# Category-specific extra context, sometimes attached after a statement.
_T_DETAILS = {
    "poor_network": [
        "tried restarting, airplane mode, nothing works", "the neighbours have the same problem",
        "your status page says no issues", "it was fine until {month}", "I'm paying for unlimited data",
        "the line test says everything is fine", "it's worse in the evenings", "even outdoors there's nothing",
        "my work phone on another network is fine", "checked the coverage map and it says excellent",
    ],
    "incorrect_billing": [
        "the statement says {amount}", "I've got the contract in writing", "it's been {n} months like this",
        "my bank has the transactions", "the app shows a different total", "that's on top of the usual {amount2}",
        "I never agreed to this", "the charge is labelled 'misc'", "I've checked every line of the bill",
    ],
    "bad_customer_service": [
        "reference {ticket}", "case number {ticket}", "I've got the chat transcript",
        "spoke to {agent} and then someone else", "it's the {n}th time I've chased", "I took the day off for it",
        "I've been a customer since {year}", "no email, no text, nothing",
    ],
    "device_equipment": [
        "it's only {n} weeks old", "order number {ticket}", "it's still under warranty",
        "I've done a factory reset twice", "tried a different charger and cable", "the courier says it was handed over",
        "it's the second replacement", "the insurance claim is stuck too",
    ],
}

# A few words of the agent's action per category: real notes carry them and they are honest signal.
_T_AGENT_ACTIONS = {
    "poor_network": [
        "ran line test - fault found", "checked mast status, outage in area", "raised network ticket",
        "adv reset of network settings", "logged coverage complaint", "booked engineer for line fault",
        "checked postcode, known issue", "sent to network ops",
    ],
    "incorrect_billing": [
        "credit of {amount} applied", "refund raised", "bill adjusted", "passed to billing team",
        "checked DD history", "explained price rise", "waived fee", "raised billing dispute",
    ],
    "bad_customer_service": [
        "apologised for previous experience", "raised formal complaint", "logged feedback on advisor",
        "escalated to team leader", "promised callback within 24h", "cust requested manager",
        "complaint reopened", "goodwill gesture offered",
    ],
    "device_equipment": [
        "raised device repair", "arranged replacement", "sent returns label", "booked in store repair",
        "issued new SIM", "checked IMEI", "chased courier", "swap out approved",
    ],
}

_T_AGENT_OPENERS = [
    "cust called re", "Caller rang about", "CX reports", "Customer states", "c/o", "Inbound call -",
    "cust complaining of", "Call from account holder re", "Caller upset about", "cx rang in about",
    "Customer called regarding", "Cust chasing", "Rang in re",
]
_T_AGENT_REPORTED = ["cust says", "CX states", "Caller advised that", "cust advises", "Customer said", "cx saying"]
_T_AGENT_GENERIC = [
    "DPA passed", "verified account", "adv 24-48hrs", "ticket {ticket}", "cust not happy",
    "cust calm by end", "will monitor", "no further action", "cust wants call back", "left notes on acc",
    "sent follow up SMS", "call dropped before wrap", "cust threatening to leave", "cust mentions Ofcom",
]

_T_TWEET_OPENERS = [
    "{brand}", "hey {brand}", "{brand} seriously?", "Dear {brand},", "So {brand}...", "Again {brand}",
    "{brand} come on", "Oi {brand}", "{brand} why", "@{place_tag} {brand}", "{brand} hello??",
]
_T_EMOTIONS = [
    "absolutely fuming", "sick of this", "so frustrating", "not happy", "this is a joke", "ridiculous",
    "unacceptable", "beyond annoyed", "I'm livid", "cheers for nothing", "so done with this",
    "honestly shocking", "what a shambles", "getting really fed up", "can't believe this", "disgraceful",
    "worst company ever", "wow just wow", "fed up to the back teeth", "this is taking the mick",
]
_T_ASKS = [
    "sort it out", "please help", "any update?", "can someone look into this", "DM me",
    "I want this fixed today", "thinking of leaving", "considering switching provider",
    "will be reporting to Ofcom", "need this resolved asap", "what are you doing about it?",
    "someone answer me", "respond please", "this needs sorting", "I expect an explanation",
]
_T_CAT_ASKS = {
    "poor_network": ["when will it be fixed?", "is there an outage?", "fix the mast", "when is the signal back?",
                     "I need working internet", "check my line please"],
    "incorrect_billing": ["refund me", "I want the money back", "fix my bill", "reverse the charge",
                          "credit my account", "explain this charge"],
    "bad_customer_service": ["get a manager to call me", "someone actually call me back",
                             "I want to speak to someone senior", "train your staff"],
    "device_equipment": ["send me a replacement", "I want a new handset", "where is my phone?",
                         "repair it or swap it", "send an engineer for the router"],
}
_T_HASHTAGS = [
    "#fail", "#customerservice", "#annoyed", "#ripoff", "#nosignal", "#WorstNetwork", "#mondays",
    "#sorttitout", "#rant", "#help", "#disappointed", "#stillwaiting", "#telcofail", "#uk",
]
_T_EMOJI = ["😡", "🤬", "😤", "🙄", "😩", "😭", "👎", "💀", "🤦‍♂️", "🤦‍♀️", "😒", "🔥", "📵", "💸"]
_T_WEB_GREETINGS = [
    "Dear Sir or Madam,", "Hello,", "To whom it may concern,", "Hi team,", "Good afternoon,",
    "I wish to make a formal complaint.", "Hello there,", "Dear Telco,",
]
_T_WEB_TENURE = [
    "I have been a customer for {n} years.", "I have been loyal to you since {year}.",
    "We have four lines with you on a family account.", "I recently joined on the {plan} plan.",
    "I run a small business and rely on this service.",
]
_T_WEB_FORMAL_EMOTION = [
    "This is completely unacceptable.", "I am extremely disappointed.", "I find this very stressful.",
    "Frankly I expected better.", "This has caused me considerable inconvenience.",
    "I am at the end of my patience.",
]
_T_WEB_ASKS = [
    "Please treat this as a formal complaint.", "I would like a written response within 14 days.",
    "If this is not resolved I will take it to the ombudsman.", "Please contact me to resolve this.",
    "I expect compensation for the inconvenience.", "Kindly look into this urgently.",
]
_T_WEB_SIGNOFFS = [
    "Regards", "Kind regards", "Yours faithfully", "Thanks", "Many thanks", "Sent from my iPhone",
    "Best wishes", "Thank you",
]
_T_WEB_SUBJECTS = {
    "poor_network": ["Signal problem", "Broadband fault", "No service", "Connection issues", "Outage"],
    "incorrect_billing": ["Billing query", "Overcharge", "Refund request", "Bill dispute", "Price increase"],
    "bad_customer_service": ["Complaint about service", "Poor support", "Complaint", "No callback"],
    "device_equipment": ["Faulty device", "Router problem", "Phone repair", "Delivery issue", "SIM problem"],
    "other": ["Enquiry", "Question", "General", "Feedback", "Account update"],
}

# Framings that turn a noun-phrase issue into a tweet or SMS fragment.
_T_ISSUE_FRAMES = [
    "{issue} again", "still {issue}", "{issue} for {dur} now", "{issue} in {place}", "day {n} of {issue}",
    "another week of {issue}", "{issue}. again.", "how is it {issue} AGAIN", "{issue} all {day}",
    "yet more {issue}", "{issue} and nobody cares", "{issue}, every single day",
]

# Sarcasm: positive words around a real complaint.
_T_SARCASM = [
    "Absolutely love {issue} 🙃", "Cheers {brand} for {issue}, just what I needed",
    "Great service as always: {stmt}", "10/10 would recommend {issue}... not",
    "Brilliant, {stmt}. Top job", "Thanks so much for {issue}, really making my week",
    "wow {brand} best network ever, {stmt} lol", "Nothing says premium like {issue}",
    "Amazing how {stmt}. Truly world class", "so glad I pay you every month for {issue}",
    "what a treat, {issue} again 👏", "living the dream with {issue}",
]
_T_SECONDARY_CONNECTORS = [
    "and on top of that", "also", "plus", "not to mention", "oh and", "as well as that", "and now",
    "to make it worse", "and while I'm at it",
]

# "other": not a complaint in any category, in several kinds.
_T_OTHER = {
    "praise": [
        "Big thanks to {agent} at {brand} for sorting my upgrade so quickly!",
        "5G in {place} is flying today, impressed", "honestly the best network I've had",
        "shoutout to the store team in {place}, really helpful", "{brand} signal at the festival was spot on",
        "Just switched to you and the setup was painless, cheers", "fair play {brand}, sorted in 5 minutes",
        "new {device} arrived next day, love it", "the app is actually really good now",
        "been with you {n} years, never had a problem", "{agent} on live chat was brilliant, thank you",
        "the broadband install went perfectly, engineer was lovely",
    ],
    "question": [
        "what time does the {place} store open on Sunday?", "do you sell the {device} yet?",
        "how do I get my PAC code?", "is there a student discount?", "can I add a second line to my account?",
        "do you do family plans?", "does the {plan} plan include EU roaming?", "when does the new iPhone launch?",
        "how do I set up voicemail?", "is fibre available in {place} yet?", "can I keep my number if I switch?",
        "what's the best plan for a teenager?", "do you recycle old phones?", "where can I pay my bill in person?",
        "how do I turn on wifi calling?", "when does my contract end?", "can I order a spare SIM for a tablet?",
    ],
    "promo": [
        "Get double data on {plan} this weekend only! T&Cs apply", "Upgrade to the {device} from {amount}/month",
        "Switch today and get 3 months half price", "Our Black Friday deals are live now",
        "Refer a friend and you both get {amount} credit", "New: unlimited calls to 40 countries",
        "Win tickets to the final with {brand} Rewards", "Broadband from {amount} a month, no price rises",
    ],
    "brand_reply": [
        "Hi, sorry to hear that. Please DM us your account details and we'll take a look ^{agent}",
        "Thanks for getting in touch, we're looking into it now", "Hey, can you DM us your postcode so we can check?",
        "Sorry about this, could you follow us so we can DM you?", "We've replied to your DM, speak soon ^{agent}",
        "Glad we could help today, have a great weekend!", "Hi there, pop us a DM and we'll get this sorted",
        "Apologies for the wait, a member of the team will be with you shortly",
        "Sorry to hear you're having issues, have you tried restarting? Let us know ^{agent}",
    ],
    "spam": [
        "Congratulations! You've won a {amount} voucher, click the link to claim",
        "URGENT: your parcel is held, pay £1.99 at the link", "Claim your tax rebate now, reply YES",
        "You have been selected for a FREE holiday, call now", "Hot offer: cheap loans, no credit check, text LOAN",
        "Your account will be suspended, verify your details here", "WIN a brand new {device}! Text WIN to 80888",
        "Earn £500 a day from home, msg me", "Final notice: claim your prize before midnight",
        "You have 1 unread voicemail, listen here: bit.ly/3xYz", "Crypto signals group, 10x guaranteed, join now",
        "Free ringtones and wallpapers, reply GO", "Dating near you, 100s of singles, reply STOP to opt out",
        "Your mobile number was drawn for a guaranteed cash prize! Call our claims line now, 150p/min",
        "Customer services: your reward is waiting, ring 0906 line before it expires, 18+ only",
        "Last chance! Claim your latest camera phone FREE with our mobile upgrade club, txt YES",
        "You are a winner! Text CLAIM to 81010 to receive your award. Opt out: txt STOP",
        "Had an accident that wasn't your fault? You could be owed thousands, reply CLAIM",
        "Exclusive club: weekly chat and flirt msgs, 3 per week at £1.50 each, send JOIN",
    ],
    "chatter": [
        "watching the match at the pub in {place} tonight", "anyone know a good pizza place in {place}?",
        "happy friday everyone", "can't wait for the weekend", "my dog just ate my sandwich lol",
        "running late, see you at 7", "lol that film was class", "omg it's snowing in {place}",
        "going to {country} next week, can't wait", "ok", "thanks", "hello?", "test", "wrong number sorry",
        "ha ha yeah", "see you tomorrow x", "what a game that was", "new haircut who dis",
    ],
    "admin": [
        "please update my address on the account", "I'd like to change the email on my account",
        "moving house next month, what do I need to do?", "can you send me a copy of my contract?",
        "please add my partner as an authorised user", "I'd like to go paperless",
        "how do I change my payment date?", "please unsubscribe me from marketing", "STOP",
        "I've lost my phone, can you block the SIM", "can I transfer my contract to my son?",
    ],
}
_T_OTHER_WEIGHTS = {"praise": 0.12, "question": 0.14, "promo": 0.07, "brand_reply": 0.11, "spam": 0.11,
                    "chatter": 0.1, "admin": 0.08, "neutral_mention": 0.1, "news": 0.05, "misdirected": 0.04,
                    "auto": 0.04, "conversation": 0.04}
_T_OTHER_AGENT = [
    "cust called to ask about {topic}", "General enquiry re {topic}", "Cust rang to say thanks for {thanks}",
    "Sales enquiry - {topic}", "Caller asked about {topic}, info given", "Wrong number, no action",
    "Silent call, no one on line", "cust called to update {admin}", "Cust wanted info on {topic}",
    "Caller enquiring about {topic}, sent link", "Call transferred from sales, query about {topic}",
]
_T_OTHER_TOPICS = [
    "upgrade options", "opening hours", "adding a line", "family plans", "the new iPhone", "PAC code",
    "student discount", "porting a number", "international call bundles", "broadband availability",
    "trade in values", "paperless billing setup", "contract end date", "parental controls",
]
_T_OTHER_THANKS = ["a quick fix last week", "the engineer visit", "the help in store", "sorting the upgrade"]
_T_OTHER_ADMIN = ["address", "email address", "payment date", "marketing preferences", "authorised users"]

_T_SMS_ABBREV = {
    "you": "u", "your": "ur", "are": "r", "please": "pls", "because": "cos", "to": "2", "for": "4",
    "thanks": "thx", "message": "msg", "phone": "fone", "don't": "dont", "can't": "cant", "tonight": "2nite",
    "before": "b4", "though": "tho", "people": "ppl", "minutes": "mins", "hours": "hrs", "why": "y",
    "still": "stil", "tomorrow": "tmrw", "really": "rly", "what": "wot", "I'm": "im", "I've": "ive",
}
_T_THIRD_PERSON = [("I've", "they've"), ("I'm", "they're"), ("I was", "they were"), ("my ", "their "),
                   ("I ", "they "), (" me", " them"), ("I'd", "they'd")]


# More statements in other syntaxes (questions, passive voice, plural subjects, fragments), so that
# function words and sentence shapes are spread over every category instead of marking one.
_T_STATEMENTS_VARIED = {
    "poor_network": [
        "why is there never any signal in {place}?", "is the network down in {place} or is it just me?",
        "is there a known fault in {place}? nothing connects", "has the broadband gone down for everyone?",
        "no bars, no data, no calls, nothing", "calls to my mum keep getting cut off",
        "our connection has been unusable {dur}", "the kids can't do homework because the wifi keeps dropping off",
        "signal strength is rubbish indoors", "mobile internet is painfully slow in the evenings",
        "the speed we get is nowhere near what we pay for", "downloads crawl along at {speed}",
        "online meetings keep freezing up", "phone calls fail before they even ring",
        "people ringing me just get a dead tone", "messages won't send, they just sit there",
        "my card machine keeps losing connection and I'm losing sales", "can't stream, can't browse, can't call",
        "the connection drops every time it rains", "our whole village has been without service {dur}",
        "the network fault in {place} still isn't fixed", "constant disconnections on the home broadband",
        "had to drive to {place} just to get a bar", "my calls are full of echo and static",
        "the internet goes off and on all night", "it says connected but there's no internet",
        "latency spikes make video calls impossible", "there's been a service outage in {place} {dur}",
    ],
    "incorrect_billing": [
        "why has my direct debit gone up to {amount}?", "can someone explain why I've been billed {amount} this month?",
        "how is my bill {amount} when my plan is {amount2}?", "I've been invoiced twice for the same month",
        "the money you took was more than we agreed", "there's a charge for international calls I never made",
        "I'm being asked to pay for a contract I cancelled", "my final invoice is wrong",
        "you're still taking payments after I switched provider", "the price I was quoted isn't the price I'm paying",
        "they added a fee without telling me", "I'm owed {amount} and nobody will refund it",
        "a debt collector contacted me over a bill I already paid", "the promotional rate wasn't applied",
        "my account shows arrears that don't exist", "the amount on the statement doesn't add up",
        "I keep getting charged for a bolt-on I removed", "roaming fees were added though I never left the country",
        "I was billed for a full year upfront by mistake", "the credit note I was promised hasn't appeared",
        "my bill jumped by {amount} with no explanation", "stop taking money from my account",
        "the SIM only price went up without notice", "the discount the retention team gave me has disappeared",
        "I've been overcharged for months", "the payment was taken on the wrong date and I got bank charges",
    ],
    "bad_customer_service": [
        "why does nobody ever ring back?", "how hard is it to get a straight answer from your staff?",
        "I spent my whole lunch break in a queue", "the call centre put me on hold then disconnected me",
        "I've been shuffled from department to department", "each advisor tells me something different",
        "I've chased this {n} times and got nowhere", "your support team ignore my messages",
        "no one takes responsibility for anything", "the chat assistant keeps saying it doesn't understand",
        "the person in store rolled their eyes at me", "I was promised a response in 5 working days, that was {dur} ago",
        "my complaint has been sitting unanswered {dur}", "the agent talked over me the whole time",
        "nobody turned up for the installation appointment", "your team cancelled my appointment without telling me",
        "I've been waiting {dur} for someone to get back to me", "the phone line just rings out",
        "I got cut off after waiting {mins} minutes", "they keep telling me it's being looked into",
        "the service I've had from your staff is appalling", "I was given the wrong information by your sales team",
        "nobody apologised or even acknowledged the problem", "the menu system sends me round in circles",
        "I've been treated appallingly by the complaints team", "the callback window came and went with no call",
    ],
    "device_equipment": [
        "why does my new phone keep switching itself off?", "is it normal for a brand new handset to get this hot?",
        "the handset I got last week already has a line of dead pixels", "the screen went black and won't come back",
        "the phone won't last past lunchtime on a full charge", "the router's lights are all flashing amber",
        "the replacement phone is also faulty", "my order shows dispatched {dur} ago and still no phone",
        "the SIM you posted never arrived", "the new SIM isn't activating",
        "the eSIM transfer failed and now I have no SIM at all", "the modem keeps overheating and shutting down",
        "the back of the phone is coming away", "the charging cable in the box doesn't fit",
        "the phone I sent for repair came back worse", "my handset's been away for repair {dur}",
        "the camera lens was scratched when I opened the box", "the buttons on the side stopped working",
        "the phone restarts randomly every few hours", "the tablet on my contract won't switch on",
        "the smartwatch won't pair with the phone", "the device you sent is the wrong colour and storage size",
        "the hub's power supply died", "the headphone socket doesn't work", "the engineer left us with a faulty box",
        "wifi on the handset keeps switching itself off", "the handset's speaker distorts at any volume",
    ],
}
_T_STATEMENT_POOL = {c: _T_STATEMENTS[c] + _T_STATEMENTS_VARIED[c] for c in COMPLAINT_CATEGORIES}

# Category-neutral frames around any complaint.
_T_GENERIC_FRAMES = [
    "is it just me or {core}?", "can someone explain why {core}", "quick question: why {core}?",
    "for the {n}th time, {core}", "latest: {core}", "so apparently {core}", "just found out {core}",
    "not sure who to talk to but {core}", "third time asking, {core}", "{core}. that is all.",
    "honestly {core}", "{core} and I've had enough", "long story short, {core}", "fyi {core}",
    "{core}, what's going on?", "me again. {core}",
]

# Synonyms swapped in after filling, so no single word carries a category on its own.
_T_SYNONYMS = {
    "phone": ["mobile", "handset", "device", "mobile phone", "cell", "fone", "phone"],
    "signal": ["reception", "coverage", "network", "service", "signal"],
    "internet": ["broadband", "wifi", "connection", "web", "net", "internet"],
    "broadband": ["internet", "fibre", "home internet", "wifi", "broadband"],
    "bill": ["invoice", "statement", "bill", "account"],
    "charged": ["billed", "invoiced", "debited", "charged"],
    "refund": ["reimbursement", "money back", "repayment", "refund"],
    "agent": ["advisor", "adviser", "representative", "rep", "operator", "staff member", "agent"],
    "advisor": ["agent", "rep", "call handler", "customer service person", "advisor"],
    "router": ["hub", "modem", "wifi box", "router"],
    "faulty": ["defective", "broken", "knackered", "busted", "faulty"],
    "slow": ["sluggish", "painfully slow", "useless", "slow"],
    "rude": ["abrupt", "dismissive", "unprofessional", "arrogant", "rude"],
    "cancelled": ["terminated", "ended", "closed", "cancelled"],
    "engineer": ["technician", "installer", "engineer"],
    "money": ["cash", "funds", "money"],
    "delivered": ["dispatched", "shipped", "sent", "delivered"],
    "store": ["shop", "branch", "store"],
    "on hold": ["in the queue", "waiting", "on hold"],
    "handset": ["phone", "mobile", "device", "handset"],
    "calls": ["phone calls", "voice calls", "calls"],
}
_T_SYNONYM_PATTERN = None  # compiled on first use


def _t_synonyms(rng: random.Random, text: str) -> str:
    import re

    global _T_SYNONYM_PATTERN
    if _T_SYNONYM_PATTERN is None:
        words = sorted(_T_SYNONYMS, key=len, reverse=True)
        _T_SYNONYM_PATTERN = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b")
    return _T_SYNONYM_PATTERN.sub(
        lambda m: _pick(rng, _T_SYNONYMS[m.group(1)]) if rng.random() < 0.45 else m.group(1), text
    )


_T_OTHER_MORE = {
    # Telecom words, no complaint.
    "neutral_mention": [
        "my bill's due friday so I'll pay it then", "can I pay my bill by card over the phone?",
        "signal's great here at the beach!", "new phone day!!", "just paid my bill, thanks for the reminder",
        "finally got fibre installed, so quick now", "my phone's on 5%, ring you later",
        "I'll call you when I get a signal lol", "the wifi at the cafe is free if anyone needs it",
        "battery's about to die, text me", "got my new sim, all working, thanks", "roaming in {country} worked perfectly",
        "router's in the hallway if you need the password", "new handset came today, setting it up now",
        "broadband engineer's been and gone, all good", "thanks for the refund, received today",
    ],
    "news": [
        "{brand} to invest £200m in rural coverage", "Ofcom publishes latest complaints league table",
        "Telecoms sector sees record 5G adoption", "Industry news: mast upgrades planned across the north west",
        "Best SIM only deals this month, compared", "Phone makers report slower sales this quarter",
        "Why your broadband speed depends on the time of day, explained",
    ],
    "misdirected": [
        "the bus was late again this morning", "my takeaway was cold and an hour late",
        "the council still hasn't collected our bins", "the train's cancelled again, typical",
        "the heating's broken in the flat and the landlord won't answer", "queue at the post office is ridiculous",
    ],
    "auto": [
        "Your verification code is {ticket}", "I'm out of the office until {day} with limited access to email",
        "Delivery receipt: message delivered", "This is an automated message, please do not reply",
        "Reminder: your appointment is at 10am tomorrow", "Your order has been confirmed",
    ],
    "conversation": [
        "yes that's fine", "ok will do", "thank you, that's sorted now", "no that's all thanks", "perfect, cheers",
        "I'll try that and let you know", "sure, what do you need?", "sent you a DM", "done, thanks",
    ],
}
_T_AGENT_FORMS = [
    "Reason for call: {issue}. Action: {action}. Outcome: {generic}",
    "Issue - {issue} / Action - {action}",
]


def _t_fill(rng: random.Random, template: str, slots: dict[str, str]) -> str:
    return template.format_map(slots)


def _t_issue(rng: random.Random, cat: str, slots: dict[str, str]) -> str:
    return _t_fill(rng, _pick(rng, _T_ISSUES[cat]), slots)


def _t_statement(rng: random.Random, cat: str, slots: dict[str, str]) -> str:
    return _t_fill(rng, _pick(rng, _T_STATEMENT_POOL[cat]), slots)


def _t_core(rng: random.Random, cat: str, slots: dict[str, str]) -> str:
    """One problem: either a first-person statement or a framed noun phrase."""
    if rng.random() < 0.55:
        core = _t_statement(rng, cat, slots)
    else:
        core = _pick(rng, _T_ISSUE_FRAMES).format_map({**slots, "issue": _t_issue(rng, cat, slots)})
    if rng.random() < 0.25:
        core = _pick(rng, _T_GENERIC_FRAMES).format_map({**slots, "core": core.rstrip("?.!")})
    return core


def _t_pii(rng: random.Random) -> str:
    kind = _pick(rng, ("PHONE", "EMAIL", "ACCOUNT", "PHONE", "ACCOUNT"))
    return _pick(rng, [
        "my number is {t}", "acc {t}", "account {t}", "call me on {t}", "email me at {t}", "ref {t}",
        "contact {t}", "({t})",
    ]).format(t=masked_token(rng, kind))


_T_NEUTRAL_PII = [
    "{t}", "({t})", "my number is {t}", "acc {t}", "account no {t}", "email {t}", "from {t}", "- {t}",
    "ref {t}", "contact me on {t}", "name: {t}", "{t} here", "this is {t}", "cc {t}",
]


def _t_neutral_pii(rng: random.Random, text: str) -> str:
    """Masked-PII tokens placed the same way whatever the label, so they never signal a category."""
    for _ in range(rng.randint(1, 3)):
        piece = _pick(rng, _T_NEUTRAL_PII).format(t=masked_token(rng, _pick(rng, _MASK_KINDS)))
        text = f"{piece} {text}" if rng.random() < 0.3 else f"{text} {piece}"
    return text


def _t_secondary(rng: random.Random, cat: str, slots: dict[str, str]) -> str:
    other = _pick(rng, [c for c in COMPLAINT_CATEGORIES if c != cat])
    return f"{_pick(rng, _T_SECONDARY_CONNECTORS)} {_t_issue(rng, other, slots)}"


def _t_complaint(rng: random.Random, cat: str, register: str) -> str:
    s = _t_slots(rng)
    s["place_tag"] = s["place"].replace(" ", "")
    hard = rng.random()
    sarcastic = hard < 0.09
    mixed = 0.09 <= hard < 0.25

    if register == "agent":
        if rng.random() < 0.2:
            return _pick(rng, _T_AGENT_FORMS).format(
                issue=_t_issue(rng, cat, s),
                action=_t_fill(rng, _pick(rng, _T_AGENT_ACTIONS[cat]), s),
                generic=_t_fill(rng, _pick(rng, _T_AGENT_GENERIC), s),
            )
        if rng.random() < 0.6:
            parts = [f"{_pick(rng, _T_AGENT_OPENERS)} {_t_issue(rng, cat, s)}"]
        else:
            parts = [f"{_pick(rng, _T_AGENT_REPORTED)} {_third_person(_t_statement(rng, cat, s))}"]
        if rng.random() < 0.4:
            parts.append(_t_fill(rng, _pick(rng, _T_DETAILS[cat]), s))
        if mixed:
            parts.append(_t_secondary(rng, cat, s))
        if rng.random() < 0.7:
            parts.append(_t_fill(rng, _pick(rng, _T_AGENT_ACTIONS[cat]), s))
        for _ in range(rng.randint(0, 2)):
            parts.append(_t_fill(rng, _pick(rng, _T_AGENT_GENERIC), s))
        if rng.random() < 0.15:
            parts.append(_t_pii(rng))
        sep = _pick(rng, [". ", ". ", " - ", "; ", "\n", ", "])
        return sep.join(parts)

    if register == "web":
        parts = []
        if rng.random() < 0.3:
            parts.append(_pick(rng, _T_WEB_SUBJECTS[cat]) + ":")
        parts.append(_maybe(rng, 0.6, _pick(rng, _T_WEB_GREETINGS)))
        parts.append(_maybe(rng, 0.4, _t_fill(rng, _pick(rng, _T_WEB_TENURE), s)))
        for _ in range(rng.randint(1, 3)):
            parts.append(_capital(_t_statement(rng, cat, s)) + ".")
        if rng.random() < 0.5:
            parts.append(_capital(_t_fill(rng, _pick(rng, _T_DETAILS[cat]), s)) + ".")
        if mixed:
            parts.append(_capital(_t_secondary(rng, cat, s)) + ".")
        if sarcastic:
            parts.append(_capital(_t_sarcasm(rng, cat, s)) + ".")
        parts.append(_maybe(rng, 0.6, _pick(rng, _T_WEB_FORMAL_EMOTION)))
        parts.append(_maybe(rng, 0.4, _capital(_pick(rng, _T_CAT_ASKS[cat]))))
        parts.append(_maybe(rng, 0.6, _pick(rng, _T_WEB_ASKS)))
        parts.append(_maybe(rng, 0.2, _t_pii(rng) + "."))
        parts.append(_maybe(rng, 0.5, _pick(rng, _T_WEB_SIGNOFFS) + (" " + masked_token(rng, "NAME") if rng.random() < 0.5 else "")))
        return _join(*parts, sep=_pick(rng, [" ", " ", "\n", "\n\n"]))

    # tweet and sms
    core = _t_sarcasm(rng, cat, s) if sarcastic else _t_core(rng, cat, s)
    parts = [core]
    if rng.random() < (0.35 if register == "tweet" else 0.15):
        parts.append(_t_core(rng, cat, s))
    if rng.random() < 0.25:
        parts.append(_t_fill(rng, _pick(rng, _T_DETAILS[cat]), s))
    if mixed:
        parts.append(_t_secondary(rng, cat, s))
    if rng.random() < 0.4:
        parts.append(_pick(rng, _T_EMOTIONS))
    if rng.random() < 0.4:
        parts.append(_pick(rng, _T_CAT_ASKS[cat] if rng.random() < 0.4 else _T_ASKS))
    if rng.random() < 0.08:
        parts.append(_t_pii(rng))
    sep = _pick(rng, [". ", " ", ", ", "!! ", "... ", " - "])
    text = sep.join(parts)
    if register == "tweet":
        if rng.random() < 0.75:
            opener = _t_fill(rng, _pick(rng, _T_TWEET_OPENERS), s)
            text = f"{opener} {text}"
        if rng.random() < 0.3:
            text += " " + " ".join(rng.sample(_T_HASHTAGS, rng.randint(1, 2)))
        if rng.random() < 0.35:
            text += " " + "".join(rng.choice(_T_EMOJI) for _ in range(rng.randint(1, 3)))
    return text


def _t_sarcasm(rng: random.Random, cat: str, s: dict[str, str]) -> str:
    return _pick(rng, _T_SARCASM).format_map({**s, "issue": _t_issue(rng, cat, s), "stmt": _t_statement(rng, cat, s)})


def _third_person(text: str) -> str:
    for first, third in _T_THIRD_PERSON:
        text = text.replace(first, third)
    return text


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _t_other(rng: random.Random, register: str) -> str:
    s = _t_slots(rng)
    kinds = list(_T_OTHER_WEIGHTS)
    kind = rng.choices(kinds, weights=[_T_OTHER_WEIGHTS[k] for k in kinds])[0]
    if register == "agent":
        text = _pick(rng, _T_OTHER_AGENT).format(
            topic=_pick(rng, _T_OTHER_TOPICS), thanks=_pick(rng, _T_OTHER_THANKS), admin=_pick(rng, _T_OTHER_ADMIN)
        )
        extras = [_t_fill(rng, _pick(rng, _T_AGENT_GENERIC[:4] + _T_AGENT_GENERIC[7:10]), s) for _ in range(rng.randint(0, 2))]
        return _join(text, *extras, sep=_pick(rng, [". ", " - ", "\n"]))
    text = _t_fill(rng, _pick(rng, _T_OTHER.get(kind) or _T_OTHER_MORE[kind]), s)
    if register == "web":
        pieces = [_maybe(rng, 0.5, _pick(rng, _T_WEB_GREETINGS[:5])), _capital(text)]
        if rng.random() < 0.4:
            pieces.append(_capital(_t_fill(rng, _pick(rng, _T_OTHER["question"] + _T_OTHER["admin"]), s)))
        pieces.append(_maybe(rng, 0.5, _pick(rng, _T_WEB_SIGNOFFS)))
        if rng.random() < 0.3:
            pieces.insert(0, _pick(rng, _T_WEB_SUBJECTS["other"]) + ":")
        return _join(*pieces, sep=_pick(rng, [" ", "\n"]))
    if register == "tweet" and kind not in ("promo", "brand_reply", "spam") and rng.random() < 0.6:
        text = f"{_pick(rng, _T_BRANDS)} {text}"
    if register == "tweet" and kind == "brand_reply" and rng.random() < 0.6:
        text = f"{masked_token(rng, 'HANDLE')} {text}"
    if rng.random() < 0.2:
        text += " " + "".join(rng.choice(["😂", "🙌", "👍", "😊", "❤️", "🎉", "🤔", "✨"]) for _ in range(rng.randint(1, 2)))
    return text


def _t_sms_style(rng: random.Random, text: str) -> str:
    if rng.random() < 0.6:
        words = text.split(" ")
        text = " ".join(_T_SMS_ABBREV.get(w, w) if rng.random() < 0.7 else w for w in words)
    return text


def _noisy(rng: random.Random, text: str, register: str) -> str:
    if register == "sms":
        text = _t_sms_style(rng, text)
    rate = {"tweet": 0.04, "sms": 0.07, "agent": 0.03, "web": 0.015}[register]
    if rng.random() < 0.5:
        text = add_typos(rng, text, rate)
    r = rng.random()
    if register in ("tweet", "sms") and r < 0.06:
        text = _shout(text)
    elif register in ("sms", "agent") and r < 0.55 or register == "tweet" and r < 0.25:
        text = _lower(text)
    return text


def training_corpus(n: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` labelled training texts (texts, labels), deterministic for ``seed``."""
    rng = random.Random(f"train:{seed}")
    labels = rng.choices(list(LABEL_WEIGHTS), weights=list(LABEL_WEIGHTS.values()), k=n)
    texts = []
    for label in labels:
        register = rng.choices(("tweet", "sms", "agent", "web"), weights=(0.35, 0.25, 0.2, 0.2))[0]
        text = _t_other(rng, register) if label == "other" else _t_complaint(rng, label, register)
        text = _t_synonyms(rng, text)
        if rng.random() < 0.2:
            text = _t_neutral_pii(rng, text)
        texts.append(_noisy(rng, text, register))
    return texts, labels


# ==================================================================================================
# HELD-OUT AUTHOR. Written separately from the pools above; shares nothing with them but the
# category names and the noise helpers. Different sentence structures too: narrative openings,
# speech-to-text call transcripts, Facebook-style comments, e-mails with a subject line.
# ==================================================================================================

_H_TOWNS = [
    "Wakefield", "Oldham", "Sunderland", "Aberdeen", "Plymouth", "Southampton", "Coventry", "York",
    "Lincoln", "Bath", "Carlisle", "Inverness", "Newport", "Blackpool", "Milton Keynes", "Harrogate",
    "Chester", "Durham", "Margate", "Truro", "Kendal", "Stirling", "Bangor", "Crewe",
]
_H_PERIODS = [
    "nine days", "over a week now", "the past fortnight", "since Sunday night", "most of this month",
    "three weeks", "since the 2nd", "the last 36 hours", "ever since I moved in", "since half term",
]
_H_HANDSETS = ["Samsung", "Apple phone", "Galaxy", "Pixel", "Motorola", "Honor 90", "Fairphone 5",
               "Sony Xperia", "iPhone SE", "Redmi Note"]
_H_TARIFFS = ["Max Unlimited", "Smart 25GB", "Home Fibre 900", "Starter SIM", "Connect Plus"]
_H_BRANDS = ["@TelcoUK", "@Telco_Support", "Telco", "TELCO"]
_H_NAMES = ["Gareth", "Nadia", "Callum", "Fiona", "Imran", "Lucy", "Owen", "Zara"]


def _h_money(rng: random.Random) -> str:
    whole = rng.randint(7, 380)
    return rng.choice([f"£{whole}.{rng.randint(1, 98):02d}", f"£{whole}", f"GBP {whole}"])


def _h_slots(rng: random.Random) -> dict[str, str]:
    return {
        "town": _pick(rng, _H_TOWNS), "period": _pick(rng, _H_PERIODS), "handset": _pick(rng, _H_HANDSETS),
        "tariff": _pick(rng, _H_TARIFFS), "money": _h_money(rng), "money2": _h_money(rng),
        "count": _pick(rng, ["four", "five", "six", "seven", "eleven"]), "brand": _pick(rng, _H_BRANDS),
        "name": _pick(rng, _H_NAMES), "date": f"{rng.randint(1, 28)}{_pick(rng, ['st', 'th', 'nd'])}",
    }


_H_SCENARIOS = {
    "poor_network": [
        "my mobile can't find a network anywhere near {town}", "the connection keeps falling over during meetings",
        "websites take forever to open", "I get cut off halfway through every phone conversation",
        "youtube is stuck at the lowest quality", "there hasn't been a single bar of reception in our village for {period}",
        "the home internet disappears for an hour at a time", "my download speed is a fraction of what was advertised",
        "phone calls keep failing with a 'call failed' message", "messages show as not delivered",
        "there is no usable mobile internet on the train between {town} and home",
        "online games disconnect constantly", "the hotspot can't get a connection",
        "my partner can't ring me at home because it never connects", "the 4G symbol flickers on and off",
        "our area was cut off after roadworks damaged a cable and it's still not back",
        "signal strength in my kitchen is non existent", "since the new tower went up the service has got worse",
        "the voice on calls breaks up so badly I can't understand anyone", "my whatsapp voice notes never upload",
        "the connectivity in {town} town centre is dreadful", "the wifi has no internet access but the hub looks fine",
        "nothing on my mobile works unless I'm upstairs by the window", "my upload speed is basically zero",
    ],
    "incorrect_billing": [
        "I've been invoiced for a service I never signed up to",
        "the amount debited was {money}, not the {money2} we agreed",
        "you're charging me for a phone I sent back", "my monthly payment has jumped with no warning",
        "the itemised statement lists international calls I didn't make", "money came out twice on the {date}",
        "I was quoted one price over the phone and invoiced a different one",
        "the compensation credit I was offered isn't showing", "you billed me a termination charge when I left at the end of my term",
        "I'm being chased for money I don't owe", "my overpayment of {money} still hasn't been returned",
        "I've been charged for going over my allowance when I was nowhere near it",
        "the add-on was charged at the wrong rate", "the spend cap I set was ignored and I owe {money}",
        "I was charged for a full month after moving to another provider",
        "a collection agency wrote to me about a balance that is zero", "the 'free' gift costs me {money} a month",
        "my tariff was changed to {tariff} without my consent and costs more",
        "the payment was taken a week early and my account went overdrawn", "you keep adding a fee for paper statements I never get",
    ],
    "bad_customer_service": [
        "the queue music has been playing for over an hour", "nobody rang me on the date they said they would",
        "the person I spoke to was sarcastic and condescending", "the virtual assistant can't understand anything I type",
        "I've been bounced from one team to the next", "my emails seem to vanish into a black hole",
        "the shop assistant ignored me and served someone else", "I was promised a supervisor would ring me",
        "the technician never showed up to the booked slot", "the advisor put the phone down when I asked for her name",
        "they keep saying it's been escalated and nothing happens", "there's been no acknowledgement of my formal complaint after {period}",
        "each time I ring I have to start over from the beginning", "messages in the app get no reply for days",
        "staff gave me completely false information", "I got a satisfaction survey before anyone had helped me",
        "I've spent {count} evenings trying to reach a human", "the helpline closes before I finish work and nobody answers emails",
        "your representative was shouting at me", "the branch in {town} said it's not their problem",
    ],
    "device_equipment": [
        "the handset you supplied won't hold a charge", "the display has gone black though the phone still rings",
        "the new sim card shows 'invalid sim'", "the hub the engineer installed cuts power at random",
        "my order still hasn't been dispatched after {period}", "the device arrived with scratches all over it",
        "the USB-C port is loose", "the phone reboots whenever I open the camera",
        "the replacement unit has exactly the same defect", "the courier left my new mobile on the doorstep and it's gone",
        "the digital sim profile won't download", "the back glass of my {handset} cracked on its own",
        "the recorder box deleted my recordings and won't boot", "the wireless booster's light never turns solid",
        "the fingerprint reader stopped recognising me", "the {handset} keeps overheating in my pocket",
        "the repair centre has had my mobile for {period}", "the volume buttons on the {handset} are stuck",
        "the unlock code you gave me doesn't work on the handset", "the tablet from my contract has a dead touch zone",
    ],
}

_H_OTHER = {
    "thanks": [
        "Really pleased with how quickly the new line was set up", "Cheers to the lady in the {town} branch, lovely service",
        "Switched over last month and everything's been smooth", "The upgrade was painless, well done",
        "Credit where it's due, {name} fixed it in no time", "Five stars from me today",
    ],
    "question": [
        "Does anyone know if {brand} do pay as you go SIMs for kids?", "What's the cheapest way to call India from my mobile?",
        "Are your stores open on bank holidays?", "Can I use my allowance on a cruise?", "Is the {handset} available in green?",
        "How long does it take to move broadband to a new address?", "Which tariff is best for someone who mostly streams?",
        "Can I pause my line while I'm abroad for six months?",
    ],
    "promo": [
        "Limited time: free earbuds with every new contract", "This week only, {tariff} for {money} a month",
        "Bring a friend and get a month on us", "Ultrafast fibre now live in {town}, check your postcode",
    ],
    "brand_reply": [
        "We're sorry for the trouble. Could you send us a private message with your postcode?",
        "Thanks for the kind words, we'll pass them on to the team!", "Hi {name}, a specialist will be in touch via DM shortly",
        "Could you confirm the account holder's name in a DM please?", "Our apologies, we've sent you a private message",
    ],
    "spam": [
        "Your mobile number has won £2,000 in our monthly draw, reply CLAIM", "Your delivery could not be completed, reschedule via the link",
        "Claim your free gift card now before it expires", "Investment opportunity, double your money in 7 days",
        "Your bank card has been locked, confirm your details to unlock", "Get paid to review products, message us today",
        "You qualify for a government energy grant, apply now",
    ],
    "chatter": [
        "just got back from the gym, knackered", "who's going to the concert in {town} on saturday?",
        "my nan has discovered emojis, send help", "is it home time yet", "great night out with the girls",
        "cup of tea and a biscuit, perfect", "yes", "ok cool", "haha no way",
    ],
    "admin": [
        "Could you change the name on the bill to my married name?", "I need to update the payment card on my account",
        "Please register my new address, we've moved to {town}", "I would like to add a data-only SIM to my plan",
        "Can you confirm my contract end date please?",
    ],
    "news": [
        "{brand} announces 5G rollout in {town} next spring", "Read our guide to the best phones of the year",
        "Regulator publishes annual report on mobile coverage", "Telecoms shares up 3% after results",
    ],
}

_H_FB_LEADS = [
    "Is anyone else having this? ", "Not impressed. ", "Can someone from {brand} explain why ", "Week three and ",
    "PSA: ", "Update: ", "Honestly, ", "Right, ", "Just to let everyone know, ", "",
]
_H_FB_TAILS = [
    "?!", ". Absolute joke of a company.", ". Anyone got advice?", ". Switching as soon as I can.",
    ". I'm at my wits' end.", "!!!", ". Shameful.", ". Not good enough.", ". Thanks for nothing.", ".",
]
_H_TRANSCRIPT_LEADS = [
    "Summary: the caller said that ", "Customer explained that ", "The account holder reported that ",
    "Auto-summary - customer issue: ", "Caller advised ",
]
_H_TRANSCRIPT_OUTCOMES = {
    "poor_network": ["Advisor checked the local network and opened a fault.", "Network fault reference given."],
    "incorrect_billing": ["Advisor reviewed the statement and raised an adjustment.", "Refund request logged."],
    "bad_customer_service": ["Advisor apologised and logged a service complaint.", "Complaint passed to customer relations."],
    "device_equipment": ["Advisor arranged a courier collection for the unit.", "Handset exchange requested."],
    "other": ["Information provided, no complaint.", "Query answered on the call."],
}
_H_VERBATIM = ["yeah hi um so ", "hiya, er, basically ", "hello yes, so ", "right so um "]
_H_EMAIL_SUBJECTS = ["Complaint", "Urgent", "My account", "Please read", "Re: ongoing issue", "Problem"]
_H_EMAIL_SUBJECTS_OTHER = ["Hello", "Quick one", "FYI", "Info", "(no subject)"]
_H_EMAIL_CLOSES = ["Cheers", "Best", "Thank you in advance", "Regards", "Many thanks"]
_H_SARCASM = [
    "Fantastic. {scenario}. Just fantastic.", "Thank you {brand}, {scenario}, you've outdone yourselves",
    "Oh good, {scenario}. Love that for me", "Really impressive that {scenario}. Bravo.",
]
_H_MIXED = [". Oh and {other} too", ". On top of which {other}", ". Separately, {other}"]
_H_TEXT_SHORT = {"you": "ya", "and": "&", "with": "w/", "at": "@", "be": "b", "see": "c", "I": "i", "the": "da"}


def _h_scenario(rng: random.Random, cat: str, s: dict[str, str]) -> str:
    return _pick(rng, _H_SCENARIOS[cat]).format_map(s)


def _h_body(rng: random.Random, label: str, s: dict[str, str]) -> str:
    if label == "other":
        kind = _pick(rng, list(_H_OTHER))
        return _pick(rng, _H_OTHER[kind]).format_map(s)
    r = rng.random()
    if r < 0.08:
        return _pick(rng, _H_SARCASM).format_map({**s, "scenario": _h_scenario(rng, label, s)})
    text = _capital(_h_scenario(rng, label, s))
    if rng.random() < 0.3:
        text += ". " + _capital(_h_scenario(rng, label, s))
    if r > 0.84:
        other = _pick(rng, [c for c in COMPLAINT_CATEGORIES if c != label])
        text += _pick(rng, _H_MIXED).format(other=_h_scenario(rng, other, s))
    return text


def _h_text(rng: random.Random, label: str) -> str:
    s = _h_slots(rng)
    body = _h_body(rng, label, s)
    form = rng.choices(("fb", "transcript", "email", "text"), weights=(0.3, 0.2, 0.2, 0.3))[0]
    if form == "fb":
        if label == "other":  # complaint-style leads and tails would turn it into a complaint
            return body + _pick(rng, ["", " :)", " x", "!", " Thanks all."])
        lead = _pick(rng, _H_FB_LEADS).format_map(s)
        return lead + (body[:1].lower() + body[1:] if lead else body) + _pick(rng, _H_FB_TAILS)
    if form == "transcript":
        if label == "other":
            return f"Caller enquiry: {body.rstrip('.?!')}. {_pick(rng, _H_TRANSCRIPT_OUTCOMES[label])}"
        if rng.random() < 0.3:
            return _pick(rng, _H_VERBATIM) + body.lower() + ", can you help"
        outcome = _pick(rng, _H_TRANSCRIPT_OUTCOMES[label])
        return f"{_pick(rng, _H_TRANSCRIPT_LEADS)}{body[:1].lower() + body[1:]}. {outcome}"
    if form == "email":
        account = f" Account {masked_token(rng, 'ACCOUNT')}." if rng.random() < 0.3 else ""
        subject = _pick(rng, _H_EMAIL_SUBJECTS_OTHER if label == "other" else _H_EMAIL_SUBJECTS)
        return (f"Subject: {subject}\n\nHi,\n\n{body.rstrip('.')}.{account}\n\n"
                f"{_pick(rng, _H_EMAIL_CLOSES)},\n{masked_token(rng, 'NAME')}")
    words = body.lower().split(" ")
    text = " ".join(_H_TEXT_SHORT.get(w, w) if rng.random() < 0.5 else w for w in words)
    return add_typos(rng, text, 0.05)


def heldout_corpus(n: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` labelled texts from the held-out author (texts, labels), deterministic for ``seed``."""
    rng = random.Random(f"heldout:{seed}")
    labels = rng.choices(list(LABEL_WEIGHTS), weights=list(LABEL_WEIGHTS.values()), k=n)
    return [_h_text(rng, label) for label in labels], labels
