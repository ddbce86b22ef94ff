"""Streaming incident detection: find bursts of similar problem reports as they arrive.

For every report, in time order and with no look-ahead:

1. **Join.** If its terms match an open incident strongly enough (see
   :mod:`townsquare.incidents.grouping`), it joins that incident ("grew").
2. **Count.** Otherwise, if it reads like a problem report, each of its terms (word stems,
   @mentions, language-neutral concepts) adds to a decaying count of recent *unexplained* reports.
   Reports that joined an incident are explained and not counted again, so one outage does not
   open a second incident through its secondary words.
3. **Test.** A term bursts when its recent count is far above what the baseline expects for this
   time of day (:mod:`townsquare.incidents.baseline`): at least ``min_ratio`` times the usual rate
   and a Poisson tail probability below the threshold set by ``sensitivity``.
4. **Open.** The recent unexplained reports carrying the bursting term (and those that match the
   profile they form) become a new incident ("opened"), if they come from at least
   ``min_reports`` different authors.

Detection thus happens on the very report that makes a burst significant, not in periodic
batches. An incident stops growing when it goes quiet (``quiet_after``, or its rate falls to
``quiet_fraction`` of its peak) or when :meth:`IncidentDetector.close` is called.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from townsquare.incidents.baseline import DecayingCounts, VolumeProfile, poisson_log10_sf
from townsquare.incidents.grouping import Member, OpenIncident
from townsquare.incidents.text import extract

SNAPSHOT_VERSION = 1
PASSING_KEPT = 2000
"""Recent non-report posts kept for an opening incident to take in: enough for an hour of a busy
brand's chatter, and a bound on memory and on the saved state when traffic is huge."""


class ReportIn(BaseModel):
    """One incoming message, as the pipeline or the replay command hands it over."""

    model_config = ConfigDict(extra="ignore")

    id: str
    created_at: datetime
    text: str
    channel: str | None = None
    language: str | None = None
    author: str | None = None
    location: str | None = None
    is_problem: bool | None = None
    """Optional hint from triage; when set it overrides the detector's own lexicon guess."""

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # Naive timestamps are taken as UTC so that comparisons never mix naive and aware.
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class IncidentSignal(BaseModel):
    """What the detector tells the pipeline.

    ``opened``: a new suspected incident, ``message_ids`` are all its reports so far.
    ``grew``: reports that joined an open incident during this ``observe`` call (only the new ids).
    ``quiet``: the incident's burst is over and it no longer takes new reports (no ids).
    """

    incident_key: str
    kind: Literal["opened", "grew", "quiet"]
    title: str
    terms: list[str]
    languages: list[str]
    channels: list[str]
    first_message_at: datetime
    detected_at: datetime
    message_ids: list[str]
    locations: list[str]
    size: int = 0
    """Number of reports in the incident after this signal."""


class DetectorSettings(BaseModel):
    """Knobs of the detector; every one is documented in ``docs/incidents.md``."""

    model_config = ConfigDict(frozen=True)

    sensitivity: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="0 = only overwhelming bursts, 1 = jumpy. Sets the Poisson tail probability a "
        "term's recent count must fall below: 10^-(3 + 8 * (1 - sensitivity)), 1e-7 at 0.5.",
    )
    min_reports: int = Field(5, ge=2, description="Reports from distinct authors needed to open an incident.")
    window: timedelta = Field(
        timedelta(minutes=15),
        description="Short time scale of a burst: reports are counted over this window (and over `long_window`).",
    )
    long_window: timedelta = Field(
        timedelta(minutes=60),
        description="Second, longer time scale tested alongside `window`, for bursts that build slowly.",
    )
    concept_relief: float = Field(
        2.0,
        ge=0.0,
        description="Orders of magnitude less surprise needed when the bursting term is one of the "
        "~10 lexicon concepts rather than one of tens of thousands of words: fewer tests, fewer "
        "chance hits (a per-family multiple-testing correction).",
    )
    min_ratio: float = Field(4.0, ge=1.0, description="A term's recent rate must be this many times its usual rate.")
    baseline_days: float = Field(3.0, gt=0.0, description="Mean life, in days, of each term's usual share.")
    join_min_lift: float = Field(
        30.0,
        gt=1.0,
        description="A report joins an incident when its incident terms together are this many times "
        "more typical of the incident than of usual traffic (product of their lifts).",
    )
    core_min_share: float = Field(0.2, gt=0.0, le=1.0, description="Share of an incident's reports a core term needs.")
    anchor_share: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="Core terms carried by at least this share of an incident's reports are its "
        "anchors; a report must carry one to join.",
    )
    max_terms: int = Field(6, ge=1, description="Core terms kept per incident (they also form the title).")
    quiet_after: timedelta = Field(
        timedelta(minutes=60), description="An incident with no new report for this long stops growing."
    )
    quiet_fraction: float = Field(
        0.1, ge=0.0, lt=1.0, description="An incident whose rate fell below this share of its peak stops growing."
    )
    warmup: timedelta = Field(timedelta(0), description="Learn the baseline for this long before opening any incident.")

    @property
    def max_log10_p(self) -> float:
        return -(3.0 + 8.0 * (1.0 - self.sensitivity))


class IncidentDetector:
    """Streaming burst detector; feed it reports in time order with :meth:`observe`."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        window_s = self.settings.window.total_seconds()
        self._window_s = window_s
        self._windows_s = (window_s, self.settings.long_window.total_seconds())
        self._lookback_s = max(self._windows_s)
        self._volume = VolumeProfile()
        self._shares = DecayingCounts(mean_life_s=self.settings.baseline_days * 86400.0, prune_below=0.05)
        self._recent = DecayingCounts(mean_life_s=window_s, prune_below=0.05)
        self._buffer: deque[Member] = deque()
        # Recent messages that did not read as problem reports ("GDL beendet Bahn-Streik"): not
        # counted, but an incident that opens takes in those that fit its profile.
        self._passing: deque[Member] = deque(maxlen=PASSING_KEPT)
        self._open: dict[str, OpenIncident] = {}
        self._started: float | None = None
        self._last_t: float | None = None
        self._shares_scale = 1.0

    # -- public API -----------------------------------------------------------------------

    def observe(self, batch: Sequence[ReportIn]) -> list[IncidentSignal]:
        """Process reports in order; return what opened, grew or went quiet meanwhile."""
        opened: dict[str, OpenIncident] = {}
        grew: dict[str, list[str]] = {}
        quiet: list[OpenIncident] = []
        for report in batch:
            self._observe_one(report, opened, grew, quiet)
        signals: list[IncidentSignal] = []
        for incident in quiet:
            signals.append(self._signal(incident, "quiet", []))
        for key, incident in opened.items():
            signals.append(self._signal(incident, "opened", list(incident.member_ids)))
            grew.pop(key, None)
        for key, ids in grew.items():
            growing = self._open.get(key)
            if growing is not None:
                signals.append(self._signal(growing, "grew", ids))
        return signals

    def close(self, incident_key: str) -> None:
        """The incident is resolved (or dismissed): stop growing it."""
        self._open.pop(incident_key, None)

    def open_incidents(self) -> list[IncidentSignal]:
        """Current state of every incident still taking reports."""
        return [self._signal(i, "grew", []) for i in self._open.values()]

    def history_hours(self) -> float:
        """How much traffic the baseline has seen, in hours (from the first report to the newest
        message). Below about a day, the usual volume for the time of day is still a guess."""
        if self._last_t is None or self._volume.hour is None:
            return 0.0
        return max(0.0, self._last_t - self._volume.first_seen) / 3600.0

    def snapshot(self) -> dict[str, Any]:
        """All state as plain JSON data, so a restarted worker continues where this one stopped."""
        return {
            "version": SNAPSHOT_VERSION,
            "settings": self.settings.model_dump(mode="json"),
            "volume": self._volume.to_json(),
            "shares": self._shares.to_json(),
            "recent": self._recent.to_json(),
            "buffer": [_member_json(m) for m in self._buffer],
            "passing": [_member_json(m) for m in self._passing],
            "open": [incident.to_json() for incident in self._open.values()],
            "started": self._started,
            "last_t": self._last_t,
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> IncidentDetector:
        """A detector in the state of :meth:`snapshot`'s output (settings included)."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported detector snapshot version {data.get('version')!r}")
        detector = cls(DetectorSettings.model_validate(data["settings"]))
        detector._volume.load_json(data["volume"])
        detector._shares.load_json(data["shares"])
        detector._recent.load_json(data["recent"])
        detector._buffer = deque(_member_from_json(m) for m in data["buffer"])
        detector._passing = deque((_member_from_json(m) for m in data.get("passing", [])), maxlen=PASSING_KEPT)
        detector._open = {i["key"]: OpenIncident.from_json(i) for i in data["open"]}
        detector._started = None if data["started"] is None else float(data["started"])
        detector._last_t = None if data["last_t"] is None else float(data["last_t"])
        return detector

    # -- one report -------------------------------------------------------------------------

    def _observe_one(
        self,
        report: ReportIn,
        opened: dict[str, OpenIncident],
        grew: dict[str, list[str]],
        quiet: list[OpenIncident],
    ) -> None:
        t = report.created_at.timestamp()
        if self._last_t is not None and t < self._last_t:
            t = self._last_t  # late arrival: count it now rather than rewrite the past
        self._last_t = t
        if self._started is None:
            self._started = t
        text = extract(report.text)
        is_report = text.is_report if report.is_problem is None else report.is_problem
        member = Member(
            id=report.id,
            t=t,
            created_at=report.created_at,
            features=text.features,
            surfaces=text.surfaces,
            author=report.author,
            language=report.language,
            channel=report.channel,
            location=report.location,
        )
        self._shares_scale = self._shares.scale(t)
        self._expire(t, quiet)

        incident = self._best_match(member)
        if incident is not None:
            incident.add(member, self._window_s)
            self._update_core(incident)
            grew.setdefault(incident.key, []).append(member.id)
        elif is_report:
            self._recent.add(member.features, self._recent.scale(t))
            self._buffer.append(member)
            self._trim_buffer(t)
            if t - self._started >= self.settings.warmup.total_seconds():
                new = self._maybe_open(member, t)
                if new is not None:
                    opened[new.key] = new
        else:
            self._passing.append(member)
            self._trim_buffer(t)
        if is_report:
            # Baseline after the tests: a report is not evidence about its own surprise.
            self._shares.add(member.features, self._shares_scale)
            self._volume.add(t)

    def _share(self, feature: str) -> float:
        """Usual share of reports carrying ``feature``; unseen terms get half a report."""
        shares = self._shares
        total = shares.current_total(self._shares_scale)
        count = shares.get(feature, self._shares_scale)
        return max(count, 0.5) / (total + 1.0)

    def _update_core(self, incident: OpenIncident) -> None:
        settings = self.settings
        incident.update_core(self._share, settings.core_min_share, settings.max_terms, settings.anchor_share)

    def _expire(self, t: float, quiet: list[OpenIncident]) -> None:
        if not self._open:
            return
        settings = self.settings
        quiet_after = settings.quiet_after.total_seconds()
        for key, incident in list(self._open.items()):
            if t - incident.last_t >= quiet_after or (
                t - incident.activity_t >= self._window_s
                and incident.activity_at(t, self._window_s) < settings.quiet_fraction * incident.peak_activity
            ):
                del self._open[key]
                quiet.append(incident)

    def _best_match(self, member: Member) -> OpenIncident | None:
        threshold = math.log(self.settings.join_min_lift)
        best: OpenIncident | None = None
        best_score = threshold
        for incident in self._open.values():
            score = incident.score(member.features)
            if score >= best_score:
                best, best_score = incident, score
        return best

    def _trim_buffer(self, t: float) -> None:
        horizon = t - self._lookback_s
        for buffer in (self._buffer, self._passing):
            while buffer and buffer[0].t < horizon:
                buffer.popleft()

    def _maybe_open(self, member: Member, t: float) -> OpenIncident | None:
        found = self._bursting_feature(member, t)
        if found is None:
            return None
        feature, horizon = found
        recent = [m for m in self._buffer if m.t >= horizon]
        seeds = [m for m in recent if feature in m.features]
        probe = self._new_incident(seeds, feature, member, t)
        # Recent reports that fit the profile but lack the bursting term belong here too.
        threshold = math.log(self.settings.join_min_lift)
        chosen = [m for m in recent if feature in m.features or probe.score(m.features) >= threshold]
        passing = [m for m in self._passing if m.t >= horizon and probe.score(m.features) >= threshold]
        incident = self._new_incident(sorted(chosen + passing, key=lambda m: m.t), feature, member, t)
        chosen_ids = {m.id for m in chosen}
        self._buffer = deque(m for m in self._buffer if m.id not in chosen_ids)
        passing_ids = {m.id for m in passing}
        self._passing = deque((m for m in self._passing if m.id not in passing_ids), maxlen=PASSING_KEPT)
        for m in chosen:
            # They are explained now: take them out of the unexplained counts.
            self._recent.remove(m.features, m.t)
        self._open[incident.key] = incident
        return incident

    def _new_incident(self, members: list[Member], feature: str, trigger: Member, t: float) -> OpenIncident:
        incident = OpenIncident(
            key=OpenIncident.make_key(members[0].id, feature),
            seed_feature=feature,
            detected_at=trigger.created_at,
            first_message_at=members[0].created_at,
            last_t=t,
        )
        for m in members:
            incident.add(m, self._window_s)
        self._update_core(incident)
        return incident

    def _bursting_feature(self, member: Member, t: float) -> tuple[str, float] | None:
        """The member's term whose recent unexplained reports are most surprising, if significant.

        A cheap decaying count screens the terms; survivors are counted exactly (distinct
        authors) over the short and the long window, so a sharp burst is caught at its
        ``min_reports``-th report and a slower one still within the hour. Returns the term and
        the start of the window that made it significant.
        """
        settings = self.settings
        recent = self._recent
        recent_scale = recent.scale(t)
        per_hour = self._volume.per_hour(t)
        short_h = self._window_s / 3600.0
        screen = 0.5 * settings.min_ratio * short_h * per_hour
        word_limit = settings.max_log10_p
        concept_limit = word_limit + settings.concept_relief
        best: tuple[str, float] | None = None
        best_margin = 0.0
        for feature in member.features:
            observed = recent.get(feature, recent_scale)
            if observed < 2.0:
                continue
            share = self._share(feature)
            if observed < screen * share:
                continue
            limit = concept_limit if feature.startswith("~") else word_limit
            for window_s in self._windows_s:
                horizon = t - window_s
                count = _distinct_authors([m for m in self._buffer if m.t >= horizon and feature in m.features])
                if count < settings.min_reports:
                    continue
                expected = share * per_hour * window_s / 3600.0
                if count < settings.min_ratio * expected:
                    continue
                margin = limit - poisson_log10_sf(count, expected)
                if margin >= best_margin:
                    best, best_margin = (feature, horizon), margin
        return best

    def _signal(
        self, incident: OpenIncident, kind: Literal["opened", "grew", "quiet"], ids: list[str]
    ) -> IncidentSignal:
        return IncidentSignal(
            incident_key=incident.key,
            kind=kind,
            title=incident.title(),
            terms=incident.terms(),
            languages=incident.top(incident.languages),
            channels=incident.top(incident.channels),
            first_message_at=incident.first_message_at,
            detected_at=incident.detected_at,
            message_ids=ids,
            locations=incident.top(incident.locations),
            size=incident.size,
        )


def _distinct_authors(members: Sequence[Member]) -> int:
    # Reports without an author count as distinct: one per message.
    return len({m.author if m.author is not None else f"\x00{m.id}" for m in members})


def _member_json(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "t": member.t,
        "created_at": member.created_at.isoformat(),
        "features": sorted(member.features),
        "surfaces": member.surfaces,
        "author": member.author,
        "language": member.language,
        "channel": member.channel,
        "location": member.location,
    }


def _member_from_json(data: dict[str, Any]) -> Member:
    return Member(
        id=str(data["id"]),
        t=float(data["t"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        features=frozenset(str(f) for f in data["features"]),
        surfaces={str(k): str(v) for k, v in data["surfaces"].items()},
        author=data["author"],
        language=data["language"],
        channel=data["channel"],
        location=data["location"],
    )
