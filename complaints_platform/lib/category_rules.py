"""Keyword rules for the categories: the first voice of the teacher (lib/category_teacher.py).

Each category has weighted regular expressions written from what telecom complaints talk about
(not from any test set). A text's score for a category is the sum of the weights of its patterns
that match; the rules abstain (score 0 everywhere) when nothing matches, and the other voices of
the teacher decide. Scored for all texts at once with polars (Rust regex, one pass per pattern), so
the rules run at hundreds of thousands of texts a second and never loop over rows in Python.

"other" has its own patterns for what is not a complaint: brand or agent replies ("DM us", "sorry
to hear", a ^AB signature), marketing ("T&Cs apply", "switch today"), SMS spam ("text WIN to
80086", "you have won") and thanks or plain questions.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from complaints_platform.lib.silver import CATEGORIES

# (pattern, weight). Patterns are matched case-insensitively on the raw (masked) text.
RULES: dict[str, list[tuple[str, float]]] = {
    "poor_network": [
        (r"\b(no|zero|0|one|1|low|weak|poor|bad|patchy|spotty|rubbish|terrible|shocking|awful) ?(bars?|signal|signl|reception|coverage|service|network)\b", 2.0),
        (r"\b(signal|signl|reception|coverage|mast|tower|blackspot|dead ?zone)\b", 1.5),
        (r"\b(outage|outages|down ?detector|service (is )?down|network (is )?down)\b", 2.0),
        (r"\b(internet|interent|broadband|wifi|wi-fi|fibre|fiber|fios|connection|data|lte|4g|5g|3g|hotspot|line)\b.{0,40}\b(down|out|dead|slow|crawl\w*|drop\w*|cut\w* out|disconnect\w*|not working|isn'?t working|doesn'?t work|won'?t (load|work|connect)|keeps? (dropping|cutting|going))", 2.5),
        (r"\b(down|out|dead|slow|no|lost|losing)\b.{0,20}\b(internet|interent|broadband|wifi|wi-fi|fibre|fiber|connection|data|service|network)\b", 1.5),
        (r"\b(dropped|dropping|drops|cut(ting)? off|cuts? out|breaking up|break up|calls? (fail|failing|keep)|straight to voicemail|can'?t (make|receive) (a )?calls?)\b", 2.0),
        (r"\b(speed ?test|mbps|kbps|mb/s|meg\b|ping|latency|lag|packet loss|buffer\w*|speeds?|slower|slowest|loading|load\b|time[sd]? out|timing out)", 1.5),
        (r"\b(sos only|emergency calls only|no service|dial tone|edge\b|e on the screen)", 2.5),
        (r"\b(internet|broadband|wifi|connection)\b", 0.7),
    ],
    "incorrect_billing": [
        (r"\b(bill|bills|billed|billing|bil|invoice|statement)\b", 2.0),
        (r"\b(charge|charged|charges|charging|overcharg\w*|surcharge|fee|fees|refund\w*|credit|credits|payment|payments|paid|pay|paying|direct debit|autopay|debit)\b", 1.5),
        (r"[£$€]\s?\d|\b\d+(\.\d\d)? ?(quid|pounds|dollars|bucks|p/m|/mo|a month|per month)\b", 1.5),
        (r"\b(price|prices|pricing|tariff|plan|contract|deal|promo|discount|loyalty|price ?(rise|hike|increase|lock)|cost\w*|money|collections|owe|owed|arrears|debt|overdrawn|taxes)\b", 1.0),
        (r"\b(cancel\w*|termination|exit fee|early upgrade|upgrade fee|roaming|overage|add[- ]?ons?)\b", 0.8),
    ],
    "bad_customer_service": [
        (r"\b(on hold|hold music|holding|hold for|in the queue|queue)\b", 2.5),
        (r"\b(call ?back|called back|ring(ing)? back|get back to me|got back to me|no reply|no response|not replied|never replied|ignored|ignoring|crickets|auto ?reply)\b", 2.0),
        (r"\b(customer (service|care|support)|cust service|support team|complaints? (team|department)|helpline|call (center|centre)|live chat|chat ?bot|chat agent|dm team)\b", 2.0),
        (r"\b(rude|rudest|condescending|patronising|patronizing|dismissive|shout\w*|laughed|lied|lying|useless|unhelpful|clueless|incompetent|script)\b", 1.8),
        (r"\b(agent|agents|rep|reps|advisor|adviser|staff|employee|manager|supervisor|representative|store|shop|engineer|tech|technician|team|someone|nobody|no one|anyone)\b", 0.9),
        (r"\b(hung up|hangs? up|transferred|passed around|fobbed off|run ?around|no show|didn'?t (turn|show) up|never (turned|showed) up|missed appointment|waited in|escalat\w*|ticket|case (number|closed)|closed (my|the) (case|complaint|ticket)|promised)\b", 1.8),
        (r"\b(explain(ed)? (it|this|my)|(\d+|three|four|five) (times|calls|different)|every (time|call))\b", 1.0),
        (r"\b(waiting|waited|wait)\b", 0.8),
    ],
    "device_equipment": [
        (r"\b(phone|handset|iphone|galaxy|pixel|samsung|s2\d|ipad|tablet|watch|mobile phone|device)\b", 1.2),
        (r"\b(router|modem|hub|gateway|extender|booster|wifi disc|mesh|ont|dongle|mifi|jetpack|box|remote|set ?top|cable card|adapter|charger|cable)\b", 1.3),
        (r"\b(e-?sim|sim card|sim\b|nano sim|puk|qr code|no sim|sim failure)\b", 2.2),
        (r"\b(screen|battery|charging|charge port|charging port|camera|speaker|earpiece|mic|microphone|touch ?screen|face ?id|face unlock|buttons?)\b", 2.0),
        (r"\b(faulty|broken|broke|cracked|dead on arrival|doa|won'?t (turn|switch|power) on|restart\w*|reboot\w*|boot ?loop|freez\w*|overheat\w*|red hot|swell\w*|bulging|flashing (orange|red)|blinking|lights?)\b", 1.3),
        (r"\b(repair\w*|replacement|refurb\w*|delivered|delivery|courier|parcel|tracking|shipped|arrive[d]?|sent me|you sent|ordered|returned|locked|unlock\w*|activate\w*|activation)\b", 1.2),
    ],
    "other": [
        (r"\b(dm us|send us a dm|send us a (direct )?message|drop us a dm|we'?ve replied|we'?ve sent you|sorry to hear|sorry for the (trouble|inconvenience|disruption)|we understand|we'?d love to help|happy to help|glad we could help|thanks for (reaching out|getting in touch|your patience)|let us know|we'?ll (look|get|take)|our team)\b", 3.0),
        (r"[\^*~-] ?[A-Z]{2,3}\s*$|\s-[A-Z]{2}\s*$", 3.0),
        (r"\b(t ?& ?cs?|terms apply|limited time|shop now|learn more|switch (today|now|to us)|sign up today|get your first|save up to|refer a friend|introducing|available now|competition|rt and follow|black friday|exclusive offer)\b", 3.0),
        (r"\b(you have won|you'?ve won|you'?ve been (selected|chosen)|won an? |winner|prize|claim (your|now|it)?|text \w+ to \d{4,6}|txt \w+ to|reply (yes|win|stop|loan)|stop to opt out|opt out|msg ?& ?data|£\d+(\.\d\d)?/msg|urgent!|free msg|verify (now|your)|click here|un-redeemed|voucher|congratulations)\b", 3.5),
        (r"\b(thank you|thanks|thx|ta|cheers|love|amazing|brilliant|great|helpful|shout ?out|credit to|kudos|appreciate|congrats|happy)\b", 1.0),
        (r"^\W*(@\w+\s*)*(ok(ay)?|done|dm sent|will do|no worries|yes|yeah|nah|yep|sure|👍|🙏|😊)[\W\w]{0,25}$", 2.5),
        (r"\b(how (do|can) i|can i|does (my|the|it)|is (the|there|it)|which|what time|when (is|does|will)|where do i|do you (guys )?have|any (deals|offers)|recommend|just curious|quick q)\b", 1.0),
        (r"\b(lol|lmao|omg|haha|birthday|tonight|weekend|pizza|coffee|cat|game|season)\b", 0.6),
    ],
}

# Words that turn a polite-sounding text back into a complaint: they cancel the "other" bonus of
# thanks or praise (sarcasm: "thanks for the amazing internet, 4 hours of nothing").
COMPLAINT_CUES = r"\b(still|again|never|nothing|no one|nobody|not|isn'?t|doesn'?t|won'?t|can'?t|cant|didn'?t|hasn'?t|haven'?t|worst|joke|ridiculous|unacceptable|useless|terrible|awful|shocking|disgusting|fix|why)\b|🙃|[?!]{2,}"


def rule_scores(texts) -> np.ndarray:
    """(n_texts, len(CATEGORIES)) summed rule weights; a row of zeros means the rules abstain."""
    frame = pl.DataFrame({"t": pl.Series(list(texts), dtype=pl.String)}).with_columns(pl.col("t").fill_null(""))
    columns = []
    for category in CATEGORIES:
        expr = pl.lit(0.0)
        for pattern, weight in RULES[category]:
            expr = expr + pl.col("t").str.contains(f"(?i){pattern}").cast(pl.Float64) * weight
        columns.append(expr.alias(category))
    scores = frame.select(*columns, pl.col("t").str.contains(f"(?i){COMPLAINT_CUES}").alias("cue"))
    matrix = scores.select(list(CATEGORIES)).to_numpy().astype(np.float64)
    other = CATEGORIES.index("other")
    complaint_signal = matrix[:, [i for i in range(len(CATEGORIES)) if i != other]].max(axis=1)
    cue = scores.get_column("cue").to_numpy()
    # A complaint cue halves the case for "other" when the text also scores as a complaint.
    matrix[:, other] = np.where(cue & (complaint_signal > 0), matrix[:, other] * 0.5, matrix[:, other])
    return matrix


def rule_probabilities(texts, temperature: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Softmax of the rule scores (rows sum to 1) and a boolean mask of rows where a rule fired."""
    scores = rule_scores(texts)
    fired = scores.max(axis=1) > 0
    z = np.exp((scores - scores.max(axis=1, keepdims=True)) / temperature)
    proba = z / z.sum(axis=1, keepdims=True)
    proba[~fired] = 1.0 / len(CATEGORIES)
    return proba, fired


def predict_by_rules(texts) -> list[str]:
    """The rules' own answer: the best-scoring category, "other" when no rule fires."""
    scores = rule_scores(texts)
    best = scores.argmax(axis=1)
    best[scores.max(axis=1) <= 0] = CATEGORIES.index("other")
    return [CATEGORIES[i] for i in best]
