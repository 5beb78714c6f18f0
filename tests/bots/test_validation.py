"""Post validation: X's rules, checked before publishing, each problem on its field
with words that say what to change."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots.posting.validation import REPLY_SETTINGS, MediaSpec, Problems, text_count, validate_post

X_API = Path(__file__).resolve().parents[2].parent / "shared" / "x-api"
CONFORMANCE: list[dict[str, Any]] = yaml.safe_load((X_API / "twitter-text-validate.yml").read_text(encoding="utf-8"))[
    "tests"
]["WeightedTweetsWithDiscountedEmojiCounterTest"]

MB = 1024 * 1024
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def png(name: str = "photo.png", size: int = 100_000, alt_text: str = "") -> MediaSpec:
    return MediaSpec(name=name, content_type="image/png", size=size, alt_text=alt_text)


def gif(size: int = 1_000_000) -> MediaSpec:
    return MediaSpec(name="loop.gif", content_type="image/gif", size=size)


def mp4(size: int = 10 * MB) -> MediaSpec:
    return MediaSpec(name="clip.mp4", content_type="video/mp4", size=size)


def the_error(problems: Problems, field: str) -> str:
    """The one error of a post that has exactly one, on ``field``."""
    assert not problems.ok
    assert list(problems.errors) == [field], problems.errors
    [message] = problems.errors[field]
    return message


def assert_ok(problems: Problems) -> None:
    assert problems.ok, problems.errors
    assert problems.errors == {}


# --- text length -------------------------------------------------------------------


@pytest.mark.parametrize("case", CONFORMANCE, ids=[case["description"] for case in CONFORMANCE])
def test_weighted_length_matches_twitter_text_conformance(case: dict[str, Any]) -> None:
    count = text_count(case["text"])
    assert count.weighted_length == case["expected"]["weightedLength"]
    assert count.valid is case["expected"]["valid"]
    assert validate_post(text=case["text"]).ok is case["expected"]["valid"]


def test_text_count_gives_remaining_and_a_short_summary() -> None:
    count = text_count("Read https://example.com/a/very/long/path/that/x/shortens 😷")
    assert count.weighted_length == 5 + 23 + 1 + 2
    assert (count.max_length, count.remaining, count.valid) == (280, 280 - 31, True)
    assert count.summary == "31/280"


def test_text_of_280_characters_passes() -> None:
    assert_ok(validate_post(text="a" * 280))


def test_text_over_280_says_how_much_to_remove() -> None:
    message = the_error(validate_post(text="a" * 293), "text")
    assert message.startswith("The text is 293 characters long by X's count; the limit is 280. Remove 13.")
    assert "links count 23" in message and "emoji" in message and "CJK" in message


def test_text_is_counted_after_nfc_normalization() -> None:
    decomposed = "e\u0301" * 280  # 560 code points, 280 once composed into "é"
    assert text_count(decomposed).weighted_length == 280
    assert_ok(validate_post(text=decomposed))
    assert "Remove 1." in the_error(validate_post(text="e\u0301" * 281), "text")


def test_characters_x_refuses_are_named() -> None:
    assert_ok(validate_post(text="zero\u200bwidth space is fine"))
    message = the_error(validate_post(text="byte order\ufeffmark"), "text")
    assert "U+FEFF" in message and "remove them" in message


# --- empty text ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "  \n\t "])
def test_empty_text_without_media_is_refused(text: str) -> None:
    message = the_error(validate_post(text=text), "text")
    assert message == "The post has no text: write some, or attach an image, GIF or video."


def test_empty_text_with_media_passes() -> None:
    assert_ok(validate_post(text="", media=[png()]))
    assert_ok(validate_post(text="  ", media=[mp4()]))


def test_thread_parts_are_validated_the_same_with_their_own_wording() -> None:
    message = the_error(validate_post(text="", is_thread_part=True), "text")
    assert message.startswith("This part of the thread has no text")
    assert "Remove 1." in the_error(validate_post(text="a" * 281, is_thread_part=True), "text")


# --- media ---------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_one_to_four_images_pass(count: int) -> None:
    media = [MediaSpec(f"p{i}.jpg", "image/jpeg", MB, "A cat") for i in range(count)]
    assert_ok(validate_post(text="Cats", media=media))


def test_five_images_are_refused() -> None:
    media = [MediaSpec(f"p{i}.webp", "image/webp", MB) for i in range(5)]
    message = the_error(validate_post(text="Cats", media=media), "media")
    assert message.startswith("A post can have at most 4 images; this one has 5. Remove 1")


@pytest.mark.parametrize("single", [gif(), mp4(), MediaSpec("clip.mov", "video/quicktime", 50 * MB)])
def test_a_single_gif_or_video_passes(single: MediaSpec) -> None:
    assert_ok(validate_post(text="Watch", media=[single]))


@pytest.mark.parametrize(
    ("media", "mix"),
    [
        ([png(), gif()], "1 image and 1 GIF"),
        ([png(), png("b.png"), mp4()], "2 images and 1 video"),
        ([mp4(), mp4()], "2 videos"),
        ([gif(), gif()], "2 GIFs"),
    ],
)
def test_gif_or_video_with_anything_else_is_refused(media: list[MediaSpec], mix: str) -> None:
    message = the_error(validate_post(text="Mixed", media=media), "media")
    assert f"this one has {mix}" in message
    assert "Keep the images only, or a single GIF or video." in message


def test_unsupported_type_is_named_with_what_is_allowed() -> None:
    message = the_error(validate_post(text="Scan", media=[MediaSpec("scan.bmp", "image/bmp", MB)]), "media")
    assert message.startswith("scan.bmp is of type image/bmp, which X does not take.")
    assert "Attach JPEG, PNG or WebP images, a GIF, or an MP4 or MOV video." in message


def test_content_type_is_read_case_insensitively() -> None:
    assert_ok(validate_post(text="Hi", media=[MediaSpec("a.png", "Image/PNG", MB)]))


@pytest.mark.parametrize(
    ("content_type", "limit_mb", "kind"),
    [("image/jpeg", 5, "images"), ("image/gif", 15, "GIFs"), ("video/mp4", 512, "videos")],
)
def test_files_up_to_the_size_limit_pass_and_larger_ones_are_refused(
    content_type: str, limit_mb: int, kind: str
) -> None:
    at_limit = MediaSpec("file", content_type, limit_mb * MB)
    assert_ok(validate_post(text="Big", media=[at_limit]))
    over = MediaSpec("big.file", content_type, limit_mb * MB + 1)
    message = the_error(validate_post(text="Big", media=[over]), "media")
    assert f"X takes {kind} of at most {limit_mb} MB. Make it smaller and upload it again." in message
    assert message.startswith("big.file is ")


def test_an_empty_file_is_refused() -> None:
    assert the_error(validate_post(text="Hi", media=[png(size=0)]), "media") == (
        "photo.png is empty: upload the file again."
    )


def test_alt_text_up_to_1000_characters_passes_and_longer_is_refused() -> None:
    assert_ok(validate_post(text="Hi", media=[png(alt_text="x" * 1000)]))
    message = the_error(validate_post(text="Hi", media=[png(alt_text="x" * 1043)]), "alt_text")
    assert message == "The alt text of photo.png is 1043 characters long; X allows 1000. Remove 43."


# --- polls ---------------------------------------------------------------------------


@pytest.mark.parametrize("options", [["Yes", "No"], ["A", "B", "C", "D"]])
def test_a_poll_of_two_to_four_options_passes(options: list[str]) -> None:
    assert_ok(validate_post(text="Which?", poll_options=options, poll_duration_minutes=60))


@pytest.mark.parametrize(
    ("options", "says"),
    [(["Only"], "this one has 1. Add 1 more."), (["A", "B", "C", "D", "E"], "this one has 5. Remove 1.")],
)
def test_a_poll_with_too_few_or_too_many_options_is_refused(options: list[str], says: str) -> None:
    message = the_error(validate_post(text="Which?", poll_options=options, poll_duration_minutes=60), "poll_options")
    assert message.startswith("A poll needs 2 to 4 options;") and message.endswith(says)


def test_option_length_is_counted_in_characters_after_nfc_and_stripping() -> None:
    composed_25 = "e\u0301" * 25  # 50 code points before NFC
    assert_ok(validate_post(text="Q", poll_options=[composed_25, "  " + "b" * 25 + "  "], poll_duration_minutes=60))
    message = the_error(validate_post(text="Q", poll_options=["a" * 26, "b"], poll_duration_minutes=60), "poll_options")
    assert message == f"Option 1 ('{'a' * 26}') is 26 characters long; options can have at most 25. Remove 1."


def test_an_empty_option_is_refused() -> None:
    message = the_error(validate_post(text="Q", poll_options=["Yes", "   "], poll_duration_minutes=60), "poll_options")
    assert message == "Option 2 is empty: write it, or remove it."


def test_duplicate_options_are_refused() -> None:
    assert_ok(validate_post(text="Q", poll_options=["Yes", "Yes!"], poll_duration_minutes=60))
    problems = validate_post(text="Q", poll_options=["Yes", " Yes "], poll_duration_minutes=60)
    message = the_error(problems, "poll_options")
    assert message == "Option 2 ('Yes') repeats an earlier option: change or remove it."


@pytest.mark.parametrize("minutes", [5, 10080])
def test_poll_duration_of_5_minutes_to_7_days_passes(minutes: int) -> None:
    assert_ok(validate_post(text="Q", poll_options=["A", "B"], poll_duration_minutes=minutes))


@pytest.mark.parametrize("minutes", [4, 10081, 0])
def test_poll_duration_outside_5_minutes_to_7_days_is_refused(minutes: int) -> None:
    problems = validate_post(text="Q", poll_options=["A", "B"], poll_duration_minutes=minutes)
    message = the_error(problems, "poll_duration_minutes")
    assert message == (
        f"The poll would run for {minutes} minutes; X allows 5 minutes to 7 days (10080 minutes). "
        "Choose a duration in that range."
    )


def test_a_poll_without_a_duration_is_refused() -> None:
    message = the_error(validate_post(text="Q", poll_options=["A", "B"]), "poll_duration_minutes")
    assert message.startswith("A poll needs a duration: give one from 5 minutes to 7 days")


def test_a_duration_without_options_is_refused() -> None:
    assert_ok(validate_post(text="No poll", poll_options=[]))
    message = the_error(validate_post(text="No poll", poll_duration_minutes=60), "poll_duration_minutes")
    assert message == "A poll duration was given but no poll options: add 2 to 4 options, or clear the duration."


def test_a_poll_and_media_together_are_refused() -> None:
    problems = validate_post(text="Q", media=[png()], poll_options=["A", "B"], poll_duration_minutes=60)
    message = the_error(problems, "poll_options")
    assert message == "A post can have a poll or media, not both: remove the poll or the media."


# --- cashtags ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Buying $TSLA today", "$TSLA up, $tsla down", "$100 for $BRK.A", "(price$AAPL)"])
def test_one_cashtag_or_none_passes(text: str) -> None:
    assert_ok(validate_post(text=text))


def test_two_cashtags_are_refused_and_named() -> None:
    message = the_error(validate_post(text="$TSLA beats $aapl and $BRK.A"), "text")
    assert message == (
        "X allows at most one cashtag per post; this text has 3 ($AAPL, $BRK.A, $TSLA). "
        "Keep one and write the others without the $."
    )


# --- reply settings ------------------------------------------------------------------


@pytest.mark.parametrize("setting", REPLY_SETTINGS)
def test_known_reply_settings_pass(setting: str) -> None:
    assert_ok(validate_post(text="Hi", reply_settings=setting))


def test_unknown_reply_setting_is_refused_with_the_allowed_values() -> None:
    message = the_error(validate_post(text="Hi", reply_settings="friends"), "reply_settings")
    assert message == (
        "'friends' is not a reply setting X knows. Leave it empty to let everyone reply, "
        "or use one of 'following', 'mentionedUsers', 'subscribers', 'verified'."
    )
    hinted = the_error(validate_post(text="Hi", reply_settings="mentionedusers"), "reply_settings")
    assert hinted.endswith("Did you mean 'mentionedUsers'?")


# --- scheduled time ------------------------------------------------------------------


def test_a_draft_without_a_time_passes() -> None:
    problems = validate_post(text="Draft", scheduled_at=None, now=NOW)
    assert_ok(problems)
    assert problems.warnings == []


def test_a_future_aware_time_passes_without_warning() -> None:
    later = datetime(2026, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=1)))
    problems = validate_post(text="Later", scheduled_at=later, now=NOW)
    assert_ok(problems)
    assert problems.warnings == []


def test_a_naive_time_is_refused() -> None:
    message = the_error(validate_post(text="When?", scheduled_at=datetime(2026, 12, 1, 9, 0), now=NOW), "scheduled_at")
    assert message == (
        "The scheduled time 2026-12-01 09:00 has no time zone; give it with one, e.g. 2026-12-01T09:00+01:00."
    )


def test_a_past_time_is_a_warning_not_an_error() -> None:
    earlier = datetime(2026, 6, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))  # 10:30 UTC
    problems = validate_post(text="Late", scheduled_at=earlier, now=NOW)
    assert_ok(problems)
    assert problems.warnings == [
        "The scheduled time 2026-06-01 12:30+02:00 is in the past: the post will be published as soon as possible."
    ]


def test_past_is_judged_against_the_current_time_by_default() -> None:
    problems = validate_post(text="Old", scheduled_at=datetime(2000, 1, 1, tzinfo=timezone.utc), is_thread_part=True)
    assert_ok(problems)
    assert problems.warnings == [
        "The scheduled time 2000-01-01 00:00+00:00 is in the past: "
        "this part of the thread will be published as soon as possible."
    ]
    assert validate_post(text="New", scheduled_at=datetime(2999, 1, 1, tzinfo=timezone.utc)).warnings == []
