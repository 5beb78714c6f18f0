"""The read-only timeline pages a person uses to see what the bots did."""

from __future__ import annotations

import re

import requests

from .test_media import chunked, upload_image
from .xapi import mp4, png


def page(sandbox_url: str, path: str) -> requests.Response:
    response = requests.get(sandbox_url + path, timeout=5)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response


def test_index_lists_users_with_links_and_counts(alice, sandbox_url):
    alice.tweet("one")
    html = page(sandbox_url, "/_sandbox/timeline").text
    assert "href='/_sandbox/timeline/alice_bot'" in html
    assert "@alice_bot · 1 post<" in html and "@bob_news · 0 posts" in html
    assert "src='/_sandbox/avatars/1001.svg'" in html


def test_posts_newest_first_with_threads_nested(alice, bob, sandbox_url):
    older = alice.tweet("older root").json()["data"]["id"]
    part2 = alice.tweet("thread part 2", reply={"in_reply_to_tweet_id": older}).json()["data"]["id"]
    alice.tweet("thread part 3", reply={"in_reply_to_tweet_id": part2})
    bob.tweet("bob chimes in", reply={"in_reply_to_tweet_id": older})
    newer = alice.tweet("newer root").json()["data"]["id"]
    html = page(sandbox_url, "/_sandbox/timeline/alice_bot").text
    assert html.index("newer root") < html.index("older root") < html.index("thread part 2") < html.index(
        "thread part 3")
    article = re.search(rf"<article class='post' id='p{older}'>.*", html, re.S).group(0)
    assert "<div class=replies>" in article and "bob chimes in" in article
    assert html.count("<article") == 5
    assert f"id='p{newer}'" in html


def test_text_is_escaped_and_links_are_shown(alice, sandbox_url):
    alice.tweet("<script>alert('x')</script> & see https://example.com/page")
    html = page(sandbox_url, "/_sandbox/timeline/alice_bot").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; see" in html
    assert "<a href='https://example.com/page' rel=nofollow>example.com/page</a>" in html


def test_polls_images_and_videos_are_shown(alice, control, sandbox_url):
    control.put("/_sandbox/settings", json={"video_processing_secs": 0})
    alice.tweet("Pick one", poll={"options": ["Red", "Blue"], "duration_minutes": 5})
    image = upload_image(alice, png(4, 4))
    alice.tweet("a picture", media={"media_ids": [image["id"]]})
    video = chunked(alice, mp4(3000), "video/mp4", "tweet_video")
    alice.tweet("a video", media={"media_ids": [video["id"]]})
    html = page(sandbox_url, "/_sandbox/timeline/alice_bot").text
    assert "<div class=poll><div>Red</div><div>Blue</div>" in html
    assert f"<img src='/_sandbox/media/{image['media_key']}'" in html
    assert f"<video controls preload=metadata src='/_sandbox/media/{video['media_key']}'>" in html
    served = requests.get(f"{sandbox_url}/_sandbox/media/{image['media_key']}", timeout=5)
    assert served.headers["content-type"] == "image/png" and served.content == png(4, 4)
    assert requests.get(f"{sandbox_url}/_sandbox/media/{video['media_key']}", timeout=5).content == mp4(3000)


def test_deleted_posts_are_marked(alice, sandbox_url):
    post_id = alice.tweet("regretted").json()["data"]["id"]
    alice.delete(f"/2/tweets/{post_id}")
    html = page(sandbox_url, "/_sandbox/timeline/alice_bot").text
    assert "<article class='post deleted'" in html and "<span class=tag>deleted</span>" in html


def test_avatar_svg(sandbox_url, control):
    user = control.post("/_sandbox/users", json={"username": "zoe", "name": "Zoe <Q>"}).json()
    svg = requests.get(user["profile_image_url"], timeout=5)
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<svg") and ">Z&lt;<" in svg.text


def test_unknown_pages_are_404(sandbox_url):
    assert requests.get(f"{sandbox_url}/_sandbox/timeline/nobody_here", timeout=5).status_code == 404
    assert requests.get(f"{sandbox_url}/_sandbox/media/3_1", timeout=5).status_code == 404
    assert requests.get(f"{sandbox_url}/_sandbox/avatars/999.svg", timeout=5).status_code == 404


def test_a_post_has_its_own_page_at_xs_path_with_the_replies_under_it(alice, bob, sandbox_url):
    root = alice.tweet("the thread starts").json()["data"]["id"]
    part = alice.tweet("and goes on", reply={"in_reply_to_tweet_id": root}).json()["data"]["id"]
    bob.tweet("a reply to the second part", reply={"in_reply_to_tweet_id": part})
    alice.tweet("another post, not in the thread")

    html = page(sandbox_url, f"/alice_bot/status/{part}").text

    assert "<title>@alice_bot: post" in html
    assert html.index("and goes on") < html.index("a reply to the second part")
    assert "the thread starts" not in html and "another post" not in html
    assert "<div class=sub>Replying to @alice_bot</div>" in html
    assert f"href='/_sandbox/timeline/alice_bot#p{part}'" in html


def test_a_post_page_under_another_name_leads_to_its_authors_and_an_unknown_post_is_not_found(alice, sandbox_url):
    post_id = alice.tweet("mine").json()["data"]["id"]

    moved = requests.get(f"{sandbox_url}/bob_news/status/{post_id}", timeout=5, allow_redirects=False)
    missing = requests.get(f"{sandbox_url}/alice_bot/status/1", timeout=5)

    assert moved.status_code == 301 and moved.headers["location"].endswith(f"/alice_bot/status/{post_id}")
    assert missing.status_code == 404 and "There is no post 1 in the sandbox." in missing.text


def test_an_accounts_profile_at_xs_path_is_its_timeline(alice, sandbox_url):
    alice.tweet("on the profile")
    profile = page(sandbox_url, "/alice_bot").text
    assert "on the profile" in profile
    assert profile == page(sandbox_url, "/_sandbox/timeline/alice_bot").text
    assert requests.get(sandbox_url + "/nobody_here", timeout=5).status_code == 404
