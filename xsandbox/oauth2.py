"""OAuth 2.0 authorization code with PKCE as X serves it: ``/i/oauth2/authorize``
(the consent page), ``/2/oauth2/token`` (authorization code and rotating
refresh tokens) and ``/2/oauth2/revoke``.

oauthlib's ``WebApplicationServer`` does the protocol work against a
``RequestValidator`` backed by the store; tokens are minted by
``tokens.mint_oauth2`` so that the API and the control API see the same rows.
Errors are rewritten into the bodies X answers with."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from hmac import compare_digest
from urllib.parse import urlencode

from oauthlib.common import add_params_to_uri
from oauthlib.oauth2 import RequestValidator, WebApplicationServer
from oauthlib.oauth2.rfc6749.errors import FatalClientError, InvalidRequestError, OAuth2Error
from werkzeug.datastructures import Authorization
from werkzeug.routing import Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from .apps import is_registered_callback
from .config import CANONICAL_API_HOSTS
from .consent import (
    ConsentError,
    consent_page,
    message_page,
    read_decision,
    record_approval,
    request_params,
    resolve_user,
    sign_in,
)
from .errors import json_response
from .tokens import mint_oauth2

SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth2_codes (
    code TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    scopes TEXT NOT NULL,           -- space separated
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,  -- 'S256' or 'plain'
    created_at REAL NOT NULL
);
"""

# X's OAuth 2.0 scopes and what the consent page says about each.
SCOPES = {
    "tweet.read": "See posts from your timeline, including those of protected accounts you follow.",
    "tweet.write": "Post and repost for you.",
    "tweet.moderate.write": "Hide and unhide replies to your posts.",
    "users.read": "See your profile information and that of other accounts.",
    "users.email": "See your email address.",
    "follows.read": "See who you follow and who follows you.",
    "follows.write": "Follow and unfollow accounts for you.",
    "offline.access": "Stay connected to your account until you revoke access.",
    "space.read": "See Spaces you can see.",
    "mute.read": "See accounts you muted.",
    "mute.write": "Mute and unmute accounts for you.",
    "like.read": "See posts you liked and likes you can see.",
    "like.write": "Like and unlike posts for you.",
    "list.read": "See lists, their members and followers.",
    "list.write": "Create and manage lists for you.",
    "block.read": "See accounts you blocked.",
    "block.write": "Block and unblock accounts for you.",
    "bookmark.read": "See your bookmarks.",
    "bookmark.write": "Bookmark and remove bookmarks for you.",
    "media.write": "Upload media for you.",
    "dm.read": "See your direct messages.",
    "dm.write": "Send direct messages for you.",
}
MAX_STATE_LENGTH = 500

INVALID_TOKEN = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
MISSING_CLIENT_AUTH = {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}


@dataclass(frozen=True)
class Client:
    client_id: str


class Validator(RequestValidator):
    """oauthlib's questions answered from the store, inside one transaction."""

    def __init__(self, sb, conn: sqlite3.Connection):
        super().__init__()
        self.sb = sb
        self.conn = conn

    def _code(self, client_id: str, code: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM oauth2_codes WHERE code = ? AND client_id = ? AND created_at > ?",
            (code, client_id, time.time() - self.sb.config.code_ttl),
        ).fetchone()

    def _refresh_token(self, token: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM oauth2_tokens WHERE token = ? AND kind = 'refresh' AND client_id = ? AND revoked = 0",
            (token, self.sb.config.client_id),
        ).fetchone()

    # The configured client is confidential: every token request carries HTTP
    # Basic client_id:client_secret.
    def client_authentication_required(self, request, *args, **kwargs):
        return True

    def authenticate_client(self, request, *args, **kwargs):
        credentials = Authorization.from_header(request.headers.get("Authorization"))
        config = self.sb.config
        if (
            credentials is None
            or credentials.type != "basic"
            or not compare_digest(credentials.username or "", config.client_id)
            or not compare_digest(credentials.password or "", config.client_secret)
        ):
            return False
        request.client = Client(config.client_id)
        return True

    def validate_client_id(self, client_id, request, *args, **kwargs):
        return compare_digest(client_id, self.sb.config.client_id)

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        return is_registered_callback(self.sb, redirect_uri)

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs):
        return None  # X requires redirect_uri

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        return response_type == "code"

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        return bool(scopes) and all(scope in SCOPES for scope in scopes)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        return []

    def is_pkce_required(self, client_id, request):
        return True

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.conn.execute("DELETE FROM oauth2_codes WHERE created_at <= ?", (time.time() - self.sb.config.code_ttl,))
        self.conn.execute(
            "INSERT INTO oauth2_codes (code, client_id, user_id, scopes, redirect_uri, code_challenge, "
            "code_challenge_method, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                code["code"],
                client_id,
                request.user,
                " ".join(request.scopes),
                request.redirect_uri,
                request.code_challenge,
                request.code_challenge_method,
                time.time(),
            ),
        )

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        row = self._code(client_id, code)
        if row is None:
            return False
        request.user = row["user_id"]
        request.scopes = row["scopes"].split()
        return True

    def get_code_challenge(self, code, request):
        row = self._code(request.client_id, code)
        return row["code_challenge"] if row else None

    def get_code_challenge_method(self, code, request):
        row = self._code(request.client_id, code)
        return row["code_challenge_method"] if row else None

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        row = self._code(client_id, code)
        return row is not None and row["redirect_uri"] == redirect_uri

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return grant_type in ("authorization_code", "refresh_token")

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.conn.execute("DELETE FROM oauth2_codes WHERE code = ?", (code,))

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        row = self._refresh_token(refresh_token)
        if row is None:
            return False
        request.user = row["user_id"]
        return True

    def get_original_scopes(self, refresh_token, request, *args, **kwargs):
        return self._refresh_token(refresh_token)["scopes"].split()

    def save_bearer_token(self, token, request, *args, **kwargs):
        if request.grant_type == "refresh_token":
            # Refresh tokens rotate: the one just used is dead from now on.
            self.conn.execute("UPDATE oauth2_tokens SET revoked = 1 WHERE token = ?", (request.refresh_token,))
        body = mint_oauth2(
            self.conn,
            user_id=request.user,
            client_id=request.client.client_id,
            scopes=" ".join(request.scopes),
            ttl=self.sb.config.access_token_ttl,
        )
        # oauthlib answers with the dict it passes here: make it X's response.
        token.clear()
        token.update(body)

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        self.conn.execute(
            "UPDATE oauth2_tokens SET revoked = 1 WHERE token = ? AND client_id = ?", (token, request.client.client_id)
        )


def _check_state(request) -> dict:
    if request.state and len(request.state) > MAX_STATE_LENGTH:
        raise InvalidRequestError(description=f"state must be at most {MAX_STATE_LENGTH} characters.", request=request)
    return {}


def _server(sb, conn: sqlite3.Connection) -> WebApplicationServer:
    server = WebApplicationServer(Validator(sb, conn))
    server.auth_grant.custom_validators.pre_auth.append(_check_state)
    return server


def _token_error(body: str, status: int) -> Response:
    """oauthlib's error rewritten the way X answers it."""
    if status == 401:
        return json_response(MISSING_CLIENT_AUTH, 401)
    if json.loads(body).get("error") == "invalid_grant":
        return json_response(INVALID_TOKEN, 400)
    return Response(body, status=status, content_type="application/json; charset=utf-8")


def _endpoint_args(request: Request) -> tuple[str, str, str, dict[str, str]]:
    """(uri, method, body, headers) of a token or revoke request as oauthlib
    takes them; the URI is X's (oauthlib only reads parameters from it)."""
    query = request.query_string.decode("latin-1")
    uri = f"https://{CANONICAL_API_HOSTS[0]}{request.path}" + (f"?{query}" if query else "")
    return uri, request.method, request.get_data(as_text=True), dict(request.headers)


def token(sb, request: Request) -> Response:
    args = _endpoint_args(request)
    with sb.db.tx() as conn:
        headers, body, status = _server(sb, conn).create_token_response(*args)
    if status != 200:
        return _token_error(body, status)
    return Response(body, status=200, headers=headers, content_type="application/json; charset=utf-8")


def revoke(sb, request: Request) -> Response:
    args = _endpoint_args(request)
    with sb.db.tx() as conn:
        _, body, status = _server(sb, conn).create_revocation_response(*args)
    if status != 200:
        return _token_error(body, status)
    return json_response({"revoked": True})


def authorize(sb, request: Request) -> Response:
    """The consent page (GET) and the user's decision (POST)."""
    params = request_params(request)
    uri = f"https://x.com/i/oauth2/authorize?{urlencode(params)}"
    with sb.db.tx() as conn:
        server = _server(sb, conn)
        try:
            scopes, _ = server.validate_authorization_request(uri)
        except FatalClientError as exc:
            # Never redirect to a URI that is not registered: show the problem.
            return message_page(
                "You weren't able to give access to the App",
                f"{exc.description} Go back to the app and try again.",
                400,
            )
        except OAuth2Error as exc:
            return redirect(exc.in_uri(exc.redirect_uri))
        if request.method == "GET":
            return _consent(sb, request, scopes, params)
        try:
            decision = read_decision(request)
        except ConsentError as exc:
            return _consent(sb, request, scopes, params, error=str(exc))
        if not decision.allow:
            denied = [("error", "access_denied")] + ([("state", params["state"])] if params.get("state") else [])
            return redirect(add_params_to_uri(params["redirect_uri"], denied))
        user = resolve_user(conn, decision.username)
        record_approval(conn, user["id"], sb.config.client_id)
        headers, _, _ = server.create_authorization_response(uri, credentials={"user": user["id"]})
    return sign_in(redirect(headers["Location"]), user["id"])


def _consent(sb, request: Request, scopes: list[str], params: dict[str, str], error: str | None = None) -> Response:
    return consent_page(
        sb,
        request,
        access=[SCOPES[s] for s in scopes],
        hidden=params,
        error=error,
        status=400 if error else 200,
    )


def rules() -> list[Rule]:
    return [
        Rule("/i/oauth2/authorize", methods=["GET", "POST"], endpoint=authorize),
        Rule("/2/oauth2/token", methods=["POST"], endpoint=token),
        Rule("/2/oauth2/revoke", methods=["POST"], endpoint=revoke),
    ]
