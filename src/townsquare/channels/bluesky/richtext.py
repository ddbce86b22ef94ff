"""Bluesky text rules: limits counted in grapheme clusters, facets indexed in UTF-8 bytes, and
record keys (TIDs).

Python strings index code points, Bluesky limits count graphemes (what a person sees as one
character: a family emoji is one grapheme of seven code points and 25 bytes) and facets point at
UTF-8 byte ranges. Mixing these up cuts emoji in half or links the wrong text.
"""

from __future__ import annotations

import hashlib
import re

import regex

from townsquare.channels.bluesky.lexicon import LinkFeature, MentionFeature, OutByteSlice, OutFacet

POST_MAX_GRAPHEMES = 300
POST_MAX_BYTES = 3000
MESSAGE_MAX_GRAPHEMES = 1000
MESSAGE_MAX_BYTES = 10_000

_GRAPHEME = regex.compile(r"\X")
# Links as the official app detects them: http(s) URLs up to the next whitespace, without a
# trailing sentence mark.
_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'\u2019]")
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def graphemes(text: str) -> int:
    return len(_GRAPHEME.findall(text))


def fits(text: str, max_graphemes: int, max_bytes: int) -> bool:
    return graphemes(text) <= max_graphemes and len(text.encode("utf-8")) <= max_bytes


def _byte_slice(text: str, start: int, end: int) -> OutByteSlice:
    """The UTF-8 byte range of the code point range [start, end)."""
    byte_start = len(text[:start].encode("utf-8"))
    return OutByteSlice(byte_start=byte_start, byte_end=byte_start + len(text[start:end].encode("utf-8")))


def _mention_at(text: str, handle: str) -> int:
    """Where `@handle` stands as a whole word in `text`, or -1."""
    pattern = re.compile(rf"(?<![\w@.]){re.escape('@' + handle)}(?![\w.-])", re.IGNORECASE)
    match = pattern.search(text)
    return match.start() if match else -1


def with_mention(text: str, handle: str, max_graphemes: int, max_bytes: int) -> str:
    """`text` addressed to `@handle`: unchanged when it already names them, else prefixed when
    the prefix still fits (a reply notifies the parent's author anyway, so a long text goes out
    without the prefix rather than being cut)."""
    if not handle or _mention_at(text, handle) >= 0:
        return text
    addressed = f"@{handle} {text}"
    return addressed if fits(addressed, max_graphemes, max_bytes) else text


def facets(text: str, mention_handle: str = "", mention_did: str = "") -> list[OutFacet]:
    """Mention facet for the customer's handle and link facets for URLs, in byte offsets."""
    found: list[OutFacet] = []
    if mention_handle and mention_did:
        start = _mention_at(text, mention_handle)
        if start >= 0:
            found.append(
                OutFacet(
                    index=_byte_slice(text, start, start + 1 + len(mention_handle)),
                    features=[MentionFeature(did=mention_did)],
                )
            )
    for match in _URL.finditer(text):
        found.append(
            OutFacet(index=_byte_slice(text, match.start(), match.end()), features=[LinkFeature(uri=match[0])])
        )
    return sorted(found, key=lambda facet: facet.index.byte_start)


def tid(microseconds: int, clock_id: int) -> str:
    """A record key in the TID format: 53 bits of microseconds and 10 bits of clock id, in
    base32-sortable, always 13 characters."""
    value = ((microseconds & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    out = []
    for _ in range(13):
        out.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def tid_for_reply(reply_id: str) -> str | None:
    """A record key derived from Townsquare's reply id, so a retried send finds the post an
    earlier attempt created instead of posting twice. Reply ids start with 48 bits of
    milliseconds in hex; other ids get no fixed key (the PDS picks one)."""
    if len(reply_id) < 12:
        return None
    try:
        millis = int(reply_id[:12], 16)
    except ValueError:
        return None
    digest = int.from_bytes(hashlib.sha256(reply_id.encode()).digest()[:8], "big")
    return tid(millis * 1000 + digest % 1000, digest >> 20)
