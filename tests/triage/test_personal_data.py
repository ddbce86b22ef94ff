from __future__ import annotations

import itertools
from typing import Any

import pytest

from townsquare.triage import CustomPattern, check_public_reply, find_personal_data, personal_data
from townsquare.triage.data import intent_set
from townsquare.triage.pii_testset import CUSTOMER_NUMBER, KINDS, generate, score


def kinds(text: str, patterns: tuple[CustomPattern, ...] = ()) -> list[tuple[str, str]]:
    return [(s.kind, text[s.start : s.end]) for s in find_personal_data(text, patterns)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at max.mustermann@web.de pls", [("email", "max.mustermann@web.de")]),
        ("Ruft mich an: +49 30 12345678", [("phone", "+49 30 12345678")]),
        ("call 0171 1234567 tomorrow", [("phone", "0171 1234567")]),
        ("my number is (415) 555-2671 x12", [("phone", "(415) 555-2671 x12")]),
        ("IBAN DE89 3704 0044 0532 0130 00 bitte", [("iban", "DE89 3704 0044 0532 0130 00")]),
        ("IBAN: GB82WEST12345698765432", [("iban", "GB82WEST12345698765432")]),
        ("card 4111 1111 1111 1111 declined", [("payment_card", "4111 1111 1111 1111")]),
        ("Amex 378282246310005", [("payment_card", "378282246310005")]),
        ("Musterstraße 12a, 10115 Berlin", [("postal_address", "Musterstraße 12a, 10115 Berlin")]),
        ("Lieferung an Karl-Marx-Allee 5/3", [("postal_address", "Karl-Marx-Allee 5/3")]),
        # Streets named after people keep lower-case name particles.
        ("an Graf-von-Galen-Straße 5, 48143 Münster", [("postal_address", "Graf-von-Galen-Straße 5, 48143 Münster")]),
        ("Van-der-Velde-Weg 12", [("postal_address", "Van-der-Velde-Weg 12")]),
        ("Adresse: Helma-van der Dussen-Ring 7-4", [("postal_address", "Helma-van der Dussen-Ring 7-4")]),
        (
            "ship to 1600 Pennsylvania Avenue, Washington, DC 20500",
            [("postal_address", "1600 Pennsylvania Avenue, Washington, DC 20500")],
        ),
        ("geboren am 3. März 1990", [("date_of_birth", "3. März 1990")]),
        ("geb. 24.09.1942", [("date_of_birth", "24.09.1942")]),
        ("DOB: 1985-03-12", [("date_of_birth", "1985-03-12")]),
        # A date followed by another number is valid as a phone number to libphonenumber; not to us.
        ("Geboren am 02.04.2002. 8 Tipps gegen Stress", [("date_of_birth", "02.04.2002")]),
        ("Tel. 01.23.45.67.89", [("phone", "01.23.45.67.89")]),  # French grouping is still a phone
    ],
)
def test_finds_each_kind_with_offsets(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "flight on 05.08.2017 was delayed by 45 minutes",  # a date without birth words
        "order total 1234 5678 9012 3456",  # fails Luhn
        "tracking 1Z999AA10123456784",
        "DE89 3704 0044 0532 0130 01",  # IBAN with a wrong check digit
        "version 8.4.22.857 on Galaxy Tab",
        "train S5 at 17:02h, 0:05:00 delay",
        "Bonhoefferstr. 16:56h - Stammheim",  # a timetable, not a house number
        "we love@home and email@ without domain",
        "call us, 555 is not a number",
        "",
    ],
)
def test_does_not_flag_look_alikes(text: str) -> None:
    assert kinds(text) == []


def test_company_patterns_win_over_generic_kinds() -> None:
    pattern = CustomPattern(kind="contract_number", regex=r"\bV-\d{10}\b")
    text = "Vertrag V-0301234567 bitte prüfen"
    assert kinds(text, (pattern,)) == [("contract_number", "V-0301234567")]
    assert kinds(text) == [("phone", "0301234567")]  # without the pattern: a valid Berlin number


def test_spans_do_not_overlap_and_are_ordered() -> None:
    text = "IBAN DE89370400440532013000, Tel +49 30 12345678, a@b.de"
    spans = find_personal_data(text)
    assert [s.kind for s in spans] == ["iban", "phone", "email"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_generated_real_post_set_reaches_the_targets() -> None:
    posts = [(r.text, r.language or "") for r in intent_set() if r.extra.get("origin") == "real"]
    examples = generate(posts, per_kind=60, seed=99)
    scores, mistakes = score(examples, lambda t: find_personal_data(t, [CUSTOMER_NUMBER]))
    for kind in KINDS:
        assert scores[kind].recall >= 0.95, (kind, mistakes[:5])
        assert scores[kind].precision >= 0.95, (kind, mistakes[:5])


def test_public_reply_guard_refuses_personal_data_and_offers_private_message() -> None:
    decision = check_public_reply("Hi Anna, we called you on +49 171 1234567, all sorted now!", network="Mastodon")
    assert not decision.allowed
    assert decision.offer_private
    assert "a phone number" in decision.message
    assert "private message on Mastodon" in decision.message
    assert [s.kind for s in decision.spans] == ["phone"]


def test_public_reply_guard_names_company_kinds() -> None:
    pattern = CustomPattern(kind="customer_number", regex=r"\bKD-\d{8}\b")
    decision = check_public_reply("Your customer number KD-12345678 is noted", patterns=[pattern])
    assert not decision.allowed
    assert "a customer number" in decision.message


def test_public_reply_guard_lets_clean_replies_through() -> None:
    decision = check_public_reply("Sorry for the delay! The outage is fixed since 14:05, please try again.")
    assert decision.allowed
    assert decision.message == ""
    assert decision.spans == []


def test_street_names_are_read_with_bounded_repetition() -> None:
    # Unbounded, every word start of a hostile "Abc-Abc-Abc-..." post rescanned the whole chain
    # (16,000 parts: 18 s, docs/triage.md); bounded, at most six name parts form a street.
    text = "-".join(["Abc"] * 40) + "-Straße 5"
    [span] = find_personal_data(text)
    assert span.kind == "postal_address"
    assert text[span.start : span.end] == "-".join(["Abc"] * 6) + "-Straße 5"


def test_a_hostile_post_of_digit_runs_costs_a_bounded_number_of_phone_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_matcher = personal_data.phonenumbers.PhoneNumberMatcher

    def counting_matcher(text: str, region: str, **kwargs: Any) -> Any:
        calls.append(region)
        return real_matcher(text, region, **kwargs)

    monkeypatch.setattr(personal_data.phonenumbers, "PhoneNumberMatcher", counting_matcher)
    find_personal_data("1 " * 32_000)  # 2,700 phone-like windows
    assert len(calls) <= personal_data.MAX_PHONE_CANDIDATES * len(personal_data.PHONE_REGIONS)
    assert kinds("call 0171 1234567 tomorrow") == [("phone", "0171 1234567")]  # a real post is read as before
