"""The Django project. Importing it loads the Celery app, so that tasks sent
from web processes use the project's broker and settings."""

from botplatform.celery import app as celery_app

__all__ = ("celery_app",)
