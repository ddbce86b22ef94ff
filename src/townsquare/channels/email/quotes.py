"""Quoted history in replies: the customer's own words stay in the text, what they quoted goes.

Mail clients quote in a few well-known shapes: `>` lines, an attribution line ("On Mon, 3 Jun
2024, Acme Support <support@acme.example> wrote:", German "Am ... schrieb ...:"), sometimes
wrapped over two lines, and Outlook's "-----Original Message-----" or "From:/Sent:" header block
followed by the whole earlier message. The trimmed part is returned too, so it can be kept in the
raw record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ATTRIBUTION = re.compile(
    r"^\s*(?:"
    r"on\b.{0,300}\bwrote\s*:"  # English (Gmail, Apple Mail, Thunderbird)
    r"|am\b.{0,300}\bschrieb\b.{0,300}:"  # German
    r"|le\b.{0,300}\ba écrit\s*:"  # French
    r"|el\b.{0,300}\bescribió\s*:"  # Spanish
    r")\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:from|von|de)\s*:\*?\s+\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(?:sent|date|gesendet|datum|envoyé|enviado|to|an|subject|betreff)\s*:", re.IGNORECASE
)
_QUOTED = re.compile(r"^\s*>")


@dataclass(frozen=True)
class Trimmed:
    text: str
    quoted: str


def _is_quote_block_start(lines: list[str], index: int) -> bool:
    """After an attribution: the next non-blank line is quoted, or nothing follows."""
    for line in lines[index:]:
        if line.strip():
            return bool(_QUOTED.match(line))
    return True


def _attribution_at(lines: list[str], index: int) -> int:
    """How many lines (1 or 2) form an attribution starting here, or 0."""
    line = lines[index]
    if _ATTRIBUTION.match(line) and _is_quote_block_start(lines, index + 1):
        return 1
    if index + 1 < len(lines) and lines[index + 1].strip():
        joined = f"{line.rstrip()} {lines[index + 1].strip()}"
        if _ATTRIBUTION.match(joined) and _is_quote_block_start(lines, index + 2):
            return 2
    return 0


def _outlook_history_at(lines: list[str], index: int) -> bool:
    if _SEPARATOR.match(lines[index]):
        return True
    if _HEADER_FROM.match(lines[index]):
        following = [line for line in lines[index + 1 : index + 4] if line.strip()]
        return sum(1 for line in following if _HEADER_NEXT.match(line)) >= 2
    return False


def trim_quotes(text: str) -> Trimmed:
    """Split a reply into what the customer wrote and what they quoted. A message that is
    nothing but quotes (a forward without comment) is kept whole."""
    lines = text.split("\n")
    kept: list[str] = []
    quoted: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        has_content = any(k.strip() for k in kept)
        if has_content and _outlook_history_at(lines, index):
            quoted.extend(lines[index:])
            break
        span = _attribution_at(lines, index)
        if span:
            quoted.extend(lines[index : index + span])
            index += span
            continue
        if _QUOTED.match(line):
            quoted.append(line)
        else:
            kept.append(line)
        index += 1
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    if not body:
        return Trimmed(text=text.strip(), quoted="")
    return Trimmed(text=body, quoted="\n".join(quoted).strip())
