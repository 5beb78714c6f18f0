"""The consent page shared by X's three authorize URLs (OAuth 1.0a authorize and
authenticate, OAuth 2.0 authorize), and who "the signed-in X user" is.

A person picks an existing user or types a new username and presses Authorize
or Cancel. Scripts and tests consent the same way: they POST the form to the
authorize URL with ``username`` (an existing username, or a new one, which is
created) and ``decision=allow|deny``.

A sandbox has no X login, so the user who last approved an app in this browser
is remembered in a cookie; ``/oauth/authenticate`` uses it to skip the prompt
for an app that user already approved, as X does for a signed-in user."""

from __future__ import annotations

import html
import re
import sqlite3
import time
from dataclasses import dataclass

from werkzeug.wrappers import Request, Response

SIGNED_IN_COOKIE = "xsandbox_user"
# X's rule for usernames: 1 to 15 letters, digits or underscores.
USERNAME_RE = re.compile(r"[A-Za-z0-9_]{1,15}")
# The form's own fields; everything else posted with it is the authorize request.
CONSENT_FIELDS = frozenset({"username", "new_username", "decision"})


class ConsentError(Exception):
    """A consent form that cannot be acted on; the message says why."""


@dataclass(frozen=True)
class Decision:
    allow: bool
    username: str  # empty when the user cancelled


def read_decision(request: Request) -> Decision:
    decision = request.form.get("decision", "")
    if decision == "deny":
        return Decision(allow=False, username="")
    if decision != "allow":
        raise ConsentError("Send decision=allow to authorize the app or decision=deny to cancel.")
    username = (request.form.get("new_username", "").strip() or request.form.get("username", "").strip()).lstrip("@")
    if not username:
        raise ConsentError("Pick a user or type a new username to authorize the app.")
    if not USERNAME_RE.fullmatch(username):
        raise ConsentError(
            f"{username!r} is not a valid username: use 1 to 15 letters, digits or underscores."
        )
    return Decision(allow=True, username=username)


def resolve_user(conn: sqlite3.Connection, username: str) -> sqlite3.Row:
    """The user called ``username``, created with a fresh numeric id if new."""
    row = conn.execute("SELECT id, username, name FROM users WHERE username = ?", (username,)).fetchone()
    if row is not None:
        return row
    user_id = str(conn.execute("SELECT COALESCE(MAX(CAST(id AS INTEGER)), 1000) + 1 FROM users").fetchone()[0])
    conn.execute(
        "INSERT INTO users (id, username, name, profile_image_url, created_at) VALUES (?, ?, ?, ?, ?)",
        (user_id, username, username, f"/_sandbox/avatars/{user_id}.svg", time.time()),
    )
    return conn.execute("SELECT id, username, name FROM users WHERE id = ?", (user_id,)).fetchone()


def record_approval(conn: sqlite3.Connection, user_id: str, app: str) -> None:
    conn.execute("INSERT OR IGNORE INTO app_approvals (user_id, app) VALUES (?, ?)", (user_id, app))


def has_approved(sb, user_id: str, app: str) -> bool:
    return sb.db.one("SELECT 1 FROM app_approvals WHERE user_id = ? AND app = ?", (user_id, app)) is not None


def signed_in_user(sb, request: Request) -> sqlite3.Row | None:
    user_id = request.cookies.get(SIGNED_IN_COOKIE)
    if not user_id:
        return None
    return sb.db.one("SELECT id, username, name FROM users WHERE id = ?", (user_id,))


def sign_in(response: Response, user_id: str) -> Response:
    response.set_cookie(SIGNED_IN_COOKIE, user_id, httponly=True, samesite="Lax", path="/")
    return response


def request_params(request: Request) -> dict[str, str]:
    """The authorize request's parameters: the query string, overridden by the
    hidden fields of a posted consent form."""
    params = dict(request.args.items())
    params.update((k, v) for k, v in request.form.items() if k not in CONSENT_FIELDS)
    return params


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; background: #f5f8fa; color: #0f1419; margin: 0; }
main { max-width: 30rem; margin: 3rem auto; background: #fff; border: 1px solid #cfd9de;
       border-radius: 1rem; padding: 1.5rem 2rem; }
.sandbox { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: #536471; margin: 0; }
h1 { font-size: 1.35rem; margin: .4rem 0 1rem; }
h2 { font-size: 1rem; margin: 1rem 0 .3rem; }
ul { margin: 0; padding-left: 1.2rem; }
fieldset { border: 0; padding: 0; margin: 1rem 0; }
legend { font-weight: 600; margin-bottom: .3rem; }
label { display: block; padding: .25rem 0; }
.muted { color: #536471; }
input[type=text] { font: inherit; padding: .3rem .5rem; border: 1px solid #cfd9de; border-radius: .4rem; }
.error { background: #fdecea; color: #a4141b; padding: .5rem .75rem; border-radius: .4rem; }
.actions { display: flex; gap: .75rem; margin-top: 1.25rem; }
button { font: inherit; font-weight: 600; border-radius: 2rem; padding: .5rem 1.25rem; cursor: pointer;
         border: 1px solid #0f1419; background: #0f1419; color: #fff; }
button.secondary { background: #fff; color: #0f1419; border-color: #cfd9de; }
code.pin { display: block; font-size: 2rem; letter-spacing: .2em; text-align: center; margin: 1rem 0; }
"""


def _page(title: str, body: str, status: int = 200) -> Response:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · X API sandbox</title><style>{_STYLE}</style></head>"
        f'<body><main><p class="sandbox">X API sandbox — not the real X</p>{body}</main></body></html>'
    )
    return Response(document, status=status, content_type="text/html; charset=utf-8")


def consent_page(
    sb,
    request: Request,
    *,
    access: list[str],
    hidden: dict[str, str],
    suggested_username: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The consent form, posted back to the URL it was shown at."""
    esc = html.escape
    app = sb.config.app_name
    users = sb.db.all("SELECT id, username, name FROM users ORDER BY CAST(id AS INTEGER)")
    current = signed_in_user(sb, request)
    chosen = suggested_username or (current["username"] if current else "")
    known = {u["username"].lower() for u in users}
    if chosen.lower() not in known:
        chosen = users[0]["username"] if users else ""
    new_name = suggested_username if suggested_username.lower() not in known else ""
    radios = "".join(
        f'<label><input type="radio" name="username" value="{esc(u["username"])}"'
        f'{" checked" if u["username"].lower() == chosen.lower() else ""}> '
        f'@{esc(u["username"])} <span class="muted">{esc(u["name"])} · id {esc(u["id"])}</span></label>'
        for u in users
    )
    fields = "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in hidden.items()
    )
    items = "".join(f"<li>{esc(a)}</li>" for a in access)
    body = (
        f"<h1>Authorize {esc(app)} to access your account?</h1>"
        + (f'<p class="error" role="alert">{esc(error)}</p>' if error else "")
        + f"<h2>This application will be able to:</h2><ul>{items}</ul>"
        + '<form method="post" action="">'
        + fields
        + f"<fieldset><legend>Sign in as</legend>{radios}"
        + '<label>or a new user: @<input type="text" name="new_username" maxlength="15" '
        + f'pattern="[A-Za-z0-9_]{{1,15}}" value="{esc(new_name)}" placeholder="username"></label></fieldset>'
        + '<div class="actions"><button name="decision" value="allow">Authorize app</button>'
        + '<button name="decision" value="deny" class="secondary" formnovalidate>Cancel</button></div>'
        + "</form>"
    )
    return _page(f"Authorize {app}", body, status)


def pin_page(sb, pin: str) -> Response:
    """What X shows after approval in the PIN (``oob``) flow."""
    app = html.escape(sb.config.app_name)
    body = (
        f"<h1>You've granted access to {app}!</h1>"
        f"<p>Next, return to {app} and enter this PIN to complete the authorization process:</p>"
        f'<code class="pin" id="pin">{html.escape(pin)}</code>'
    )
    return _page("Authorization PIN", body)


def message_page(title: str, message: str, status: int) -> Response:
    return _page(title, f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>", status)
