"""What Django's error pages and reports may show of the settings."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretHidingFilter(SafeExceptionReporterFilter):
    # Django's own list plus URL and DSN: DATABASE_URL, REDIS_URL,
    # CELERY_BROKER_URL and SENTRY_DSN may carry a password or a key.
    hidden_settings = re.compile("API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|DSN", flags=re.IGNORECASE)
