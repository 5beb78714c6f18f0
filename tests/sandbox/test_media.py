"""Media upload v2 over raw HTTP with a bearer token (tweepy 4.17 has no v2 media)."""

from __future__ import annotations

import base64
import time

import pytest
import requests

from .xapi import ALICE, ApiClient, bearer, gif, mp4, png


def upload_image(client: ApiClient, data: bytes | None = None) -> dict:
    response = client.post("/2/media/upload", files={"media": ("pic.png", data or png(), "image/png")},
                           data={"media_category": "tweet_image"})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def chunked(client: ApiClient, data: bytes, media_type: str, category: str, *, chunk: int = 1500) -> dict:
    init = client.post("/2/media/upload/initialize",
                       json={"media_type": media_type, "total_bytes": len(data), "media_category": category})
    assert init.status_code == 200, init.text
    media_id = init.json()["data"]["id"]
    for index, start in enumerate(range(0, len(data), chunk)):
        append = client.post(f"/2/media/upload/{media_id}/append",
                             files={"media": ("blob", data[start:start + chunk], "application/octet-stream")},
                             data={"segment_index": str(index)})
        assert append.status_code == 200, append.text
    final = client.post(f"/2/media/upload/{media_id}/finalize")
    assert final.status_code == 200, final.text
    return final.json()["data"]


def test_one_shot_image_upload_then_post(alice, sandbox_url):
    data = upload_image(alice, png(7, 5))
    assert data["media_key"] == f"3_{data['id']}"
    assert data["image"] == {"image_type": "image/png", "w": 7, "h": 5}
    assert data["size"] == len(png(7, 5))
    response = alice.tweet("a picture", media={"media_ids": [data["id"]]})
    assert response.status_code == 201, response.text
    text = response.json()["data"]["text"]
    assert text.startswith("a picture https://t.co/"), "X appends the media link"
    body = alice.get(f"/2/tweets/{response.json()['data']['id']}", params={
        "tweet.fields": "attachments", "expansions": "attachments.media_keys", "media.fields": "url,width,height",
    }).json()
    assert body["data"]["attachments"]["media_keys"] == [data["media_key"]]
    media = body["includes"]["media"][0]
    assert (media["type"], media["width"], media["height"]) == ("photo", 7, 5)
    assert requests.get(media["url"], timeout=5).content == png(7, 5), "the sandbox keeps the bytes"


def test_media_only_post_without_text(alice):
    media_id = upload_image(alice)["id"]
    assert alice.post("/2/tweets", json={"media": {"media_ids": [media_id]}}).status_code == 201


def test_json_one_shot_with_base64(alice):
    response = alice.post("/2/media/upload", json={"media": base64.b64encode(png()).decode(),
                                                   "media_category": "tweet_image"})
    assert response.status_code == 200, response.text


def test_chunked_image_is_ready_at_finalize(alice):
    data = chunked(alice, png(40, 30), "image/png", "tweet_image", chunk=50)
    assert "processing_info" not in data
    assert alice.tweet("chunked picture", media={"media_ids": [data["id"]]}).status_code == 201


def test_video_passes_through_processing_states(alice, control):
    control.put("/_sandbox/settings", json={"video_processing_secs": 0.4})
    final = chunked(alice, mp4(5000), "video/mp4", "tweet_video")
    assert final["media_key"] == f"7_{final['id']}"
    assert final["processing_info"]["state"] == "pending"
    assert final["processing_info"]["check_after_secs"] >= 1

    refused = alice.tweet("too early", media={"media_ids": [final["id"]]})
    assert refused.status_code == 400
    assert "is not ready" in refused.json()["errors"][0]["message"]

    states = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = alice.get("/2/media/upload", params={"command": "STATUS", "media_id": final["id"]})
        assert status.status_code == 200, status.text
        state = status.json()["data"]["processing_info"]["state"]
        if not states or states[-1] != state:
            states.append(state)
        if state == "succeeded":
            break
        time.sleep(0.1)
    assert states == ["pending", "in_progress", "succeeded"]
    assert status.json()["data"]["processing_info"]["progress_percent"] == 100
    assert alice.tweet("a video", media={"media_ids": [final["id"]]}).status_code == 201


def test_a_video_is_kept_whole_in_the_order_of_its_segments(alice, control, sandbox_url):
    # Kept in its segments (finalizing a large video copies nothing): served as sent.
    control.put("/_sandbox/settings", json={"video_processing_secs": 0})
    video = mp4(24) + bytes(range(256)) * 40
    final = chunked(alice, video, "video/mp4", "tweet_video", chunk=1000)
    served = requests.get(f"{sandbox_url}/_sandbox/media/{final['media_key']}", timeout=5)
    assert served.status_code == 200
    assert (served.headers["Content-Type"], served.content) == ("video/mp4", video)


def finalized_in_one_segment(client: ApiClient, data: bytes, media_type: str, category: str) -> requests.Response:
    """The answer to finalize, once ``data`` is sent as a single segment."""
    media_id = client.post("/2/media/upload/initialize", json={
        "media_type": media_type, "total_bytes": len(data), "media_category": category}).json()["data"]["id"]
    client.post(f"/2/media/upload/{media_id}/append", files={"media": ("b", data)}, data={"segment_index": "0"})
    return client.post(f"/2/media/upload/{media_id}/finalize")


def test_a_video_whose_bytes_are_not_a_video_is_refused_at_finalize(alice):
    response = finalized_in_one_segment(alice, b"not a video, whatever it says" * 100, "video/mp4", "tweet_video")
    assert response.status_code == 400
    assert "are not video/mp4" in response.json()["errors"][0]["message"]


def test_gif_is_processed_too(alice, control):
    control.put("/_sandbox/settings", json={"video_processing_secs": 0})
    data = chunked(alice, gif(), "image/gif", "tweet_gif")
    assert data["media_key"].startswith("16_")
    assert data["processing_info"]["state"] == "succeeded"
    assert alice.tweet("a gif", media={"media_ids": [data["id"]]}).status_code == 201


def test_up_to_four_images_but_no_mix(alice, control):
    control.put("/_sandbox/settings", json={"video_processing_secs": 0})
    images = [upload_image(alice, png(i + 1, 1))["id"] for i in range(4)]
    assert alice.tweet("four", media={"media_ids": images}).status_code == 201
    video = chunked(alice, mp4(), "video/mp4", "tweet_video")["id"]
    response = alice.tweet("mixed", media={"media_ids": [images[0], video]})
    assert response.status_code == 400
    assert "not a mix" in response.json()["errors"][0]["message"]


def test_media_of_another_user_is_refused(alice, bob):
    media_id = upload_image(alice)["id"]
    response = bob.tweet("stolen", media={"media_ids": [media_id]})
    assert response.status_code == 400
    assert "Your media IDs are invalid" in response.json()["errors"][0]["message"]
    assert bob.get("/2/media/upload", params={"command": "STATUS", "media_id": media_id}).status_code == 400


def test_unknown_media_id_is_refused(alice):
    assert alice.tweet("ghost", media={"media_ids": ["12345"]}).status_code == 400


def test_unfinalized_upload_cannot_be_posted(alice):
    media_id = alice.post("/2/media/upload/initialize", json={
        "media_type": "image/png", "total_bytes": 10, "media_category": "tweet_image"}).json()["data"]["id"]
    response = alice.tweet("half", media={"media_ids": [media_id]})
    assert response.status_code == 400
    assert "state: uploading" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("body, message", [
    ({"media_type": "image/png", "total_bytes": 5 * 1024 * 1024 + 1, "media_category": "tweet_image"}, "at most 5 MB"),
    ({"media_type": "image/gif", "total_bytes": 15 * 1024 * 1024 + 1, "media_category": "tweet_gif"}, "at most 15 MB"),
    ({"media_type": "video/mp4", "total_bytes": 512 * 1024 * 1024 + 1, "media_category": "tweet_video"}, "at most 512 MB"),
    ({"media_type": "image/bmp", "total_bytes": 10, "media_category": "tweet_image"}, "does not fit"),
    ({"media_type": "video/mp4", "total_bytes": 10, "media_category": "tweet_image"}, "does not fit"),
    ({"media_type": "image/png", "total_bytes": 10, "media_category": "dm_image"}, "not one the X API sandbox accepts"),
    ({"media_type": "image/png"}, "total_bytes is required"),
    ({"total_bytes": 10}, "media_type is required"),
    ({"media_type": "image/png", "total_bytes": 10, "colour": "red"}, "Unknown field(s) colour"),
])
def test_initialize_checks_type_and_size(alice, body, message):
    response = alice.post("/2/media/upload/initialize", json=body)
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]


def test_appended_bytes_must_match_total_bytes(alice):
    media_id = alice.post("/2/media/upload/initialize", json={
        "media_type": "image/png", "total_bytes": len(png()), "media_category": "tweet_image"}).json()["data"]["id"]
    too_much = alice.post(f"/2/media/upload/{media_id}/append", files={"media": ("b", png() + b"x")},
                          data={"segment_index": "0"})
    assert too_much.status_code == 400
    assert "exceed the declared total_bytes" in too_much.json()["errors"][0]["message"]
    alice.post(f"/2/media/upload/{media_id}/append", files={"media": ("b", png()[:20])}, data={"segment_index": "0"})
    short = alice.post(f"/2/media/upload/{media_id}/finalize")
    assert short.status_code == 400
    assert "Segments do not add up to provided total file size" in short.json()["errors"][0]["message"]


def test_a_resent_segment_replaces_the_first_copy(alice):
    data = png()
    media_id = alice.post("/2/media/upload/initialize", json={
        "media_type": "image/png", "total_bytes": len(data), "media_category": "tweet_image"}).json()["data"]["id"]
    for _ in range(2):
        assert alice.post(f"/2/media/upload/{media_id}/append", files={"media": ("b", data)},
                          data={"segment_index": "0"}).status_code == 200
    assert alice.post(f"/2/media/upload/{media_id}/finalize").status_code == 200


def test_bytes_must_be_of_the_declared_type(alice):
    response = finalized_in_one_segment(alice, b"not really a png at all", "image/png", "tweet_image")
    assert response.status_code == 400
    assert "are not image/png" in response.json()["errors"][0]["message"]
    one_shot = alice.post("/2/media/upload", files={"media": ("x.png", mp4())}, data={"media_category": "tweet_image"})
    assert one_shot.status_code == 400


def test_one_shot_takes_images_only(alice):
    response = alice.post("/2/media/upload", files={"media": ("v.mp4", mp4())}, data={"media_category": "tweet_video"})
    assert response.status_code == 400
    assert "initialize, append and finalize" in response.json()["errors"][0]["message"]


def test_media_write_scope_is_required(sandbox_url):
    client = ApiClient(sandbox_url, bearer(sandbox_url, ALICE, scopes="tweet.read tweet.write users.read"))
    response = client.post("/2/media/upload", files={"media": ("p.png", png())}, data={"media_category": "tweet_image"})
    assert response.status_code == 403


def test_alt_text_is_kept_and_shown_with_the_post(alice):
    media_id = upload_image(alice)["id"]
    answer = alice.post("/2/media/metadata", json={"id": media_id, "metadata": {"alt_text": {"text": "A red square"}}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == {"id": media_id, "associated_metadata": {"alt_text": {"text": "A red square"}}}
    post_id = alice.tweet("described", media={"media_ids": [media_id]}).json()["data"]["id"]
    body = alice.get(f"/2/tweets/{post_id}", params={
        "expansions": "attachments.media_keys", "media.fields": "alt_text",
    }).json()
    assert body["includes"]["media"][0]["alt_text"] == "A red square"


def test_alt_text_over_1000_characters_is_refused(alice):
    media_id = upload_image(alice)["id"]
    answer = alice.post("/2/media/metadata", json={"id": media_id, "metadata": {"alt_text": {"text": "x" * 1001}}})
    assert answer.status_code == 400
    assert "at most 1000 characters" in answer.json()["errors"][0]["message"]
