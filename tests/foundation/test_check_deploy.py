"""With a production environment Django's deployment checklist is clean."""

from __future__ import annotations

from tests.foundation.django_process import manage, production_env


def test_check_deploy_reports_nothing_in_production() -> None:
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_does_flag_a_development_environment() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 1
    assert "security.W018" in result.stderr  # DEBUG on
    assert "security.W004" in result.stderr  # no HSTS
