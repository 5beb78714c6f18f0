"""Fault injection: rules, set through the control API, that make an endpoint
fail the ways X and the network fail, so the platform's handling of each can be
tested. Every roll comes from one seedable random generator, so a run with the
same seed and the same requests fails the same way.

Modes:
- ``status``: answer with status N (a problem+json body, or no body at all, as
  X's 5xx sometimes have) without running the endpoint;
- ``latency``: wait ``seconds`` before handling the request (combines with the others);
- ``drop_before_commit``: close the connection without running the endpoint;
- ``drop_after_commit``: run the endpoint (a post is created) and close the
  connection instead of answering;
- ``garbled_body``: run the endpoint (a post is created) and answer with its
  status and headers but a body that cannot be read: the first half of the
  real one (not JSON), or ``body`` when given (e.g. JSON without the post's id);
- ``truncated_body``: run the endpoint (a post is created), send its status,
  headers and the first half of its body in chunked encoding, and close the
  connection before the last chunk.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import NoReturn

from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

from .errors import ApiError
from .ratelimit import normalize_endpoint

MODES = ("status", "latency", "drop_before_commit", "drop_after_commit", "garbled_body", "truncated_body")
FIELDS = {"endpoint", "mode", "probability", "count", "status", "empty_body", "seconds", "reset_after_secs", "body"}


class DropConnection(Exception):
    """Raised by the dispatcher to close the client's connection unanswered."""

    def __init__(self, mode: str):
        super().__init__(mode)
        self.mode = mode


@dataclass
class FaultRule:
    endpoint: str  # 'POST /2/tweets', or '*' for every endpoint of the API
    mode: str
    probability: float = 1.0
    count: int | None = None  # how many more times it may apply; None: always
    status: int | None = None
    empty_body: bool = False
    seconds: float = 0.0
    reset_after_secs: int = 60  # the x-rate-limit-reset of a 429 fault
    body: str | None = None  # what a garbled_body fault answers instead of half the real body
    applied: int = 0

    def matches(self, endpoint: str) -> bool:
        if self.count == 0:
            return False
        if self.endpoint == "*":
            return endpoint.split(" ", 1)[1].startswith("/2/")
        return self.endpoint == endpoint

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def response(self) -> Response:
        """The answer of a ``status`` fault."""
        status = self.status or 500
        title = HTTP_STATUS_CODES.get(status, "Error")
        headers = {}
        if status == 429:
            headers = {
                "x-rate-limit-limit": "0",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(math.ceil(time.time() + self.reset_after_secs)),
            }
        if self.empty_body:
            return Response(b"", status=status, headers=headers)
        return ApiError(status, title, title, headers=headers).response()

    def garbled(self, response: Response) -> Response:
        """The answer of a ``garbled_body`` fault: the endpoint's own status
        and headers, with a body that is whole (its length is right) but
        cannot be read."""
        real = response.get_data()
        response.set_data(self.body.encode() if self.body is not None else real[: len(real) // 2])
        return response

    @staticmethod
    def truncated(response: Response, drop: Callable[[], NoReturn]) -> Response:
        """The answer of a ``truncated_body`` fault: without a length, the
        server sends the body in chunks; ``drop`` closes the connection after
        the first half, before the chunk that ends it."""
        real = response.get_data()

        def chunks() -> Iterator[bytes]:
            yield real[: len(real) // 2]
            drop()

        cut = Response(chunks(), status=response.status_code, headers=response.headers)
        cut.headers.pop("Content-Length", None)
        return cut


def parse_rule(raw: object) -> FaultRule:
    """A rule from the control API's JSON, or ValueError saying what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("each fault is an object such as {\"endpoint\": \"POST /2/tweets\", \"mode\": \"status\", \"status\": 503}")
    unknown = set(raw) - FIELDS
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    endpoint = raw.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise ValueError("a fault needs \"endpoint\", e.g. \"POST /2/tweets\" or \"*\"")
    mode = raw.get("mode")
    if mode not in MODES:
        raise ValueError(f"\"mode\" must be one of {', '.join(MODES)}")
    probability = raw.get("probability", 1.0)
    if not _number(probability) or not 0 <= probability <= 1:
        raise ValueError("\"probability\" must be a number from 0 to 1")
    count = raw.get("count")
    if count is not None and (not _whole(count) or count < 1):
        raise ValueError("\"count\" must be a whole number >= 1 (leave it out to apply always)")
    status = raw.get("status")
    if mode == "status" and (not _whole(status) or not 400 <= status <= 599):
        raise ValueError("a status fault needs \"status\" from 400 to 599")
    if mode != "status" and status is not None:
        raise ValueError("\"status\" belongs to mode \"status\" only")
    seconds = raw.get("seconds", 0.0)
    if mode == "latency" and (not _number(seconds) or seconds <= 0):
        raise ValueError("a latency fault needs \"seconds\" > 0")
    reset_after = raw.get("reset_after_secs", 60)
    if not _whole(reset_after) or reset_after < 0:
        raise ValueError("\"reset_after_secs\" must be a whole number >= 0")
    empty_body = raw.get("empty_body", False)
    if not isinstance(empty_body, bool):
        raise ValueError("\"empty_body\" must be true or false")
    body = raw.get("body")
    if body is not None and (mode != "garbled_body" or not isinstance(body, str)):
        raise ValueError("\"body\" belongs to mode \"garbled_body\" only, and is a string")
    return FaultRule(
        endpoint="*" if endpoint.strip() == "*" else normalize_endpoint(endpoint),
        mode=mode,
        probability=float(probability),
        count=count,
        status=status,
        empty_body=empty_body,
        seconds=float(seconds),
        reset_after_secs=reset_after,
        body=body,
    )


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Decision:
    """What the faults say about one request."""

    latency: float = 0.0
    rule: FaultRule | None = None  # the status, drop or body rule that applies, if any


class Faults:
    def __init__(self, seed: int | None = None):
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._initial_seed = seed
        self._seed = seed
        self._random = random.Random(seed)

    def rules(self) -> list[dict]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    @property
    def seed(self) -> int | None:
        return self._seed

    def replace(self, rules: list[FaultRule], seed: int | None = None) -> None:
        with self._lock:
            self._rules = list(rules)
            if seed is not None:
                self._seed = seed
                self._random = random.Random(seed)

    def add(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules.extend(rules)

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def reset(self) -> None:
        """No rules, and the generator back at the seed the sandbox started with."""
        with self._lock:
            self._rules = []
            self._seed = self._initial_seed
            self._random = random.Random(self._initial_seed)

    def draw(self, endpoint: str) -> Decision:
        """Roll every rule for ``endpoint``: the latencies that apply add up; the
        first other rule that applies decides the outcome."""
        decision = Decision()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(endpoint):
                    continue
                if rule.mode != "latency" and decision.rule is not None:
                    continue
                if self._random.random() >= rule.probability:
                    continue
                rule.applied += 1
                if rule.count is not None:
                    rule.count -= 1
                if rule.mode == "latency":
                    decision.latency += rule.seconds
                else:
                    decision.rule = rule
        return decision
