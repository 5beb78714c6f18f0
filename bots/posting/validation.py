"""What X will refuse, said before we try to post.

A post that X rejects at publishing time fails hours after the person who wrote
it has left, so the admin, the commands and the CSV importers all check posts
here first, with X's own rules, and show each problem on the field it concerns
in words that say what to change. Errors block a post; warnings do not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone
from twitter_text import parse_tweet
from twitter_text.config import config as twitter_text_config
from twitter_text.extract_urls import max_url_length
from twitter_text.regexp.invalid_chars import invalid_chars
from twitter_text.regexp.punct import punct
from twitter_text.regexp.spaces_group import spaces_group

MAX_WEIGHTED_LENGTH: int = twitter_text_config["defaults"]["max_weighted_tweet_length"]
URL_LENGTH: int = twitter_text_config["defaults"]["transformed_url_length"]
# No longer text is within X's limit, even one of links only (each up to
# 4,096 characters, counted 23): past it the weighted count, whose cost grows
# with the text (half a second for 100,000 characters), is not worked out.
LONGEST_POSSIBLE: int = (MAX_WEIGHTED_LENGTH // URL_LENGTH) * max_url_length + MAX_WEIGHTED_LENGTH % URL_LENGTH

MB = 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
GIF_TYPES = ("image/gif",)
VIDEO_TYPES = ("video/mp4", "video/quicktime")
MAX_IMAGES = 4
# X's limits are binary megabytes: its upload error reads "File size exceeds 5242880 bytes".
MAX_IMAGE_BYTES = 5 * MB
MAX_GIF_BYTES = 15 * MB
MAX_VIDEO_BYTES = 512 * MB
MAX_ALT_TEXT_LENGTH = 1000

MIN_POLL_OPTIONS, MAX_POLL_OPTIONS = 2, 4
MAX_POLL_OPTION_LENGTH = 25
MIN_POLL_MINUTES, MAX_POLL_MINUTES = 5, 7 * 24 * 60

MAX_CASHTAGS = 1

REPLY_SETTINGS = ("", "following", "mentionedUsers", "subscribers", "verified")  # "" = everyone

# twitter-text's cashtag rule ("$" and 1-6 letters, optionally ".xx" or "_xx"),
# built from the package's own character classes: the package has no cashtag extractor.
CASHTAG = re.compile(
    rf"(?:^|(?<=[{spaces_group}]))\$([a-z]{{1,6}}(?:[._][a-z]{{1,2}})?)(?=$|\s|[{punct}])",
    re.IGNORECASE,
)

LENGTH_RULE = f"links count {URL_LENGTH} each, most emoji and CJK characters count 2"


@dataclass(frozen=True)
class MediaSpec:
    """One file to attach, described without reading it."""

    name: str
    content_type: str
    size: int
    alt_text: str = ""


@dataclass
class Problems:
    """Everything wrong with a post: errors by field, which block it, and warnings, which do not."""

    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(message)


@dataclass(frozen=True)
class TextCount:
    """The text's length as X counts it (twitter-text v3), for counters and messages.

    ``valid`` is twitter-text's verdict: within the limit, not empty and free of
    characters X refuses. An empty text is fine on a post with media;
    ``validate_post`` knows that, this count does not.
    """

    weighted_length: int
    max_length: int
    remaining: int
    valid: bool

    @property
    def summary(self) -> str:
        return f"{self.weighted_length}/{self.max_length}"


def text_count(text: str) -> TextCount:
    """X's count of the text; of a text longer than any post can be, its
    characters (it is over the limit whatever it holds)."""
    if len(text) > LONGEST_POSSIBLE:
        return TextCount(weighted_length=len(text), max_length=MAX_WEIGHTED_LENGTH,
                         remaining=MAX_WEIGHTED_LENGTH - len(text), valid=False)
    parsed = parse_tweet(unicodedata.normalize("NFC", text))
    return TextCount(
        weighted_length=parsed.weightedLength,
        max_length=MAX_WEIGHTED_LENGTH,
        remaining=MAX_WEIGHTED_LENGTH - parsed.weightedLength,
        valid=parsed.valid,
    )


def validate_post(
    *,
    text: str,
    media: Sequence[MediaSpec] = (),
    poll_options: Sequence[str] | None = None,
    poll_duration_minutes: int | None = None,
    reply_settings: str = "",
    scheduled_at: datetime | None = None,
    now: datetime | None = None,
    is_thread_part: bool = False,
) -> Problems:
    """Check one post (or one part of a thread) against X's rules.

    No poll is ``poll_options`` None or empty. ``scheduled_at`` None is a draft
    and is not checked; a time before ``now`` (default: the current time) is
    only a warning, because such a post is published as soon as possible.
    """
    problems = Problems()
    subject = "This part of the thread" if is_thread_part else "The post"
    text = unicodedata.normalize("NFC", text)
    has_poll = bool(poll_options)

    _check_text(problems, text, subject=subject, has_media=bool(media))
    _check_media(problems, media)
    if has_poll and media:
        problems.add("poll_options", "A post can have a poll or media, not both: remove the poll or the media.")
    if has_poll:
        _check_poll(problems, poll_options or (), poll_duration_minutes)
    elif poll_duration_minutes is not None:
        problems.add(
            "poll_duration_minutes",
            "A poll duration was given but no poll options: add 2 to 4 options, or clear the duration.",
        )
    _check_reply_settings(problems, reply_settings)
    _check_schedule(problems, scheduled_at, now=now, subject=subject)
    return problems


def _check_text(problems: Problems, text: str, *, subject: str, has_media: bool) -> None:
    if not text.strip():
        if not has_media:
            problems.add("text", f"{subject} has no text: write some, or attach an image, GIF or video.")
        return
    if len(text) > LONGEST_POSSIBLE:
        problems.add("text", f"The text is {len(text):,} characters long, far beyond X's limit of "
                             f"{MAX_WEIGHTED_LENGTH} (by X's count) whatever it holds: shorten it.")
        return
    count = text_count(text)
    if count.weighted_length > count.max_length:
        problems.add(
            "text",
            f"The text is {count.weighted_length} characters long by X's count; the limit is {count.max_length}. "
            f"Remove {-count.remaining}. (X's count: {LENGTH_RULE}.)",
        )
    refused = sorted({f"U+{ord(c):04X}" for c in invalid_chars.findall(text)})
    if refused:
        problems.add(
            "text",
            f"The text contains characters X refuses ({', '.join(refused)}), often pasted in invisibly: remove them.",
        )
    cashtags = sorted({match.group(1).upper() for match in CASHTAG.finditer(text)})
    if len(cashtags) > MAX_CASHTAGS:
        problems.add(
            "text",
            f"X allows at most one cashtag per post; this text has {len(cashtags)} "
            f"({', '.join('$' + tag for tag in cashtags)}). Keep one and write the others without the $.",
        )


def _check_media(problems: Problems, media: Sequence[MediaSpec]) -> None:
    images = gifs = videos = 0
    for item in media:
        content_type = item.content_type.strip().lower()
        if content_type in IMAGE_TYPES:
            images += 1
            _check_size(problems, item, MAX_IMAGE_BYTES, "images")
        elif content_type in GIF_TYPES:
            gifs += 1
            _check_size(problems, item, MAX_GIF_BYTES, "GIFs")
        elif content_type in VIDEO_TYPES:
            videos += 1
            _check_size(problems, item, MAX_VIDEO_BYTES, "videos")
        else:
            problems.add(
                "media",
                f"{item.name} is of type {content_type or 'unknown'}, which X does not take. "
                f"Attach JPEG, PNG or WebP images, a GIF, or an MP4 or MOV video.",
            )
        alt_length = len(unicodedata.normalize("NFC", item.alt_text))
        if alt_length > MAX_ALT_TEXT_LENGTH:
            problems.add(
                "alt_text",
                f"The alt text of {item.name} is {alt_length} characters long; X allows {MAX_ALT_TEXT_LENGTH}. "
                f"Remove {alt_length - MAX_ALT_TEXT_LENGTH}.",
            )

    if (gifs or videos) and len(media) > 1:
        problems.add(
            "media",
            f"A post can have 1 to {MAX_IMAGES} images, or one GIF, or one video; this one has "
            f"{_describe_mix(images=images, gifs=gifs, videos=videos)}. "
            "Keep the images only, or a single GIF or video.",
        )
    elif images > MAX_IMAGES:
        problems.add(
            "media",
            f"A post can have at most {MAX_IMAGES} images; this one has {images}. Remove {images - MAX_IMAGES}, "
            f"or put them in the next part of a thread.",
        )


def _check_size(problems: Problems, item: MediaSpec, limit: int, kind: str) -> None:
    if item.size <= 0:
        problems.add("media", f"{item.name} is empty: upload the file again.")
    elif item.size > limit:
        problems.add(
            "media",
            f"{item.name} is {item.size / MB:.1f} MB; X takes {kind} of at most {limit // MB} MB. "
            f"Make it smaller and upload it again.",
        )


def _describe_mix(*, images: int, gifs: int, videos: int) -> str:
    parts = [(images, "image"), (gifs, "GIF"), (videos, "video")]
    return " and ".join(f"{n} {noun}{'s' if n > 1 else ''}" for n, noun in parts if n)


def _check_poll(problems: Problems, options: Sequence[str], duration_minutes: int | None) -> None:
    if not MIN_POLL_OPTIONS <= len(options) <= MAX_POLL_OPTIONS:
        change = (
            f"Add {MIN_POLL_OPTIONS - len(options)} more"
            if len(options) < MIN_POLL_OPTIONS
            else f"Remove {len(options) - MAX_POLL_OPTIONS}"
        )
        problems.add(
            "poll_options",
            f"A poll needs {MIN_POLL_OPTIONS} to {MAX_POLL_OPTIONS} options; this one has {len(options)}. {change}.",
        )
    seen: set[str] = set()
    for number, raw in enumerate(options, start=1):
        # X counts poll options in characters (code points after NFC), not with the weighted count of the text.
        option = unicodedata.normalize("NFC", raw).strip()
        if not option:
            problems.add("poll_options", f"Option {number} is empty: write it, or remove it.")
        elif len(option) > MAX_POLL_OPTION_LENGTH:
            problems.add(
                "poll_options",
                f"Option {number} ({option!r}) is {len(option)} characters long; options can have at most "
                f"{MAX_POLL_OPTION_LENGTH}. Remove {len(option) - MAX_POLL_OPTION_LENGTH}.",
            )
        elif option in seen:
            problems.add(
                "poll_options", f"Option {number} ({option!r}) repeats an earlier option: change or remove it."
            )
        seen.add(option)

    if duration_minutes is None:
        problems.add(
            "poll_duration_minutes",
            f"A poll needs a duration: give one from {MIN_POLL_MINUTES} minutes to 7 days "
            f"({MAX_POLL_MINUTES} minutes).",
        )
    elif not MIN_POLL_MINUTES <= duration_minutes <= MAX_POLL_MINUTES:
        problems.add(
            "poll_duration_minutes",
            f"The poll would run for {duration_minutes} minutes; X allows {MIN_POLL_MINUTES} minutes to 7 days "
            f"({MAX_POLL_MINUTES} minutes). Choose a duration in that range.",
        )


def _check_reply_settings(problems: Problems, reply_settings: str) -> None:
    if reply_settings in REPLY_SETTINGS:
        return
    allowed = ", ".join(repr(value) for value in REPLY_SETTINGS if value)
    near = next((value for value in REPLY_SETTINGS if value and value.lower() == reply_settings.lower()), None)
    hint = f" Did you mean {near!r}?" if near else ""
    problems.add(
        "reply_settings",
        f"{reply_settings!r} is not a reply setting X knows. Leave it empty to let everyone reply, "
        f"or use one of {allowed}.{hint}",
    )


def _check_schedule(problems: Problems, scheduled_at: datetime | None, *, now: datetime | None, subject: str) -> None:
    if scheduled_at is None:
        return
    when = scheduled_at.isoformat(sep=" ", timespec="minutes")
    if timezone.is_naive(scheduled_at):
        problems.add(
            "scheduled_at",
            f"The scheduled time {when} has no time zone; give it with one, e.g. 2026-12-01T09:00+01:00.",
        )
        return
    if now is None:
        now = timezone.now()
    elif timezone.is_naive(now):
        raise ValueError("validate_post: `now` must be an aware datetime")
    if scheduled_at < now:
        problems.warnings.append(
            f"The scheduled time {when} is in the past: {subject.lower()} will be published as soon as possible."
        )


def sniff_media_type(head: bytes) -> str | None:
    """The media type a file's first bytes show, for the types X takes: the
    browser's claim goes by the file name, which may lie."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    return None
