"""In a real browser: a person attaches an image to a post whose text is too
long, saves, is told what is wrong on the text alone, and finds the image
kept; they shorten the text and save, without choosing the image again, and
the post has it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from bots.models import Post
from tests.bots.conftest import link_with_minted_tokens
from tests.browser.conftest import _page_in, log_in
from tests.sandbox.xapi import png

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_image_is_kept_across_an_error(browser, live_server, sandbox, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    nina = get_user_model().objects.create_user("nina", "nina@example.com", "correct horse", is_staff=True)
    account = link_with_minted_tokens(sandbox, nina, "nina_bot")
    context, page = _page_in(browser, "UTC")
    try:
        log_in(page, live_server, "nina")
        page.goto(f"{live_server.url}/admin/bots/post/add/")
        page.select_option("#id_account", str(account.pk))
        page.fill("#id_text", "A very long caption. " * 20)
        page.set_input_files("#id_media-0-file", {"name": "sunrise.png", "mimeType": "image/png", "buffer": png()})
        page.fill("#id_media-0-alt_text", "The sun over the sea")
        page.locator("input[name=_save]").click()

        # Said once, on the text; the image is kept.
        expect(page.locator(".field-text .errorlist")).to_contain_text("characters long by X's count")
        expect(page.locator(".errorlist")).to_have_count(1)
        expect(page.locator(".kept-file")).to_contain_text("Kept from your last try: sunrise.png")

        page.fill("#id_text", "A short caption")
        page.locator("input[name=_save]").click()
        expect(page.locator(".messagelist")).to_contain_text("A short caption")
        post = Post.objects.get(text="A short caption")
        (image,) = post.media.all()
        assert (image.alt_text, image.file.read()) == ("The sun over the sea", png())
    finally:
        context.close()
