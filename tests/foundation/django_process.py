"""Run Django in a fresh process with a chosen environment: settings are read
once per process, so that is the only honest way to try other values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def production_env() -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": "k3j4h5g6f7d8s9a0" * 4,
        "ALLOWED_HOSTS": "bots.example.com",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python *args`` in the project root with only ``env`` (and PATH) set.
    ENV_FILE=- keeps a developer's .env out of it."""
    environment = {"PATH": os.environ["PATH"], "ENV_FILE": "-", **(env or {})}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(["manage.py", *args], env)


def settings_of(names: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Print the named settings as JSON, one process per call."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{name: getattr(settings, name) for name in {names!r}}}, default=str))"
    )
    return run(["-c", code], {"DJANGO_SETTINGS_MODULE": "botplatform.settings", **(env or {})})
