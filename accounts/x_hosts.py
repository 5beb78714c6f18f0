"""X's host names. The only platform module that spells them (DESIGN.md):
everything else reaches X through the base URL in settings or the gateway."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

API = "https://api.x.com"
WEB = "https://x.com"

# tweepy 4.17 still builds some URLs (OAuth 1.0a, the OAuth 2.0 authorize page
# and token endpoint) on X's former names; they are X's too.
API_FORMER = "https://api.twitter.com"
WEB_FORMER = "https://twitter.com"

OAUTH2_AUTHORIZE = f"{WEB}/i/oauth2/authorize"
OAUTH2_TOKEN = f"{API}/2/oauth2/token"
OAUTH2_REVOKE = f"{API}/2/oauth2/revoke"

HOSTS = frozenset(urlsplit(url).hostname for url in (API, WEB, API_FORMER, WEB_FORMER))


def profile_url(username: str) -> str:
    return f"{WEB}/{username}"


def post_url(username: str, post_id: str) -> str:
    return f"{WEB}/{username}/status/{post_id}"


def redirect(url: str, base: str) -> str:
    """``url`` on ``base`` (e.g. the local sandbox) when it is one of X's https
    URLs and ``base`` is not X itself; any other URL unchanged."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.hostname not in HOSTS or base.rstrip("/") == API:
        return url
    target = urlsplit(base)
    path = target.path.rstrip("/") + parts.path
    return urlunsplit((target.scheme, target.netloc, path, parts.query, parts.fragment))
