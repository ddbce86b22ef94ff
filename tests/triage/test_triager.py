from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from townsquare.triage import CustomPattern, TriageInput, TriageResult, load_triager
from townsquare.triage.schema import INTENTS, SENTIMENTS

POSTS = [
    TriageInput(id="de-complaint", text="@DB_Bahn schon wieder 40 Minuten Verspätung, keine Durchsage. Unfassbar!"),
    TriageInput(id="en-question", text="@Netflix is the app down again? Can't log in since this morning"),
    TriageInput(id="praise", text="Thanks so much @BootsUK, brilliant service today!"),
    TriageInput(id="short-de", text="Danke!"),
    TriageInput(id="short-en", text="still down?"),
    TriageInput(id="emoji", text="😡😡😡"),
    TriageInput(id="empty", text=""),
    TriageInput(id="pii", text="call me on +49 171 1234567, customer KD-12345678", author_reach=50_000),
]


def test_load_triager_is_cached_per_mode_and_patterns() -> None:
    p = (CustomPattern(kind="customer_number", regex=r"KD-\d{8}"),)
    assert load_triager("fast") is load_triager("fast")
    assert load_triager("fast", p) is load_triager("fast", p)
    assert load_triager("fast", p) is not load_triager("fast")
    with pytest.raises(ValueError, match="unknown triage mode"):
        load_triager("slow")  # type: ignore[arg-type]


def test_results_are_complete_and_consistent() -> None:
    pattern = CustomPattern(kind="customer_number", regex=r"KD-\d{8}")
    results = load_triager("fast", [pattern]).triage(POSTS)
    assert [r.id for r in results] == [p.id for p in POSTS]
    for r in results:
        assert isinstance(r, TriageResult)
        assert set(r.sentiment_scores) == set(SENTIMENTS)
        assert abs(sum(r.sentiment_scores.values()) - 1) < 1e-3
        assert r.sentiment == max(r.sentiment_scores, key=lambda k: r.sentiment_scores[k])
        assert set(r.intent_scores) == set(INTENTS)
        assert r.intent == max(r.intent_scores, key=lambda k: r.intent_scores[k])
        assert 0.0 <= r.urgency <= 1.0
        assert 0.0 <= r.language_confidence <= 1.0
    by_id = {r.id: r for r in results}
    assert by_id["de-complaint"].language == "de"
    assert by_id["de-complaint"].intent == "complaint"
    assert by_id["de-complaint"].sentiment == "negative"
    assert by_id["en-question"].language == "en"
    assert by_id["en-question"].needs_reply
    assert by_id["praise"].sentiment == "positive"
    assert by_id["short-de"].language == "de"
    assert by_id["short-en"].language == "en"
    assert by_id["emoji"].language == "und"
    assert by_id["empty"].language == "und"
    assert [s.kind for s in by_id["pii"].personal_data] == ["phone", "customer_number"]
    assert by_id["en-question"].urgency > by_id["praise"].urgency


def test_language_hint_is_used() -> None:
    (r,) = load_triager("fast").triage([TriageInput(id="1", text="ok", language="DE")])
    assert (r.language, r.language_confidence) == ("de", 1.0)


def test_incident_and_reach_raise_urgency() -> None:
    text = "my internet is slow today"
    plain, incident, famous = load_triager("fast").triage(
        [
            TriageInput(id="a", text=text),
            TriageInput(id="b", text=text, in_incident=True),
            TriageInput(id="c", text=text, author_reach=2_000_000),
        ]
    )
    assert incident.urgency > plain.urgency
    assert famous.urgency > plain.urgency


def _same_answer(a: TriageResult, b: TriageResult) -> bool:
    """Equal answers; scores may differ in the last rounded digit (float32 matrix products of
    another batch size sum in another order: 0.30505 rounds either way)."""
    da, db = a.model_dump(), b.model_dump()
    for key in ("sentiment_scores", "intent_scores"):
        if da.pop(key).keys() != (scores := db.pop(key)).keys():
            return False
        if any(abs(v - scores[k]) > 2e-4 for k, v in getattr(a, key).items()):
            return False
    return da == db


def test_batch_equals_one_by_one_and_threads_agree() -> None:
    triager = load_triager("fast")
    batch = triager.triage(POSTS)
    singles = [triager.triage([p])[0] for p in POSTS]
    assert all(_same_answer(a, b) for a, b in zip(batch, singles, strict=True))
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda _: triager.triage(POSTS), range(8)))
    assert all([r.model_dump() for r in res] == [r.model_dump() for r in batch] for res in parallel)


def test_empty_batch() -> None:
    assert load_triager("fast").triage([]) == []


def test_accurate_mode_gives_the_same_fields_and_sane_answers() -> None:
    results = load_triager("accurate").triage(POSTS[:5])
    by_id = {r.id: r for r in results}
    assert by_id["de-complaint"].sentiment == "negative"
    assert by_id["praise"].sentiment == "positive"
    assert by_id["en-question"].intent in ("question", "complaint")
    for r in results:
        assert abs(sum(r.sentiment_scores.values()) - 1) < 1e-3
        assert set(r.intent_scores) == set(INTENTS)


def test_accurate_sentiment_reads_the_language_of_a_regional_hint() -> None:
    text = "The app crashed again and support never answered, this is a joke!!!"
    triager = load_triager("accurate")
    plain, regional, german = triager.triage(
        [
            TriageInput(id="en", text=text, language="en"),
            TriageInput(id="en-US", text=text, language="en-US"),
            TriageInput(id="de", text=text, language="de"),
        ]
    )
    assert regional.language == "en-us"  # the hint is reported as given (lower case)
    assert regional.sentiment_scores == plain.sentiment_scores
    # The language decides which copy of the weights and whether English lexicon scores apply.
    assert german.sentiment_scores != plain.sentiment_scores


def test_language_reads_a_bounded_prefix_of_a_huge_post(monkeypatch: pytest.MonkeyPatch) -> None:
    """A post of 100,000 U+FDFA (1.8 million letters once NFKC-folded) is identified from its
    first MAX_CHARS characters, and still gets a language."""
    from townsquare.triage import triager as triager_module
    from townsquare.triage.models import MAX_CHARS

    seen: list[int] = []
    original = triager_module.clean_repaired

    def spy(text: str) -> str:
        seen.append(len(text))
        return original(text)

    monkeypatch.setattr(triager_module, "clean_repaired", spy)
    result = load_triager("fast").triage([TriageInput(id="1", text="\ufdfa" * 100_000)])[0]
    assert seen == [MAX_CHARS]
    assert result.language == "ar"


def test_mojibake_is_read_as_written_and_offsets_stay_on_the_received_text() -> None:
    """A post whose UTF-8 was read as Windows-1252 on the way (an e-mail with a wrong charset, a
    CSV import) gets the answers of the post as written; personal data is found in the text as
    received, so its offsets still point at the value there."""
    clean = "Die Störung dauert schon drei Tage, ich bin enttäuscht und kündige! Mail: joerg@example.com"
    garbled = clean.encode("utf-8").decode("cp1252")
    assert "StÃ¶rung" in garbled
    right, received = load_triager("fast").triage(
        [TriageInput(id="clean", text=clean), TriageInput(id="garbled", text=garbled)]
    )
    assert (received.language, received.sentiment, received.intent) == (right.language, right.sentiment, right.intent)
    assert received.sentiment_scores == right.sentiment_scores
    assert received.urgency == right.urgency
    assert {"reason": "outage", "weight": 0.35, "evidence": "Störung"} in [
        r.model_dump() for r in received.urgency_reasons
    ]
    [span] = received.personal_data
    assert garbled[span.start : span.end] == "joerg@example.com"
    assert span.start == garbled.index("joerg")  # after the longer garbled letters
