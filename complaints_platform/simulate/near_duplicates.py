"""A generated set of complaints with planted near-duplicates of known truth, to measure the merge.

Each customer makes one or two real complaints ("stories"). Some stories are sent again, the way
customers do: the same complaint in another channel's register (an SMS after a tweet, a web form
after a call), or reposted on the same channel with typos, a "still waiting" lead or a new tail.
Some customers also make a second, different complaint within two days, often about the same kind
of problem: the hard negatives a merge must keep apart. ``story_id`` is the truth: two records are
the same complaint exactly when they share it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import polars as pl

from complaints_platform.lib.silver import CATEGORIES, CHANNEL_NAMES
from complaints_platform.simulate.generator import complaint_gist, complaint_text, gist_template

COMPLAINT_CATEGORIES = [c for c in CATEGORIES if c != "other"]
_REPOST_LEADS = ["still waiting!! ", "AGAIN: ", "2nd time asking - ", "hello?? ", "any update? ", "reposting: "]
_REPOST_TAILS = [" still not fixed", " please reply", " #stillwaiting", " 😡😡", " ...", " day 3 of this"]


@dataclass(frozen=True)
class PlantedSet:
    records: pl.DataFrame  # complaint_id, channel, contact_token, text_masked, event_at, received_at, story_id, kind
    duplicates: int  # records that are a later copy of a story already sent (what a merge should find)


def _typos(rng: random.Random, text: str, n: int) -> str:
    chars = list(text)
    for _ in range(n):
        i = rng.randrange(max(1, len(chars) - 1))
        op = rng.random()
        if op < 0.4 and i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif op < 0.7:
            del chars[i]
        else:
            chars.insert(i, chars[i])
    return "".join(chars)


def _repost(rng: random.Random, text: str) -> str:
    variant = _typos(rng, text, rng.randint(0, 3))
    if rng.random() < 0.5:
        variant = _lead(rng) + variant
    if rng.random() < 0.5:
        variant += rng.choice(_REPOST_TAILS)
    if rng.random() < 0.15:
        variant = variant.lower()
    return variant


def _lead(rng: random.Random) -> str:
    return rng.choice(_REPOST_LEADS)


def planted_set(customers: int = 2000, seed: int = 7, duplicate_share: float = 0.3,
                second_complaint_share: float = 0.3) -> PlantedSet:
    """Records of ``customers`` customers over two days, with planted copies and hard negatives."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 2, tzinfo=timezone.utc)
    rows: list[dict] = []

    def add(contact: str, story: str, kind: str, channel: str, text: str, at: datetime) -> None:
        rows.append({
            "complaint_id": f"c{len(rows):06d}", "channel": channel, "contact_token": contact,
            "text_masked": text, "event_at": at, "received_at": at + timedelta(seconds=rng.randint(1, 600)),
            "story_id": story, "kind": kind,
        })

    for n in range(customers):
        contact = f"<CUSTOMER:{n:010d}>"
        stories = 2 if rng.random() < second_complaint_share else 1
        first_category = rng.choice(COMPLAINT_CATEGORIES)
        first_template = None
        for s in range(stories):
            # A second complaint is often about the same kind of problem (another one): the hard case.
            category = first_category if (s == 0 or rng.random() < 0.6) else rng.choice(COMPLAINT_CATEGORIES)
            template = gist_template(rng, category, other_than=first_template)
            first_template = first_template or template
            gist = complaint_gist(rng, category, template)
            # Half the second complaints come by the first one's channel, in the same boilerplate.
            channel = rows[-1]["channel"] if s and rng.random() < 0.5 else rng.choice(CHANNEL_NAMES)
            at = start + timedelta(minutes=rng.randint(0, 36 * 60))
            text, _ = complaint_text(rng, channel, category, None, gist)
            story = f"s{n}-{s}"
            add(contact, story, "original" if s == 0 else "second_complaint", channel, text, at)
            if rng.random() < duplicate_share:
                later = at + timedelta(minutes=rng.randint(5, 24 * 60))
                if rng.random() < 0.5:
                    other = rng.choice([c for c in CHANNEL_NAMES if c != channel])
                    copy, _ = complaint_text(rng, other, category, None, gist)
                    add(contact, story, "other_channel", other, copy, later)
                else:
                    add(contact, story, "repost", channel, _repost(rng, text), later)
    records = pl.DataFrame(rows, schema_overrides={"event_at": pl.Datetime("us", "UTC"), "received_at": pl.Datetime("us", "UTC")})
    duplicates = records.height - records.select(pl.col("story_id").n_unique()).item()
    return PlantedSet(records=records, duplicates=duplicates)


@dataclass(frozen=True)
class MergeScore:
    merged: int  # records merged into another
    correct: int  # of those, merged into their own story
    duplicates: int  # records that should have been merged
    queued: int  # pairs sent to the review queue
    queued_true: int  # of those, pairs of one story (a reviewer should accept)

    @property
    def precision(self) -> float:
        return self.correct / self.merged if self.merged else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.duplicates if self.duplicates else 1.0

    @property
    def recall_after_review(self) -> float:
        """Recall if reviewers accept the true pairs of the queue (each queued record counted once)."""
        return min(1.0, (self.correct + self.queued_true) / self.duplicates) if self.duplicates else 1.0

    def as_dict(self) -> dict:
        return {
            "merged": self.merged, "correct": self.correct, "duplicates": self.duplicates,
            "precision": round(self.precision, 4), "recall": round(self.recall, 4),
            "queued": self.queued, "queued_true": self.queued_true,
            "recall_after_review": round(self.recall_after_review, 4),
        }


def score_merge(planted: PlantedSet, links: pl.DataFrame, review: pl.DataFrame) -> MergeScore:
    """Compare a merge (links: complaint_id -> duplicate_of) and its review queue with the truth."""
    story = planted.records.select("complaint_id", "story_id")
    judged = links.join(story, on="complaint_id").join(
        story.rename({"complaint_id": "duplicate_of", "story_id": "kept_story"}), on="duplicate_of"
    )
    queued = review.join(story, on="complaint_id").join(
        story.rename({"complaint_id": "candidate_of", "story_id": "candidate_story"}), on="candidate_of"
    )
    return MergeScore(
        merged=links.height,
        correct=judged.filter(pl.col("story_id") == pl.col("kept_story")).height,
        duplicates=planted.duplicates,
        queued=review.height,
        queued_true=queued.filter(pl.col("story_id") == pl.col("candidate_story"))
        .select(pl.col("complaint_id").n_unique()).item(),
    )
