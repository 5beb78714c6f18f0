"""The project's own periodic tasks. Each loads nothing and calls a service."""

from __future__ import annotations

from celery import shared_task

from botplatform import health


@shared_task
def beat_heartbeat() -> None:
    health.record_heartbeat()
