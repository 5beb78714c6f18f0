"""POST /2/tweets and DELETE /2/tweets/:id: what X accepts, what it refuses and how."""

from __future__ import annotations

import time

import pytest
import tweepy

from .consent import CONSUMER_KEY, CONSUMER_SECRET
from .tweepy_redirect import sandbox_client
from .xapi import ALICE, BOB, ApiClient, bearer, mint_tokens

DUPLICATE = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}


def test_create_answers_201_with_location_and_the_post(alice, sandbox_url):
    response = alice.tweet("Hello from the sandbox")
    assert response.status_code == 201
    data = response.json()["data"]
    assert set(data) == {"id", "text", "edit_history_tweet_ids"}
    assert data["text"] == "Hello from the sandbox"
    assert data["edit_history_tweet_ids"] == [data["id"]]
    assert data["id"].isdigit() and len(data["id"]) >= 18, "ids are snowflakes like X's"
    assert response.headers["location"] == f"{sandbox_url}/2/tweets/{data['id']}"
    assert alice.get(f"/2/tweets/{data['id']}").json()["data"]["text"] == "Hello from the sandbox"


def test_ids_grow_with_time(alice):
    first = int(alice.tweet("one").json()["data"]["id"])
    second = int(alice.tweet("two").json()["data"]["id"])
    assert second > first


def test_links_are_wrapped_in_tco_urls_as_x_does(alice):
    response = alice.tweet("read https://example.com/a-long/path?x=1 now")
    text = response.json()["data"]["text"]
    assert text.startswith("read https://t.co/") and text.endswith(" now")
    assert len(text) == len("read ") + 23 + len(" now")
    timeline = alice.get(f"/2/users/{ALICE}/tweets", params={"tweet.fields": "entities"}).json()
    url = timeline["data"][0]["entities"]["urls"][0]
    assert url["expanded_url"] == "https://example.com/a-long/path?x=1"
    assert text[url["start"]:url["end"]] == url["url"]


def test_same_text_by_the_same_user_is_a_duplicate(alice, bob):
    assert alice.tweet("Good morning").status_code == 201
    again = alice.tweet("Good morning")
    assert again.status_code == 403
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json() == DUPLICATE
    assert bob.tweet("Good morning").status_code == 201, "another user may say the same"


def test_duplicate_window_is_a_setting(alice, control):
    control.put("/_sandbox/settings", json={"duplicate_window": 1})
    assert alice.tweet("tick").status_code == 201
    assert alice.tweet("tick").status_code == 403
    time.sleep(1.1)
    assert alice.tweet("tick").status_code == 201


def test_a_deleted_post_is_no_longer_a_duplicate(alice):
    post_id = alice.tweet("short-lived").json()["data"]["id"]
    assert alice.delete(f"/2/tweets/{post_id}").json() == {"data": {"deleted": True}}
    assert alice.tweet("short-lived").status_code == 201


def test_delete_own_post(alice):
    post_id = alice.tweet("to be deleted").json()["data"]["id"]
    response = alice.delete(f"/2/tweets/{post_id}")
    assert response.status_code == 200
    assert response.json() == {"data": {"deleted": True}}
    assert alice.get(f"/2/users/{ALICE}/tweets").json()["meta"]["result_count"] == 0
    again = alice.delete(f"/2/tweets/{post_id}")
    assert again.status_code == 404
    assert again.json()["type"] == "https://api.x.com/2/problems/resource-not-found"


def test_cannot_delete_another_users_post(alice, bob):
    post_id = alice.tweet("mine").json()["data"]["id"]
    response = bob.delete(f"/2/tweets/{post_id}")
    assert response.status_code == 403
    assert response.json()["title"] == "Forbidden"
    assert alice.get(f"/2/tweets/{post_id}").status_code == 200


def test_thread_of_replies(alice):
    root = alice.tweet("1/3").json()["data"]["id"]
    second = alice.tweet("2/3", reply={"in_reply_to_tweet_id": root}).json()["data"]["id"]
    third = alice.tweet("3/3", reply={"in_reply_to_tweet_id": second})
    assert third.status_code == 201
    data = alice.get(f"/2/tweets/{third.json()['data']['id']}",
                     params={"tweet.fields": "conversation_id,referenced_tweets,in_reply_to_user_id"}).json()["data"]
    assert data["conversation_id"] == root
    assert data["referenced_tweets"] == [{"type": "replied_to", "id": second}]
    assert data["in_reply_to_user_id"] == ALICE


def test_reply_to_a_deleted_post_is_refused(alice):
    root = alice.tweet("gone soon").json()["data"]["id"]
    alice.delete(f"/2/tweets/{root}")
    response = alice.tweet("reply", reply={"in_reply_to_tweet_id": root})
    assert response.status_code == 403
    assert response.json()["detail"] == "You attempted to reply to a Tweet that is deleted or not visible to you."


def test_summoned_replies_rule_is_a_setting(alice, bob, control):
    plain = alice.tweet("no mention here").json()["data"]["id"]
    summoning = alice.tweet("what do you think, @bob_news?").json()["data"]["id"]
    assert bob.tweet("reply while the rule is off", reply={"in_reply_to_tweet_id": plain}).status_code == 201

    control.put("/_sandbox/settings", json={"summoned_replies_only": True})
    refused = bob.tweet("unsummoned reply", reply={"in_reply_to_tweet_id": plain})
    assert refused.status_code == 403
    assert "not been mentioned" in refused.json()["detail"]
    assert bob.tweet("summoned reply", reply={"in_reply_to_tweet_id": summoning}).status_code == 201
    assert alice.tweet("self reply, a thread", reply={"in_reply_to_tweet_id": plain}).status_code == 201

    control.put("/_sandbox/settings", json={"allow_self_replies": False})
    assert alice.tweet("self reply refused", reply={"in_reply_to_tweet_id": plain}).status_code == 403


def test_more_than_one_cashtag_is_refused(alice):
    assert alice.tweet("$AAPL is up").status_code == 201
    assert alice.tweet("$AAPL and again $aapl").status_code == 201, "one cashtag, mentioned twice"
    response = alice.tweet("$AAPL or $MSFT?")
    assert response.status_code == 403
    assert "at most one cashtag" in response.json()["detail"]


def test_quote_posts_are_enterprise_only(alice):
    quoted = alice.tweet("quote me").json()["data"]["id"]
    response = alice.tweet("quoting", quote_tweet_id=quoted)
    assert response.status_code == 403
    assert "Enterprise" in response.json()["detail"]


@pytest.mark.parametrize("fields", [
    {"poll": {"options": ["a", "b"], "duration_minutes": 60}, "quote_tweet_id": "1"},
    {"media": {"media_ids": ["1"]}, "poll": {"options": ["a", "b"], "duration_minutes": 60}},
    {"media": {"media_ids": ["1"]}, "quote_tweet_id": "1"},
])
def test_media_poll_and_quote_are_mutually_exclusive(alice, fields):
    response = alice.tweet("exclusive", **fields)
    assert response.status_code == 400
    assert "Only one of media, poll, quote_tweet_id" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("body, message", [
    ({"text": "x", "colour": "red"}, "$.colour: is not defined in the schema"),
    ({"text": "x", "geo": {"place_id": "1"}}, "$.geo: is a field of X's API that the X API sandbox does not emulate"),
    ({"text": 5}, "$.text: must be a string"),
    ({"text": "x", "reply": {}}, "$.reply.in_reply_to_tweet_id: is required"),
    ({"text": "x", "reply": {"in_reply_to_tweet_id": 12}}, "$.reply.in_reply_to_tweet_id: must be a string"),
    ({"text": "x", "media": {"media_ids": []}}, "$.media.media_ids: must be a list of 1 to 4"),
    ({"text": "x", "media": {"media_ids": ["1", "2", "3", "4", "5"]}}, "$.media.media_ids: must be a list of 1 to 4"),
    ({"text": "x", "poll": {"options": ["only"], "duration_minutes": 60}}, "$.poll.options: must be a list of 2 to 4"),
    ({"text": "x", "poll": {"options": list("abcde"), "duration_minutes": 60}}, "$.poll.options: must be a list of 2 to 4"),
    ({"text": "x", "poll": {"options": ["a", "b" * 26], "duration_minutes": 60}}, "$.poll.options[1]: must be a string of 1 to 25"),
    ({"text": "x", "poll": {"options": ["a", ""], "duration_minutes": 60}}, "$.poll.options[1]: must be a string of 1 to 25"),
    ({"text": "x", "poll": {"options": ["a", "b"], "duration_minutes": 4}}, "$.poll.duration_minutes: must be a whole number"),
    ({"text": "x", "poll": {"options": ["a", "b"], "duration_minutes": 10081}}, "$.poll.duration_minutes: must be a whole number"),
    ({"text": "x", "reply_settings": "everyone"}, "$.reply_settings: must be one of following, mentionedUsers"),
    ({"text": ""}, "Post text is empty"),
    ({}, "Post text is empty"),
])
def test_invalid_requests_get_400_naming_the_problem(alice, body, message):
    response = alice.post("/2/tweets", json=body)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["title"] == "Invalid Request"
    assert problem["type"] == "https://api.x.com/2/problems/invalid-request"
    assert problem["errors"][0]["message"].startswith(message)


def test_body_must_be_json(alice):
    response = alice.post("/2/tweets", data="text=hi", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert "content-type of application/json" in response.json()["errors"][0]["message"]


def test_poll_and_reply_settings_are_kept(alice):
    response = alice.tweet("Tea or coffee?", poll={"options": ["Tea", "Coffee"], "duration_minutes": 60},
                           reply_settings="mentionedUsers")
    assert response.status_code == 201
    post_id = response.json()["data"]["id"]
    body = alice.get(f"/2/tweets/{post_id}", params={
        "tweet.fields": "attachments,reply_settings", "expansions": "attachments.poll_ids",
        "poll.fields": "duration_minutes,voting_status",
    }).json()
    assert body["data"]["reply_settings"] == "mentionedUsers"
    assert body["data"]["attachments"]["poll_ids"] == [post_id]
    poll = body["includes"]["polls"][0]
    assert [o["label"] for o in poll["options"]] == ["Tea", "Coffee"]
    assert poll["duration_minutes"] == 60 and poll["voting_status"] == "open"


def test_text_too_long(alice):
    response = alice.tweet("x" * 281)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Your Tweet text is too long.")
    assert alice.tweet("x" * 280).status_code == 201


@pytest.mark.parametrize("token", ["not-a-token", ""])
def test_bad_token_gets_401(sandbox_url, token):
    response = ApiClient(sandbox_url, token or None).tweet("hi")
    assert response.status_code == 401
    assert response.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}


def test_expired_and_revoked_tokens_get_401(sandbox_url, control):
    client = ApiClient(sandbox_url, bearer(sandbox_url, ALICE))
    assert client.tweet("before").status_code == 201
    control.post(f"/_sandbox/users/{ALICE}/expire-tokens")
    assert client.tweet("after expiry").status_code == 401
    client = ApiClient(sandbox_url, bearer(sandbox_url, ALICE))
    control.post(f"/_sandbox/users/{ALICE}/revoke")
    assert client.tweet("after revoke").status_code == 401


def test_missing_write_scope_gets_403(sandbox_url):
    reader = ApiClient(sandbox_url, bearer(sandbox_url, ALICE, scopes="tweet.read users.read"))
    response = reader.tweet("no write scope")
    assert response.status_code == 403
    assert reader.get("/2/users/me").status_code == 200


def test_tweepy_with_oauth1_posts_reads_and_deletes(sandbox_url):
    """An unmodified tweepy.Client, OAuth 1.0a user context, redirected only by a transport adapter."""
    oauth1 = mint_tokens(sandbox_url, ALICE, oauth1=True)["oauth1"]
    client = sandbox_client(
        sandbox_url, consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET,
        access_token=oauth1["oauth_token"], access_token_secret=oauth1["oauth_token_secret"],
    )
    me = client.get_me(user_fields=["profile_image_url"]).data
    assert (me.id, me.username) == (int(ALICE), "alice_bot")
    assert me.profile_image_url.endswith(f"/_sandbox/avatars/{ALICE}.svg")

    created = client.create_tweet(text="Posted by tweepy").data
    reply = client.create_tweet(text="and a reply", in_reply_to_tweet_id=created["id"]).data
    # get_users_tweets defaults to app-only auth; user context must be asked for.
    timeline = client.get_users_tweets(me.id, tweet_fields=["created_at", "conversation_id"], max_results=5,
                                       user_auth=True)
    assert [t.id for t in timeline.data] == [int(reply["id"]), int(created["id"])]
    assert timeline.data[0].conversation_id == int(created["id"])
    assert timeline.data[0].created_at is not None
    assert timeline.meta["result_count"] == 2

    with pytest.raises(tweepy.Forbidden, match="duplicate content"):
        client.create_tweet(text="Posted by tweepy")
    assert client.delete_tweet(created["id"]).data == {"deleted": True}
    assert [t.id for t in client.get_users_tweets(me.id, user_auth=True).data] == [int(reply["id"])]


def test_tweepy_with_an_oauth2_user_token(sandbox_url):
    client = sandbox_client(sandbox_url, bearer_token=bearer(sandbox_url, BOB))
    me = client.get_me(user_auth=False).data
    assert me.username == "bob_news"
    created = client.create_tweet(text="OAuth 2.0 post", user_auth=False).data
    assert client.get_users_tweets(me.id, user_auth=False).data[0].id == int(created["id"])
    with pytest.raises(tweepy.BadRequest, match="Your Tweet text is too long"):
        client.create_tweet(text="y" * 300, user_auth=False)
    assert client.delete_tweet(created["id"], user_auth=False).data == {"deleted": True}
