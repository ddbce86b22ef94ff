"""Mastodon sends status text as HTML (`content`); agents and triage need plain text.

A real HTML parser (the standard library's, which tolerates broken markup) walks the content:
tags are dropped, entities unescaped, `<br>` and paragraph ends become line breaks, and the text
of `<script>`/`<style>` (which no browser would show, and Mastodon never sends) is dropped. The
result is text, not markup: a customer who typed `<b>` gets `<b>` stored, and the web app escapes it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCK_TAGS = frozenset(
    {"p", "div", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr"}
)
HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title"})
_SPACES = re.compile(r"[ \t\r\f\v\n]+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.preformatted = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN_TAGS:
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in BLOCK_TAGS:
            self._paragraph_break()
            if tag == "pre":
                self.preformatted += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BLOCK_TAGS:
            if tag == "pre":
                self.preformatted = max(0, self.preformatted - 1)
            self._paragraph_break()

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        # Outside <pre>, source line breaks are only whitespace, as a browser shows them.
        self.parts.append(data if self.preformatted else _SPACES.sub(" ", data))

    def _paragraph_break(self) -> None:
        self.parts.append("\n\n")


def html_to_text(content: str) -> str:
    collector = _TextCollector()
    collector.feed(content)
    collector.close()
    lines = [line.strip(" ") for line in "".join(collector.parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
