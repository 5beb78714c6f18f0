"""X's v3 weighted length, through POST /2/tweets: every case of
twitter-text's WeightedTweetsWithDiscountedEmojiCounterTest conformance suite."""

from __future__ import annotations

import pytest
import yaml

from .xapi import SHARED_X_API

CASES = yaml.safe_load((SHARED_X_API / "twitter-text-validate.yml").read_text(encoding="utf-8"))["tests"][
    "WeightedTweetsWithDiscountedEmojiCounterTest"]


def test_the_suite_is_all_there():
    assert len(CASES) == 22
    assert {c["expected"]["valid"] for c in CASES} == {True, False}


@pytest.mark.parametrize("case", CASES, ids=[c["description"][:60] for c in CASES])
def test_conformance_case(alice, case):
    response = alice.tweet(case["text"])
    if case["expected"]["valid"]:
        assert response.status_code == 201, response.text
    else:
        assert response.status_code == 400, f"weighted length {case['expected']['weightedLength']}"
        assert response.json()["detail"].startswith("Your Tweet text is too long.")
