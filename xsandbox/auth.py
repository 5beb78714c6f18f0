"""Authentication of API v2 requests: OAuth 1.0a user context (a signed request)
or an OAuth 2.0 user access token (``Authorization: Bearer``)."""

from __future__ import annotations

from werkzeug.wrappers import Request

from .errors import ApiError, unauthorized
from .tokens import Principal, oauth2_principal


def authenticate(sb, request: Request, *, scopes: tuple[str, ...] = ()) -> Principal:
    """The principal a request acts for, or a 401 problem; a 403 when an OAuth 2.0
    token lacks one of ``scopes`` (OAuth 1.0a tokens carry no scopes)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        with sb.db.tx() as conn:
            principal = oauth2_principal(conn, header[len("Bearer "):].strip())
        if principal is None:
            raise unauthorized()
        missing = [s for s in scopes if s not in principal.scopes]
        if missing:
            raise ApiError(
                403,
                "Forbidden",
                f"Missing scope(s): {' '.join(missing)}.",
                type="https://api.twitter.com/2/problems/client-forbidden",
                extra={"reason": "client-not-enrolled", "required_scopes": list(scopes)},
            )
        return principal
    if header.startswith("OAuth "):
        return authenticate_oauth1(sb, request)
    raise unauthorized()


def authenticate_oauth1(sb, request: Request) -> Principal:
    raise unauthorized()
