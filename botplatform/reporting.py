"""What Django's error pages and reports may show of the settings and of the
variables in a traceback."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretHidingFilter(SafeExceptionReporterFilter):
    # Django's own list plus URL and DSN: DATABASE_URL, REDIS_URL,
    # CELERY_BROKER_URL and SENTRY_DSN may carry a password or a key. AUTH
    # covers Authorization headers; VERIFIER, CODE and STATE the OAuth values a
    # linking run holds.
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|DSN|AUTH|VERIFIER|CODE|STATE", flags=re.IGNORECASE
    )

    def get_traceback_frame_variables(self, request, tb_frame):
        """Every frame's variables cleansed like settings: a variable named like
        a secret is hidden, and so is any such key in a dict or list it holds
        (an OAuth answer such as ``{"access_token": …}``)."""
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleanse_setting(name, value)) for name, value in variables]
