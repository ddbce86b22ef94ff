"""Header values as text: encoded words (RFC 2047) decoded, raw 8-bit bytes read as UTF-8 (or
Latin-1), unknown charsets replaced rather than raised, message ids normalized."""

from __future__ import annotations

import codecs
import re
from email.header import decode_header, make_header
from email.utils import getaddresses

from pydantic import BaseModel, ConfigDict, Field

MAX_ID_CHARS = 500
_ID = re.compile(r"<([^<>\s]+)>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(default="", max_length=512)
    address: str = Field(max_length=512)


def _undo_surrogates(value: str) -> str:
    """The parser keeps raw 8-bit header bytes as surrogate escapes; most such headers are
    UTF-8 written by clients that skip encoded words."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    data = value.encode("ascii", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _decode_bytes(data: bytes, charset: str | None) -> str:
    if _known(charset):
        try:
            return data.decode(str(charset))
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(str(charset) if _known(charset) else "latin-1", errors="replace")


def _known(charset: str | None) -> bool:
    if not charset:
        return False
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    return True


def decode_text(raw: str) -> str:
    """A header's value as readable text, on one line."""
    value = _undo_surrogates(raw)
    try:
        text = str(make_header(decode_header(value)))
    except Exception:  # malformed encoded words, unknown charsets: decode piece by piece
        try:
            parts = decode_header(value)
        except Exception:
            parts = [(value, None)]
        text = "".join(_decode_bytes(part, charset) if isinstance(part, bytes) else part for part, charset in parts)
    return " ".join(_CONTROL.sub(" ", text).split())


def message_ids(raw: str | None) -> list[str]:
    """Message ids in a Message-ID, In-Reply-To or References value, in order, without the angle
    brackets. Values some clients write without brackets are split on whitespace."""
    if not raw:
        return []
    found = _ID.findall(raw)
    if not found:
        found = [token for token in raw.split() if "@" in token]
    ids: list[str] = []
    for item in found:
        cleaned = _CONTROL.sub("", item).strip().strip("<>")
        if cleaned and len(cleaned) <= MAX_ID_CHARS and cleaned not in ids:
            ids.append(cleaned)
    return ids


def addresses(raw: str | None, limit: int = 50) -> list[Address]:
    if not raw:
        return []
    found: list[Address] = []
    for name, address in getaddresses([decode_text(raw)]):
        address = address.strip()
        if "@" not in address or len(address) > 512 or any(ch.isspace() for ch in address):
            continue
        found.append(Address(name=name.strip()[:512], address=address))
        if len(found) >= limit:
            break
    return found
