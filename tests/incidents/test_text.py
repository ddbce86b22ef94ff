from townsquare.incidents.lexicon import concept_label, fold
from townsquare.incidents.text import extract


def test_fold_spells_umlauts_and_strips_accents() -> None:
    assert fold("Störung Straße café") == "stoerung strasse cafe"


def test_features_are_stems_mentions_and_concepts() -> None:
    features = extract("Signalstörung bei der S-Bahn, 30 Minuten Verspätung @DB_Bahn https://t.co/x")
    assert {"~delay", "~outage", "s-bahn", "verspae", "@db_bahn"} <= features.features
    assert "der" not in features.features  # stopword
    assert not any("t.co" in f for f in features.features)  # URLs are dropped
    assert features.surfaces["verspae"] == "Verspätung"
    assert features.is_report


def test_german_and_english_outage_words_share_a_concept() -> None:
    german = extract("Kein WLAN im ICE")
    english = extract("the wifi on my train is down")
    assert "~connectivity" in german.features & english.features


def test_plain_chatter_is_not_a_report() -> None:
    assert not extract("I love this song so much").is_report


def test_concept_labels_are_readable() -> None:
    assert concept_label("~connectivity") == "Connectivity"
    assert concept_label("plain") == "plain"
