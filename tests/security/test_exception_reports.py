"""An error while talking to X, reported by Django (the debug page, the
admins' error mail), shows no token: the gateway drops the chained low-level
exception, token-holding values hide their tokens from repr(), and the report
filter hides variables and dict keys named like secrets."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.files.base import ContentFile
from django.views.debug import ExceptionReporter

from accounts import gateway
from accounts.gateway import XError
from tests.bots.conftest import link_with_minted_tokens
from tests.support import free_port


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "pw", is_staff=True)


@pytest.mark.parametrize("method", ["oauth2", "oauth1"])
def test_a_failed_upload_report_holds_no_token(method, sandbox, owner, settings):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot", method=method)
    secrets = [t for t in (account.oauth1_token, account.oauth1_token_secret, account.oauth2_access_token,
                           account.oauth2_refresh_token, settings.X_CONSUMER_SECRET, settings.X_CLIENT_SECRET) if t]
    settings.X_API_BASE = f"http://127.0.0.1:{free_port()}"

    try:
        gateway.upload_media(account, file=io.BytesIO(ContentFile(b"x" * 10).read()), size=10,
                             media_type="image/png", category="tweet_image")
    except XError:
        reporter = ExceptionReporter(None, *sys.exc_info())
    else:
        pytest.fail("the upload should have failed")
    report = reporter.get_traceback_text() + reporter.get_traceback_html()

    assert "upload_media" in report and "alice_bot" in report
    assert [s[:6] for s in secrets if s in report] == []
