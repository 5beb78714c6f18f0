"""The sandbox's WSGI application.

Each feature is a module of this package that exposes ``rules()`` (werkzeug
``Rule`` objects whose endpoint is a handler ``handler(sb, request, **values)``)
and, if it keeps state, a ``SCHEMA`` of SQLite ``CREATE TABLE IF NOT EXISTS``
statements. ``MODULES`` lists them.
"""

from __future__ import annotations

import copy
import importlib
import logging
import socket
import time
from typing import NoReturn

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .config import SandboxConfig
from .errors import ApiError
from .faults import DropConnection, Faults
from .ratelimit import PRINCIPAL_KEY, RATE_HEADERS_KEY, RateLimiter
from .requestlog import record, retry_at
from .store import Store

log = logging.getLogger("xsandbox")

MODULES: tuple[str, ...] = ("tokens", "requestlog", "users", "tweets", "media", "control", "timeline", "oauth1", "oauth2")


class Sandbox:
    def __init__(self, config: SandboxConfig, db_path: str = ":memory:", *, fault_seed: int | None = None):
        self.config = config
        # What the control API's reset returns the run-time settings to.
        self.initial_config = copy.deepcopy(config)
        self.modules = [importlib.import_module(f"xsandbox.{name}") for name in MODULES]
        self.db = Store(db_path, [m.SCHEMA for m in self.modules if hasattr(m, "SCHEMA")])
        if config.fast:
            # Throughput mode: commits are not flushed to disk (a crash of the
            # machine may lose the last writes); OAuth is still verified.
            self.db.one("PRAGMA synchronous=OFF")
        self.db.seed()
        self.faults = Faults(fault_seed)
        self.rate_limits = RateLimiter()
        self.started_at = time.time()
        self.url_map = Map([rule for m in self.modules if hasattr(m, "rules") for rule in m.rules()])

    def endpoint_key(self, request: Request, rule_path: str) -> str:
        """The name faults and rate limits use for an endpoint: 'POST /2/tweets'."""
        return f"{request.method} {rule_path}"

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            rule, values = adapter.match(return_rule=True)
        except (NotFound, MethodNotAllowed) as exc:
            if request.path.startswith("/2/"):
                return ApiError(exc.code, exc.name, exc.description or exc.name).response()
            return exc.get_response(request.environ)
        except HTTPException as exc:
            return exc.get_response(request.environ)
        request.environ["xsandbox.endpoint"] = self.endpoint_key(request, rule.rule)
        if rule.rule.startswith("/_sandbox/"):
            return self.call(rule, request, values)
        return self.dispatch_x(request, rule, values)

    def dispatch_x(self, request: Request, rule: Rule, values: dict) -> Response:
        """An endpoint of X: faults apply, rate-limit headers are added and the
        request is logged."""
        arrived_at = time.time()
        decision = self.faults.draw(request.environ["xsandbox.endpoint"])
        if decision.latency:
            time.sleep(decision.latency)
        fault = decision.rule
        if fault is not None and fault.mode == "status":
            response = fault.response()
            record(self, request, arrived_at=arrived_at, user_id=None, status=response.status_code,
                   outcome="fault", retry=retry_at(response))
            return response
        if fault is not None and fault.mode == "drop_before_commit":
            record(self, request, arrived_at=arrived_at, user_id=None, status=None, outcome=fault.mode)
            raise DropConnection(fault.mode)
        response = self.call(rule, request, values)
        response.headers.update(request.environ.get(RATE_HEADERS_KEY, {}))
        principal = request.environ.get(PRINCIPAL_KEY)
        user_id = principal.user_id if principal else None
        if fault is not None and fault.mode == "drop_after_commit":
            record(self, request, arrived_at=arrived_at, user_id=user_id, status=None, outcome=fault.mode)
            raise DropConnection(fault.mode)
        if fault is not None:
            record(self, request, arrived_at=arrived_at, user_id=user_id, status=response.status_code,
                   outcome=fault.mode, retry=retry_at(response))
            if fault.mode == "garbled_body":
                return fault.garbled(response)
            return fault.truncated(response, lambda: drop_connection(request.environ))
        record(self, request, arrived_at=arrived_at, user_id=user_id, status=response.status_code,
               outcome="answered", retry=retry_at(response))
        return response

    def call(self, rule: Rule, request: Request, values: dict) -> Response:
        try:
            return rule.endpoint(self, request, **values)
        except ApiError as exc:
            return exc.response()
        except HTTPException as exc:
            return exc.get_response(request.environ)

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except DropConnection:
            drop_connection(environ)
        return response(environ, start_response)


def drop_connection(environ: dict) -> NoReturn:
    """Close the client's connection, answered or not, as a network would.
    Raising a ConnectionError makes werkzeug's server treat the request as one
    whose client went away, so it writes nothing more."""
    environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("connection dropped by a sandbox fault") from None
