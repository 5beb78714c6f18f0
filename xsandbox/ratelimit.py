"""Rate limits as X applies them: fixed windows per endpoint, counted per user
(and, for posting, per app), reported in ``x-rate-limit-*`` headers on every
authenticated response and enforced with a 429.

A window opens at the first request and resets at a whole epoch second (the
``reset`` header is epoch seconds), so a client that waits until the reset it
was told is never refused by the same window again. The limits can be changed
at run time through the control API; tests use tiny ones."""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass

from werkzeug.wrappers import Request

from .auth import authenticate
from .errors import ApiError
from .tokens import Principal

# The window behind each family of headers; ``app_24h`` is shared by every user
# of the app, the others are per user.
HEADER_PREFIXES = {
    "rate": "x-rate-limit",
    "user_24h": "x-user-limit-24hour",
    "app_24h": "x-app-limit-24hour",
}
PER_APP_WINDOWS = frozenset({"app_24h"})

MINUTES_15 = 15 * 60
HOURS_24 = 24 * 60 * 60


@dataclass(frozen=True)
class Window:
    limit: int
    window_secs: float

    def as_dict(self) -> dict:
        return {"limit": self.limit, "window_secs": self.window_secs}


# X's published values (../shared/x-api/README.md). The per-user 24-hour limit on
# posting is X's account limit of 2,400 posts a day; X does not publish limits
# for media v2 under pay-per-use, so those are the sandbox's own, generous ones.
DEFAULT_LIMITS: dict[str, dict[str, Window]] = {
    "POST /2/tweets": {
        "rate": Window(100, MINUTES_15),
        "user_24h": Window(2400, HOURS_24),
        "app_24h": Window(10_000, HOURS_24),
    },
    "DELETE /2/tweets/<id>": {"rate": Window(50, MINUTES_15)},
    "GET /2/tweets/<id>": {"rate": Window(900, MINUTES_15)},
    "GET /2/users/me": {"rate": Window(75, MINUTES_15)},
    "GET /2/users/<id>/tweets": {"rate": Window(900, MINUTES_15)},
    "POST /2/media/upload": {"rate": Window(500, MINUTES_15)},
    "POST /2/media/upload/initialize": {"rate": Window(500, MINUTES_15)},
    "POST /2/media/metadata": {"rate": Window(500, MINUTES_15)},
    "POST /2/media/upload/<id>/append": {"rate": Window(5000, MINUTES_15)},
    "POST /2/media/upload/<id>/finalize": {"rate": Window(500, MINUTES_15)},
    "GET /2/media/upload": {"rate": Window(5000, MINUTES_15)},
}
FALLBACK_LIMITS = {"rate": Window(900, MINUTES_15)}


def normalize_endpoint(key: str) -> str:
    """Accept ``DELETE /2/tweets/:id`` and ``DELETE /2/tweets/{id}`` for ``DELETE /2/tweets/<id>``."""
    method, _, path = key.strip().partition(" ")
    path = re.sub(r":(\w+)|\{(\w+)\}", lambda m: f"<{m.group(1) or m.group(2)}>", path.strip())
    return f"{method.upper()} {path}"


@dataclass
class _Count:
    used: int
    reset_at: int


class RateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._overrides: dict[str, dict[str, Window]] = {}
        self._counts: dict[tuple[str, str, str], _Count] = {}

    def limits(self, endpoint: str) -> dict[str, Window]:
        return {**DEFAULT_LIMITS.get(endpoint, FALLBACK_LIMITS), **self._overrides.get(endpoint, {})}

    def table(self) -> dict[str, dict[str, dict]]:
        """Every endpoint's current windows, for the control API."""
        with self._lock:
            keys = sorted(DEFAULT_LIMITS)
            return {k: {name: w.as_dict() for name, w in self.limits(k).items()} for k in keys}

    def override(self, changes: dict[str, dict[str, Window]]) -> None:
        """Replace some windows of some endpoints; their counts start afresh."""
        with self._lock:
            for endpoint, windows in changes.items():
                self._overrides.setdefault(endpoint, {}).update(windows)
                self._forget(endpoint)

    def reset(self) -> None:
        """X's default limits and no requests counted."""
        with self._lock:
            self._overrides.clear()
            self._counts.clear()

    def _forget(self, endpoint: str) -> None:
        for key in [k for k in self._counts if k[0] == endpoint]:
            del self._counts[key]

    def consume(self, endpoint: str, user_id: str) -> tuple[dict[str, str], bool]:
        """Count a request against every window of ``endpoint``. Returns the
        headers to send and whether a window was already exhausted (the request
        is then refused and not counted)."""
        now = time.time()
        with self._lock:
            current = []
            for name, window in self.limits(endpoint).items():
                subject = "app" if name in PER_APP_WINDOWS else user_id
                count = self._counts.get((endpoint, name, subject))
                if count is None or now >= count.reset_at:
                    count = _Count(0, math.ceil(now + window.window_secs))
                    self._counts[(endpoint, name, subject)] = count
                current.append((name, window, count))
            exceeded = any(count.used >= window.limit for _, window, count in current)
            if not exceeded:
                for _, _, count in current:
                    count.used += 1
            headers = {}
            for name, window, count in current:
                prefix = HEADER_PREFIXES[name]
                headers[f"{prefix}-limit"] = str(window.limit)
                headers[f"{prefix}-remaining"] = str(max(0, window.limit - count.used))
                headers[f"{prefix}-reset"] = str(count.reset_at)
            return headers, exceeded


def parse_windows(endpoint: str, raw: object) -> dict[str, Window]:
    """``{"rate": {"limit": 3, "window_secs": 2}, ...}`` from the control API."""
    if endpoint not in DEFAULT_LIMITS:
        raise ValueError(f"unknown endpoint {endpoint!r}; use one of: {', '.join(DEFAULT_LIMITS)}")
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{endpoint}: give an object of windows, e.g. {{\"rate\": {{\"limit\": 3, \"window_secs\": 2}}}}")
    windows = {}
    for name, spec in raw.items():
        if name not in HEADER_PREFIXES:
            raise ValueError(f"{endpoint}: unknown window {name!r}; use one of {', '.join(HEADER_PREFIXES)}")
        if not isinstance(spec, dict) or set(spec) - {"limit", "window_secs"}:
            raise ValueError(f"{endpoint}.{name}: give {{\"limit\": N, \"window_secs\": S}}")
        current = DEFAULT_LIMITS[endpoint].get(name)
        if current is None and "limit" not in spec:
            raise ValueError(f"{endpoint}.{name}: X has no such window here; give its limit")
        limit = spec.get("limit", current.limit if current else 0)
        secs = spec.get("window_secs", current.window_secs if current else MINUTES_15)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise ValueError(f"{endpoint}.{name}.limit must be a whole number >= 0")
        if not isinstance(secs, (int, float)) or isinstance(secs, bool) or secs <= 0:
            raise ValueError(f"{endpoint}.{name}.window_secs must be a number > 0")
        windows[name] = Window(limit, secs)
    return windows


RATE_HEADERS_KEY = "xsandbox.rate_limit_headers"
PRINCIPAL_KEY = "xsandbox.principal"


def authorize(sb, request: Request, *, scopes: tuple[str, ...]) -> Principal:
    """Authenticate an API request and count it against its rate limits: the
    principal, or a 401/403 problem, or X's 429 once a window is used up."""
    principal = authenticate(sb, request, scopes=scopes)
    request.environ[PRINCIPAL_KEY] = principal
    headers, exceeded = sb.rate_limits.consume(request.environ["xsandbox.endpoint"], principal.user_id)
    request.environ[RATE_HEADERS_KEY] = headers
    if exceeded:
        raise too_many_requests()
    return principal


def too_many_requests() -> ApiError:
    return ApiError(429, "Too Many Requests", "Too Many Requests")
