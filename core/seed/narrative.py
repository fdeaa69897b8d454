"""Pure generation of the demo's qualitative data: weather reports and typed comments.

Sentences come from the French templates of the spec (``[texts]``), filled with the policy's
short name, the territory's name, a month and one of the policy's indicators.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from core.models import Weather
from core.seed.spec import PolicySpec

RATED = [Weather.SECURED, Weather.ACHIEVABLE, Weather.SUPPORT_NEEDED, Weather.COMPROMISED]
LAST_WEATHER = {  # odds of the current rating per profile, in RATED order
    "on_track": (45, 40, 12, 3),
    "late": (5, 35, 45, 15),
    "stale": (10, 40, 35, 15),
    "regressing": (3, 22, 45, 30),
}
EARLIER_WEATHER = (30, 45, 20, 5)
# share of territories of a level that get weather reports / comments (by the level's part)
WEATHER_COVERAGE = {"nation": 1.0, "region": 0.9, "department": 0.65}
COMMENT_COVERAGE = {"nation": 1.0, "region": 0.0, "department": 0.12}
NATION_TYPES = ("obstacles", "next_actions", "results_to_highlight")
LOCAL_TYPES = ("data_comment", "obstacles", "results_to_highlight", "next_actions")


@dataclass(frozen=True, slots=True)
class Place:
    level: str
    code: str
    name: str
    # the level's part in the grid: "nation" (top), "department" (steering level, deepest) or
    # "region" (any level between); empty means the level key itself
    role: str = ""

    @property
    def part(self) -> str:
        return self.role or self.level


@dataclass
class Note:
    """A generated weather report or comment (its replies only for comments)."""

    place: Place
    created_at: dt.datetime
    body: str
    weather: Weather | None = None
    type: str | None = None
    replies: list[Note] = field(default_factory=list)


class Narrator:
    """Writes the weather reports and comments of one policy."""

    def __init__(self, policy: PolicySpec, texts: dict, seed: int, today: dt.date, start: dt.date):
        self.policy, self.texts, self.seed, self.today, self.start = policy, texts, seed, today, start

    def rng(self, *parts: str) -> random.Random:
        return random.Random(":".join([str(self.seed), self.policy.code, *parts]))

    def when(self, rng: random.Random, day: dt.date) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, rng.randint(8, 18), rng.randrange(60),
                           tzinfo=dt.timezone.utc)

    def fill(self, template: str, rng: random.Random, place: Place, day: dt.date) -> str:
        month = f"{self.texts['months'][day.month - 1]} {day.year}"
        indicator = rng.choice(self.policy.indicators).name
        return template.format(policy=self.policy.short_name, territory=place.name, month=month,
                               indicator=indicator[0].lower() + indicator[1:])

    def covered(self, place: Place, what: str, coverage: dict[str, float]) -> bool:
        if self.policy.territory is not None:  # a structuring project: its one department
            return True
        return self.rng(what, place.code).random() < coverage[place.part]

    def note(self, rng: random.Random, place: Place, day: dt.date, templates: list[str], **kw) -> Note:
        return Note(place, self.when(rng, day), self.fill(rng.choice(templates), rng, place, day), **kw)

    def weather(self, places: list[Place]) -> list[Note]:
        """2–4 reports per covered territory, spread over the history, the last one recent."""
        notes, window = [], (self.today - self.start).days - 60
        for place in places:
            if not self.covered(place, "weather-coverage", WEATHER_COVERAGE):
                continue
            rng = self.rng("weather", place.level, place.code)
            days = sorted(self.start + dt.timedelta(days=rng.randrange(window))
                          for _ in range(rng.randint(1, 3)))
            days.append(self.today - dt.timedelta(days=rng.randint(3, 45)))
            rating = rng.choices(RATED, EARLIER_WEATHER)[0]
            for i, day in enumerate(days):
                if i == len(days) - 1:
                    rating = rng.choices(RATED, LAST_WEATHER[self.policy.profile])[0]
                elif i and rng.random() < 0.5:
                    rating = rng.choices(RATED, EARLIER_WEATHER)[0]
                templates = self.texts["weather"][rating.value]
                notes.append(self.note(rng, place, day, templates, weather=rating))
        return notes

    def comments(self, places: list[Place]) -> list[Note]:
        """Typed comments at the nation and a few departments, some with a reply."""
        notes = []
        for place in places:
            if not self.covered(place, "comment-coverage", COMMENT_COVERAGE):
                continue
            rng = self.rng("comments", place.level, place.code)
            if place.part == "nation":
                types = [t for t in NATION_TYPES if rng.random() < 0.8]
                types += ["decision"] if rng.random() < 0.5 else []
            else:
                types = rng.sample(LOCAL_TYPES, rng.randint(1, 2))
            for kind in types:
                day = self.today - dt.timedelta(days=int(540 * rng.random() ** 2) + 1)
                note = self.note(rng, place, day, self.texts["comments"][kind], type=kind)
                if rng.random() < 0.15:
                    late = dt.timedelta(days=rng.randint(1, 10), minutes=rng.randrange(600))
                    at = min(note.created_at + late, self.when(rng, self.today).replace(hour=19))
                    body = self.fill(rng.choice(self.texts["replies"]), rng, place, at.date())
                    note.replies.append(Note(place, at, body, type=kind))
                notes.append(note)
        return notes
