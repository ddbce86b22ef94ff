"""Clean text the same way for every network before anything else looks at it."""

from __future__ import annotations

import re
import unicodedata

from townsquare.pipeline.batch import Batch

# Control characters other than tab and newline carry nothing readable and break some terminals,
# exports and PostgreSQL (NUL). Everything else (HTML, emoji, RTL text) is kept as the customer wrote it.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


class NormalizeStage:
    name = "normalize"

    def process(self, batch: Batch) -> None:
        for item in batch.active():
            cleaned = clean_text(item.message.text)
            if cleaned != item.message.text:
                item.message = item.message.model_copy(update={"text": cleaned})
