"""Composing a reply as Mastodon needs it: the customer's @mention first (Mastodon notifies
only the accounts a status mentions, and a direct status is visible only to them), and a length
check counted the way Mastodon counts."""

from __future__ import annotations

import re

URL_CHARS = 23
"""Mastodon counts every link as 23 characters, however long (`characters_reserved_per_url`)."""
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w/@])@(\w+(?:[.-]\w+)*)@[\w.-]+\w", re.UNICODE)


def mention_prefix(acct: str) -> str:
    return f"@{acct.lstrip('@')}"


def mentions(text: str, acct: str) -> bool:
    pattern = re.compile(rf"(?<![\w/@]){re.escape(mention_prefix(acct))}(?![\w@])", re.IGNORECASE)
    return pattern.search(text) is not None


def with_mention(text: str, acct: str) -> str:
    """The reply text with `@acct` in front, unless the agent already wrote it."""
    text = text.strip()
    return text if mentions(text, acct) else f"{mention_prefix(acct)} {text}"


def counted_length(text: str) -> int:
    """Characters as Mastodon counts them: links as 23, remote mentions by their user part."""
    text = _URL.sub("x" * URL_CHARS, text)
    text = _MENTION.sub(lambda match: f"@{match.group(1)}", text)
    return len(text)
