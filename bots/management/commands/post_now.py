"""Publish one post right away: ``manage.py post_now --account @name [--user NAME] "text"``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts import access, gateway
from accounts.models import XAccount
from bots.posting import publisher, scheduler, services
from bots.posting.models import Post


class Command(BaseCommand):
    help = "Publish a post on a linked X account now, through the same pipeline as scheduled posts."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="the linked X account, as @username")
        parser.add_argument("--user", help="post as this person: their role decides, and where their workspace "
                                           "asks for approval the post waits for it (default: as the platform)")
        parser.add_argument("text", help="the post's text")

    def handle(self, *args, account: str, text: str, user: str | None = None, **options):
        username = account.lstrip("@")
        person = None
        accounts = XAccount.objects.order_by("username")
        if user is not None:
            person = get_user_model().objects.filter(username=user).first()
            if person is None:
                raise CommandError(f"There is no user {user!r}.")
            accounts = access.visible(person, accounts, everywhere=True)
        target = accounts.filter(username__iexact=username).first()
        if target is None:
            linked = ", ".join(f"@{a.username}" for a in accounts) or "none"
            whose = f" that {person.username} may see" if person else ""
            raise CommandError(f"No linked X account @{username}{whose}. Linked accounts: {linked}.")
        # Without --user, whoever runs the server's commands acts as the
        # platform: no workspace role, no approval.
        try:
            post = services.post_create(account=target, text=text, by=person, schedule=True,
                                        scheduled_at=timezone.now())
        except services.PostInvalid as error:
            raise CommandError(str(error)) from None
        except PermissionDenied as error:
            raise CommandError(str(error)) from None
        if post.status == Post.Status.PENDING_APPROVAL:
            self.stdout.write(f"Sent for approval (post {post.pk}): an admin or owner of the workspace approves it "
                              "before it goes out.")
            return
        if not scheduler.claim_post(post_id=post.pk):
            raise CommandError(f"Post {post.pk} was taken by a running dispatcher; a worker publishes it.")
        publisher.publish_post(post_id=post.pk)
        post.refresh_from_db()
        if post.status == Post.Status.PUBLISHED:
            self.stdout.write(self.style.SUCCESS(f"Published: {gateway.browser_url(post.x_post_url)}"))
            return
        if post.status in (Post.Status.UNKNOWN, Post.Status.SCHEDULED):
            self.stdout.write(
                f"Not published yet ({post.get_status_display().lower()}): {post.last_error} "
                f"The worker takes it from here (post {post.pk})."
            )
            return
        raise CommandError(f"Not published: {post.last_error}")
