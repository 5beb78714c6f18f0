"""Files chosen on a post form that comes back with errors are kept for the
next try (bots.staged_uploads): the page says which file it keeps, the next
send takes it without choosing it again, for the post's media and a thread
part's alike. A kept file is the person's alone and for a day; one no longer
kept is asked for again in words; old ones are swept away."""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import XAccount
from bots import staged_uploads
from bots.models import Post
from tests.people import client_for, staff
from tests.sandbox.xapi import mp4, png

from .admin_pages import ADD, CHANGELIST, inline_errors, post_form

pytestmark = pytest.mark.django_db

TOO_LONG = "word " * 80


def tokens(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([\w-]+-staged)" value="([^"]+)"', html))


def test_a_file_is_kept_across_an_error_and_taken_on_the_next_try(alice_client, alice_bot, media_root):
    form = post_form(alice_bot, TOO_LONG, parts=["and 2/2"], media=[(SimpleUploadedFile(
        "sunrise.png", png(), content_type="image/png"), "The sun over the sea")])
    form["parts-0-media_file"] = SimpleUploadedFile("clip.mp4", mp4(), content_type="video/mp4")

    refused = alice_client.post(ADD, form)

    assert refused.status_code == 200 and not Post.objects.exists()
    html = refused.content.decode()
    kept = tokens(html)
    assert set(kept) == {"media-0-staged", "parts-0-staged"}
    assert "Kept from your last try: <strong>sunrise.png</strong>" in html
    assert "Kept from your last try: <strong>clip.mp4</strong>" in html

    # The person shortens the text and sends the page again, choosing no file.
    again = post_form(alice_bot, "Short now", parts=["and 2/2"])
    again.update({"media-0-alt_text": "The sun over the sea", **kept})
    response = alice_client.post(ADD, again, follow=True)

    assert response.redirect_chain[-1][0] == CHANGELIST
    root = Post.objects.get(parent=None)
    (image,) = root.media.all()
    assert (image.content_type, image.alt_text, image.file.read()) == ("image/png", "The sun over the sea", png())
    (clip,) = root.parts.get().media.all()
    assert (clip.content_type, clip.file.read()) == ("video/mp4", mp4())


def test_a_kept_file_is_the_persons_alone_and_a_changed_token_keeps_nothing(alice_client, alice_bot, media_root):
    form = post_form(alice_bot, TOO_LONG, media=[(SimpleUploadedFile("a.png", png(), content_type="image/png"), "")])
    token = tokens(alice_client.post(ADD, form).content.decode())["media-0-staged"]
    bob = staff("bob")
    bob_bot = XAccount.objects.create(owner=bob, workspace=bob.workspace, x_user_id="2002", username="bob_bot",
                                      auth_method="oauth2")

    for client, account, sent in ((client_for(bob), bob_bot, token), (alice_client, alice_bot, token[:-2] + "xx")):
        attempt = post_form(account, "Short", media=[])
        attempt.update({"media-0-staged": sent, "media-0-alt_text": "alt", "media-0-position": 0})
        response = client.post(ADD, attempt)
        assert response.status_code == 200
        rows, _ = inline_errors(response, "media")
        assert rows[0]["file"] == [
            "The file chosen on your last try is no longer kept (files are kept for a day): choose it again."]
    assert not Post.objects.exists()


def test_staged_files_older_than_a_day_are_swept(media_root, alice):
    old = staged_uploads.stage(SimpleUploadedFile("old.png", png(), content_type="image/png"), user_id=alice.pk)
    new = staged_uploads.stage(SimpleUploadedFile("new.png", png(), content_type="image/png"), user_id=alice.pk)
    old_path = sorted(default_storage.listdir(staged_uploads.FOLDER)[1])
    assert len(old_path) == 2
    a_day_ago = time.time() - timedelta(hours=25).total_seconds()
    first = staged_uploads.unstage(old, user_id=alice.pk)
    stored = first.file.name
    first.close()
    os.utime(stored, (a_day_ago, a_day_ago))

    assert staged_uploads.sweep(now=timezone.now()) == 1

    assert staged_uploads.unstage(old, user_id=alice.pk) is None
    kept = staged_uploads.unstage(new, user_id=alice.pk)
    assert kept is not None and kept.read() == png()
    kept.close()
