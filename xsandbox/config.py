"""The sandbox's settings: one X app (an OAuth 1.0a consumer and an OAuth 2.0
client), token lifetimes and limits. Every value can come from a flag or an
environment variable; the defaults equal the platform's development defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_CALLBACKS = (
    "http://127.0.0.1:8000/accounts/x/link/oauth1/callback/",
    "http://127.0.0.1:8000/accounts/x/link/oauth2/callback/",
    "http://localhost:8000/accounts/x/link/oauth1/callback/",
    "http://localhost:8000/accounts/x/link/oauth2/callback/",
)

# The hosts a client may have signed an OAuth 1.0a request for. The sandbox
# verifies a signature against the canonical https URL on each of them.
CANONICAL_API_HOSTS = ("api.x.com", "api.twitter.com")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None


@dataclass
class SandboxConfig:
    consumer_key: str = field(default_factory=lambda: _env("XSANDBOX_CONSUMER_KEY", "sandbox-consumer-key"))
    consumer_secret: str = field(
        default_factory=lambda: _env("XSANDBOX_CONSUMER_SECRET", "sandbox-consumer-secret")
    )
    client_id: str = field(default_factory=lambda: _env("XSANDBOX_CLIENT_ID", "sandbox-client-id"))
    client_secret: str = field(default_factory=lambda: _env("XSANDBOX_CLIENT_SECRET", "sandbox-client-secret"))
    app_name: str = field(default_factory=lambda: _env("XSANDBOX_APP_NAME", "botplatform (dev)"))
    callbacks: list[str] = field(
        default_factory=lambda: [
            c for c in _env("XSANDBOX_CALLBACKS", ",".join(DEFAULT_CALLBACKS)).split(",") if c
        ]
    )
    # OAuth 2.0 access token lifetime in seconds (X: 2 hours).
    access_token_ttl: int = field(default_factory=lambda: _env_int("XSANDBOX_ACCESS_TOKEN_TTL", 7200))
    # OAuth 2.0 authorization code lifetime in seconds (X: 30 seconds).
    code_ttl: int = field(default_factory=lambda: _env_int("XSANDBOX_CODE_TTL", 30))
    # Window in seconds in which the same text by the same user is a duplicate.
    duplicate_window: int = field(default_factory=lambda: _env_int("XSANDBOX_DUPLICATE_WINDOW", 86400))
    # Self-serve rule since 2026: a reply is allowed only when summoned. Whether a
    # reply to one's own post counts is not stated by X, so it is a setting.
    summoned_replies_only: bool = field(
        default_factory=lambda: _env("XSANDBOX_SUMMONED_REPLIES_ONLY", "0") == "1"
    )
    allow_self_replies: bool = field(default_factory=lambda: _env("XSANDBOX_ALLOW_SELF_REPLIES", "1") == "1")
    # Seconds a video spends in each processing state before it is usable.
    video_processing_secs: int = field(default_factory=lambda: _env_int("XSANDBOX_VIDEO_PROCESSING_SECS", 2))
    # Multiply every rate limit (tests use tiny limits through the control API).
    rate_limit_scale: float = 1.0
    # Throughput mode for benchmarks: still verifies OAuth, skips slow extras.
    fast: bool = field(default_factory=lambda: _env("XSANDBOX_FAST", "0") == "1")
    # Base URL the sandbox is reached at, for absolute links it renders.
    public_url: str = field(default_factory=lambda: _env("XSANDBOX_PUBLIC_URL", ""))
