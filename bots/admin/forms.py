"""The admin's forms for posts: the post itself, its thread parts and its media.

Every rule X enforces is checked by ``bots.posting.validation.validate_post``, the
service the commands and importers use too; these forms only collect what a
person typed, ask it, and put each problem on the field it concerns.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from django import forms
from django.contrib.admin.widgets import AdminFileWidget
from django.core.files.uploadedfile import UploadedFile
from django.forms.models import BaseInlineFormSet
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.html import format_html

from bots import staged_uploads
from bots.posting import validation
from bots.posting.models import Post, PostMedia
from bots.posting.preview import preview_segments
from bots.posting.validation import MAX_POLL_MINUTES, MAX_POLL_OPTIONS, MIN_POLL_MINUTES, MediaSpec, sniff_media_type

DRAFT, SCHEDULE = "draft", "schedule"

# Problems validate_post reports about the media as a set or one file; they are
# shown above the media rows, where the person fixes them.
MEDIA_FIELDS = ("media", "alt_text")


class PostTextarea(forms.Textarea):
    """The text box with X's weighted count and a preview beside it.

    The count and preview are rendered here for the text as it is, and kept up
    to date as the person types by ``bots/post_counter.js``, which asks the
    admin's count endpoint: the server's count is the only one.
    """

    template_name = "bots/widgets/post_text.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"rows": 5, "cols": 60, "class": "vLargeTextField post-text-input", **(attrs or {})})

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        text = value or ""
        context["widget"].update(
            count=validation.text_count(text),
            preview=preview_segments(text),
            count_url=reverse_lazy("admin:bots_post_count"),
        )
        return context


class PollOptionsWidget(forms.MultiWidget):
    template_name = "bots/widgets/poll_options.html"

    def __init__(self) -> None:
        super().__init__(
            [
                forms.TextInput(
                    attrs={"placeholder": f"Choice {n}" + (" (optional)" if n > 2 else ""), "class": "poll-option"}
                )
                for n in range(1, MAX_POLL_OPTIONS + 1)
            ]
        )

    def decompress(self, value: list[str] | None) -> list[str]:
        options = list(value or [])
        return (options + [""] * MAX_POLL_OPTIONS)[:MAX_POLL_OPTIONS]


class PollOptionsField(forms.MultiValueField):
    """Up to four choice boxes, stored as the list of those filled in.

    Lengths and counts are not limited here: validate_post says what is wrong
    in X's terms (characters after normalisation, 2 to 4 options).
    """

    widget = PollOptionsWidget

    def __init__(self, **kwargs: Any) -> None:
        fields = [forms.CharField(required=False, strip=False) for _ in range(MAX_POLL_OPTIONS)]
        super().__init__(fields=fields, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list: list[str]) -> list[str]:
        return [option.strip() for option in data_list if option and option.strip()]


def upload_media_type(upload: UploadedFile) -> str:
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared in ("", "application/octet-stream"):
        declared = mimetypes.guess_type(upload.name or "")[0] or ""
    return sniff_media_type(head) or declared


class KeptFileInput(AdminFileWidget):
    """The admin's file box, saying which file it keeps from the last try."""

    kept = ""

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        box = super().render(name, value, attrs, renderer)
        if not self.kept:
            return box
        return format_html('<span class="kept-file">Kept from your last try: <strong>{}</strong>. Choose '
                           "another file to replace it.</span><br>{}", self.kept, box)


class KeepsUploads:
    """A form with a file box whose file is kept when the page comes back
    with errors (``bots.staged_uploads``): ``keep_for_next_try`` stages the
    file sent, and the next send takes it when no other file is chosen.
    The admin passes the person's id as ``staging_user``; the form declares
    the hidden ``staged`` field that carries the token."""

    kept_field = "file"

    def __init__(self, *args: Any, staging_user: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.staging_user = staging_user
        field = self.fields[self.kept_field]
        field.widget = KeptFileInput(attrs=field.widget.attrs)
        if not self.is_bound or staging_user is None:
            return
        name = self.add_prefix(self.kept_field)
        token = self.data.get(self.add_prefix("staged"), "")
        if token and not self.files.get(name):
            kept = staged_uploads.unstage(token, user_id=staging_user)
            if kept is not None:
                self.files = self.files.copy()
                self.files[name] = kept
                field.widget.kept = kept.name
            else:
                field.error_messages["required"] = (
                    "The file chosen on your last try is no longer kept (files are kept for a day): choose it again."
                )

    def keep_for_next_try(self) -> None:
        """The page comes back with errors: keep the file sent, if it was a good one."""
        if self.staging_user is None or not self.is_bound or self.kept_field in self.errors:
            return
        upload = self.files.get(self.add_prefix(self.kept_field))
        if not isinstance(upload, UploadedFile):
            return
        staged = self.add_prefix("staged")
        if not self.fields[self.kept_field].widget.kept:
            self.data = self.data.copy()
            self.data[staged] = staged_uploads.stage(upload, user_id=self.staging_user)
            self.fields[self.kept_field].widget.kept = upload.name


class LabelledInTable:
    """A form shown as a row of a table (a tabular inline), whose fields have
    no label of their own but the column's heading: each field is named by
    its label for a screen reader (aria-label)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("aria-label", str(field.label))


class PostMediaForm(KeepsUploads, LabelledInTable, forms.ModelForm):
    """One attached file. Its media type and size come from the upload."""

    staged = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = PostMedia
        fields = ("file", "alt_text", "position")
        widgets = {"alt_text": forms.Textarea(attrs={"rows": 2, "cols": 40})}

    def uploaded(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("file")
        return upload if isinstance(upload, UploadedFile) else None

    def media_spec(self) -> MediaSpec | None:
        """The file as validate_post sees it, or None when there is none."""
        upload = self.uploaded()
        if upload is not None:
            return MediaSpec(
                name=upload.name or "the file", content_type=upload_media_type(upload), size=upload.size or 0,
                alt_text=self.cleaned_data.get("alt_text") or "",
            )
        if self.instance.pk and self.instance.file:
            return MediaSpec(
                name=str(self.instance), content_type=self.instance.content_type, size=self.instance.size,
                alt_text=self.cleaned_data.get("alt_text") or "",
            )
        return None

    def save(self, commit: bool = True) -> PostMedia:
        media = super().save(commit=False)
        upload = self.uploaded()
        if upload is not None:
            media.content_type = upload_media_type(upload)
            media.size = upload.size or 0
        if {"file", "alt_text"} & set(self.changed_data):
            # An upload to X carries the old file and alt text: upload again.
            media.x_media_id = ""
            media.x_media_expires_at = None
        if commit:
            media.save()
        return media


class PostMediaFormSet(BaseInlineFormSet):
    """The post's media rows. Problems with the media as a whole (too many
    images, an image beside a video, a type X does not take) are found by
    PostForm.clean, which checks the whole post, and shown here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.post_problems: list[str] = []
        # The admin builds its inline formsets on the post form's own instance
        # before it validates the form, so the form finds its media here.
        self.instance._media_formset = self

    def kept_forms(self) -> list[PostMediaForm]:
        kept = []
        for form in self.forms:
            if not form.is_valid():
                continue
            if self.can_delete and form.cleaned_data.get("DELETE"):
                continue
            if form.instance.pk is None and not form.has_changed():
                continue
            kept.append(form)
        return kept

    def media_specs(self) -> list[MediaSpec]:
        specs = [form.media_spec() for form in self.kept_forms()]
        return [spec for spec in specs if spec is not None]

    def clean(self) -> None:
        super().clean()
        if self.post_problems:
            raise forms.ValidationError(self.post_problems)


class PostForm(forms.ModelForm):
    """A post, or a thread's first post: what it says, where and when."""

    publish = forms.ChoiceField(
        label="On save",
        choices=[(SCHEDULE, "Schedule"), (DRAFT, "Save as draft")],
        widget=forms.RadioSelect,
        initial=SCHEDULE,
        help_text="A scheduled post is published at the time above, or as soon as possible when the time is "
        "empty or past. A draft waits until you schedule it.",
    )
    poll_options = PollOptionsField(
        label="Poll choices",
        help_text=f"Optional: 2 to {MAX_POLL_OPTIONS} choices of up to 25 characters. "
        "A post has a poll or media, not both.",
    )

    class Meta:
        model = Post
        fields = ("account", "text", "poll_options", "poll_duration_minutes", "reply_settings", "scheduled_at")
        widgets = {"text": PostTextarea}
        labels = {"poll_duration_minutes": "Poll length (minutes)", "reply_settings": "Who can reply"}
        help_texts = {
            "poll_duration_minutes": f"From {MIN_POLL_MINUTES} minutes to 7 days ({MAX_POLL_MINUTES} minutes); "
            "e.g. 1440 for a day.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.warnings: list[str] = []
        if "scheduled_at" in self.fields:
            zone = timezone.get_current_timezone_name()
            self.fields["scheduled_at"].label = "Publish at"
            self.fields["scheduled_at"].help_text = (
                f"In your time zone, <strong>{zone}</strong>. Empty: as soon as it is scheduled."
            )
            # The admin's widget is two boxes under one label: each named for a screen reader.
            for box, name in zip(getattr(self.fields["scheduled_at"].widget, "widgets", ()),
                                 ("Publish on (date)", "Publish at (time)")):
                box.attrs["aria-label"] = name
        if "publish" in self.fields and self.instance.pk:
            scheduled = self.instance.status in (Post.Status.SCHEDULED, Post.Status.FAILED)
            self.fields["publish"].initial = SCHEDULE if scheduled else DRAFT

    @property
    def scheduling(self) -> bool:
        return self.cleaned_data.get("publish") == SCHEDULE

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        checked = ("text", "poll_options", "poll_duration_minutes", "reply_settings", "scheduled_at")
        if any(name in self.errors for name in checked):
            # Django already said what is wrong with these fields.
            return cleaned
        media_formset: PostMediaFormSet | None = getattr(self.instance, "_media_formset", None)
        problems = validation.validate_post(
            text=cleaned.get("text") or "",
            media=media_formset.media_specs() if media_formset else (),
            poll_options=cleaned.get("poll_options") or None,
            poll_duration_minutes=cleaned.get("poll_duration_minutes"),
            reply_settings=cleaned.get("reply_settings") or "",
            # A draft's time is checked when it is scheduled.
            scheduled_at=cleaned.get("scheduled_at") if self.scheduling else None,
        )
        for name, messages in problems.errors.items():
            if name in MEDIA_FIELDS and media_formset is not None:
                media_formset.post_problems.extend(messages)
            else:
                self.add_error(name if name in self.fields else None, messages)
        self.warnings = problems.warnings
        return cleaned


class ThreadPartForm(KeepsUploads, forms.ModelForm):
    """A later part of a thread: its text, its media (a file with its alt
    text, which replaces what the part had), and its place in the thread."""

    kept_field = "media_file"
    staged = forms.CharField(required=False, widget=forms.HiddenInput)

    order = forms.IntegerField(
        label="Order", min_value=1, required=False,
        widget=forms.NumberInput(attrs={"class": "vIntegerField", "style": "width:4em"}),
        help_text="Parts are published in this order; change the numbers to reorder.",
    )
    media_file = forms.FileField(
        label="Image, GIF or video", required=False,
        help_text="Published with this part. A new file replaces the part's media.",
    )
    media_alt = forms.CharField(
        label="Alt text", required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
        help_text="What the image shows, for people who cannot see it.",
    )
    remove_media = forms.BooleanField(label="Remove the part's media", required=False)

    class Meta:
        model = Post
        fields = ("text",)
        widgets = {"text": PostTextarea}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.existing_media: list[PostMedia] = list(self.instance.media.all()) if self.instance.pk else []
        if self.instance.pk:
            self.fields["order"].initial = self.instance.position
        if self.existing_media:
            names = ", ".join(str(item) for item in self.existing_media)
            self.fields["media_file"].help_text = f"Now: {names}. A new file replaces it."
            self.fields["media_alt"].initial = self.existing_media[0].alt_text

    def uploaded(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("media_file")
        return upload if isinstance(upload, UploadedFile) else None

    def media_change(self) -> list[MediaSpec] | None:
        """The part's media after saving, as validate_post sees it, when the
        form changes it (a new file, a removal, new alt text); None when it
        keeps what it has."""
        upload = self.uploaded()
        alt_text = self.cleaned_data.get("media_alt") or ""
        if upload is not None:
            return [MediaSpec(name=upload.name or "the file", content_type=upload_media_type(upload),
                              size=upload.size or 0, alt_text=alt_text)]
        if self.cleaned_data.get("remove_media"):
            return []
        if self.existing_media and "media_alt" in self.changed_data:
            return [MediaSpec(name=str(item), content_type=item.content_type, size=item.size, alt_text=alt_text)
                    for item in self.existing_media]
        return None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "text" not in self.errors and "media_file" not in self.errors:
            change = self.media_change()
            media = change if change is not None else [
                MediaSpec(name=str(item), content_type=item.content_type, size=item.size, alt_text=item.alt_text)
                for item in self.existing_media]
            problems = validation.validate_post(text=cleaned.get("text") or "", media=media, is_thread_part=True)
            for name, messages in problems.errors.items():
                field = {"media": "media_file", "alt_text": "media_alt"}.get(name, name)
                self.add_error(field if field in self.fields else None, messages)
        return cleaned


class ThreadPartFormSet(BaseInlineFormSet):
    def kept_forms(self) -> list[ThreadPartForm]:
        """The parts there will be after saving, in their new order: by the
        numbers given, then by their place on the page."""
        deleted = set(self.deleted_forms) if self.can_delete else set()
        kept = [
            (index, form) for index, form in enumerate(self.forms)
            if form not in deleted and (form.instance.pk is not None or form.has_changed())
        ]
        kept.sort(key=lambda pair: (pair[1].cleaned_data.get("order") or len(self.forms) + pair[0] + 1, pair[0]))
        return [form for _, form in kept]
