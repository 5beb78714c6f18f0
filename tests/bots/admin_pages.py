"""The post admin's pages as a browser posts them: the add form with its
inline management forms, and the messages a response carries."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.uploadedfile import SimpleUploadedFile

CHANGELIST = "/admin/bots/post/"
ADD = "/admin/bots/post/add/"
COUNT = "/admin/bots/post/count/"


def change_url(pk: int) -> str:
    return f"{CHANGELIST}{pk}/change/"


def post_form(
    account,
    text: str,
    *,
    parts: Sequence[str] = (),
    media: Sequence[tuple[SimpleUploadedFile, str]] = (),
    day: str = "",
    time: str = "",
    publish: str = "schedule",
    poll: Sequence[str] = (),
    poll_minutes: int | str = "",
    reply_settings: str = "",
) -> dict:
    """The fields the add page submits: the post, its media rows and its thread parts."""
    data = {
        "account": account.pk if account is not None else "",
        "text": text,
        "reply_settings": reply_settings,
        "poll_duration_minutes": poll_minutes,
        "scheduled_at_0": day,
        "scheduled_at_1": time,
        "publish": publish,
        **{f"poll_options_{n}": option for n, option in enumerate((list(poll) + [""] * 4)[:4])},
    }
    data.update(management("media", len(media) or 1))
    # With no media, the page's one empty media row comes back untouched.
    data.update({"media-0-alt_text": "", "media-0-position": 0})
    for n, (upload, alt) in enumerate(media):
        data.update({f"media-{n}-file": upload, f"media-{n}-alt_text": alt, f"media-{n}-position": n})
    data.update(management("parts", len(parts)))
    for n, part in enumerate(parts):
        data.update({f"parts-{n}-text": part, f"parts-{n}-order": ""})
    return data


def management(prefix: str, total: int, initial: int = 0) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": total,
        f"{prefix}-INITIAL_FORMS": initial,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def errors_of(response) -> dict[str, list[str]]:
    """The post form's errors by field, on a page that was sent back."""
    return {name: list(errors) for name, errors in response.context["adminform"].form.errors.items()}


def inline_errors(response, prefix: str) -> tuple[list[dict], list[str]]:
    """An inline's errors: per row, and for the rows as a whole."""
    for inline in response.context["inline_admin_formsets"]:
        if inline.formset.prefix == prefix:
            return inline.formset.errors, list(inline.formset.non_form_errors())
    raise AssertionError(f"no inline {prefix!r} on the page")
