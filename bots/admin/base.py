"""What every admin page of bots shares: times in the reader's zone, the
status badges and their colours, links to X and to a post.

Who may see and do what is not decided here: every page asks the one policy,
``accounts.access``, through ``accounts.admin_base.PolicyAdmin``."""

from __future__ import annotations

from datetime import datetime, tzinfo

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts import gateway
from bots.posting.models import Post

Status = Post.Status

HELD = "held"
# A draft an admin or owner sent back to its author, with the reason.
REJECTED = "rejected"

# Text colour and background per status (and for posts held by their account).
BADGE_COLOURS = {
    Status.DRAFT: ("#555", "#ececec"),
    Status.PENDING_APPROVAL: ("#0d5f5f", "#dcf1f0"),
    REJECTED: ("#8c2f0b", "#fce6dc"),
    Status.SCHEDULED: ("#0b5394", "#e1ecf7"),
    Status.CLAIMED: ("#5b2a86", "#eee4f6"),
    Status.SENDING: ("#5b2a86", "#eee4f6"),
    Status.PUBLISHED: ("#1d6b37", "#e3f2e8"),
    Status.FAILED: ("#a12622", "#fbe3e3"),
    Status.UNKNOWN: ("#7a4a00", "#fdf0d5"),
    Status.CANCELLED: ("#666", "#f4f4f4"),
    HELD: ("#a12622", "#fff1db"),
}


def local_time(value: datetime | None, zone: tzinfo | None = None) -> str:
    """An instant as a person reads it: in ``zone``, or the active (reader's) zone.
    Django renders a date and time in the same format (DATETIME_FORMAT in
    botplatform/formats/en), for the values it shows itself."""
    if value is None:
        return ""
    local = value.astimezone(zone) if zone else timezone.localtime(value)
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()}"


def excerpt(text: str, length: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def badge(css: str, label: str, colours: tuple[str, str], title: str = "") -> str:
    colour, background = colours
    return format_html(
        '<span class="{}" title="{}" style="color:{};background:{};border-radius:3px;padding:2px 8px;'
        'white-space:nowrap">{}</span>',
        css, title, colour, background, label,
    )


def status_badge(key: str, label: str, *, title: str = "") -> str:
    """A post's status (or "held", "rejected") in its colours."""
    colours = BADGE_COLOURS.get(key, BADGE_COLOURS[Status.DRAFT])
    return badge(f"post-status post-status-{key}", label, colours, title)


def live(key: str, html: str, *, poll: bool) -> str:
    """``html`` as a live region of the page (bots/static/bots/live.js): kept
    up to date while the page is open, and, with ``poll``, the reason the page
    keeps asking."""
    if poll:
        return format_html('<span data-live="{}" data-live-poll>{}</span>', key, html)
    return format_html('<span data-live="{}">{}</span>', key, html)


def x_link(url: str) -> str:
    """The "View on X" link to the post at ``url`` (as X gave it), on the X in
    use: the sandbox's page for the post while the platform talks to the sandbox."""
    if not url:
        return ""
    return format_html(
        '<a href="{}" target="_blank" rel="noopener noreferrer" class="x-post-link">View on X ↗</a>',
        gateway.browser_url(url),
    )


def post_link(post: Post | None) -> str:
    if post is None:
        return ""
    label = f"post {post.pk} ({post.get_status_display().lower()})"
    try:
        url = reverse("admin:bots_post_change", args=[post.pk])
    except NoReverseMatch:
        return label
    return format_html('<a href="{}">{}</a>', url, label)


# Recurring bots.
