"""Turn a message's raw text into the sparse features the detector counts.

Features are cheap on purpose (the replay must run at thousands of messages per second on two
cores): word stems by prefix truncation, hashtags as words, @mentions kept whole, and the
language-neutral concepts of :mod:`townsquare.incidents.lexicon`. Prefix truncation is crude but
language-agnostic and folds German and English inflection well enough ("Verspätung",
"Verspätungen", "verspätet" -> ``verspae``), which a per-language stemmer would need a language
guess for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from townsquare.incidents.lexicon import fold, scan

STEM_LENGTH: Final = 7
MAX_FEATURES: Final = 40

_URL_RE: Final = re.compile(r"(?:https?://|www\.)\S+|\b\S+\.(?:com|de|net|org|ly|co)/\S*")
_TOKEN_RE: Final = re.compile("[@#]?[^\\W_][\\w'\u2019/-]*")

# Function words of German and English (plus social-media filler) carry no topic.
_STOPWORD_TEXT: Final = (
    "a about above after again all also am an and any are "
    "aren as at be because been before being below between both but "
    "by can could did didn do does doesn doing don down during "
    "each few for from further get got had has hasn have haven "
    "having he her here hers him his how i if in into "
    "is isn it its itself just let me more most my myself "
    "no nor not now of off on once only or other our "
    "ours out over own same she should so some such than that "
    "the their theirs them then there these they this those through to "
    "too under until up very was wasn we were weren what when "
    "where which while who whom why will with won would you your "
    "yours yourself im ive dont cant thats its via amp rt re "
    "http https www com lol pls please thanks thank hi hey today "
    "yesterday aber alle allem allen aller alles als also am an ander "
    "andere anderen auch auf aus bei bin bis bist da dadurch daher "
    "damit dann das dass dein deine dem den der des dessen deshalb "
    "die dies diese diesem diesen dieser dieses doch dort du durch ein "
    "eine einem einen einer eines er es etwa euer eure fuer gegen "
    "gewesen hab habe haben hat hatte hatten hier hin hinter ich ihm "
    "ihn ihnen ihr ihre im in indem ins ist jede jedem jeden "
    "jeder jedes jetzt kann koennen koennte man manche mehr mein meine mit "
    "muss musste nach nachdem nein nicht noch nun nur ob oder ohne "
    "sehr sein seine sich sie sind so solche soll sollte sondern sonst "
    "ueber um und uns unser unsere unter vom von vor war waren "
    "warst was weg weil weiter welche welchem welchen welcher welches wenn wer "
    "werde werden wie wieder will wir wird wirst wo wollen wollte wurde "
    "wurden zu zum zur zwar zwischen mal schon heute gestern morgen immer "
    "ganz gibt geht gar halt eben ja danke bitte sdk hallo "
    # the commonest function words of the other languages of the traffic (fr, es, it, pt)
    "que les des une pour dans est pas qui sur avec plus por para con los las una del como pero "
    "per che non della sono gli nel uma nao com mais mas pra "
)
STOPWORDS: Final = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True, slots=True)
class TextFeatures:
    """What the detector needs from one message's text."""

    features: frozenset[str]
    """Word stems, @mentions and ``~concept`` features."""
    surfaces: dict[str, str]
    """Feature -> the word as first written, for readable incident titles and terms."""
    has_cue: bool
    """Does the text carry a problem cue ("geht nicht", "still waiting")?"""
    concepts: frozenset[str]

    @property
    def is_report(self) -> bool:
        """Does the text read like a problem report (a cue or a problem concept)?"""
        return self.has_cue or bool(self.concepts)


def _stem(word: str) -> str:
    return word if word.startswith("@") else word[:STEM_LENGTH]


def extract(text: str) -> TextFeatures:
    """Features of one message's text; pure and deterministic."""
    without_urls = _URL_RE.sub(" ", text)
    words: list[str] = []
    features: set[str] = set()
    surfaces: dict[str, str] = {}
    for match in _TOKEN_RE.finditer(without_urls):
        raw = match.group().strip("'\u2019-/")
        if raw.startswith("#"):
            raw = raw[1:]
        word = fold(raw)
        if not word.startswith("@"):
            words.append(word)
        if len(features) >= MAX_FEATURES:
            continue
        if word.endswith("'s"):
            word, raw = word[:-2], raw[:-2]
        parts = [word] if "-" not in word or len(word) <= 8 else word.split("-")
        for part in parts:
            token = part.replace("'", "")
            if len(token) < 3 or token in STOPWORDS or token.isdigit():
                continue
            stem = _stem(token)
            if stem not in features:
                features.add(stem)
                surfaces[stem] = raw if len(parts) == 1 else part
    concepts, has_cue = scan(words)
    return TextFeatures(frozenset(features | concepts), surfaces, has_cue, concepts)
