"""The one gateway to X.

Everything the platform says to X goes through here: the OAuth handshakes, the
per-account tweepy clients, OAuth 2.0 token refresh, media upload and revocation.
Every failure leaves this module as an ``XError`` of one of five kinds, so the
callers decide what to do from the kind alone and show its words to a person.

``X_API_BASE`` is honoured by a transport adapter mounted on each session and by
handler subclasses: requests are signed for X's canonical https URLs and only the
transport sends them elsewhere (the local sandbox), so what works against the
sandbox works against X.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import secrets
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO

import requests
import tweepy
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from oauthlib.oauth2 import OAuth2Error
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1, OAuth1Session, OAuth2Session
from requests_oauthlib.oauth1_session import TokenRequestDenied
from urllib3.exceptions import NewConnectionError

from . import refresh_journal, x_hosts

log = logging.getLogger(__name__)

OAUTH2_SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")
USER_FIELDS = ("profile_image_url",)
MEDIA_CHUNK_BYTES = 4 * 1024 * 1024


class XErrorKind(enum.StrEnum):
    PERMANENT = "permanent"  # X refused for good: fix the content or the request
    TRANSIENT = "transient"  # nothing was applied; trying again later is safe
    RATE_LIMITED = "rate_limited"  # wait until reset_at
    NEEDS_REAUTH = "needs_reauth"  # the account's tokens are dead: a person must re-link
    UNKNOWN_OUTCOME = "unknown_outcome"  # the request may have been applied


class RateLimit(enum.StrEnum):
    """Which of X's rate-limit windows a 429 waits for."""

    FIFTEEN_MINUTES = "15 min"  # the endpoint's own window, per user
    USER_24H = "24h user"  # the account's daily posting limit
    APP_24H = "24h app"  # the app's daily posting limit, shared by every account


# X's header families (``<prefix>-limit``, ``-remaining``, ``-reset``) and the
# window each describes.
RATE_LIMIT_HEADERS = (
    ("x-rate-limit", RateLimit.FIFTEEN_MINUTES),
    ("x-user-limit-24hour", RateLimit.USER_24H),
    ("x-app-limit-24hour", RateLimit.APP_24H),
)


class XError(Exception):
    """A failure talking to X, in words a person can act on."""

    def __init__(
        self,
        kind: XErrorKind,
        message: str,
        *,
        status: int | None = None,
        reset_at: datetime | None = None,
        limit: RateLimit | None = None,
        duplicate: bool = False,
    ):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.reset_at = reset_at
        self.limit = limit
        self.duplicate = duplicate

    def __repr__(self) -> str:
        return f"XError({self.kind}, {self.message!r}, status={self.status})"


# --- transport -------------------------------------------------------------------


def api_base() -> str:
    return settings.X_API_BASE.rstrip("/")


class XTransportAdapter(HTTPAdapter):
    """Sends requests for X's hosts to ``X_API_BASE`` and gives every request a
    timeout (tweepy sets none, and a hung socket would hold a worker forever)."""

    def __init__(self, base: str, timeout: tuple[float, float]):
        super().__init__()
        self.base = base
        self.timeout = timeout

    def send(self, request, **kwargs):
        request.url = x_hosts.redirect(request.url, self.base)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


_shared_adapters: dict[tuple, XTransportAdapter] = {}
_shared_adapters_lock = threading.Lock()


def _shared_adapter() -> XTransportAdapter:
    """One adapter per process (and per X base and timeouts), whose pool of
    kept-alive connections every account's client shares: a post goes out on
    a connection an earlier post opened instead of opening its own. urllib3's
    pools are safe to share between threads; the process id keeps a forked
    child from using its parent's sockets."""
    timeout = (settings.X_HTTP_CONNECT_TIMEOUT, settings.X_HTTP_READ_TIMEOUT)
    key = (os.getpid(), api_base(), timeout)
    with _shared_adapters_lock:
        adapter = _shared_adapters.get(key)
        if adapter is None:
            adapter = _shared_adapters[key] = XTransportAdapter(api_base(), timeout)
    return adapter


def mount_transport(session: requests.Session, *, shared: bool = False) -> requests.Session:
    """Send the session's requests to ``X_API_BASE`` with timeouts; ``shared``:
    through the process's shared pool of connections (for clients that are
    never closed, as tweepy's are not)."""
    adapter = _shared_adapter() if shared else XTransportAdapter(
        api_base(), (settings.X_HTTP_CONNECT_TIMEOUT, settings.X_HTTP_READ_TIMEOUT)
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    _read_environment_once(session)
    return session


def _read_environment_once(session: requests.Session) -> None:
    """The proxies and CA bundle the environment names, read now instead of on
    every request: requests looks them up per request when ``trust_env`` is
    on, which cost more CPU than signing the request."""
    proxies, bundle = _environment(tuple(os.environ.get(name) for name in _ENVIRONMENT))
    session.proxies.update(proxies)
    if bundle:
        session.verify = bundle
    session.trust_env = False


# What requests reads from the environment to reach X. Its proxy lookup walks
# the whole environment, so it runs once for each set of these values rather
# than for each client (a worker builds one per account it posts for).
_ENVIRONMENT = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
                "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@functools.lru_cache(maxsize=8)
def _environment(values: tuple[str | None, ...]) -> tuple[dict[str, str], str | None]:
    """The proxies for X's API and the CA bundle, for these values of ``_ENVIRONMENT``."""
    named = dict(zip(_ENVIRONMENT, values))
    return requests.utils.get_environ_proxies(x_hosts.API), named["REQUESTS_CA_BUNDLE"] or named["CURL_CA_BUNDLE"]


def browser_url(url: str) -> str:
    """Where a person's browser goes for one of X's pages (the sandbox's in dev)."""
    return x_hosts.redirect(url, api_base())


def timeline_url(username: str) -> str:
    """Where a person's browser sees the account's posts: its profile on X
    (the sandbox's timeline of the account in dev)."""
    return browser_url(x_hosts.profile_url(username))


# --- classification ----------------------------------------------------------------


def _detail(response: requests.Response | None) -> str:
    """X's own words from an error response, if it gave any."""
    if response is None:
        return ""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] if response.text else ""
    if not isinstance(body, dict):
        return ""
    messages = [e.get("message", "") for e in body.get("errors", []) if isinstance(e, dict)]
    detail = body.get("detail") or body.get("error_description") or ""
    text = " ".join(m for m in messages if m) or detail
    if body.get("title") == "Invalid Request" and detail and text != detail:
        text = f"{detail} {text}"
    return text.strip()


@dataclass(frozen=True)
class _Window:
    limit: RateLimit
    reset_at: datetime
    exhausted: bool


def _windows(response: requests.Response | None) -> list[_Window]:
    """The rate-limit windows X reported on, with a reset it could be read."""
    if response is None:
        return []
    windows = []
    for prefix, limit in RATE_LIMIT_HEADERS:
        raw = response.headers.get(f"{prefix}-reset", "").strip()
        if not raw.isdigit():
            continue
        try:
            reset_at = datetime.fromtimestamp(int(raw), tz=timezone.get_current_timezone())
        except (OverflowError, OSError, ValueError):
            continue
        exhausted = response.headers.get(f"{prefix}-remaining", "").strip() == "0"
        windows.append(_Window(limit, reset_at, exhausted))
    return windows


def _rate_limited(response: requests.Response | None, *, username: str | None) -> XError:
    """A 429 waits for the latest reset among the windows X says are used up: a
    spent daily limit is not lifted by the 15-minute window's reset. Without
    any, the latest reset X gave; without that, 15 minutes."""
    windows = _windows(response)
    waited_for = [w for w in windows if w.exhausted] or windows
    if not waited_for:
        reset_at = timezone.now() + timedelta(minutes=15)
        return XError(
            XErrorKind.RATE_LIMITED,
            f"X's rate limit was reached and X did not say when it resets; trying again at {reset_at:%H:%M:%S %Z}.",
            status=429,
            reset_at=reset_at,
        )
    window = max(waited_for, key=lambda w: w.reset_at)
    day = f"{window.reset_at:%Y-%m-%d %H:%M %Z}"
    if window.limit == RateLimit.USER_24H:
        whose = f"@{username}'s" if username else "this account's"
        message = f"X's daily limit for {whose} posts was reached; it resets at {day}, and posting waits until then."
    elif window.limit == RateLimit.APP_24H:
        message = (
            "X's daily limit for this app's posts, shared by every account it posts for, was reached; "
            f"it resets at {day}, and posting waits until then."
        )
    else:
        whom = f" for @{username}" if username else ""
        message = f"X's 15-minute rate limit{whom} was reached; it resets at {window.reset_at:%H:%M:%S %Z}."
    return XError(XErrorKind.RATE_LIMITED, message, status=429, reset_at=window.reset_at, limit=window.limit)


# What could not be read of an answer that did arrive.
_UNREADABLE = (
    (requests.exceptions.ChunkedEncodingError, "it was cut off"),
    (requests.exceptions.ContentDecodingError, "its compression was broken"),
    (requests.JSONDecodeError, "it was not JSON"),
)
_CHECKING = "checking on X whether the post was published."


def classify(exc: Exception, *, applied_if_sent: bool, username: str | None = None) -> XError:
    """Turn a tweepy, requests or oauthlib error into an ``XError``.

    ``applied_if_sent`` says whether the request changes something on X (a post).
    Then only positive knowledge says transient or permanent: the connection
    was never made, or X answered with a clear refusal. Anything else (a
    timeout, a dropped connection, a 5xx, an answer that cannot be read, the
    worker's time running out, an error nobody foresaw) leaves the outcome
    unknown, because X may have applied it, and failing a post that is on X
    would invite a second copy. ``username`` names the account in the words.
    """
    if isinstance(exc, XError):
        return exc
    if isinstance(exc, TokenRequestDenied):
        return _classify_status(exc.status_code, exc.response, applied_if_sent=False)
    if isinstance(exc, tweepy.HTTPException):
        return _classify_status(
            exc.response.status_code, exc.response, applied_if_sent=applied_if_sent, username=username
        )
    if isinstance(exc, requests.ConnectTimeout):
        return XError(XErrorKind.TRANSIENT, "X could not be reached (connection timed out). It will be tried again.")
    if isinstance(exc, requests.exceptions.SSLError) and _certificate_refused(exc):
        return XError(
            XErrorKind.TRANSIENT,
            "X could not be reached: its TLS certificate could not be verified. It will be tried again.",
        )
    if isinstance(exc, requests.ConnectionError) and _never_connected(exc):
        return XError(XErrorKind.TRANSIENT, "X could not be reached (connection refused). It will be tried again.")
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        if applied_if_sent:
            return XError(
                XErrorKind.UNKNOWN_OUTCOME,
                f"X did not answer in time after the request was sent, or the connection broke; {_CHECKING}",
            )
        return XError(XErrorKind.TRANSIENT, "X did not answer in time. It will be tried again.")
    if isinstance(exc, OAuth2Error):
        return XError(
            XErrorKind.NEEDS_REAUTH,
            f"X refused the account's OAuth 2.0 credentials ({exc.error}).",
            status=exc.status_code,
        )
    if isinstance(exc, tweepy.TweepyException) and exc.__context__ is not None:
        return classify(exc.__context__, applied_if_sent=applied_if_sent, username=username)
    for kind, what in _UNREADABLE:
        if isinstance(exc, kind):
            if applied_if_sent:
                return XError(XErrorKind.UNKNOWN_OUTCOME, f"X's answer could not be read ({what}); {_CHECKING}")
            return XError(XErrorKind.TRANSIENT, f"X's answer could not be read ({what}). It will be tried again.")
    if isinstance(exc, SoftTimeLimitExceeded):
        if applied_if_sent:
            return XError(XErrorKind.UNKNOWN_OUTCOME, f"The worker ran out of time while talking to X; {_CHECKING}")
        return XError(XErrorKind.TRANSIENT, "The worker ran out of time while talking to X. It will be tried again.")
    # Nobody foresaw this one: keep its traceback for whoever fixes it.
    log.warning("unexpected error talking to X", exc_info=exc)
    if applied_if_sent:
        return XError(
            XErrorKind.UNKNOWN_OUTCOME,
            f"An unexpected error ({type(exc).__name__}) happened while talking to X; {_CHECKING}",
        )
    return XError(XErrorKind.PERMANENT, f"Unexpected error talking to X: {type(exc).__name__}.")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: requests wraps urllib3, which
    wraps the socket's or the TLS layer's own error."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None), *current.args])


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the TCP connection was never made (refused, unknown host), so
    nothing reached X."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _certificate_refused(exc: requests.exceptions.SSLError) -> bool:
    """True when the TLS handshake failed on X's certificate: the request was
    never written. Other TLS errors may come while the answer is read."""
    return any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(exc))


def _classify_status(
    status: int, response: requests.Response | None, *, applied_if_sent: bool, username: str | None = None
) -> XError:
    detail = _detail(response)
    if status == 429:
        return _rate_limited(response, username=username)
    if status == 401:
        return XError(
            XErrorKind.NEEDS_REAUTH,
            "X no longer accepts this account's authorization (it was revoked or expired).",
            status=status,
        )
    if status >= 500 or status == 0:
        if applied_if_sent:
            return XError(XErrorKind.UNKNOWN_OUTCOME, f"X had a server error ({status}); {_CHECKING}", status=status)
        return XError(XErrorKind.TRANSIENT, f"X had a server error ({status}). It will be tried again.", status=status)
    if status < 400 and applied_if_sent:
        return XError(
            XErrorKind.UNKNOWN_OUTCOME,
            f"X answered {status}, which says neither that the post was made nor that it was refused; {_CHECKING}",
            status=status,
        )
    if status == 403 and "duplicate content" in detail:
        return XError(
            XErrorKind.PERMANENT,
            "X refused the post as a duplicate of a recent post of this account.",
            status=status,
            duplicate=True,
        )
    words = detail or "no reason given"
    return XError(XErrorKind.PERMANENT, f"X refused the request ({status}): {words}", status=status)


# --- OAuth 1.0a ----------------------------------------------------------------------


class OAuth1Handler(tweepy.OAuth1UserHandler):
    """tweepy's OAuth 1.0a handler, signed for X's URLs and sent through the
    gateway's transport. tweepy builds a fresh session in ``get_access_token``,
    so the transport is mounted there too."""

    def __init__(self, *, callback: str | None = None, request_token: dict | None = None):
        super().__init__(settings.X_CONSUMER_KEY, settings.X_CONSUMER_SECRET, callback=callback)
        mount_transport(self.oauth)
        if request_token:
            self.request_token = request_token

    def _get_oauth_url(self, endpoint: str) -> str:
        return f"{x_hosts.API}/oauth/{endpoint}"

    def get_access_token(self, verifier: str | None = None) -> dict:
        """Exchange the verifier; returns X's answer (token, secret, user_id, screen_name)."""
        self.oauth = mount_transport(
            OAuth1Session(
                self.consumer_key,
                client_secret=self.consumer_secret,
                resource_owner_key=self.request_token["oauth_token"],
                resource_owner_secret=self.request_token["oauth_token_secret"],
                verifier=verifier,
                callback_uri=self.callback,
            )
        )
        answer = self.oauth.fetch_access_token(self._get_oauth_url("access_token"))
        self.access_token = answer["oauth_token"]
        self.access_token_secret = answer["oauth_token_secret"]
        return answer


@dataclass(frozen=True)
class OAuth1Start:
    # Token fields stay out of repr(), so no traceback or log line shows them.
    authorize_url: str = field(repr=False)  # for the person's browser; carries the request token
    request_token: str = field(repr=False)
    request_token_secret: str = field(repr=False)


def oauth1_start(*, callback: str, signin: bool = False) -> OAuth1Start:
    """Ask X for a request token; ``callback`` is a URL, or ``oob`` for the PIN flow."""
    handler = OAuth1Handler(callback=callback)
    try:
        url = handler.get_authorization_url(signin_with_twitter=signin)
    except Exception as exc:
        raise classify(exc, applied_if_sent=False) from None
    return OAuth1Start(
        authorize_url=browser_url(url),
        request_token=handler.request_token["oauth_token"],
        request_token_secret=handler.request_token["oauth_token_secret"],
    )


@dataclass(frozen=True)
class OAuth1Tokens:
    token: str = field(repr=False)
    secret: str = field(repr=False)


def oauth1_finish(*, request_token: str, request_token_secret: str, verifier: str) -> OAuth1Tokens:
    handler = OAuth1Handler(
        request_token={"oauth_token": request_token, "oauth_token_secret": request_token_secret}
    )
    try:
        answer = handler.get_access_token(verifier)
    except Exception as exc:
        error = classify(exc, applied_if_sent=False)
        if error.status == 401:
            raise XError(
                XErrorKind.PERMANENT,
                "X did not accept the verifier (PIN): it is wrong, expired or already used. Start linking again.",
                status=401,
            ) from None
        raise error from None
    return OAuth1Tokens(token=answer["oauth_token"], secret=answer["oauth_token_secret"])


# --- OAuth 2.0 -----------------------------------------------------------------------


class OAuth2Handler(tweepy.OAuth2UserHandler):
    """tweepy's OAuth 2.0 PKCE handler for a confidential client, pointed at X's
    canonical URLs and sent through the gateway's transport."""

    def __init__(self, *, redirect_uri: str | None = None):
        super().__init__(
            client_id=settings.X_CLIENT_ID,
            client_secret=settings.X_CLIENT_SECRET,
            redirect_uri=redirect_uri,
            scope=list(OAUTH2_SCOPES),
        )
        mount_transport(self)

    def get_authorization_url(self) -> tuple[str, str, str]:
        """The authorize URL, the state and the PKCE verifier to keep server-side."""
        verifier = self._client.create_code_verifier(128)
        url, state = self.authorization_url(
            x_hosts.OAUTH2_AUTHORIZE,
            state=secrets.token_urlsafe(32),
            code_challenge=self._client.create_code_challenge(verifier, "S256"),
            code_challenge_method="S256",
        )
        return url, state, verifier

    def fetch_token(self, *, code: str, code_verifier: str) -> dict:
        # The callback's state was checked by the caller against the link attempt,
        # so the code is passed as is rather than re-parsed from the callback URL.
        return OAuth2Session.fetch_token(
            self,
            x_hosts.OAUTH2_TOKEN,
            code=code,
            auth=self.auth,
            include_client_id=True,
            code_verifier=code_verifier,
        )

    def refresh(self, refresh_token: str) -> dict:
        return self.refresh_token(x_hosts.OAUTH2_TOKEN, refresh_token=refresh_token, auth=self.auth)

    def revoke(self, token: str, token_type_hint: str) -> None:
        response = self.post(
            x_hosts.OAUTH2_REVOKE,
            data={"token": token, "token_type_hint": token_type_hint, "client_id": self.client_id},
            auth=self.auth,
            withhold_token=True,
        )
        if response.status_code >= 400:
            raise _classify_status(response.status_code, response, applied_if_sent=False)


@dataclass(frozen=True)
class OAuth2Start:
    authorize_url: str = field(repr=False)
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)


def oauth2_start(*, redirect_uri: str) -> OAuth2Start:
    url, state, verifier = OAuth2Handler(redirect_uri=redirect_uri).get_authorization_url()
    return OAuth2Start(authorize_url=browser_url(url), state=state, code_verifier=verifier)


@dataclass(frozen=True)
class OAuth2Tokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    scopes: str


def _oauth2_tokens(answer: dict) -> OAuth2Tokens:
    scope = answer.get("scope", "")
    return OAuth2Tokens(
        access_token=answer["access_token"],
        refresh_token=answer.get("refresh_token", ""),
        expires_at=timezone.now() + timedelta(seconds=int(answer.get("expires_in", 7200))),
        scopes=" ".join(scope) if isinstance(scope, list) else scope,
    )


def oauth2_finish(*, redirect_uri: str, code: str, code_verifier: str) -> OAuth2Tokens:
    try:
        answer = OAuth2Handler(redirect_uri=redirect_uri).fetch_token(code=code, code_verifier=code_verifier)
    except OAuth2Error as exc:
        raise XError(
            XErrorKind.PERMANENT,
            f"X did not accept the authorization code ({exc.description or exc.error}). Start linking again.",
            status=exc.status_code,
        ) from None
    except Exception as exc:
        raise classify(exc, applied_if_sent=False) from None
    return _oauth2_tokens(answer)


# --- accounts: tokens, clients and calls ---------------------------------------------------


def _account_model():
    from .models import XAccount

    return XAccount


def undecryptable_tokens_reason(username: str) -> str:
    return (
        f"@{username}'s stored tokens cannot be decrypted with the configured TOKEN_ENCRYPTION_KEYS: "
        "the key that encrypted them was removed or changed. Put that key back in TOKEN_ENCRYPTION_KEYS "
        f"and use “Verify now”, or reconnect @{username}."
    )


def _refuse_undecryptable(account) -> XError:
    """Mark an account whose tokens no configured key decrypts, so a person
    sees why it stopped, and the error to raise instead of calling X."""
    reason = undecryptable_tokens_reason(account.username)
    if account.status != _account_model().Status.NEEDS_REAUTH:
        account.mark_needs_reauth(reason)
        log.warning("the stored tokens of @%s cannot be decrypted; it needs reconnecting", account.username)
    return XError(XErrorKind.NEEDS_REAUTH, account.status_reason or reason)


def refresh_tokens(account, *, force: bool = False):
    """Make sure an OAuth 2.0 account holds a live access token; returns the
    account as re-read under its row lock.

    Refresh tokens rotate: the one used dies. So the refresh runs in a transaction
    holding the account's row lock and re-reads the row once the lock is taken:
    of fifty workers that find the token expired at once, the first refreshes and
    the others find a fresh token when they get the lock. ``force`` refreshes
    after a 401 unless another worker already replaced the token that failed.
    """
    model = _account_model()
    if account.tokens_undecryptable:
        raise _refuse_undecryptable(account)
    margin = timedelta(seconds=settings.X_TOKEN_REFRESH_MARGIN)
    if (not force and account.auth_method == model.AuthMethod.OAUTH2 and account.status == model.Status.ACTIVE
            and account.token_expires_at and account.token_expires_at > timezone.now() + margin):
        # Far from expiry, as the caller just read it: nothing to refresh, and
        # no row lock to take (the lock was a transaction and three round trips
        # for every post). A token another worker replaced meanwhile is still
        # valid until it expires; a 401 comes back here with ``force``.
        return account
    stale_access_token = account.oauth2_access_token
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=account.pk)
        if locked.auth_method != model.AuthMethod.OAUTH2 or locked.status != model.Status.ACTIVE:
            return locked
        if locked.tokens_undecryptable:
            # Raising here would roll the mark back; callers raise on the status.
            locked.mark_needs_reauth(undecryptable_tokens_reason(locked.username))
            return locked
        if force:
            if locked.oauth2_access_token != stale_access_token:
                return locked
        elif locked.token_expires_at and locked.token_expires_at > timezone.now() + margin:
            return locked
        if not locked.oauth2_refresh_token:
            locked.mark_needs_reauth("The OAuth 2.0 token expired and X gave no refresh token. Reconnect the account.")
            return locked
        used = locked.oauth2_refresh_token
        try:
            tokens = _refreshed(used)
        except OAuth2Error as exc:
            tokens = _recovered(locked, exc)
            if tokens is None:
                return locked
        transaction.on_commit(lambda: refresh_journal.forget(used))
        locked.oauth2_access_token = tokens.access_token
        locked.oauth2_refresh_token = tokens.refresh_token or locked.oauth2_refresh_token
        locked.token_expires_at = tokens.expires_at
        locked.scopes = tokens.scopes or locked.scopes
        locked.save(update_fields=["oauth2_access_token", "oauth2_refresh_token", "token_expires_at", "scopes"])
        log.info("refreshed the OAuth 2.0 token of @%s", locked.username)
        return locked


def _refreshed(refresh_token: str) -> OAuth2Tokens:
    """X's new tokens for ``refresh_token``, kept in the refresh journal before
    anything else happens: from X's answer on, ``refresh_token`` is dead."""
    try:
        answer = OAuth2Handler().refresh(refresh_token)
    except OAuth2Error:
        raise
    except Exception as exc:
        raise classify(exc, applied_if_sent=False) from None
    tokens = _oauth2_tokens(answer)
    refresh_journal.keep(refresh_token, tokens)
    return tokens


def _recovered(locked, refusal: OAuth2Error) -> OAuth2Tokens | None:
    """After X refused the stored refresh token: the tokens of an earlier
    refresh with it whose commit never happened (a worker killed, the database
    stopped), refreshed again if they are about to expire; None, with the
    account marked for reconnecting, when there are none or X refuses those too."""
    found = refresh_journal.kept(locked.oauth2_refresh_token)
    if found is not None:
        log.warning("@%s: using the tokens of an earlier refresh that was never saved", locked.username)
        tokens = OAuth2Tokens(**found)
        if tokens.expires_at > timezone.now() + timedelta(seconds=settings.X_TOKEN_REFRESH_MARGIN):
            return tokens
        try:
            fresh = _refreshed(tokens.refresh_token)
        except OAuth2Error as exc:
            refusal = exc
        else:
            transaction.on_commit(lambda: refresh_journal.forget(tokens.refresh_token))
            return fresh
    locked.mark_needs_reauth(
        f"X refused to refresh the OAuth 2.0 token ({refusal.description or refusal.error}). "
        f"Reconnect @{locked.username}."
    )
    return None


def client_for(account) -> tweepy.Client:
    """A ready tweepy Client acting as ``account`` (OAuth 1.0a or 2.0 user context)."""
    model = _account_model()
    if account.tokens_undecryptable:
        raise _refuse_undecryptable(account)
    if account.auth_method == model.AuthMethod.OAUTH1:
        tokens = (settings.X_CONSUMER_KEY, settings.X_CONSUMER_SECRET, account.oauth1_token,
                  account.oauth1_token_secret, None)
    else:
        tokens = (None, None, None, None, account.oauth2_access_token)
    return _client(os.getpid(), api_base(), settings.X_HTTP_CONNECT_TIMEOUT, settings.X_HTTP_READ_TIMEOUT, *tokens)


# A process keeps the clients of the accounts it posted for lately: building
# one (a requests session, its adapters) cost more CPU than a post's own
# request. A client is keyed by everything it was built from, so a refreshed
# token, another X base or other timeouts get a new one; the process id keeps
# a forked child from using its parent's.
@functools.lru_cache(maxsize=1024)
def _client(pid: int, base: str, connect_timeout: float, read_timeout: float, consumer_key: str | None,
            consumer_secret: str | None, access_token: str | None, access_token_secret: str | None,
            bearer_token: str | None) -> tweepy.Client:
    client = tweepy.Client(bearer_token=bearer_token, consumer_key=consumer_key, consumer_secret=consumer_secret,
                           access_token=access_token, access_token_secret=access_token_secret)
    mount_transport(client.session, shared=True)
    return client


def app_client() -> tweepy.Client | None:
    """An app-only (bearer) client for public reads, when ``X_BEARER_TOKEN`` is set."""
    if not settings.X_BEARER_TOKEN:
        return None
    client = tweepy.Client(bearer_token=settings.X_BEARER_TOKEN)
    mount_transport(client.session)
    return client


def _user_auth(account) -> bool:
    # tweepy signs with OAuth 1.0a when user_auth is true, and otherwise sends the
    # bearer token, which for an OAuth 2.0 account is the user's access token.
    return account.auth_method == _account_model().AuthMethod.OAUTH1


def call(account, operation, *, applied_if_sent: bool):
    """Run ``operation(client, user_auth)`` as ``account``, refreshing an OAuth 2.0
    token before it expires and once more on a 401; raise ``XError`` on failure."""
    model = _account_model()
    if account.status == model.Status.NEEDS_REAUTH:
        raise XError(XErrorKind.NEEDS_REAUTH, account.status_reason or f"Reconnect @{account.username}.")
    if account.status == model.Status.DISCONNECTED:
        # Unlinked: it holds no tokens, and X never hears from it again until
        # a person links it again.
        raise XError(XErrorKind.NEEDS_REAUTH, disconnected_reason(account))
    if account.tokens_undecryptable:
        raise _refuse_undecryptable(account)
    is_oauth2 = account.auth_method == model.AuthMethod.OAUTH2
    if is_oauth2:
        account = _fresh(refresh_tokens(account))
    try:
        return operation(client_for(account), _user_auth(account))
    except Exception as exc:
        error = classify(exc, applied_if_sent=applied_if_sent, username=account.username)
        if error.kind != XErrorKind.NEEDS_REAUTH or not is_oauth2:
            raise error from None
    account = _fresh(refresh_tokens(account, force=True))
    try:
        return operation(client_for(account), _user_auth(account))
    except Exception as exc:
        raise classify(exc, applied_if_sent=applied_if_sent, username=account.username) from None


def _fresh(account):
    model = _account_model()
    if account.status == model.Status.NEEDS_REAUTH:
        raise XError(XErrorKind.NEEDS_REAUTH, account.status_reason)
    if account.status == model.Status.DISCONNECTED:
        raise XError(XErrorKind.NEEDS_REAUTH, disconnected_reason(account))
    return account


@dataclass(frozen=True)
class XUser:
    id: str
    username: str
    name: str
    profile_image_url: str


def get_me_with(client: tweepy.Client, user_auth: bool) -> XUser:
    try:
        user = client.get_me(user_auth=user_auth, user_fields=list(USER_FIELDS)).data
    except Exception as exc:
        raise classify(exc, applied_if_sent=False) from None
    return XUser(
        id=str(user.id),
        username=user.username,
        name=user.name,
        profile_image_url=getattr(user, "profile_image_url", None) or "",
    )


def me_for_tokens(*, oauth1: OAuth1Tokens | None = None, oauth2: OAuth2Tokens | None = None) -> XUser:
    """``GET /2/users/me`` with freshly issued tokens, before any account exists."""
    if oauth1 is not None:
        client = tweepy.Client(
            consumer_key=settings.X_CONSUMER_KEY,
            consumer_secret=settings.X_CONSUMER_SECRET,
            access_token=oauth1.token,
            access_token_secret=oauth1.secret,
        )
    else:
        client = tweepy.Client(bearer_token=oauth2.access_token)
    mount_transport(client.session)
    return get_me_with(client, oauth1 is not None)


def get_me(account) -> XUser:
    return call(account, get_me_with, applied_if_sent=False)


def disconnected_reason(account) -> str:
    """Why nothing is sent for an unlinked account, in words."""
    return f"@{account.username} is disconnected: {account.status_reason}".strip()


# X's endpoint that invalidates an OAuth 1.0a access token (API v1.1, "POST
# oauth/invalidate_token"), signed with the very token it invalidates.
OAUTH1_INVALIDATE_PATH = "/1.1/oauth/invalidate_token"


def revoke(account) -> None:
    """Tell X to forget the account's tokens: OAuth 2.0 ones through
    ``POST /2/oauth2/revoke`` (the refresh token, then the access token),
    OAuth 1.0a ones through ``POST /1.1/oauth/invalidate_token``. Tokens X no
    longer accepts raise a NEEDS_REAUTH ``XError``: there is nothing left to
    revoke."""
    model = _account_model()
    if account.tokens_undecryptable:
        raise _refuse_undecryptable(account)
    try:
        if account.auth_method == model.AuthMethod.OAUTH1:
            _invalidate_oauth1(account)
            return
        handler = OAuth2Handler()
        if account.oauth2_refresh_token:
            handler.revoke(account.oauth2_refresh_token, "refresh_token")
        if account.oauth2_access_token:
            handler.revoke(account.oauth2_access_token, "access_token")
    except Exception as exc:
        raise classify(exc, applied_if_sent=False, username=account.username) from None


def _invalidate_oauth1(account) -> None:
    if not account.oauth1_token:
        return
    auth = OAuth1(
        settings.X_CONSUMER_KEY,
        client_secret=settings.X_CONSUMER_SECRET,
        resource_owner_key=account.oauth1_token,
        resource_owner_secret=account.oauth1_token_secret,
    )
    with mount_transport(requests.Session()) as session:
        response = session.post(f"{x_hosts.API}{OAUTH1_INVALIDATE_PATH}", auth=auth)
    if response.status_code >= 400:
        raise _classify_status(response.status_code, response, applied_if_sent=False, username=account.username)


# --- media upload (X API v2; tweepy 4.17 has none of it) ---------------------------------


def _signed(client: tweepy.Client, user_auth: bool) -> dict:
    if user_auth:
        return {
            "auth": OAuth1(
                client.consumer_key,
                client_secret=client.consumer_secret,
                resource_owner_key=client.access_token,
                resource_owner_secret=client.access_token_secret,
            )
        }
    return {"headers": {"Authorization": f"Bearer {client.bearer_token}"}}


def _media_request(client: tweepy.Client, user_auth: bool, method: str, path: str, **kwargs) -> dict:
    signed = _signed(client, user_auth)
    headers = {**signed.get("headers", {}), **kwargs.pop("headers", {})}
    response = client.session.request(
        method, f"{x_hosts.API}{path}", auth=signed.get("auth"), headers=headers, **kwargs
    )
    if response.status_code >= 400:
        raise _classify_status(response.status_code, response, applied_if_sent=False)
    return response.json() if response.content else {}


@dataclass(frozen=True)
class MediaState:
    media_id: str
    state: str  # 'succeeded', 'pending', 'in_progress' or 'failed'
    check_after_secs: int = 0
    error: str = ""


def _media_state(data: dict) -> MediaState:
    info = data.get("processing_info") or {}
    return MediaState(
        media_id=str(data["id"]),
        state=info.get("state", "succeeded"),
        check_after_secs=int(info.get("check_after_secs", 0) or 0),
        error=(info.get("error") or {}).get("message", ""),
    )


def upload_media(account, *, file: IO[bytes], size: int, media_type: str, category: str) -> MediaState:
    """Upload one file in chunks (initialize, append…, finalize). A video is
    usually still processing when this returns: check ``media_status`` later."""

    def operation(client: tweepy.Client, user_auth: bool) -> MediaState:
        file.seek(0)
        init = _media_request(
            client,
            user_auth,
            "POST",
            "/2/media/upload/initialize",
            json={"media_type": media_type, "total_bytes": size, "media_category": category},
        )
        media_id = str(init["data"]["id"])
        index = 0
        while chunk := file.read(MEDIA_CHUNK_BYTES):
            _media_request(
                client,
                user_auth,
                "POST",
                f"/2/media/upload/{media_id}/append",
                data={"segment_index": str(index)},
                files={"media": ("chunk", chunk, "application/octet-stream")},
            )
            index += 1
        final = _media_request(client, user_auth, "POST", f"/2/media/upload/{media_id}/finalize")
        return _media_state(final["data"])

    return call(account, operation, applied_if_sent=False)


def media_status(account, media_id: str) -> MediaState:
    def operation(client: tweepy.Client, user_auth: bool) -> MediaState:
        body = _media_request(
            client, user_auth, "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id}
        )
        return _media_state(body["data"])

    return call(account, operation, applied_if_sent=False)


def set_alt_text(account, media_id: str, alt_text: str) -> None:
    def operation(client: tweepy.Client, user_auth: bool) -> None:
        _media_request(
            client,
            user_auth,
            "POST",
            "/2/media/metadata",
            json={"id": media_id, "metadata": {"alt_text": {"text": alt_text}}},
        )

    call(account, operation, applied_if_sent=False)


# --- posts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedPost:
    id: str
    url: str


def create_post(
    account,
    *,
    text: str,
    reply_to: str | None = None,
    media_ids: list[str] | None = None,
    poll_options: list[str] | None = None,
    poll_duration_minutes: int | None = None,
    reply_settings: str | None = None,
) -> CreatedPost:
    """``POST /2/tweets``. A timeout, a dropped connection, a 5xx or an answer
    that cannot be read raises ``XError(UNKNOWN_OUTCOME)``: X may have published it."""

    def operation(client: tweepy.Client, user_auth: bool) -> CreatedPost:
        response = client.create_tweet(
            text=text or None,
            in_reply_to_tweet_id=reply_to,
            media_ids=media_ids or None,
            poll_options=poll_options or None,
            poll_duration_minutes=poll_duration_minutes if poll_options else None,
            reply_settings=reply_settings or None,
            user_auth=user_auth,
        )
        post_id = _created_id(response.data)
        return CreatedPost(id=post_id, url=x_hosts.post_url(account.username, post_id))

    return call(account, operation, applied_if_sent=True)


def _created_id(data: object) -> str:
    """The new post's id from X's 201, which says the post exists: an answer
    without a usable id is no reason to think it does not."""
    post_id = data.get("id") if isinstance(data, dict) else None
    if isinstance(post_id, str | int) and not isinstance(post_id, bool) and str(post_id).isdigit():
        return str(post_id)
    raise XError(
        XErrorKind.UNKNOWN_OUTCOME, f"X's answer could not be read (it names no post id); {_CHECKING}"
    )


@dataclass(frozen=True)
class RecentPost:
    id: str
    text: str
    created_at: datetime | None
    in_reply_to: str | None
    url: str


def recent_posts(account, *, since: datetime, limit: int = 100) -> list[RecentPost]:
    """The account's own posts since ``since``, newest first (an owned read:
    X's cheapest call, used to learn whether a post whose answer was lost exists)."""

    def operation(client: tweepy.Client, user_auth: bool) -> list[RecentPost]:
        response = client.get_users_tweets(
            account.x_user_id,
            start_time=since,
            max_results=max(5, min(limit, 100)),
            tweet_fields=["created_at", "referenced_tweets"],
            user_auth=user_auth,
        )
        found = []
        for post in response.data or []:
            replied = [r.id for r in (post.referenced_tweets or []) if r.type == "replied_to"]
            found.append(
                RecentPost(
                    id=str(post.id),
                    text=post.text,
                    created_at=post.created_at,
                    in_reply_to=str(replied[0]) if replied else None,
                    url=x_hosts.post_url(account.username, str(post.id)),
                )
            )
        return found

    return call(account, operation, applied_if_sent=False)
