from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from botplatform.admin_login import default_password_file, ensure_admin


class Command(BaseCommand):
    help = "Make the development admin login if there is none, and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--password-file",
            type=Path,
            default=default_password_file(),
            help="where the generated password is kept (default: var/admin-password.txt)",
        )

    def handle(self, *args: Any, username: str, password_file: Path, **options: Any) -> None:
        login = ensure_admin(username=username, password_file=password_file)
        if login.password is None:
            self.stdout.write(self.style.WARNING(f"Admin login: {login.problem}"))
            return
        self.stdout.write(
            self.style.SUCCESS("Admin login" + (" (new)" if login.created else ""))
            + f" for http://127.0.0.1:8000/admin/\n"
            f"  username: {login.username}\n"
            f"  password: {login.password}\n"
            f"  (kept in {password_file})"
        )
