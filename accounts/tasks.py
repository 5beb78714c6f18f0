from celery import shared_task

from . import services


@shared_task
def refresh_expiring_tokens() -> int:
    return services.refresh_expiring_tokens()
