"""Re-encrypt every stored X token with the newest key of TOKEN_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.crypto import TokenDecryptionError


class Command(BaseCommand):
    help = (
        "Re-encrypt all stored X tokens with the first (newest) key of TOKEN_ENCRYPTION_KEYS. "
        "Run it after putting a new key in front; then the old key can be removed."
    )

    def handle(self, *args, **options):
        try:
            count = services.reencrypt_tokens()
        except TokenDecryptionError as error:
            raise CommandError(f"{error} Nothing was changed.") from None
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the tokens of {count} rows with the newest key."))
