"""HTML mail bodies as plain text, with the standard library's HTML tokenizer (a real parser, no
regular expressions over markup).

What it keeps: the words, line breaks of blocks and `<br>`, list bullets, link targets, image alt
texts, and quoted blocks (`<blockquote>`) as `> ` lines so the quote trimmer treats them like
plain-text quotes. What it drops: scripts, styles, the document head, comments and every
attribute except `href` and `alt`. The result is text, never markup: the web app escapes it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Content of these elements is never text a person wrote for the reader.
_DROPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "math", "object", "iframe"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "area", "base", "col", "embed", "source"})
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "li",
        "main",
        "nav",
        "ol",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
    }
)
_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6"})
_CELLS = frozenset({"td", "th"})
_LINK_SCHEMES = ("http://", "https://", "mailto:", "tel:")
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


class _TextWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._dropped: list[str] = []
        self._quote_depth = 0
        self._pre = 0
        self._links: list[str | None] = []
        self._pending_space = False

    # -- output ------------------------------------------------------------------------------

    def _prefix(self) -> str:
        return "> " * self._quote_depth

    def _write(self, text: str) -> None:
        if not text:
            return
        if not self._line:
            self._line.append(self._prefix())
        self._line.append(text)

    def _newline(self) -> None:
        line = "".join(self._line).rstrip()
        self.lines.append(line if line.strip("> ") else self._prefix().rstrip())
        self._line = []
        self._pending_space = False

    def _break(self, blank: bool = False) -> None:
        """End the current line (if any); `blank` also leaves one empty line."""
        if "".join(self._line).strip("> "):
            self._newline()
        else:
            self._line = []
        if blank and self.lines and self.lines[-1].strip("> "):
            self.lines.append(self._prefix().rstrip())

    def text(self) -> str:
        self._break()
        text = "\n".join(self.lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")

    # -- parser callbacks --------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.handle_startendtag(tag, attrs)
            return
        if self._dropped:
            if tag in _DROPPED:
                self._dropped.append(tag)
            return
        if tag in _DROPPED:
            self._dropped.append(tag)
            return
        if tag in _PARAGRAPHS:
            self._break(blank=True)
        elif tag == "blockquote":
            self._break(blank=True)
            self._quote_depth += 1
        elif tag in _BLOCKS:
            self._break()
            if tag == "li":
                self._write("- ")
            elif tag == "pre":
                self._pre += 1
        elif tag in _CELLS:
            if "".join(self._line).strip("> "):
                self._write(" ")
        elif tag == "a":
            self._links.append(dict(attrs).get("href"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._dropped:
            return
        if tag == "br":
            self._newline()
        elif tag == "hr":
            self._break()
            self._write("---")
            self._break()
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self.handle_data(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if self._dropped:
            if tag == self._dropped[-1]:
                self._dropped.pop()
            return
        if tag in _PARAGRAPHS:
            self._break(blank=True)
        elif tag == "blockquote":
            self._break()
            self._quote_depth = max(self._quote_depth - 1, 0)
            self._break(blank=True)
        elif tag in _BLOCKS:
            if tag == "pre":
                self._pre = max(self._pre - 1, 0)
            self._break()
        elif tag == "a" and self._links:
            self._link_target(self._links.pop())

    def _link_target(self, href: str | None) -> None:
        # Only targets a reader can follow; `javascript:` and `data:` links are dropped.
        if not href:
            return
        target = href.strip()
        if not target.lower().startswith(_LINK_SCHEMES):
            return
        shown = "".join(self._line)
        bare = target[len("mailto:") :] if target.lower().startswith("mailto:") else target
        if bare in shown or target in shown:
            return  # the text already is the address
        self._write(f" ({target})")

    def handle_data(self, data: str) -> None:
        if self._dropped:
            return
        if self._pre:
            for index, part in enumerate(data.split("\n")):
                if index:
                    self._newline()
                self._write(part)
            return
        # No-break spaces are layout in mail HTML, not meaning.
        collapsed = _SPACES.sub(" ", data.replace("\xa0", " "))
        if not collapsed.strip():
            if collapsed and "".join(self._line).strip("> "):
                self._pending_space = True
            return
        if not "".join(self._line).strip("> "):
            collapsed = collapsed.lstrip()
        elif self._pending_space and not collapsed.startswith(" "):
            collapsed = " " + collapsed
        self._pending_space = collapsed.endswith(" ")
        self._write(collapsed.rstrip() if self._pending_space else collapsed)


def html_to_text(markup: str) -> str:
    """Readable text of an HTML mail body. Never raises on broken markup."""
    writer = _TextWriter()
    writer.feed(markup)
    writer.close()
    return writer.text()
