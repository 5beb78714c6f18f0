"""GET /2/users/me and GET /2/users/:id/tweets."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import requests

from .xapi import ALICE, BOB


def test_me_answers_id_name_username(alice):
    response = alice.get("/2/users/me")
    assert response.status_code == 200
    assert response.json() == {"data": {"id": ALICE, "name": "Alice Bot", "username": "alice_bot"}}


def test_me_with_user_fields(alice, sandbox_url):
    data = alice.get("/2/users/me", params={"user.fields": "profile_image_url,created_at,public_metrics"}).json()["data"]
    assert data["profile_image_url"] == f"{sandbox_url}/_sandbox/avatars/{ALICE}.svg"
    avatar = requests.get(data["profile_image_url"], timeout=5)
    assert avatar.status_code == 200 and avatar.headers["content-type"] == "image/svg+xml"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["created_at"])
    assert data["public_metrics"]["tweet_count"] == 0


def test_me_most_recent_post_expansion(alice):
    post_id = alice.tweet("latest").json()["data"]["id"]
    body = alice.get("/2/users/me", params={"expansions": "most_recent_tweet_id"}).json()
    assert body["includes"]["tweets"][0]["id"] == post_id


def test_unknown_field_or_parameter_is_a_400(alice):
    response = alice.get("/2/users/me", params={"user.fields": "profile_image_url,shoe_size"})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["parameters"] == {"user.fields": ["shoe_size"]}
    assert "is not one of" in error["message"]
    response = alice.get("/2/users/me", params={"colour": "red"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("The query parameter [colour] is not one of")


def test_user_tweets_newest_first_with_default_fields(alice):
    ids = [alice.tweet(f"post {i}").json()["data"]["id"] for i in range(3)]
    body = alice.get(f"/2/users/{ALICE}/tweets").json()
    assert [t["id"] for t in body["data"]] == ids[::-1]
    assert set(body["data"][0]) == {"id", "text", "edit_history_tweet_ids"}
    assert body["meta"] == {"result_count": 3, "newest_id": ids[2], "oldest_id": ids[0]}


def test_user_without_posts_has_no_data_key(alice):
    assert alice.get(f"/2/users/{BOB}/tweets").json() == {"meta": {"result_count": 0}}


def test_unknown_user_is_reported_in_errors(alice):
    body = alice.get("/2/users/999999/tweets").json()
    assert body["errors"][0]["resource_type"] == "user"
    assert "Could not find user with id: [999999]" in body["errors"][0]["detail"]


def test_created_at_and_other_tweet_fields(alice):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    alice.tweet("with fields")
    data = alice.get(f"/2/users/{ALICE}/tweets",
                     params={"tweet.fields": "created_at,author_id,public_metrics,lang"}).json()["data"][0]
    created = datetime.strptime(data["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert before <= created <= datetime.now(timezone.utc)
    assert data["author_id"] == ALICE
    assert data["public_metrics"]["reply_count"] == 0


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_start_time_end_time_since_id_until_id(alice):
    first = alice.tweet("early").json()["data"]["id"]
    time.sleep(0.05)
    middle_time = time.time()
    time.sleep(0.05)
    second = alice.tweet("middle").json()["data"]["id"]
    third = alice.tweet("late").json()["data"]["id"]

    def ids(**params) -> list[str]:
        response = alice.get(f"/2/users/{ALICE}/tweets", params=params)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json().get("data", [])]

    assert ids(start_time=_iso(middle_time)) == [third, second]
    assert ids(end_time=_iso(middle_time)) == [first]
    assert ids(since_id=second) == [third]
    assert ids(until_id=second) == [first]
    assert ids(start_time="2010-11-06T00:00:00Z") == [third, second, first]


def test_exclude_replies(alice):
    root = alice.tweet("root").json()["data"]["id"]
    alice.tweet("reply", reply={"in_reply_to_tweet_id": root})
    body = alice.get(f"/2/users/{ALICE}/tweets", params={"exclude": "replies"}).json()
    assert [t["id"] for t in body["data"]] == [root]


def test_bad_query_values_are_400(alice):
    for params in ({"max_results": 4}, {"max_results": 101}, {"max_results": "ten"},
                   {"start_time": "yesterday"}, {"since_id": "abc"}, {"pagination_token": "zzzz"},
                   {"tweet.fields": "created_at,mood"}):
        response = alice.get(f"/2/users/{ALICE}/tweets", params=params)
        assert response.status_code == 400, params
        assert response.json()["type"] == "https://api.x.com/2/problems/invalid-request"


def test_pagination_walks_every_post_once(alice):
    ids = [alice.tweet(f"page post {i}").json()["data"]["id"] for i in range(12)]
    seen, token, pages = [], None, []
    while True:
        params = {"max_results": 5, **({"pagination_token": token} if token else {})}
        body = alice.get(f"/2/users/{ALICE}/tweets", params=params).json()
        pages.append(body)
        seen += [t["id"] for t in body["data"]]
        token = body["meta"].get("next_token")
        if token is None:
            break
    assert seen == ids[::-1]
    assert [b["meta"]["result_count"] for b in pages] == [5, 5, 2]
    assert "previous_token" not in pages[0]["meta"]
    back = alice.get(f"/2/users/{ALICE}/tweets",
                     params={"max_results": 5, "pagination_token": pages[1]["meta"]["previous_token"]}).json()
    assert [t["id"] for t in back["data"]] == [t["id"] for t in pages[0]["data"]]


def test_anyone_may_read_a_users_posts(alice, bob):
    alice.tweet("public")
    assert bob.get(f"/2/users/{ALICE}/tweets").json()["meta"]["result_count"] == 1
