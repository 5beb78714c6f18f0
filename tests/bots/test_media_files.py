"""Uploaded files are stored under random names and served only to the
members of the workspace their post (or import) belongs to."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Membership, XAccount
from bots.models import ImportJob, Post, PostMedia
from tests.sandbox.xapi import png

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(django_user_model, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    people = {name: django_user_model.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
              for name in ("pia", "vic", "omar")}
    # Vic views Pia's workspace; Omar has only his own.
    Membership.objects.create(workspace=people["pia"].workspace, user=people["vic"], role=Membership.Role.VIEWER)
    people["vic"].workspace = people["pia"].workspace
    people["vic"].save(update_fields=["workspace"])
    account = XAccount.objects.create(owner=people["pia"], workspace=people["pia"].workspace, x_user_id="9001",
                                      username="pia_blog", auth_method="oauth2")
    post = Post.objects.create(account=account, text="With a picture")
    media = [PostMedia.objects.create(post=post, file=SimpleUploadedFile("holiday.png", png()),
                                      content_type="image/png", size=len(png())) for _ in range(2)]
    return {**people, "media": media}


def test_names_are_random_and_keep_only_the_extension(world):
    first, second = (PurePosixPath(item.file.name) for item in world["media"])
    assert first != second
    assert "holiday" not in first.name and first.suffix == ".png"
    assert len(first.stem) == 32


def test_a_file_is_served_to_its_workspace_and_to_nobody_else(world):
    url = world["media"][0].file.url
    for name in ("pia", "vic"):
        response = client_of(world[name]).get(url)
        assert response.status_code == 200, name
        assert b"".join(response.streaming_content) == png()
    assert client_of(world["omar"]).get(url).status_code == 404
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    assert client_of(world["pia"]).get("/media/posts/2026/01/holiday.png").status_code == 404


def test_an_import_file_is_served_only_to_its_workspace(world):
    job = ImportJob.objects.create(created_by=world["pia"], workspace=world["pia"].workspace, time_zone="UTC",
                                   file=SimpleUploadedFile("posts.csv", b"account,text\n"))
    assert client_of(world["vic"]).get(job.file.url).status_code == 200
    assert client_of(world["omar"]).get(job.file.url).status_code == 404
