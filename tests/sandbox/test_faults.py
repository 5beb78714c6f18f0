"""Fault injection: each mode, as a client sees it."""

from __future__ import annotations

import time

import pytest
import requests

from .xapi import ALICE


def set_faults(control, *rules, seed: int | None = None) -> None:
    body = {"faults": list(rules), **({"seed": seed} if seed is not None else {})}
    response = control.put("/_sandbox/faults", json=body)
    assert response.status_code == 200, response.text


def posts(control) -> list[dict]:
    return control.get("/_sandbox/posts").json()["posts"]


def test_status_fault_with_an_empty_body_like_xs_5xx(alice, control):
    set_faults(control, {"endpoint": "POST /2/tweets", "mode": "status", "status": 503, "empty_body": True})
    response = alice.tweet("during an outage")
    assert response.status_code == 503
    assert response.content == b""
    assert posts(control) == [], "the endpoint did not run"


def test_status_fault_with_a_problem_body(alice, control):
    set_faults(control, {"endpoint": "GET /2/users/me", "mode": "status", "status": 500})
    response = alice.get("/2/users/me")
    assert response.status_code == 500
    assert response.json() == {"title": "Internal Server Error", "detail": "Internal Server Error",
                               "type": "about:blank", "status": 500}


def test_429_fault_carries_a_reset(alice, control):
    set_faults(control, {"endpoint": "POST /2/tweets", "mode": "status", "status": 429, "reset_after_secs": 30})
    response = alice.tweet("limited")
    assert response.status_code == 429
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert 25 <= int(response.headers["x-rate-limit-reset"]) - time.time() <= 31


def test_count_limits_how_often_a_fault_applies(alice, control):
    set_faults(control, {"endpoint": "POST /2/tweets", "mode": "status", "status": 502, "count": 2})
    assert [alice.tweet(f"try {i}").status_code for i in range(3)] == [502, 502, 201]
    rules = control.get("/_sandbox/faults").json()["faults"]
    assert rules[0]["count"] == 0 and rules[0]["applied"] == 2


def test_probability_follows_the_seed(alice, control):
    def run() -> list[int]:
        set_faults(control, {"endpoint": "GET /2/users/me", "mode": "status", "status": 500, "probability": 0.5},
                   seed=1234)
        return [alice.get("/2/users/me").status_code for _ in range(24)]

    first, second = run(), run()
    assert first == second, "the same seed fails the same requests"
    assert 0 < first.count(500) < 24


def test_latency(alice, control):
    set_faults(control, {"endpoint": "GET /2/users/me", "mode": "latency", "seconds": 0.4})
    started = time.monotonic()
    assert alice.get("/2/users/me").status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    assert alice.tweet("not slowed").status_code == 201
    assert time.monotonic() - started < 0.4


def test_latency_makes_a_client_time_out(alice, control):
    set_faults(control, {"endpoint": "POST /2/tweets", "mode": "latency", "seconds": 0.5, "count": 1})
    with pytest.raises(requests.Timeout):
        alice.post("/2/tweets", json={"text": "slow"}, timeout=0.2)
    time.sleep(0.5)
    assert [p["text"] for p in posts(control)] == ["slow"], "the post was created after the client gave up"


def test_commit_then_drop_the_connection(alice, control):
    set_faults(control, {"endpoint": "POST /2/tweets", "mode": "drop_after_commit", "count": 1})
    with pytest.raises(requests.ConnectionError):
        alice.tweet("did it go out?")
    [post] = posts(control)
    assert (post["text"], post["author_id"], post["request_count"]) == ("did it go out?", ALICE, 1)
    retry = alice.tweet("did it go out?")
    assert retry.status_code == 403, "a blind retry is a duplicate"
    assert posts(control)[0]["request_count"] == 2
    outcomes = [r["outcome"] for r in control.get("/_sandbox/requests").json()["requests"]]
    assert outcomes == ["drop_after_commit", "answered"]


def test_garbled_body_commits_then_answers_201_with_a_body_that_is_not_json(alice, control):
    set_faults(control, {"endpoint": "POST /2/tweets", "mode": "garbled_body", "count": 1})
    response = alice.tweet("was it published?")
    assert response.status_code == 201
    assert int(response.headers["content-length"]) == len(response.content), "the body arrived whole"
    with pytest.raises(ValueError):
        response.json()
    [post] = posts(control)
    assert (post["text"], post["author_id"]) == ("was it published?", ALICE)
    assert response.content and post["id"].encode() in response.content, "half of the real answer"
    [logged] = control.get("/_sandbox/requests").json()["requests"]
    assert (logged["status"], logged["outcome"]) == (201, "garbled_body")


def test_garbled_body_answers_the_body_it_is_given(alice, control):
    set_faults(control, {"endpoint": "POST /2/tweets", "mode": "garbled_body", "body": '{"data": {}}'})
    response = alice.tweet("no id in the answer")
    assert (response.status_code, response.json()) == (201, {"data": {}})
    assert [p["text"] for p in posts(control)] == ["no id in the answer"]


def test_truncated_body_commits_then_breaks_off_mid_answer(alice, control):
    set_faults(control, {"endpoint": "POST /2/tweets", "mode": "truncated_body", "count": 1})
    response = alice.post("/2/tweets", json={"text": "cut off"}, stream=True)
    assert response.status_code == 201
    assert response.headers["transfer-encoding"] == "chunked"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        list(response.iter_content(chunk_size=64))
    [post] = posts(control)
    assert post["text"] == "cut off"
    [logged] = control.get("/_sandbox/requests").json()["requests"]
    assert (logged["status"], logged["outcome"]) == (201, "truncated_body")
    assert alice.tweet("the next answer is whole").json()["data"]["text"] == "the next answer is whole"


def test_drop_before_commit_stores_nothing(alice, control):
    set_faults(control, {"endpoint": "POST /2/tweets", "mode": "drop_before_commit", "count": 1})
    with pytest.raises(requests.ConnectionError):
        alice.tweet("lost on the way")
    assert posts(control) == []
    assert alice.tweet("lost on the way").status_code == 201


def test_drop_on_a_read(alice, control):
    set_faults(control, {"endpoint": "GET /2/users/:id/tweets", "mode": "drop_before_commit"})
    with pytest.raises(requests.ConnectionError):
        alice.get(f"/2/users/{ALICE}/tweets")
    assert alice.get("/2/users/me").status_code == 200


def test_star_matches_every_api_endpoint_but_not_the_control_api(alice, control):
    set_faults(control, {"endpoint": "*", "mode": "status", "status": 503})
    assert alice.get("/2/users/me").status_code == 503
    assert alice.tweet("x").status_code == 503
    assert control.get("/_sandbox/health").status_code == 200


def test_post_adds_rules_and_delete_clears_them(alice, control):
    control.post("/_sandbox/faults", json={"endpoint": "GET /2/users/me", "mode": "status", "status": 500})
    control.post("/_sandbox/faults", json=[{"endpoint": "POST /2/tweets", "mode": "status", "status": 502}])
    assert len(control.get("/_sandbox/faults").json()["faults"]) == 2
    assert alice.get("/2/users/me").status_code == 500
    control.delete("/_sandbox/faults")
    assert alice.get("/2/users/me").status_code == 200


@pytest.mark.parametrize("rule, message", [
    ({"endpoint": "POST /2/tweets", "mode": "explode"}, "\"mode\" must be one of"),
    ({"endpoint": "POST /2/tweets", "mode": "status"}, "needs \"status\" from 400 to 599"),
    ({"endpoint": "POST /2/tweets", "mode": "status", "status": 503, "probability": 2}, "probability"),
    ({"endpoint": "POST /2/tweets", "mode": "latency"}, "needs \"seconds\" > 0"),
    ({"endpoint": "POST /2/tweets", "mode": "drop_after_commit", "count": 0}, "\"count\" must be"),
    ({"mode": "drop_after_commit"}, "needs \"endpoint\""),
    ({"endpoint": "POST /2/tweets", "mode": "latency", "seconds": 1, "colour": "red"}, "unknown fault field"),
    ({"endpoint": "POST /2/tweets", "mode": "drop_after_commit", "body": "{}"}, "\"body\" belongs to mode"),
    ({"endpoint": "POST /2/tweets", "mode": "garbled_body", "body": {"data": {}}}, "is a string"),
])
def test_bad_rules_are_refused_with_a_reason(control, rule, message):
    response = control.put("/_sandbox/faults", json={"faults": [rule]})
    assert response.status_code == 400
    assert message in response.json()["error"]
