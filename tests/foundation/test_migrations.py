"""The models and the migrations agree."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.foundation.django_process import manage


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_migrations_do_not_depend_on_the_deployment_time_zone() -> None:
    result = manage("makemigrations", "--check", "--dry-run", env={"TIME_ZONE": "America/Sao_Paulo"})

    assert result.returncode == 0, result.stdout + result.stderr
