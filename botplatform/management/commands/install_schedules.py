from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from botplatform.schedules import install_schedules


class Command(BaseCommand):
    help = "Install the platform's periodic tasks (botplatform/schedules.py) into beat's schedule."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, outcome in install_schedules().items():
            self.stdout.write(f"{name}: {outcome}")
