"""Link an X account from a terminal, for servers without a browser (OAuth 1.0a PIN)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts import access, services
from accounts.models import Workspace
from accounts.services import LinkError


class Command(BaseCommand):
    help = "Link an X account with OAuth 1.0a's PIN flow: open the printed URL, approve, type the PIN."

    def add_arguments(self, parser):
        parser.add_argument("--pin", action="store_true", required=True, help="use the PIN flow (the only one a terminal can do)")
        parser.add_argument("--user", required=True, help="the platform user who links the account")
        parser.add_argument("--workspace", help="the workspace the account goes into, by name or id "
                                                "(default: the user's current one); they must be an admin or owner")

    def handle(self, *args, user: str, workspace: str | None = None, **options):
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"There is no user {user!r}. Create it first (manage.py createsuperuser).") from None
        target = _workspace(owner, workspace) if workspace else None
        try:
            attempt, url = services.link_start_pin(user=owner, workspace=target)
        except LinkError as error:
            raise CommandError(error.message) from None
        self.stdout.write("Open this URL in a browser, sign in to X as the account to link, and approve:")
        self.stdout.write(f"\n  {url}\n")
        self.stdout.flush()
        try:
            pin = input("PIN shown by X: ")
        except EOFError:
            raise CommandError("No PIN was entered; nothing was linked.") from None
        try:
            account = services.link_finish_pin(user=owner, attempt_id=str(attempt.pk), pin=pin)
        except LinkError as error:
            raise CommandError(error.message) from None
        self.stdout.write(self.style.SUCCESS(f"Linked @{account.username} for {owner.username}."))


def _workspace(user, name: str) -> Workspace:
    """One of the user's workspaces, by id or (case-insensitive) name."""
    theirs = access.workspaces(user)
    found = list(theirs.filter(pk=int(name)) if name.isdecimal() else theirs.filter(name__iexact=name.strip()))
    if len(found) == 1:
        return found[0]
    listed = "; ".join(f"{w.pk}: {w.name}" for w in theirs.order_by("name")) or "none"
    if found:
        raise CommandError(f"{user.username} is in more than one workspace named {name!r}: give its id "
                           f"({listed}).")
    raise CommandError(f"{user.username} is not a member of a workspace {name!r}. Theirs: {listed}.")
