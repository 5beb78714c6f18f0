"""The configured X app's registered callback URLs: those given by flags or the
environment, plus those added at run time through the control API."""

from __future__ import annotations


def is_registered_callback(sb, url: str) -> bool:
    """Whether ``url`` exactly matches a callback URL registered for the app.

    X compares the whole URL, so a different port, path or trailing slash is a
    different callback."""
    if url in sb.config.callbacks:
        return True
    return sb.db.one("SELECT 1 FROM registered_callbacks WHERE url = ?", (url,)) is not None
