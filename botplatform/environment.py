"""Reading the settings from the environment, strictly.

A value that cannot be understood stops the process with a message naming the
variable: a lenient parse (django-environ reads ``DEBUG=ture`` as false) would
silently run a different program from the one configured. An empty value
counts as unset. Messages never repeat a value that may hold a secret.
"""

from __future__ import annotations

import os
import secrets
import zoneinfo
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
DATABASE_SCHEMES = frozenset({"postgres", "postgresql", "pgsql", "sqlite"})
REDIS_SCHEMES = frozenset({"redis", "rediss"})


class SettingsError(ImproperlyConfigured):
    """A setting's value is unusable; the message says which and how to fix it."""


def read_env_file(path: Path, *, required: bool) -> None:
    """Load ``NAME=value`` lines into the environment; variables already set win."""
    if path.is_file():
        environ.Env.read_env(path)
    elif required:
        raise SettingsError(f"ENV_FILE names {str(path)!r}, which is not a file")


def raw(name: str) -> str | None:
    # Read directly rather than through environ.Env: it treats a value starting
    # with "$" as the name of another variable, which mangles secrets.
    value = os.environ.get(name, "").strip()
    return value or None


def is_set(name: str) -> bool:
    return raw(name) is not None


def text(name: str, default: str) -> str:
    return raw(name) or default


def flag(name: str, default: bool) -> bool:
    value = raw(name)
    if value is None:
        return default
    if value.lower() in TRUE_WORDS:
        return True
    if value.lower() in FALSE_WORDS:
        return False
    raise SettingsError(f"{name} must be true or false, got {value!r}")


def whole_number(name: str, default: int, *, minimum: int = 0) -> int:
    value = raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {number}")
    return number


def decimal(name: str, default: str, *, minimum: str = "0") -> Decimal:
    """A plain decimal number such as 0.015: no exponent, no infinity, no NaN."""
    value = raw(name) or default
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or "e" in value.lower():
        raise SettingsError(f"{name} must be a decimal number such as 0.015, got {value!r}")
    if number < Decimal(minimum):
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return number


def words(name: str, default: Iterable[str] = ()) -> list[str]:
    """A comma separated list; blanks between commas are dropped."""
    value = raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def one_of(name: str, default: str, choices: Iterable[str]) -> str:
    value = (raw(name) or default).upper()
    allowed = sorted(choices)
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {raw(name)!r}")
    return value


def time_zone(name: str, default: str) -> str:
    value = text(name, default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"{name} must be an IANA time zone name such as UTC or Europe/Berlin, got {value!r}"
        ) from None
    return value


def origins(name: str) -> list[str]:
    """Origins as Django wants them in CSRF_TRUSTED_ORIGINS: scheme://host[:port]."""
    result = words(name)
    for position, origin in enumerate(result, start=1):
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise SettingsError(
                f"{name}: entry {position} must look like https://bots.example.com, got {origin!r}"
            )
    return result


def http_url(name: str, default: str) -> str:
    value = text(name, default)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


def redis_url(name: str, default: str) -> str:
    value = text(name, default)
    if urlsplit(value).scheme not in REDIS_SCHEMES:
        raise SettingsError(f"{name} must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0")
    return value


def database(name: str, default: str) -> dict[str, Any]:
    """Django's DATABASES entry for a postgres:// or sqlite:/// URL."""
    value = text(name, default)
    scheme = urlsplit(value).scheme
    if scheme not in DATABASE_SCHEMES:
        raise SettingsError(
            f"{name} must be postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite:///PATH, "
            f"got a URL with scheme {scheme!r}"
        )
    try:
        config: dict[str, Any] = environ.Env.db_url_config(value)
    except ValueError:
        raise SettingsError(f"{name} has a port that is not a number") from None
    if not config.get("NAME"):
        raise SettingsError(f"{name} names no database (the path after the host)")
    return config


def secret_from_file(path: Path, generate: Callable[[], str]) -> str:
    """The secret kept in ``path``, made on first use and reused ever after.

    Web, worker and beat may start at the same moment on a fresh checkout; the
    secret is written to a private file first and linked into place, so exactly
    one of them wins and the others read the complete winner.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(generate() + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    value = path.read_text().strip()
    if not value:
        raise SettingsError(f"{path} is empty; delete it to have a new one made")
    return value


def new_fernet_key() -> str:
    return Fernet.generate_key().decode()


def fernet_keys(value: str, *, source: str) -> list[str]:
    """Comma separated Fernet keys, newest first. ``source`` names where they came from."""
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        raise SettingsError(f"{source} holds no Fernet key")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise SettingsError(
                f"{source}: key {position} of {len(keys)} is not a Fernet key (32 url-safe "
                f"base64-encoded bytes); make one with: python -c "
                f"'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from None
    return keys


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)
