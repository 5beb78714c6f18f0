"""The recurring bots' Celery task. Its name is the one beat's stored
schedules (one PeriodicTask per bot) name."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from bots.recurring import services


@shared_task(name="bots.tasks.run_bot", ignore_result=True)
def run_bot(bot_id: int, slot: str | None = None) -> str:
    """Beat's fire for one bot. ``slot`` (ISO 8601) names the scheduled time
    when the sender knows it; otherwise the service works it out."""
    return services.run_bot(bot_id=bot_id, slot=datetime.fromisoformat(slot) if slot else None).outcome
