"""The sandbox's WSGI application.

Each feature is a module of this package that exposes ``rules()`` (werkzeug
``Rule`` objects whose endpoint is a handler ``handler(sb, request, **values)``)
and, if it keeps state, a ``SCHEMA`` of SQLite ``CREATE TABLE IF NOT EXISTS``
statements. ``MODULES`` lists them.
"""

from __future__ import annotations

import importlib
import logging

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from .config import SandboxConfig
from .errors import ApiError
from .store import Store

log = logging.getLogger("xsandbox")

MODULES: tuple[str, ...] = ("tokens",)


class Sandbox:
    def __init__(self, config: SandboxConfig, db_path: str = ":memory:"):
        self.config = config
        self.modules = [importlib.import_module(f"xsandbox.{name}") for name in MODULES]
        self.db = Store(db_path, [m.SCHEMA for m in self.modules if hasattr(m, "SCHEMA")])
        self.db.seed()
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
        try:
            return rule.endpoint(self, request, **values)
        except ApiError as exc:
            return exc.response()

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)
