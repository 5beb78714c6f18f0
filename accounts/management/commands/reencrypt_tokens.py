"""Re-encrypt every stored X token with the newest key of TOKEN_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts import services


class Command(BaseCommand):
    help = (
        "Re-encrypt all stored X tokens with the first (newest) key of TOKEN_ENCRYPTION_KEYS. "
        "Run it after putting a new key in front; then the old key can be removed."
    )

    def handle(self, *args, **options):
        result = services.reencrypt_tokens()
        attempts = (
            f" {result.undecryptable_attempts} linking attempt(s) in progress could not be decrypted and were "
            "left as they are: an attempt lasts 10 minutes, and the person linking can start again."
            if result.undecryptable_attempts
            else ""
        )
        if result.undecryptable_accounts:
            done = (
                f"The tokens of every other row ({result.rows}) were re-encrypted with the newest key."
                if result.rows
                else "Nothing was changed."
            )
            raise CommandError(
                f"The tokens of {', '.join(result.undecryptable_accounts)} cannot be decrypted with any key in "
                "TOKEN_ENCRYPTION_KEYS and were left as they are. Put the key that encrypted them back in the "
                f"list and run this again, or reconnect those accounts. {done}{attempts}"
            )
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted the tokens of {result.rows} rows with the newest key.{attempts}")
        )
