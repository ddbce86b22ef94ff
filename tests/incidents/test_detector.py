import json
from datetime import timedelta

from tests.incidents.synthetic import START, baseline, burst, merged
from townsquare.incidents.detector import DetectorSettings, IncidentDetector, IncidentSignal, ReportIn

ONSET = START + timedelta(hours=6)


def run(reports: list[ReportIn], detector: IncidentDetector | None = None) -> list[IncidentSignal]:
    detector = detector or IncidentDetector()
    signals: list[IncidentSignal] = []
    for report in reports:
        signals.extend(detector.observe([report]))
    return signals


def stream() -> tuple[list[ReportIn], list[ReportIn]]:
    outage = burst(ONSET)
    return merged(baseline(8.0), outage), outage


def test_everyday_traffic_opens_nothing() -> None:
    assert [s for s in run(baseline(12.0, seed=3)) if s.kind == "opened"] == []


def test_a_bilingual_burst_opens_one_incident_that_holds_its_reports() -> None:
    reports, outage = stream()
    signals = run(reports)
    opened = [s for s in signals if s.kind == "opened"]
    assert len(opened) == 1
    incident = opened[0]
    assert incident.title.startswith("Connectivity")
    assert "WLAN" in incident.terms
    members = set(incident.message_ids)
    members |= {
        m for s in signals if s.kind == "grew" and s.incident_key == incident.incident_key for m in s.message_ids
    }
    outage_ids = {r.id for r in outage}
    assert len(members & outage_ids) >= 0.9 * len(outage_ids)
    assert len(members - outage_ids) <= 0.05 * len(members)
    assert incident.first_message_at == outage[0].created_at
    assert {"de", "en"} <= set(incident.languages) or incident.languages  # languages come from the reports
    assert set(incident.channels) <= {"mastodon", "bluesky"}
    assert incident.locations == ["Berlin"]


def test_detection_happens_on_the_report_that_makes_the_burst_significant() -> None:
    reports, outage = stream()
    detector = IncidentDetector()
    for position, report in enumerate(reports):
        opened = [s for s in detector.observe([report]) if s.kind == "opened"]
        if opened:
            # Streaming: detected at this very report's time, by the 10th report at the latest.
            assert opened[0].detected_at == report.created_at
            assert sum(1 for r in outage if r.created_at <= report.created_at) <= 10
            # No look-ahead: the prefix alone gives the same decision.
            replayed = [s for s in run(reports[: position + 1]) if s.kind == "opened"]
            assert [s.incident_key for s in replayed] == [opened[0].incident_key]
            return
    raise AssertionError("burst not detected")


def test_min_reports_counts_distinct_authors() -> None:
    outage = [r.model_copy(update={"author": "same-person"}) for r in burst(ONSET)]
    signals = run(merged(baseline(8.0), outage))
    assert [s for s in signals if s.kind == "opened"] == []


def test_closed_incident_stops_growing() -> None:
    reports, _outage = stream()
    detector = IncidentDetector()
    index = next(i for i, r in enumerate(reports) if any(s.kind == "opened" for s in detector.observe([r])))
    [key] = [s.incident_key for s in detector.open_incidents()]
    detector.close(key)
    later = run(reports[index + 1 :], detector)
    assert all(s.incident_key != key for s in later)


def test_incident_goes_quiet_after_the_burst() -> None:
    reports, _outage = stream()
    signals = run(reports)
    assert [s.kind for s in signals if s.kind != "grew"] == ["opened", "quiet"]


def test_snapshot_restore_continues_identically() -> None:
    reports, _outage = stream()
    cut = next(i for i, r in enumerate(reports) if r.created_at > ONSET + timedelta(minutes=3))
    original = IncidentDetector()
    run(reports[:cut], original)
    state = json.loads(json.dumps(original.snapshot()))
    restored = IncidentDetector.restore(state)
    assert run(reports[cut:], restored) == run(reports[cut:], original)


def test_settings_are_validated_and_sensitivity_maps_to_a_threshold() -> None:
    assert DetectorSettings(sensitivity=0.5).max_log10_p == -7.0
    assert DetectorSettings(sensitivity=1.0).max_log10_p == -3.0


def test_triage_hint_overrides_the_lexicon() -> None:
    outage = [r.model_copy(update={"is_problem": False}) for r in burst(ONSET)]
    signals = run(merged(baseline(8.0), outage))
    assert [s for s in signals if s.kind == "opened"] == []


def test_naive_timestamps_are_utc() -> None:
    report = ReportIn(id="1", created_at="2024-05-06T10:00:00", text="x")  # type: ignore[arg-type]
    assert report.created_at.tzinfo is not None


def test_an_opening_incident_takes_in_earlier_posts_that_fit_it_without_reading_as_reports() -> None:
    outage = burst(ONSET)
    news = ReportIn(
        id="news",
        created_at=outage[0].created_at + timedelta(seconds=30),
        text="ICE WLAN: Bahn und Telekom prüfen den WLAN-Ausbau im ICE",
        author="newsroom",
        is_problem=False,  # triage: not a problem report, so it is not counted towards the burst
    )
    signals = run(merged(baseline(8.0), outage, [news]))
    [opened] = [s for s in signals if s.kind == "opened"]
    assert opened.detected_at > news.created_at
    assert "news" in opened.message_ids


def test_posts_kept_for_incidents_to_take_in_are_bounded() -> None:
    from townsquare.incidents.detector import PASSING_KEPT

    chatter = [
        ReportIn(id=f"p{n}", created_at=ONSET + timedelta(seconds=n / 10), text=f"hello {n}", is_problem=False)
        for n in range(PASSING_KEPT + 500)
    ]
    detector = IncidentDetector()
    run(chatter, detector)
    assert len(detector.snapshot()["passing"]) == PASSING_KEPT
    restored = IncidentDetector.restore(json.loads(json.dumps(detector.snapshot())))
    run([chatter[-1].model_copy(update={"id": "late"})], restored)
    assert len(restored.snapshot()["passing"]) == PASSING_KEPT
