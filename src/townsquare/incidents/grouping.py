"""One open incident: its members, its term profile, and whether a new report belongs to it.

A report joins when its terms are, taken together, far more typical of the incident than of
normal traffic: the score is the sum of ``log(lift)`` over the report's terms that are *core*
terms of the incident, with ``lift = P(term | incident) / P(term | usual reports)``. This is a
naive-Bayes log-likelihood ratio over the terms a report *has*; terms it lacks are not held
against it, because real reports of one outage are worded very differently ("WLAN geht nicht",
"kein Internet im ICE", "wifi down again").
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from townsquare.incidents.lexicon import concept_label

ShareOf = Callable[[str], float]
"""Usual share of reports carrying a term (from :class:`~townsquare.incidents.baseline`)."""

_LIFT_CAP = 1000.0  # one very rare shared word must not outweigh everything else
_DISTINCTIVE = math.log(3.0)  # a term 3x commoner in the incident than usual tells something


@dataclass(slots=True)
class Member:
    """What the detector keeps of a report that may seed or join an incident."""

    id: str
    t: float
    created_at: datetime
    features: frozenset[str]
    surfaces: dict[str, str]
    author: str | None
    language: str | None
    channel: str | None
    location: str | None


@dataclass(slots=True)
class OpenIncident:
    key: str
    seed_feature: str
    detected_at: datetime
    first_message_at: datetime
    last_t: float
    member_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    surfaces: dict[str, dict[str, int]] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    locations: dict[str, int] = field(default_factory=dict)
    core: dict[str, float] = field(default_factory=dict)
    anchors: frozenset[str] = frozenset()  # core terms most reports carry; a joiner needs one
    activity: float = 0.0  # reports per window, decayed; `activity_t` is when it was last updated
    activity_t: float = 0.0
    peak_activity: float = 0.0

    @staticmethod
    def make_key(first_id: str, seed_feature: str) -> str:
        digest = hashlib.sha1(f"{first_id}\x00{seed_feature}".encode(), usedforsecurity=False)
        return f"inc-{digest.hexdigest()[:12]}"

    @property
    def size(self) -> int:
        return len(self.member_ids)

    def add(self, member: Member, mean_life_s: float) -> None:
        self.member_ids.append(member.id)
        counts, surfaces = self.counts, self.surfaces
        for feature in member.features:
            counts[feature] = counts.get(feature, 0) + 1
        for feature, surface in member.surfaces.items():
            by_surface = surfaces.setdefault(feature, {})
            by_surface[surface] = by_surface.get(surface, 0) + 1
        for value, tally in (
            (member.language, self.languages),
            (member.channel, self.channels),
            (member.location, self.locations),
        ):
            if value:
                tally[value] = tally.get(value, 0) + 1
        if member.created_at < self.first_message_at:
            self.first_message_at = member.created_at
        self.activity = self.activity_at(member.t, mean_life_s) + 1.0
        self.activity_t = member.t
        self.peak_activity = max(self.peak_activity, self.activity)
        self.last_t = max(self.last_t, member.t)

    def activity_at(self, t: float, mean_life_s: float) -> float:
        return self.activity * math.exp(-max(0.0, t - self.activity_t) / mean_life_s)

    def update_core(self, share_of: ShareOf, min_share: float, max_terms: int, anchor_share: float) -> None:
        """Recompute the core terms and their weights (log lift) from the members so far."""
        size = self.size
        scored: list[tuple[float, str, float]] = []
        for feature, count in self.counts.items():
            if count < 2 or count < min_share * size:
                continue
            in_incident = (count + 0.5) / (size + 1.0)
            lift = min(_LIFT_CAP, in_incident / max(share_of(feature), 1e-9))
            if lift < 2.0:
                continue
            weight = math.log(lift)
            scored.append((in_incident * weight, feature, weight))
        scored.sort(reverse=True)
        self.core = {feature: weight for _rank, feature, weight in scored[:max_terms]}
        if self.seed_feature not in self.core and self.seed_feature in self.counts:
            # The term whose burst opened the incident stays its anchor.
            count = self.counts[self.seed_feature]
            in_incident = (count + 0.5) / (size + 1.0)
            lift = min(_LIFT_CAP, in_incident / max(share_of(self.seed_feature), 1e-9))
            self.core[self.seed_feature] = math.log(max(lift, 1.0))
        anchors = {f for f in self.core if self.counts.get(f, 0) >= anchor_share * size}
        anchors.add(self.seed_feature)
        self.anchors = frozenset(anchors)

    def score(self, features: frozenset[str]) -> float:
        """Evidence (sum of log lifts) that a report with these terms belongs here.

        Zero unless the report carries an anchor term: secondary terms alone ("account",
        "App and website") also fit many unrelated reports. Lexicon concepts (``~app``,
        ``~outage``) add evidence only when the incident's burst was one of them: as secondary
        terms they are what most complaints share, and let "account" + "~app" pull unrelated
        reports into a brand's outage. Without the term that burst, a report needs two distinctive
        core terms (each at least 3 times commoner in the incident than usual).
        """
        if self.anchors.isdisjoint(features):
            return 0.0
        core = self.core
        seed = self.seed_feature
        total = 0.0
        matched = 0
        for feature in features:
            weight = core.get(feature)
            if weight is not None and (feature == seed or not feature.startswith("~")):
                total += weight
                matched += weight >= _DISTINCTIVE
        if matched < 2 and seed not in features:
            return 0.0  # one secondary term is never enough, however rare it usually is
        return total

    def terms(self) -> list[str]:
        """Core terms as people read them, strongest first ("WLAN", "Connectivity")."""
        return [self.surface(feature) for feature in sorted(self.core, key=lambda f: -self.core[f])]

    def surface(self, feature: str) -> str:
        if feature.startswith("~"):
            return concept_label(feature)
        by_surface = self.surfaces.get(feature)
        if not by_surface:
            return feature
        return max(by_surface.items(), key=lambda item: (item[1], item[0]))[0]

    def title(self) -> str:
        ordered = sorted(self.core, key=lambda f: -self.core[f])
        concepts = [f for f in ordered if f.startswith("~")]
        words = [self.surface(f) for f in ordered if not f.startswith("~")][:3]
        if concepts:
            head = concept_label(concepts[0])
            return f"{head}: {', '.join(words)}" if words else head
        return f"Reports about {', '.join(words)}" if words else "Burst of similar reports"

    def top(self, tally: dict[str, int]) -> list[str]:
        return [key for key, _count in sorted(tally.items(), key=lambda item: (-item[1], item[0]))]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "seed_feature": self.seed_feature,
            "detected_at": self.detected_at.isoformat(),
            "first_message_at": self.first_message_at.isoformat(),
            "last_t": self.last_t,
            "member_ids": self.member_ids,
            "counts": self.counts,
            "surfaces": self.surfaces,
            "languages": self.languages,
            "channels": self.channels,
            "locations": self.locations,
            "core": self.core,
            "anchors": sorted(self.anchors),
            "activity": self.activity,
            "activity_t": self.activity_t,
            "peak_activity": self.peak_activity,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OpenIncident:
        return cls(
            key=str(data["key"]),
            seed_feature=str(data["seed_feature"]),
            detected_at=datetime.fromisoformat(data["detected_at"]),
            first_message_at=datetime.fromisoformat(data["first_message_at"]),
            last_t=float(data["last_t"]),
            member_ids=[str(x) for x in data["member_ids"]],
            counts={str(k): int(v) for k, v in data["counts"].items()},
            surfaces={str(k): {str(s): int(n) for s, n in v.items()} for k, v in data["surfaces"].items()},
            languages={str(k): int(v) for k, v in data["languages"].items()},
            channels={str(k): int(v) for k, v in data["channels"].items()},
            locations={str(k): int(v) for k, v in data["locations"].items()},
            core={str(k): float(v) for k, v in data["core"].items()},
            anchors=frozenset(str(f) for f in data["anchors"]),
            activity=float(data["activity"]),
            activity_t=float(data["activity_t"]),
            peak_activity=float(data["peak_activity"]),
        )
