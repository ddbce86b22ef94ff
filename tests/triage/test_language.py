"""Language identification: short posts, romanized Hindi, the word evidence and its training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from townsquare.triage import TriageInput, load_triager
from townsquare.triage import data as datasets
from townsquare.triage.language import (
    LANGUAGE_FILE,
    FastTextLid,
    HindiLexicon,
    LanguageEvidence,
    WordFrequencies,
    clean_for_language,
    combine,
    words_of,
)
from townsquare.triage.language_train import train_language

DATA = Path(datasets.__file__).parent / "data"

SHORT = {
    "Danke!": "de",
    "Vielen Dank": "de",
    "still down?": "en",
    "Thanks!": "en",
    "obrigado": "pt",
    "obrigado pelo retorno": "pt",
    "bedankt": "nl",
    "Werkt niet": "nl",
    "dziękuję": "pl",
    "nie działa": "pl",
    "teşekkürler": "tr",
    "çalışmıyor": "tr",  # noqa: RUF001 -- Turkish dotless i
    "لا يعمل": "ar",
    "Merci beaucoup": "fr",
    "Grazie mille": "it",
    "No funciona": "es",
}


def _languages(texts: list[str]) -> list[tuple[str, float]]:
    results = load_triager("fast").triage([TriageInput(id=str(i), text=t) for i, t in enumerate(texts)])
    return [(r.language, r.language_confidence) for r in results]


def test_very_short_posts_get_their_language_with_a_confidence() -> None:
    got = _languages(list(SHORT))
    for (text, want), (lang, confidence) in zip(SHORT.items(), got, strict=True):
        assert lang == want, (text, lang)
        assert 0.3 < confidence <= 1.0, (text, confidence)


def test_romanized_hindi_is_hindi_and_short_english_is_not() -> None:
    hindi = ["Kya sai hai re", "fukrepanti le chakkar mein sab kuch sehan kr lete the", "Nhi karna h tujhe ?"]
    english = ["yeah", "Hair cutting", "still down?", "any update on my refund?", "Hello?", "thx"]
    got = _languages(hindi + english)
    assert [lang for lang, _ in got[: len(hindi)]] == ["hi"] * len(hindi)
    assert [lang for lang, _ in got[len(hindi) :]] == ["en"] * len(english)


def test_english_support_posts_with_words_hindi_tweets_borrow_are_english() -> None:
    # Hindi tweets use English words ("tab", "admin", "scam", "Mumbai"); with the list's English
    # cut-off at 1e-5 two of them made an English post Hindi.
    posts = [
        "Browser tab keeps crashing, admin please help",
        "Admin tab not loading",
        "Is this a scam? Please ask an admin",
        "Modi visit causes delays in Mumbai again",
        "petrol station card scam",
    ]
    assert [lang for lang, _ in _languages(posts)] == ["en"] * len(posts)


def test_the_shipped_hindi_list_loads_without_pickle() -> None:
    with np.load(LANGUAGE_FILE, allow_pickle=False) as npz:
        words = set(npz["hindi_words"].tolist())
    assert {"kya", "nahi", "bhai", "kuch"} <= words
    assert not {"the", "me", "to", "are", "is"} & words  # common English words never mark Hindi
    assert HindiLexicon().is_hindi("kya baat hai")
    assert not HindiLexicon(Path("/nonexistent.npz")).is_hindi("kya baat hai")


def test_word_evidence_prefers_the_language_whose_list_has_the_words() -> None:
    freqs = WordFrequencies(("es", "pt", "de", "nl"))
    ll = freqs.log_likelihoods([["obrigado"], ["bedankt"], []])
    assert ll.shape == (3, 4)
    assert int(np.argmax(ll[0])) == 1 and int(np.argmax(ll[1])) == 3
    assert not ll[2].any()
    assert words_of(clean_for_language("RT @user İnternet yok http")) == ["internet", "yok"]


def test_word_evidence_reaches_posts_of_up_to_ten_words() -> None:
    # fastText alone says Swedish ("och"); the word lists of nine words say German.
    [(language, _)] = _languages(["Hab HUNGERRRRR! Och komm! Habe irgendwie Bock auf BF3, Lust?"])
    assert language == "de"


def test_short_posts_lean_less_on_the_tweet_trained_head() -> None:
    own_labels = ("de", "en")
    own = np.array([0.9, 0.1], dtype=np.float32)
    short = combine(LanguageEvidence({"de": 0.2, "en": 0.8}, words=2), own, own_labels, 0.3)
    long = combine(LanguageEvidence({"de": 0.2, "en": 0.8}, words=10), own, own_labels, 0.3)
    assert short["en"] > short["de"]
    assert long["de"] > long["en"]


def test_empty_and_emoji_posts_stay_undetermined() -> None:
    assert _languages(["", "🙂🙂", "12345"]) == [("und", 0.0)] * 3
    assert isinstance(FastTextLid().distribution(["kya baat"])[0], LanguageEvidence)


def test_train_language_builds_the_hindi_list_from_train_splits(tmp_path: Path) -> None:
    hindi = ["kya baat hai yaar", "kya hua bhai", "yaar kya scene hai me", "bhai kya hai", "nahi yaar me", "acha ji"]
    english = ["what a day", "the train is late again", "love it"]
    for folder, lines in {"hindi": hindi, "english": english}.items():
        base = tmp_path / "sentiment-xlmt" / folder
        base.mkdir(parents=True)
        (base / "train_text.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (base / "train_labels.txt").write_text("1\n" * len(lines), encoding="utf-8")
    summary = train_language(tmp_path, tmp_path / "out")
    with np.load(tmp_path / "out" / "language.npz", allow_pickle=False) as npz:
        words = npz["hindi_words"].tolist()
    assert summary["hindi_words"] == len(words)
    assert {"kya", "yaar"} <= set(words)
    assert "bhai" in words and "acha" not in words  # in two tweets (the minimum count), in one
    assert "me" not in words  # a common word of wordfreq's English list
    assert HindiLexicon(tmp_path / "out" / "language.npz").is_hindi("kya re")


def _accuracy(rows: list[tuple[str, str]]) -> float:
    got = _languages([t for t, _ in rows])
    return sum(lang == want for (_, want), (lang, _) in zip(rows, got, strict=True)) / len(rows)


@pytest.mark.parametrize("name", ["short_posts.jsonl", "short_posts_dev.jsonl"])
def test_short_post_sets_reach_the_issue_target(name: str) -> None:
    rows = [(r.text, r.language or "") for r in datasets.read_jsonl(DATA / name)]
    assert len({lang for _, lang in rows}) == 10
    assert _accuracy(rows) >= 0.95


def test_xlmt_val_languages(data_dir: Path) -> None:
    rows = [(r.text, r.language or "") for r in datasets.xlmt(data_dir, "val")]
    assert _accuracy([r for r in rows if r[1] != "hi"]) >= 0.98
    assert _accuracy([r for r in rows if r[1] == "hi"]) >= 0.5


def test_xlmt_val_with_the_languages_we_found_by_reading(data_dir: Path) -> None:
    rows = list(datasets.xlmt(data_dir, "val", audited=True))
    assert _accuracy([(r.text, r.language or "") for r in rows]) >= 0.98  # the issue's figure
    hindi_set = [(r.text, r.language or "") for r in rows if r.extra["set_language"] == "hi"]
    assert _accuracy(hindi_set) >= 0.9  # romanized Hindi found, the set's English tweets English


def test_no_complaint_tweet_is_called_hindi(data_dir: Path) -> None:
    texts = [r.text for r in datasets.complaints(data_dir)]
    got = _languages(texts)
    assert sum(lang == "hi" for lang, _ in got) <= len(texts) // 500


def test_numbers_lend_no_letters_to_the_vote() -> None:
    from townsquare.triage.language import clean_for_language

    assert clean_for_language("@acme call me on +49 151 23456789, IBAN DE89370400440532013000 #fail") == (
        "call me on iban fail"
    )


def test_compatibility_forms_read_as_their_language() -> None:
    presentation_forms = "ﺍﻵﻥ ﻳﻨﻬﺾ ﺗﺤﺪﻱ ﺇﻳﺮﺍﻥ، ﻭﻓﻴﻤﺎ ﻛﺎﻥ ﺍﻟﻄﺒﻴﻌﻲ ﺃﻥ ﺗﻘﻮﺩ ﻣﺼﺮ ﺍﻟﻤﻮﺍﺟﻬﺔ"  # Arabic, as some apps send it
    # "Vielen Dank für die schnelle Hilfe" typed in full-width letters
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in "Vielen Dank für die schnelle Hilfe")
    assert [lang for lang, _ in _languages([presentation_forms, full_width])] == ["ar", "de"]


def test_mojibake_is_read_as_the_text_it_was() -> None:
    # UTF-8 read as Windows-1252 on the way (an old mail gateway, a CSV export): repaired first.
    assert (
        clean_for_language("Ich bin sehr enttÃ¤uscht Ã¼ber den Service") == "ich bin sehr enttäuscht über den service"
    )
    assert clean_for_language("😄😄".encode().decode("cp1252")) == "😄😄"
    # Text that is not mojibake is left as it is.
    assert clean_for_language("Grüße aus Köln, très bien") == "grüße aus köln, très bien"
    [(language, _)] = _languages(["Vielen Dank fÃ¼r die schnelle Hilfe, jetzt lÃ¤uft alles"])
    assert language == "de"


def test_emoticons_and_letter_runs_lend_no_letters_to_the_vote() -> None:
    assert clean_for_language("Ach ja :DD xD ;-) <3 :p c:") == "ach ja"
    assert clean_for_language("Hab HUNGERRRR! jaaa, gezelliggg") == "hab hunger! ja, gezellig"
    assert clean_for_language("Arrre heeeel soooo") == "arre heel so"  # two inside a word, one at its end
    assert clean_for_language("Kaffee Boot 11:30 Uhr") == "kaffee boot uhr"  # real double letters stay


def test_cleaning_is_linear_in_the_length_of_a_hostile_post() -> None:
    import time

    # Each of these took seconds to minutes with the earlier digit-token pattern ("\S*\d\S*"
    # scanned ahead from every position of a long token); linear, all of them take milliseconds.
    posts = ["a" * 100_000, "ab" * 50_000, ":" + ")" * 100_000 + "x", "xD" * 50_000, "Ã¤" * 50_000, "@#" * 50_000]
    start = time.perf_counter()
    for post in posts:
        clean_for_language(post)
    assert time.perf_counter() - start < 5.0
