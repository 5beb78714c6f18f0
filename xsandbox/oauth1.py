"""OAuth 1.0a as X serves it: request token, authorize / authenticate (with the
consent page, the PIN flow and cancel), access token, invalidating an access
token, and the verification of signed API requests.

oauthlib's server endpoints do the protocol work against a ``RequestValidator``
backed by the store. What X adds on top is kept here: the signature is checked
over the URL the client signed, which is the sandbox's own URL or, when the
client's transport rewrote the host after signing, the canonical
``https://api.x.com`` or ``https://api.twitter.com`` URL; errors have X's
bodies; access tokens are shaped ``<user_id>-<random>``."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from hmac import compare_digest
from urllib.parse import quote, urlencode

from oauthlib.common import add_params_to_uri
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)
from oauthlib.oauth1.rfc5849 import SIGNATURE_HMAC_SHA1
from oauthlib.oauth1.rfc5849.errors import OAuth1Error
from werkzeug.routing import Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from .apps import is_registered_callback
from .config import CANONICAL_API_HOSTS
from .consent import (
    ConsentError,
    consent_page,
    has_approved,
    message_page,
    pin_page,
    read_decision,
    record_approval,
    request_params,
    resolve_user,
    sign_in,
    signed_in_user,
)
from .tokens import Principal, mint_oauth1

SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth1_request_tokens (
    token TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    consumer_key TEXT NOT NULL,
    callback TEXT NOT NULL,         -- a registered callback URL or 'oob'
    access_type TEXT NOT NULL,      -- 'read' or 'write'
    created_at REAL NOT NULL,
    user_id TEXT REFERENCES users(id),  -- who approved; NULL until then
    verifier TEXT                   -- issued on approval; NULL until then
);
CREATE TABLE IF NOT EXISTS oauth1_nonces (
    consumer_key TEXT NOT NULL,
    token TEXT NOT NULL,            -- '' for a request without a token
    nonce TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (consumer_key, token, nonce, timestamp)
);
-- for pruning nonces whose timestamp is too old to be accepted anyway
CREATE INDEX IF NOT EXISTS oauth1_nonces_timestamp ON oauth1_nonces (timestamp);
"""

# X does not publish how long a request token lives; a link attempt takes minutes.
REQUEST_TOKEN_TTL = 15 * 60
# A request whose oauth_timestamp is further than this from the sandbox's clock is refused.
TIMESTAMP_LIFETIME = 10 * 60

# What each OAuth 1.0a access type may do, in OAuth 2.0 scopes, so that one
# check in ``auth.authenticate`` serves both kinds of token.
READ_SCOPES = frozenset({"tweet.read", "users.read", "offline.access"})
ACCESS_TYPE_SCOPES = {
    "read": READ_SCOPES,
    "write": READ_SCOPES | {"tweet.write", "media.write"},
}
ACCESS_TYPE_DESCRIPTIONS = {
    "read": ["See posts from your timeline and your profile information."],
    "write": [
        "See posts from your timeline and your profile information.",
        "Post and delete posts for you, and upload media.",
    ],
}

CALLBACK_NOT_APPROVED = (
    '<?xml version="1.0" encoding="UTF-8"?><errors><error code="415">Callback URL not approved for '
    "this client application. Approved callback URLs can be adjusted in your application settings"
    "</error></errors>"
)
INVALID_VERIFIER = "Error processing your OAuth request: Invalid oauth_verifier parameter"
COULD_NOT_AUTHENTICATE = json.dumps({"errors": [{"code": 32, "message": "Could not authenticate you."}]})
INVALID_OR_EXPIRED_TOKEN = json.dumps({"errors": [{"code": 89, "message": "Invalid or expired token."}]})
INVALID_REQUEST_TOKEN = (
    "The request token for this page is invalid. It may have already been used, or expired because "
    "it is too old. Please go back to the site or app that sent you here and try again."
)
# X answers the token endpoints with a form-encoded body labelled text/html.
TOKEN_CONTENT_TYPE = "text/html; charset=utf-8"


class CallbackNotApproved(Exception):
    """A correctly signed request token request names an unregistered callback."""


class InvalidVerifier(Exception):
    """A correctly signed access token request carries a wrong or no verifier."""


def _pending_request_token(conn: sqlite3.Connection, token: str) -> sqlite3.Row | None:
    """A request token that is still waiting for the user's decision."""
    return conn.execute(
        "SELECT * FROM oauth1_request_tokens WHERE token = ? AND verifier IS NULL AND created_at > ?",
        (token, time.time() - REQUEST_TOKEN_TTL),
    ).fetchone()


class Validator(RequestValidator):
    """oauthlib's questions answered from the store, inside one transaction."""

    def __init__(self, sb, conn: sqlite3.Connection, *, access_type: str = "write", approver: str | None = None):
        super().__init__()
        self.sb = sb
        self.conn = conn
        self.access_type = access_type  # for a new request token
        self.approver = approver  # the user approving a request token

    # Tokens are '<user_id>-<random>' and nonces come from many clients: accept
    # URL-safe values of any reasonable length instead of oauthlib's 20-30
    # alphanumerics.
    safe_characters = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~")
    client_key_length = request_token_length = access_token_length = nonce_length = (1, 200)
    allowed_signature_methods = (SIGNATURE_HMAC_SHA1,)
    timestamp_lifetime = TIMESTAMP_LIFETIME
    # The sandbox is reached over plain http; what matters is the URL signed.
    enforce_ssl = False
    dummy_client = "dummy-consumer-key"
    dummy_request_token = "dummy-request-token"
    dummy_access_token = "0-dummy-access-token"

    def check_verifier(self, verifier: str) -> bool:
        # A verifier is only ever compared with the one issued (validate_verifier),
        # so a malformed one gets X's "Invalid oauth_verifier parameter" too.
        return True

    def _request_token(self, client_key: str, token: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM oauth1_request_tokens WHERE token = ? AND consumer_key = ? AND created_at > ?",
            (token, client_key, time.time() - REQUEST_TOKEN_TTL),
        ).fetchone()

    def _access_token(self, client_key: str, token: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM oauth1_access_tokens WHERE token = ? AND consumer_key = ? AND revoked = 0",
            (token, client_key),
        ).fetchone()

    def get_client_secret(self, client_key, request):
        config = self.sb.config
        return config.consumer_secret if client_key == config.consumer_key else "dummy"

    def get_request_token_secret(self, client_key, token, request):
        row = self._request_token(client_key, token)
        return row["secret"] if row else "dummy"

    def get_access_token_secret(self, client_key, token, request):
        row = self._access_token(client_key, token)
        return row["secret"] if row else "dummy"

    def get_default_realms(self, client_key, request):
        return []

    def get_realms(self, token, request):
        return []

    def get_redirect_uri(self, token, request):
        row = self.conn.execute("SELECT callback FROM oauth1_request_tokens WHERE token = ?", (token,)).fetchone()
        return row["callback"]

    def validate_client_key(self, client_key, request):
        return compare_digest(client_key, self.sb.config.consumer_key)

    def validate_request_token(self, client_key, token, request):
        row = self._request_token(client_key, token)
        return row is not None and row["verifier"] is not None

    def validate_access_token(self, client_key, token, request):
        return self._access_token(client_key, token) is not None

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request, request_token=None, access_token=None):
        ts = int(timestamp)
        self.conn.execute("DELETE FROM oauth1_nonces WHERE timestamp < ?", (int(time.time()) - 2 * TIMESTAMP_LIFETIME,))
        inserted = self.conn.execute(
            "INSERT OR IGNORE INTO oauth1_nonces (consumer_key, token, nonce, timestamp) VALUES (?, ?, ?, ?)",
            (client_key, request_token or access_token or "", nonce, ts),
        ).rowcount
        return inserted == 1

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        return redirect_uri == "oob" or is_registered_callback(self.sb, redirect_uri)

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    def validate_verifier(self, client_key, token, verifier, request):
        row = self._request_token(client_key, token)
        return row is not None and row["verifier"] is not None and compare_digest(row["verifier"], verifier)

    def verify_request_token(self, token, request):
        return _pending_request_token(self.conn, token) is not None

    def verify_realms(self, token, realms, request):
        return True

    def save_request_token(self, token, request):
        self.conn.execute(
            "INSERT INTO oauth1_request_tokens (token, secret, consumer_key, callback, access_type, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                token["oauth_token"],
                token["oauth_token_secret"],
                request.client_key,
                request.redirect_uri,
                self.access_type,
                time.time(),
            ),
        )

    def save_verifier(self, token, verifier, request):
        self.conn.execute(
            "UPDATE oauth1_request_tokens SET verifier = ?, user_id = ? WHERE token = ?",
            (verifier["oauth_verifier"], self.approver, token),
        )

    def invalidate_request_token(self, client_key, request_token, request):
        self.conn.execute("DELETE FROM oauth1_request_tokens WHERE token = ?", (request_token,))

    def issue_access_token(self, request) -> str:
        """Mint the access token for an approved request token; X's response body."""
        row = self._request_token(request.client_key, request.resource_owner_key)
        user = self.conn.execute("SELECT username FROM users WHERE id = ?", (row["user_id"],)).fetchone()
        token, secret = mint_oauth1(
            self.conn, user_id=row["user_id"], consumer_key=request.client_key, access_type=row["access_type"]
        )
        return urlencode(
            {"oauth_token": token, "oauth_token_secret": secret, "user_id": row["user_id"], "screen_name": user["username"]}
        )


class _SignedUrls:
    """Checks the signature over each URL the client may have signed."""

    def __init__(self, validator: Validator, signed_urls: list[str]):
        super().__init__(validator)
        self.signed_urls = signed_urls

    def _check_signature(self, request, is_token_request=False):
        for url in self.signed_urls:
            request.uri = url
            if super()._check_signature(request, is_token_request=is_token_request):
                return True
        return False


class _RequestTokenEndpoint(_SignedUrls, RequestTokenEndpoint):
    def validate_request_token_request(self, request):
        valid, request = super().validate_request_token_request(request)
        checked = request.validator_log
        if not valid and checked.get("client") and checked.get("signature") and not checked.get("callback"):
            raise CallbackNotApproved
        return valid, request


class _AccessTokenEndpoint(_SignedUrls, AccessTokenEndpoint):
    def validate_access_token_request(self, request):
        if not request.verifier:
            raise InvalidVerifier
        valid, request = super().validate_access_token_request(request)
        checked = request.validator_log
        if not valid and checked.get("client") and checked.get("signature") and not checked.get("verifier"):
            raise InvalidVerifier
        return valid, request

    def create_access_token(self, request, credentials):
        return self.request_validator.issue_access_token(request)


class _ResourceEndpoint(_SignedUrls, ResourceEndpoint):
    pass


def signed_urls(request: Request) -> list[str]:
    """The URLs a client may have signed for this request: the one it reached
    the sandbox at, and the same path and query on X's canonical API hosts."""
    target = quote(request.path)
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    return [f"{request.scheme}://{request.host}{target}"] + [f"https://{host}{target}" for host in CANONICAL_API_HOSTS]


def _oauth_args(request: Request) -> tuple[str, str, dict[str, str]]:
    """(method, body, headers) of a request as oauthlib takes them. Only a form
    body carries signed parameters; other bodies are not read here."""
    body = request.get_data(as_text=True) if request.mimetype == "application/x-www-form-urlencoded" else ""
    return request.method, body, dict(request.headers)


def verify_resource_request(sb, request: Request) -> Principal | None:
    """The principal of a correctly signed API request, or None."""
    urls = signed_urls(request)
    oauth_args = _oauth_args(request)
    with sb.db.tx() as conn:
        endpoint = _ResourceEndpoint(Validator(sb, conn), urls)
        valid, checked = endpoint.validate_protected_resource_request(urls[0], *oauth_args)
        if not valid:
            return None
        row = conn.execute(
            "SELECT user_id, access_type FROM oauth1_access_tokens WHERE token = ?", (checked.resource_owner_key,)
        ).fetchone()
    return Principal(
        user_id=row["user_id"],
        method="oauth1",
        scopes=ACCESS_TYPE_SCOPES[row["access_type"]],
        token=checked.resource_owner_key,
    )


def _could_not_authenticate() -> Response:
    return Response(COULD_NOT_AUTHENTICATE, status=401, content_type="application/json; charset=utf-8")


def request_token(sb, request: Request) -> Response:
    oauth_args = _oauth_args(request)
    # X's app permission is read+write; x_auth_access_type=read narrows it.
    access_type = "read" if request.values.get("x_auth_access_type") == "read" else "write"
    urls = signed_urls(request)
    try:
        with sb.db.tx() as conn:
            endpoint = _RequestTokenEndpoint(Validator(sb, conn, access_type=access_type), urls)
            _, body, status = endpoint.create_request_token_response(urls[0], *oauth_args)
    except CallbackNotApproved:
        return Response(CALLBACK_NOT_APPROVED, status=403, content_type="application/xml; charset=utf-8")
    if status != 200:
        return _could_not_authenticate()
    return Response(body, status=200, content_type=TOKEN_CONTENT_TYPE)


def access_token(sb, request: Request) -> Response:
    urls = signed_urls(request)
    oauth_args = _oauth_args(request)
    try:
        with sb.db.tx() as conn:
            endpoint = _AccessTokenEndpoint(Validator(sb, conn), urls)
            _, body, status = endpoint.create_access_token_response(urls[0], *oauth_args)
    except InvalidVerifier:
        return Response(INVALID_VERIFIER, status=401, content_type="text/plain; charset=utf-8")
    if status != 200:
        return _could_not_authenticate()
    return Response(body, status=200, content_type=TOKEN_CONTENT_TYPE)


def invalidate_token(sb, request: Request) -> Response:
    """``POST /1.1/oauth/invalidate_token``: the app gives up an access token,
    signed with that very token. X answers 200 ``{"access_token": …}``; the
    token is dead from then on, and a request signed with it (this one again
    included) gets 401 code 89 "Invalid or expired token."."""
    urls = signed_urls(request)
    oauth_args = _oauth_args(request)
    with sb.db.tx() as conn:
        endpoint = _ResourceEndpoint(Validator(sb, conn), urls)
        valid, checked = endpoint.validate_protected_resource_request(urls[0], *oauth_args)
        if not valid:
            log = checked.validator_log if checked is not None else {}
            if log.get("client") and not log.get("resource_owner"):
                return Response(INVALID_OR_EXPIRED_TOKEN, status=401, content_type="application/json; charset=utf-8")
            return _could_not_authenticate()
        conn.execute("UPDATE oauth1_access_tokens SET revoked = 1 WHERE token = ?", (checked.resource_owner_key,))
    return Response(json.dumps({"access_token": checked.resource_owner_key}), status=200,
                    content_type="application/json; charset=utf-8")


def authorize(sb, request: Request) -> Response:
    """``/oauth/authorize``: always asks the user."""
    return _authorize(sb, request, skip_if_approved=False)


def authenticate(sb, request: Request) -> Response:
    """``/oauth/authenticate`` ("Sign in with X"): a signed-in user who already
    approved the app goes straight back to it, unless ``force_login`` is set."""
    return _authorize(sb, request, skip_if_approved=True)


def _authorize(sb, request: Request, *, skip_if_approved: bool) -> Response:
    params = request_params(request)
    with sb.db.tx() as conn:
        pending = _pending_request_token(conn, params.get("oauth_token", ""))
    if pending is None:
        return message_page("Whoa there!", INVALID_REQUEST_TOKEN, 400)
    if request.method == "POST":
        try:
            decision = read_decision(request)
        except ConsentError as exc:
            return _consent(sb, request, pending, params, error=str(exc))
        if not decision.allow:
            return _deny(sb, pending)
        with sb.db.tx() as conn:
            user = resolve_user(conn, decision.username)
            record_approval(conn, user["id"], pending["consumer_key"])
            response = _approve(sb, conn, pending, user["id"])
        return sign_in(response, user["id"])
    user = signed_in_user(sb, request)
    screen_name = params.get("screen_name", "").lstrip("@")
    if (
        skip_if_approved
        and user is not None
        and params.get("force_login", "").lower() not in ("true", "1")
        and (not screen_name or screen_name.lower() == user["username"].lower())
        and has_approved(sb, user["id"], pending["consumer_key"])
    ):
        with sb.db.tx() as conn:
            return _approve(sb, conn, pending, user["id"])
    return _consent(sb, request, pending, params)


def _consent(sb, request: Request, pending: sqlite3.Row, params: dict[str, str], error: str | None = None) -> Response:
    return consent_page(
        sb,
        request,
        access=ACCESS_TYPE_DESCRIPTIONS[pending["access_type"]],
        hidden={"oauth_token": pending["token"]},
        suggested_username=params.get("screen_name", "").lstrip("@"),
        error=error,
        status=400 if error else 200,
    )


def _approve(sb, conn: sqlite3.Connection, pending: sqlite3.Row, user_id: str) -> Response:
    """Issue the verifier: redirect to the callback, or show it as a PIN."""
    oob = pending["callback"] == "oob"
    # X's PIN is 7 digits; a web flow's verifier is a random string.
    credentials = {"oauth_verifier": f"{secrets.randbelow(10**7):07d}"} if oob else {}
    endpoint = AuthorizationEndpoint(Validator(sb, conn, approver=user_id))
    try:
        headers, _, _ = endpoint.create_authorization_response(
            f"https://{CANONICAL_API_HOSTS[0]}/oauth/authorize?{urlencode({'oauth_token': pending['token']})}",
            credentials=credentials,
        )
    except OAuth1Error:
        # Someone else decided on this token a moment ago.
        return message_page("Whoa there!", INVALID_REQUEST_TOKEN, 400)
    if oob:
        return pin_page(sb, credentials["oauth_verifier"])
    return redirect(headers["Location"])


def _deny(sb, pending: sqlite3.Row) -> Response:
    with sb.db.tx() as conn:
        conn.execute("DELETE FROM oauth1_request_tokens WHERE token = ?", (pending["token"],))
    if pending["callback"] == "oob":
        return message_page(
            "You haven't granted access", f"You didn't authorize {sb.config.app_name}; it has no access to your account.", 200
        )
    return redirect(add_params_to_uri(pending["callback"], [("denied", pending["token"])]))


def rules() -> list[Rule]:
    return [
        Rule("/oauth/request_token", methods=["POST"], endpoint=request_token),
        Rule("/oauth/authorize", methods=["GET", "POST"], endpoint=authorize),
        Rule("/oauth/authenticate", methods=["GET", "POST"], endpoint=authenticate),
        Rule("/oauth/access_token", methods=["POST"], endpoint=access_token),
        # X documents the path with and without ".json".
        Rule("/1.1/oauth/invalidate_token", methods=["POST"], endpoint=invalidate_token),
        Rule("/1.1/oauth/invalidate_token.json", methods=["POST"], endpoint=invalidate_token),
    ]
