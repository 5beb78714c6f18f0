"""Reading the query parameters and JSON bodies of API v2 requests, refusing bad
ones with X's 400 "Invalid Request" problem and a message a person can act on."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request

from .errors import ApiError, invalid_request


def bad_parameter(name: str, values: list[str], message: str) -> ApiError:
    """X's 400 naming the offending parameter and the values it carried."""
    error = invalid_request(message, parameter=name)
    error.extra["errors"][0]["parameters"] = {name: values}
    return error


def check_known(request: Request, allowed: tuple[str, ...]) -> None:
    """X refuses query parameters an endpoint does not define."""
    for name in request.args:
        if name not in allowed:
            raise bad_parameter(
                name, request.args.getlist(name), f"The query parameter [{name}] is not one of [{','.join(allowed)}]"
            )


def field_list(request: Request, name: str, allowed: tuple[str, ...]) -> list[str]:
    """A comma-separated list parameter such as ``tweet.fields``, each value one of ``allowed``."""
    raw = request.args.get(name)
    if raw is None:
        return []
    values = [v for v in raw.split(",") if v]
    unknown = [v for v in values if v not in allowed]
    if unknown or not values:
        raise bad_parameter(
            name,
            unknown or [raw],
            f"The `{name}` query parameter value [{','.join(unknown) or raw}] is not one of [{','.join(allowed)}]",
        )
    return values


def int_param(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_parameter(name, [raw], f"The `{name}` query parameter value [{raw}] is not a number") from None
    if not low <= value <= high:
        raise bad_parameter(name, [raw], f"The `{name}` query parameter value [{raw}] is not between {low} and {high}")
    return value


_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def time_param(request: Request, name: str) -> float | None:
    """An RFC 3339 timestamp parameter (``2024-05-01T12:00:00Z``) as epoch seconds."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if not _TIMESTAMP.match(raw):
        raise bad_parameter(
            name, [raw], f"Invalid '{name}':'{raw}'. '{name}' must be a date-time in the format YYYY-MM-DDTHH:mm:ssZ"
        )
    text = raw.replace("Z", "+00:00")
    if "." in text:
        # Python parses at most microseconds; X accepts up to nanoseconds.
        head, _, tail = text.partition(".")
        digits = re.match(r"\d+", tail).group(0)
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits):]}"
    moment = datetime.fromisoformat(text)
    return moment.astimezone(timezone.utc).timestamp()


def id_param(name: str, value: str) -> int:
    """A numeric id in the path or query (``^[0-9]{1,19}$``)."""
    if not re.fullmatch(r"[0-9]{1,19}", value):
        raise bad_parameter(name, [value], f"The `{name}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$")
    return int(value)


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or X's 400 when it is missing or not JSON."""
    if request.mimetype != "application/json":
        raise invalid_request("Requests with bodies must have content-type of application/json.")
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError as exc:
        raise invalid_request(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.")
    return body
