"""The control API under ``/_sandbox/``: not part of X. Tests, scripts and
benchmarks use it to reset the world, inject faults, shrink rate limits, change
settings, create users and mint, expire or revoke their tokens, and to read
back what the platform did (every post, every request)."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from . import users as users_module
from .faults import parse_rule
from .ratelimit import normalize_endpoint, parse_windows
from .tokens import expire_user_tokens, mint_oauth1, mint_oauth2, revoke_user_tokens

DEFAULT_SCOPES = "tweet.read tweet.write users.read offline.access media.write"
# Settings that may change at run time; the rest are fixed at start.
SETTINGS = {
    "duplicate_window": (int, "whole seconds >= 0"),
    "summoned_replies_only": (bool, "true or false"),
    "allow_self_replies": (bool, "true or false"),
    "video_processing_secs": (float, "seconds >= 0"),
}
MAX_BULK_USERS = 10_000


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def rules() -> list[Rule]:
    routes = [
        ("/_sandbox/health", ["GET"], health),
        ("/_sandbox/reset", ["POST"], reset),
        ("/_sandbox/faults", ["GET", "PUT", "POST", "DELETE"], faults),
        ("/_sandbox/rate-limits", ["GET", "PUT", "DELETE"], rate_limits),
        ("/_sandbox/settings", ["GET", "PUT"], settings),
        ("/_sandbox/users", ["GET", "POST"], users),
        ("/_sandbox/users/<user_id>/tokens", ["POST"], tokens),
        ("/_sandbox/users/<user_id>/expire-tokens", ["POST"], expire_tokens),
        ("/_sandbox/users/<user_id>/revoke", ["POST"], revoke),
        ("/_sandbox/callbacks", ["GET", "POST"], callbacks),
        ("/_sandbox/posts", ["GET"], posts),
        ("/_sandbox/requests", ["GET"], requests_log),
    ]
    return [Rule(path, methods=methods, endpoint=_json_errors(handler)) for path, methods, handler in routes]


def _json_errors(handler):
    """Answer a ControlError as ``{"error": "..."}``: the control API is for people and scripts."""
    def wrapped(sb, request: Request, **values) -> Response:
        try:
            return handler(sb, request, **values)
        except ControlError as exc:
            return _json({"error": str(exc)}, exc.status)
    wrapped.__name__ = handler.__name__
    return wrapped


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def _body(request: Request) -> Any:
    raw = request.get_data(as_text=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ControlError(f"the body is not valid JSON: {exc}") from None


def _object(request: Request) -> dict:
    body = _body(request)
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def health(sb, request: Request) -> Response:
    counts = sb.db.one(
        "SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM tweets) AS posts, "
        "(SELECT COUNT(*) FROM api_requests) AS requests"
    )
    return _json({"status": "ok", "uptime_secs": round(time.time() - sb.started_at, 3), **dict(counts),
                  "fast": sb.config.fast})


def reset(sb, request: Request) -> Response:
    """Back to the world the sandbox started with: seeded users only, no
    tokens, posts, media, faults or counted requests, default limits and settings."""
    sb.db.reset()
    sb.faults.reset()
    sb.rate_limits.reset()
    for f in dataclasses.fields(sb.config):
        value = getattr(sb.initial_config, f.name)
        setattr(sb.config, f.name, list(value) if isinstance(value, list) else value)
    return _json({"reset": True})


def faults(sb, request: Request) -> Response:
    if request.method == "DELETE":
        sb.faults.clear()
    elif request.method in ("PUT", "POST"):
        body = _body(request)
        seed = None
        if isinstance(body, dict) and "faults" in body:
            seed = body.get("seed")
            if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
                raise ControlError("\"seed\" must be a whole number")
            raw = body["faults"]
        else:
            raw = body
        items = raw if isinstance(raw, list) else [raw]
        try:
            parsed = [parse_rule(item) for item in items]
        except ValueError as exc:
            raise ControlError(str(exc)) from None
        if request.method == "PUT":
            sb.faults.replace(parsed, seed=seed)
        elif seed is not None:
            raise ControlError("a seed is set with PUT, which replaces every rule")
        else:
            sb.faults.add(parsed)
    return _json({"faults": sb.faults.rules(), "seed": sb.faults.seed})


def rate_limits(sb, request: Request) -> Response:
    if request.method == "DELETE":
        sb.rate_limits.reset()
    elif request.method == "PUT":
        body = _object(request)
        try:
            changes = {
                normalize_endpoint(k): parse_windows(normalize_endpoint(k), v) for k, v in body.items()
            }
        except ValueError as exc:
            raise ControlError(str(exc)) from None
        sb.rate_limits.override(changes)
    return _json({"rate_limits": sb.rate_limits.table()})


def _settings(sb) -> dict:
    return {name: getattr(sb.config, name) for name in SETTINGS}


def settings(sb, request: Request) -> Response:
    if request.method == "PUT":
        body = _object(request)
        for name, value in body.items():
            if name not in SETTINGS:
                raise ControlError(f"unknown setting {name!r}; these can change at run time: {', '.join(SETTINGS)}")
            kind, expected = SETTINGS[name]
            valid = (
                isinstance(value, bool) if kind is bool
                else isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
                and (kind is float or float(value).is_integer())
            )
            if not valid:
                raise ControlError(f"{name} must be {expected}")
        for name, value in body.items():
            setattr(sb.config, name, SETTINGS[name][0](value))
    return _json({"settings": _settings(sb)})


def _user_json(sb, row) -> dict:
    return {"id": row["id"], "username": row["username"], "name": row["name"],
            "profile_image_url": f"{sb.config.public_url}{row['profile_image_url']}"}


def _mint(sb, conn, user_id: str, spec: Any) -> dict:
    """Tokens for a user. ``spec``: ``{"oauth2": {"scopes": "...", "ttl": 7200} | true,
    "oauth1": {"access_type": "write"} | true}``; empty means both with defaults."""
    if spec in (None, {}, True):
        spec = {"oauth2": True, "oauth1": True}
    if not isinstance(spec, dict) or set(spec) - {"oauth1", "oauth2"}:
        raise ControlError("tokens: give {\"oauth2\": {\"scopes\": \"...\", \"ttl\": 7200}, \"oauth1\": true}")
    minted: dict[str, Any] = {}
    if spec.get("oauth2", False) is not False:
        options = spec["oauth2"] if isinstance(spec["oauth2"], dict) else {}
        scopes = options.get("scopes", DEFAULT_SCOPES)
        if isinstance(scopes, list):
            scopes = " ".join(scopes)
        ttl = options.get("ttl", sb.config.access_token_ttl)
        if not isinstance(scopes, str) or not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1:
            raise ControlError("oauth2: \"scopes\" is a space-separated string, \"ttl\" whole seconds >= 1")
        minted["oauth2"] = mint_oauth2(conn, user_id=user_id, client_id=sb.config.client_id, scopes=scopes, ttl=ttl)
    if spec.get("oauth1", False) is not False:
        options = spec["oauth1"] if isinstance(spec["oauth1"], dict) else {}
        access_type = options.get("access_type", "write")
        if access_type not in ("read", "write"):
            raise ControlError("oauth1: \"access_type\" is read or write")
        token, secret = mint_oauth1(conn, user_id=user_id, consumer_key=sb.config.consumer_key,
                                    access_type=access_type)
        minted["oauth1"] = {"oauth_token": token, "oauth_token_secret": secret,
                            "consumer_key": sb.config.consumer_key, "consumer_secret": sb.config.consumer_secret}
    return minted


def users(sb, request: Request) -> Response:
    if request.method == "GET":
        rows = sb.db.all("SELECT * FROM users ORDER BY CAST(id AS INTEGER)")
        return _json({"users": [_user_json(sb, r) for r in rows]})
    body = _object(request)
    unknown = set(body) - {"username", "name", "tokens", "count", "username_prefix"}
    if unknown:
        raise ControlError(f"unknown field(s) {', '.join(sorted(unknown))}")
    if "count" in body:
        count, prefix = body["count"], body.get("username_prefix", "user")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_BULK_USERS:
            raise ControlError(f"\"count\" must be a whole number from 1 to {MAX_BULK_USERS}")
        names = [f"{prefix}{i:0{len(str(count))}d}" for i in range(1, count + 1)]
    elif isinstance(body.get("username"), str):
        names = [body["username"]]
    else:
        raise ControlError("give \"username\" (and optionally \"name\", \"tokens\"), or \"count\" and \"username_prefix\"")
    created = []
    with sb.db.tx() as conn:
        for username in names:
            try:
                row = users_module.create_user(conn, username=username, name=body.get("name") if len(names) == 1 else None)
            except ValueError as exc:
                raise ControlError(str(exc), 409 if "taken" in str(exc) else 400) from None
            user = _user_json(sb, row)
            if "tokens" in body:
                user["tokens"] = _mint(sb, conn, row["id"], body["tokens"])
            created.append(user)
    return _json(created[0] if "count" not in body else {"users": created}, 201)


def _user(sb, user_id: str):
    row = sb.db.one("SELECT * FROM users WHERE id = ?", (user_id,))
    if row is None:
        raise ControlError(f"there is no user {user_id}", 404)
    return row


def tokens(sb, request: Request, user_id: str) -> Response:
    _user(sb, user_id)
    spec = _body(request)
    with sb.db.tx() as conn:
        minted = _mint(sb, conn, user_id, spec)
    return _json({"user_id": user_id, **minted}, 201)


def expire_tokens(sb, request: Request, user_id: str) -> Response:
    _user(sb, user_id)
    with sb.db.tx() as conn:
        n = expire_user_tokens(conn, user_id)
    return _json({"user_id": user_id, "expired": n})


def revoke(sb, request: Request, user_id: str) -> Response:
    _user(sb, user_id)
    with sb.db.tx() as conn:
        n = revoke_user_tokens(conn, user_id)
    return _json({"user_id": user_id, "revoked": n})


def callbacks(sb, request: Request) -> Response:
    if request.method == "POST":
        url = _object(request).get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ControlError("give {\"url\": \"http(s)://...\"}")
        with sb.db.tx() as conn:
            conn.execute("INSERT OR IGNORE INTO registered_callbacks (url) VALUES (?)", (url,))
    registered = [r["url"] for r in sb.db.all("SELECT url FROM registered_callbacks ORDER BY url")]
    return _json({"configured": list(sb.config.callbacks), "registered": registered},
                 201 if request.method == "POST" else 200)


def _since(request: Request) -> float:
    raw = request.args.get("since", "0")
    try:
        return float(raw)
    except ValueError:
        raise ControlError(f"since must be epoch seconds, got {raw!r}") from None


def posts(sb, request: Request) -> Response:
    """Every post ever created (deleted ones flagged), oldest first, with the
    number of create requests that carried its text."""
    where, params = ["t.created_at >= ?"], [_since(request)]
    if "author_id" in request.args:
        where.append("t.author_id = ?")
        params.append(request.args["author_id"])
    if "username" in request.args:
        where.append("u.username = ?")
        params.append(request.args["username"])
    rows = sb.db.all(
        "SELECT t.*, u.username, "  # nosec B608: fixed SQL fragments; every value is a bound parameter
        "(SELECT COUNT(*) FROM api_requests r WHERE r.endpoint = 'POST /2/tweets' AND r.user_id = t.author_id "
        " AND r.text = t.submitted_text) AS request_count, "
        "(SELECT json_group_array(m.media_key) FROM tweet_media tm JOIN media m ON m.id = tm.media_id "
        " WHERE tm.tweet_id = t.id) AS media_keys "
        f"FROM tweets t JOIN users u ON u.id = t.author_id WHERE {' AND '.join(where)} ORDER BY t.id",
        tuple(params),
    )
    return _json({"posts": [{
        "id": str(r["id"]),
        "author_id": r["author_id"],
        "username": r["username"],
        "text": r["text"],
        "submitted_text": r["submitted_text"],
        "created_at": r["created_at"],
        "reply_to": str(r["in_reply_to_tweet_id"]) if r["in_reply_to_tweet_id"] else None,
        "conversation_id": str(r["conversation_id"]),
        "media_keys": json.loads(r["media_keys"]),
        "poll": json.loads(r["poll_json"]) if r["poll_json"] else None,
        "reply_settings": r["reply_settings"],
        "deleted": r["deleted_at"] is not None,
        "request_count": r["request_count"],
    } for r in rows]})


def requests_log(sb, request: Request) -> Response:
    """The requests to X's endpoints, oldest first, and ``early_retries``: those
    that came back before the reset a 429 had given the same user on the same endpoint."""
    where, params = ["arrived_at >= ?"], [_since(request)]
    if "endpoint" in request.args:
        where.append("endpoint = ?")
        params.append(normalize_endpoint(request.args["endpoint"]))
    if "user_id" in request.args:
        where.append("user_id = ?")
        params.append(request.args["user_id"])
    rows = sb.db.all(f"SELECT * FROM api_requests WHERE {' AND '.join(where)} ORDER BY id", tuple(params))  # nosec B608: fixed SQL fragments; every value is a bound parameter
    log = [{k: r[k] for k in ("id", "arrived_at", "endpoint", "path", "user_id", "status", "outcome", "text", "retry_at")}
           for r in rows]
    told: dict[tuple[str, str], int] = {}
    early = []
    for entry in log:
        key = (entry["endpoint"], entry["user_id"])
        if entry["user_id"] is None:
            continue
        if key in told and entry["arrived_at"] < told[key]:
            early.append(entry)
        if entry["retry_at"] is not None:
            told[key] = max(told.get(key, 0), entry["retry_at"])
    return _json({"requests": log, "early_retries": early})
