"""Rate limits: X's headers on every authenticated response, 429 when a window
is used up, and windows that can be made tiny at run time."""

from __future__ import annotations

import time

import pytest

from .xapi import ALICE, ApiClient, bearer, png

RATE = ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")
DAY = tuple(f"x-{who}-limit-24hour-{what}" for who in ("user", "app") for what in ("limit", "remaining", "reset"))
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}


def test_every_authenticated_response_has_rate_limit_headers(alice):
    post = alice.tweet("counted")
    post_id = post.json()["data"]["id"]
    responses = {
        "POST /2/tweets": post,
        "POST /2/tweets (400)": alice.tweet(""),
        "GET /2/users/me": alice.get("/2/users/me"),
        "GET /2/users/:id/tweets": alice.get(f"/2/users/{ALICE}/tweets"),
        "GET /2/tweets/:id": alice.get(f"/2/tweets/{post_id}"),
        "POST /2/media/upload": alice.post("/2/media/upload", files={"media": ("p.png", png())},
                                           data={"media_category": "tweet_image"}),
        "DELETE /2/tweets/:id": alice.delete(f"/2/tweets/{post_id}"),
    }
    for name, response in responses.items():
        assert all(h in response.headers for h in RATE), name
        assert int(response.headers["x-rate-limit-reset"]) > time.time(), name
    assert responses["GET /2/users/me"].headers["x-rate-limit-limit"] == "75"
    assert responses["DELETE /2/tweets/:id"].headers["x-rate-limit-limit"] == "50"
    assert responses["GET /2/users/:id/tweets"].headers["x-rate-limit-limit"] == "900"


def test_posting_has_x_defaults_and_24_hour_headers(alice, bob):
    first = alice.tweet("first")
    assert (first.headers["x-rate-limit-limit"], first.headers["x-rate-limit-remaining"]) == ("100", "99")
    assert all(h in first.headers for h in DAY)
    assert first.headers["x-user-limit-24hour-limit"] == "2400"
    assert first.headers["x-app-limit-24hour-limit"] == "10000"
    assert first.headers["x-app-limit-24hour-remaining"] == "9999"
    other = bob.tweet("by bob")
    assert other.headers["x-rate-limit-remaining"] == "99", "the 15-minute window is per user"
    assert other.headers["x-app-limit-24hour-remaining"] == "9998", "the 24-hour app window is shared"


def test_unauthenticated_responses_have_no_rate_limit_headers(sandbox_url):
    response = ApiClient(sandbox_url, "bad-token").tweet("x")
    assert response.status_code == 401
    assert "x-rate-limit-limit" not in response.headers


def test_429_when_the_window_is_used_up_then_reset(alice, bob, control):
    limits = control.put("/_sandbox/rate-limits", json={"POST /2/tweets": {"rate": {"limit": 2, "window_secs": 1}}})
    assert limits.json()["rate_limits"]["POST /2/tweets"]["rate"] == {"limit": 2, "window_secs": 1}
    assert alice.tweet("one").status_code == 201
    second = alice.tweet("two")
    assert second.headers["x-rate-limit-remaining"] == "0"
    refused = alice.tweet("three")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == TOO_MANY
    assert refused.headers["x-rate-limit-remaining"] == "0"
    assert all(h in refused.headers for h in RATE + DAY)
    assert bob.tweet("bob is not limited by alice").status_code == 201

    reset = int(refused.headers["x-rate-limit-reset"])
    assert reset == int(second.headers["x-rate-limit-reset"])
    time.sleep(max(0.0, reset - time.time()) + 0.05)
    after = alice.tweet("three")
    assert after.status_code == 201, "a refused request is not counted, nor stored"
    assert after.headers["x-rate-limit-remaining"] == "1"

    log = control.get("/_sandbox/requests", params={"endpoint": "POST /2/tweets", "user_id": ALICE}).json()
    assert [r["status"] for r in log["requests"]] == [201, 201, 429, 201]
    assert log["requests"][2]["retry_at"] == reset
    assert log["early_retries"] == []


def test_a_client_coming_back_early_is_caught_by_the_log(alice, control):
    control.put("/_sandbox/rate-limits", json={"GET /2/users/me": {"rate": {"limit": 1, "window_secs": 30}}})
    assert alice.get("/2/users/me").status_code == 200
    assert alice.get("/2/users/me").status_code == 429
    assert alice.get("/2/users/me").status_code == 429
    early = control.get("/_sandbox/requests", params={"endpoint": "GET /2/users/me"}).json()["early_retries"]
    assert len(early) == 1 and early[0]["status"] == 429


def test_app_window_is_shared_by_all_users(alice, bob, control):
    control.put("/_sandbox/rate-limits", json={"POST /2/tweets": {"app_24h": {"limit": 2}}})
    assert alice.tweet("a").status_code == 201
    assert bob.tweet("b").status_code == 201
    refused = ApiClient(alice.base_url, bearer(alice.base_url, "1003")).tweet("c")
    assert refused.status_code == 429
    assert refused.headers["x-app-limit-24hour-remaining"] == "0"
    assert refused.headers["x-rate-limit-remaining"] == "100", "carol's own window is untouched"


def test_user_24_hour_window(alice, control):
    control.put("/_sandbox/rate-limits", json={"POST /2/tweets": {"user_24h": {"limit": 1, "window_secs": 60}}})
    assert alice.tweet("a").status_code == 201
    refused = alice.tweet("b")
    assert refused.status_code == 429
    assert refused.headers["x-user-limit-24hour-remaining"] == "0"


def test_delete_restores_x_defaults(alice, control):
    control.put("/_sandbox/rate-limits", json={"DELETE /2/tweets/:id": {"rate": {"limit": 1}}})
    assert control.get("/_sandbox/rate-limits").json()["rate_limits"]["DELETE /2/tweets/<id>"]["rate"]["limit"] == 1
    control.delete("/_sandbox/rate-limits")
    assert control.get("/_sandbox/rate-limits").json()["rate_limits"]["DELETE /2/tweets/<id>"]["rate"] == {
        "limit": 50, "window_secs": 900}


@pytest.mark.parametrize("body, message", [
    ({"POST /2/tweetz": {"rate": {"limit": 1}}}, "unknown endpoint"),
    ({"POST /2/tweets": {"hourly": {"limit": 1}}}, "unknown window"),
    ({"POST /2/tweets": {"rate": {"limit": -1}}}, "limit must be a whole number"),
    ({"POST /2/tweets": {"rate": {"window_secs": 0}}}, "window_secs must be a number > 0"),
    ({"GET /2/users/me": {"app_24h": {"window_secs": 10}}}, "give its limit"),
])
def test_bad_limits_are_refused_with_a_reason(control, body, message):
    response = control.put("/_sandbox/rate-limits", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]
