"""X's host names. The only platform module that spells them (DESIGN.md):
everything else reaches X through the base URL in settings or the gateway."""

from __future__ import annotations

API = "https://api.x.com"
WEB = "https://x.com"

# tweepy 4.17 still builds some URLs (OAuth 1.0a, the OAuth 2.0 authorize page
# and token endpoint) on X's former names; the gateway maps those to API/WEB.
API_FORMER = "https://api.twitter.com"
WEB_FORMER = "https://twitter.com"
