"""`make run` for real (its last step, `python -m botplatform.devrun`): the
processes of Procfile.dev start, the box comes once they answer, with a Redis
of the run's own (or REDIS_URL's), and Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.foundation.django_process import ROOT, manage
from tests.foundation.helpers import wait_until
from tests.support import free_port

ALICE_PASSWORD = "alice's own password"


class Run:
    """`python -m botplatform.devrun` in a session of its own, as in a
    terminal, with its output gathered line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.web_port, self.sandbox_port = free_port(), free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "botplatform.devrun"],
            cwd=ROOT,
            env={**env, "WEB_PORT": str(self.web_port), "XSANDBOX_PORT": str(self.sandbox_port)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self.reader.start()

    def box(self) -> list[str]:
        """The box's lines, once printed; what came before it is ``self.before``."""
        wait_until(lambda: any(line.startswith("└") for line in self.lines) or self.process.poll() is not None,
                   seconds=120, what="the box")
        lines = list(self.lines)
        starts = [i for i, line in enumerate(lines) if line.startswith(("┌", "└"))]
        assert len(starts) == 2, "".join(lines)
        top, bottom = starts
        self.before = lines[:top]
        return [line.strip("│ \n") for line in lines[top + 1:bottom]]

    def ctrl_c(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.reader.join(timeout=10)


def row(box: list[str], label: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in box if line.startswith(f"{label}:"))


def signed_in(web: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{web}/admin/login/", timeout=10)
    session.headers.update({"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{web}/admin/login/"})
    response = session.post(
        f"{web}/admin/login/?next=/admin/", data={"username": username, "password": password}, timeout=10
    )
    assert response.url == f"{web}/admin/", response.text
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]  # signing in made a new one
    return session


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database whose superuser is alice: `make run` then
    makes no admin login, and the developer's var/admin-password.txt is left alone."""
    url = f"sqlite:///{tmp_path_factory.mktemp('make-run') / 'db.sqlite3'}"
    env = {"DATABASE_URL": url}
    for command in (["migrate", "--noinput"], ["install_schedules"]):
        done = manage(*command, env=env)
        assert done.returncode == 0, done.stderr
    done = manage("createsuperuser", "--noinput", "--username", "alice", "--email", "alice@example.com",
                  env={**env, "DJANGO_SUPERUSER_PASSWORD": ALICE_PASSWORD})
    assert done.returncode == 0, done.stderr
    return url


@pytest.fixture
def run_env(database: str, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "ENV_FILE": "-",
        "DATABASE_URL": database,
        "XSANDBOX_DB": str(tmp_path / "xsandbox.sqlite3"),
    }


@pytest.fixture
def start(run_env: dict[str, str]) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def start(**env: str) -> Run:
        runs.append(Run({**run_env, **env}))
        return runs[-1]

    yield start
    for run in runs:
        run.stop()


def test_the_box_comes_once_everything_answers_with_a_redis_of_its_own(start) -> None:
    run = start()

    box = run.box()

    assert any(" redis.1 " in line for line in run.before)
    assert any("celery@" in line and " ready." in line for line in run.before), "the worker started"
    web = f"http://127.0.0.1:{run.web_port}"
    sandbox = f"http://127.0.0.1:{run.sandbox_port}"
    health = requests.get(f"{web}/healthz", timeout=10)
    assert health.status_code == 200, health.text
    assert requests.get(f"{sandbox}/_sandbox/timeline", timeout=10).status_code == 200
    assert row(box, "Admin") == f"{web}/admin/"
    assert row(box, "Login") == "no 'admin' login was made, as superusers exist: alice"
    assert row(box, "Timeline").split()[0] == f"{sandbox}/_sandbox/timeline"
    assert row(box, "Next") == f"link an account: {web}/accounts/x/link/oauth2/"
    own = row(box, "Redis")
    assert own.startswith("its own, redis://127.0.0.1:")
    port = int(own.removeprefix("its own, redis://127.0.0.1:").split("/")[0])
    assert port != 6379
    with redis.Redis(port=port, socket_connect_timeout=2) as own_redis:
        assert own_redis.ping()
        assert len(own_redis.client_list()) > 1, "the worker and beat use it"

    linking = signed_in(web, "alice", ALICE_PASSWORD).post(
        f"{web}/accounts/x/link/oauth2/", data={"next": ""}, allow_redirects=False
    )
    assert linking.headers["Location"].startswith(f"{sandbox}/i/oauth2/authorize?"), "X_API_BASE follows the sandbox"
    assert requests.get(linking.headers["Location"], timeout=10).status_code == 200, "the callback is registered"

    assert run.ctrl_c() == 130
    for stopped in (port, run.web_port, run.sandbox_port):
        assert not listening(stopped)


def test_a_redis_named_by_redis_url_is_used_and_said(start, redis_url: str) -> None:
    run = start(REDIS_URL=redis_url)

    box = run.box()

    assert row(box, "Redis") == f"{redis_url}, named by REDIS_URL"
    assert not any(" redis.1 " in line for line in run.before)
    assert requests.get(f"http://127.0.0.1:{run.web_port}/healthz", timeout=10).status_code == 200
    run.ctrl_c()


def test_a_taken_port_stops_the_run_with_words_before_anything_starts(run_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "botplatform.devrun"],
            cwd=ROOT,
            env={**run_env, "WEB_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert done.returncode == 1
    assert f"port {port} (the web site) is already in use" in done.stderr
    assert f"make run WEB_PORT={port + 1}" in done.stderr
    assert "Starting" not in done.stdout
