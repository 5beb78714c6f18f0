"""botplatform's settings: one module, every knob an environment variable.

The defaults suit development on one machine. Production sets DEBUG=false,
which makes SECRET_KEY, ALLOWED_HOSTS and TOKEN_ENCRYPTION_KEYS required and
turns on HTTPS-only behaviour. The README has a table of every variable.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from kombu import Queue

from accounts import x_hosts
from botplatform import environment as env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# Variables already in the environment win over the file's; "-" reads no file.
_env_file = env.text("ENV_FILE", str(BASE_DIR / ".env"))
if _env_file != "-":
    env.read_env_file(Path(_env_file), required=env.is_set("ENV_FILE"))

DEBUG = env.flag("DEBUG", True)

# Development keeps its secrets in var/ so that restarts keep sessions and
# stored tokens readable; production must bring its own.
if env.is_set("SECRET_KEY"):
    SECRET_KEY = env.text("SECRET_KEY", "")
elif DEBUG:
    SECRET_KEY = env.secret_from_file(VAR_DIR / "secret-key.txt", env.new_secret_key)
else:
    raise env.SettingsError(
        "SECRET_KEY must be set when DEBUG is false; make one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )
SECRET_KEY_FALLBACKS = env.words("SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env.words("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS:
    raise env.SettingsError("ALLOWED_HOSTS must name the site's host names when DEBUG is false, e.g. bots.example.com")
CSRF_TRUSTED_ORIGINS = env.origins("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "botplatform",
    "accounts",
    "bots",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.two_factor_middleware.TwoFactorMiddleware",
    # Last, as django-axes asks: it turns a lockout into the page that says so.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "botplatform.urls"
WSGI_APPLICATION = "botplatform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The admin's page frame (botplatform/templates/admin/base_site.html:
        # the workspace switcher) comes before the admin app's own.
        "DIRS": [BASE_DIR / "botplatform" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.workspaces",
            ],
        },
    },
]

DATABASES = {"default": env.database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.whole_number("DATABASE_CONN_MAX_AGE", 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASES["default"]["NAME"] != ":memory:":
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat write to the same file: WAL lets readers run beside
    # the writer, and IMMEDIATE transactions wait for the lock (up to the
    # timeout) instead of failing midway with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL"}
    )
    # The posts' covering indexes (INCLUDE) are PostgreSQL's speed-up for the
    # admin at a million posts; SQLite builds them without the extra columns.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
    # Tests run workers and concurrent callers in threads: an in-memory test
    # database shares one cache with table locks that fail at once, a file
    # waits for the lock like production does. One file per test run, so two
    # runs in one checkout do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    # A database that does not answer must fail /healthz, not hang it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Sign-in safety (README "Sign-in safety"). django-axes counts failed sign-ins
# per username and address: after AXES_FAILURE_LIMIT of them that pair is
# refused, even with the right password, until AXES_COOLOFF_MINUTES pass with
# no new try. A success clears the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.whole_number("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.whole_number("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views_two_factor.locked_out"
# No banner at every process start; refusals and lockouts are still logged.
AXES_VERBOSE = False
# A person with a confirmed authenticator app gives its code after the
# password; with this set, every person must set one up before anything else.
TWO_FACTOR_REQUIRED_FOR_STAFF = env.flag("TWO_FACTOR_REQUIRED_FOR_STAFF", False)
# The name authenticator apps show beside the code.
OTP_TOTP_ISSUER = env.text("OTP_TOTP_ISSUER", "botplatform")
# The admin's TOTP device pages never show a device's secret again.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Mail (workspace invitations to an e-mail address). The console backend
# prints them, which suits development; set an SMTP backend in production.
EMAIL_BACKEND = env.text("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.text("EMAIL_HOST", "localhost")
EMAIL_PORT = env.whole_number("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.text("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.text("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.flag("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env.text("DEFAULT_FROM_EMAIL", "botplatform@localhost")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.time_zone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# One format for a date and time everywhere, the lists' (botplatform/formats/en).
FORMAT_MODULE_PATH = ["botplatform.formats"]

# Uploaded media (post images and videos) go through Django's storage API:
# local files here by default; set STORAGES["default"] to S3 and the like.
MEDIA_ROOT = Path(env.text("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed files need `collectstatic` first, which production
    # runs before gunicorn; development and tests serve the app files as they are.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# HTTPS. Each default follows DEBUG; each can be overridden on its own.
SECURE_SSL_REDIRECT = env.flag("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe over plain HTTP; a redirect would read as "down".
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.whole_number("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env.flag("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env.flag("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env.flag("CSRF_COOKIE_SECURE", not DEBUG)
_proxy_header = env.raw("SECURE_PROXY_SSL_HEADER")
if _proxy_header:
    _header, _, _value = _proxy_header.partition("=")
    if not _header.startswith("HTTP_") or not _value:
        raise env.SettingsError(
            "SECURE_PROXY_SSL_HEADER must look like HTTP_X_FORWARDED_PROTO=https, "
            f"got {_proxy_header!r}"
        )
    SECURE_PROXY_SSL_HEADER = (_header, _value)

# Tokens at rest are encrypted with these Fernet keys, newest first: the first
# encrypts, every one decrypts, so rotation is "prepend a key, re-encrypt, drop
# the old one".
if env.is_set("TOKEN_ENCRYPTION_KEYS"):
    TOKEN_ENCRYPTION_KEYS = env.fernet_keys(env.text("TOKEN_ENCRYPTION_KEYS", ""), source="TOKEN_ENCRYPTION_KEYS")
elif DEBUG:
    _key_file = VAR_DIR / "token-encryption-key.txt"
    TOKEN_ENCRYPTION_KEYS = env.fernet_keys(
        env.secret_from_file(_key_file, env.new_fernet_key), source=f"{_key_file.name} in var/"
    )
else:
    raise env.SettingsError(
        "TOKEN_ENCRYPTION_KEYS must be set when DEBUG is false; make a key with: "
        "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
    )

# The X app. Without any X credentials in the environment the platform talks
# to the local sandbox with the sandbox's own development credentials; with
# them it talks to X itself.
X_CREDENTIALS_FROM_ENV = any(
    env.is_set(name) for name in ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_CLIENT_ID", "X_CLIENT_SECRET")
)
if X_CREDENTIALS_FROM_ENV:
    if env.is_set("X_CONSUMER_KEY") != env.is_set("X_CONSUMER_SECRET"):
        raise env.SettingsError("X_CONSUMER_KEY and X_CONSUMER_SECRET must be set together (the OAuth 1.0a app keys)")
    if env.is_set("X_CLIENT_SECRET") and not env.is_set("X_CLIENT_ID"):
        raise env.SettingsError("X_CLIENT_SECRET is set but X_CLIENT_ID is not (the OAuth 2.0 client)")
    X_CONSUMER_KEY = env.text("X_CONSUMER_KEY", "")
    X_CONSUMER_SECRET = env.text("X_CONSUMER_SECRET", "")
    X_CLIENT_ID = env.text("X_CLIENT_ID", "")
    X_CLIENT_SECRET = env.text("X_CLIENT_SECRET", "")
else:
    X_CONSUMER_KEY = "sandbox-consumer-key"
    X_CONSUMER_SECRET = "sandbox-consumer-secret"
    X_CLIENT_ID = "sandbox-client-id"
    X_CLIENT_SECRET = "sandbox-client-secret"
X_API_BASE = env.http_url("X_API_BASE", x_hosts.API if X_CREDENTIALS_FROM_ENV else "http://127.0.0.1:8765")

# Timeouts of every request to X, in seconds: connecting, then waiting for the
# answer. A post whose answer does not come in time is "unknown" and reconciled.
X_HTTP_CONNECT_TIMEOUT = env.whole_number("X_HTTP_CONNECT_TIMEOUT", 5, minimum=1)
X_HTTP_READ_TIMEOUT = env.whole_number("X_HTTP_READ_TIMEOUT", 20, minimum=1)
# OAuth 2.0 access tokens are refreshed when they expire within this many seconds.
X_TOKEN_REFRESH_MARGIN = env.whole_number("X_TOKEN_REFRESH_MARGIN", 300, minimum=0)
# An app-only bearer token for public reads (optional).
X_BEARER_TOKEN = env.text("X_BEARER_TOKEN", "")

# Publishing. X's limits are enforced here before X has to (DESIGN.md "Scale").
POSTS_PER_15_MIN_PER_ACCOUNT = env.whole_number("POSTS_PER_15_MIN_PER_ACCOUNT", 100, minimum=1)
POSTS_PER_24_H_PER_APP = env.whole_number("POSTS_PER_24_H_PER_APP", 10_000, minimum=1)
# Posts claimed per dispatcher tick, and how long a claim lasts before the
# sweeper hands the post back (the broker lost the task).
POST_CLAIM_BATCH = env.whole_number("POST_CLAIM_BATCH", 500, minimum=1)
POST_LEASE_SECONDS = env.whole_number("POST_LEASE_SECONDS", 120, minimum=1)
# Claimed posts due at the same moment go to the workers in batches: one task,
# one statement per step and up to PUBLISH_CONCURRENCY requests to X in flight
# for each batch, instead of a task and four statements for every post.
PUBLISH_BATCH_SIZE = env.whole_number("PUBLISH_BATCH_SIZE", 25, minimum=1)
PUBLISH_CONCURRENCY = env.whole_number("PUBLISH_CONCURRENCY", 4, minimum=1)
# Retries after a transient failure: exponential backoff with full jitter.
POST_MAX_ATTEMPTS = env.whole_number("POST_MAX_ATTEMPTS", 6, minimum=1)
POST_RETRY_BASE_SECONDS = env.whole_number("POST_RETRY_BASE_SECONDS", 30, minimum=1)
POST_RETRY_MAX_SECONDS = env.whole_number("POST_RETRY_MAX_SECONDS", 3600, minimum=1)
# Seconds added at random after a 429's reset, so accounts do not all return at once.
RATE_LIMIT_JITTER_SECONDS = env.whole_number("RATE_LIMIT_JITTER_SECONDS", 5, minimum=0)
# CSV import fetches media from http(s) URLs; addresses inside private networks
# (loopback, 10.x, 192.168.x, …) are refused unless this is set.
CSV_MEDIA_ALLOW_PRIVATE_HOSTS = env.flag("CSV_MEDIA_ALLOW_PRIVATE_HOSTS", False)
# The largest CSV file an import takes, in bytes: a larger upload is refused
# while it arrives, before it is held whole in memory or on disk.
CSV_IMPORT_MAX_BYTES = env.whole_number("CSV_IMPORT_MAX_BYTES", 5 * 1024 * 1024, minimum=1)
# A post whose answer was lost is looked for on X every POST_RECONCILE_EVERY
# seconds; not found after POST_UNKNOWN_GRACE_SECONDS, it is sent again.
POST_RECONCILE_EVERY_SECONDS = env.whole_number("POST_RECONCILE_EVERY_SECONDS", 10, minimum=1)
POST_UNKNOWN_GRACE_SECONDS = env.whole_number("POST_UNKNOWN_GRACE_SECONDS", 120, minimum=0)
# A post still "sending" after this long lost its worker: it becomes "unknown".
POST_SENDING_STALE_SECONDS = env.whole_number("POST_SENDING_STALE_SECONDS", 120, minimum=1)
_one_call = 2 * (X_HTTP_CONNECT_TIMEOUT + X_HTTP_READ_TIMEOUT)  # a token refresh, then the post
for _name in ("POST_UNKNOWN_GRACE_SECONDS", "POST_SENDING_STALE_SECONDS"):
    if globals()[_name] <= _one_call:
        raise env.SettingsError(
            f"{_name} ({globals()[_name]}) must be above twice X_HTTP_CONNECT_TIMEOUT + X_HTTP_READ_TIMEOUT "
            f"({_one_call}): a request still in flight could otherwise be sent a second time"
        )

REDIS_URL = env.redis_url("REDIS_URL", "redis://127.0.0.1:6379/0")

# Celery. Delivery is at least once: a task is acknowledged after it ran and
# handed back if its worker dies, and the database's state machine makes a
# second delivery harmless. Results live in the database, not in Celery.
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Three queues, so that nothing delays a due post: the dispatcher's tick and
# sweeps ("dispatch") never wait behind publishing, and publishing ("publish")
# never waits behind bulk work such as CSV imports ("bulk"). One worker that
# consumes them all (the default) suits one machine; the Procfile runs a pool
# for each. Anything not routed goes to "celery", which the publish pool takes.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(name) for name in ("dispatch", "publish", "bulk", "celery")]
CELERY_TASK_ROUTES = {
    "bots.tasks.dispatch_due_posts": {"queue": "dispatch"},
    "bots.tasks.sweep_stale_posts": {"queue": "dispatch"},
    "bots.tasks.reconcile_unknown_posts": {"queue": "dispatch"},
    "botplatform.tasks.beat_heartbeat": {"queue": "dispatch"},
    "accounts.tasks.refresh_expiring_tokens": {"queue": "dispatch"},
    "bots.tasks.publish_posts": {"queue": "publish"},
    "bots.tasks.publish_post": {"queue": "publish"},
    "bots.tasks.run_bot": {"queue": "publish"},
    "bots.tasks.import_posts_csv": {"queue": "bulk"},
    "bots.tasks.sweep_stalled_imports": {"queue": "bulk"},
}
# A task that keeps running after its connection to Redis dropped would be
# delivered again elsewhere and run twice at once; stop it instead.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_CONCURRENCY = env.whole_number("CELERY_WORKER_CONCURRENCY", 0) or None
CELERY_TASK_TIME_LIMIT = env.whole_number("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env.whole_number("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise env.SettingsError(
        f"CELERY_TASK_SOFT_TIME_LIMIT ({CELERY_TASK_SOFT_TIME_LIMIT}) must be below "
        f"CELERY_TASK_TIME_LIMIT ({CELERY_TASK_TIME_LIMIT}), so a task can clean up before it is killed"
    )
# Redis hands an unacknowledged task to another worker after this many
# seconds; it must outlast the longest task or a running task is duplicated.
CELERY_BROKER_VISIBILITY_TIMEOUT = env.whole_number("CELERY_BROKER_VISIBILITY_TIMEOUT", 3600, minimum=1)
if CELERY_BROKER_VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT:
    raise env.SettingsError(
        f"CELERY_BROKER_VISIBILITY_TIMEOUT ({CELERY_BROKER_VISIBILITY_TIMEOUT}) must be above "
        f"CELERY_TASK_TIME_LIMIT ({CELERY_TASK_TIME_LIMIT}), or Redis re-delivers tasks that are still running"
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# /healthz calls beat down when its heartbeat (every 10 s) is older than this.
BEAT_HEARTBEAT_MAX_AGE = env.whole_number("BEAT_HEARTBEAT_MAX_AGE", 60, minimum=1)

LOG_LEVEL = env.one_of("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
# Some libraries log credentials at DEBUG (oauthlib and requests-oauthlib
# print tokens and signatures, urllib3 prints URLs with OAuth parameters,
# SQL logging prints query parameters): they stay at INFO whatever LOG_LEVEL says.
_never_debug = ["oauthlib", "requests_oauthlib", "tweepy", "urllib3", "django.db.backends"]
# A worker logs every task it receives and finishes, and beat every task it
# sends, at INFO; with the dispatcher running every second that buries the lines
# that matter (published, failed, refreshed). These loggers are one step
# quieter than LOG_LEVEL.
_per_task_chatter = ["celery.app.trace", "celery.worker.strategy", "celery.beat"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        **{name: {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL} for name in _never_debug},
        **{name: {"level": {"DEBUG": "INFO", "INFO": "WARNING"}.get(LOG_LEVEL, LOG_LEVEL)} for name in _per_task_chatter},
    },
}
# Error pages and reports hide settings whose names match; URLs may carry passwords.
DEFAULT_EXCEPTION_REPORTER_FILTER = "botplatform.reporting.SecretHidingFilter"

SENTRY_DSN = env.raw("SENTRY_DSN")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.utils import BadDsn

    try:
        sentry_sdk.init(
            dsn=SENTRY_DSN,
            environment=env.text("SENTRY_ENVIRONMENT", "development" if DEBUG else "production"),
            integrations=[DjangoIntegration(), CeleryIntegration()],
            send_default_pii=False,
            # Frames of the gateway hold tokens; Sentry gets none of their variables.
            include_local_variables=False,
        )
    except BadDsn:
        raise env.SettingsError("SENTRY_DSN is not a Sentry DSN (https://KEY@HOST/PROJECT)") from None

# X's pay-per-use prices, for the dashboard's estimated spend and the monthly
# budgets the dispatcher enforces: a post, and a post containing a URL.
X_PRICE_PER_POST_USD = env.decimal("X_PRICE_PER_POST_USD", "0.015")
X_PRICE_PER_POST_WITH_URL_USD = env.decimal("X_PRICE_PER_POST_WITH_URL_USD", "0.20")
