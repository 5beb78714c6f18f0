"""Media on every part of a thread, in the admin: a later part takes an image,
a GIF or a video with its alt text on the add page and on the change page; a
new file replaces the part's media, the alt text alone can change (X is sent
the file again), and the media can be removed; a file X would refuse is
refused on its part's field, and nothing is saved."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bots.models import Post, PostMedia
from bots.posting import services
from bots.posting.services import NewMedia, NewPart
from tests.sandbox.xapi import mp4, png

from .admin_pages import ADD, CHANGELIST, change_url, inline_errors, management, post_form

pytestmark = pytest.mark.django_db


def image(name: str = "map.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png(), content_type="image/png")


def test_each_part_of_a_new_thread_takes_its_own_media(alice_client, alice_bot, media_root):
    form = post_form(alice_bot, "Our trip 1/3", parts=["The route 2/3", ""], day="2030-01-15", time="09:00")
    form.update({"parts-0-media_file": image(), "parts-0-media_alt": "The route on a map",
                 "parts-1-media_file": SimpleUploadedFile("clip.mp4", mp4(), content_type="video/mp4")})

    response = alice_client.post(ADD, form, follow=True)

    assert response.redirect_chain[-1][0] == CHANGELIST
    root = Post.objects.get(parent=None)
    route, clip = root.parts.order_by("position")
    assert (root.media.count(), route.text, clip.text) == (0, "The route 2/3", "")
    assert [(m.content_type, m.alt_text) for m in route.media.all()] == [("image/png", "The route on a map")]
    assert [(m.content_type, m.size) for m in clip.media.all()] == [("video/mp4", len(mp4()))]
    assert route.media.get().file.read() == png()
    assert {p.status for p in (root, route, clip)} == {Post.Status.SCHEDULED}


def test_a_file_x_would_refuse_is_refused_on_its_part_and_nothing_is_saved(alice_client, alice_bot, media_root):
    form = post_form(alice_bot, "A thread 1/2", parts=["and 2/2"])
    form["parts-0-media_file"] = SimpleUploadedFile("notes.txt", b"just words", content_type="text/plain")

    response = alice_client.post(ADD, form)

    assert response.status_code == 200
    rows, _ = inline_errors(response, "parts")
    assert "media_file" in rows[0], rows
    assert "notes.txt" in " ".join(rows[0]["media_file"])
    assert not Post.objects.exists() and not PostMedia.objects.exists()


def edit_form(root: Post, part: Post, **fields) -> dict:
    form = post_form(root.account, root.text, publish="draft")
    form.update(management("parts", 1, initial=1))
    form.update({"parts-0-id": part.pk, "parts-0-parent": root.pk, "parts-0-text": part.text, "parts-0-order": 1,
                 "parts-0-media_alt": part.media.first().alt_text if part.media.exists() else ""})
    form.update(fields)
    return form


def test_on_the_change_page_a_parts_media_is_replaced_its_alt_text_changed_or_removed(
        alice, alice_client, alice_bot, media_root):
    root = services.post_create(
        account=alice_bot, text="Before 1/2", by=alice, schedule=False,
        parts=[NewPart("After 2/2", media=[NewMedia(name="old.png", content_type="image/png", size=len(png()),
                                                     alt_text="The old picture", file=image("old.png"))])],
    )
    part = root.parts.get()
    # Uploaded to X already: a change must upload it again.
    PostMedia.objects.filter(post=part).update(x_media_id="77")
    old_file = part.media.get().file.name

    answer = alice_client.post(change_url(root.pk), edit_form(root, part, **{"parts-0-media_alt": "Still the old"}))
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert [(m.alt_text, m.x_media_id, m.file.name) for m in part.media.all()] == [("Still the old", "", old_file)]

    answer = alice_client.post(change_url(root.pk), edit_form(root, part, **{
        "parts-0-media_file": SimpleUploadedFile("new.mp4", mp4(), content_type="video/mp4"),
        "parts-0-media_alt": "The new clip"}))
    assert answer.status_code == 302
    assert [(m.alt_text, m.content_type, m.file.name != old_file) for m in part.media.all()] == [
        ("The new clip", "video/mp4", True)]

    answer = alice_client.post(change_url(root.pk), edit_form(root, part, **{"parts-0-remove_media": "on"}))
    assert answer.status_code == 302
    assert not part.media.exists()
    assert Post.objects.get(pk=part.pk).text == "After 2/2"
