"""Errors the way X reports them: API v2 speaks problem+json."""

from __future__ import annotations

import json

from werkzeug.wrappers import Response


class ApiError(Exception):
    """An API v2 error, rendered as X's problem+json body."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type: str = "about:blank",
        extra: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict:
        return {"title": self.title, "detail": self.detail, "type": self.type, "status": self.status, **self.extra}

    def response(self) -> Response:
        return Response(
            json.dumps(self.body()),
            status=self.status,
            headers=self.headers,
            content_type="application/problem+json",
        )


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "Forbidden", detail)


def invalid_request(detail: str, *, parameter: str | None = None) -> ApiError:
    """X's 400 for a request that breaks a rule of the API."""
    extra = {"errors": [{"message": detail, **({"parameters": {parameter: []}} if parameter else {})}]}
    return ApiError(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        type="https://api.x.com/2/problems/invalid-request",
        extra=extra,
    )


def json_response(payload: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload), status=status, headers=headers, content_type="application/json; charset=utf-8")
