"""The control API under /_sandbox/."""

from __future__ import annotations

import time

import pytest
import tweepy

from .consent import CONSUMER_KEY, CONSUMER_SECRET
from .tweepy_redirect import sandbox_client
from .xapi import ALICE, ApiClient


def test_health(control):
    body = control.get("/_sandbox/health").json()
    assert body["status"] == "ok"
    assert body["users"] == 3 and body["posts"] == 0


def test_reset_returns_to_the_seeded_world(alice, control):
    control.post("/_sandbox/users", json={"username": "dave"})
    alice.tweet("before reset")
    control.put("/_sandbox/faults", json={"faults": [{"endpoint": "GET /2/users/me", "mode": "status", "status": 500}]})
    control.put("/_sandbox/rate-limits", json={"GET /2/users/me": {"rate": {"limit": 1}}})
    control.put("/_sandbox/settings", json={"duplicate_window": 5})
    assert control.post("/_sandbox/reset").json() == {"reset": True}
    assert control.get("/_sandbox/posts").json() == {"posts": []}
    assert [u["username"] for u in control.get("/_sandbox/users").json()["users"]] == [
        "alice_bot", "bob_news", "carol_daily"]
    assert control.get("/_sandbox/faults").json()["faults"] == []
    assert control.get("/_sandbox/rate-limits").json()["rate_limits"]["GET /2/users/me"]["rate"]["limit"] == 75
    assert control.get("/_sandbox/settings").json()["settings"]["duplicate_window"] == 86400
    assert alice.get("/2/users/me").status_code == 401, "tokens are gone too"


def test_create_a_user_with_tokens_of_both_kinds(control, sandbox_url):
    response = control.post("/_sandbox/users", json={"username": "dave_bot", "name": "Dave", "tokens": {}})
    assert response.status_code == 201
    user = response.json()
    assert (user["username"], user["name"]) == ("dave_bot", "Dave")
    oauth2 = ApiClient(sandbox_url, user["tokens"]["oauth2"]["access_token"])
    assert oauth2.get("/2/users/me").json()["data"]["id"] == user["id"]
    assert "refresh_token" in user["tokens"]["oauth2"]
    oauth1 = user["tokens"]["oauth1"]
    assert oauth1["oauth_token"].startswith(f"{user['id']}-")
    client = sandbox_client(sandbox_url, consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET,
                            access_token=oauth1["oauth_token"], access_token_secret=oauth1["oauth_token_secret"])
    assert client.get_me().data.username == "dave_bot"


def test_bulk_users_for_benchmarks(control, sandbox_url):
    started = time.monotonic()
    response = control.post("/_sandbox/users", json={"count": 1000, "username_prefix": "bench",
                                                     "tokens": {"oauth2": {"scopes": "tweet.read users.read"}}})
    assert response.status_code == 201
    users = response.json()["users"]
    assert len(users) == 1000 and len({u["id"] for u in users}) == 1000
    assert users[0]["username"] == "bench0001" and users[-1]["username"] == "bench1000"
    assert time.monotonic() - started < 10
    last = ApiClient(sandbox_url, users[-1]["tokens"]["oauth2"]["access_token"])
    assert last.get("/2/users/me").json()["data"]["username"] == "bench1000"


@pytest.mark.parametrize("body, status, message", [
    ({"username": "alice_bot"}, 409, "taken"),
    ({"username": "has space"}, 400, "not a valid username"),
    ({"username": "x" * 16}, 400, "not a valid username"),
    ({"count": 0}, 400, "\"count\" must be"),
    ({}, 400, "give \"username\""),
    ({"username": "ok", "tokens": {"oauth3": True}}, 400, "tokens:"),
])
def test_bad_user_requests(control, body, status, message):
    response = control.post("/_sandbox/users", json=body)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_minted_token_with_scopes_and_ttl(control, sandbox_url):
    body = control.post(f"/_sandbox/users/{ALICE}/tokens",
                        json={"oauth2": {"scopes": "tweet.read users.read", "ttl": 1}}).json()
    assert body["oauth2"]["scope"] == "tweet.read users.read" and body["oauth2"]["expires_in"] == 1
    assert "refresh_token" not in body["oauth2"], "no offline.access, no refresh token"
    assert "oauth1" not in body
    client = ApiClient(sandbox_url, body["oauth2"]["access_token"])
    assert client.get("/2/users/me").status_code == 200
    assert client.tweet("no write scope").status_code == 403
    time.sleep(1.1)
    assert client.get("/2/users/me").status_code == 401


def test_tokens_for_an_unknown_user_are_refused(control):
    response = control.post("/_sandbox/users/424242/tokens", json={})
    assert response.status_code == 404


def test_expire_tokens_keeps_refresh_and_oauth1(control, sandbox_url):
    tokens = control.post(f"/_sandbox/users/{ALICE}/tokens", json={}).json()
    assert control.post(f"/_sandbox/users/{ALICE}/expire-tokens").json()["expired"] == 1
    assert ApiClient(sandbox_url, tokens["oauth2"]["access_token"]).get("/2/users/me").status_code == 401
    oauth1 = tokens["oauth1"]
    client = sandbox_client(sandbox_url, consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET,
                            access_token=oauth1["oauth_token"], access_token_secret=oauth1["oauth_token_secret"])
    assert client.get_me().data.id == int(ALICE), "OAuth 1.0a tokens do not expire"


def test_revoke_kills_every_token(control, sandbox_url):
    tokens = control.post(f"/_sandbox/users/{ALICE}/tokens", json={}).json()
    assert control.post(f"/_sandbox/users/{ALICE}/revoke").json()["revoked"] == 3
    assert ApiClient(sandbox_url, tokens["oauth2"]["access_token"]).get("/2/users/me").status_code == 401
    oauth1 = tokens["oauth1"]
    client = sandbox_client(sandbox_url, consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET,
                            access_token=oauth1["oauth_token"], access_token_secret=oauth1["oauth_token_secret"])
    with pytest.raises(tweepy.Unauthorized):
        client.get_me()


def test_register_a_callback(control):
    response = control.post("/_sandbox/callbacks", json={"url": "http://127.0.0.1:9000/cb/"})
    assert response.status_code == 201
    assert response.json()["registered"] == ["http://127.0.0.1:9000/cb/"]
    assert "http://127.0.0.1:8000/accounts/x/link/oauth1/callback/" in response.json()["configured"]
    assert control.post("/_sandbox/callbacks", json={"url": "ftp://x"}).status_code == 400


def test_posts_lists_every_post_with_its_request_count(alice, bob, control):
    since = time.time()
    first = alice.tweet("hello").json()["data"]["id"]
    assert alice.tweet("hello").status_code == 403
    assert alice.tweet("hello").status_code == 403
    reply = alice.tweet("thread", reply={"in_reply_to_tweet_id": first}).json()["data"]["id"]
    bob.tweet("hello")
    alice.delete(f"/2/tweets/{reply}")

    posts = control.get("/_sandbox/posts", params={"author_id": ALICE}).json()["posts"]
    assert [(p["text"], p["request_count"], p["deleted"]) for p in posts] == [
        ("hello", 3, False), ("thread", 1, True)]
    assert posts[1]["reply_to"] == first and posts[1]["username"] == "alice_bot"
    assert since <= posts[0]["created_at"] <= posts[1]["created_at"] <= time.time()
    assert posts[0]["media_keys"] == [] and posts[0]["poll"] is None
    assert len(control.get("/_sandbox/posts").json()["posts"]) == 3
    assert control.get("/_sandbox/posts", params={"username": "bob_news"}).json()["posts"][0]["request_count"] == 1
    assert control.get("/_sandbox/posts", params={"since": time.time() + 1}).json()["posts"] == []


def test_requests_log(alice, control, sandbox_url):
    alice.tweet("logged")
    ApiClient(sandbox_url, "nobody").get("/2/users/me")
    log = control.get("/_sandbox/requests").json()["requests"]
    assert [(r["endpoint"], r["user_id"], r["status"], r["text"]) for r in log] == [
        ("POST /2/tweets", ALICE, 201, "logged"), ("GET /2/users/me", None, 401, None)]
    only = control.get("/_sandbox/requests", params={"endpoint": "GET /2/users/me"}).json()["requests"]
    assert len(only) == 1


def test_settings(control):
    assert control.get("/_sandbox/settings").json()["settings"] == {
        "duplicate_window": 86400, "summoned_replies_only": False, "allow_self_replies": True,
        "video_processing_secs": 2}
    changed = control.put("/_sandbox/settings", json={"video_processing_secs": 0.5, "summoned_replies_only": True})
    assert changed.json()["settings"]["video_processing_secs"] == 0.5
    for body in ({"duplicate_window": -1}, {"duplicate_window": 1.5}, {"summoned_replies_only": "yes"},
                 {"access_token_ttl": 5}):
        assert control.put("/_sandbox/settings", json=body).status_code == 400, body


def test_bad_json_gets_a_readable_error(control):
    response = control.post("/_sandbox/users", data="{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
