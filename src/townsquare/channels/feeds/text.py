"""HTML to plain text with a real HTML parser (the standard library's tokenizer, which follows
the HTML5 rules for entities and unclosed tags), never with regular expressions over markup.

Feed content is HTML written by anyone. What an agent needs is the words: scripts, styles and
embedded objects are dropped with their content, block elements become line breaks, entities
become characters. The result is plain text; the web app escapes it when it shows it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements whose content is never text for a reader (and is where hostile payloads live).
_SKIPPED = frozenset(
    {"script", "style", "template", "head", "title", "iframe", "object", "embed", "noscript", "svg", "math"}
)
# Elements that end a paragraph (a blank line) or a line.
_PARAGRAPHS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dl", "figure", "footer", "form", "h1", "h2", "h3",
        "h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p", "pre", "section", "table", "ul",
    }
)  # fmt: skip
_LINES = frozenset({"dd", "div", "dt", "figcaption", "li", "tr"})
_CELLS = frozenset({"td", "th"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []
        self.pre_depth = 0
        self.pending_breaks = 0
        """Line breaks owed before the next words: block boundaries merge, <br>s add up."""

    def _break(self, count: int) -> None:
        self.pending_breaks = max(self.pending_breaks, count)

    def _words(self, text: str) -> None:
        if not text.strip() and not self.pre_depth:
            if self.parts and not self.pending_breaks:
                self.parts.append(" ")
            return
        if self.pending_breaks and self.parts:
            self.parts.append("\n" * self.pending_breaks)
        self.pending_breaks = 0
        self.parts.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            if tag == self.skipping[-1] and tag not in _VOID:
                self.skipping.append(tag)
            return
        if tag in _SKIPPED and tag not in _VOID:
            self.skipping.append(tag)
            return
        if tag in _PARAGRAPHS:
            self._break(2)
        elif tag in _LINES:
            self._break(1)
        if tag == "br":
            self.pending_breaks = min(self.pending_breaks + 1, 2)
        elif tag == "li":
            self._words("- ")
        elif tag in _CELLS:
            self._words(" ")
        elif tag == "pre":
            self.pre_depth += 1
        elif tag == "img":
            # An image's alt text is its words (WordPress writes emoji as <img alt="🙂">).
            alt = dict(attrs).get("alt")
            if alt and alt.strip():
                self._words(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            return  # <script/> opens nothing
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        if tag == "pre" and self.pre_depth:
            self.pre_depth -= 1
        if tag in _PARAGRAPHS:
            self._break(2)
        elif tag in _LINES:
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        data = data.replace("\x00", "")
        if self.pre_depth:
            self._words(data.replace("\n", "\x00"))  # kept through the whitespace clean-up below
        else:
            self._words(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """The readable text of an HTML fragment: no markup, entities decoded, tidy line breaks."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(collector.parts).split("\n"))
    return "\n".join(lines).replace("\x00", "\n").strip()
