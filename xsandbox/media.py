"""Media upload, API v2: chunked ``initialize`` / ``append`` / ``finalize`` with
``STATUS`` polling, and the one-shot upload for small images. The bytes are
kept in SQLite (the timelines show them). Videos and GIFs pass through X's
processing states (pending, in_progress, succeeded) before a post may use them."""

from __future__ import annotations

import base64
import binascii
import json
import math
import sqlite3
import struct
import time
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .errors import invalid_request, json_response
from .ids import snowflake
from .params import check_known, id_param, json_body
from .ratelimit import authorize

SCHEMA = """
CREATE TABLE IF NOT EXISTS media (
    id INTEGER PRIMARY KEY,         -- a snowflake, rendered as a string
    media_key TEXT NOT NULL UNIQUE, -- '3_<id>' photo, '16_<id>' GIF, '7_<id>' video
    owner_id TEXT NOT NULL REFERENCES users(id),
    additional_owners TEXT NOT NULL DEFAULT '[]',  -- JSON list of user ids
    media_type TEXT NOT NULL,
    media_category TEXT NOT NULL,
    total_bytes INTEGER NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    finalized_at REAL,              -- NULL while the upload is open
    processing_secs REAL NOT NULL DEFAULT 0,  -- time in each processing state, fixed at finalize
    width INTEGER,
    height INTEGER,
    alt_text TEXT,                  -- set through POST /2/media/metadata
    data BLOB                       -- the whole file, once finalized (a video's stays in its segments)
);
CREATE TABLE IF NOT EXISTS media_segments (
    media_id INTEGER NOT NULL REFERENCES media(id),
    segment_index INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (media_id, segment_index)
);
"""

SCOPES = ("media.write",)
MB = 1024 * 1024
# category -> (accepted types, size limit, media key prefix); X's limits for posts.
CATEGORIES: dict[str, tuple[tuple[str, ...], int, str]] = {
    "tweet_image": (("image/jpeg", "image/png", "image/webp"), 5 * MB, "3"),
    "tweet_gif": (("image/gif",), 15 * MB, "16"),
    "tweet_video": (("video/mp4", "video/quicktime"), 512 * MB, "7"),
}
UPLOAD_LIFETIME_SECS = 24 * 60 * 60
# Enough of a file's start for ``sniff``.
SNIFF_BYTES = 16
# A JSON body carries bytes base64-encoded, a third larger than the file.
MAX_SEGMENT_BODY = 16 * MB


def rules() -> list[Rule]:
    return [
        Rule("/2/media/upload/initialize", methods=["POST"], endpoint=initialize),
        Rule("/2/media/upload/<id>/append", methods=["POST"], endpoint=append),
        Rule("/2/media/upload/<id>/finalize", methods=["POST"], endpoint=finalize),
        Rule("/2/media/upload", methods=["GET"], endpoint=status),
        Rule("/2/media/upload", methods=["POST"], endpoint=upload),
        Rule("/2/media/metadata", methods=["POST"], endpoint=metadata),
    ]


def media_state(row: sqlite3.Row, now: float) -> str:
    """Where an upload is: 'uploading' (not finalized), then for videos and
    GIFs 'pending' and 'in_progress', each for ``processing_secs``, then 'succeeded'."""
    if row["finalized_at"] is None:
        return "uploading"
    elapsed = now - row["finalized_at"]
    if elapsed < row["processing_secs"]:
        return "pending"
    if elapsed < 2 * row["processing_secs"]:
        return "in_progress"
    return "succeeded"


def sniff(data: bytes) -> str | None:
    """The media type the bytes really are."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return None


def image_size(data: bytes, media_type: str) -> tuple[int, int] | None:
    """Width and height read from an image's header, where the format makes it easy."""
    if media_type == "image/png" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if media_type == "image/gif" and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if media_type == "image/jpeg":
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            i += 2 + length
    return None


def _category_for(media_type: str) -> str | None:
    return next((c for c, (types, _, _) in CATEGORIES.items() if media_type in types), None)


def _check_type_and_size(media_type: str, category: str, size: int) -> None:
    if category not in CATEGORIES:
        raise invalid_request(
            f"media_category {category!r} is not one the X API sandbox accepts for posts: use one of "
            f"{', '.join(CATEGORIES)}.", parameter="media_category")
    types, limit, _ = CATEGORIES[category]
    if media_type not in types:
        raise invalid_request(
            f"media_type {media_type!r} does not fit media_category {category!r}, which takes {', '.join(types)}.",
            parameter="media_type")
    if size > limit:
        raise invalid_request(
            f"The file is {size} bytes; {category} files may be at most {limit // MB} MB ({limit} bytes).",
            parameter="total_bytes")
    if size <= 0:
        raise invalid_request("total_bytes must be at least 1.", parameter="total_bytes")


def _create(conn: sqlite3.Connection, *, owner_id: str, media_type: str, category: str, total_bytes: int,
            additional_owners: list[str], now: float) -> sqlite3.Row:
    media_id = snowflake(conn, "media_id")
    conn.execute(
        "INSERT INTO media (id, media_key, owner_id, additional_owners, media_type, media_category, total_bytes, "
        "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (media_id, f"{CATEGORIES[category][2]}_{media_id}", owner_id, json.dumps(additional_owners), media_type,
         category, total_bytes, now, now + UPLOAD_LIFETIME_SECS),
    )
    return conn.execute("SELECT * FROM media WHERE id = ?", (media_id,)).fetchone()


def initialize(sb, request: Request) -> Response:
    principal = authorize(sb, request, scopes=SCOPES)
    body = json_body(request)
    unknown = set(body) - {"media_type", "total_bytes", "media_category", "additional_owners", "shared"}
    if unknown:
        raise invalid_request(f"Unknown field(s) {', '.join(sorted(unknown))}: initialize takes media_type, "
                              "total_bytes, media_category, additional_owners and shared.")
    media_type, total = body.get("media_type"), body.get("total_bytes")
    if not isinstance(media_type, str):
        raise invalid_request("media_type is required, e.g. \"image/png\" or \"video/mp4\".", parameter="media_type")
    if not isinstance(total, int) or isinstance(total, bool):
        raise invalid_request("total_bytes is required: the size of the whole file in bytes.", parameter="total_bytes")
    category = body.get("media_category") or _category_for(media_type) or ""
    owners = body.get("additional_owners", [])
    if not isinstance(owners, list) or not all(isinstance(o, str) and o.isdigit() for o in owners):
        raise invalid_request("additional_owners must be a list of user ids.", parameter="additional_owners")
    _check_type_and_size(media_type, category, total)
    now = time.time()
    with sb.db.tx() as conn:
        row = _create(conn, owner_id=principal.user_id, media_type=media_type, category=category,
                      total_bytes=total, additional_owners=owners, now=now)
    return json_response({"data": {
        "id": str(row["id"]), "media_key": row["media_key"], "expires_after_secs": UPLOAD_LIFETIME_SECS,
    }})


def _own_upload(conn: sqlite3.Connection, raw_id: str, user_id: str, parameter: str) -> sqlite3.Row:
    media_id = id_param(parameter, raw_id)
    row = conn.execute("SELECT * FROM media WHERE id = ?", (media_id,)).fetchone()
    if row is None or row["owner_id"] != user_id:
        raise invalid_request(f"There is no media upload {raw_id} of this user.", parameter=parameter)
    return row


def _payload(request: Request) -> tuple[bytes | None, dict[str, str]]:
    """The ``media`` bytes and the other fields of a multipart or JSON body.
    In multipart the file part carries raw bytes; a plain field, base64."""
    request.max_form_memory_size = MAX_SEGMENT_BODY
    if request.mimetype == "application/json":
        body = json_body(request)
        fields = {k: v for k, v in body.items() if k != "media"}
        encoded = body.get("media")
        return (_base64(encoded) if isinstance(encoded, str) else None), fields
    if request.mimetype != "multipart/form-data":
        raise invalid_request("Send the media as multipart/form-data (a 'media' file part) or as JSON with "
                              "base64 'media'.")
    fields = {k: v for k, v in request.form.items() if k != "media"}
    if "media" in request.files:
        return request.files["media"].read(), fields
    if "media" in request.form:
        return _base64(request.form["media"]), fields
    return None, fields


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_request("media is not valid base64; send raw bytes as a multipart file part instead.",
                              parameter="media") from None


def append(sb, request: Request, id: str) -> Response:
    principal = authorize(sb, request, scopes=SCOPES)
    data, fields = _payload(request)
    if data is None:
        raise invalid_request("media is required: the bytes of this segment.", parameter="media")
    raw_index = fields.get("segment_index")
    try:
        index = int(raw_index)
    except (TypeError, ValueError):
        raise invalid_request("segment_index is required: a whole number from 0 to 999.",
                              parameter="segment_index") from None
    if not 0 <= index <= 999:
        raise invalid_request("segment_index must be from 0 to 999.", parameter="segment_index")
    with sb.db.tx() as conn:
        row = _own_upload(conn, id, principal.user_id, "id")
        if row["finalized_at"] is not None:
            raise invalid_request(f"Media {id} is already finalized; start a new upload to send other bytes.")
        if row["expires_at"] <= time.time():
            raise invalid_request(f"The upload session of media {id} has expired.")
        others = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM media_segments WHERE media_id = ? AND segment_index != ?",
            (row["id"], index),
        ).fetchone()[0]
        if others + len(data) > row["total_bytes"]:
            raise invalid_request(
                f"Segments exceed the declared total_bytes ({others + len(data)} > {row['total_bytes']}).",
                parameter="media")
        # A segment sent again (a retry) replaces the earlier copy.
        conn.execute(
            "INSERT INTO media_segments (media_id, segment_index, data) VALUES (?, ?, ?) "
            "ON CONFLICT(media_id, segment_index) DO UPDATE SET data = excluded.data",
            (row["id"], index, data),
        )
    return json_response({"data": {"expires_at": int(row["expires_at"])}})


def _describe(sb, row: sqlite3.Row, now: float) -> dict[str, Any]:
    """The data of finalize, STATUS and one-shot answers."""
    data: dict[str, Any] = {
        "id": str(row["id"]),
        "media_key": row["media_key"],
        "size": row["total_bytes"],
        "expires_after_secs": max(0, int(row["expires_at"] - now)),
    }
    if row["media_category"] == "tweet_image":
        image: dict[str, Any] = {"image_type": row["media_type"]}
        if row["width"]:
            image.update(w=row["width"], h=row["height"])
        data["image"] = image
        return data
    state = media_state(row, now)
    secs = row["processing_secs"]
    if state == "pending":
        info = {"state": "pending", "check_after_secs": max(1, math.ceil(row["finalized_at"] + secs - now))}
    elif state == "in_progress":
        done = (now - row["finalized_at"] - secs) / secs
        info = {"state": "in_progress", "check_after_secs": max(1, math.ceil(row["finalized_at"] + 2 * secs - now)),
                "progress_percent": min(99, int(done * 100))}
    else:
        info = {"state": "succeeded", "progress_percent": 100}
        data["video"] = {"video_type": row["media_type"]}
    data["processing_info"] = info
    return data


def _complete(sb, conn: sqlite3.Connection, row: sqlite3.Row, data: bytes, now: float, *,
              in_segments: bool = False) -> sqlite3.Row:
    """Check the whole file and make it usable (images) or start processing it.
    ``in_segments``: ``data`` is the file's start, and the file stays in its
    segments (a video: copying hundreds of megabytes into one value here
    would hold every other request of the sandbox, which X does not)."""
    real = sniff(data)
    if real != row["media_type"]:
        raise invalid_request(
            f"The bytes of media {row['id']} are not {row['media_type']} "
            f"({'they look like ' + real if real else 'the format is not recognised'}).", parameter="media")
    size = image_size(data, real) if real.startswith("image/") else None
    processing = 0.0 if row["media_category"] == "tweet_image" else float(sb.config.video_processing_secs)
    conn.execute(
        "UPDATE media SET data = ?, finalized_at = ?, processing_secs = ?, width = ?, height = ? WHERE id = ?",
        (None if in_segments else data, now, processing, size[0] if size else None, size[1] if size else None,
         row["id"]),
    )
    if not in_segments:
        conn.execute("DELETE FROM media_segments WHERE media_id = ?", (row["id"],))
    return conn.execute("SELECT * FROM media WHERE id = ?", (row["id"],)).fetchone()


def finalize(sb, request: Request, id: str) -> Response:
    principal = authorize(sb, request, scopes=SCOPES)
    now = time.time()
    with sb.db.tx() as conn:
        row = _own_upload(conn, id, principal.user_id, "id")
        if row["finalized_at"] is None:
            segments = conn.execute(
                "SELECT segment_index, LENGTH(data) AS size FROM media_segments WHERE media_id = ? "
                "ORDER BY segment_index",
                (row["id"],),
            ).fetchall()
            indexes = [s["segment_index"] for s in segments]
            if indexes != list(range(len(indexes))):
                missing = sorted(set(range(max(indexes, default=-1) + 1)) - set(indexes))
                raise invalid_request(f"Segments are missing: append segment_index {missing} before finalizing."
                                      if segments else "No segments were appended; append the bytes first.")
            size = sum(s["size"] for s in segments)
            if size != row["total_bytes"]:
                raise invalid_request(
                    f"Segments do not add up to provided total file size ({size} of {row['total_bytes']} bytes).")
            video = row["media_category"] == "tweet_video"
            data = _file(conn, row["id"], head=SNIFF_BYTES if video else None)
            row = _complete(sb, conn, row, data, now, in_segments=video)
    return json_response({"data": _describe(sb, row, now)})


def status(sb, request: Request) -> Response:
    principal = authorize(sb, request, scopes=SCOPES)
    check_known(request, ("command", "media_id"))
    command = request.args.get("command", "STATUS")
    if command != "STATUS":
        raise invalid_request(f"command must be STATUS, got {command!r}.", parameter="command")
    raw_id = request.args.get("media_id")
    if raw_id is None:
        raise invalid_request("media_id is required.", parameter="media_id")
    with sb.db.tx() as conn:
        row = _own_upload(conn, raw_id, principal.user_id, "media_id")
    if row["finalized_at"] is None:
        raise invalid_request(f"Media {raw_id} is not finalized yet; finalize the upload first.", parameter="media_id")
    return json_response({"data": _describe(sb, row, time.time())})


def upload(sb, request: Request) -> Response:
    """One-shot upload of a small image."""
    principal = authorize(sb, request, scopes=SCOPES)
    data, fields = _payload(request)
    if data is None:
        raise invalid_request("media is required: the image's bytes.", parameter="media")
    unknown = set(fields) - {"media_category", "media_type", "additional_owners"}
    if unknown:
        raise invalid_request(f"Unknown field(s) {', '.join(sorted(unknown))}: the one-shot upload takes media, "
                              "media_category, media_type and additional_owners.")
    category = fields.get("media_category")
    if category is None:
        raise invalid_request("media_category is required, e.g. tweet_image.", parameter="media_category")
    if category != "tweet_image":
        raise invalid_request(f"The one-shot upload takes images (tweet_image); upload {category} with "
                              "initialize, append and finalize.", parameter="media_category")
    media_type = fields.get("media_type") or sniff(data) or "application/octet-stream"
    owners = [o for o in str(fields.get("additional_owners", "")).split(",") if o]
    if not all(o.isdigit() for o in owners):
        raise invalid_request("additional_owners must be comma-separated user ids.", parameter="additional_owners")
    _check_type_and_size(media_type, category, len(data))
    now = time.time()
    with sb.db.tx() as conn:
        row = _create(conn, owner_id=principal.user_id, media_type=media_type, category=category,
                      total_bytes=len(data), additional_owners=owners, now=now)
        row = _complete(sb, conn, row, data, now)
    return json_response({"data": _describe(sb, row, now)})


def _file(conn: sqlite3.Connection, media_id: int, *, head: int | None = None) -> bytes:
    """An upload's bytes from its segments: all of them, or the first ``head``."""
    if head is not None:
        first = conn.execute("SELECT substr(data, 1, ?) FROM media_segments WHERE media_id = ? AND segment_index = 0",
                             (head, media_id)).fetchone()
        return bytes(first[0]) if first else b""
    return b"".join(s["data"] for s in conn.execute(
        "SELECT data FROM media_segments WHERE media_id = ? ORDER BY segment_index", (media_id,)))


def media_bytes(sb, media_key: str) -> tuple[bytes, str] | None:
    """A finalized file and its type, for the timeline pages."""
    with sb.db.tx() as conn:
        row = conn.execute("SELECT id, data, media_type FROM media WHERE media_key = ? AND finalized_at IS NOT NULL",
                           (media_key,)).fetchone()
        if row is None:
            return None
        return (row["data"] if row["data"] is not None else _file(conn, row["id"])), row["media_type"]



ALT_TEXT_MAX = 1000


def metadata(sb, request: Request) -> Response:
    """Alt text for an uploaded file (``metadata.alt_text.text``, up to 1000 characters)."""
    principal = authorize(sb, request, scopes=SCOPES)
    body = json_body(request)
    unknown = set(body) - {"id", "metadata"}
    if unknown:
        raise invalid_request(f"Unknown field(s) {', '.join(sorted(unknown))}: give id and metadata.")
    raw_id, meta = body.get("id"), body.get("metadata")
    if not isinstance(raw_id, str):
        raise invalid_request("id is required: the media id, as a string.", parameter="id")
    alt = meta.get("alt_text") if isinstance(meta, dict) else None
    text = alt.get("text") if isinstance(alt, dict) else None
    if not isinstance(text, str) or len(text) > ALT_TEXT_MAX:
        raise invalid_request(f"metadata.alt_text.text must be a string of at most {ALT_TEXT_MAX} characters.",
                              parameter="metadata")
    with sb.db.tx() as conn:
        row = _own_upload(conn, raw_id, principal.user_id, "id")
        conn.execute("UPDATE media SET alt_text = ? WHERE id = ?", (text, row["id"]))
    return json_response({"data": {"id": raw_id, "associated_metadata": {"alt_text": {"text": text}}}})
