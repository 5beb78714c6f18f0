"""How a post's text will read on X: plain text with its links, for the
admin's preview beside the text box."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from twitter_text import extract_urls_with_indices

# X shows a link without its scheme and cuts long ones short with an ellipsis.
DISPLAY_URL_LENGTH = 25
SCHEME = re.compile(r"^https?://", re.IGNORECASE)


@dataclass(frozen=True)
class Segment:
    """A run of the text; a link when ``href`` is set."""

    text: str
    href: str = ""


def preview_segments(text: str) -> list[Segment]:
    """The text cut into plain runs and links, finding links exactly as the
    weighted count does (twitter-text), so every link previewed is one that
    counts 23."""
    segments: list[Segment] = []
    cursor = 0
    for found in extract_urls_with_indices(text):
        start, end = found["indices"]
        if start > cursor:
            segments.append(Segment(text[cursor:start]))
        url = found["url"]
        shown = SCHEME.sub("", url)
        if len(shown) > DISPLAY_URL_LENGTH:
            shown = shown[: DISPLAY_URL_LENGTH - 1] + "…"
        segments.append(Segment(shown, href=url if SCHEME.match(url) else f"https://{url}"))
        cursor = end
    if cursor < len(text):
        segments.append(Segment(text[cursor:]))
    return segments


def preview_json(text: str) -> list[dict[str, str]]:
    return [asdict(segment) for segment in preview_segments(text)]
