"""X's objects as the API renders them: users, posts, media and polls, with the
``*.fields`` and ``expansions`` a request asks for.

Field names: X's OpenAPI spec (2026) renames "tweet" to "post" in some names
(``edit_history_post_ids``, ``post_count``), while the live API and tweepy use
the classic names. The sandbox accepts both spellings in requests and renders
the classic key (plus the spec's where they differ), so both kinds of client
find what they look for."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .ids import iso_time

USER_FIELDS = (
    "affiliation", "confirmed_email", "connection_status", "created_at", "description", "entities", "id",
    "is_identity_verified", "location", "most_recent_tweet_id", "name", "parody", "pinned_tweet_id",
    "profile_banner_url", "profile_image_url", "protected", "public_metrics", "receives_your_dm",
    "subscribes_to_you", "subscription", "subscription_type", "url", "username", "verified",
    "verified_followers_count", "verified_type", "withheld",
)
USER_EXPANSIONS = ("affiliation", "most_recent_post_id", "most_recent_tweet_id", "pinned_post_id", "pinned_tweet_id")
TWEET_FIELDS = (
    "article", "article_title", "attachments", "author_id", "card_uri", "community_id", "context_annotations",
    "conversation_id", "created_at", "display_text_range", "edit_controls", "edit_history_tweet_ids", "entities",
    "geo", "id", "in_reply_to_user_id", "lang", "matched_media_notes", "media_metadata", "non_public_metrics",
    "note_post", "note_request_suggestions", "note_tweet", "organic_metrics", "paid_partnership",
    "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets", "reply_settings", "scopes",
    "source", "suggested_source_links", "suggested_source_links_with_counts", "text", "withheld",
)
TWEET_EXPANSIONS = (
    "article.cover_media", "article.media_entities", "attachments.media_keys", "attachments.media_source_tweet",
    "attachments.poll_ids", "author_id", "edit_history_post_ids", "edit_history_tweet_ids",
    "entities.mentions.username", "geo.place_id", "in_reply_to_user_id", "referenced_posts",
    "referenced_tweets.id", "referenced_tweets.id.author_id", "username",
)
MEDIA_FIELDS = (
    "alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics",
    "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width",
)
POLL_FIELDS = ("duration_minutes", "end_datetime", "id", "options", "voting_status")

MEDIA_TYPES = {"tweet_image": "photo", "tweet_gif": "animated_gif", "tweet_video": "video"}


def absolute(sb, path: str) -> str:
    return f"{sb.config.public_url}{path}" if path.startswith("/") else path


def user_object(sb, conn: sqlite3.Connection, row: sqlite3.Row, fields: list[str]) -> dict[str, Any]:
    user: dict[str, Any] = {"id": row["id"], "name": row["name"], "username": row["username"]}
    wanted = set(fields)
    if "created_at" in wanted:
        user["created_at"] = iso_time(row["created_at"])
    if "description" in wanted:
        user["description"] = ""
    if "profile_image_url" in wanted:
        user["profile_image_url"] = absolute(sb, row["profile_image_url"])
    if "protected" in wanted:
        user["protected"] = False
    if "verified" in wanted:
        user["verified"] = False
    if "verified_type" in wanted:
        user["verified_type"] = "none"
    if "url" in wanted:
        user["url"] = ""
    if "public_metrics" in wanted or "most_recent_tweet_id" in wanted:
        stats = conn.execute(
            "SELECT COUNT(*) AS n, MAX(id) AS newest, "
            "(SELECT COUNT(*) FROM tweet_media tm JOIN tweets t2 ON t2.id = tm.tweet_id "
            " WHERE t2.author_id = ? AND t2.deleted_at IS NULL) AS media "
            "FROM tweets WHERE author_id = ? AND deleted_at IS NULL",
            (row["id"], row["id"]),
        ).fetchone()
        if "public_metrics" in wanted:
            user["public_metrics"] = {
                "followers_count": 0, "following_count": 0, "tweet_count": stats["n"], "post_count": stats["n"],
                "listed_count": 0, "like_count": 0, "media_count": stats["media"],
            }
        if "most_recent_tweet_id" in wanted and stats["newest"] is not None:
            user["most_recent_tweet_id"] = str(stats["newest"])
    return user


def x_escaped(text: str) -> str:
    """X's API gives a post's text with &, < and > as HTML entities (and
    nothing else escaped): what was sent as ``a & b`` reads ``a &amp; b``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def tweet_object(sb, conn: sqlite3.Connection, row: sqlite3.Row, fields: list[str]) -> dict[str, Any]:
    tweet: dict[str, Any] = {
        "edit_history_tweet_ids": [str(row["id"])], "id": str(row["id"]), "text": x_escaped(row["text"]),
    }
    wanted = set(fields)
    if "author_id" in wanted:
        tweet["author_id"] = row["author_id"]
    if "created_at" in wanted:
        tweet["created_at"] = iso_time(row["created_at"])
    if "conversation_id" in wanted:
        tweet["conversation_id"] = str(row["conversation_id"])
    if "in_reply_to_user_id" in wanted and row["in_reply_to_user_id"]:
        tweet["in_reply_to_user_id"] = row["in_reply_to_user_id"]
    if "referenced_tweets" in wanted and row["in_reply_to_tweet_id"]:
        tweet["referenced_tweets"] = [{"type": "replied_to", "id": str(row["in_reply_to_tweet_id"])}]
    if "attachments" in wanted:
        attachments = {}
        keys = media_keys(conn, row["id"])
        if keys:
            attachments["media_keys"] = keys
        if row["poll_json"]:
            attachments["poll_ids"] = [str(row["id"])]
        if attachments:
            tweet["attachments"] = attachments
    if "reply_settings" in wanted:
        tweet["reply_settings"] = row["reply_settings"] or "everyone"
    if "entities" in wanted:
        entities = json.loads(row["entities_json"])
        if entities:
            tweet["entities"] = entities
    if "display_text_range" in wanted:
        tweet["display_text_range"] = [0, row["display_end"]]
    if "lang" in wanted:
        tweet["lang"] = "und"
    if "possibly_sensitive" in wanted:
        tweet["possibly_sensitive"] = False
    if "public_metrics" in wanted:
        replies = conn.execute(
            "SELECT COUNT(*) FROM tweets WHERE in_reply_to_tweet_id = ? AND deleted_at IS NULL", (row["id"],)
        ).fetchone()[0]
        tweet["public_metrics"] = {
            "retweet_count": 0, "repost_count": 0, "reply_count": replies, "like_count": 0, "quote_count": 0,
            "bookmark_count": 0, "impression_count": 0,
        }
    if "edit_controls" in wanted:
        tweet["edit_controls"] = {
            "edits_remaining": 5, "is_edit_eligible": False, "editable_until": iso_time(row["created_at"] + 3600),
        }
    return tweet


def media_keys(conn: sqlite3.Connection, tweet_id: int) -> list[str]:
    return [
        r["media_key"]
        for r in conn.execute(
            "SELECT m.media_key FROM tweet_media tm JOIN media m ON m.id = tm.media_id "
            "WHERE tm.tweet_id = ? ORDER BY tm.position",
            (tweet_id,),
        )
    ]


def media_object(sb, row: sqlite3.Row, fields: list[str]) -> dict[str, Any]:
    media: dict[str, Any] = {"media_key": row["media_key"], "type": MEDIA_TYPES[row["media_category"]]}
    wanted = set(fields)
    url = absolute(sb, f"/_sandbox/media/{row['media_key']}")
    if row["media_category"] == "tweet_image" and "url" in wanted:
        media["url"] = url
    if row["media_category"] != "tweet_image" and "variants" in wanted:
        media["variants"] = [{"content_type": row["media_type"], "url": url}]
    if "width" in wanted and row["width"]:
        media["width"] = row["width"]
    if "height" in wanted and row["height"]:
        media["height"] = row["height"]
    if "alt_text" in wanted and row["alt_text"]:
        media["alt_text"] = row["alt_text"]
    return media


def poll_object(row: sqlite3.Row, fields: list[str], now: float) -> dict[str, Any]:
    poll = json.loads(row["poll_json"])
    result: dict[str, Any] = {
        "id": str(row["id"]),
        "options": [{"position": i + 1, "label": label, "votes": 0} for i, label in enumerate(poll["options"])],
    }
    ends = row["created_at"] + poll["duration_minutes"] * 60
    wanted = set(fields)
    if "duration_minutes" in wanted:
        result["duration_minutes"] = poll["duration_minutes"]
    if "end_datetime" in wanted:
        result["end_datetime"] = iso_time(ends)
    if "voting_status" in wanted:
        result["voting_status"] = "open" if now < ends else "closed"
    return result


def includes(
    sb, conn: sqlite3.Connection, tweets: list[sqlite3.Row], expansions: list[str], *,
    user_fields: list[str], media_fields: list[str], poll_fields: list[str], now: float,
) -> dict[str, list]:
    """The ``includes`` of a response whose posts are ``tweets``."""
    result: dict[str, list] = {}
    wanted = set(expansions)
    if "attachments.media_keys" in wanted:
        rows = [
            r for t in tweets for r in conn.execute(
                "SELECT m.* FROM tweet_media tm JOIN media m ON m.id = tm.media_id "
                "WHERE tm.tweet_id = ? ORDER BY tm.position",
                (t["id"],),
            )
        ]
        if rows:
            result["media"] = [media_object(sb, r, media_fields) for r in rows]
    if "attachments.poll_ids" in wanted:
        polls = [poll_object(t, poll_fields, now) for t in tweets if t["poll_json"]]
        if polls:
            result["polls"] = polls
    if {"referenced_tweets.id", "referenced_posts"} & wanted:
        parents = [
            conn.execute("SELECT * FROM tweets WHERE id = ? AND deleted_at IS NULL", (t["in_reply_to_tweet_id"],)).fetchone()
            for t in tweets if t["in_reply_to_tweet_id"]
        ]
        if any(parents):
            result["tweets"] = [tweet_object(sb, conn, p, []) for p in parents if p is not None]
    user_ids: list[str] = []
    if "author_id" in wanted:
        user_ids += [t["author_id"] for t in tweets]
    if "in_reply_to_user_id" in wanted:
        user_ids += [t["in_reply_to_user_id"] for t in tweets if t["in_reply_to_user_id"]]
    users = []
    for user_id in dict.fromkeys(user_ids):
        row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is not None:
            users.append(user_object(sb, conn, row, user_fields))
    if users:
        result["users"] = users
    return result
