from datetime import UTC, datetime

from townsquare.incidents.grouping import Member, OpenIncident

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


def member(number: int, *features: str) -> Member:
    return Member(
        id=f"m{number}",
        t=T0.timestamp() + number,
        created_at=T0,
        features=frozenset(features),
        surfaces={},
        author=f"a{number}",
        language="en",
        channel="x",
        location=None,
    )


def brand_outage() -> OpenIncident:
    """An outage of one cloud service: every report names it, most say "account" and "~app"."""
    incident = OpenIncident(key="inc-1", seed_feature="@awscloud", detected_at=T0, first_message_at=T0, last_t=0.0)
    for number in range(8):
        incident.add(member(number, "@awscloud", "aws", "account", "~app", "~outage"), 900.0)
    usual = {"@awscloud": 0.0005, "aws": 0.0005, "account": 0.015, "~app": 0.12, "~outage": 0.08}
    incident.update_core(lambda feature: usual.get(feature, 0.001), 0.2, 6, 0.5)
    return incident


def test_a_report_naming_the_service_joins() -> None:
    incident = brand_outage()
    assert incident.score(frozenset({"@awscloud", "down", "~outage"})) > 3.4  # log(30): the default join bar


def test_generic_terms_and_concepts_alone_do_not_pull_an_unrelated_report_in() -> None:
    incident = brand_outage()
    unrelated = frozenset({"@twittersupport", "account", "login", "~app"})
    assert "account" in incident.anchors
    assert incident.score(unrelated) < 3.4


def test_the_concept_that_burst_still_carries_a_cross_language_incident() -> None:
    incident = OpenIncident(key="inc-2", seed_feature="~connectivity", detected_at=T0, first_message_at=T0, last_t=0.0)
    for number in range(8):
        incident.add(member(number, "~connectivity", "ice" if number % 2 else "train"), 900.0)
    incident.update_core(lambda feature: {"~connectivity": 0.01}.get(feature, 0.002), 0.2, 6, 0.5)
    assert incident.score(frozenset({"~connectivity", "zug"})) > 3.4
