"""``make run``: start the development processes of ``Procfile.dev`` through
honcho and, once they answer, end with a box of bearings: the admin's address
and login, the sandbox's timeline, where to link an account and which Redis
is in use. Printed earlier, the login would scroll away under the processes'
start-up output.

Redis is the run's own, a redis-server on a free port that starts and stops
with the rest, unless REDIS_URL names one: a Redis that merely listens on
6379 may belong to something else, whose queues the worker would then read.

Ports: WEB_PORT (8000) and XSANDBOX_PORT (8765), from the environment or .env.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess  # nosec B404: runs honcho, the development processes' supervisor, with a fixed command
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.urls import reverse

from botplatform import environment as env
from botplatform.admin_login import AdminLogin, default_password_file, ensure_admin

# Long enough for a first start on a slow machine: beat's first heartbeat
# alone may take its 10 s interval.
READY_TIMEOUT_SECONDS = 120

SANDBOX_TIMELINE_PATH = "/_sandbox/timeline"
SANDBOX_HEALTH_PATH = "/_sandbox/health"

# Probes ask 127.0.0.1 directly, never through a proxy named in the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Probe:
    """A part that is up once ``url`` answers 200."""

    name: str
    url: str


def ask(probe: Probe, *, timeout: float = 2) -> str | None:
    """None when the probe answers 200, otherwise what it said instead."""
    try:
        with _opener.open(probe.url, timeout=timeout) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}{_failing_checks(error.read())}"
    except urllib.error.URLError as error:
        return f"no answer ({error.reason})"
    except (OSError, http.client.HTTPException) as error:
        return f"no answer ({error.__class__.__name__})"


def _failing_checks(body: bytes) -> str:
    """The parts /healthz reports down, e.g. " (beat, workers down)"."""
    try:
        checks = json.loads(body)["checks"]
        down = [name for name, check in checks.items() if check["status"] != "ok"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""
    return f" ({', '.join(down)} down)" if down else ""


def wait_until_ready(
    probes: Iterable[Probe],
    *,
    timeout: float,
    keep_waiting: Callable[[], bool] = lambda: True,
    interval: float = 1,
) -> dict[str, str]:
    """Ask every probe until all answer 200, ``timeout`` seconds pass or
    ``keep_waiting()`` is false. Returns what each part not yet up said last:
    empty when everything is up."""
    deadline = time.monotonic() + timeout
    waiting = {probe.name: probe for probe in probes}
    said: dict[str, str] = {}
    while True:
        for name, probe in list(waiting.items()):
            answer = ask(probe)
            if answer is None:
                del waiting[name]
                said.pop(name, None)
            else:
                said[name] = answer
        if not waiting or time.monotonic() >= deadline or not keep_waiting():
            return said
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_port_free(port: int, *, name: str, what: str) -> None:
    """Stop with words rather than let a process die on a taken port amid the others' output."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise SystemExit(
                f"make run: port {port} ({what}) is already in use, perhaps by another make run. "
                f"Stop that, or choose another port: make run {name}={port + 1}"
            ) from None


@dataclass(frozen=True)
class Redis:
    url: str
    # The port of the redis-server this run starts; None when REDIS_URL names the Redis.
    own_port: int | None = None

    def described(self) -> str:
        if self.own_port is not None:
            return f"its own, {self.url} (stops with make run)"
        return f"{without_credentials(self.url)}, named by REDIS_URL"


def choose_redis(environ: Mapping[str, str]) -> Redis:
    named = environ.get("REDIS_URL", "").strip()
    if named:
        return Redis(named)
    port = free_port()
    return Redis(f"redis://127.0.0.1:{port}/0", own_port=port)


def without_credentials(url: str) -> str:
    """A URL fit to print: a Redis URL may carry a password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


@dataclass(frozen=True)
class Bearings:
    web_url: str
    sandbox_url: str
    # Where the platform sends its X API calls: the sandbox unless X is configured.
    x_api_base: str
    redis: Redis
    login: AdminLogin
    # What each part not up in time said last (empty: all up).
    not_ready: dict[str, str] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str]]:
        """The box's (label, text) rows; a row without a label is a line of its own."""
        rows = []
        if self.not_ready:
            down = "; ".join(f"{name}: {said}" for name, said in self.not_ready.items())
            rows += [("", f"Not up after {READY_TIMEOUT_SECONDS} s: {down}. Their output above says why."), ("", "")]
        rows.append(("Admin", f"{self.web_url}{reverse('admin:index')}"))
        if self.login.password is not None:
            rows.append(("Username", self.login.username + ("  (new)" if self.login.created else "")))
            rows.append(("Password", self.login.password))
        else:
            rows.append(("Login", self.login.problem))
        rows.append(("Timeline", f"{self.sandbox_url}{SANDBOX_TIMELINE_PATH}  (the sandbox's posts)"))
        if self.x_api_base != self.sandbox_url:
            rows.append(("X API", f"{self.x_api_base}  (X itself, not the sandbox)"))
        rows.append(("Next", f"link an account: {self.web_url}{reverse('accounts:link_oauth2')}"))
        rows.append(("Redis", self.redis.described()))
        rows += [("", ""), ("", "Ctrl-C stops them all.")]
        return rows


def box(rows: Sequence[tuple[str, str]], *, width: int = 76) -> str:
    """The rows in a frame, labels in a column; long texts wrap at spaces."""
    label_width = max((len(label) for label, _ in rows if label), default=0) + 2
    lines: list[str] = []
    for label, text in rows:
        first = f"{label + ':':<{label_width}}" if label else ""
        indent = " " * len(first)
        lines += textwrap.wrap(
            first + text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
        ) or [""]
    inner = max(len(line) for line in lines)
    return "\n".join(
        ["┌" + "─" * (inner + 2) + "┐", *(f"│ {line.ljust(inner)} │" for line in lines), "└" + "─" * (inner + 2) + "┘"]
    )


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botplatform.settings")
    try:
        # Reads .env into the environment as every process does (the
        # environment's own variables win), so the choices below see it too.
        django.setup()
        web_port = env.whole_number("WEB_PORT", 8000, minimum=1)
        sandbox_port = env.whole_number("XSANDBOX_PORT", 8765, minimum=1)
    except ImproperlyConfigured as error:
        print(f"make run: {error}", file=sys.stderr)
        return 1
    check_port_free(web_port, name="WEB_PORT", what="the web site")
    check_port_free(sandbox_port, name="XSANDBOX_PORT", what="the X API sandbox")
    web_url = f"http://127.0.0.1:{web_port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    redis = choose_redis(os.environ)

    children = dict(os.environ, REDIS_URL=redis.url, WEB_PORT=str(web_port), XSANDBOX_PORT=str(sandbox_port))
    names = ["sandbox", "web", "worker", "beat"]
    if redis.own_port is not None:
        children["REDIS_PORT"] = str(redis.own_port)
        names.insert(0, "redis")
    x_api_base = settings.X_API_BASE
    if not settings.X_CREDENTIALS_FROM_ENV and not env.is_set("X_API_BASE"):
        x_api_base = children["X_API_BASE"] = sandbox_url
    # The sandbox accepts the web site's callbacks on whichever port it runs.
    children.setdefault("XSANDBOX_CALLBACKS", ",".join(
        f"http://{host}:{web_port}{reverse(name)}"
        for host in ("127.0.0.1", "localhost")
        for name in ("accounts:link_oauth1_callback", "accounts:link_oauth2_callback")
    ))

    login = ensure_admin(username="admin", password_file=default_password_file())
    connections.close_all()

    print(
        f"Starting {'its own Redis, ' if redis.own_port else ''}the X API sandbox, the web site, a worker "
        "and beat; the login and links follow once they answer. Ctrl-C stops them all.",
        flush=True,
    )
    processes = Processes(names, environ=children, cwd=str(settings.BASE_DIR))
    not_ready = wait_until_ready(
        [Probe("web", f"{web_url}{reverse('healthz')}"), Probe("sandbox", f"{sandbox_url}{SANDBOX_HEALTH_PATH}")],
        timeout=READY_TIMEOUT_SECONDS,
        keep_waiting=processes.running,
    )
    if processes.running():
        bearings = Bearings(
            web_url=web_url, sandbox_url=sandbox_url, x_api_base=x_api_base, redis=redis, login=login,
            not_ready=not_ready,
        )
        print("\n" + box(bearings.rows()) + "\n", flush=True)
    elif not processes.stopping:
        print("make run: a process stopped before everything was up; its output above says why.", flush=True)
    return processes.honcho.wait()


class Processes:
    """Procfile.dev's processes run by honcho, in a session of its own so that
    it hears a Ctrl-C once, from here. honcho reads no .env: ``environ``
    already holds it, with the environment's own variables winning as in the
    settings (honcho's .env would win over them)."""

    def __init__(self, names: Sequence[str], *, environ: dict[str, str], cwd: str) -> None:
        self.stopping = False
        self._early_signal: int | None = None
        signal.signal(signal.SIGINT, self._forward)
        signal.signal(signal.SIGTERM, self._forward)
        self.honcho = subprocess.Popen(  # nosec B603: a fixed command, no shell
            [sys.executable, "-m", "honcho", "--env", os.devnull, "--procfile", "Procfile.dev", "start", *names],
            cwd=cwd,
            env=environ,
            start_new_session=True,
        )
        if self._early_signal is not None:
            self.honcho.send_signal(self._early_signal)

    def _forward(self, signum: int, frame: object) -> None:
        # One signal stops honcho; make passes its own on too, a second one.
        if self.stopping:
            return
        self.stopping = True
        if hasattr(self, "honcho"):
            self.honcho.send_signal(signum)
        else:  # it came while honcho was starting
            self._early_signal = signum

    def running(self) -> bool:
        return not self.stopping and self.honcho.poll() is None


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
