"""Tokens never appear in the database's columns, the logs, the HTML, repr() or
URLs: they are encrypted at rest and rendered nowhere."""

from __future__ import annotations

import logging

from django.db import connection

from accounts.models import LinkAttempt, XAccount

from .linking import OAUTH1_START, OAUTH2_START, link


def all_tokens() -> list[str]:
    tokens = []
    for account in XAccount.objects.all():
        tokens += [account.oauth1_token, account.oauth1_token_secret, account.oauth2_access_token,
                   account.oauth2_refresh_token]
    for attempt in LinkAttempt.objects.all():
        tokens += [attempt.request_token, attempt.request_token_secret, attempt.state, attempt.code_verifier]
    return [t for t in tokens if t]


def raw_rows(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
        return repr(cursor.fetchall())


def test_a_full_linking_run_leaves_no_token_in_columns_logs_html_or_repr(alice_client, http, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    first = link(alice_client, http, sandbox, OAUTH1_START, "alice_bot")
    second = link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    tokens = all_tokens()
    assert len(tokens) >= 8

    columns = raw_rows("accounts_xaccount") + raw_rows("accounts_linkattempt")
    html = "".join(
        alice_client.get(url).content.decode()
        for url in ["/admin/accounts/xaccount/"]
        + [f"/admin/accounts/xaccount/{a.pk}/change/" for a in XAccount.objects.all()]
    )
    where = {
        "database columns": columns,
        "logs": caplog.text,
        "HTML": html,
        "repr": " ".join(repr(a) for a in XAccount.objects.all()),
        "redirect URLs": first["Location"] + second["Location"],
    }
    leaks = [(place, token[:6]) for place, text in where.items() for token in tokens if token in text]
    assert leaks == []
    assert "alice_bot" in columns and "linked @alice_bot" in caplog.text
