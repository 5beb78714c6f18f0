"""Read-only pages that show a person what the bots did: an index of users, a
timeline per user, newest first, with each thread's replies nested under their
parent, polls, images and videos, and one post's page with the replies under
it, at the paths of X's own (``/<username>`` for the timeline,
``/<username>/status/<id>`` for a post), so that a link to an account or a
post on X opens here when the sandbox is the X in use. Also the bytes of
uploaded media and the users' SVG avatars."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from html import escape

from werkzeug.exceptions import NotFound
from werkzeug.routing import Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from .ids import iso_time
from .media import media_bytes

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f5f7f9;color:#0f1419}
main{max-width:640px;margin:0 auto;padding:24px 16px}
a{color:#1d6fb8;text-decoration:none}a:hover{text-decoration:underline}
h1{font-size:20px;margin:0}header{display:flex;gap:12px;align-items:center;margin-bottom:20px}
.avatar{width:48px;height:48px;border-radius:50%;flex:none}
.sub{color:#536471;font-size:13px}
.post{background:#fff;border:1px solid #e1e8ed;border-radius:12px;padding:12px 14px;margin-bottom:12px}
.replies{border-left:2px solid #cfd9de;margin:10px 0 0 6px;padding-left:12px}
.replies .post{margin-bottom:8px}
.text{white-space:pre-wrap;word-wrap:break-word;margin:6px 0}
.deleted{opacity:.55}.deleted .text{text-decoration:line-through}
.tag{display:inline-block;font-size:12px;border-radius:4px;padding:0 6px;background:#eef3f7;color:#536471}
.media{display:grid;gap:4px;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));margin-top:8px}
.media img,.media video{width:100%;max-height:420px;object-fit:cover;border-radius:8px;border:1px solid #e1e8ed;
background:#000}
.poll{margin-top:8px}.poll div{border:1px solid #cfd9de;border-radius:6px;padding:3px 8px;margin:3px 0}
ul.users{list-style:none;padding:0}ul.users li{display:flex;gap:12px;align-items:center;background:#fff;
border:1px solid #e1e8ed;border-radius:12px;padding:10px 14px;margin-bottom:8px}
.empty{color:#536471}
"""
COLORS = ("#1d9bf0", "#7856ff", "#f91880", "#00ba7c", "#ff7a00", "#ffd400", "#6e767d", "#c1447e")


def rules() -> list[Rule]:
    return [
        Rule("/_sandbox/timeline", methods=["GET"], endpoint=index),
        Rule("/_sandbox/timeline/<username>", methods=["GET"], endpoint=timeline),
        Rule("/_sandbox/media/<media_key>", methods=["GET"], endpoint=media),
        Rule("/_sandbox/avatars/<user_id>.svg", methods=["GET"], endpoint=avatar),
        Rule("/<username>/status/<int:post_id>", methods=["GET"], endpoint=post),
        # An account's profile, at X's path for it: its timeline.
        Rule("/<username>", methods=["GET"], endpoint=timeline),
    ]


def _page(title: str, body: str) -> Response:
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><main>{body}</main></body></html>"
    )
    return Response(html, content_type="text/html; charset=utf-8")


def index(sb, request: Request) -> Response:
    rows = sb.db.all(
        "SELECT u.*, (SELECT COUNT(*) FROM tweets t WHERE t.author_id = u.id AND t.deleted_at IS NULL) AS posts "
        "FROM users u ORDER BY CAST(u.id AS INTEGER)"
    )
    items = "".join(
        f"<li><img class=avatar src='{escape(r['profile_image_url'])}' alt=''>"
        f"<div><a href='/_sandbox/timeline/{escape(r['username'])}'><b>{escape(r['name'])}</b></a> "
        f"<span class=sub>@{escape(r['username'])} · {r['posts']} post{'s' if r['posts'] != 1 else ''}</span></div></li>"
        for r in rows
    )
    return _page("X API sandbox: users", f"<header><h1>X API sandbox</h1></header><ul class=users>{items}</ul>")


def _linked_text(row: sqlite3.Row) -> str:
    """The post's text, escaped, with its links shown as X shows them."""
    text = row["text"][: row["display_end"]]
    urls = [u for u in json.loads(row["entities_json"]).get("urls", []) if u["end"] <= row["display_end"]]
    out, cursor = [], 0
    for url in sorted(urls, key=lambda u: u["start"]):
        out.append(escape(text[cursor:url["start"]]))
        out.append(f"<a href='{escape(url['expanded_url'])}' rel=nofollow>{escape(url['display_url'])}</a>")
        cursor = url["end"]
    out.append(escape(text[cursor:]))
    return "".join(out)


def _media_html(conn: sqlite3.Connection, tweet_id: int) -> str:
    rows = conn.execute(
        "SELECT m.media_key, m.media_category FROM tweet_media tm JOIN media m ON m.id = tm.media_id "
        "WHERE tm.tweet_id = ? ORDER BY tm.position",
        (tweet_id,),
    ).fetchall()
    if not rows:
        return ""
    parts = []
    for r in rows:
        src = f"/_sandbox/media/{escape(r['media_key'])}"
        if r["media_category"] == "tweet_video":
            parts.append(f"<video controls preload=metadata src='{src}'></video>")
        else:
            parts.append(f"<img src='{src}' alt='' loading=lazy>")
    return f"<div class=media>{''.join(parts)}</div>"


def _poll_html(row: sqlite3.Row) -> str:
    if not row["poll_json"]:
        return ""
    poll = json.loads(row["poll_json"])
    options = "".join(f"<div>{escape(o)}</div>" for o in poll["options"])
    ends = _shown_time(row["created_at"] + poll["duration_minutes"] * 60)
    return f"<div class=poll>{options}<span class=sub>poll · ends {ends}</span></div>"


def _shown_time(epoch: float) -> str:
    return iso_time(epoch)[:16].replace("T", " ") + " UTC"


def _post_html(conn: sqlite3.Connection, row: sqlite3.Row, *, users: dict, children: dict, by_id: dict,
               shown: set) -> str:
    author = users[row["author_id"]]
    tags = []
    if row["deleted_at"] is not None:
        tags.append("<span class=tag>deleted</span>")
    if row["reply_settings"]:
        tags.append(f"<span class=tag>replies: {escape(row['reply_settings'])}</span>")
    replying = ""
    if row["in_reply_to_tweet_id"] and row["in_reply_to_tweet_id"] not in shown:
        parent = by_id.get(row["in_reply_to_tweet_id"])
        who = f"@{users[parent['author_id']]['username']}" if parent else "a post that is gone"
        replying = f"<div class=sub>Replying to {escape(who)}</div>"
    replies = "".join(
        _post_html(conn, c, users=users, children=children, by_id=by_id, shown=shown)
        for c in children.get(row["id"], [])
    )
    return (
        f"<article class='post{' deleted' if row['deleted_at'] is not None else ''}' id='p{row['id']}'>"
        f"<div class=sub><b>{escape(author['name'])}</b> @{escape(author['username'])} · "
        f"<time datetime='{iso_time(row['created_at'])}'>{_shown_time(row['created_at'])}</time>"
        f" · <a href='#p{row['id']}'>{row['id']}</a> {''.join(tags)}</div>{replying}"
        f"<div class=text>{_linked_text(row)}</div>{_media_html(conn, row['id'])}{_poll_html(row)}"
        f"{f'<div class=replies>{replies}</div>' if replies else ''}</article>"
    )


def timeline(sb, request: Request, username: str) -> Response:
    with sb.db.tx() as conn:
        user = conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        if user is None:
            raise NotFound(f"There is no user @{username} in the sandbox.")
        everything = conn.execute("SELECT * FROM tweets ORDER BY id").fetchall()
        users = {r["id"]: r for r in conn.execute("SELECT * FROM users")}
        by_id = {r["id"]: r for r in everything}

        def in_own_thread(row: sqlite3.Row) -> bool:
            """Whether an ancestor of the post is this user's (it is then shown nested)."""
            parent = by_id.get(row["in_reply_to_tweet_id"])
            while parent is not None:
                if parent["author_id"] == user["id"]:
                    return True
                parent = by_id.get(parent["in_reply_to_tweet_id"])
            return False

        roots = [r for r in everything if r["author_id"] == user["id"] and not in_own_thread(r)]
        children: dict[int, list] = {}
        for r in everything:
            if r["in_reply_to_tweet_id"] is not None:
                children.setdefault(r["in_reply_to_tweet_id"], []).append(r)
        shown = _with_replies(roots, children)
        posts = "".join(
            _post_html(conn, r, users=users, children=children, by_id=by_id, shown=shown) for r in reversed(roots)
        )
    header = (
        f"<header><img class=avatar src='{escape(user['profile_image_url'])}' alt=''><div>"
        f"<h1>{escape(user['name'])}</h1><div class=sub>@{escape(user['username'])} · id {escape(user['id'])} · "
        f"<a href='/_sandbox/timeline'>all users</a></div></div></header>"
    )
    return _page(f"@{user['username']} · X API sandbox", header + (posts or "<p class=empty>No posts yet.</p>"))


def _with_replies(roots: list[sqlite3.Row], children: dict[int, list]) -> set[int]:
    """The ids of ``roots`` and of every reply under them."""
    shown: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        shown.add(node["id"])
        stack.extend(children.get(node["id"], []))
    return shown


def post(sb, request: Request, username: str, post_id: int) -> Response:
    """One post and the replies under it. As on X, the post is found by its id
    and a URL with another user's name leads to its author's."""
    with sb.db.tx() as conn:
        row = conn.execute("SELECT * FROM tweets WHERE id = ?", (post_id,)).fetchone()
        if row is None:
            raise NotFound(f"There is no post {post_id} in the sandbox.")
        users = {r["id"]: r for r in conn.execute("SELECT * FROM users")}
        author = users[row["author_id"]]
        if author["username"] != username:
            return redirect(f"/{author['username']}/status/{post_id}", code=301)
        thread = conn.execute(
            "WITH RECURSIVE thread(id) AS (SELECT id FROM tweets WHERE in_reply_to_tweet_id = ? "
            "UNION ALL SELECT t.id FROM tweets t JOIN thread ON t.in_reply_to_tweet_id = thread.id) "
            "SELECT tweets.* FROM tweets JOIN thread USING (id) ORDER BY tweets.id",
            (post_id,),
        ).fetchall()
        parent = conn.execute("SELECT * FROM tweets WHERE id = ?", (row["in_reply_to_tweet_id"],)).fetchone()
        by_id = {r["id"]: r for r in [row, *thread, *([parent] if parent else [])]}
        children: dict[int, list] = {}
        for r in thread:
            children.setdefault(r["in_reply_to_tweet_id"], []).append(r)
        shown = _with_replies([row], children)
        html = _post_html(conn, row, users=users, children=children, by_id=by_id, shown=shown)
    name = escape(author["username"])
    header = (
        f"<header><img class=avatar src='{escape(author['profile_image_url'])}' alt=''><div>"
        f"<h1>{escape(author['name'])}</h1><div class=sub>@{name} · "
        f"<a href='/_sandbox/timeline/{name}#p{post_id}'>timeline</a> · "
        f"<a href='/_sandbox/timeline'>all users</a></div></div></header>"
    )
    return _page(f"@{author['username']}: post {post_id} · X API sandbox", header + html)


def media(sb, request: Request, media_key: str) -> Response:
    found = media_bytes(sb, media_key)
    if found is None:
        raise NotFound(f"There is no finalized media {media_key}.")
    data, media_type = found
    return Response(data, content_type=media_type, headers={"Cache-Control": "max-age=86400"})


def avatar(sb, request: Request, user_id: str) -> Response:
    row = sb.db.one("SELECT username, name FROM users WHERE id = ?", (user_id,))
    if row is None:
        raise NotFound(f"There is no user {user_id}.")
    color = COLORS[int(hashlib.sha256(user_id.encode()).hexdigest(), 16) % len(COLORS)]
    initials = "".join(w[0] for w in row["name"].split()[:2]).upper() or row["username"][0].upper()
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 96 96' width='96' height='96'>"
        f"<circle cx='48' cy='48' r='48' fill='{color}'/>"
        "<text x='48' y='50' font-family='system-ui,sans-serif' font-size='38' font-weight='600' fill='#fff' "
        f"text-anchor='middle' dominant-baseline='middle'>{escape(initials)}</text></svg>"
    )
    return Response(svg, content_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})
