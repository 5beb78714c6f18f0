"""Authentication of API v2 requests: OAuth 1.0a user context (a signed request)
or an OAuth 2.0 user access token (``Authorization: Bearer``)."""

from __future__ import annotations

from werkzeug.wrappers import Request

from .errors import ApiError, unauthorized
from .oauth1 import verify_resource_request
from .tokens import Principal, oauth2_principal


def authenticate(sb, request: Request, *, scopes: tuple[str, ...] = ()) -> Principal:
    """The principal a request acts for, or a 401 problem; a 403 when the token
    lacks one of ``scopes`` (an OAuth 1.0a token has the scopes of its access
    type: a 'read' token cannot write)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        with sb.db.tx() as conn:
            principal = oauth2_principal(conn, header[len("Bearer "):].strip())
        if principal is None:
            raise unauthorized()
    elif header.startswith("OAuth "):
        principal = authenticate_oauth1(sb, request)
    else:
        raise unauthorized()
    missing = [s for s in scopes if s not in principal.scopes]
    if not missing:
        return principal
    if principal.method == "oauth1":
        raise ApiError(
            403,
            "Forbidden",
            "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
            type="https://api.twitter.com/2/problems/oauth1-permissions",
        )
    raise ApiError(
        403,
        "Forbidden",
        f"Missing scope(s): {' '.join(missing)}.",
        type="https://api.twitter.com/2/problems/client-forbidden",
        extra={"reason": "client-not-enrolled", "required_scopes": list(scopes)},
    )


def authenticate_oauth1(sb, request: Request) -> Principal:
    """The principal of a request signed with an OAuth 1.0a access token,
    verified over the URL the client signed; a 401 problem otherwise."""
    principal = verify_resource_request(sb, request)
    if principal is None:
        raise unauthorized()
    return principal
