"""Every knob comes from the environment; a value that cannot be used stops
the process with a message that names the variable and never the secret."""

from __future__ import annotations

import json
import os
import stat

import pytest
from cryptography.fernet import Fernet

from accounts import x_hosts
from botplatform.environment import SettingsError, secret_from_file
from tests.foundation.django_process import manage, production_env, run, settings_of

GOOD_KEY = Fernet.generate_key().decode()


def loaded(names: list[str], env: dict[str, str] | None = None) -> dict:
    result = settings_of(names, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be true or false, got 'maybe'"),
        ({"TIME_ZONE": "Mars/Olympus_Mons"}, "TIME_ZONE must be an IANA time zone name"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL must be one of CRITICAL, DEBUG, ERROR, INFO, WARNING, got 'loud'"),
        ({"CELERY_TASK_TIME_LIMIT": "five"}, "CELERY_TASK_TIME_LIMIT must be a whole number, got 'five'"),
        ({"BEAT_HEARTBEAT_MAX_AGE": "0"}, "BEAT_HEARTBEAT_MAX_AGE must be at least 1, got 0"),
        (
            {"CELERY_TASK_TIME_LIMIT": "60", "CELERY_TASK_SOFT_TIME_LIMIT": "60"},
            "CELERY_TASK_SOFT_TIME_LIMIT (60) must be below CELERY_TASK_TIME_LIMIT (60)",
        ),
        (
            {"CELERY_BROKER_VISIBILITY_TIMEOUT": "300"},
            "CELERY_BROKER_VISIBILITY_TIMEOUT (300) must be above CELERY_TASK_TIME_LIMIT (300)",
        ),
        ({"CSRF_TRUSTED_ORIGINS": "bots.example.com"}, "CSRF_TRUSTED_ORIGINS: entry 1 must look like https://"),
        ({"X_API_BASE": "api.example.com"}, "X_API_BASE must be an http:// or https:// URL"),
        ({"X_CONSUMER_KEY": "abc"}, "X_CONSUMER_KEY and X_CONSUMER_SECRET must be set together"),
        ({"X_CLIENT_SECRET": "abc"}, "X_CLIENT_SECRET is set but X_CLIENT_ID is not"),
        ({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, "SECURE_PROXY_SSL_HEADER must look like"),
        ({"DATABASE_URL": "postgres://user:pw@db:fivefour/bots"}, "DATABASE_URL has a port that is not a number"),
        ({"DATABASE_URL": "postgres://user:pw@db:5432"}, "DATABASE_URL names no database"),
        ({"ENV_FILE": "no-such.env"}, "ENV_FILE names 'no-such.env', which is not a file"),
        ({"SENTRY_DSN": "sentry please"}, "SENTRY_DSN is not a Sentry DSN"),
    ],
)
def test_a_bad_value_stops_startup_with_a_clear_message(env: dict[str, str], message: str) -> None:
    result = manage("check", env=env)

    assert result.returncode == 1
    assert f"botplatform is misconfigured: {message}" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_message_also_ends_a_process_that_does_not_start_through_manage_py() -> None:
    result = run(["-c", "import django; django.setup()"], {"DJANGO_SETTINGS_MODULE": "botplatform.settings", "DEBUG": "ture"})

    assert result.returncode != 0
    assert result.stderr.strip().endswith("SettingsError: DEBUG must be true or false, got 'ture'")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://bots:hunter2-db@db/bots"),
        ("REDIS_URL", "http://:hunter2-redis@cache:6379/0"),
        ("TOKEN_ENCRYPTION_KEYS", f"{GOOD_KEY},hunter2-not-a-fernet-key"),
        ("SENTRY_DSN", "hunter2-dsn"),
    ],
)
def test_messages_about_secret_values_do_not_repeat_them(name: str, value: str) -> None:
    result = manage("check", env={name: value})

    assert result.returncode == 1
    assert name in result.stderr
    assert "hunter2" not in result.stderr


def test_a_malformed_encryption_key_is_named_by_its_position() -> None:
    other = Fernet.generate_key().decode()
    result = manage("check", env={"TOKEN_ENCRYPTION_KEYS": f"{GOOD_KEY}, {other}, short"})

    assert "TOKEN_ENCRYPTION_KEYS: key 3 of 3 is not a Fernet key" in result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "TOKEN_ENCRYPTION_KEYS"])
def test_production_requires_its_own_secrets_and_hosts(missing: str) -> None:
    env = production_env()
    del env[missing]

    result = manage("check", env=env)

    assert result.returncode == 1
    assert f"botplatform is misconfigured: {missing} must " in result.stderr


def test_production_settings_load_from_the_environment() -> None:
    env = production_env() | {
        "DEBUG": "off",
        "ALLOWED_HOSTS": "bots.example.com, admin.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://bots.example.com",
        "DATABASE_URL": "postgres://bots:pw@db.internal:5433/bots",
        "REDIS_URL": "rediss://:pw@cache.internal:6380/2",
        "TIME_ZONE": "Europe/Berlin",
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO=https",
    }
    values = loaded(
        [
            "DEBUG",
            "ALLOWED_HOSTS",
            "CSRF_TRUSTED_ORIGINS",
            "DATABASES",
            "CELERY_BROKER_URL",
            "TIME_ZONE",
            "CELERY_TIMEZONE",
            "SECURE_SSL_REDIRECT",
            "SESSION_COOKIE_SECURE",
            "SECURE_HSTS_SECONDS",
            "SECURE_PROXY_SSL_HEADER",
            "TOKEN_ENCRYPTION_KEYS",
        ],
        env,
    )

    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == ["bots.example.com", "admin.example.com"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://bots.example.com"]
    database = values["DATABASES"]["default"]
    assert (database["ENGINE"], database["HOST"], database["PORT"], database["NAME"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        5433,
        "bots",
    )
    assert database["OPTIONS"]["connect_timeout"] == 5
    assert values["CELERY_BROKER_URL"] == "rediss://:pw@cache.internal:6380/2"
    assert values["TIME_ZONE"] == values["CELERY_TIMEZONE"] == "Europe/Berlin"
    assert values["SECURE_SSL_REDIRECT"] is values["SESSION_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31_536_000
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["TOKEN_ENCRYPTION_KEYS"] == [env["TOKEN_ENCRYPTION_KEYS"]]


def test_each_https_setting_can_be_overridden_on_its_own() -> None:
    values = loaded(
        ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_PRELOAD", "CSRF_COOKIE_SECURE"],
        production_env() | {"SECURE_SSL_REDIRECT": "no", "SECURE_HSTS_SECONDS": "3600", "SECURE_HSTS_PRELOAD": "false"},
    )

    assert values == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 3600,
        "SECURE_HSTS_PRELOAD": False,
        "CSRF_COOKIE_SECURE": True,
    }


def test_development_defaults_use_sqlite_local_redis_and_the_sandbox() -> None:
    values = loaded(
        ["DEBUG", "DATABASES", "REDIS_URL", "TIME_ZONE", "X_API_BASE", "X_CONSUMER_KEY", "X_CLIENT_ID", "ALLOWED_HOSTS"]
    )

    assert values["DEBUG"] is True
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["DATABASES"]["default"]["NAME"].endswith(os.path.join("var", "db.sqlite3"))
    assert values["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert values["TIME_ZONE"] == "UTC"
    assert values["X_API_BASE"] == "http://127.0.0.1:8765"
    assert (values["X_CONSUMER_KEY"], values["X_CLIENT_ID"]) == ("sandbox-consumer-key", "sandbox-client-id")
    assert values["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]


def test_real_x_credentials_switch_the_default_api_base_to_x() -> None:
    env = {"X_CONSUMER_KEY": "ck", "X_CONSUMER_SECRET": "cs", "X_CLIENT_ID": "ci", "X_CLIENT_SECRET": "cx"}

    values = loaded(["X_API_BASE", "X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_CLIENT_ID", "X_CLIENT_SECRET"], env)

    assert values == env | {"X_API_BASE": x_hosts.API}


def test_an_explicit_api_base_wins_over_the_default() -> None:
    values = loaded(["X_API_BASE"], {"X_CLIENT_ID": "ci", "X_API_BASE": "http://127.0.0.1:9999/"})

    assert values["X_API_BASE"] == "http://127.0.0.1:9999"


def test_development_secrets_are_made_once_and_reused() -> None:
    first = loaded(["SECRET_KEY", "TOKEN_ENCRYPTION_KEYS"])
    second = loaded(["SECRET_KEY", "TOKEN_ENCRYPTION_KEYS"])

    assert first == second
    assert len(first["SECRET_KEY"]) >= 50
    Fernet(first["TOKEN_ENCRYPTION_KEYS"][0])


def test_a_secret_file_is_private_and_kept(tmp_path) -> None:
    path = tmp_path / "nested" / "secret.txt"
    made = iter(["first", "second"])

    assert secret_from_file(path, lambda: next(made)) == "first"
    assert secret_from_file(path, lambda: next(made)) == "first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret.txt"]


def test_an_emptied_secret_file_is_an_error_not_a_new_key(tmp_path) -> None:
    path = tmp_path / "token-encryption-key.txt"
    path.write_text("\n")

    with pytest.raises(SettingsError, match="is empty"):
        secret_from_file(path, Fernet.generate_key)


def test_an_env_file_fills_in_what_the_environment_does_not_set(tmp_path) -> None:
    env_file = tmp_path / "bots.env"
    env_file.write_text("TIME_ZONE=Asia/Tokyo\nLOG_LEVEL=WARNING\n")

    values = loaded(["TIME_ZONE", "LOG_LEVEL"], {"ENV_FILE": str(env_file), "LOG_LEVEL": "ERROR"})

    assert values == {"TIME_ZONE": "Asia/Tokyo", "LOG_LEVEL": "ERROR"}


def test_libraries_that_log_credentials_stay_above_debug() -> None:
    code = (
        "import logging, django; django.setup(); "
        "print([logging.getLogger(n).getEffectiveLevel() for n in ('oauthlib', 'requests_oauthlib', 'urllib3', 'botplatform')])"
    )
    result = run(["-c", code], {"DJANGO_SETTINGS_MODULE": "botplatform.settings", "LOG_LEVEL": "DEBUG"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[20, 20, 20, 10]"


def test_sentry_starts_only_with_a_dsn() -> None:
    code = "import django, sentry_sdk; django.setup(); print(sentry_sdk.get_client().is_active())"
    env = {"DJANGO_SETTINGS_MODULE": "botplatform.settings"}

    without = run(["-c", code], env)
    with_dsn = run(["-c", code], env | {"SENTRY_DSN": "https://public@sentry.example.com/1"})

    assert (without.stdout.strip(), with_dsn.stdout.strip()) == ("False", "True")
