"""Publishing runs end to end: posts in the test database, a real Celery worker
consuming from a real Redis, the dispatcher's tasks sent through Redis every
half second as beat sends them, and the sandbox as X."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import XAccount
from bots.models import Post
from bots.posting import services
from tests.foundation.helpers import wait_until


@pytest.fixture
def fast_publishing(settings):
    """Short leases, grace periods and timeouts, so faults resolve in seconds."""
    settings.POST_LEASE_SECONDS = 5
    settings.POST_RECONCILE_EVERY_SECONDS = 1
    settings.POST_UNKNOWN_GRACE_SECONDS = 3
    settings.POST_SENDING_STALE_SECONDS = 10
    settings.POST_RETRY_BASE_SECONDS = 1
    settings.POST_RETRY_MAX_SECONDS = 2
    settings.RATE_LIMIT_JITTER_SECONDS = 0
    settings.X_HTTP_READ_TIMEOUT = 3
    return settings


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploaded files in a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def alice_bot(alice) -> XAccount:
    """Alice's X account, without tokens: for pages and forms that never reach X."""
    return XAccount.objects.create(owner=alice, workspace=alice.workspace, x_user_id="1001", username="alice_bot",
                                   auth_method="oauth2")


@pytest.fixture
def owner(transactional_db):
    return get_user_model().objects.create_user("alice", "alice@example.com", "pw", is_staff=True)


def link_with_minted_tokens(sandbox: str, owner, username: str, method: str = "oauth2") -> XAccount:
    """An XAccount holding tokens the sandbox minted for one of its users (the
    linking flows themselves are tested in tests/accounts)."""
    users = requests.get(f"{sandbox}/_sandbox/users", timeout=10).json()["users"]
    user = next((u for u in users if u["username"] == username), None)
    if user is None:
        created = requests.post(f"{sandbox}/_sandbox/users", json={"username": username}, timeout=10)
        assert created.status_code == 201, created.text
        user = created.json()
    minted = requests.post(f"{sandbox}/_sandbox/users/{user['id']}/tokens", json={method: {}}, timeout=10)
    assert minted.status_code == 201, minted.text
    tokens = minted.json()[method]
    fields = (
        {"oauth1_token": tokens["oauth_token"], "oauth1_token_secret": tokens["oauth_token_secret"]}
        if method == "oauth1"
        else {
            "oauth2_access_token": tokens["access_token"],
            "oauth2_refresh_token": tokens["refresh_token"],
            "token_expires_at": timezone.now() + timedelta(seconds=tokens["expires_in"]),
            "scopes": tokens["scope"],
        }
    )
    return XAccount.objects.create(
        owner=owner, workspace=owner.workspace, x_user_id=user["id"], username=user["username"],
        name=user["username"], auth_method=method,
        **fields,
    )


@pytest.fixture
def pipeline(redis_url, worker, beat, sandbox, fast_publishing) -> None:
    """The whole platform at work: real beat sending the dispatcher, reconciler
    and sweeper through Redis to a real worker, which publishes to the sandbox."""


def schedule(account: XAccount, text: str, *, in_seconds: float = 0, parts: tuple[str, ...] = (), **fields) -> Post:
    """A post (with thread parts) scheduled through the same service as the admin."""
    at = timezone.now() + timedelta(seconds=in_seconds)
    root = Post.objects.create(account=account, text=text, scheduled_at=at, **fields)
    for position, part in enumerate(parts, start=1):
        Post.objects.create(account=account, text=part, parent=root, position=position, scheduled_at=at)
    return services.post_schedule(post=root)


def sandbox_posts(sandbox: str, **params) -> list[dict]:
    answer = requests.get(f"{sandbox}/_sandbox/posts", params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["posts"]


@pytest.fixture
def no_duplicate_rule(sandbox) -> None:
    """X's duplicate rule off (the sandbox's duplicate_window 0): a post sent
    twice shows on X as a second post, not as a 403 that would hide it."""
    answer = requests.put(f"{sandbox}/_sandbox/settings", json={"duplicate_window": 0}, timeout=10)
    assert answer.status_code == 200, answer.text


def set_faults(sandbox: str, *rules: dict) -> None:
    answer = requests.put(f"{sandbox}/_sandbox/faults", json={"faults": list(rules), "seed": 1}, timeout=10)
    assert answer.status_code == 200, answer.text


@pytest.fixture
def media_file(settings, tmp_path):
    """Attach a real file (a PNG or an MP4 made for the test) to a post."""
    from django.core.files.base import ContentFile

    from bots.models import PostMedia
    from tests.sandbox.xapi import mp4, png

    settings.MEDIA_ROOT = tmp_path

    def attach(post: Post, name: str, content_type: str, alt_text: str = "") -> PostMedia:
        data = png() if content_type == "image/png" else mp4()
        item = PostMedia(post=post, content_type=content_type, size=len(data), alt_text=alt_text,
                         position=post.media.count())
        item.file.save(name, ContentFile(data), save=True)
        return item

    return attach


def published(post: Post, seconds: float = 30) -> Post:
    """The post once published; fails at once, with the reason, if it fails."""

    def settled() -> bool:
        current = Post.objects.get(pk=post.pk)
        assert current.status != Post.Status.FAILED, f"post {post.pk} failed: {current.last_error}"
        return current.status == Post.Status.PUBLISHED

    wait_until(settled, seconds=seconds, what=f"post {post.pk} being published")
    return Post.objects.get(pk=post.pk)
