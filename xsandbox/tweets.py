"""Posts: ``POST /2/tweets``, ``DELETE /2/tweets/:id`` and ``GET /2/tweets/:id``,
with X's rules for what may be posted (length, duplicates, media, polls,
replies, cashtags, quotes) and X's way of rendering a post's text (links
wrapped in t.co URLs, a media link appended)."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import string
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from twitter_text import extract_urls_with_indices, parse_tweet
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from . import objects
from .errors import ApiError, forbidden, invalid_request, json_response
from .ids import snowflake
from .media import media_state
from .params import check_known, field_list, id_param, json_body
from .ratelimit import authorize
from .requestlog import TEXT_KEY

SCHEMA = """
CREATE TABLE IF NOT EXISTS tweets (
    id INTEGER PRIMARY KEY,         -- a snowflake, rendered as a string
    author_id TEXT NOT NULL REFERENCES users(id),
    text TEXT NOT NULL,             -- as X renders it: links wrapped in t.co URLs, media link appended
    submitted_text TEXT NOT NULL,   -- as the client sent it; duplicates are judged on it
    entities_json TEXT NOT NULL,
    display_end INTEGER NOT NULL,   -- end of display_text_range (before the media link)
    created_at REAL NOT NULL,       -- epoch seconds, the arrival of the request
    conversation_id INTEGER NOT NULL,
    in_reply_to_tweet_id INTEGER,
    in_reply_to_user_id TEXT,
    reply_settings TEXT,
    poll_json TEXT,
    deleted_at REAL
);
CREATE INDEX IF NOT EXISTS tweets_author ON tweets (author_id, id);
CREATE INDEX IF NOT EXISTS tweets_reply ON tweets (in_reply_to_tweet_id);
CREATE TABLE IF NOT EXISTS tweet_media (
    tweet_id INTEGER NOT NULL REFERENCES tweets(id),
    media_id INTEGER NOT NULL REFERENCES media(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (tweet_id, position)
);
"""

MAX_WEIGHTED_LENGTH = 280
REPLY_SETTINGS = ("following", "mentionedUsers", "subscribers", "verified")
SCOPES = ("tweet.read", "tweet.write", "users.read")
# Fields of X's CreatePostsRequest the sandbox does not emulate: refused with a
# clear message rather than silently ignored.
NOT_EMULATED = (
    "card_uri", "community_id", "direct_message_deep_link", "edit_options", "for_super_followers_only", "geo",
    "made_with_ai", "nullcast", "paid_partnership", "share_with_followers",
)
# twitter-text's cashtag rule: "$" and 1-6 letters, optionally ".xx" or "_xx".
CASHTAG = re.compile(r"(?:^|(?<=\s))\$([a-z]{1,6}(?:[._][a-z]{1,2})?)(?=$|\s|[!-/:-@\[-`{-~])", re.IGNORECASE)
MENTION = re.compile(r"(?<![A-Za-z0-9_!@#$%&*])[@＠]([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@＠])")
HASHTAG = re.compile(r"(?<![\w&])[#＃](\w*[^\W\d]\w*)")

TOO_LONG = (
    "Your Tweet text is too long. For more information on how X determines text length see "
    "https://github.com/twitter/twitter-text."
)


def rules() -> list[Rule]:
    return [
        Rule("/2/tweets", methods=["POST"], endpoint=create_tweet),
        Rule("/2/tweets/<id>", methods=["DELETE"], endpoint=delete_tweet),
        Rule("/2/tweets/<id>", methods=["GET"], endpoint=get_tweet),
    ]


@dataclass
class Draft:
    """A validated request to create a post."""

    text: str
    reply_to: int | None = None
    media_ids: list[int] = field(default_factory=list)
    poll: dict | None = None
    reply_settings: str | None = None
    quote_tweet_id: int | None = None


def _peek_text(request: Request) -> str | None:
    """The text a create request carries, for the request log, whatever else is wrong with it."""
    try:
        body = json.loads(request.get_data(as_text=True))
    except ValueError:
        return None
    text = body.get("text") if isinstance(body, dict) else None
    return text if isinstance(text, str) else None


def create_tweet(sb, request: Request) -> Response:
    request.environ[TEXT_KEY] = _peek_text(request)
    principal = authorize(sb, request, scopes=SCOPES)
    draft = parse_draft(json_body(request))
    with sb.db.tx() as conn:
        row = create(sb, conn, author_id=principal.user_id, draft=draft)
    location = f"{sb.config.public_url}/2/tweets/{row['id']}"
    body = {"data": {"id": str(row["id"]), "text": objects.x_escaped(row["text"]), "edit_history_tweet_ids": [str(row["id"])]}}
    return json_response(body, status=201, headers={"location": location})


def _path_error(path: str, message: str) -> ApiError:
    return invalid_request(f"{path}: {message}", parameter=path.removeprefix("$."))


def _only_keys(obj: dict, path: str, allowed: tuple[str, ...]) -> None:
    for key in obj:
        if key not in allowed:
            raise _path_error(f"{path}.{key}", "is not defined in the schema and the schema does not allow additional properties")


def _id_string(value: Any, path: str) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,19}", value):
        raise _path_error(path, f"must be a string of 1 to 19 digits, got {json.dumps(value)}")
    return int(value)


def parse_draft(body: dict) -> Draft:
    """Check a create request's shape (X's CreatePostsRequest schema and the
    sandbox's limits of emulation); the rules that need the world come later."""
    for key in body:
        if key in NOT_EMULATED:
            raise _path_error(f"$.{key}", "is a field of X's API that the X API sandbox does not emulate")
    _only_keys(body, "$", ("text", "reply", "media", "poll", "reply_settings", "quote_tweet_id"))
    text = body.get("text", "")
    if not isinstance(text, str):
        raise _path_error("$.text", "must be a string")
    draft = Draft(text=text)
    attachments = [k for k in ("media", "poll", "quote_tweet_id") if k in body]
    if len(attachments) > 1:
        raise invalid_request(
            f"Only one of media, poll, quote_tweet_id and card_uri may be given; this request has {', '.join(attachments)}."
        )
    if "reply" in body:
        reply = body["reply"]
        if not isinstance(reply, dict):
            raise _path_error("$.reply", "must be an object with in_reply_to_tweet_id")
        _only_keys(reply, "$.reply", ("in_reply_to_tweet_id", "auto_populate_reply_metadata", "exclude_reply_user_ids"))
        if "in_reply_to_tweet_id" not in reply:
            raise _path_error("$.reply.in_reply_to_tweet_id", "is required")
        draft.reply_to = _id_string(reply["in_reply_to_tweet_id"], "$.reply.in_reply_to_tweet_id")
    if "media" in body:
        media = body["media"]
        if not isinstance(media, dict):
            raise _path_error("$.media", "must be an object with media_ids")
        _only_keys(media, "$.media", ("media_ids", "tagged_user_ids"))
        ids = media.get("media_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 4:
            raise _path_error("$.media.media_ids", "must be a list of 1 to 4 media ids")
        draft.media_ids = [_id_string(v, f"$.media.media_ids[{i}]") for i, v in enumerate(ids)]
        if len(set(draft.media_ids)) != len(draft.media_ids):
            raise _path_error("$.media.media_ids", "must not repeat a media id")
    if "poll" in body:
        draft.poll = _parse_poll(body["poll"])
    if "reply_settings" in body:
        if body["reply_settings"] not in REPLY_SETTINGS:
            raise _path_error("$.reply_settings", f"must be one of {', '.join(REPLY_SETTINGS)}")
        draft.reply_settings = body["reply_settings"]
    if "quote_tweet_id" in body:
        draft.quote_tweet_id = _id_string(body["quote_tweet_id"], "$.quote_tweet_id")
    return draft


def _parse_poll(poll: Any) -> dict:
    if not isinstance(poll, dict):
        raise _path_error("$.poll", "must be an object with options and duration_minutes")
    _only_keys(poll, "$.poll", ("options", "duration_minutes", "reply_settings"))
    options = poll.get("options")
    if not isinstance(options, list) or not 2 <= len(options) <= 4:
        raise _path_error("$.poll.options", "must be a list of 2 to 4 choices")
    for i, option in enumerate(options):
        if not isinstance(option, str) or not 1 <= len(option) <= 25:
            raise _path_error(f"$.poll.options[{i}]", "must be a string of 1 to 25 characters")
    minutes = poll.get("duration_minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 5 <= minutes <= 10080:
        raise _path_error("$.poll.duration_minutes", "must be a whole number of minutes from 5 to 10080 (7 days)")
    if "reply_settings" in poll and poll["reply_settings"] not in REPLY_SETTINGS:
        raise _path_error("$.poll.reply_settings", f"must be one of {', '.join(REPLY_SETTINGS)}")
    return {"options": options, "duration_minutes": minutes}


def create(sb, conn: sqlite3.Connection, *, author_id: str, draft: Draft) -> sqlite3.Row:
    """Apply X's rules that depend on the world and store the post (inside ``tx``)."""
    now = time.time()
    text = draft.text
    if not text.strip() and not draft.media_ids:
        raise invalid_request("Post text is empty: give text, or attach media.", parameter="text")
    if text:
        parsed = parse_tweet(text)
        if parsed.weightedLength > MAX_WEIGHTED_LENGTH:
            raise ApiError(400, "Bad Request", TOO_LONG)
        if not parsed.valid and text.strip():
            raise invalid_request("Post text contains characters X does not allow (U+FFFE, U+FEFF or U+FFFF).", parameter="text")
    if draft.quote_tweet_id is not None:
        raise forbidden("Quote posts are available to Enterprise customers only; this app uses the self-serve API.")
    cashtags = {m.group(1).upper() for m in CASHTAG.finditer(text)}
    if len(cashtags) > 1:
        raise forbidden(
            f"A post may contain at most one cashtag on the self-serve API; this one has {len(cashtags)} "
            f"({', '.join('$' + c for c in sorted(cashtags))})."
        )
    parent = _reply_parent(sb, conn, author_id=author_id, reply_to=draft.reply_to)
    media_rows = _attachable_media(conn, author_id=author_id, media_ids=draft.media_ids, now=now)
    if text and conn.execute(
        "SELECT 1 FROM tweets WHERE author_id = ? AND submitted_text = ? AND deleted_at IS NULL AND created_at > ?",
        (author_id, text, now - sb.config.duplicate_window),
    ).fetchone():
        raise forbidden("You are not allowed to create a Tweet with duplicate content.")
    tweet_id = snowflake(conn, "tweet_id")
    rendered, entities, display_end = render_text(conn, text, tweet_id=tweet_id, media=media_rows, author_id=author_id)
    conn.execute(
        "INSERT INTO tweets (id, author_id, text, submitted_text, entities_json, display_end, created_at, "
        "conversation_id, in_reply_to_tweet_id, in_reply_to_user_id, reply_settings, poll_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tweet_id, author_id, rendered, text, json.dumps(entities), display_end, now,
            parent["conversation_id"] if parent else tweet_id,
            parent["id"] if parent else None,
            parent["author_id"] if parent else None,
            draft.reply_settings,
            json.dumps(draft.poll) if draft.poll else None,
        ),
    )
    for position, media in enumerate(media_rows):
        conn.execute(
            "INSERT INTO tweet_media (tweet_id, media_id, position) VALUES (?, ?, ?)", (tweet_id, media["id"], position)
        )
    return conn.execute("SELECT * FROM tweets WHERE id = ?", (tweet_id,)).fetchone()


def _reply_parent(sb, conn: sqlite3.Connection, *, author_id: str, reply_to: int | None) -> sqlite3.Row | None:
    if reply_to is None:
        return None
    parent = conn.execute("SELECT * FROM tweets WHERE id = ? AND deleted_at IS NULL", (reply_to,)).fetchone()
    if parent is None:
        raise forbidden("You attempted to reply to a Tweet that is deleted or not visible to you.")
    if not sb.config.summoned_replies_only:
        return parent
    if parent["author_id"] == author_id and sb.config.allow_self_replies:
        return parent
    username = conn.execute("SELECT username FROM users WHERE id = ?", (author_id,)).fetchone()["username"]
    mentioned = {m["username"].lower() for m in json.loads(parent["entities_json"]).get("mentions", [])}
    if username.lower() not in mentioned:
        raise forbidden(
            "Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged "
            "by the author of the post being replied to."
        )
    return parent


def _attachable_media(conn: sqlite3.Connection, *, author_id: str, media_ids: list[int], now: float) -> list[sqlite3.Row]:
    rows = []
    for media_id in media_ids:
        row = conn.execute("SELECT * FROM media WHERE id = ?", (media_id,)).fetchone()
        owners = {row["owner_id"], *json.loads(row["additional_owners"])} if row else set()
        if row is None or author_id not in owners:
            raise invalid_request(
                f"Your media IDs are invalid: media {media_id} was not uploaded by this user.", parameter="media.media_ids"
            )
        state = media_state(row, now)
        if state != "succeeded":
            raise invalid_request(
                f"Your media IDs are invalid: media {media_id} is not ready (state: {state}). Finalize the upload "
                "and poll GET /2/media/upload?command=STATUS until its state is succeeded.",
                parameter="media.media_ids",
            )
        if row["expires_at"] <= now:
            raise invalid_request(f"Your media IDs are invalid: media {media_id} has expired; upload it again.",
                                  parameter="media.media_ids")
        rows.append(row)
    categories = [r["media_category"] for r in rows]
    if len(rows) > 1 and any(c != "tweet_image" for c in categories):
        raise invalid_request(
            "A post may carry up to 4 images, or 1 GIF, or 1 video, not a mix.", parameter="media.media_ids"
        )
    return rows


def _tco() -> str:
    alphabet = string.ascii_letters + string.digits
    return "https://t.co/" + "".join(secrets.choice(alphabet) for _ in range(10))


def _display_url(url: str) -> str:
    bare = re.sub(r"^https?://", "", url)
    return bare if len(bare) <= 26 else bare[:25] + "…"


def render_text(
    conn: sqlite3.Connection, text: str, *, tweet_id: int, media: list[sqlite3.Row], author_id: str
) -> tuple[str, dict, int]:
    """X's rendering of a post: every link becomes a t.co URL, attached media
    adds a link at the end. Returns the text, its entities (code point
    indices, as in API v2) and the end of the displayable range."""
    text = unicodedata.normalize("NFC", text)
    out, urls, cursor = [], [], 0
    for found in extract_urls_with_indices(text):
        start, end = found["indices"]
        out.append(text[cursor:start])
        short = _tco()
        position = sum(len(part) for part in out)
        expanded = found["url"] if re.match(r"^https?://", found["url"], re.I) else "http://" + found["url"]
        urls.append({
            "start": position, "end": position + len(short), "url": short,
            "expanded_url": expanded, "display_url": _display_url(found["url"]),
        })
        out.append(short)
        cursor = end
    out.append(text[cursor:])
    rendered = "".join(out)
    display_end = len(rendered)
    if media:
        username = conn.execute("SELECT username FROM users WHERE id = ?", (author_id,)).fetchone()["username"]
        kind = "video" if media[0]["media_category"] != "tweet_image" else "photo"
        short = _tco()
        start = len(rendered) + (1 if rendered else 0)
        rendered = f"{rendered} {short}" if rendered else short
        urls.append({
            "start": start, "end": start + len(short), "url": short,
            "expanded_url": f"https://x.com/{username}/status/{tweet_id}/{kind}/1",
            "display_url": f"pic.x.com/{short.rsplit('/', 1)[1]}", "media_key": media[0]["media_key"],
        })
    entities: dict[str, list] = {}
    if urls:
        entities["urls"] = urls
    mentions = []
    for m in MENTION.finditer(rendered[:display_end]):
        user = conn.execute("SELECT id, username FROM users WHERE username = ?", (m.group(1),)).fetchone()
        mention = {"start": m.start(), "end": m.end(), "username": user["username"] if user else m.group(1)}
        if user:
            mention["id"] = user["id"]
        mentions.append(mention)
    if mentions:
        entities["mentions"] = mentions
    hashtags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in HASHTAG.finditer(rendered[:display_end])]
    if hashtags:
        entities["hashtags"] = hashtags
    cashtags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in CASHTAG.finditer(rendered[:display_end])]
    if cashtags:
        entities["cashtags"] = cashtags
    return rendered, entities, display_end


def delete_tweet(sb, request: Request, id: str) -> Response:
    principal = authorize(sb, request, scopes=SCOPES)
    tweet_id = id_param("id", id)
    with sb.db.tx() as conn:
        row = conn.execute("SELECT author_id FROM tweets WHERE id = ? AND deleted_at IS NULL", (tweet_id,)).fetchone()
        if row is None:
            raise not_found("tweet", id)
        if row["author_id"] != principal.user_id:
            raise forbidden("You are not allowed to delete a Tweet that belongs to another user.")
        conn.execute("UPDATE tweets SET deleted_at = ? WHERE id = ?", (time.time(), tweet_id))
    return json_response({"data": {"deleted": True}})


def not_found(resource: str, value: str) -> ApiError:
    return ApiError(
        404,
        "Not Found Error",
        f"Could not find {resource} with id: [{value}].",
        type="https://api.x.com/2/problems/resource-not-found",
        extra={"resource_type": resource, "parameter": "id", "resource_id": value, "value": value},
    )


def get_tweet(sb, request: Request, id: str) -> Response:
    authorize(sb, request, scopes=("tweet.read", "users.read"))
    check_known(request, ("tweet.fields", "expansions", "media.fields", "poll.fields", "user.fields", "place.fields"))
    tweet_id = id_param("id", id)
    fields = field_list(request, "tweet.fields", objects.TWEET_FIELDS)
    expansions = field_list(request, "expansions", objects.TWEET_EXPANSIONS)
    user_fields = field_list(request, "user.fields", objects.USER_FIELDS)
    media_fields = field_list(request, "media.fields", objects.MEDIA_FIELDS)
    poll_fields = field_list(request, "poll.fields", objects.POLL_FIELDS)
    with sb.db.tx() as conn:
        row = conn.execute("SELECT * FROM tweets WHERE id = ? AND deleted_at IS NULL", (tweet_id,)).fetchone()
        if row is None:
            # X answers a lookup of a missing post with 200 and an errors list.
            problem = not_found("tweet", id)
            return json_response({"errors": [{"title": problem.title, "detail": problem.detail,
                                              "type": problem.type, **problem.extra}]})
        body: dict[str, Any] = {"data": objects.tweet_object(sb, conn, row, fields)}
        included = objects.includes(sb, conn, [row], expansions, user_fields=user_fields,
                                    media_fields=media_fields, poll_fields=poll_fields, now=time.time())
    if included:
        body["includes"] = included
    return json_response(body)
