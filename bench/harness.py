"""The whole system as operating-system processes, for benchmarks and for
chaos runs: PostgreSQL, Redis, the X API sandbox, K Celery workers and beat.

Every part is a ``Service`` with ``start``, ``stop`` (SIGTERM, then SIGKILL),
``kill`` (a signal, SIGKILL by default, as a crash would), ``restart`` and
``pids``, so a chaos runner can kill -9 a worker or restart Redis or
PostgreSQL in the middle of a run and start it again on the same port.

PostgreSQL is a throwaway cluster made with ``initdb`` in a temporary
directory (run as the ``postgres`` user when we are root, since initdb refuses
root), or, when ``DATABASE_URL`` names a PostgreSQL, a database of our own
created there and dropped at the end. Every process's output goes to a file in
the run's log directory; ``System.log_tail`` shows it when something fails.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import psutil

ROOT = Path(__file__).resolve().parent.parent


class HarnessError(RuntimeError):
    """A service did not start or answer; the message says which and where its log is."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], bool], *, seconds: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise HarnessError(f"{what} did not happen within {seconds:g} s")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants (a prefork worker's pool children)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@dataclass
class Usage:
    """CPU seconds (user + system) and resident memory of a set of processes."""

    cpu_seconds: float
    rss_bytes: int


def usage(pids: list[int]) -> Usage:
    cpu, rss = 0.0, 0
    for pid in pids:
        for proc in tree(pid):
            try:
                times = proc.cpu_times()
                cpu += times.user + times.system
                rss += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
    return Usage(cpu, rss)


class Service:
    """One program run as a child process, its output in ``log_dir/name.log``."""

    name: str = "service"

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def ready(self) -> bool:
        return True

    def start(self, *, ready_within: float = 60) -> None:
        if self.running:
            return
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command(), cwd=ROOT, env=self.environment(), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )

        def up() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise HarnessError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            return self.ready()

        wait_for(up, seconds=ready_within, what=f"{self.name} answering")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pids(self) -> list[int]:
        return [self.process.pid] if self.running and self.process else []

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the process (and, for SIGKILL, its whole group, as a
        machine losing the process would)."""
        if not self.running or self.process is None:
            return
        if sig == signal.SIGKILL:
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)
        if sig == signal.SIGKILL:
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()


class RedisServer(Service):
    name = "redis"

    def __init__(self, log_dir: Path, port: int | None = None):
        super().__init__(log_dir)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise HarnessError("redis-server is not installed (Debian: apt-get install redis-server)")
        return [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]

    def ready(self) -> bool:
        import redis

        try:
            with redis.Redis.from_url(self.url, socket_connect_timeout=0.2) as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)


class SandboxServer(Service):
    """``python -m xsandbox --fast --memory``: its state lives as long as the process."""

    name = "sandbox"

    def __init__(self, log_dir: Path, port: int | None = None):
        super().__init__(log_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "xsandbox", "--port", str(self.port), "--memory", "--fast"]

    def ready(self) -> bool:
        return port_open(self.port)


def _postgres_binary(name: str) -> str:
    """Debian keeps initdb and pg_ctl under /usr/lib/postgresql/<version>/bin,
    off the PATH; take them from the PATH first, else the newest version."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[-3]))
    if not candidates:
        raise HarnessError(
            f"{name} not found: install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL"
        )
    return candidates[-1]


class PostgresCluster(Service):
    """A throwaway PostgreSQL cluster in a temporary directory, trust
    authentication on 127.0.0.1 only. As root it runs as the ``postgres`` user."""

    name = "postgres"

    def __init__(self, log_dir: Path, port: int | None = None):
        super().__init__(log_dir)
        self.port = port or free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.as_user = "postgres" if os.geteuid() == 0 else None
        self.url = f"postgres://bench@127.0.0.1:{self.port}/bench"
        self._initialised = False

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.as_user, "--", *argv] if self.as_user else argv

    def _initialise(self) -> None:
        if self.as_user:
            shutil.chown(self.data_dir, self.as_user, self.as_user)
        subprocess.run(
            self._as_owner([_postgres_binary("initdb"), "-D", str(self.data_dir / "data"), "-U", "bench",
                            "--auth=trust", "--encoding=UTF8", "--no-locale"]),
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/",
        )
        self._initialised = True

    def command(self) -> list[str]:
        if not self._initialised:
            self._initialise()
        # postgres itself in the foreground (not pg_ctl), so that its pid is
        # the postmaster's and kill -9 hits the server as a crash would.
        return self._as_owner([
            str(Path(_postgres_binary("initdb")).with_name("postgres")), "-D", str(self.data_dir / "data"),
            "-p", str(self.port), "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.data_dir}",
            "-c", "max_connections=200", "-c", "shared_buffers=256MB",
        ])

    def ready(self) -> bool:
        import psycopg

        if not port_open(self.port):
            return False
        try:
            with psycopg.connect(host="127.0.0.1", port=self.port, user="bench", dbname="postgres",
                                 connect_timeout=1, autocommit=True) as conn:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'bench'").fetchone():
                    conn.execute("CREATE DATABASE bench")
            return True
        except psycopg.OperationalError:
            return False

    def kill(self, sig: int = signal.SIGKILL) -> None:
        # runuser stands between us and postgres: signal the server itself.
        if not self.running:
            return
        for proc in reversed(tree(self.process.pid)):
            try:
                proc.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        if sig == signal.SIGKILL:
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if self.running:
            # SIGINT is PostgreSQL's "fast shutdown".
            server = psutil.Process(self.process.pid)
            postmaster = (server.children() or [server])[0] if self.as_user else server
            postmaster.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        super().stop()

    def remove(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


class ExistingPostgres:
    """A PostgreSQL that runs already (``DATABASE_URL``, as in CI): the run
    gets a database of its own there, created now and dropped by ``remove``.
    The role must be allowed to create databases."""

    name = "postgres"

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.database = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
        parts = urlsplit(admin_url)
        self.url = urlunsplit((parts.scheme, parts.netloc, f"/{self.database}", parts.query, ""))

    def _admin(self):
        import psycopg

        parts = urlsplit(self.admin_url)
        return psycopg.connect(
            host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password,
            dbname=parts.path.lstrip("/") or "postgres", autocommit=True, connect_timeout=5,
        )

    def start(self) -> None:
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def stop(self) -> None:
        """Nothing to stop: the server is not ours."""

    def pids(self) -> list[int]:
        return []

    def remove(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


@dataclass
class PlatformSettings:
    """What the platform's processes get in their environment for a run."""

    database_url: str
    redis_url: str
    sandbox_url: str
    extra: dict[str, str] = field(default_factory=dict)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))
    encryption_key: str = field(default_factory=lambda: _fernet_key())

    def environment(self) -> dict[str, str]:
        env = {
            name: value for name, value in os.environ.items()
            # The X app's credentials would point the platform at X itself.
            if not name.startswith(("X_", "POST_", "CELERY_", "DATABASE_", "REDIS_", "SENTRY_"))
        }
        env.update({
            "ENV_FILE": "-",
            "DJANGO_SETTINGS_MODULE": "botplatform.settings",
            "DEBUG": "false",
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "TOKEN_ENCRYPTION_KEYS": self.encryption_key,
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "X_API_BASE": self.sandbox_url,
            "X_HTTP_CONNECT_TIMEOUT": "5",
            "X_HTTP_READ_TIMEOUT": "10",
            "PYTHONUNBUFFERED": "1",
            **self.extra,
        })
        return env


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


class PlatformProcess(Service):
    """A process of the platform (a Celery worker or beat) with the run's settings."""

    def __init__(self, log_dir: Path, settings: PlatformSettings, name: str, argv: list[str], *, nice: int = 0):
        super().__init__(log_dir)
        self.settings = settings
        self.name = name
        self.argv = argv
        self.nice = nice

    def command(self) -> list[str]:
        celery = [sys.executable, "-m", "celery", "-A", "botplatform", *self.argv]
        return ["nice", "-n", str(self.nice), *celery] if self.nice else celery

    def environment(self) -> dict[str, str]:
        return self.settings.environment()


class WebServer(Service):
    """The platform's web process as production runs it (the Procfile's
    ``web``): gunicorn, here with one sync worker, so a page's time is one
    worker's."""

    name = "web"

    def __init__(self, log_dir: Path, settings: PlatformSettings, port: int | None = None):
        super().__init__(log_dir)
        self.settings = settings
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "botplatform.wsgi", "--workers", "1", "--bind",
                f"127.0.0.1:{self.port}", "--timeout", "300", "--log-level", "warning"]

    def environment(self) -> dict[str, str]:
        # Plain HTTP on the loopback, where production has TLS in front: the
        # browser (requests) must send the cookies back.
        return {**self.settings.environment(), "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false"}

    def ready(self) -> bool:
        return port_open(self.port)

    def worker_pid(self) -> int | None:
        """The pid of gunicorn's one worker (the master only supervises it)."""
        if not self.running or self.process is None:
            return None
        children = psutil.Process(self.process.pid).children()
        return children[0].pid if children else None


class System:
    """PostgreSQL, Redis and the sandbox for the whole run; workers and beat
    started and stopped per measurement, so each design gets fresh processes."""

    def __init__(self, *, log_dir: Path | None = None, database_url: str | None = None):
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="bench-logs-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        url = database_url if database_url is not None else os.environ.get("DATABASE_URL", "")
        self.postgres: PostgresCluster | ExistingPostgres = (
            ExistingPostgres(url) if url.startswith(("postgres://", "postgresql://", "pgsql://"))
            else PostgresCluster(self.log_dir)
        )
        self.redis = RedisServer(self.log_dir)
        self.sandbox = SandboxServer(self.log_dir)
        self.settings = PlatformSettings(self.postgres.url, self.redis.url, self.sandbox.url)
        self.workers: list[PlatformProcess] = []
        self.beat: PlatformProcess | None = None
        self.web: WebServer | None = None
        # Set by a caller that caught a failure, so the logs are kept for a look.
        self.failed = False

    def start(self) -> None:
        self.postgres.start()
        self.redis.start()
        self.sandbox.start()

    def start_workers(self, count: int, *, pool: str, concurrency: int, include: tuple[str, ...] = (),
                      queues: tuple[str, ...] = (), name: str = "bench", nice: int = 0) -> None:
        """``count`` worker processes taking ``queues`` (all the platform's
        queues when empty), at scheduling priority ``nice``."""
        for n in range(count):
            argv = ["worker", "--loglevel", "WARNING", "--pool", pool, "--concurrency", str(concurrency),
                    "--hostname", f"{name}{n}@%h", "--without-mingle", "--without-gossip"]
            if include:
                argv += ["--include", ",".join(include)]
            if queues:
                argv += ["--queues", ",".join(queues)]
            worker = PlatformProcess(self.log_dir, self.settings, f"{name}{n}", argv, nice=nice)
            worker.start()
            self.workers.append(worker)

    def start_beat(self) -> None:
        self.beat = PlatformProcess(self.log_dir, self.settings, "beat", ["beat", "--loglevel", "WARNING"])
        self.beat.start()

    def start_web(self) -> WebServer:
        self.web = WebServer(self.log_dir, self.settings)
        self.web.start()
        return self.web

    def stop_web(self) -> None:
        if self.web is not None:
            self.web.stop()
            self.web = None

    def stop_platform(self) -> None:
        self.stop_web()
        if self.beat is not None:
            self.beat.stop()
            self.beat = None
        for worker in self.workers:
            worker.stop(timeout=60)
        self.workers = []

    def worker_pids(self) -> list[int]:
        return [pid for worker in self.workers for pid in worker.pids()]

    def beat_pids(self) -> list[int]:
        return self.beat.pids() if self.beat else []

    def stop(self) -> None:
        self.stop_platform()
        self.sandbox.stop()
        self.redis.stop()
        self.postgres.stop()
        self.postgres.remove()

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for path in sorted(self.log_dir.glob("*.log")):
            content = path.read_text(errors="replace").splitlines()[-lines:]
            if content:
                out.append(f"--- {path.name} (last {len(content)} lines)\n" + "\n".join(content))
        return "\n".join(out)

    def __enter__(self) -> System:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.stop()
        if kind is None and not self.failed:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        else:
            print(f"logs of every process are in {self.log_dir}", file=sys.stderr)
